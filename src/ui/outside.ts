/**
 * Memory held outside this server's view (processes.py's held_outside): the panel, the
 * out-of-memory card and the shared-GPU lines say it the same way.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IHeldOutside, IProcessesReply } from '../api';

/** Memory held outside this server's view on a GPU, when there is some (bytes), else 0. */
export function heldOutside(gpu: IProcessesReply['gpus'][0]): number {
  return gpu.outside?.used_memory ?? 0;
}

/** How the memory held outside the view was told, for its tooltip. */
export function outsideExplanation(outside: IHeldOutside, trans: TranslationBundle): string {
  return outside.includes_driver_reserve
    ? trans.__(
        'Memory in use on this GPU that no process listed here holds: processes of other containers or machines, or the driver’s own reserve (this driver does not report it apart). Computed as memory used minus the listed processes’ memory.'
      )
    : trans.__(
        'Memory in use on this GPU that no process listed here holds: processes this server cannot see, such as those of other containers on the same GPU. Computed as memory used (without the driver’s reserve) minus the listed processes’ memory.'
      );
}

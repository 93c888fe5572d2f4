import type { TranslationBundle } from '@jupyterlab/translation';

/**
 * Who holds memory on the GPU a cell ran out of: the rows of the OOM card, from the
 * server's process list.
 */
import type { IGPUProcess, IHeldOutside, IProcessesReply } from '../api';
import { heldOutside } from '../ui/outside';
import { probableHow } from '../ui/attribution';

export interface IHolder {
  label: string;
  pid: number | null;
  usedMemory: number | null;
  /** This server's kernel, when the process is one (or a child of one). */
  kernelId: string | null;
  notebookPath: string | null;
  /** The kernel whose cell failed. */
  isFailingKernel: boolean;
  /** An idle kernel of this server other than the failing one: it may be shut down. */
  canShutDown: boolean;
  /** Set when the process is only probably the kernel's (matched by evidence): how. */
  probableHow: string | null;
}

export interface IHolders {
  /** Server GPU indices shown. */
  gpus: number[];
  /** How the GPU was chosen, for the card. */
  basis: 'kernel' | 'message' | 'all';
  rows: IHolder[];
  /** Other users' processes, counted but not described (as the server allows). */
  others: { count: number; usedMemory: number };
  /** Why the process list of a GPU shown could not be read, or null. */
  unavailable: string | null;
  /** Memory held outside this server's view on the GPUs shown (bytes; 0: none known). */
  outside: number;
  /** How that was told (the first GPU's, for the tooltip). */
  outsideHow: IHeldOutside | null;
}

function holder(
  proc: IGPUProcess,
  failingKernelId: string | null,
  trans: TranslationBundle
): IHolder {
  const kernel = proc.kernel;
  const isFailingKernel = !!kernel && kernel.id === failingKernelId;
  return {
    label:
      kernel?.notebook_path ??
      (kernel
        ? trans.__('%1 kernel', kernel.name)
        : (proc.name ??
          (proc.pid !== null ? trans.__('PID %1', proc.pid) : trans.__('unknown process')))),
    pid: proc.pid,
    usedMemory: proc.used_memory,
    kernelId: kernel?.id ?? null,
    notebookPath: kernel?.notebook_path ?? null,
    isFailingKernel,
    canShutDown: !!kernel && !isFailingKernel && kernel.execution_state === 'idle',
    probableHow: probableHow(proc)
  };
}

/**
 * The GPU(s) to show: those where the failing kernel holds memory (the index in the
 * message is the kernel's CUDA numbering, which CUDA_VISIBLE_DEVICES may shift); else the
 * index in the message; else every GPU. Largest holders first.
 */
export function holdersFor(
  reply: IProcessesReply,
  failingKernelId: string | null,
  messageGPU: number | null,
  trans: TranslationBundle
): IHolders {
  const ofKernel = reply.gpus.filter(g =>
    g.processes.some(p => p.kernel && p.kernel.id === failingKernelId)
  );
  const byIndex = reply.gpus.filter(g => g.index === messageGPU);
  const [gpus, basis] = ofKernel.length
    ? [ofKernel, 'kernel' as const]
    : byIndex.length
      ? [byIndex, 'message' as const]
      : [reply.gpus, 'all' as const];
  const rows = gpus
    .flatMap(g => g.processes)
    .map(p => holder(p, failingKernelId, trans))
    .sort((a, b) => (b.usedMemory ?? 0) - (a.usedMemory ?? 0));
  return {
    gpus: gpus.map(g => g.index),
    basis,
    rows,
    others: {
      count: gpus.reduce((n, g) => n + g.others.count, 0),
      usedMemory: gpus.reduce((n, g) => n + g.others.used_memory, 0)
    },
    unavailable: gpus.find(g => g.unavailable)?.unavailable ?? null,
    outside: gpus.reduce((n, g) => n + heldOutside(g), 0),
    outsideHow: gpus.find(g => heldOutside(g))?.outside ?? null
  };
}

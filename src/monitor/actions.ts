import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IMonitorModel } from '../tokens';
import { shutDownKernel } from '../ui/kernels';

/** Say that an action from the panel failed (never an unhandled rejection). */
export function reportFailure(trans: TranslationBundle, reason: unknown): void {
  Notification.error(
    trans.__('The GPU action failed: %1', String((reason as Error)?.message ?? reason))
  );
}

/**
 * The process table's Shut down kernel: ask, shut it down, then list the processes again.
 * A cancelled dialog changes nothing; a failure is said.
 */
export async function shutDownFromPanel(
  app: JupyterFrontEnd,
  trans: TranslationBundle,
  model: IMonitorModel,
  kernelId: string,
  notebookPath: string | null
): Promise<void> {
  try {
    if (await shutDownKernel(app, trans, kernelId, notebookPath)) {
      await model.refreshProcesses();
    }
  } catch (reason) {
    reportFailure(trans, reason);
  }
}

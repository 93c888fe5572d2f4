import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';

/**
 * Shut down a kernel after the user confirms; resolves true when it was shut down.
 * Used by the GPU panel's process table and the out-of-memory card.
 */
export async function shutDownKernel(
  app: JupyterFrontEnd,
  trans: TranslationBundle,
  kernelId: string,
  notebookPath: string | null
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Shut down kernel?'),
    body: notebookPath
      ? trans.__(
          'Shut down the kernel of %1? Its GPU memory is freed; variables in it are lost.',
          notebookPath
        )
      : trans.__('Shut down this kernel? Its GPU memory is freed; variables in it are lost.'),
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: trans.__('Shut Down') })]
  });
  if (!result.button.accept) {
    return false;
  }
  try {
    await app.serviceManager.kernels.shutdown(kernelId);
    Notification.success(trans.__('Kernel shut down; its GPU memory is being released.'), {
      autoClose: 4000
    });
    return true;
  } catch (error) {
    Notification.error(
      trans.__('Could not shut down the kernel: %1', String((error as Error).message ?? error))
    );
    return false;
  }
}

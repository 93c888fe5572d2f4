import type { ISessionContext } from '@jupyterlab/apputils';
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import type { KernelMessage } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IFacts } from '../doctor/facts';

/** Why the diagnostic cannot run in this kernel, in words; null when it can. */
export async function kernelProblem(
  session: ISessionContext,
  trans: TranslationBundle
): Promise<string | null> {
  const kernel = session.session?.kernel;
  if (!kernel) {
    return trans.__('This notebook has no kernel: start one (Kernel → Change Kernel) and try again.');
  }
  if (kernel.status === 'dead') {
    return trans.__('The kernel is dead: restart it (Kernel → Restart Kernel) and try again.');
  }
  const info = await kernel.info;
  const language = info.language_info.name;
  if (language !== 'python') {
    return trans.__('The GPU diagnostic needs a Python kernel; this notebook runs %1.', language);
  }
  return null;
}

/** Insert the readable collector below the active cell, and run it if asked. */
export async function insertDiagnosticCell(
  panel: NotebookPanel,
  source: string,
  run: boolean
): Promise<void> {
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  notebook.activeCell!.model.sharedModel.setSource(source);
  if (run) {
    await NotebookActions.run(notebook, panel.sessionContext);
  }
}

/**
 * Run the collector silently (no new cell, no history, its names kept out of the user's
 * namespace) and return the facts it displays.
 */
export async function runDiagnosticSilently(
  session: ISessionContext,
  source: string,
  mime: string,
  trans: TranslationBundle,
  timeoutMs = 90000
): Promise<IFacts> {
  const kernel = session.session!.kernel!;
  if (kernel.status === 'busy') {
    throw new Error(
      trans.__('The kernel is busy running a cell; run the diagnostic when it is idle, or insert it as a cell (it will queue).')
    );
  }
  // A JSON string is a valid Python string literal.
  const code = `exec(compile(${JSON.stringify(source)}, "<gpuscope-diagnostic>", "exec"), {"__name__": "__main__"})`;
  const future = kernel.requestExecute({ code, silent: true, store_history: false });
  let facts: IFacts | null = null;
  let failure: string | null = null;
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    if (msg.header.msg_type === 'display_data') {
      const data = (msg as KernelMessage.IDisplayDataMsg).content.data;
      if (mime in data) {
        facts = data[mime] as unknown as IFacts;
      }
    } else if (msg.header.msg_type === 'error') {
      const content = (msg as KernelMessage.IErrorMsg).content;
      failure = `${content.ename}: ${content.evalue}`;
    }
  };
  let timer = 0;
  const timeout = new Promise<never>((_, reject) => {
    timer = window.setTimeout(
      () => reject(new Error(trans.__('The diagnostic did not finish within %1 s.', timeoutMs / 1000))),
      timeoutMs
    );
  });
  try {
    await Promise.race([future.done, timeout]);
  } finally {
    window.clearTimeout(timer);
  }
  if (failure) {
    throw new Error(trans.__('The diagnostic failed in the kernel: %1', failure));
  }
  if (!facts) {
    throw new Error(trans.__('The kernel finished without reporting the diagnostic.'));
  }
  return facts;
}

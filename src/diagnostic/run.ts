import type { ISessionContext } from '@jupyterlab/apputils';
import { NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import { runSilently } from '../ui/silent';
import { DIAGNOSTIC_MIME, IDiagnosticBundle } from './report';

/** Why the diagnostic cannot run in this kernel, in words; null when it can. */
export async function kernelProblem(
  session: ISessionContext,
  trans: TranslationBundle
): Promise<string | null> {
  const kernel = session.session?.kernel;
  if (!kernel) {
    return trans.__(
      'This notebook has no kernel: start one (Kernel → Change Kernel) and try again.'
    );
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

/** Asks the kernel, without running a cell, whether it can import the diagnostic. */
const HAS_GPUSCOPE =
  "__import__('importlib.util').util.find_spec('jupyterlab_gpuscope.kernel.findings') is not None";

/**
 * Whether the kernel's environment has jupyterlab-gpuscope (then the short cell runs
 * there). A kernel that does not answer within the wait (busy) gets the self-contained
 * cell, which runs everywhere.
 */
export async function kernelHasGPUScope(session: ISessionContext, waitMs = 5000): Promise<boolean> {
  const kernel = session.session?.kernel;
  if (!kernel) {
    return false;
  }
  try {
    const { reply } = await runSilently(kernel, '', {
      waitMs,
      userExpressions: { gpuscope: HAS_GPUSCOPE }
    });
    const answer = (
      reply?.content as {
        user_expressions?: Record<string, { status?: string; data?: { 'text/plain'?: string } }>;
      }
    )?.user_expressions?.gpuscope;
    return answer?.status === 'ok' && answer.data?.['text/plain'] === 'True';
  } catch {
    return false;
  }
}

/**
 * Insert the diagnostic cell below the active cell (the self-contained form collapsed:
 * its code is long), run it if asked, and bring its report into view.
 */
export async function insertDiagnosticCell(
  panel: NotebookPanel,
  source: string,
  selfContained: boolean,
  run: boolean
): Promise<void> {
  const notebook = panel.content;
  NotebookActions.insertBelow(notebook);
  const cell = notebook.activeCell!;
  cell.model.sharedModel.setSource(source);
  if (selfContained) {
    const jupyter = (cell.model.getMetadata('jupyter') ?? {}) as Record<string, unknown>;
    cell.model.setMetadata('jupyter', { ...jupyter, source_hidden: true });
    cell.inputHidden = true;
  }
  if (run) {
    await NotebookActions.run(notebook, panel.sessionContext);
    await notebook.scrollToCell(cell, 'start');
  }
}

/**
 * Run the diagnostic silently (no new cell, no history, its names kept out of the user's
 * namespace) and return the output bundle it displays.
 */
export async function runDiagnosticSilently(
  session: ISessionContext,
  source: string,
  trans: TranslationBundle,
  timeoutMs = 90000
): Promise<IDiagnosticBundle> {
  const kernel = session.session!.kernel!;
  if (kernel.status === 'busy') {
    throw new Error(
      trans.__(
        'The kernel is busy running a cell; run the diagnostic when it is idle, or insert it as a cell (it will queue).'
      )
    );
  }
  // A JSON string is a valid Python string literal.
  const code = `exec(compile(${JSON.stringify(source)}, "<gpuscope-diagnostic>", "exec"), {"__name__": "__main__"})`;
  const run = await runSilently(kernel, code, { waitMs: timeoutMs });
  if (!run.finished && !run.error) {
    throw new Error(trans.__('The diagnostic did not finish within %1 s.', timeoutMs / 1000));
  }
  const failure = run.error;
  const bundle = (run.displays.find(data => DIAGNOSTIC_MIME in data) ??
    null) as IDiagnosticBundle | null;
  const printed = run.printed;
  if (failure) {
    throw new Error(trans.__('The diagnostic failed in the kernel: %1', failure));
  }
  if (!bundle) {
    throw new Error(
      printed.trim()
        ? trans.__('The kernel finished without reporting the diagnostic: %1', printed.trim())
        : trans.__('The kernel finished without reporting the diagnostic.')
    );
  }
  return bundle;
}

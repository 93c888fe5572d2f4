import type { Kernel, KernelMessage } from '@jupyterlab/services';

/** What a silent run left: its displays, its printed text, its error, its reply. */
export interface ISilentRun {
  /** The data of every display_data message, in order. */
  displays: KernelMessage.IDisplayDataMsg['content']['data'][];
  printed: string;
  /** `ename: evalue` of the error it raised, or null. */
  error: string | null;
  /** False when the run did not finish within the wait. */
  finished: boolean;
  /** The execute reply, once finished. */
  reply: KernelMessage.IExecuteReplyMsg | null;
}

/**
 * Run code in a kernel without a cell: no output area, no history, no execution count.
 * The one way gpuscope runs its own Python (the probe, the per-cell loader, the silent
 * diagnostic). Resolves when the kernel replies, or unfinished after `waitMs`.
 */
export async function runSilently(
  kernel: Kernel.IKernelConnection,
  code: string,
  options: { waitMs?: number; userExpressions?: Record<string, string> } = {}
): Promise<ISilentRun> {
  const future = kernel.requestExecute({
    code,
    silent: true,
    store_history: false,
    user_expressions: options.userExpressions ?? {}
  });
  const run: ISilentRun = { displays: [], printed: '', error: null, finished: false, reply: null };
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const type = msg.header.msg_type;
    if (type === 'display_data') {
      run.displays.push((msg as KernelMessage.IDisplayDataMsg).content.data);
    } else if (type === 'stream') {
      run.printed += (msg as KernelMessage.IStreamMsg).content.text;
    } else if (type === 'error') {
      const content = (msg as KernelMessage.IErrorMsg).content;
      run.error = `${content.ename}: ${content.evalue}`;
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>(resolve => {
    if (options.waitMs !== undefined) {
      timer = setTimeout(() => resolve('late'), options.waitMs);
    }
  });
  try {
    const reply = await Promise.race([future.done, late]);
    if (reply !== 'late') {
      run.finished = true;
      run.reply = reply ?? null;
    }
  } finally {
    clearTimeout(timer);
  }
  return run;
}

/**
 * Asking a kernel what in it holds GPU memory, and giving it back: the frontend's side of
 * kernel/memory_xray.py. The module is loaded once per kernel (the collector's loader:
 * the kernel's environment need not have this package); each question is a silent run
 * whose answer comes back as display data.
 */
import type { Kernel } from '@jupyterlab/services';

import type { IMemoryAction, IMemoryBreakdown } from '../api';
import { runSilently } from '../ui/silent';

export const BREAKDOWN_MIME = 'application/vnd.gpuscope.memory+json';
const REPLY_MIME = 'application/vnd.gpuscope.memory-reply+json';
const MODULE = 'gpuscope_memory_xray';

/** What a user can do to give memory back; `delete` takes a variable's name. */
export type MemoryActionName = 'free_cache' | 'drop_last_error' | 'clear_output_history' | 'delete';

/** Why a kernel could not answer, in words for the user. */
export class KernelAnswerError extends Error {}

/**
 * Runs `action` in the kernel and returns what it answered. A kernel busy with a cell
 * answers when the cell ends; after `waitMs` the question is given up (it still runs).
 */
export async function askKernel(
  kernel: Kernel.IKernelConnection,
  loader: string,
  action: 'breakdown' | MemoryActionName,
  args: string[] = [],
  waitMs = 60_000
): Promise<IMemoryBreakdown | IMemoryAction> {
  const info = await kernel.info;
  if (info.language_info.name !== 'python') {
    throw new KernelAnswerError(
      `This kernel runs ${info.language_info.name}; the memory breakdown needs Python.`
    );
  }
  const call = [action, ...args].map(a => JSON.stringify(a)).join(', ');
  const run = await runSilently(kernel, `${loader}\n__import__('${MODULE}').answer(${call})`, {
    waitMs
  });
  if (!run.finished) {
    throw new KernelAnswerError(
      'The kernel did not answer in time: it is busy running a cell. Ask again when it is idle.'
    );
  }
  if (run.error) {
    throw new KernelAnswerError(`The kernel could not answer: ${run.error}`);
  }
  const reply = run.displays.find(d => d[REPLY_MIME])?.[REPLY_MIME];
  if (!reply) {
    throw new KernelAnswerError('The kernel gave no answer.');
  }
  return reply as unknown as IMemoryBreakdown | IMemoryAction;
}

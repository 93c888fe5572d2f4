/**
 * The table of what holds a GPU's memory: the GPU Monitor's cards and the out-of-memory
 * card draw it here, so both show the same columns, words and units.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IGPUProcess, IHeldOutside, IKernelRef } from '../api';
import { formatSize, MemoryUnits } from '../core/memory';
import { markProbable, probableHow, whyNotMatched } from './attribution';
import { appendButton, element, SMALL_BUTTON, tableFrame } from './dom';
import { outsideExplanation } from './outside';

/** What the table lists: the processes, then the lines that stand for many or for none. */
export interface IProcessTableContent {
  processes: IGPUProcess[];
  /** Other users' processes, counted but not described (as the server allows). */
  others: { count: number; usedMemory: number };
  /** Memory no listed process holds, when some is known, and how that was told. */
  outside: { usedMemory: number; how: IHeldOutside } | null;
}

export interface IProcessTableOptions {
  trans: TranslationBundle;
  units: MemoryUnits;
  openNotebook(path: string): void;
  /** Whether a kernel's row offers to shut it down. */
  canShutDown(kernel: IKernelRef): boolean;
  shutDownKernel(kernel: IKernelRef): void;
  /** Shows what in a kernel holds its memory; absent: no such action. */
  inspectKernel?(kernel: IKernelRef): void;
  /** The kernel whose cell failed: its row is marked "(this notebook)". */
  failingKernelId?: string | null;
  /** The MIG instance a process runs in, as its Kernel column says it, or null. */
  instanceOf?(proc: IGPUProcess): string | null;
}

/**
 * Memory as the table writes it: in the largest unit it reaches, as PyTorch's
 * out-of-memory message does ("512.00 MiB"), or "n/a" when the driver did not say.
 */
export function memoryCellText(bytes: number | null, units: MemoryUnits): string {
  return bytes === null ? 'n/a' : formatSize(bytes, units);
}

/**
 * Appends the table to `parent`. Returns its memory cells in row order (processes, other
 * users, outside), so a caller can refresh the figures without rebuilding the rows.
 */
export function appendProcessTable(
  parent: HTMLElement,
  content: IProcessTableContent,
  options: IProcessTableOptions
): HTMLElement[] {
  const { trans, units } = options;
  const body = tableFrame(element('table', 'jp-gpuscope-ProcessTable', parent), [
    trans.__('PID'),
    trans.__('Memory'),
    trans.__('Notebook / process'),
    trans.__('Kernel'),
    trans.__('Actions')
  ]);
  const memoryCells: HTMLElement[] = [];
  for (const proc of content.processes) {
    memoryCells.push(processRow(body, proc, options));
  }
  if (content.others.count > 0) {
    const cell = summaryRow(body, 'jp-gpuscope-ProcessTable-others', memoryCells);
    cell.textContent = trans._n(
      '%1 process of other users (details hidden by the server)',
      '%1 processes of other users (details hidden by the server)',
      content.others.count
    );
  }
  if (content.outside) {
    const cell = summaryRow(body, 'jp-gpuscope-ProcessTable-outside', memoryCells);
    cell.textContent = trans.__("Held outside this server's view");
    cell.title = outsideExplanation(content.outside.how, trans);
  }
  const figures = [
    ...content.processes.map(p => p.used_memory),
    ...(content.others.count > 0 ? [content.others.usedMemory] : []),
    ...(content.outside ? [content.outside.usedMemory] : [])
  ];
  memoryCells.forEach((cell, i) => (cell.textContent = memoryCellText(figures[i], units)));
  return memoryCells;
}

/** One process's row; returns its memory cell. */
function processRow(
  body: HTMLElement,
  proc: IGPUProcess,
  options: IProcessTableOptions
): HTMLElement {
  const { trans } = options;
  const kernel = proc.kernel;
  const isFailing = !!kernel && kernel.id === options.failingKernelId;
  const row = element('tr', isFailing ? 'jp-mod-failing' : '', body);
  element('td', '', row).textContent = proc.pid === null ? '—' : String(proc.pid);
  const memory = element('td', '', row);
  const what = element('td', '', row);
  if (kernel?.notebook_path) {
    const path = kernel.notebook_path;
    appendButton(what, 'jp-gpuscope-ProcessTable-open', path, trans.__('Open %1', path), () =>
      options.openNotebook(path)
    );
  } else {
    what.textContent = proc.name ?? trans.__('unknown');
    what.title =
      [proc.note, whyNotMatched(proc)].filter(Boolean).join(' ') || (proc.cmdline ?? []).join(' ');
  }
  markProbable(what, probableHow(proc), trans);
  if (isFailing) {
    // A space keeps the words apart for screen readers too.
    what.append(' ');
    element('span', 'jp-gpuscope-ProcessTable-thisNotebook', what).textContent =
      trans.__('(this notebook)');
  }
  element('td', '', row).textContent = [kernel?.name, options.instanceOf?.(proc)]
    .filter(Boolean)
    .join(' · ');
  const actions = element('td', '', row);
  if (kernel && options.inspectKernel) {
    const inspect = options.inspectKernel;
    appendButton(
      actions,
      `${SMALL_BUTTON} jp-gpuscope-ProcessTable-inspect`,
      trans.__('What holds it'),
      trans.__('Show what in this kernel holds GPU memory, and give it back'),
      () => inspect(kernel)
    );
  }
  if (kernel && options.canShutDown(kernel)) {
    appendButton(
      actions,
      `${SMALL_BUTTON} jp-mod-warn jp-gpuscope-ProcessTable-shutdown`,
      trans.__('Shut down kernel'),
      kernel.notebook_path
        ? trans.__('Shut down the kernel of %1 to free its GPU memory', kernel.notebook_path)
        : trans.__('Shut down this kernel to free its GPU memory'),
      () => options.shutDownKernel(kernel)
    );
  }
  return memory;
}

/** A row for many processes or for none: its PID is "—"; returns its description cell. */
function summaryRow(body: HTMLElement, className: string, memoryCells: HTMLElement[]): HTMLElement {
  const row = element('tr', className, body);
  element('td', '', row).textContent = '—';
  memoryCells.push(element('td', '', row));
  const cell = element('td', '', row) as HTMLTableCellElement;
  cell.colSpan = 3;
  return cell;
}

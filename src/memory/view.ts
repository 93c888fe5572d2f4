/**
 * What in a kernel holds GPU memory, drawn from its breakdown: one table per GPU, with the
 * actions that give memory back (asked to confirm where they lose something). The memory
 * panel, the out-of-memory card and the output of gpu_memory.report() all draw it here.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IMemoryAction, IMemoryBreakdown, IMemoryDevice, IMemoryHolder } from '../api';
import { formatSize, MemoryUnits } from '../core/memory';
import { appendButton, element, SMALL_BUTTON, tableFrame } from '../ui/dom';
import type { MemoryActionName } from './xray';

export interface IMemoryViewOptions {
  trans: TranslationBundle;
  units(): MemoryUnits;
  /**
   * Runs an action in the kernel; absent where the view shows a saved output (no kernel
   * to act on).
   */
  act?(action: MemoryActionName, args: string[]): Promise<IMemoryAction>;
  /** Asks the user; resolves true to go on. */
  confirm?(title: string, body: string, button: string): Promise<boolean>;
  /** Called after an action ran, to draw the breakdown again. */
  refresh?(): Promise<void>;
}

/** The holders as the out-of-memory card's sentence names them: largest first. */
export function summary(data: IMemoryBreakdown, units: MemoryUnits, count = 3): string {
  const holders = data.devices
    .flatMap(d => d.holders)
    .filter(h => h.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, count);
  return holders.map(h => `${h.name} ${formatSize(h.bytes, units)}`).join(', ');
}

export class MemoryView {
  constructor(private _options: IMemoryViewOptions) {
    this.node = element('div', 'jp-gpuscope-Memory');
    this._status = element('p', 'jp-gpuscope-Memory-status');
    this._status.setAttribute('role', 'status');
    this._status.setAttribute('aria-live', 'polite');
  }

  readonly node: HTMLElement;

  /** Draws a breakdown (the status line of the last action stays). */
  render(data: IMemoryBreakdown): void {
    const trans = this._options.trans;
    this.node.replaceChildren();
    if (!data.available) {
      element('p', 'jp-gpuscope-Memory-note', this.node).textContent = trans.__(
        'No GPU memory breakdown: %1.',
        data.reason ?? trans.__('unknown reason')
      );
    } else if (!data.devices.length) {
      element('p', 'jp-gpuscope-Memory-note', this.node).textContent = trans.__(
        'torch holds no GPU memory in this kernel.'
      );
    }
    const largest = summary(data, this._options.units());
    if (largest) {
      element('p', 'jp-gpuscope-Memory-summary', this.node).textContent = trans.__(
        'In this kernel: %1',
        largest
      );
    }
    for (const device of data.devices) {
      this._device(device, data);
    }
    if (data.allocations.length) {
      this._allocations(data);
    }
    for (const pool of data.pools) {
      element('p', 'jp-gpuscope-Memory-note', this.node).textContent = trans.__(
        '%1 pool: %2 used of %3 held',
        pool.library,
        this._size(pool.used),
        this._size(pool.held)
      );
    }
    if (data.truncated.length) {
      element('p', 'jp-gpuscope-Memory-note', this.node).textContent = trans.__(
        'The search stopped at its limits (%1): some holders may be missing.',
        data.truncated.join(', ')
      );
    }
    this.node.appendChild(this._status);
  }

  /** Says something went wrong, in place of the breakdown. */
  renderError(message: string): void {
    this.node.replaceChildren();
    element('p', 'jp-gpuscope-Memory-note', this.node).textContent = message;
    this.node.appendChild(this._status);
  }

  private _size(bytes: number): string {
    return formatSize(bytes, this._options.units());
  }

  private _device(device: IMemoryDevice, data: IMemoryBreakdown): void {
    const trans = this._options.trans;
    const body = tableFrame(
      element('table', 'jp-gpuscope-MemoryTable', this.node),
      [trans.__('Held by'), trans.__('Memory'), trans.__('Note'), trans.__('Actions')],
      trans.__('GPU %1 (as this kernel numbers it)', device.index)
    );
    for (const holder of device.holders) {
      const row = this._row(body, this._holderName(holder), holder.bytes, this._shared(holder));
      this._holderAction(row.lastElementChild as HTMLElement, holder, device.holders);
    }
    if (device.unreached !== null) {
      this._row(
        body,
        trans.__('Allocated, no name reaches it'),
        Math.max(device.unreached, 0),
        trans.__('held by other objects, C extensions, or leaked')
      );
    }
    if (device.cache !== null) {
      // Unknown in breakdowns made before gpuscope said it: then the whole cache is offered.
      const returnable = device.cache_returnable ?? null;
      const row = this._row(
        body,
        trans.__("The allocator's cache"),
        device.cache,
        returnable === null
          ? trans.__('reserved by torch, not in use')
          : trans.__(
              'reserved by torch, not in use; empty_cache() returns %1 of it',
              this._size(returnable)
            )
      );
      if ((returnable ?? device.cache) > 0) {
        this._button(
          row.lastElementChild as HTMLElement,
          trans.__('Free cache'),
          trans.__("Give the allocator's cache back to the GPU (torch.cuda.empty_cache())"),
          () => this._run('free_cache', [])
        );
      }
    }
    if (device.nvml_process !== null && device.reserved !== null) {
      this._row(
        body,
        trans.__('CUDA context and libraries'),
        Math.max(device.nvml_process - device.reserved, 0),
        trans.__('NVML shows %1 for this process in all', this._size(device.nvml_process))
      );
    } else if (data.nvml_reason && device.allocated !== null) {
      element('p', 'jp-gpuscope-Memory-note', this.node).textContent = trans.__(
        "NVML's figure for this process is not shown: %1.",
        data.nvml_reason
      );
    }
  }

  /** The flight recorder's largest live allocations, with the cell and line that made each. */
  private _allocations(data: IMemoryBreakdown): void {
    const trans = this._options.trans;
    const body = tableFrame(
      element('table', 'jp-gpuscope-MemoryTable', this.node),
      [trans.__('Made at'), trans.__('Memory'), trans.__('Function'), trans.__('GPU')],
      trans.__('Largest live allocations (the flight recorder)')
    );
    for (const a of data.allocations) {
      const row = element('tr', '', body);
      element('td', 'jp-gpuscope-MemoryTable-name', row).textContent =
        a.execution_count !== null
          ? trans.__('In [%1], line %2', a.execution_count, a.line ?? '?')
          : `${(a.file ?? '?').split('/').pop()}:${a.line ?? '?'}`;
      element('td', 'jp-gpuscope-MemoryTable-size', row).textContent = this._size(a.bytes);
      element('td', 'jp-gpuscope-MemoryTable-note', row).textContent = a.function ?? '';
      element('td', '', row).textContent = String(a.device);
    }
  }

  private _holderName(holder: IMemoryHolder): string {
    return holder.kind === 'error'
      ? this._options.trans.__("The last error's frames")
      : holder.name;
  }

  private _shared(holder: IMemoryHolder): string {
    return holder.shared_with.length
      ? this._options.trans.__('shares memory with %1', holder.shared_with.join(', '))
      : '';
  }

  private _row(body: HTMLElement, name: string, bytes: number, note: string): HTMLElement {
    const row = element('tr', '', body);
    element('td', 'jp-gpuscope-MemoryTable-name', row).textContent = name;
    element('td', 'jp-gpuscope-MemoryTable-size', row).textContent = this._size(bytes);
    element('td', 'jp-gpuscope-MemoryTable-note', row).textContent = note;
    element('td', '', row);
    return row;
  }

  private _holderAction(cell: HTMLElement, holder: IMemoryHolder, all: IMemoryHolder[]): void {
    const trans = this._options.trans;
    if (holder.kind === 'variable') {
      // Others holding the same storages keep them: say so before the user deletes.
      const alsoHeldBy = all.filter(h => h.shared_with.includes(holder.name)).map(h => h.name);
      const body =
        trans.__(
          'Delete the variable %1 (and let go of its gradients)? Its value is lost.',
          holder.name
        ) +
        (alsoHeldBy.length
          ? ' ' +
            trans.__(
              '%1 also hold(s) some of its memory, which stays until they go too.',
              alsoHeldBy.join(', ')
            )
          : '');
      this._button(cell, trans.__('Delete'), trans.__('Delete %1', holder.name), () =>
        this._confirmThenRun(
          trans.__('Delete %1?', holder.name),
          body,
          trans.__('Delete'),
          'delete',
          [holder.name]
        )
      );
    } else if (holder.kind === 'output' && all.find(h => h.kind === 'output') === holder) {
      this._button(
        cell,
        trans.__('Clear history'),
        trans.__('Clear the output history (Out, _, __, ___)'),
        () =>
          this._confirmThenRun(
            trans.__('Clear the output history?'),
            trans.__('Out and _, __, ___ are emptied; the outputs shown in the notebook stay.'),
            trans.__('Clear'),
            'clear_output_history',
            []
          )
      );
    } else if (holder.kind === 'error') {
      this._button(cell, trans.__('Drop frames'), trans.__("Drop the last error's frames"), () =>
        this._confirmThenRun(
          trans.__("Drop the last error's frames?"),
          trans.__(
            'The variables of the functions the error went through are let go; %debug can no longer inspect it. The error shown in the notebook stays.'
          ),
          trans.__('Drop'),
          'drop_last_error',
          []
        )
      );
    }
  }

  private _button(
    parent: HTMLElement,
    label: string,
    title: string,
    onClick: () => Promise<void>
  ): void {
    if (!this._options.act) {
      return; // a saved output: nothing to act on
    }
    appendButton(
      parent,
      `${SMALL_BUTTON} jp-gpuscope-Memory-action`,
      label,
      title,
      onClick
    ).setAttribute('aria-label', title);
  }

  private async _confirmThenRun(
    title: string,
    body: string,
    button: string,
    action: MemoryActionName,
    args: string[]
  ): Promise<void> {
    if (this._options.confirm && !(await this._options.confirm(title, body, button))) {
      return;
    }
    await this._run(action, args);
  }

  private async _run(action: MemoryActionName, args: string[]): Promise<void> {
    const trans = this._options.trans;
    this._status.textContent = trans.__('Working…');
    try {
      const report = await this._options.act!(action, args);
      if (!report.ok) {
        this._status.textContent = trans.__('Nothing was changed: %1.', report.message);
        return;
      }
      this._status.textContent = this._freedText(report);
    } catch (error) {
      // Unanswered is not undone: a busy kernel still runs the action later.
      this._status.textContent = trans.__(
        'The kernel did not confirm the action: %1',
        (error as Error).message
      );
      return;
    }
    await this._options.refresh?.();
  }

  /** "Deleted model: NVML shows 4.00 GiB freed on GPU 0." — measured, not predicted. */
  private _freedText(report: IMemoryAction): string {
    const trans = this._options.trans;
    const parts = report.freed
      .filter(f => (f.nvml ?? f.reserved) !== 0)
      .map(f =>
        f.nvml !== null
          ? trans.__('NVML shows %1 freed on GPU %2', this._size(f.nvml), f.index)
          : trans.__(
              "torch's reserved memory fell by %1 on GPU %2 (NVML could not say)",
              this._size(f.reserved),
              f.index
            )
      );
    const done = report.message.charAt(0).toUpperCase() + report.message.slice(1);
    return parts.length
      ? `${done}: ${parts.join('; ')}.`
      : trans.__('%1: no GPU memory came back (something else still holds it).', done);
  }

  private _status: HTMLElement;
}

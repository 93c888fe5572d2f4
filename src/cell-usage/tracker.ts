/**
 * Per-cell GPU usage in notebooks: loads the kernel extension into each Python kernel
 * (again after a restart), receives its records on the "gpuscope.cells" comm, and shows
 * a line under every cell that used the GPU.
 */
import type { Cell, CodeCell, ICellModel } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { CellUsageMode } from '../api';

import { addUnderOutputs } from '../ui/cells';
import { runSilently } from '../ui/silent';
import {
  annotationDetails,
  annotationText,
  fitWarning,
  fitWarningText,
  heaviness,
  ICellRecord,
  ICellUsage,
  summarize,
  utilizationDuring
} from './usage';
import type { IGPUScopeAPI, IMonitorModel } from '../tokens';
import type { MemoryUnits } from '../core/memory';

export const COMM_TARGET = 'gpuscope.cells';
const METADATA_KEY = 'gpuscope';

export interface IHeavyCell {
  cellIndex: number;
  usage: ICellUsage;
}

export class CellUsageTracker {
  constructor(
    private _tracker: INotebookTracker,
    private _api: IGPUScopeAPI,
    private _monitor: IMonitorModel | null,
    private _trans: TranslationBundle
  ) {
    _tracker.widgetAdded.connect((_, panel) => this._watch(panel));
    _tracker.forEach(panel => this._watch(panel));
    NotebookActions.executionScheduled.connect((_, { notebook, cell }) =>
      this._beforeRun(notebook.parent as NotebookPanel | null, cell)
    );
  }

  /** Emitted when a notebook's measured cells change. */
  get changed(): ISignal<this, NotebookPanel> {
    return this._changed;
  }

  set enabled(value: boolean) {
    this._enabled = value;
    if (value) {
      this._tracker.forEach(panel => void this._load(panel));
    } else {
      for (const [model, widget] of this._widgets) {
        widget.dispose();
        this._widgets.delete(model);
      }
    }
  }

  saveInMetadata = false;

  /** The monitor's memory units setting, for the figures under cells. */
  units: MemoryUnits = 'GiB';

  /** How kernels measure (the setting); a change reloads the extension in every kernel. */
  get mode(): CellUsageMode {
    return this._mode;
  }

  set mode(value: CellUsageMode) {
    if (value !== this._mode) {
      this._mode = value;
      this._reloadAll();
    }
  }

  /**
   * The out-of-memory flight recorder (the setting): torch records allocations with their
   * stacks while cells run, for the memory X-ray. A change reloads the extension.
   */
  get flightRecorder(): boolean {
    return this._flightRecorder;
  }

  set flightRecorder(value: boolean) {
    if (value !== this._flightRecorder) {
      this._flightRecorder = value;
      this._reloadAll();
    }
  }

  private _reloadAll(): void {
    this._loaded = new WeakSet();
    if (this._enabled) {
      this._tracker.forEach(panel => void this._load(panel));
    }
  }

  /** The notebook's measured cells, largest peak first. */
  heaviest(panel: NotebookPanel, count = 5): IHeavyCell[] {
    const cells: IHeavyCell[] = [];
    panel.content.widgets.forEach((cell, cellIndex) => {
      const usage = this._usage.get(cell.model);
      if (usage) {
        cells.push({ cellIndex, usage });
      }
    });
    return cells.sort((a, b) => heaviness(b.usage) - heaviness(a.usage)).slice(0, count);
  }

  private _watch(panel: NotebookPanel): void {
    const session = panel.sessionContext;
    const follow = () => {
      const kernel = session.session?.kernel;
      if (kernel && !this._followed.has(kernel)) {
        this._followed.add(kernel);
        // A restarted kernel has forgotten the extension (the connection object stays).
        kernel.statusChanged.connect((_, status) => {
          if (
            status === 'restarting' ||
            status === 'autorestarting' ||
            status === 'starting' ||
            status === 'dead'
          ) {
            this._loaded.delete(kernel);
          } else if (status === 'idle') {
            void this._load(panel);
          }
        });
      }
      void this._load(panel);
    };
    session.kernelChanged.connect(follow);
    void session.ready.then(follow);
  }

  private async _load(panel: NotebookPanel): Promise<void> {
    const kernel = panel.sessionContext.session?.kernel;
    // Only a kernel that is up: while it restarts, a request would be lost.
    if (
      !this._enabled ||
      !kernel ||
      this._loaded.has(kernel) ||
      (kernel.status !== 'idle' && kernel.status !== 'busy')
    ) {
      return;
    }
    this._loaded.add(kernel);
    try {
      const info = await kernel.info;
      if (info.language_info.name !== 'python') {
        return;
      }
      if (!this._targets.has(kernel)) {
        this._targets.add(kernel);
        kernel.registerCommTarget(COMM_TARGET, comm => {
          comm.onMsg = (msg: KernelMessage.ICommMsgMsg) =>
            this._onRecord(
              panel,
              msg.content.data as unknown as ICellRecord,
              (msg.parent_header as KernelMessage.IHeader).msg_id
            );
        });
      }
      const options = { cellUsage: this._mode, memoryHistory: this._flightRecorder };
      const key = JSON.stringify(options);
      let loader = this._loaders.get(key);
      if (loader === undefined) {
        loader = (await this._api.collector(options)).cell_usage_loader;
        this._loaders.set(key, loader);
      }
      if (typeof loader !== 'string') {
        return; // a server without the extension's kernel code
      }
      await runSilently(kernel, loader);
    } catch {
      this._loaded.delete(kernel); // try again at the next idle
    }
  }

  private _onRecord(
    panel: NotebookPanel,
    record: ICellRecord,
    requestId: string | undefined
  ): void {
    if (!this._enabled || typeof record !== 'object' || record === null) {
      return;
    }
    // The cell that ran: the one whose execute request the record answers (its execution
    // count is not set until the reply, which comes after the record).
    const cell = panel.content.widgets.find(
      c =>
        c.model.type === 'code' &&
        requestId !== undefined &&
        (c as CodeCell).outputArea.future?.msg.header.msg_id === requestId
    ) as CodeCell | undefined;
    if (!cell) {
      return;
    }
    this._lastRecord.set(panel, record);
    const usage = summarize(record, (device, start, end) => this._utilization(device, start, end));
    this._clear(cell.model);
    if (!usage) {
      return;
    }
    this._usage.set(cell.model, usage);
    if (this.saveInMetadata) {
      cell.model.setMetadata(METADATA_KEY, {
        peak_allocated: usage.peak,
        mode: record.mode ?? 'peak',
        delta_allocated: usage.delta,
        utilization: usage.utilization,
        execution_count: usage.executionCount
      });
    }
    const widget = new Widget();
    widget.addClass('jp-gpuscope-CellUsage');
    widget.node.textContent = annotationText(usage, this.units, this._trans);
    widget.node.title = annotationDetails(usage, record.mode ?? 'peak', this.units, this._trans);
    this._widgets.set(cell.model, widget);
    addUnderOutputs(cell, widget, () => this._widgets.get(cell.model) === widget);
    this._changed.emit(panel);
  }

  /** The server's GPU a kernel's device is: by UUID, else by index. */
  private _serverGPU(device: { index: number; uuid: string | null }) {
    const devices = this._monitor?.devices;
    if (!devices || devices.status !== 'ok') {
      return null;
    }
    return (
      devices.devices.find(
        d => device.uuid && d.uuid?.replace(/^GPU-/, '') === device.uuid.replace(/^GPU-/, '')
      ) ??
      devices.devices.find(d => d.index === device.index) ??
      null
    );
  }

  /** The server GPU the device is and its utilisation then. */
  private _utilization(device: { index: number; uuid: string | null }, start: number, end: number) {
    const devices = this._monitor?.devices;
    const match = this._serverGPU(device);
    if (!this._monitor || !devices || !match) {
      return null;
    }
    const value = utilizationDuring(
      this._monitor.history(match.index),
      start,
      end,
      devices.interval_seconds
    );
    return value === null ? null : { value, recorded: !devices.live };
  }

  /**
   * A cell about to run again: its last figures go; if what it needed last time is more
   * than the GPU has free now, it says so before it runs out (live readings only: a
   * recording never feeds advice).
   */
  private _beforeRun(panel: NotebookPanel | null, cell: Cell): void {
    const last = this._usage.get(cell.model);
    this._clear(cell.model);
    if (!this._enabled || !last || !panel || cell.model.type !== 'code') {
      return;
    }
    const gpu = this._serverGPU(last.device);
    const devices = this._monitor?.devices;
    if (!gpu || !devices || devices.status !== 'ok' || !devices.live) {
      return;
    }
    const sample = this._monitor?.latest?.gpus.find(g => g.index === gpu.index) ?? null;
    const kernelState = this._lastRecord
      .get(panel)
      ?.devices.find(d => d.index === last.device.index);
    const cache = kernelState
      ? (kernelState.reserved_after ?? kernelState.allocated_after) - kernelState.allocated_after
      : 0;
    const warning = fitWarning(last, sample, cache);
    if (!warning) {
      return;
    }
    const widget = new Widget();
    widget.addClass('jp-gpuscope-CellUsage');
    widget.addClass('jp-mod-warning');
    widget.node.setAttribute('role', 'status');
    widget.node.textContent = fitWarningText(warning, this.units, this._trans);
    this._widgets.set(cell.model, widget);
    addUnderOutputs(cell as CodeCell, widget, () => this._widgets.get(cell.model) === widget);
  }

  private _clear(model: ICellModel): void {
    this._usage.delete(model);
    const widget = this._widgets.get(model);
    if (widget) {
      this._widgets.delete(model);
      widget.dispose();
    }
  }

  // Off until the plugin applies the settings (their defaults live in schema/cell-usage.json).
  private _enabled = false;
  private _mode: CellUsageMode = 'change';
  private _flightRecorder = false;
  /** The extension's loader for each choice of settings (JSON of the collector options). */
  private _loaders = new Map<string, string>();
  /** Each notebook's latest record: its kernel's memory after its last cell. */
  private _lastRecord = new WeakMap<NotebookPanel, ICellRecord>();
  private _loaded = new WeakSet<Kernel.IKernelConnection>();
  private _followed = new WeakSet<Kernel.IKernelConnection>();
  private _targets = new WeakSet<Kernel.IKernelConnection>();
  private _usage = new WeakMap<ICellModel, ICellUsage>();
  private _widgets = new Map<ICellModel, Widget>();
  private _changed = new Signal<this, NotebookPanel>(this);
}

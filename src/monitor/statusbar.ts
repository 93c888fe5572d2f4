import { VDomModel } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { element, setAttr, setText } from '../ui/dom';
import type { IGPUSample } from '../api';
import {
  formatPercent,
  formatWatts,
  Level,
  memoryLevel,
  statusText,
  throttleLevel,
  throttleWords
} from './format';
import { formatUsedOfTotal } from '../core/memory';
import { IInstanceInView, instanceName, kernelInstance } from '../ui/mig';
import type {
  IMonitorModel,
  ISharedGPUs,
  IThresholds,
  MemoryUnits,
  StatusContent
} from '../tokens';

/** What the status bar item shows; recomputed from the monitor, emits only on change. */
export class GPUStatusModel extends VDomModel {
  constructor(
    readonly monitor: IMonitorModel,
    private _trans: TranslationBundle,
    private _config: GPUStatusModel.IConfig
  ) {
    super();
    monitor.changed.connect(this._recompute, this);
    monitor.processesChanged.connect(this._recompute, this);
    this._recompute();
  }

  get text(): string {
    return this._text;
  }

  get tooltip(): string {
    return this._tooltip;
  }

  get level(): Level | 'replay' | 'offline' | 'none' {
    return this._level;
  }

  /**
   * The kernel of the active notebook: its GPUs are the ones shown, or its MIG instance
   * (`migUuid`, resolved from its CUDA_VISIBLE_DEVICES by its profile, or where its
   * process runs).
   */
  setActiveKernel(kernelId: string | null, migUuid: string | null = null): void {
    this._kernelId = kernelId;
    this._migUuid = kernelId ? migUuid : null;
    this._recompute();
  }

  /** This user's share of the GPUs (soft limit, others' total): its lines join the item's. */
  setSharedGPUs(shared: ISharedGPUs | null): void {
    this._shared?.changed.disconnect(this._recompute, this);
    this._shared = shared;
    shared?.changed.connect(this._recompute, this);
    this._recompute();
  }

  configure(options: GPUStatusModel.IConfig): void {
    this._config = options;
    this._recompute();
  }

  dispose(): void {
    this.monitor.changed.disconnect(this._recompute, this);
    this.monitor.processesChanged.disconnect(this._recompute, this);
    super.dispose();
  }

  /**
   * What a screen reader should be told: set when the state turns bad (a threshold, the
   * server gone, the GPU gone) and when it recovers, never for readings that merely move
   * (the item's own text changes every second, so it is no live region).
   */
  get announcement(): string {
    return this._announcement;
  }

  private _recompute(): void {
    const [text, tooltip, level] = this._describe();
    if (level !== this._level) {
      this._announce(level, text, tooltip);
    }
    this._connectedOnce ||= this.monitor.connection === 'connected';
    if (text !== this._text || tooltip !== this._tooltip || level !== this._level) {
      this._text = text;
      this._tooltip = tooltip;
      this._level = level;
      this.stateChanged.emit();
    }
  }

  private _announce(level: GPUStatusModel['level'], text: string, tooltip: string): void {
    const trans = this._trans;
    const bad: Partial<Record<GPUStatusModel['level'], string>> = {
      warning: trans.__('GPU warning: %1', text),
      critical: trans.__('GPU critical: %1', text),
      offline: trans.__('The GPU Monitor cannot reach the server; retrying.'),
      none: tooltip
    };
    // "GPU: …" while connecting shares the offline level: only a real failure is news.
    const offline = this.monitor.connection === 'offline';
    const news = level === 'offline' && !offline ? undefined : bad[level];
    if (!this._connectedOnce && !offline) {
      return; // the first readings are no news
    }
    if (news) {
      this._announcement = news;
      this._alarmed = true;
    } else if (this._alarmed) {
      this._announcement = trans.__('GPU back to normal: %1', text);
      this._alarmed = false;
    }
  }

  private _describe(): [string, string, GPUStatusModel['level']] {
    const trans = this._trans;
    const monitor = this.monitor;
    const devices = monitor.devices;
    if (monitor.connection === 'offline' || (monitor.connection === 'connecting' && !devices)) {
      const why = monitor.connectionError ?? trans.__('connecting');
      return [
        monitor.connection === 'offline' ? trans.__('GPU: offline') : trans.__('GPU: …'),
        trans.__('The GPU Monitor cannot reach the server (%1); retrying.', why),
        'offline'
      ];
    }
    if (!devices || devices.status !== 'ok' || devices.devices.length === 0) {
      const reason = devices?.reason ?? trans.__('no GPU was found');
      return [trans.__('No GPU'), trans.__('No GPU readings: %1', reason), 'none'];
    }
    const all = monitor.latest?.gpus ?? [];
    const { content, units, thresholds } = this._config;
    const instance = this._kernelId
      ? kernelInstance(devices.devices, all, this._migUuid, monitor.processes, this._kernelId)
      : null;
    const gpus = instance ? [instance.gpu] : this._gpusInView(all);
    const shared = new Set(devices.devices.filter(d => d.memory_shared).map(d => d.index));
    let text = instance
      ? this._instanceText(instance)
      : statusText(gpus, content, units, trans, shared);
    if (monitor.paused) {
      text = trans.__('%1 (paused)', text);
    }
    const lines = instance ? [this._instanceLine(instance)] : gpus.map(gpu => this._gpuLine(gpu));
    let level: GPUStatusModel['level'] = 'normal';
    // On a MIG instance, its own memory is what fills up.
    const judged = instance ? [{ ...instance.gpu, ...this._instanceMemory(instance) }] : gpus;
    for (const gpu of judged) {
      const l = memoryLevel(gpu, thresholds);
      if (l === 'critical' || (l === 'warning' && level === 'normal')) {
        level = l;
      }
    }
    // Throttling is said in words, not in the colour the memory has.
    const slowed = new Set(
      judged
        .filter(gpu => throttleLevel(gpu, thresholds) !== 'normal')
        .flatMap(gpu => throttleWords(gpu.throttle_reasons, trans))
    );
    if (slowed.size) {
      text = trans.__('%1 · %2', text, [...slowed].join(', '));
    }
    if (this._shared) {
      const extra = this._shared.statusFor(
        gpus.map(gpu => gpu.index),
        units
      );
      if (extra.suffix) {
        text = trans.__('%1 · %2', text, extra.suffix);
      }
      if (extra.level === 'critical' || (extra.level === 'warning' && level === 'normal')) {
        level = extra.level;
      }
      lines.push(...extra.lines);
    }
    if (!devices.live) {
      // Never let a recording pass for a live GPU.
      text = trans.__('Replay · %1', text);
      lines.unshift(devices.source?.description ?? trans.__('Not a live GPU'));
      if (level === 'normal') {
        level = 'replay';
      }
    }
    if (instance) {
      lines.push(trans.__("Showing the active notebook's MIG instance."));
    } else if (this._kernelId && gpus.length < all.length) {
      lines.push(trans.__("Showing the active notebook's GPUs."));
    }
    lines.push(trans.__('Click to open the GPU Monitor.'));
    return [text, lines.join('\n'), level];
  }

  private _gpusInView(all: IGPUSample[]): IGPUSample[] {
    const processes = this.monitor.processes;
    if (!this._kernelId || !processes) {
      return all;
    }
    const used = new Set(
      processes.gpus
        .filter(g => g.processes.some(p => p.kernel?.id === this._kernelId))
        .map(g => g.index)
    );
    const mine = all.filter(g => used.has(g.index));
    return mine.length ? mine : all;
  }

  private _instanceMemory(view: IInstanceInView): Pick<IGPUSample, 'memory_used' | 'memory_total'> {
    return {
      memory_used: view.reading?.memory_used ?? null,
      memory_total: view.reading?.memory_total ?? view.instance.memory_total
    };
  }

  private _instanceText(view: IInstanceInView): string {
    const trans = this._trans;
    const { content, units } = this._config;
    const memory = this._instanceMemory(view);
    const parts: string[] = [];
    if (content !== 'memory') {
      parts.push(trans.__('SM %1', formatPercent(view.reading?.sm_util ?? null)));
    }
    if (content !== 'utilization') {
      parts.push(formatUsedOfTotal(memory.memory_used, memory.memory_total, units));
    }
    return trans.__('MIG %1: %2', view.instance.profile ?? '?', parts.join(' · '));
  }

  private _instanceLine(view: IInstanceInView): string {
    const trans = this._trans;
    const memory = this._instanceMemory(view);
    const reading = view.reading;
    return trans.__(
      'GPU %1 %2, %3: %4, SM %5, tensor %6 (%7)',
      view.device.index,
      view.device.name ?? trans.__('unknown GPU'),
      instanceName(view.instance, trans),
      formatUsedOfTotal(memory.memory_used, memory.memory_total, this._config.units),
      formatPercent(reading?.sm_util ?? null),
      formatPercent(reading?.tensor_util ?? null),
      view.instance.uuid ?? trans.__('no UUID')
    );
  }

  private _gpuLine(gpu: IGPUSample): string {
    const trans = this._trans;
    const device = this.monitor.devices?.devices.find(d => d.index === gpu.index);
    const name = device?.name ?? trans.__('unknown GPU');
    if (gpu.status !== 'ok') {
      return trans.__('GPU %1 %2: %3', gpu.index, name, gpu.reason ?? gpu.status);
    }
    const line = trans.__(
      'GPU %1 %2 (compute capability %3): %4 busy, %5 °C, %6 of %7',
      gpu.index,
      name,
      device?.compute_capability ?? 'n/a',
      formatPercent(gpu.util_gpu),
      gpu.temp_c ?? 'n/a',
      formatWatts(gpu.power_mw),
      formatWatts(device?.power_limit_mw ?? null)
    );
    return device?.memory_shared
      ? trans.__('%1; its memory is the system memory it shares with the CPU', line)
      : line;
  }

  private _kernelId: string | null = null;
  private _migUuid: string | null = null;
  private _shared: ISharedGPUs | null = null;
  private _text = '';
  private _tooltip = '';
  private _level: GPUStatusModel['level'] = 'normal';
  private _announcement = '';
  private _alarmed = false;
  private _connectedOnce = false;
}

export namespace GPUStatusModel {
  export interface IConfig {
    content: StatusContent;
    units: MemoryUnits;
    thresholds: IThresholds;
  }
}

/**
 * The status bar item: one short text, coloured by state; a click opens the panel.
 *
 * Plain DOM rather than a VDomRenderer with the status bar's React TextItem (same markup):
 * React commits in a task of its own, which ran after the frame that drew the GPU panel,
 * so every reading cost the browser a second frame.
 */
export class GPUStatusItem extends Widget {
  constructor(
    readonly model: GPUStatusModel,
    private _onClick: () => void
  ) {
    super();
    this.addClass('jp-gpuscope-StatusItem');
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    this._text = element('span', 'jp-StatusBar-TextItem', this.node);
    // Outside the item: a button's content is not read as a live region.
    this._live = document.createElement('div');
    this._live.className = 'jp-gpuscope-StatusItem-live';
    this._live.setAttribute('role', 'status');
    model.stateChanged.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this.model.stateChanged.disconnect(this._render, this);
    this._live.remove();
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    document.body.appendChild(this._live);
    this.node.addEventListener('click', this._onClick);
    this.node.addEventListener('keydown', this._onKey);
  }

  protected onBeforeDetach(msg: Message): void {
    this.node.removeEventListener('click', this._onClick);
    this.node.removeEventListener('keydown', this._onKey);
    this._live.remove();
    super.onBeforeDetach(msg);
  }

  private _render(): void {
    const model = this.model;
    setText(this._text, model.text);
    setText(this._live, model.announcement);
    // Only on change: a new title re-runs the browser's accessibility name computation.
    setAttr(this.node, 'title', model.tooltip);
    for (const level of ['normal', 'warning', 'critical', 'replay', 'offline', 'none']) {
      this.toggleClass(`jp-mod-${level}`, model.level === level);
    }
  }

  private _onKey = (event: KeyboardEvent) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this._onClick();
    }
  };

  private _text: HTMLElement;
  private _live: HTMLElement;
}

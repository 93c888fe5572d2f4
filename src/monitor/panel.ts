import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { GPUCard, ICardActions } from './card';
import { readTheme } from './chart';
import type { IDevicesReply, IEnvironment } from '../api';
import { renderTopology } from './topology';
import type { MonitorModel } from './model';
import { setAttr, setText } from '../ui/dom';
import type { IGPUPanel, IThresholds, MemoryUnits } from '../tokens';

/**
 * The GPU panel (a sidebar): a header with the source and controls, then one card per
 * GPU. It owns its DOM (uPlot charts), so it is a plain Lumino widget.
 */
export class GPUPanel extends Widget implements IGPUPanel {
  constructor(options: GPUPanel.IOptions) {
    super();
    const { model, trans } = options;
    this._model = model;
    this._trans = trans;
    this._actions = options.actions;
    this._diagnostic = options.diagnostic ?? null;
    this._config = options.config;
    this._windowMinutes = options.config.windowMinutes;
    this.addClass('jp-gpuscope-Panel');
    this.id = 'jp-gpuscope-panel';
    // One name for the panel everywhere: its tab, its command, the View menu, the README.
    this.title.caption = trans.__('GPU Monitor');
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', trans.__('GPU Monitor'));

    const header = document.createElement('header');
    header.className = 'jp-gpuscope-Panel-header';
    this._banner = document.createElement('div');
    this._banner.className = 'jp-gpuscope-Panel-banner';
    this._banner.setAttribute('role', 'status');
    const controls = document.createElement('div');
    controls.className = 'jp-gpuscope-Panel-controls';
    this._pauseButton = document.createElement('button');
    this._pauseButton.type = 'button';
    this._pauseButton.className = 'jp-Button jp-mod-styled jp-gpuscope-Panel-pause';
    this._pauseButton.addEventListener('click', () =>
      model.paused ? model.resume() : model.pause()
    );
    const windowLabel = document.createElement('label');
    windowLabel.className = 'jp-gpuscope-Panel-window';
    windowLabel.textContent = trans.__('History');
    this._windowSelect = document.createElement('select');
    this._windowSelect.className = 'jp-mod-styled';
    this._windowChoices = options.windowChoices;
    for (const minutes of options.windowChoices) {
      const option = document.createElement('option');
      option.value = String(minutes);
      option.textContent = trans._n('%1 minute', '%1 minutes', minutes);
      this._windowSelect.appendChild(option);
    }
    this._windowSelect.value = String(this._windowMinutes);
    this._windowSelect.addEventListener('change', () => {
      this._windowMinutes = Number(this._windowSelect.value);
      options.onWindowChange?.(this._windowMinutes);
      this._scheduleUpdate();
    });
    windowLabel.appendChild(this._windowSelect);
    controls.append(this._pauseButton, windowLabel);
    this._controls = controls;
    // Without GPU readings the panel leads somewhere: the diagnostic says why, in a kernel.
    this._diagnose = document.createElement('button');
    this._diagnose.type = 'button';
    this._diagnose.className = 'jp-Button jp-mod-styled jp-mod-accept jp-gpuscope-Panel-diagnose';
    this._diagnose.textContent = trans.__('Run GPU Diagnostic');
    this._diagnose.title = trans.__(
      "Check the GPU, driver and PyTorch build in the active notebook's kernel"
    );
    this._diagnose.hidden = true;
    this._diagnose.addEventListener('click', () => options.diagnostic?.run());
    header.append(this._banner, controls, this._diagnose);
    this._cards = document.createElement('div');
    this._cards.className = 'jp-gpuscope-Panel-cards';
    this._topology = document.createElement('table');
    this._topology.className = 'jp-gpuscope-Topology';
    this._topology.hidden = true;
    this.node.append(header, this._topology, this._cards);
    this.node.tabIndex = -1;
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Escape' && this._returnFocus) {
        event.preventDefault();
        const back = this._returnFocus;
        this._returnFocus = null;
        back();
      }
    });

    model.changed.connect(this._scheduleUpdate, this);
    model.processesChanged.connect(this._updateProcesses, this);
    if (typeof IntersectionObserver !== 'undefined') {
      this._inView = new IntersectionObserver(entries => {
        for (const entry of entries) {
          this._cardByNode.get(entry.target)?.setInView(entry.isIntersecting);
        }
      });
    }
  }

  configure(config: GPUPanel.IConfig): void {
    this._config = config;
    if (this._windowChoices.includes(config.windowMinutes)) {
      this._windowMinutes = config.windowMinutes;
      this._windowSelect.value = String(config.windowMinutes);
    }
    this._scheduleUpdate();
  }

  /** What Escape inside the panel does: give focus back to where the panel was opened from. */
  setReturnFocus(back: (() => void) | null): void {
    this._returnFocus = back;
  }

  /** A section of another feature, shown between the header and the cards. */
  addSection(node: HTMLElement): void {
    this.node.insertBefore(node, this._cards);
  }

  /** Rebuild the charts with the current theme's colours. */
  refreshTheme(): void {
    this._themeDirty = true;
    this._scheduleUpdate();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._scheduleUpdate, this);
    this._model.processesChanged.disconnect(this._updateProcesses, this);
    this._watch?.dispose();
    this._inView?.disconnect();
    cancelAnimationFrame(this._frame);
    for (const card of this._cardsByIndex.values()) {
      card.dispose();
    }
    super.dispose();
  }

  /** Render now (tests and benchmarks); normally updates wait for the next frame. */
  updateNow(): void {
    cancelAnimationFrame(this._frame);
    this._frame = 0;
    this._render();
  }

  protected onActivateRequest(msg: Message): void {
    super.onActivateRequest(msg);
    // Opened (its command, its tab): focus goes into it, so Tab walks its controls.
    if (!this.node.contains(document.activeElement)) {
      this.node.focus();
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._width = 0;
    this._watch ??= this._model.watchProcesses();
    this._themeDirty = true;
    this._scheduleUpdate();
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    // Hidden: stop polling processes (the stream keeps feeding the status bar).
    this._watch?.dispose();
    this._watch = null;
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._width = 0;
    const width = this._chartWidth();
    for (const card of this._cardsByIndex.values()) {
      card.setChartWidth(width);
    }
  }

  private _scheduleUpdate(): void {
    if (this._frame || !this.isVisible) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._render();
    });
  }

  private _render(): void {
    const model = this._model;
    const trans = this._trans;
    const devices = model.devices;
    setText(this._pauseButton, model.paused ? trans.__('Resume') : trans.__('Pause'));
    setAttr(this._pauseButton, 'aria-pressed', String(model.paused));

    let banner = '';
    let bannerLevel = 'info';
    if (model.connection === 'offline') {
      banner = trans.__('Cannot reach the server (%1). Retrying…', model.connectionError ?? '');
      bannerLevel = 'error';
    } else if (devices && devices.status !== 'ok') {
      banner = trans.__('No GPU readings: %1', devices.reason ?? trans.__('unknown reason'));
      bannerLevel = 'warning';
    } else if (devices && !devices.live) {
      banner = devices.source?.description ?? trans.__('Not a live GPU');
      bannerLevel = 'replay';
    } else if (devices) {
      banner = trans.__(
        'Live · driver %1 · CUDA %2',
        devices.driver_version ?? 'n/a',
        devices.cuda_driver_version ?? 'n/a'
      );
    }
    if (model.paused) {
      banner = trans.__('Paused · %1', banner);
    }
    // Pause and History do something only while GPUs are read: not offline, not without a GPU.
    const readable =
      model.connection !== 'offline' && devices?.status === 'ok' && devices.devices.length > 0;
    if (this._controls.hidden === readable) {
      this._controls.hidden = !readable;
    }
    const diagnose = !!devices && devices.status !== 'ok' && !!this._diagnostic?.available();
    if (this._diagnose.hidden === diagnose) {
      this._diagnose.hidden = !diagnose;
    }
    setText(this._banner, banner);
    setAttr(this._banner, 'data-level', bannerLevel);
    setAttr(
      this._banner,
      'title',
      devices?.environment ? whereItRuns(devices.environment, trans) : ''
    );

    if (devices !== this._topologyOf) {
      // Static facts: drawn again only when the devices are read again.
      this._topologyOf = devices;
      renderTopology(this._topology, devices?.status === 'ok' ? devices.topology : null, trans);
    }
    const deviceList = devices?.status === 'ok' ? devices.devices : [];
    const wanted = new Set(deviceList.map(d => d.index));
    for (const [index, card] of this._cardsByIndex) {
      if (!wanted.has(index)) {
        this._inView?.unobserve(card.node);
        this._cardByNode.delete(card.node);
        card.dispose();
        this._cardsByIndex.delete(index);
      }
    }
    const width = this._chartWidth();
    const theme = this._themeDirty ? readTheme(this.node) : null;
    for (const device of deviceList) {
      let card = this._cardsByIndex.get(device.index);
      if (!card) {
        card = new GPUCard(device.index, trans, this._actions);
        this._cardsByIndex.set(device.index, card);
        this._cards.appendChild(card.node);
        this._cardByNode.set(card.node, card);
        this._inView?.observe(card.node);
        card.renderCharts(width, theme ?? readTheme(this.node));
        card.updateProcesses(model.processes);
      } else if (theme) {
        card.renderCharts(width, theme);
      }
    }
    this._themeDirty = false;
    const latest = model.latest;
    const windowStart = (latest?.time ?? 0) - this._windowMinutes * 60;
    for (const device of deviceList) {
      this._cardsByIndex.get(device.index)!.update(
        device,
        latest?.gpus.find(g => g.index === device.index),
        model.history(device.index),
        windowStart,
        this._config.units,
        this._config.thresholds
      );
    }
  }

  private _updateProcesses(): void {
    for (const card of this._cardsByIndex.values()) {
      card.updateProcesses(this._model.processes);
    }
  }

  private _chartWidth(): number {
    // Reading clientWidth forces a layout: do it once per resize, not per update.
    if (!this._width) {
      // Card margin, border and padding on both sides.
      this._width = Math.max((this._cards.clientWidth || this.node.clientWidth || 300) - 32, 120);
    }
    return this._width;
  }

  private _model: MonitorModel;
  private _trans: TranslationBundle;
  private _actions: ICardActions;
  private _banner: HTMLElement;
  private _controls: HTMLElement;
  private _pauseButton: HTMLButtonElement;
  private _windowSelect: HTMLSelectElement;
  private _cards: HTMLElement;
  private _topology: HTMLTableElement;
  private _topologyOf: IDevicesReply | null = null;
  private _cardsByIndex = new Map<number, GPUCard>();
  private _cardByNode = new Map<Element, GPUCard>();
  private _inView: IntersectionObserver | null = null;
  private _width = 0;
  private _windowChoices: readonly number[];
  private _windowMinutes: number;
  private _config: GPUPanel.IConfig;
  private _frame = 0;
  private _themeDirty = true;
  private _watch: IDisposable | null = null;
  private _returnFocus: (() => void) | null = null;
  private _diagnose: HTMLButtonElement;
  private _diagnostic: GPUPanel.IDiagnostic | null;
}

export namespace GPUPanel {
  export interface IOptions {
    model: MonitorModel;
    trans: TranslationBundle;
    actions: ICardActions;
    /** The settings to start with (the plugin applies later changes with configure()). */
    config: IConfig;
    /** The History choices, minutes (the schema's). */
    windowChoices: readonly number[];
    onWindowChange?: (minutes: number) => void;
    /** The GPU diagnostic, offered when there are no GPU readings (absent: not offered). */
    diagnostic?: IDiagnostic;
  }

  export interface IDiagnostic {
    /** Whether it can run now (a notebook with a kernel is active). */
    available(): boolean;
    run(): void;
  }

  export interface IConfig {
    units: MemoryUnits;
    windowMinutes: number;
    thresholds: IThresholds;
  }
}

/** "In a Docker container, in its own PID namespace; NVML gives this namespace's PIDs." */
function whereItRuns(environment: IEnvironment, trans: TranslationBundle): string {
  const place = environment.container
    ? trans.__('The server runs in a %1 container', environment.container)
    : trans.__('The server runs outside any container gpuscope recognises');
  const namespace = environment.own_pid_namespace
    ? trans.__('in its own PID namespace')
    : trans.__("in the host's PID namespace");
  const pids: Record<IEnvironment['gpu_pids'], string> = {
    shared: trans.__('NVML’s process IDs are the server’s own.'),
    translated: trans.__(
      'NVML gives this namespace’s process IDs; processes of other containers are hidden, their memory shows as held outside this server’s view.'
    ),
    host: trans.__(
      'NVML gives host process IDs (an older driver): kernels are matched to GPU processes by their own evidence (when their CUDA context appeared, what their allocators hold), only where the match is unambiguous.'
    ),
    unknown: trans.__('No GPU process yet tells how NVML numbers processes here.'),
    recorded: trans.__('The processes come from a recording, not from this machine.')
  };
  return trans.__('%1, %2. %3', place, namespace, pids[environment.gpu_pids]);
}

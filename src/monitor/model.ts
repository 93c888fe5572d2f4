import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { IDevicesReply, IProcessesReply, ISample, StreamMessage } from '../api';
import type { Connection, IGPUHistory, IGPUScopeAPI, IMonitorModel } from '../tokens';

/** Longest chart window (minutes): history older than this is dropped. */
export const MAX_WINDOW_MINUTES = 60;

/** A silence longer than this many expected intervals means samples were missed. */
const GAP_FACTOR = 2.5;

/**
 * The live state of the GPUs: static facts, history filled from the server and then
 * extended from the push stream, processes while someone looks at them. No DOM here.
 */
export class MonitorModel implements IMonitorModel {
  constructor(options: MonitorModel.IOptions) {
    this._api = options.api;
    this._reconnectDelays = options.reconnectDelaysMs ?? [1000, 2000, 4000, 8000, 15000, 30000];
    this._onVisibility = () => this._visibilityChanged();
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /** Emitted when readings, devices, connection or pause state change. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted when a new process list arrives. */
  get processesChanged(): ISignal<this, void> {
    return this._processesChanged;
  }

  get devices(): IDevicesReply | null {
    return this._devices;
  }

  get latest(): ISample | null {
    return this._latest;
  }

  get processes(): IProcessesReply | null {
    return this._processes;
  }

  get connection(): Connection {
    return this._connection;
  }

  /** Why the server cannot be reached, when offline. */
  get connectionError(): string | null {
    return this._connectionError;
  }

  get paused(): boolean {
    return this._paused;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  history(index: number): IGPUHistory {
    let history = this._history.get(index);
    if (!history) {
      history = {
        time: [],
        memoryUsed: [],
        utilization: [],
        powerWatts: [],
        pcieKBs: [],
        nvlinkKBs: []
      };
      this._history.set(index, history);
    }
    return history;
  }

  /** Connect: devices and history first, then the stream. */
  async start(): Promise<void> {
    await this._connect();
  }

  pause(): void {
    if (!this._paused) {
      this._paused = true;
      this._send({ action: 'pause' });
      this._changed.emit();
    }
  }

  resume(): void {
    if (this._paused) {
      this._paused = false;
      this._send({ action: 'resume' });
      this._fillGapAfterPause();
      this._catchUpProcesses();
      this._changed.emit();
    }
  }

  /** At most one sample per `seconds` from the stream (the server's interval is the floor). */
  setMinInterval(seconds: number): void {
    this._minInterval = seconds;
    this._send({ action: 'throttle', min_interval_seconds: seconds });
  }

  /**
   * Views that show processes register here. While at least one does, the server pushes
   * the process list over the stream whenever it changes (its join is made once per
   * sample for every viewer: monitor/process_feed.py); nothing is polled.
   */
  watchProcesses(): IDisposable {
    this._processViewers++;
    if (this._processViewers === 1) {
      this._send({ action: 'processes', on: true });
    }
    let done = false;
    return {
      get isDisposed() {
        return done;
      },
      dispose: () => {
        if (!done) {
          done = true;
          this._processViewers--;
          if (this._processViewers === 0) {
            this._send({ action: 'processes', on: false });
          }
        }
      }
    };
  }

  /**
   * Run `fn` just before the next reading is announced, in the same task, so that what
   * it draws reaches the screen in that reading's frame: something polled that redraws
   * on its own costs the browser a frame more. If no reading comes within `maxWaitMs`
   * it runs then; while paused or disconnected, at once. A function already waiting is
   * not queued twice.
   */
  withNextReading(fn: () => void, maxWaitMs: number): void {
    if (this._paused || this._connection !== 'connected') {
      fn();
      return;
    }
    if (!this._held.has(fn)) {
      this._held.set(
        fn,
        window.setTimeout(() => {
          this._held.delete(fn);
          fn();
        }, maxWaitMs)
      );
    }
  }

  /** Fetch the process list now (after a kernel shut down, say). */
  refreshProcesses(): Promise<void> {
    return this._refreshProcesses();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    document.removeEventListener('visibilitychange', this._onVisibility);
    window.clearTimeout(this._reconnectTimer);
    this._held.forEach(timer => window.clearTimeout(timer));
    this._closeSocket();
    Signal.clearData(this);
  }

  // ---- connection --------------------------------------------------------------------

  private async _connect(): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    this._setConnection('connecting', this._connectionError);
    try {
      const devices = await this._api.devices();
      if (this._devices && devices.run_id !== this._devices.run_id) {
        // The server restarted: its sequence numbers start over.
        this._history.clear();
        this._lastSeq = 0;
      }
      this._devices = devices;
      this._changed.emit();
      await this._fillGap();
      this._openSocket();
    } catch (error) {
      this._connectionFailed(error);
    }
  }

  private _openSocket(): void {
    this._closeSocket();
    const socket = this._api.openStream(message => this._onMessage(message));
    socket.onopen = () => {
      this._attempt = 0;
      if (this._minInterval > 0) {
        this._send({ action: 'throttle', min_interval_seconds: this._minInterval });
      }
      if (this._paused || document.visibilityState === 'hidden') {
        this._send({ action: 'pause' });
      }
      if (this._processViewers > 0) {
        this._send({ action: 'processes', on: true });
      }
      this._setConnection('connected', null);
    };
    socket.onclose = () => {
      if (this._socket === socket) {
        this._socket = null;
        this._connectionFailed(new Error('the GPU stream closed'));
      }
    };
    this._socket = socket;
  }

  private _closeSocket(): void {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
  }

  private _connectionFailed(error: unknown): void {
    if (this._isDisposed) {
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    this._setConnection('offline', message);
    const delays = this._reconnectDelays;
    const delay = delays[Math.min(this._attempt, delays.length - 1)];
    this._attempt++;
    window.clearTimeout(this._reconnectTimer);
    this._reconnectTimer = window.setTimeout(() => void this._connect(), delay);
  }

  private _setConnection(connection: Connection, error: string | null): void {
    if (connection !== this._connection || error !== this._connectionError) {
      this._connection = connection;
      this._connectionError = error;
      this._changed.emit();
    }
  }

  private _send(message: Record<string, unknown>): void {
    if (this._socket?.readyState === WebSocket.OPEN) {
      this._socket.send(JSON.stringify(message));
    }
  }

  private _visibilityChanged(): void {
    // Standby while the browser tab is hidden; catch up from history when it returns.
    if (document.visibilityState === 'hidden') {
      this._send({ action: 'pause' });
    } else if (!this._paused) {
      this._send({ action: 'resume' });
      this._fillGapAfterPause();
      this._catchUpProcesses();
    }
  }

  // ---- readings ------------------------------------------------------------------------

  private _onMessage(message: StreamMessage): void {
    switch (message.type) {
      case 'sample':
        if (this._missedSamples(message)) {
          // Missed samples (a pause, a slow tab): take them from the server's history.
          void this._fillGap();
          return;
        }
        this._addSamples([message]);
        break;
      case 'processes':
        // Pushed when the list changed: shown with the next reading, in its frame.
        this._nextProcesses = message.reply;
        this.withNextReading(this._applyProcesses, 2000 * this._streamInterval());
        break;
      case 'hello':
        if (this._devices && message.run_id !== this._devices.run_id) {
          void this._connect();
        }
        break;
      case 'status':
        // The backend came or went (driver, lost GPU): re-read the devices.
        void this._api
          .devices()
          .then(devices => {
            this._devices = devices;
            this._changed.emit();
          })
          .catch(() => undefined);
        break;
      default:
        break;
    }
  }

  /**
   * Whether samples were lost before this one. A throttled stream skips sequence numbers
   * by design (one sample per interval asked for), so only a longer silence counts:
   * fetching history on every throttled sample would cost a request per update.
   */
  private _missedSamples(sample: ISample): boolean {
    if (this._lastSeq === 0 || sample.seq <= this._lastSeq + 1) {
      return false;
    }
    return sample.time - (this._latest?.time ?? 0) > GAP_FACTOR * this._streamInterval();
  }

  /** Seconds between the readings the stream sends: the server's interval or our throttle. */
  private _streamInterval(): number {
    return Math.max(this._minInterval, this._devices?.interval_seconds ?? 1);
  }

  /**
   * Fetch what the stream did not send while paused. If that fails, the charts show the
   * span as a gap (they draw missing samples as one) and the stream goes on.
   */
  private _fillGapAfterPause(): void {
    this._fillGap().catch(() => undefined);
  }

  private async _fillGap(): Promise<void> {
    if (this._filling) {
      return;
    }
    this._filling = true;
    try {
      const reply = await this._api.samples(this._lastSeq || undefined);
      this._addSamples(reply.samples);
    } finally {
      this._filling = false;
    }
  }

  private _addSamples(samples: ISample[]): void {
    let added = false;
    for (const sample of samples) {
      if (sample.seq <= this._lastSeq) {
        continue;
      }
      this._lastSeq = sample.seq;
      this._latest = sample;
      for (const gpu of sample.gpus) {
        const history = this.history(gpu.index);
        history.time.push(sample.time);
        history.memoryUsed.push(gpu.memory_used);
        history.utilization.push(gpu.util_gpu);
        history.powerWatts.push(gpu.power_mw === null ? null : gpu.power_mw / 1000);
        history.pcieKBs.push(both(gpu.pcie_rx_kbs, gpu.pcie_tx_kbs));
        history.nvlinkKBs.push(both(gpu.nvlink_rx_kbs, gpu.nvlink_tx_kbs));
      }
      added = true;
    }
    if (added) {
      this._trimHistory();
      this._runHeld();
      this._changed.emit();
    }
  }

  private _trimHistory(): void {
    const oldest = (this._latest?.time ?? 0) - MAX_WINDOW_MINUTES * 60;
    for (const history of this._history.values()) {
      let drop = 0;
      while (drop < history.time.length && history.time[drop] < oldest) {
        drop++;
      }
      if (drop > 0) {
        history.time.splice(0, drop);
        history.memoryUsed.splice(0, drop);
        history.utilization.splice(0, drop);
        history.powerWatts.splice(0, drop);
        history.pcieKBs.splice(0, drop);
        history.nvlinkKBs.splice(0, drop);
      }
    }
  }

  /** A paused stream was sent no process changes: fetch the list if someone shows it. */
  private _catchUpProcesses(): void {
    if (this._processViewers > 0) {
      void this._refreshProcesses().catch(() => undefined);
    }
  }

  /** Fetch the process list now and show it at once (after a shut-down, say). */
  private async _refreshProcesses(): Promise<void> {
    if (this._connection !== 'connected') {
      return;
    }
    this._nextProcesses = await this._api.processes();
    this._applyProcesses();
  }

  private _applyProcesses = (): void => {
    if (this._nextProcesses) {
      this._processes = this._nextProcesses;
      this._nextProcesses = null;
      this._processesChanged.emit();
    }
  };

  private _runHeld(): void {
    const held = [...this._held];
    this._held.clear();
    for (const [fn, timer] of held) {
      window.clearTimeout(timer);
      fn();
    }
  }

  private _api: IGPUScopeAPI;
  private _devices: IDevicesReply | null = null;
  private _latest: ISample | null = null;
  private _processes: IProcessesReply | null = null;
  private _nextProcesses: IProcessesReply | null = null;
  /** What waits for the next reading, with the timer that runs it if none comes. */
  private _held = new Map<() => void, number>();
  private _history = new Map<number, IGPUHistory>();
  private _lastSeq = 0;
  private _filling = false;
  private _paused = false;
  private _minInterval = 0;
  private _connection: Connection = 'connecting';
  private _connectionError: string | null = null;
  private _socket: WebSocket | null = null;
  private _attempt = 0;
  private _reconnectDelays: number[];
  private _reconnectTimer = 0;
  private _processViewers = 0;
  private _onVisibility: () => void;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
  private _processesChanged = new Signal<this, void>(this);
}

/** rx + tx, or null when either is unknown (a sum of one direction would mislead). */
function both(rx: number | null | undefined, tx: number | null | undefined): number | null {
  return typeof rx === 'number' && typeof tx === 'number' ? rx + tx : null;
}

export namespace MonitorModel {
  export interface IOptions {
    api: IGPUScopeAPI;
    /** Waits between reconnection attempts; the last one repeats. */
    reconnectDelaysMs?: number[];
  }
}

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The server routes, relative to the base URL: the only place that knows them. */
const API_PATH = 'gpuscope/api';

// The wire types: what each route answers and the stream sends, generated from the one
// schema of the wire format (src/api.schema.json), which pytest holds the server to.
export type * from './api.types';
import type {
  ICollectorReply,
  IDevicesReply,
  IPolicy,
  IProcessesReply,
  ISamplesReply,
  IStats,
  ISharedGPUsReply,
  StreamMessage
} from './api.types';

/**
 * How the per-cell extension measures: "change" only reads torch's counters; "peak" resets
 * torch's peak memory statistics before each cell (see kernel/cell_usage.py).
 */
export type CellUsageMode = 'change' | 'peak';

/** Allocation events torch keeps while the flight recorder is on (the server's one size). */
export const MEMORY_HISTORY_ENTRIES = 100_000;

export interface ICollectorOptions {
  /** Cells that keep home paths and user names. */
  includePrivate?: boolean;
  cellUsage?: CellUsageMode;
  /** The per-cell extension with the out-of-memory flight recorder on. */
  memoryHistory?: boolean;
}

/**
 * Typed wrappers over the gpuscope server API (it provides the IGPUScopeAPI token).
 */
export class GPUScopeAPI {
  constructor(readonly serverSettings: ServerConnection.ISettings) {}

  /** The GPUs and their static facts. Callers that ask while a request is on its way share
   * it (several plugins ask at startup); a later call asks the server again. */
  devices(): Promise<IDevicesReply> {
    if (!this._devices) {
      const request = this._get<IDevicesReply>('devices');
      this._devices = request;
      const done = () => {
        if (this._devices === request) {
          this._devices = null;
        }
      };
      request.then(done, done);
    }
    return this._devices;
  }

  /** Samples after `since` (the whole history when omitted). */
  samples(since?: number): Promise<ISamplesReply> {
    return this._get(since === undefined ? 'samples' : `samples?since=${since}`);
  }

  processes(): Promise<IProcessesReply> {
    return this._get('processes');
  }

  stats(): Promise<IStats> {
    return this._get('stats');
  }

  /**
   * The kernel-side Python: the kernel probe, the two forms of the diagnostic cell, and
   * the per-cell usage extension's loader in the asked mode.
   */
  collector(options: ICollectorOptions = {}): Promise<ICollectorReply> {
    const query = new URLSearchParams();
    if (options.includePrivate) {
      query.set('include_private', 'true');
    }
    if (options.cellUsage) {
      query.set('cell_usage', options.cellUsage);
    }
    if (options.memoryHistory) {
      query.set('memory_history', String(MEMORY_HISTORY_ENTRIES));
    }
    const search = query.toString();
    return this._get(search ? `collector?${search}` : 'collector');
  }

  /** This user's GPU memory against the soft limit, and idle kernels holding memory. */
  sharedGPUs(): Promise<ISharedGPUsReply> {
    return this._get('shared-gpus');
  }

  /** What the admin set for everyone (limits, idle kernels, lint target). Fixed while the
   * server runs: fetched once for every plugin that asks. */
  policy(): Promise<IPolicy> {
    if (!this._policy) {
      this._policy = this._get<IPolicy>('policy');
      this._policy.catch(() => (this._policy = null)); // ask again next time
    }
    return this._policy;
  }

  /** Keep an idle kernel that holds GPU memory: its idle time starts again. */
  async keepKernel(kernelId: string): Promise<void> {
    await this._request('keep', { method: 'POST', body: JSON.stringify({ kernel_id: kernelId }) });
  }

  /** Open the push stream; `onMessage` gets every parsed message. */
  openStream(onMessage: (message: StreamMessage) => void): WebSocket {
    const settings = this.serverSettings;
    let url = URLExt.join(settings.wsUrl, API_PATH, 'stream');
    // Same rule as JupyterLab's own sockets: the token goes in the URL only when the
    // page cannot send cookies with the upgrade.
    if (settings.token && settings.appendToken) {
      url += `?token=${encodeURIComponent(settings.token)}`;
    }
    const socket = new settings.WebSocket(url);
    socket.onmessage = event => {
      onMessage(JSON.parse(event.data) as StreamMessage);
    };
    return socket;
  }

  private _devices: Promise<IDevicesReply> | null = null;
  private _policy: Promise<IPolicy> | null = null;

  private async _get<T>(path: string): Promise<T> {
    const response = await this._request(path, {});
    return (await response.json()) as T;
  }

  private async _request(path: string, init: RequestInit): Promise<Response> {
    const url = URLExt.join(this.serverSettings.baseUrl, API_PATH, path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.serverSettings);
    } catch (error) {
      throw new ServerConnection.NetworkError(error as TypeError);
    }
    if (!response.ok) {
      throw await ServerConnection.ResponseError.create(response);
    }
    return response;
  }
}

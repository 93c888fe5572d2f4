import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The server routes, relative to the base URL: the only place that knows them. */
const API_PATH = 'gpuscope/api';

// The wire types: what each route answers (python/jupyterlab_gpuscope/routes.py).

/** Reasons keyed by field name, for every field the server could not read. */
export type Unavailable = Record<string, string>;

/** Where readings come from; `live` is false for a replay or no backend. */
export interface IBackendSummary {
  backend: 'nvml' | 'replay' | 'none';
  live: boolean;
  source: {
    kind: 'replay';
    trace: string;
    description: string;
    duration_seconds: number;
  } | null;
  status: 'starting' | 'ok' | 'unavailable';
  reason: string | null;
  run_id: string;
  interval_seconds: number;
}

export interface IDevice {
  index: number;
  status: 'ok' | 'lost';
  reason: string | null;
  name: string | null;
  uuid: string | null;
  compute_capability: string | null;
  memory_total: number | null;
  power_limit_mw: number | null;
  mig_mode: { current: boolean; pending: boolean } | null;
  pcie_max_gen: number | null;
  pcie_max_width: number | null;
  max_sm_clock: number | null;
  max_mem_clock: number | null;
  bus_id: string | null;
  /** Its MIG devices when the GPU is in MIG mode (readings.py's mig_instance); absent before 0.2. */
  mig_instances?: IMigInstance[];
  /** Active NVLinks (0: none); absent before 0.2. */
  nvlink_links?: number | null;
  /** Whether NVML's GPM activity (SM, tensor, DRAM) can be read. */
  gpm_supported?: boolean | null;
  /** The GPU uses the system's memory (Jetson, GB10): its memory figures are the system's. */
  memory_shared?: boolean;
  unavailable: Unavailable;
}

/** How the GPUs are linked (backends/topology.py), as nvidia-smi topo -m prints it. */
export interface ITopology {
  /** [i][j]: "X" (itself), "NV#", "PIX", "PXB", "PHB", "NODE", "SYS", or null (unknown). */
  links: (string | null)[][];
  p2p_read: (boolean | null)[][];
  affinity: { cpus: string | null; numa_node: number | null }[];
  /** "nvml", or where a replay's topology came from when it was not recorded. */
  source: string;
}

/** A MIG device: a GPU instance with its compute instance, under its parent GPU. */
export interface IMigInstance {
  uuid: string | null;
  name: string | null;
  /** "3g.71gb": slices and memory. */
  profile: string | null;
  gpu_instance_id: number | null;
  compute_instance_id: number | null;
  memory_total: number | null;
  multiprocessor_count: number | null;
}

/** One MIG instance's readings; sm/tensor/dram from NVML's GPM (Hopper and newer). */
export interface IMigSample {
  uuid: string | null;
  gpu_instance_id: number | null;
  memory_used: number | null;
  memory_total: number | null;
  sm_util: number | null;
  tensor_util: number | null;
  dram_util: number | null;
  /** Seconds the GPM figures average over. */
  gpm_window_s?: number | null;
  unavailable: Unavailable;
}

/** Where the server runs (environment.py). */
export interface IEnvironment {
  container: 'docker' | 'podman' | 'kubernetes' | 'wsl' | null;
  own_pid_namespace: boolean;
  /** What NVML's PIDs are here. */
  gpu_pids: 'shared' | 'translated' | 'host' | 'unknown' | 'recorded';
}

export interface IDevicesReply extends IBackendSummary {
  /** Absent from servers before 0.2. */
  environment?: IEnvironment;
  configured_backend: string;
  driver_version: string | null;
  cuda_driver_version: string | null;
  nvml_version: string | null;
  devices: IDevice[];
  /** How the GPUs are linked; null when unknown, absent before 0.2. */
  topology?: ITopology | null;
}

export interface IGPUSample {
  index: number;
  status: 'ok' | 'lost' | 'unavailable';
  reason: string | null;
  memory_used: number | null;
  memory_total: number | null;
  util_gpu: number | null;
  util_mem: number | null;
  temp_c: number | null;
  power_mw: number | null;
  sm_clock: number | null;
  mem_clock: number | null;
  pstate: number | null;
  pcie_tx_kbs: number | null;
  pcie_rx_kbs: number | null;
  throttle: number | null;
  throttle_reasons: string[] | null;
  fan: number | null;
  ecc_uncorrected: number | null;
  /** KB/s over all NVLinks; null with the reason where there is none. */
  nvlink_tx_kbs?: number | null;
  nvlink_rx_kbs?: number | null;
  /** NVML GPM (Hopper and newer): % of SMs busy, of time a tensor pipe was, of DRAM bandwidth. */
  sm_util?: number | null;
  tensor_util?: number | null;
  dram_util?: number | null;
  /** Seconds the GPM figures average over: the interval while watched, 10 s while not. */
  gpm_window_s?: number | null;
  /** Its MIG instances' readings; null (or absent) when the GPU is not in MIG mode. */
  mig?: IMigSample[] | null;
  unavailable: Unavailable;
}

export interface ISample {
  type: 'sample';
  seq: number;
  /** Seconds since the epoch. */
  time: number;
  gpus: IGPUSample[];
}

export interface ISamplesReply extends IBackendSummary {
  first_seq: number;
  last_seq: number;
  samples: ISample[];
}

export interface IKernelRef {
  id: string;
  name: string;
  execution_state: string | null;
  notebook_path: string | null;
}

export interface IGPUProcess {
  pid: number | null;
  used_memory: number | null;
  owner: 'self' | 'other' | 'unknown';
  username: string | null;
  name: string | null;
  cmdline: string[] | null;
  kernel: IKernelRef | null;
  note: string | null;
  /**
   * Set when NVML's PID is not a process here (host PIDs) and the server tried to match it
   * to a kernel by the kernel's evidence: matched (probably, with how) or not (why not).
   */
  attribution?: { probable: true; how: string } | { probable: false; why_not: string } | null;
  /** The MIG instance it runs on; null when the GPU is not in MIG mode. */
  gpu_instance_id?: number | null;
  compute_instance_id?: number | null;
}

/**
 * Device memory in use minus what the processes NVML lists here hold: processes this
 * server cannot see (another container on the same GPU; the driver hides them) and, where
 * `includes_driver_reserve`, the driver's own reserve. Null (with the reason) when unknown.
 */
export interface IHeldOutside {
  used_memory: number | null;
  includes_driver_reserve: boolean;
  reason: string | null;
}

export interface IProcessesReply extends IBackendSummary {
  /** shared: NVML's PIDs are this server's; own: the server runs in its own PID namespace. */
  pid_namespace: {
    shared: boolean;
    own: boolean;
    note: string | null;
    /** Kernels that gave no evidence to match host PIDs by (the per-cell extension is off). */
    kernels_without_evidence: string[];
  };
  show_other_users: boolean;
  gpus: {
    index: number;
    processes: IGPUProcess[];
    others: { count: number; used_memory: number };
    /** Why this GPU's process list could not be read (then the list is unknown, not empty). */
    unavailable: string | null;
    /** Memory in use that no process listed here holds (processes.py's held_outside). */
    outside: IHeldOutside;
  }[];
}

export interface IStats {
  backend: string;
  run_id: string;
  interval_seconds: number;
  ticks: number;
  samples: number;
  samples_held: number;
  capacity: number;
  backend_calls: number;
  hung_calls: number;
  subscribers: number;
  last_sample_cost_seconds: number | null;
  sampler_cpu_seconds: number;
}

/** What the admin set for everyone on the server (`c.GPUScope.*`); null: not set. */
export interface IPolicy {
  user_memory_limit_bytes: number | null;
  user_memory_limit_fraction: number | null;
  user_memory_warn_fraction: number;
  idle_kernel_minutes: number | null;
  idle_kernel_shutdown_minutes: number | null;
  check_seconds: number;
  memory_warning_percent: number | null;
  memory_critical_percent: number | null;
  lint_target: string | null;
  lint_target_torch: string | null;
  show_other_users: boolean;
}

/** This user's memory on one GPU; other users only as a total. */
export interface IGPUShare {
  index: number;
  mine: number;
  others: number;
  others_count: number;
  memory_total: number | null;
  /** Memory no process visible here holds (another container's); null: cannot tell. */
  outside: number | null;
  /** Why `outside` is null (a recording, an unreadable process list); absent from older servers. */
  outside_reason?: string | null;
  limit: number | null;
  state: 'ok' | 'near' | 'over';
}

/** A kernel of this user, idle past the admin's time, that holds GPU memory. */
export interface IIdleKernel {
  /** One idle period of one kernel: notify once per id. */
  nudge_id: string;
  kernel_id: string;
  kernel_name: string;
  notebook_path: string | null;
  used_memory: number;
  gpus: number[];
  /** Epoch seconds. */
  idle_since: number;
  /** When gpuscope will shut it down (epoch seconds); null: never. */
  shutdown_at: number | null;
}

/** A kernel gpuscope shut down under the admin's idle policy. */
export interface IShutDownKernel {
  kernel_id: string;
  notebook_path: string | null;
  used_memory: number;
  idle_minutes: number;
  at: number;
}

export interface IUsageReply extends IBackendSummary {
  checked_at: number;
  gpus: IGPUShare[];
  kernels: {
    id: string;
    name: string;
    notebook_path: string | null;
    execution_state: string | null;
    used_memory: number;
    gpus: number[];
  }[];
  idle: IIdleKernel[];
  shut_down: IShutDownKernel[];
  policy: IPolicy;
}

/** Messages the stream pushes. */
export type StreamMessage =
  | ISample
  | (IBackendSummary & { type: 'hello'; last_seq: number })
  | { type: 'status'; status: IBackendSummary['status']; reason: string | null }
  | { type: 'ack'; action: string }
  /** Pushed, after {"action": "processes", "on": true}, whenever the list changes. */
  | { type: 'processes'; reply: IProcessesReply }
  | { type: 'error'; message: string };

/**
 * How the per-cell extension measures: "change" only reads torch's counters; "peak" resets
 * torch's peak memory statistics before each cell (see kernel/cell_usage.py).
 */
export type CellUsageMode = 'change' | 'peak';

export interface ICollectorOptions {
  /** Cells that keep home paths and user names. */
  includePrivate?: boolean;
  cellUsage?: CellUsageMode;
}

/** GET collector: what the frontend runs in kernels that may not have this package. */
export interface ICollectorReply {
  /** The collector (kernel/facts.py): the profile probe reads the driver with it. */
  source: string;
  mime: string;
  /** What to run in a kernel to load the per-cell usage extension (its source inside). */
  cell_usage_loader: string;
  /** The diagnostic cell: short (the kernel has the package) or self-contained. */
  cells: { short: string; self_contained: string };
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
   * The kernel-side Python: the collector's source (the profile probe reads the driver
   * with it), the two forms of the diagnostic cell, and the per-cell usage extension's
   * loader in the asked mode.
   */
  collector(options: ICollectorOptions = {}): Promise<ICollectorReply> {
    const query = new URLSearchParams();
    if (options.includePrivate) {
      query.set('include_private', 'true');
    }
    if (options.cellUsage) {
      query.set('cell_usage', options.cellUsage);
    }
    const search = query.toString();
    return this._get(search ? `collector?${search}` : 'collector');
  }

  /** This user's GPU memory against the soft limit, and idle kernels holding memory. */
  usage(): Promise<IUsageReply> {
    return this._get('usage');
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

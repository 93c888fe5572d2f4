import { Token } from '@lumino/coreutils';

import type { ISignal } from '@lumino/signaling';

import type { GPUScopeAPI } from './api';
import type { ProfileStore } from './lint/profile';
import type { IThresholds, MemoryUnits, StatusContent } from './monitor/format';
import type { MonitorModel } from './monitor/model';
import type { UsageModel } from './classroom/model';
import type { GpuPanel } from './monitor/panel';

/** Every command of the extension. */
export namespace CommandIDs {
  export const openPanel = 'gpuscope:open-panel';
  export const toggleMonitoring = 'gpuscope:toggle-monitoring';
  export const insertDiagnostic = 'gpuscope:insert-diagnostic';
  export const runDiagnostic = 'gpuscope:run-diagnostic';
  export const recheckNotebook = 'gpuscope:recheck-notebook';
  export const explainError = 'gpuscope:explain-error';
}

/** The gettext domain of every string the extension shows. */
export const TRANSLATION_DOMAIN = 'jupyterlab_gpuscope';

/**
 * The server's API client, shared by every gpuscope plugin.
 */
export const IGPUScopeAPI = new Token<GPUScopeAPI>(
  'jupyterlab-gpuscope:IGPUScopeAPI',
  'The typed client of the gpuscope server API.'
);

/**
 * The live GPU monitor: the one model every view reads, and its settings.
 */
export const IGPUMonitor = new Token<IGPUMonitor>(
  'jupyterlab-gpuscope:IGPUMonitor',
  'The live GPU monitor model and its settings.'
);

/**
 * What each notebook's kernel can use (probed once per kernel start) and what the server
 * sees: read by the linter and the error explainer.
 */
export const IDeviceProfiles = new Token<ProfileStore>(
  'jupyterlab-gpuscope:IDeviceProfiles',
  "Device profiles of notebook kernels and of the server."
);

/** This user's share of the GPUs, polled from the server (soft limit, idle kernels). */
export const IGPUUsage = new Token<UsageModel>(
  'jupyterlab-gpuscope:IGPUUsage',
  "This user's GPU memory against the admin's soft limit, and idle kernels holding GPU memory."
);

export interface IGPUMonitor {
  readonly model: MonitorModel;
  /** The GPU panel, where other features may add a section. */
  readonly panel: GpuPanel;
  config: IMonitorConfig;
  configChanged: ISignal<IGPUMonitor, IMonitorConfig>;
}

/** The monitor settings (schema/monitor.json), validated. */
export interface IMonitorConfig {
  updateIntervalSeconds: number;
  statusBarContent: StatusContent;
  thresholds: IThresholds;
  chartWindowMinutes: number;
  memoryUnits: MemoryUnits;
}

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
  unavailable: Unavailable;
}

export interface IDevicesReply extends IBackendSummary {
  configured_backend: string;
  driver_version: string | null;
  cuda_driver_version: string | null;
  nvml_version: string | null;
  devices: IDevice[];
}

export interface IGpuSample {
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
  unavailable: Unavailable;
}

export interface ISample {
  type: 'sample';
  seq: number;
  /** Seconds since the epoch. */
  time: number;
  gpus: IGpuSample[];
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

export interface IGpuProcess {
  pid: number | null;
  used_memory: number | null;
  owner: 'self' | 'other' | 'unknown';
  username: string | null;
  name: string | null;
  cmdline: string[] | null;
  kernel: IKernelRef | null;
  note: string | null;
}

export interface IProcessesReply extends IBackendSummary {
  pid_namespace: { shared: boolean; note: string | null };
  show_other_users: boolean;
  gpus: {
    index: number;
    processes: IGpuProcess[];
    others: { count: number; used_memory: number };
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
export interface IGpuUsage {
  index: number;
  mine: number;
  others: number;
  others_count: number;
  memory_total: number | null;
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
  gpus: IGpuUsage[];
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
  | { type: 'error'; message: string };

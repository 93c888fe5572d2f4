/**
 * The public tokens and the interfaces they carry. Implementations stay in their
 * folders and implement these; nothing here imports an implementation.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, ServerConnection } from '@jupyterlab/services';

import type {
  ICollectorOptions,
  ICollectorReply,
  IDevicesReply,
  IPolicy,
  IProcessesReply,
  ISample,
  ISamplesReply,
  IStats,
  ISharedGPUsReply,
  StreamMessage
} from './api';
import type { IDeviceProfile } from './core/lint/analyzer';
import type { MemoryUnits } from './core/memory';

/** Every command of the extension. */
export namespace CommandIDs {
  export const openPanel = 'gpuscope:open-panel';
  export const toggleMonitoring = 'gpuscope:toggle-monitoring';
  export const insertDiagnostic = 'gpuscope:insert-diagnostic';
  export const runDiagnostic = 'gpuscope:run-diagnostic';
  export const recheckNotebook = 'gpuscope:recheck-notebook';
  export const explainError = 'gpuscope:explain-error';
  export const memoryBreakdown = 'gpuscope:memory-breakdown';
}

/** The gettext domain of every string the extension shows (the Python package's name). */
export const TRANSLATION_DOMAIN = 'jupyterlab_gpuscope';

/** The client of the gpuscope server API. */
export interface IGPUScopeAPI {
  readonly serverSettings: ServerConnection.ISettings;
  devices(): Promise<IDevicesReply>;
  /** Samples after `since` (the whole history when omitted). */
  samples(since?: number): Promise<ISamplesReply>;
  processes(): Promise<IProcessesReply>;
  stats(): Promise<IStats>;
  collector(options?: ICollectorOptions): Promise<ICollectorReply>;
  sharedGPUs(): Promise<ISharedGPUsReply>;
  policy(): Promise<IPolicy>;
  keepKernel(kernelId: string): Promise<void>;
  openStream(onMessage: (message: StreamMessage) => void): WebSocket;
}

export const IGPUScopeAPI = new Token<IGPUScopeAPI>(
  'jupyterlab-gpuscope:IGPUScopeAPI',
  'The typed client of the gpuscope server API.'
);

/** Memory units the user picked. */
export type { MemoryUnits };

/** What the status bar item shows. */
export type StatusContent = 'utilization-and-memory' | 'memory' | 'utilization';

/** When a GPU counts as warning or critical. */
export interface IThresholds {
  memoryWarningPercent: number;
  memoryCriticalPercent: number;
  warnOnThrottle: boolean;
}

/** The monitor settings (schema/monitor.json), validated. */
export interface IMonitorConfig {
  updateIntervalSeconds: number;
  statusBarContent: StatusContent;
  thresholds: IThresholds;
  chartWindowMinutes: number;
  memoryUnits: MemoryUnits;
}

/** One GPU's history, as parallel arrays ready for a chart. */
export interface IGPUHistory {
  /** Seconds since the epoch. */
  time: number[];
  memoryUsed: (number | null)[];
  utilization: (number | null)[];
  powerWatts: (number | null)[];
  /** rx + tx, KB/s (null where unknown: a recording without it, no NVLink). */
  pcieKBs: (number | null)[];
  nvlinkKBs: (number | null)[];
}

/** The connection to the server as the user should see it. */
export type Connection = 'connecting' | 'connected' | 'offline';

/**
 * The live state of the GPUs, fed by the server's one stream: static facts, history,
 * processes while someone watches them. No DOM.
 */
export interface IMonitorModel extends IDisposable {
  readonly changed: ISignal<IMonitorModel, void>;
  readonly processesChanged: ISignal<IMonitorModel, void>;
  readonly devices: IDevicesReply | null;
  readonly latest: ISample | null;
  readonly processes: IProcessesReply | null;
  readonly connection: Connection;
  readonly connectionError: string | null;
  readonly paused: boolean;
  history(index: number): IGPUHistory;
  pause(): void;
  resume(): void;
  /** Receive process lists (pushed when they change) while the returned handle lives. */
  watchProcesses(): IDisposable;
  /** Run `fn` with the next reading (or after `maxWaitMs`), to draw in one frame. */
  withNextReading(fn: () => void, maxWaitMs: number): void;
  refreshProcesses(): Promise<void>;
}

/** The GPU panel, where other features add a section. */
export interface IGPUPanel {
  addSection(node: HTMLElement): void;
}

/** The live GPU monitor: the one model every view reads, the panel, the settings. */
export interface IGPUMonitor {
  readonly model: IMonitorModel;
  readonly panel: IGPUPanel;
  readonly config: IMonitorConfig;
  readonly configChanged: ISignal<IGPUMonitor, IMonitorConfig>;
}

export const IGPUMonitor = new Token<IGPUMonitor>(
  'jupyterlab-gpuscope:IGPUMonitor',
  'The live GPU monitor model, its panel and its settings.'
);

/**
 * What each notebook's kernel can use (probed once per kernel start), a "lint as if
 * for" target, and what the server sees: read by the linter and the error explainer.
 */
export interface IDeviceProfiles {
  readonly changed: ISignal<IDeviceProfiles, void>;
  /** The target, else the kernel's profile, else the server's (never a recording's). */
  profileFor(session: ISessionContext | null): IDeviceProfile | null;
  /** What the session's kernel itself can use; null if not probed. */
  kernelProfile(session: ISessionContext | null): IDeviceProfile | null;
  readonly serverProfile: IDeviceProfile | null;
  /** Why the settings' lint target cannot be used, or null. */
  readonly targetProblem: string | null;
  setTarget(profile: IDeviceProfile | null, problem?: string | null): void;
  setServerProfile(profile: IDeviceProfile | null): void;
  probe(session: ISessionContext): Promise<void>;
}

export const IDeviceProfiles = new Token<IDeviceProfiles>(
  'jupyterlab-gpuscope:IDeviceProfiles',
  'Device profiles of notebook kernels, of a lint target and of the server.'
);

/** What a feature adds to the GPU status bar item for the GPUs it shows. */
export interface IStatusContribution {
  /** Text after the item's own ("you 3.1/4.0 GiB"), or null. */
  suffix: string | null;
  level: 'normal' | 'warning' | 'critical';
  /** Tooltip lines. */
  lines: string[];
}

/** This user's share of the GPUs (soft limit, others' total, idle kernels). */
export interface ISharedGPUs {
  readonly changed: ISignal<ISharedGPUs, void>;
  /** The latest reply; null before the first one, or when the server has no `shared-gpus` route. */
  readonly usage: ISharedGPUsReply | null;
  /** Fetch now and resolve once the new reply is in. */
  refresh(): Promise<void>;
  /** The status bar's part for these GPUs. */
  statusFor(gpuIndices: number[], units: MemoryUnits): IStatusContribution;
}

export const ISharedGPUs = new Token<ISharedGPUs>(
  'jupyterlab-gpuscope:ISharedGPUs',
  "This user's GPU memory against the admin's soft limit, and idle kernels holding GPU memory."
);

/** What in a kernel holds GPU memory, with the actions that give it back (memory X-ray). */
export interface IMemoryXRay {
  /**
   * Asks the kernel and draws its breakdown into `host` (again on each call); resolves
   * once drawn, also when the kernel could not answer (the view then says why).
   */
  show(host: HTMLElement, kernel: Kernel.IKernelConnection): Promise<void>;
}

export const IMemoryXRay = new Token<IMemoryXRay>(
  'jupyterlab-gpuscope:IMemoryXRay',
  'What in a kernel holds GPU memory, and the actions that give it back.'
);

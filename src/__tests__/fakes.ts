import { ServerConnection } from '@jupyterlab/services';

import type {
  ICollectorReply,
  IDevicesReply,
  IGPUProcess,
  IGPUSample,
  IKernelRef,
  IMigSample,
  IHeldOutside,
  IPolicy,
  IProcessesReply,
  ISample,
  ISamplesReply,
  IStats,
  ISharedGPUsReply,
  StreamMessage
} from '../api';
import type { IGPUScopeAPI } from '../tokens';

export const GiB = 2 ** 30;

/** A GPU where all memory in use is held by the processes listed. */
export const NOTHING_OUTSIDE: IHeldOutside = {
  used_memory: 0,
  includes_driver_reserve: false,
  reason: null
};

export function gpu(index: number, overrides: Partial<IGPUSample> = {}): IGPUSample {
  return {
    index,
    status: 'ok',
    reason: null,
    memory_used: 41.2 * GiB,
    memory_total: 80 * GiB,
    util_gpu: 87,
    util_mem: 40,
    temp_c: 61,
    power_mw: 350000,
    sm_clock: 1755,
    mem_clock: 2619,
    pstate: 0,
    pcie_tx_kbs: 1000,
    pcie_rx_kbs: 2000,
    throttle: 0,
    throttle_reasons: [],
    fan: null,
    ecc_uncorrected: 0,
    nvlink_tx_kbs: null,
    nvlink_rx_kbs: null,
    sm_util: null,
    tensor_util: null,
    dram_util: null,
    gpm_window_s: null,
    mig: null,
    unavailable: { fan: 'not supported on this GPU' },
    ...overrides
  };
}

export function sample(seq: number, gpus: IGPUSample[] = [gpu(0)], time = 1000 + seq): ISample {
  return { type: 'sample', seq, time, gpus };
}

export function devicesReply(overrides: Partial<IDevicesReply> = {}): IDevicesReply {
  return {
    backend: 'nvml',
    configured_backend: 'auto',
    live: true,
    source: null,
    status: 'ok',
    reason: null,
    run_id: 'run1',
    interval_seconds: 1,
    driver_version: '580.159.04',
    cuda_driver_version: '13.0',
    nvml_version: '13.580.159.04',
    devices: [
      {
        index: 0,
        status: 'ok',
        reason: null,
        name: 'NVIDIA A100-SXM4-80GB',
        uuid: 'GPU-0',
        compute_capability: '8.0',
        memory_total: 80 * GiB,
        power_limit_mw: 400000,
        mig_mode: { current: false, pending: false },
        pcie_max_gen: 4,
        pcie_max_width: 16,
        max_sm_clock: 1410,
        max_mem_clock: 1593,
        bus_id: '00000000:00:04.0',
        mig_instances: [],
        nvlink_links: 0,
        gpm_supported: false,
        memory_shared: false,
        unavailable: {}
      }
    ],
    environment: { container: null, own_pid_namespace: false, gpu_pids: 'shared' },
    topology: null,
    ...overrides
  };
}

type GPUProcesses = IProcessesReply['gpus'][0];

/**
 * A `processes` reply for these GPUs (their index, processes, others, `unavailable` and
 * `outside` defaulting to an empty, readable GPU), with the backend summary of `devices`.
 */
export function processesReply(
  gpus: (Partial<GPUProcesses> & { index: number })[],
  options: { devices?: IDevicesReply; ownPidNamespace?: boolean } = {}
): IProcessesReply {
  const { devices: _devices, ...summary } = options.devices ?? devicesReply();
  return {
    ...summary,
    pid_namespace: {
      shared: true,
      own: options.ownPidNamespace ?? false,
      note: null,
      kernels_without_evidence: []
    },
    show_other_users: false,
    gpus: gpus.map(gpu => ({
      processes: [],
      others: { count: 0, used_memory: 0, by_instance: {} },
      unavailable: null,
      outside: NOTHING_OUTSIDE,
      ...gpu
    }))
  };
}

/** One process of a `processes` reply: this user's python process, no kernel, unless given. */
export function gpuProcess(overrides: Partial<IGPUProcess> = {}): IGPUProcess {
  return {
    pid: 4242,
    used_memory: GiB,
    owner: 'self',
    username: 'ann',
    name: 'python',
    cmdline: null,
    note: null,
    kernel: null,
    attribution: null,
    gpu_instance_id: null,
    compute_instance_id: null,
    ...overrides
  };
}

/** This server's python3 kernel of a notebook, as a process entry names it. */
export function kernelRef(
  id: string,
  notebookPath: string | null,
  executionState = 'idle'
): IKernelRef {
  return { id, name: 'python3', execution_state: executionState, notebook_path: notebookPath };
}

/** A `collector` reply: empty sources unless given. */
export function collectorReply(overrides: Partial<ICollectorReply> = {}): ICollectorReply {
  return {
    probe: '',
    mime: '',
    cell_usage_loader: '',
    memory_loader: '',
    cells: { short: '', self_contained: '' },
    ...overrides
  };
}

/** A WebSocket the test drives by hand. */
export class FakeSocket {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  closed = false;
  constructor(public deliver: (message: StreamMessage) => void) {}
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.closed = true;
    this.readyState = 3;
  }
  /** The server went away. */
  drop() {
    this.readyState = 3;
    this.onclose?.();
  }
}

/**
 * Stands in for the API client: canned replies, calls recorded. It implements the
 * token's interface, so a change to the client that the fake misses does not compile.
 */
export class FakeAPI implements IGPUScopeAPI {
  readonly serverSettings = ServerConnection.makeSettings();
  devicesReply: IDevicesReply = devicesReply();
  history: ISample[] = [];
  processesReply: IProcessesReply | null = null;
  fail: Error | null = null;
  sinceAsked: (number | undefined)[] = [];
  sockets: FakeSocket[] = [];

  async devices(): Promise<IDevicesReply> {
    if (this.fail) {
      throw this.fail;
    }
    return this.devicesReply;
  }

  async samples(since?: number): Promise<ISamplesReply> {
    if (this.fail) {
      throw this.fail;
    }
    this.sinceAsked.push(since);
    const samples = this.history.filter(s => s.seq > (since ?? 0));
    return {
      ...this.devicesReply,
      first_seq: this.history[0]?.seq ?? 1,
      last_seq: this.history[this.history.length - 1]?.seq ?? 0,
      samples
    };
  }

  async processes(): Promise<IProcessesReply> {
    if (!this.processesReply) {
      throw new Error('no processes reply set');
    }
    return this.processesReply;
  }

  /** Replies for `usage`, in order (an Error is thrown); the last one repeats. */
  usageReplies: (ISharedGPUsReply | Error)[] = [];
  usageCalls = 0;
  async sharedGPUs(): Promise<ISharedGPUsReply> {
    this.usageCalls += 1;
    const next = this.usageReplies.length > 1 ? this.usageReplies.shift() : this.usageReplies[0];
    if (!next) {
      throw new Error('no usage reply set');
    }
    if (next instanceof Error) {
      throw next;
    }
    return next;
  }

  collectorReply: ICollectorReply | null = null;
  async collector(): Promise<ICollectorReply> {
    if (!this.collectorReply) {
      throw new Error('no collector reply set');
    }
    return this.collectorReply;
  }

  policyReply: IPolicy | null = null;
  async policy(): Promise<IPolicy> {
    if (!this.policyReply) {
      throw new Error('no policy reply set');
    }
    return this.policyReply;
  }

  async stats(): Promise<IStats> {
    throw new Error('no stats in these tests');
  }

  kept: string[] = [];
  async keepKernel(kernelId: string): Promise<void> {
    this.kept.push(kernelId);
  }

  openStream(onMessage: (message: StreamMessage) => void): WebSocket {
    const socket = new FakeSocket(onMessage);
    this.sockets.push(socket);
    return socket as unknown as WebSocket;
  }

  get socket(): FakeSocket {
    return this.sockets[this.sockets.length - 1];
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

/**
 * An H200 in MIG mode with a 3g.71gb and a 1g.18gb instance (profile sizes as a real H200's
 * NVML gives them), for the MIG views: its devices reply and one sample.
 */
export function migMachine(): { devices: IDevicesReply; sample: ISample } {
  const devices = devicesReply();
  const instance = (gi: number, profile: string, mib: number, sms: number) => ({
    uuid: `MIG-00000000-0000-4000-8000-0000000000${gi}`,
    name: `NVIDIA H200 MIG ${profile}`,
    profile,
    gpu_instance_id: gi,
    compute_instance_id: 0,
    memory_total: mib * 2 ** 20,
    multiprocessor_count: sms
  });
  devices.devices = [
    {
      ...devices.devices[0],
      name: 'NVIDIA H200',
      compute_capability: '9.0',
      memory_total: 140 * GiB,
      mig_mode: { current: true, pending: true },
      mig_instances: [instance(2, '3g.71gb', 71424, 60), instance(13, '1g.18gb', 16384, 16)]
    }
  ];
  const reading = (gi: number, used: number, total: number, sm: number | null): IMigSample => ({
    uuid: `MIG-00000000-0000-4000-8000-0000000000${gi}`,
    gpu_instance_id: gi,
    memory_used: used,
    memory_total: total,
    sm_util: sm,
    tensor_util: sm === null ? null : sm / 2,
    dram_util: sm === null ? null : 10,
    gpm_window_s: sm === null ? null : 1,
    unavailable: sm === null ? { sm_util: 'n/a: no GPM', tensor_util: 'n/a: no GPM' } : {}
  });
  const parent = gpu(0, {
    memory_used: 33 * GiB,
    memory_total: 140 * GiB,
    util_gpu: null,
    mig: [reading(2, 30 * GiB, 71424 * 2 ** 20, 85), reading(13, 3 * GiB, 16 * GiB, 4)]
  });
  parent.unavailable = { util_gpu: 'not supported on this GPU' };
  return { devices, sample: sample(1, [parent]) };
}

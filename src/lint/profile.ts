/**
 * The device profile each notebook is linted for: a "lint as if for" target from the
 * settings, else what a cheap silent probe found in the notebook's kernel, else the GPUs
 * the server sees.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import type { GPUScopeAPI } from '../api';
import { platformKey, visibleDevices } from '../knowledge/compat';
import type { IDeviceProfile } from './analyzer';

export { profileForTarget } from './targets';

const PROBE_MIME = 'application/vnd.gpuscope.probe+json';

/**
 * Python run silently at kernel start: the driver's devices (through the collector's
 * ctypes reader, without CUDA initialisation), CUDA_VISIBLE_DEVICES, the platform, and
 * the installed torch's version and build (its metadata and torch/version.py, read as
 * text: torch is not imported, since PyPI's version string lacks "+cuXYZ"). Milliseconds.
 */
export function probeCode(collectorSource: string): string {
  return `
def _gpuscope_probe(source):
    import importlib.metadata, importlib.util, os, platform
    from IPython.display import display
    namespace = {"__name__": "gpuscope_probe"}
    exec(compile(source, "<gpuscope-probe>", "exec"), namespace)
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    build = None
    try:
        import ast
        spec = importlib.util.find_spec("torch")
        with open(os.path.join(os.path.dirname(spec.origin), "version.py"), encoding="utf-8") as file:
            tree = ast.parse(file.read())
        build = {"cuda": None, "hip": None}
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            value = getattr(node, "value", None)
            if getattr(target, "id", None) in build and isinstance(value, ast.Constant):
                build[target.id] = value.value
    except Exception:
        build = None
    display({"${PROBE_MIME}": {
        "driver": namespace["_driver_facts"](),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "torch": torch_version,
        "torch_build": build,
        "platform": {"system": platform.system(), "machine": platform.machine()},
    }}, raw=True)
_gpuscope_probe(${JSON.stringify(collectorSource)})
del _gpuscope_probe`;
}

interface IProbe {
  driver: {
    available: boolean;
    error: string | null;
    version?: string | null;
    cuda_version?: string | null;
    devices: { index: number; name: string | null; cc: string | null; uuid?: string | null; mig?: { uuid: string | null }[] }[];
  };
  cuda_visible_devices: string | null;
  torch: string | null;
  /** From torch/version.py: the CUDA (or HIP) it was built for; null when unreadable. */
  torch_build?: { cuda: string | null; hip: string | null } | null;
  platform?: { system: string; machine: string };
}

/** The profile a probe describes: visible devices after CUDA_VISIBLE_DEVICES. */
export function profileFromProbe(probe: IProbe): IDeviceProfile {
  const devices = probe.driver.available ? probe.driver.devices : [];
  const cvd = probe.cuda_visible_devices;
  const visible = visibleDevices(cvd, devices).visible.map(v => devices[v.device]);
  const build = probe.torch_build ?? null;
  // version.py says it for any wheel; the "+cpu" suffix only for PyTorch's own index.
  const cpuBuild = build ? build.cuda === null && build.hip === null : (probe.torch?.includes('+cpu') ?? false);
  const hasGpu = visible.length > 0 && !cpuBuild;
  const why = !probe.driver.available
    ? 'no NVIDIA driver is visible to the kernel'
    : visible.length === 0
      ? `CUDA_VISIBLE_DEVICES="${cvd}" hides every GPU`
      : `torch ${probe.torch} is a CPU-only build`;
  return {
    source: 'kernel',
    hasGpu,
    noGpuReason: hasGpu ? undefined : why,
    cc: visible[0]?.cc ?? null,
    name: visible[0]?.name ?? null,
    deviceCount: hasGpu ? visible.length : 0,
    torch: probe.torch,
    torchCuda: build?.cuda ?? null,
    driverVersion: probe.driver.version ?? null,
    driverCuda: probe.driver.cuda_version ?? null,
    platform: probe.platform ? platformKey(probe.platform.system, probe.platform.machine) : null
  };
}

/** Kernel profiles by kernel id, probed once per kernel start. */
export class ProfileStore {
  constructor(private _api: GPUScopeAPI) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * The profile for a session: the target, the kernel's, else the server's (never a
   * recording's: replayed GPUs are not this machine's). None while the target is invalid.
   */
  profileFor(session: ISessionContext | null): IDeviceProfile | null {
    if (this._targetProblem) {
      return null;
    }
    return this._target ?? this.kernelProfile(session) ?? (this._server?.recorded ? null : this._server);
  }

  /** Why the settings' lint target cannot be used (an unknown GPU), or null. */
  get targetProblem(): string | null {
    return this._targetProblem;
  }

  /** What the session's kernel itself can use (never the lint target); null if not probed. */
  kernelProfile(session: ISessionContext | null): IDeviceProfile | null {
    const kernelId = session?.session?.kernel?.id;
    return (kernelId && this._kernels.get(kernelId)) || null;
  }

  /** The GPUs the server sees. */
  get serverProfile(): IDeviceProfile | null {
    return this._server;
  }

  setTarget(profile: IDeviceProfile | null, problem: string | null = null): void {
    this._target = profile;
    this._targetProblem = problem;
    this._changed.emit();
  }

  setServerProfile(profile: IDeviceProfile | null): void {
    this._server = profile;
    this._changed.emit();
  }

  /** Probe a kernel (once per kernel id); Python kernels only. */
  async probe(session: ISessionContext): Promise<void> {
    const kernel = session.session?.kernel;
    if (!kernel || this._probed.has(kernel.id)) {
      return;
    }
    this._probed.add(kernel.id);
    if (!this._watched.has(kernel)) {
      // A restart keeps the kernel id, but the environment may have changed (a new
      // torch installed before restarting): probe again once it is up.
      this._watched.add(kernel);
      kernel.statusChanged.connect((_, status) => {
        if (status === 'restarting' || status === 'autorestarting') {
          this._probed.delete(kernel.id);
        } else if (status === 'idle' && !this._probed.has(kernel.id)) {
          void this.probe(session).catch(() => undefined);
        }
      });
    }
    const info = await kernel.info;
    if (info.language_info.name !== 'python') {
      return;
    }
    if (!this._source) {
      this._source = (await this._api.collector()).source;
    }
    const future = kernel.requestExecute({ code: probeCode(this._source), silent: true, store_history: false });
    future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
      if (msg.header.msg_type === 'display_data') {
        const data = (msg as KernelMessage.IDisplayDataMsg).content.data[PROBE_MIME];
        if (data) {
          this._kernels.set(kernel.id, profileFromProbe(data as unknown as IProbe));
          this._changed.emit();
        }
      }
    };
    await future.done;
  }

  private _target: IDeviceProfile | null = null;
  private _targetProblem: string | null = null;
  private _server: IDeviceProfile | null = null;
  private _kernels = new Map<string, IDeviceProfile>();
  private _probed = new Set<string>();
  private _watched = new WeakSet<object>();
  private _source: string | null = null;
  private _changed = new Signal<this, void>(this);
}

/**
 * The kernel probe: the Python run silently at kernel start, and the device profile its
 * reply describes. Browser-free: the store runs it, the tests read it.
 */
import { platformKey, visibleDevices } from '../knowledge/compat';
import type { IDeviceProfile } from '../lint/analyzer';

export const PROBE_MIME = 'application/vnd.gpuscope.probe+json';

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

export interface IProbe {
  driver: {
    available: boolean;
    error: string | null;
    version?: string | null;
    cuda_version?: string | null;
    devices: {
      index: number;
      name: string | null;
      cc: string | null;
      uuid?: string | null;
      memory_total?: number | null;
      mig?: { uuid: string | null; name?: string | null; memory_total?: number | null }[];
    }[];
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
  const resolved = visibleDevices(cvd, devices).visible;
  const visible = resolved.map(v => devices[v.device]);
  // On a MIG slice: the parent's compute capability, the slice's name and memory.
  const migUuid = resolved[0]?.mig ?? null;
  const slice = migUuid ? ((visible[0]?.mig ?? []).find(m => m.uuid === migUuid) ?? null) : null;
  const build = probe.torch_build ?? null;
  // version.py says it for any wheel; the "+cpu" suffix only for PyTorch's own index.
  const cpuBuild = build
    ? build.cuda === null && build.hip === null
    : (probe.torch?.includes('+cpu') ?? false);
  const hasGPU = visible.length > 0 && !cpuBuild;
  const why = !probe.driver.available
    ? 'no NVIDIA driver is visible to the kernel'
    : visible.length === 0
      ? `CUDA_VISIBLE_DEVICES="${cvd}" hides every GPU`
      : `torch ${probe.torch} is a CPU-only build`;
  return {
    source: 'kernel',
    hasGPU,
    noGPUReason: hasGPU ? undefined : why,
    cc: visible[0]?.cc ?? null,
    name: slice?.name ?? visible[0]?.name ?? null,
    memoryTotal: (slice ? slice.memory_total : visible[0]?.memory_total) ?? null,
    mig: slice && migUuid ? { uuid: migUuid, name: slice.name ?? null } : null,
    visibleDevices: cvd,
    deviceCount: hasGPU ? visible.length : 0,
    torch: probe.torch,
    torchCuda: build?.cuda ?? null,
    driverVersion: probe.driver.version ?? null,
    driverCuda: probe.driver.cuda_version ?? null,
    platform: probe.platform ? platformKey(probe.platform.system, probe.platform.machine) : null
  };
}

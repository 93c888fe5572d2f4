/**
 * The kernel probe's reply (python/jupyterlab_gpuscope/kernel/probe.py, run silently at
 * kernel start) and the device profile it describes. Browser-free.
 */
import { platformKey, visibleDevices } from '../knowledge/compat';
import type { IDeviceProfile } from '../lint/analyzer';

/** The MIME type of the probe's output: kernel/probe.py's MIME (pytest checks they agree). */
export const PROBE_MIME = 'application/vnd.gpuscope.probe+json';

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

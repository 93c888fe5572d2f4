/**
 * Device profiles for a chosen target: a GPU by name or compute capability, "cpu", and
 * optionally a torch build. Shared by the settings ("lint as if for") and the CLI.
 */
import { resolveTarget } from '../knowledge';
import type { IDeviceProfile } from '../lint/analyzer';

/**
 * A profile for a settings target ("T4", "7.5", "cpu") and optionally a torch build
 * ("2.13.0+cpu": a CPU-only wheel, so no GPU whatever the machine), or null when the
 * target is not understood.
 */
export function profileForTarget(target: string, gpus: number, torch = ''): IDeviceProfile | null {
  if (torch.includes('+cpu')) {
    return {
      source: 'target',
      hasGPU: false,
      noGPUReason: `torch ${torch.trim()} is a CPU-only build`,
      cc: null,
      name: null,
      deviceCount: 0
    };
  }
  if (target.trim().toLowerCase() === 'cpu') {
    return {
      source: 'target',
      hasGPU: false,
      noGPUReason: 'linting for a machine without a GPU',
      cc: null,
      name: null,
      deviceCount: 0
    };
  }
  const resolved = resolveTarget(target);
  return resolved
    ? {
        source: 'target',
        hasGPU: true,
        cc: resolved.cc,
        name: resolved.name,
        deviceCount: Math.max(1, gpus)
      }
    : null;
}

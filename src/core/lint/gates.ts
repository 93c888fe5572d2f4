/**
 * Device profiles on either side of a library's gate (knowledge/gates.json): one the gate
 * refuses and one it lets through, from the knowledge base's compute capabilities. The
 * gate tests and the linter benchmark lint each gate's example on both.
 */
import { ccValue, feature, lintRules, resolveTarget } from '../knowledge';
import kb from '../knowledge/kb.json';
import type { IDeviceProfile } from './analyzer';

export interface IGateCondition {
  below?: string;
  outside?: string;
  no_gpu?: boolean;
  index_beyond_count?: boolean;
}

/** A GPU of this compute capability, `count` of them. */
function gpu(cc: string, count = 1): IDeviceProfile {
  const { name } = resolveTarget(cc)!;
  return { source: 'target', hasGPU: true, cc, name, deviceCount: count };
}

const NO_GPU: IDeviceProfile = {
  source: 'target',
  hasGPU: false,
  noGPUReason: 'linting for a machine without a GPU',
  cc: null,
  name: null,
  deviceCount: 0
};

/** The newest GPU generation the knowledge base knows: it passes every "below" gate. */
const NEWEST_DATA_CENTER = '9.0';

export function gateTargets(condition: IGateCondition): {
  refused: IDeviceProfile;
  allowed: IDeviceProfile;
} {
  if (condition.no_gpu) {
    // Two GPUs: one would draw the advice for single-GPU process groups.
    return { refused: NO_GPU, allowed: gpu(NEWEST_DATA_CENTER, 2) };
  }
  if (condition.index_beyond_count) {
    return { refused: gpu(NEWEST_DATA_CENTER, 1), allowed: gpu(NEWEST_DATA_CENTER, 8) };
  }
  const id = (condition.below ?? condition.outside) as Parameters<typeof feature>[0];
  const { min_cc } = feature(id);
  if (!min_cc) {
    throw new Error(`gate on ${id}: the feature has no minimum compute capability`);
  }
  // The newest compute capability below the minimum: the closest GPU the gate refuses.
  const below = kb.capabilities
    .map(c => c.cc)
    .filter(cc => ccValue(cc) < ccValue(min_cc))
    .sort((a, b) => ccValue(b) - ccValue(a))[0];
  return { refused: gpu(below), allowed: gpu(min_cc) };
}

/**
 * The rules about what a GPU can run (each comes from a gate), as opposed to advice
 * (`DataParallel` on several GPUs, deprecations), which no library refuses.
 */
export function capabilityRules(): Set<string> {
  return new Set(
    lintRules()
      .filter(r => r.when.below || r.when.outside || r.when.no_gpu || r.when.index_beyond_count)
      .map(r => r.id)
  );
}

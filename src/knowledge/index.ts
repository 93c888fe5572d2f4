/**
 * The project's GPU knowledge base (kb.json, written from the sourced reference), with
 * the few functions every consumer needs. Nothing else hard-codes a compute capability,
 * a driver version or a wheel's arch list.
 */
import kb from './kb.json';

export interface ISource {
  key: string;
  text: string;
}

export interface ICapability {
  cc: string;
  arch: string;
  examples: string[];
  bf16_native: boolean | string | null;
  tf32: boolean | string | null;
  fp8_scaled_mm: boolean | string | null;
}

type FeatureId = keyof typeof kb.features;

/** "8.6" -> 86, "12.1" -> 121: compute capabilities compared as numbers. */
export function ccValue(cc: string): number {
  const [major, minor] = cc.split('.').map(Number);
  return major * 10 + (minor || 0);
}

/** The sources behind keys, in the order given. */
export function sources(keys: string[]): ISource[] {
  const all = kb.sources as Record<string, string>;
  return keys.filter(k => k in all).map(key => ({ key, text: all[key] }));
}

export function capability(cc: string): ICapability | undefined {
  return kb.capabilities.find(c => c.cc === cc) as ICapability | undefined;
}

export function feature(id: FeatureId): { min_cc?: string; max_cc?: string; source: string[] } {
  return kb.features[id];
}

/** Whether a device of this compute capability has the feature (by its cc range). */
export function supports(id: FeatureId, cc: string): boolean {
  const f = feature(id);
  const value = ccValue(cc);
  return (!f.min_cc || value >= ccValue(f.min_cc)) && (!f.max_cc || value <= ccValue(f.max_cc));
}

/**
 * Whether a wheel with this arch list (torch.cuda.get_arch_list()) has code that runs on
 * the device: SASS sm_XY runs on the same major with an equal or higher minor; PTX
 * compute_XY is JIT-compiled for any device at or above it.
 */
export function archCovers(archList: string[], cc: string): { covered: boolean; by: string | null } {
  const [major, minor] = cc.split('.').map(Number);
  const value = ccValue(cc);
  for (const arch of archList) {
    const match = /^(sm|compute)_(\d+)(\d)([af]?)$/.exec(arch);
    if (!match) {
      continue;
    }
    const [, kind, archMajor, archMinor, suffix] = match;
    const archValue = Number(archMajor) * 10 + Number(archMinor);
    if (kind === 'sm' && Number(archMajor) === major && Number(archMinor) <= minor) {
      // Arch-specific cubins (sm_90a) run only on exactly that device.
      if (suffix !== 'a' || archValue === value) {
        return { covered: true, by: arch };
      }
    }
    if (kind === 'compute' && archValue <= value && !suffix) {
      return { covered: true, by: arch };
    }
  }
  return { covered: false, by: null };
}

export const BINARY_COMPAT_SOURCE: string[] = kb.binary_compat_source;

export function failureSource(id: keyof typeof kb.failure_sources): string[] {
  return kb.failure_sources[id];
}

/** The driver a wheel of this CUDA major needs at least (minor-version compatibility). */
export function driverMinimum(cudaMajor: number): { driver: string; source: string[] } | null {
  const entry = (kb.driver_minimum_by_cuda_major as Record<string, unknown>)[String(cudaMajor)];
  return (entry as { driver: string; source: string[] }) ?? null;
}

/** Compare dotted driver versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}

/** The wheel index URL for a variant ("cu126"). */
export function wheelIndex(variant: string): string {
  return kb.wheel_index.url.replace('{variant}', variant);
}

/** "13.0" -> "cu130". */
export function variantFor(cudaVersion: string): string {
  const [major, minor] = cudaVersion.split('.');
  return `cu${major}${minor ?? '0'}`;
}

/**
 * The CUDA variant of the newest torch release to install for a driver: the newest
 * variant at or below the driver's CUDA version; else the oldest variant of the driver's
 * major family (minor-version compatibility lets it run); null when none fits.
 */
export function bestVariantForDriver(driverCuda: string): string | null {
  const limit = ccLikeVersion(driverCuda);
  const major = Math.floor(limit / 10);
  const newest = kb.torch_releases[kb.torch_releases.length - 1];
  const variants = Object.keys(newest.variants)
    .map(name => name.split(' ')[0])
    .filter(v => /^cu\d+$/.test(v))
    .sort((a, b) => variantValue(a) - variantValue(b));
  const atOrBelow = variants.filter(v => variantValue(v) <= limit);
  if (atOrBelow.length) {
    return atOrBelow[atOrBelow.length - 1];
  }
  return variants.find(v => Math.floor(variantValue(v) / 10) === major) ?? null;
}

function ccLikeVersion(version: string): number {
  const [major, minor] = version.split('.').map(Number);
  return major * 10 + (minor || 0);
}

function variantValue(variant: string): number {
  const digits = variant.replace('cu', '');
  return Number(digits.slice(0, -1)) * 10 + Number(digits.slice(-1));
}

/**
 * The wheels (torch release + variant) whose arch list covers a compute capability,
 * newest release first and its default variant first, read from the recorded arch lists.
 */
export function wheelsCovering(cc: string): { torch: string; variant: string; source: string[] }[] {
  const found: { torch: string; variant: string; source: string[] }[] = [];
  for (const release of [...kb.torch_releases].reverse()) {
    // The release's default (PyPI) variant first: the one most users should get.
    const isDefault = (name: string) => name.split(' ')[0] === release.pypi_default.split(' ')[0];
    const variants = Object.entries(release.variants as unknown as Record<string, string>).sort(
      ([a], [b]) => Number(isDefault(b)) - Number(isDefault(a))
    );
    for (const [name, archs] of variants) {
      const variant = name.split(' ')[0];
      if (!/^cu\d+$/.test(variant)) {
        continue;
      }
      if (archCovers(archListOf(archs), cc).covered) {
        found.push({ torch: release.version, variant, source: release.source });
      }
    }
  }
  return found;
}

/** "7.5;8.0;12.0+PTX (Linux)" (as recorded per release) -> ["sm_75", "sm_80", "sm_120", "compute_120"]. */
function archListOf(recorded: string): string[] {
  return recorded
    .split(' ')[0]
    .split(';')
    .filter(a => /^\d+\.\d+/.test(a))
    .flatMap(a => {
      const ptx = a.includes('+PTX');
      const v = a.replace(/[^\d.].*$/, '').replace('.', '');
      return ptx ? [`sm_${v}`, `compute_${v}`] : [`sm_${v}`];
    });
}

/**
 * The arch list of a torch wheel named by its version string ("2.11.0+cu130"), from the
 * recorded release tables; null when the release or its CUDA variant is not recorded.
 */
export function wheelArchList(torchVersion: string): { release: string; variant: string; archs: string[] } | null {
  if (/\+(?!cu\d)/.test(torchVersion)) {
    return null; // a CPU, ROCm or local build: no CUDA arch list
  }
  const match = /^(\d+\.\d+)(?:\.\d+)?(?:[^+]*)?(?:\+(cu\d+))?/.exec(torchVersion.trim());
  const entry = match && kb.torch_releases.find(r => r.version === match[1]);
  if (!match || !entry) {
    return null;
  }
  const variant = match[2] ?? entry.pypi_default.split(' ')[0];
  const recorded = Object.entries(entry.variants as unknown as Record<string, string>).find(
    ([name]) => name.split(' ')[0] === variant
  );
  if (!recorded || recorded[1].startsWith('same as')) {
    return null;
  }
  return { release: entry.version, variant, archs: archListOf(recorded[1]) };
}

export interface IErrorSignature {
  id: string;
  title: string;
  severity: 'error' | 'warning';
  /** Regular expressions (JavaScript syntax) any of which identifies the failure. */
  patterns: string[];
  /** A regular expression whose first group is shown as what the message said. */
  detail?: string;
  /** Which kernel facts make the explanation specific: see explain/context.ts. */
  context?: string;
  cause: string;
  fix: string;
  /** Lines to copy into a cell as they are. */
  commands?: string[];
  /** Ids of more general signatures not to show when this one matches. */
  supersedes?: string[];
  /** Rests on unconfirmed facts: the card says "may". */
  may?: boolean;
  source: string[];
}

/** The error signatures the explainer recognises, most specific first. */
export function errorSignatures(): IErrorSignature[] {
  return kb.error_signatures as IErrorSignature[];
}

export interface ILintRule {
  id: string;
  severity: 'error' | 'warning' | 'info';
  match: {
    symbol?: string[];
    call?: string[];
    import?: string[];
    assign?: string[];
    kwarg?: Record<string, string>;
    cuda_use?: boolean;
    device_index?: boolean;
    call_arg?: { path: string; keyword: string; position: number; value: string };
  };
  when: {
    below?: string;
    outside?: string;
    no_gpu?: boolean;
    index_beyond_count?: boolean;
    gpus_at_most?: number;
    gpus_at_least?: number;
    always?: boolean;
  };
  message: string;
  fix: string;
  source: string[];
  /** Rests on unconfirmed facts: never an error, and the message says "may". */
  may?: boolean;
}

/** The capability rules of the linter, each with its sources. */
export function lintRules(): ILintRule[] {
  rules ??= (kb.lint_rules as ILintRule[]).map(rule =>
    rule.may && rule.severity === 'error' ? { ...rule, severity: 'warning' } : rule
  );
  return rules;
}

let rules: ILintRule[] | null = null;

/**
 * A target given as a compute capability ("7.5") or a GPU name ("T4", "A100", "RTX 4090"):
 * its compute capability and a display name, or null when unknown.
 */
export function resolveTarget(target: string): { cc: string; name: string } | null {
  const wanted = target.trim();
  if (/^\d+\.\d+$/.test(wanted)) {
    const known = capability(wanted);
    return { cc: wanted, name: known ? `a ${known.arch} GPU (${wanted})` : `a GPU of compute capability ${wanted}` };
  }
  const needle = wanted.toLowerCase().replace(/^(nvidia|tesla|geforce)\s+/, '');
  if (!needle) {
    return null;
  }
  const pattern = new RegExp(`(^|[\\s/])(tesla |geforce |nvidia )?${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s/(])`, 'i');
  for (const cap of kb.capabilities) {
    if (cap.examples.some(example => pattern.test(example))) {
      return { cc: cap.cc, name: wanted };
    }
  }
  return null;
}

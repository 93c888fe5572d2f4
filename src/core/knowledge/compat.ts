/**
 * The questions of the knowledge base that the kernel-side findings (kernel/findings.py) ask too: which torch
 * wheel covers a GPU, runs on its driver and exists for its platform; what
 * CUDA_VISIBLE_DEVICES leaves visible; the install command for a wheel. The Python twin
 * is python/jupyterlab_gpuscope/knowledge.py; the conformance cases in
 * python/jupyterlab_gpuscope/tests/conformance.json hold both to the same answers.
 */
import { capability, ccValue } from './index';
import kb from './kb.json';

export interface IWheel {
  torch: string;
  variant: string;
  platform: string;
  archs: string[];
  default?: boolean;
  experimental?: boolean;
  source: string[];
}

export interface IWheelAdvice {
  kind: 'install' | 'upgrade-driver' | 'none';
  torch?: string;
  variant?: string;
  covered_by?: string;
  command?: string;
  /** The driver the wheel needs (upgrade-driver, and a newer wheel). */
  driver?: string | null;
  /** Install: the newer release a newer driver would allow. */
  newer?: IWheelAdvice;
  /** None: why not. */
  why?: string;
  /** Answered from the Linux x86_64 rows (Windows wheels are not recorded). */
  assumed: boolean;
  source?: string[];
}

const ARCH = /^(sm|compute)_(\d+)(\d)([af]?)$/;

/**
 * The entry of a wheel's arch list whose code runs best on a device of compute
 * capability cc, or null. SASS sm_XY runs on major X with minor >= Y ("a" variants only
 * on exactly X.Y); PTX compute_XY is compiled by the driver for any device at or above
 * X.Y. The closest SASS wins; PTX only when no SASS runs.
 */
export function archCovers(archList: string[], cc: string): string | null {
  const [major, minor] = cc.split('.').map(Number);
  const value = major * 10 + minor;
  let sass: [number, string] | null = null;
  let ptx: [number, string] | null = null;
  for (const arch of archList) {
    const match = ARCH.exec(arch);
    if (!match) {
      continue;
    }
    const [, kind, archMajor, archMinor, suffix] = match;
    const archValue = Number(archMajor) * 10 + Number(archMinor);
    if (
      kind === 'sm' &&
      Number(archMajor) === major &&
      Number(archMinor) <= minor &&
      (suffix !== 'a' || archValue === value)
    ) {
      if (!sass || archValue > sass[0]) {
        sass = [archValue, arch];
      }
    }
    if (kind === 'compute' && !suffix && archValue <= value) {
      if (!ptx || archValue > ptx[0]) {
        ptx = [archValue, arch];
      }
    }
  }
  return (sass ?? ptx)?.[1] ?? null;
}

/** Dotted versions compared as numbers: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  return compareKeys(versionKey(a), versionKey(b));
}

/** The wheel platform for Python's platform.system() / platform.machine(). */
export function platformKey(system: string | null, machine: string | null): string {
  const s = (system ?? '').toLowerCase();
  const m = (machine ?? '').toLowerCase();
  if (s === 'linux') {
    return ['aarch64', 'arm64'].includes(m)
      ? 'linux-aarch64'
      : ['x86_64', 'amd64'].includes(m)
        ? 'linux-x86_64'
        : `linux-${m}`;
  }
  if (s === 'windows') {
    return 'windows-amd64';
  }
  if (s === 'darwin') {
    return 'macos';
  }
  return `${s}-${m}`;
}

/** "cu128" -> "12.8". */
export function variantCuda(variant: string): string {
  const digits = variant.slice(2);
  return `${digits.slice(0, -1)}.${digits.slice(-1)}`;
}

/** The command that installs this wheel (from PyTorch's own index). */
export function installCommand(torch: string, variant: string): string {
  return `pip install --force-reinstall "torch==${torch}.*" --index-url ${kb.wheel_index.url.replace('{variant}', variant)}`;
}

/**
 * Whether a wheel built with this CUDA runs on the driver: the driver's CUDA major is at
 * least the wheel's and the driver meets that family's floor (minor-version
 * compatibility); PTX newer than the driver cannot be compiled by it.
 */
/** A Jetson module's compute capability: its driver comes with Jetson Linux, numbered apart. */
export function jetson(cc: string): boolean {
  return (capability(cc) as { jetson?: boolean } | undefined)?.jetson === true;
}

/** The last driver branch that supports this GPU, or null while new branches still do. */
export function lastDriverBranch(cc: string): { branch: number; arch: string } | null {
  if (jetson(cc)) {
    return null;
  }
  const value = ccValue(cc);
  return (
    kb.last_driver_branch.ranges.find(
      r => ccValue(r.min_cc) <= value && value <= ccValue(r.max_cc)
    ) ?? null
  );
}

/**
 * Whether a wheel built with this CUDA runs on the driver (see knowledge.py's driver_runs):
 * a driver numbered apart (Jetson's) is judged by the CUDA version it reports alone.
 */
export function driverRuns(
  variant: string,
  driverVersion: string | null,
  driverCuda: string | null,
  byPtx: boolean,
  numberedApart = false
): boolean {
  if (!driverCuda) {
    return false;
  }
  const wheel = variantCuda(variant);
  const wheelMajor = Number(wheel.split('.')[0]);
  if (wheelMajor > Number(driverCuda.split('.')[0])) {
    return false;
  }
  const floor = (kb.driver_minimum_by_cuda_major as Record<string, unknown>)[String(wheelMajor)] as
    { driver: string } | undefined;
  if (
    floor &&
    driverVersion &&
    !numberedApart &&
    compareVersions(driverVersion, floor.driver) < 0
  ) {
    return false;
  }
  return !(byPtx && compareVersions(wheel, driverCuda) > 0);
}

/** The driver that fully supports a wheel's CUDA (the toolkit's own, Linux). */
export function driverFor(variant: string): string | null {
  return (kb.cuda_toolkit_driver.linux as Record<string, string>)[variantCuda(variant)] ?? null;
}

/**
 * The oldest driver that runs a wheel: its CUDA family's floor (minor-version
 * compatibility) where the GPU runs the wheel's machine code, the toolkit's own driver
 * where its PTX must be compiled.
 */
export function driverNeeded(variant: string, byPtx: boolean): string | null {
  const major = variantCuda(variant).split('.')[0];
  const floor = (kb.driver_minimum_by_cuda_major as Record<string, unknown>)[major] as
    { driver: string } | undefined;
  return byPtx || !floor ? driverFor(variant) : floor.driver;
}

const PLATFORM_NAMES: Record<string, string> = { macos: 'macOS', 'windows-amd64': 'Windows' };

/** "2.14" -> [2, 14]. */
function versionKey(version: string): number[] {
  return (version.match(/\d+/g) ?? []).map(Number);
}

/** Number lists compared element by element, a missing element counting as 0. */
function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}

/**
 * Which torch wheel to install for a GPU of compute capability cc on this platform and
 * driver: "install" (the newest release whose wheel covers cc and runs on this driver,
 * its default variant first, never an experimental one; with "newer" when a newer
 * driver would allow a newer release), "upgrade-driver" (no wheel runs on this driver,
 * one would on a newer one) or "none" (no published wheel covers cc here).
 */
export function wheelAdvice(
  cc: string,
  platform: string,
  driverVersion: string | null = null,
  driverCuda: string | null = null
): IWheelAdvice {
  const rows = kb.wheels.rows as IWheel[];
  let assumed = false;
  let recorded = rows.filter(r => r.platform === platform && !r.experimental);
  if (!recorded.length && platform.startsWith('windows')) {
    recorded = rows.filter(r => r.platform === 'linux-x86_64' && !r.experimental);
    assumed = true;
  }
  if (platform === 'macos' || !recorded.length) {
    return {
      kind: 'none',
      why: `PyTorch publishes no CUDA wheels for ${PLATFORM_NAMES[platform] ?? platform}.`,
      assumed: false
    };
  }
  if (assumed) {
    driverVersion = null; // Windows drivers are numbered apart from the Linux floors
  }
  // Newest release first; within it the default variant, then the newest CUDA.
  const newestFirst = (a: IWheel, b: IWheel): number =>
    compareVersions(b.torch, a.torch) ||
    Number(!!b.default) - Number(!!a.default) ||
    compareVersions(variantCuda(b.variant), variantCuda(a.variant));
  // A driver this GPU can have must run the wheel (no R590 for a Pascal card).
  const last = lastDriverBranch(cc);
  const reachable = (row: IWheel, by: string): boolean => {
    const needed = driverNeeded(row.variant, by.startsWith('compute_'));
    return !last || !needed || Number(needed.split('.')[0]) <= last.branch;
  };
  const covering = [...recorded]
    .sort(newestFirst)
    .map(row => ({ row, by: archCovers(row.archs, cc) }))
    .filter((c): c is { row: IWheel; by: string } => c.by !== null && reachable(c.row, c.by));
  if (!covering.length) {
    const name = (kb.wheels.platforms as Record<string, string>)[platform] ?? platform;
    return {
      kind: 'none',
      why: `No published torch wheel for ${name} has code for compute capability ${cc}.`,
      assumed
    };
  }
  const answer = (kind: IWheelAdvice['kind'], row: IWheel, by: string): IWheelAdvice => ({
    kind,
    torch: row.torch,
    variant: row.variant,
    covered_by: by,
    command: installCommand(row.torch, row.variant),
    assumed,
    source: row.source
  });
  const runnable = covering.filter(c =>
    driverRuns(c.row.variant, driverVersion, driverCuda, c.by.startsWith('compute_'), jetson(cc))
  );
  const newest = covering[0];
  if (runnable.length) {
    const result = answer('install', runnable[0].row, runnable[0].by);
    if (compareVersions(newest.row.torch, runnable[0].row.torch) > 0) {
      result.newer = {
        ...answer('install', newest.row, newest.by),
        driver: driverNeeded(newest.row.variant, newest.by.startsWith('compute_'))
      };
    }
    return result;
  }
  return {
    ...answer('upgrade-driver', newest.row, newest.by),
    driver: driverNeeded(newest.row.variant, newest.by.startsWith('compute_'))
  };
}

/**
 * The wheel row a torch version names ("2.11.0+cu130"; "2.11.0" with the CUDA it was
 * built for, as PyPI's wheels carry no suffix), or null when unrecorded.
 */
export function wheelFor(
  torchVersion: string,
  platform = 'linux-x86_64',
  builtForCuda: string | null = null
): IWheel | null {
  const match = /^(\d+\.\d+)(?:\.\d+)?[^+]*(?:\+(cu\d+))?$/.exec(torchVersion.trim());
  if (!match || /\+(?!cu\d)/.test(torchVersion)) {
    return null; // a CPU, ROCm or local build has no CUDA arch list
  }
  const variant = match[2] ?? (builtForCuda ? `cu${builtForCuda.replace('.', '')}` : null);
  const rows = (kb.wheels.rows as IWheel[]).filter(
    r => r.torch === match[1] && r.platform === platform
  );
  return rows.find(r => (variant ? r.variant === variant : r.default)) ?? null;
}

export interface IVisibleDevice {
  entry: string;
  device: number;
  mig: string | null;
}

export interface IDriverDevice {
  index: number;
  uuid?: string | null;
  mig?: { uuid?: string | null }[] | null;
}

/**
 * What CUDA_VISIBLE_DEVICES leaves visible, as CUDA reads it: entries are indices,
 * GPU-<uuid> (a unique prefix is enough) or MIG-<uuid>; CUDA stops at the first entry it
 * cannot resolve, so that entry and all after it are hidden.
 */
export function visibleDevices(
  value: string | null,
  devices: IDriverDevice[]
): { set: boolean; visible: IVisibleDevice[]; invalid: string | null } {
  if (value === null) {
    return {
      set: false,
      visible: devices.map(d => ({ entry: String(d.index), device: d.index, mig: null })),
      invalid: null
    };
  }
  const visible: IVisibleDevice[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    const found = resolveDevice(entry, devices);
    if (!found) {
      return { set: true, visible, invalid: entry };
    }
    visible.push(found);
  }
  return { set: true, visible, invalid: null };
}

function resolveDevice(entry: string, devices: IDriverDevice[]): IVisibleDevice | null {
  if (/^\d+$/.test(entry)) {
    const index = Number(entry);
    return index < devices.length ? { entry, device: index, mig: null } : null;
  }
  if (entry.startsWith('GPU-') && entry.length > 4) {
    const matches = devices.filter(d => (d.uuid ?? '').startsWith(entry));
    return matches.length === 1 ? { entry, device: matches[0].index, mig: null } : null;
  }
  if (entry.startsWith('MIG-') && entry.length > 4) {
    for (const device of devices) {
      if ((device.mig ?? []).some(m => (m.uuid ?? '') === entry)) {
        return { entry, device: device.index, mig: entry };
      }
    }
  }
  return null;
}

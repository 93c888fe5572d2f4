/**
 * What one executed cell did on the GPU, from the kernel's record (kernel/cell_usage.py) and the
 * server's utilisation samples over the cell's run time.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { CellUsageMode } from '../api';
import { formatSize, MemoryUnits } from '../core/memory';
import type { IGPUHistory } from '../tokens';

/** One device in a kernel record (bytes; torch's caching-allocator counters). */
export interface IDeviceUsage {
  index: number;
  uuid: string | null;
  /**
   * The cell's peak; null when it is unknown: in the "change" mode (torch's statistics not
   * reset) a cell that stayed below an earlier high-water mark has no peak of its own.
   */
  peak_allocated: number | null;
  peak_reserved: number | null;
  allocated_before: number;
  allocated_after: number;
  /** Absent in records of gpuscope before 0.2. */
  reserved_before?: number;
  reserved_after?: number;
}

/** What the kernel sends after each cell while CUDA is initialised. */
export interface ICellRecord {
  execution_count: number | null;
  /** Seconds since the epoch; null when CUDA started during the cell. */
  start: number | null;
  end: number;
  /** How it measured (kernel/cell_usage.py); absent before 0.2, which always reset. */
  mode?: CellUsageMode;
  devices: IDeviceUsage[];
}

export interface ICellUsage {
  executionCount: number | null;
  /** The device this cell allocated most on. */
  device: IDeviceUsage;
  /** Highest memory allocated during the cell; null when unknown (see IDeviceUsage). */
  peak: number | null;
  /** Memory allocated after the cell minus before it. */
  delta: number;
  seconds: number | null;
  /** Mean GPU utilisation the server sampled while the cell ran, when known. */
  utilization: number | null;
  /** True when the utilisation comes from a recording, not this machine's GPU. */
  utilizationRecorded: boolean;
  all: IDeviceUsage[];
}

/** The most memory the cell is known to have held on a device. */
function highest(d: IDeviceUsage): number {
  return d.peak_allocated ?? Math.max(d.allocated_before, d.allocated_after);
}

/** Whether a device's counters moved during the cell. */
function touched(d: IDeviceUsage): boolean {
  return (
    (d.peak_allocated !== null && d.peak_allocated > d.allocated_before) ||
    d.allocated_after !== d.allocated_before ||
    (d.reserved_after ?? 0) !== (d.reserved_before ?? 0)
  );
}

/** For ordering cells: the known peak, else what the cell left allocated. */
export function heaviness(usage: ICellUsage): number {
  return highest(usage.device);
}

/**
 * The usage to show, or null for a cell that did not touch the GPU (its record only says
 * that CUDA was up). Malformed records are ignored.
 */
export function summarize(
  record: ICellRecord,
  utilization?: (
    device: IDeviceUsage,
    start: number,
    end: number
  ) => { value: number; recorded: boolean } | null
): ICellUsage | null {
  const devices = Array.isArray(record?.devices) ? record.devices.filter(validDevice) : [];
  const used = devices.filter(touched);
  if (!used.length) {
    return null;
  }
  const device = used.reduce((a, b) =>
    highest(b) - b.allocated_before > highest(a) - a.allocated_before ? b : a
  );
  const util =
    record.start !== null && utilization ? utilization(device, record.start, record.end) : null;
  return {
    executionCount: record.execution_count,
    device,
    peak: device.peak_allocated,
    delta: device.allocated_after - device.allocated_before,
    seconds: record.start !== null ? Math.max(0, record.end - record.start) : null,
    utilization: util?.value ?? null,
    utilizationRecorded: util?.recorded ?? false,
    all: devices
  };
}

function validDevice(d: IDeviceUsage): boolean {
  const bytes = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  return (
    Number.isInteger(d?.index) &&
    bytes(d.allocated_before) &&
    bytes(d.allocated_after) &&
    [d.peak_allocated, d.peak_reserved].every(v => v === null || bytes(v)) &&
    [d.reserved_before, d.reserved_after].every(v => v === undefined || bytes(v))
  );
}

function signed(bytes: number, units: MemoryUnits): string {
  return `${bytes < 0 ? '−' : '+'}${formatSize(Math.abs(bytes), units)}`;
}

/** "GPU peak 3.20 GiB (+1.10 GiB) · util 94 %", or "GPU +1.10 GiB, 3.20 GiB held". */
export function annotationText(
  usage: ICellUsage,
  units: MemoryUnits,
  trans: TranslationBundle
): string {
  const memory =
    usage.peak !== null
      ? trans.__('GPU peak %1 (%2)', formatSize(usage.peak, units), signed(usage.delta, units))
      : trans.__(
          'GPU %1, %2 held',
          signed(usage.delta, units),
          formatSize(usage.device.allocated_after, units)
        );
  if (usage.utilization === null) {
    return memory;
  }
  const util = Math.round(usage.utilization);
  return usage.utilizationRecorded
    ? trans.__('%1 · util %2 % (replay)', memory, util)
    : trans.__('%1 · util %2 %', memory, util);
}

/** The details behind the annotation, one fact per line. */
export function annotationDetails(
  usage: ICellUsage,
  mode: CellUsageMode,
  units: MemoryUnits,
  trans: TranslationBundle
): string {
  const lines = usage.all.map(d => {
    const held = trans.__(
      '%1 allocated before, %2 after',
      formatSize(d.allocated_before, units),
      formatSize(d.allocated_after, units)
    );
    return d.peak_allocated !== null
      ? trans.__(
          'cuda:%1: peak %2 allocated, %3 reserved by PyTorch; %4',
          d.index,
          formatSize(d.peak_allocated, units),
          d.peak_reserved === null ? trans.__('n/a') : formatSize(d.peak_reserved, units),
          held
        )
      : trans.__('cuda:%1: %2', d.index, held);
  });
  if (usage.seconds !== null) {
    lines.push(trans.__('ran %1 s', usage.seconds.toFixed(usage.seconds < 10 ? 2 : 0)));
  }
  if (usage.utilization !== null) {
    lines.push(
      usage.utilizationRecorded
        ? trans.__('utilisation from the replayed recording the server plays, not from this GPU')
        : trans.__('utilisation: mean of the server’s samples while the cell ran')
    );
  }
  if (usage.peak === null) {
    lines.push(
      trans.__(
        'No peak of its own: the cell stayed below an earlier peak, and torch’s peak statistics are left alone (Settings → Per-cell GPU usage → measure).'
      )
    );
  } else if (mode === 'peak') {
    lines.push(trans.__('torch’s peak memory statistics are reset before every cell.'));
  }
  lines.push(trans.__('Counts PyTorch’s allocator only (not other libraries’ memory).'));
  return lines.join('\n');
}

/**
 * Mean utilisation in the samples taken while the cell ran. A sample reports the period
 * before it, so one sample after the end counts too; null when none fell in that time.
 */
export function utilizationDuring(
  history: IGPUHistory,
  start: number,
  end: number,
  intervalSeconds: number
): number | null {
  let sum = 0;
  let count = 0;
  for (let i = history.time.length - 1; i >= 0 && history.time[i] >= start; i--) {
    const value = history.utilization[i];
    if (history.time[i] <= end + intervalSeconds && value !== null) {
      sum += value;
      count++;
    }
  }
  return count ? sum / count : null;
}

/** A cell that may not fit now: what it needed last time and what is free for it now. */
export interface IFitWarning {
  /** Bytes the cell allocated at its peak above what it started with, last time. */
  needed: number;
  /** Free on the GPU now (all processes counted) plus this kernel's reusable cache. */
  available: number;
  /** The server's GPU index. */
  gpu: number;
}

/**
 * Whether a cell run again may run out of memory: last time it needed `needed` above the
 * memory it started with; the GPU now has `memory_total - memory_used` free, and torch
 * can reuse this kernel's cache (reserved but not allocated) without asking the GPU.
 * Null when it fits, or when any figure is unknown (no peak of its own, no reading).
 */
export function fitWarning(
  usage: ICellUsage,
  gpu: { index: number; memory_total: number | null; memory_used: number | null } | null,
  kernelCache: number
): IFitWarning | null {
  const device = usage.device;
  if (
    device.peak_allocated === null ||
    !gpu ||
    gpu.memory_total === null ||
    gpu.memory_used === null
  ) {
    return null;
  }
  const needed = device.peak_allocated - device.allocated_before;
  const available = gpu.memory_total - gpu.memory_used + Math.max(kernelCache, 0);
  return needed > available ? { needed, available, gpu: gpu.index } : null;
}

/** "Last run this cell needed 12.00 GiB more on GPU 0; 8.00 GiB is free for it now." */
export function fitWarningText(
  warning: IFitWarning,
  units: MemoryUnits,
  trans: TranslationBundle
): string {
  return trans.__(
    'Last run this cell needed %1 more on GPU %2; %3 is free for it now (other processes counted). It may run out of memory.',
    formatSize(warning.needed, units),
    warning.gpu,
    formatSize(warning.available, units)
  );
}

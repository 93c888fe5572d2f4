/**
 * What one executed cell did on the GPU, from the kernel's record (kernel.py) and the
 * server's utilisation samples over the cell's run time.
 */
import { formatSize } from '../core/explain/oom';
import type { IGPUHistory } from '../tokens';

/** One device in a kernel record (bytes; torch's caching-allocator counters). */
export interface IDeviceUsage {
  index: number;
  uuid: string | null;
  peak_allocated: number;
  peak_reserved: number;
  allocated_before: number;
  allocated_after: number;
}

/** What the kernel sends after each cell while CUDA is initialised. */
export interface ICellRecord {
  execution_count: number | null;
  /** Seconds since the epoch; null when CUDA started during the cell. */
  start: number | null;
  end: number;
  devices: IDeviceUsage[];
}

export interface ICellUsage {
  executionCount: number | null;
  /** The device this cell allocated most on. */
  device: IDeviceUsage;
  /** Highest memory allocated during the cell. */
  peak: number;
  /** Memory allocated after the cell minus before it. */
  delta: number;
  seconds: number | null;
  /** Mean GPU utilisation the server sampled while the cell ran, when known. */
  utilization: number | null;
  /** True when the utilisation comes from a recording, not this machine's GPU. */
  utilizationRecorded: boolean;
  all: IDeviceUsage[];
}

/** Whether a device's counters moved during the cell. */
function touched(d: IDeviceUsage): boolean {
  return d.peak_allocated > d.allocated_before || d.allocated_after !== d.allocated_before;
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
    b.peak_allocated - b.allocated_before > a.peak_allocated - a.allocated_before ? b : a
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
  return (
    Number.isInteger(d?.index) &&
    [d.peak_allocated, d.peak_reserved, d.allocated_before, d.allocated_after].every(
      v => Number.isFinite(v) && v >= 0
    )
  );
}

function signed(bytes: number): string {
  return `${bytes < 0 ? '−' : '+'}${formatSize(Math.abs(bytes))}`;
}

/** "GPU peak 3.20 GiB (+1.10 GiB) · util 94 %". */
export function annotationText(usage: ICellUsage): string {
  let text = `GPU peak ${formatSize(usage.peak)} (${signed(usage.delta)})`;
  if (usage.utilization !== null) {
    text += ` · util ${Math.round(usage.utilization)} %${usage.utilizationRecorded ? ' (replay)' : ''}`;
  }
  return text;
}

/** The details behind the annotation, one fact per line. */
export function annotationDetails(usage: ICellUsage): string {
  const lines = usage.all.map(
    d =>
      `cuda:${d.index}: peak ${formatSize(d.peak_allocated)} allocated, ${formatSize(d.peak_reserved)} reserved by PyTorch; ` +
      `${formatSize(d.allocated_before)} before, ${formatSize(d.allocated_after)} after`
  );
  if (usage.seconds !== null) {
    lines.push(`ran ${usage.seconds.toFixed(usage.seconds < 10 ? 2 : 0)} s`);
  }
  if (usage.utilization !== null) {
    lines.push(
      usage.utilizationRecorded
        ? 'utilisation from the replayed recording the server plays, not from this GPU'
        : 'utilisation: mean of the server’s samples while the cell ran'
    );
  }
  lines.push('Counts PyTorch’s allocator only (not other libraries’ memory).');
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

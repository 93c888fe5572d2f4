import type { TranslationBundle } from '@jupyterlab/translation';

import type { IGPUSample } from '../api';
import type { IThresholds, MemoryUnits, StatusContent } from '../tokens';
import { formatUsedOfTotal } from '../core/memory';

export type Level = 'normal' | 'warning' | 'critical';

export function formatPercent(value: number | null): string {
  return value === null ? 'n/a' : `${Math.round(value)}%`;
}

export function formatWatts(milliwatts: number | null): string {
  return milliwatts === null ? 'n/a' : `${Math.round(milliwatts / 1000)} W`;
}

/** PCIe throughput from KB/s: "1.2 GB/s", "530 MB/s". */
export function formatThroughput(kbPerSecond: number | null): string {
  if (kbPerSecond === null) {
    return 'n/a';
  }
  const bytes = kbPerSecond * 1000;
  if (bytes >= 1e9) {
    return `${(bytes / 1e9).toFixed(1)} GB/s`;
  }
  if (bytes >= 1e6) {
    return `${Math.round(bytes / 1e6)} MB/s`;
  }
  return `${Math.round(bytes / 1e3)} KB/s`;
}

/** NVML throttle reasons in words (the server sends stable keys). */
export function throttleWords(reasons: string[] | null, trans: TranslationBundle): string[] {
  if (reasons === null) {
    return [];
  }
  const words: Record<string, string> = {
    gpu_idle: trans.__('idle'),
    applications_clocks_setting: trans.__('application clocks setting'),
    sw_power_cap: trans.__('power cap'),
    hw_slowdown: trans.__('hardware slowdown'),
    sync_boost: trans.__('sync boost'),
    sw_thermal_slowdown: trans.__('thermal slowdown (software)'),
    hw_thermal_slowdown: trans.__('thermal slowdown (hardware)'),
    hw_power_brake_slowdown: trans.__('power brake'),
    display_clock_setting: trans.__('display clock setting')
  };
  return reasons.filter(r => r !== 'gpu_idle').map(r => words[r] ?? r);
}

const THERMAL = new Set([
  'sw_thermal_slowdown',
  'hw_thermal_slowdown',
  'hw_slowdown',
  'hw_power_brake_slowdown'
]);

/**
 * The colour of one GPU's memory: near the warning or the critical threshold (a GPU that
 * cannot be read is critical). Throttling never colours memory: it is said in words
 * (throttleLevel, throttleWords), because orange on a memory bar reads as "memory".
 */
export function memoryLevel(gpu: IGPUSample, thresholds: IThresholds): Level {
  if (gpu.status !== 'ok') {
    return 'critical';
  }
  if (gpu.memory_used === null || !gpu.memory_total) {
    return 'normal';
  }
  const percent = (100 * gpu.memory_used) / gpu.memory_total;
  return percent >= thresholds.memoryCriticalPercent
    ? 'critical'
    : percent >= thresholds.memoryWarningPercent
      ? 'warning'
      : 'normal';
}

/** How much throttling matters, when the user asked to be warned: a power cap is a
 * warning, a thermal slowdown critical. */
export function throttleLevel(gpu: IGPUSample, thresholds: IThresholds): Level {
  if (!thresholds.warnOnThrottle || !gpu.throttle_reasons) {
    return 'normal';
  }
  if (gpu.throttle_reasons.some(r => THERMAL.has(r))) {
    return 'critical';
  }
  return gpu.throttle_reasons.includes('sw_power_cap') ? 'warning' : 'normal';
}

/** The busiest GPU: highest utilisation, then highest memory fraction. */
export function busiest(gpus: IGPUSample[]): IGPUSample | null {
  let best: IGPUSample | null = null;
  const score = (g: IGPUSample) =>
    (g.util_gpu ?? -1) * 1000 +
    (g.memory_used !== null && g.memory_total ? g.memory_used / g.memory_total : 0);
  for (const gpu of gpus) {
    if (best === null || score(gpu) > score(best)) {
      best = gpu;
    }
  }
  return best;
}

/** The status bar's text for the GPUs in view. */
export function statusText(
  gpus: IGPUSample[],
  content: StatusContent,
  units: MemoryUnits,
  trans: TranslationBundle,
  sharedMemory: ReadonlySet<number> = new Set()
): string {
  const shown = busiest(gpus);
  if (shown === null) {
    return trans.__('No GPU');
  }
  const parts: string[] = [];
  if (shown.status !== 'ok') {
    parts.push(shown.status === 'lost' ? trans.__('lost') : trans.__('n/a'));
  } else {
    if (content !== 'memory') {
      parts.push(formatPercent(shown.util_gpu));
    }
    if (content !== 'utilization') {
      const memory = formatUsedOfTotal(shown.memory_used, shown.memory_total, units);
      // A GPU without memory of its own (Jetson, GB10): the figure is the system's.
      parts.push(sharedMemory.has(shown.index) ? trans.__('%1 shared', memory) : memory);
    }
  }
  const more = gpus.length > 1 ? ` +${gpus.length - 1}` : '';
  return trans.__('GPU %1: %2', shown.index, parts.join(' · ')) + more;
}

import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { IMonitorConfig, MemoryUnits, StatusContent } from '../tokens';
import type { IPolicy } from '../api';
import { WINDOW_CHOICES } from './panel';

const CONTENTS: StatusContent[] = ['utilization-and-memory', 'memory', 'utilization'];

/**
 * The monitor settings from the registry's composite, each value checked: a hand-edited
 * settings file with a wrong type falls back to the default instead of breaking views.
 */
export function monitorConfig(composite: ReadonlyPartialJSONObject): IMonitorConfig {
  const number = (key: string, fallback: number, min: number, max: number) => {
    const value = composite[key];
    return typeof value === 'number' && value >= min && value <= max ? value : fallback;
  };
  const warning = number('memoryWarningPercent', 85, 1, 100);
  const critical = number('memoryCriticalPercent', 95, 1, 100);
  const content = composite.statusBarContent as StatusContent;
  const window = composite.chartWindowMinutes as number;
  return {
    updateIntervalSeconds: number('updateIntervalSeconds', 1, 0.25, 60),
    statusBarContent: CONTENTS.includes(content) ? content : 'utilization-and-memory',
    thresholds: {
      memoryWarningPercent: Math.min(warning, critical),
      memoryCriticalPercent: Math.max(warning, critical),
      warnOnThrottle: composite.warnOnThrottle !== false
    },
    chartWindowMinutes: WINDOW_CHOICES.includes(window) ? window : 15,
    memoryUnits: (composite.memoryUnits === 'GB' ? 'GB' : 'GiB') as MemoryUnits
  };
}

/**
 * The user's settings with what the admin set on the server put over them: settings files
 * cannot be locked, the server's configuration can.
 */
export function withPolicy(
  composite: ReadonlyPartialJSONObject,
  policy: IPolicy | null
): ReadonlyPartialJSONObject {
  const merged = { ...composite };
  if (policy?.memory_warning_percent) {
    merged.memoryWarningPercent = policy.memory_warning_percent;
  }
  if (policy?.memory_critical_percent) {
    merged.memoryCriticalPercent = policy.memory_critical_percent;
  }
  return merged;
}

import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { IPolicy } from '../api';
import type { IMonitorConfig, MemoryUnits, StatusContent } from '../tokens';
import { schemaChoices, schemaDefaults } from '../ui/settings';

const CONTENTS: StatusContent[] = ['utilization-and-memory', 'memory', 'utilization'];
const UNITS: MemoryUnits[] = ['GiB', 'GB'];

/**
 * The monitor settings from the registry's composite, each value checked; one that does
 * not fit (an admin's policy value, a settings file edited by hand) takes the schema's
 * default (schema/monitor.json: no default or choice is written here).
 */
export function monitorConfig(
  composite: ReadonlyPartialJSONObject,
  schema: ISettingRegistry.ISchema
): IMonitorConfig {
  const defaults = schemaDefaults(schema);
  const windowChoices = windowChoicesOf(schema);
  const pick = <T>(key: string, fits: (value: unknown) => boolean): T =>
    (fits(composite[key]) ? composite[key] : defaults[key]) as T;
  const within = (min: number, max: number) => (value: unknown) =>
    typeof value === 'number' && value >= min && value <= max;
  const warning = pick<number>('memoryWarningPercent', within(1, 100));
  const critical = pick<number>('memoryCriticalPercent', within(1, 100));
  return {
    updateIntervalSeconds: pick('updateIntervalSeconds', within(0.25, 60)),
    statusBarContent: pick('statusBarContent', value => CONTENTS.includes(value as StatusContent)),
    thresholds: {
      memoryWarningPercent: Math.min(warning, critical),
      memoryCriticalPercent: Math.max(warning, critical),
      warnOnThrottle: pick('warnOnThrottle', value => typeof value === 'boolean')
    },
    chartWindowMinutes: pick('chartWindowMinutes', value =>
      windowChoices.includes(value as number)
    ),
    memoryUnits: pick('memoryUnits', value => UNITS.includes(value as MemoryUnits))
  };
}

/** The History choices of the panel (minutes): the schema's choices for chartWindowMinutes. */
export function windowChoicesOf(schema: ISettingRegistry.ISchema): number[] {
  return schemaChoices(schema, 'chartWindowMinutes').filter(
    (value): value is number => typeof value === 'number'
  );
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

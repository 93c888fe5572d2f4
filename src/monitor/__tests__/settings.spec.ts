import { monitorConfig } from '../settings';

describe('monitorConfig', () => {
  it('uses the schema defaults for an empty composite', () => {
    expect(monitorConfig({})).toEqual({
      updateIntervalSeconds: 1,
      statusBarContent: 'utilization-and-memory',
      thresholds: { memoryWarningPercent: 85, memoryCriticalPercent: 95, warnOnThrottle: true },
      chartWindowMinutes: 15,
      memoryUnits: 'GiB'
    });
  });

  it('falls back on values of the wrong type or out of range', () => {
    const config = monitorConfig({
      updateIntervalSeconds: 0.01,
      statusBarContent: 'everything',
      chartWindowMinutes: 7,
      memoryUnits: 'bytes',
      memoryWarningPercent: '90' as any
    });
    expect(config.updateIntervalSeconds).toBe(1);
    expect(config.statusBarContent).toBe('utilization-and-memory');
    expect(config.chartWindowMinutes).toBe(15);
    expect(config.memoryUnits).toBe('GiB');
    expect(config.thresholds.memoryWarningPercent).toBe(85);
  });

  it('orders swapped thresholds', () => {
    const config = monitorConfig({ memoryWarningPercent: 97, memoryCriticalPercent: 80 });
    expect(config.thresholds).toMatchObject({ memoryWarningPercent: 80, memoryCriticalPercent: 97 });
  });
});

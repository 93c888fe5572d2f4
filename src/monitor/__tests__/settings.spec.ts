import { sharedGPUsReply } from '../../shared-gpus/__tests__/fixtures';
import { settingsSchema } from '../../__tests__/schemas';
import { monitorConfig, windowChoicesOf, withPolicy } from '../settings';

const schema = settingsSchema('monitor');

describe('monitorConfig', () => {
  it('takes its choices from the schema', () => {
    expect(windowChoicesOf(schema)).toEqual([1, 5, 15, 60]);
  });

  it('uses the schema defaults for an empty composite', () => {
    expect(monitorConfig({}, schema)).toEqual({
      updateIntervalSeconds: 1,
      statusBarContent: 'utilization-and-memory',
      thresholds: { memoryWarningPercent: 85, memoryCriticalPercent: 95, warnOnThrottle: true },
      chartWindowMinutes: 15,
      memoryUnits: 'GiB'
    });
  });

  it('falls back on values of the wrong type or out of range', () => {
    const config = monitorConfig(
      {
        updateIntervalSeconds: 0.01,
        statusBarContent: 'everything',
        chartWindowMinutes: 7,
        memoryUnits: 'bytes',
        memoryWarningPercent: '90' as any
      },
      schema
    );
    expect(config.updateIntervalSeconds).toBe(1);
    expect(config.statusBarContent).toBe('utilization-and-memory');
    expect(config.chartWindowMinutes).toBe(15);
    expect(config.memoryUnits).toBe('GiB');
    expect(config.thresholds.memoryWarningPercent).toBe(85);
  });

  it('orders swapped thresholds', () => {
    const config = monitorConfig({ memoryWarningPercent: 97, memoryCriticalPercent: 80 }, schema);
    expect(config.thresholds).toMatchObject({
      memoryWarningPercent: 80,
      memoryCriticalPercent: 97
    });
  });
});

describe('monitor settings with the server policy', () => {
  it("puts the admin's thresholds over the user's, and only those", () => {
    const user = { memoryWarningPercent: 60, memoryCriticalPercent: 70, chartWindowMinutes: 5 };
    const policy = {
      ...sharedGPUsReply().policy,
      memory_warning_percent: 80,
      memory_critical_percent: 97
    };
    const config = monitorConfig(withPolicy(user, policy), schema);
    expect(config.thresholds.memoryWarningPercent).toBe(80);
    expect(config.thresholds.memoryCriticalPercent).toBe(97);
    expect(config.chartWindowMinutes).toBe(5);
    // Not set on the server (null): the user's own.
    expect(
      monitorConfig(withPolicy(user, sharedGPUsReply().policy), schema).thresholds
        .memoryWarningPercent
    ).toBe(60);
    expect(monitorConfig(withPolicy(user, null), schema).thresholds.memoryCriticalPercent).toBe(70);
  });
});

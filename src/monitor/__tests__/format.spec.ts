import { nullTranslator } from '@jupyterlab/translation';

import { formatUsedOfTotal } from '../../core/memory';
import { formatThroughput, memoryLevel, statusText, throttleLevel, throttleWords } from '../format';
import { GiB, gpu } from '../../__tests__/fakes';

const trans = nullTranslator.load('test');
const thresholds = { memoryWarningPercent: 85, memoryCriticalPercent: 95, warnOnThrottle: true };

describe('format', () => {
  it('writes one GPU the way the status bar shows it', () => {
    expect(statusText([gpu(0)], 'utilization-and-memory', 'GiB', trans)).toBe(
      'GPU 0: 87% · 41.2/80 GiB'
    );
    expect(statusText([gpu(0)], 'memory', 'GiB', trans)).toBe('GPU 0: 41.2/80 GiB');
    expect(statusText([gpu(0)], 'utilization', 'GiB', trans)).toBe('GPU 0: 87%');
  });

  it("says a GPU's memory is shared where the GPU uses the system's (Jetson, GB10)", () => {
    const unified = gpu(0, { memory_used: 30 * GiB, memory_total: 120 * GiB });
    expect(statusText([unified], 'memory', 'GiB', trans, new Set([0]))).toBe(
      'GPU 0: 30.0/120 GiB shared'
    );
    expect(statusText([unified], 'memory', 'GiB', trans, new Set([1]))).toBe('GPU 0: 30.0/120 GiB');
  });

  it('keeps several GPUs short: the busiest and a count', () => {
    const gpus = [gpu(0, { util_gpu: 10 }), gpu(1, { util_gpu: 99 }), gpu(2, { util_gpu: 50 })];
    expect(statusText(gpus, 'utilization-and-memory', 'GiB', trans)).toBe(
      'GPU 1: 99% · 41.2/80 GiB +2'
    );
  });

  it('converts to GB when asked', () => {
    expect(formatUsedOfTotal(40e9, 80e9, 'GB')).toBe('40.0/80 GB');
    expect(formatUsedOfTotal(null, 80 * GiB, 'GiB')).toBe('n/a/80 GiB');
  });

  it('says n/a rather than inventing a value', () => {
    const lost = gpu(0, {
      status: 'lost',
      reason: 'the GPU is lost',
      util_gpu: null,
      memory_used: null
    });
    expect(statusText([lost], 'utilization-and-memory', 'GiB', trans)).toBe('GPU 0: lost');
    expect(formatThroughput(null)).toBe('n/a');
    expect(formatThroughput(60_000_000)).toBe('60.0 GB/s');
  });

  it('colours by memory thresholds', () => {
    expect(memoryLevel(gpu(0, { memory_used: 50 * GiB }), thresholds)).toBe('normal');
    expect(memoryLevel(gpu(0, { memory_used: 70 * GiB }), thresholds)).toBe('warning');
    expect(memoryLevel(gpu(0, { memory_used: 77 * GiB }), thresholds)).toBe('critical');
  });

  it('rates power capping a warning and thermal slowdown critical, never as memory', () => {
    const capped = gpu(0, { memory_used: 37.6 * GiB, throttle_reasons: ['sw_power_cap'] });
    expect(throttleLevel(capped, thresholds)).toBe('warning');
    // Power-capped at 47 % memory: the memory is not orange.
    expect(memoryLevel(capped, thresholds)).toBe('normal');
    expect(throttleLevel(gpu(0, { throttle_reasons: ['hw_thermal_slowdown'] }), thresholds)).toBe(
      'critical'
    );
    expect(throttleLevel(capped, { ...thresholds, warnOnThrottle: false })).toBe('normal');
  });

  it('puts throttle reasons in words and leaves out idle', () => {
    expect(throttleWords(['gpu_idle', 'sw_power_cap', 'sw_thermal_slowdown'], trans)).toEqual([
      'power cap',
      'thermal slowdown (software)'
    ]);
  });
});

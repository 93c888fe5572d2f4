/**
 * The memory X-ray on a real GPU, as scripts/gpu_memory_xray.py recorded it (an H100: a model
 * trained with Adam, a 4 GiB output kept in Out, an out-of-memory error inside a function
 * holding 6 GiB): the figures the view shows and the claims the docs make about them.
 */
import { nullTranslator } from '@jupyterlab/translation';

import type { IMemoryBreakdown } from '../../api';
import { MemoryView } from '../view';
import record from './fixtures/h100-memory-xray.json';

const GiB = 2 ** 30;
const breakdown = record.breakdown as unknown as IMemoryBreakdown;
const [device] = breakdown.devices;

describe('the memory X-ray recorded on an H100', () => {
  it('names holders that add up to torch.cuda.memory_allocated() within 1 %', () => {
    const named = device.holders.reduce((n, h) => n + h.bytes, 0);
    expect(named).toBe(device.reached);
    expect(named + device.unreached!).toBe(device.allocated);
    expect(named / device.allocated!).toBeGreaterThan(0.99);
  });

  it("names the kernel's holders as the user wrote them, the error's frames apart", () => {
    const sizes = Object.fromEntries(device.holders.map(h => [h.name, h.bytes / GiB]));
    expect(sizes).toMatchObject({
      "the last error's frames": 6,
      'Out[3]': 4
    });
    expect(device.holders.find(h => h.name === 'opt')!.shared_with).toEqual(['model']);
  });

  it('each action freed, by NVML, what the breakdown said it held', () => {
    const freed = Object.fromEntries(
      record.actions.map(a => [a.action, [a.report.freed[0].nvml, a.nvml_freed_by_script]])
    );
    // Measured by the kernel and, independently, by the script: the same.
    expect(freed.drop_last_error).toEqual([6 * GiB, 6 * GiB]);
    expect(freed.clear_output_history).toEqual([4 * GiB, 4 * GiB]);
    // The optimizer holds the model's parameters: deleting the model frees its gradients.
    expect(freed['delete model']).toEqual([2 * GiB, 2 * GiB]);
  });

  it('shows the recorded breakdown with the totals NVML gave for the process', () => {
    const view = new MemoryView({
      trans: nullTranslator.load('jupyterlab_gpuscope'),
      units: () => 'GiB'
    });
    view.render(breakdown);
    expect(view.node.querySelector('.jp-gpuscope-Memory-summary')!.textContent).toBe(
      "In this kernel: the last error's frames 6.00 GiB, model 4.00 GiB, opt 4.00 GiB"
    );
    expect(view.node.textContent).toContain('NVML shows 18.81 GiB for this process in all');
  });
});

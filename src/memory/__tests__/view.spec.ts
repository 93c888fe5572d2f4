import { nullTranslator } from '@jupyterlab/translation';

import type { IMemoryAction, IMemoryBreakdown } from '../../api';
import { flush, GiB } from '../../__tests__/fakes';
import { MemoryView, summary } from '../view';

const trans = nullTranslator.load('jupyterlab_gpuscope');

function breakdown(): IMemoryBreakdown {
  return {
    version: 1,
    available: true,
    reason: null,
    devices: [
      {
        index: 0,
        uuid: 'GPU-1',
        holders: [
          { kind: 'variable', name: 'model', bytes: 12 * GiB, tensors: 40, shared_with: [] },
          {
            kind: 'error',
            name: "the last error's frames",
            bytes: 6 * GiB,
            tensors: 6,
            shared_with: []
          },
          { kind: 'output', name: 'Out[7]', bytes: 4 * GiB, tensors: 1, shared_with: [] },
          { kind: 'variable', name: 'opt', bytes: 0, tensors: 20, shared_with: ['model'] },
          { kind: 'output', name: '_', bytes: 0, tensors: 1, shared_with: ['Out[7]'] }
        ],
        reached: 22 * GiB,
        allocated: 22.5 * GiB,
        reserved: 30 * GiB,
        cache: 7.5 * GiB,
        cache_returnable: 7 * GiB,
        unreached: 0.5 * GiB,
        nvml_process: 30.5 * GiB
      }
    ],
    pools: [{ library: 'CuPy', device: null, used: GiB, held: 2 * GiB }],
    nvml_reason: null,
    allocations: [],
    truncated: [],
    elapsed_ms: 3
  };
}

function view(overrides: Partial<ConstructorParameters<typeof MemoryView>[0]> = {}) {
  const calls = { act: [] as [string, string[]][], confirm: [] as string[], refresh: 0 };
  const v = new MemoryView({
    trans,
    units: () => 'GiB',
    act: async (action, args) => {
      calls.act.push([action, args]);
      return {
        action,
        ok: true,
        message: `deleted ${args[0]}`,
        freed: [{ index: 0, nvml: 4 * GiB, reserved: 4 * GiB }]
      } as IMemoryAction;
    },
    confirm: async title => {
      calls.confirm.push(title);
      return true;
    },
    refresh: async () => {
      calls.refresh++;
    },
    ...overrides
  });
  v.render(breakdown());
  return { v, calls };
}

const rows = (node: HTMLElement) =>
  Array.from(node.querySelectorAll('tbody tr')).map(r =>
    Array.from(r.children)
      .map(c => c.textContent)
      .join(' | ')
  );
const button = (node: HTMLElement, label: string) =>
  Array.from(node.querySelectorAll('button')).find(b => b.textContent === label)!;

describe('the memory breakdown view', () => {
  it('names each holder with its memory, the cache, what no name reaches and the context', () => {
    const { v } = view();
    expect(rows(v.node)).toEqual([
      'model | 12.00 GiB |  | Delete',
      "The last error's frames | 6.00 GiB |  | Drop frames",
      'Out[7] | 4.00 GiB |  | Clear history',
      'opt | 0 bytes | shares memory with model | Delete',
      '_ | 0 bytes | shares memory with Out[7] | ',
      'Allocated, no name reaches it | 512.00 MiB | held by other objects, C extensions, or leaked | ',
      "The allocator's cache | 7.50 GiB | reserved by torch, not in use; empty_cache() returns 7.00 GiB of it | Free cache",
      'CUDA context and libraries | 512.00 MiB | NVML shows 30.50 GiB for this process in all | '
    ]);
    expect(v.node.querySelector('caption')!.textContent).toBe('GPU 0 (as this kernel numbers it)');
    expect(v.node.textContent).toContain('CuPy pool: 1.00 GiB used of 2.00 GiB held');
  });

  it("the out-of-memory card's sentence names the largest holders", () => {
    expect(summary(breakdown(), 'GiB')).toBe(
      "model 12.00 GiB, the last error's frames 6.00 GiB, Out[7] 4.00 GiB"
    );
    const { v } = view();
    expect(v.node.querySelector('.jp-gpuscope-Memory-summary')!.textContent).toBe(
      "In this kernel: model 12.00 GiB, the last error's frames 6.00 GiB, Out[7] 4.00 GiB"
    );
  });

  it('deletes a variable only after the user confirms, warns of who else holds it, and reports what NVML freed', async () => {
    let body = '';
    const { v, calls } = view({
      confirm: async (title, text) => {
        body = text;
        return true;
      }
    });
    button(v.node, 'Delete').click();
    await flush();
    expect(body).toContain('opt also hold(s) some of its memory');
    expect(calls.act).toEqual([['delete', ['model']]]);
    expect(v.node.querySelector('[role="status"]')!.textContent).toBe(
      'Deleted model: NVML shows 4.00 GiB freed on GPU 0.'
    );
    expect(calls.refresh).toBe(1);
  });

  it('a cancelled confirmation changes nothing', async () => {
    const { v, calls } = view({ confirm: async () => false });
    button(v.node, 'Drop frames').click();
    button(v.node, 'Clear history').click();
    await flush();
    expect(calls.act).toEqual([]);
    expect(calls.refresh).toBe(0);
  });

  it('offers to free the cache only when empty_cache() can give some back', () => {
    const v = new MemoryView({ trans, units: () => 'GiB', act: async () => ({}) as IMemoryAction });
    const data = breakdown();
    data.devices[0].cache_returnable = 0;
    v.render(data);
    expect(v.node.textContent).toContain('empty_cache() returns 0 bytes of it');
    expect(button(v.node, 'Free cache')).toBeUndefined();
  });

  it('freeing the cache loses nothing, so it does not ask', async () => {
    const confirm = jest.fn(async () => true);
    const { v, calls } = view({ confirm });
    button(v.node, 'Free cache').click();
    await flush();
    expect(confirm).not.toHaveBeenCalled();
    expect(calls.act).toEqual([['free_cache', []]]);
  });

  it('a failed action says nothing was changed and does not redraw', async () => {
    const { v, calls } = view({
      act: async action =>
        ({
          action,
          ok: false,
          message: "'model' is not a variable of this kernel",
          freed: []
        }) as IMemoryAction
    });
    button(v.node, 'Delete').click();
    await flush();
    expect(v.node.querySelector('[role="status"]')!.textContent).toBe(
      "Nothing was changed: 'model' is not a variable of this kernel."
    );
    expect(calls.refresh).toBe(0);
  });

  it('without NVML in the kernel, reports the fall in reserved memory and says NVML could not', async () => {
    const { v } = view({
      act: async action =>
        ({
          action,
          ok: true,
          message: "freed the allocator's cache",
          freed: [{ index: 0, nvml: null, reserved: 7.5 * GiB }]
        }) as IMemoryAction
    });
    button(v.node, 'Free cache').click();
    await flush();
    expect(v.node.querySelector('[role="status"]')!.textContent).toBe(
      "Freed the allocator's cache: torch's reserved memory fell by 7.50 GiB on GPU 0 (NVML could not say)."
    );
  });

  it('a saved output shows the breakdown without actions', () => {
    const v = new MemoryView({ trans, units: () => 'GB' });
    v.render(breakdown());
    expect(v.node.querySelectorAll('button')).toHaveLength(0);
    expect(rows(v.node)[0]).toBe('model | 12.88 GB |  | ');
  });

  it('without torch using CUDA, says so in one line', () => {
    const v = new MemoryView({ trans, units: () => 'GiB' });
    v.render({
      ...breakdown(),
      available: false,
      reason: 'torch is not imported in this kernel',
      devices: [],
      pools: []
    });
    expect(v.node.textContent).toBe(
      'No GPU memory breakdown: torch is not imported in this kernel.'
    );
  });

  it('every action button has a label a screen reader reads', () => {
    const { v } = view();
    for (const b of Array.from(v.node.querySelectorAll('button'))) {
      expect(b.getAttribute('aria-label')).toMatch(/\w/);
    }
  });

  it("lists the flight recorder's largest allocations with the cell and line that made them", () => {
    const v = new MemoryView({ trans, units: () => 'GiB' });
    v.render({
      ...breakdown(),
      allocations: [
        {
          device: 0,
          bytes: 6 * GiB,
          execution_count: 3,
          line: 2,
          file: '/tmp/ipykernel_1/9.py',
          function: 'evaluate'
        },
        {
          device: 0,
          bytes: GiB,
          execution_count: null,
          line: 125,
          file: '/site/torch/nn/modules/linear.py',
          function: 'forward'
        }
      ]
    });
    const table = Array.from(v.node.querySelectorAll('table')).find(t =>
      t.caption?.textContent?.startsWith('Largest live allocations')
    )!;
    expect(rows(table)).toEqual([
      'In [3], line 2 | 6.00 GiB | evaluate | 0',
      'linear.py:125 | 1.00 GiB | forward | 0'
    ]);
  });
});

import { nullTranslator } from '@jupyterlab/translation';
import { Signal } from '@lumino/signaling';
import { PanelLayout, Widget } from '@lumino/widgets';
import { NotebookActions } from '@jupyterlab/notebook';

import { collectorReply, FakeAPI, flush } from '../../__tests__/fakes';
import { changeStatus, mockKernel, setStatus } from '../../__tests__/kernels';
import { CellUsageTracker, COMM_TARGET } from '../tracker';

type MockKernel = ReturnType<typeof mockKernel>;

function setUp(kernel: MockKernel, monitor: unknown = null) {
  const panel = {
    sessionContext: {
      session: { kernel },
      kernelChanged: new Signal<unknown, unknown>({}),
      ready: Promise.resolve()
    },
    content: { widgets: [] as unknown[] }
  };
  const notebooks = {
    widgetAdded: new Signal<unknown, unknown>({}),
    forEach: (f: (p: unknown) => void) => f(panel)
  };
  const api = new FakeAPI();
  api.collectorReply = collectorReply({ cell_usage_loader: 'EXTENSION_SOURCE' });
  const tracker = new CellUsageTracker(
    notebooks as never,
    api,
    monitor as never,
    nullTranslator.load('test')
  );
  tracker.enabled = true; // as the plugin does with the settings' default
  return { tracker, panel };
}

const executed = (kernel: MockKernel): string[] =>
  (kernel.requestExecute as jest.Mock).mock.calls.map(([content]) => content.code);
const loads = (kernel: MockKernel) =>
  executed(kernel).filter(code => code.includes('EXTENSION_SOURCE')).length;

describe('loading the kernel extension', () => {
  it('once per kernel start, with the comm target registered first', async () => {
    const kernel = mockKernel();
    setUp(kernel);
    await flush();
    expect(kernel.registerCommTarget).toHaveBeenCalledWith(COMM_TARGET, expect.any(Function));
    expect(loads(kernel)).toBe(1);
    changeStatus(kernel, 'busy');
    changeStatus(kernel, 'idle');
    await flush();
    expect(loads(kernel)).toBe(1);
  });

  it('again after a restart (same connection), not while the kernel is still starting', async () => {
    const kernel = mockKernel();
    setUp(kernel);
    await flush();
    changeStatus(kernel, 'restarting');
    changeStatus(kernel, 'starting');
    await flush();
    expect(loads(kernel)).toBe(1);
    changeStatus(kernel, 'idle');
    await flush();
    expect(loads(kernel)).toBe(2);
    expect(kernel.registerCommTarget).toHaveBeenCalledTimes(1);
    // And after a crash (autorestart).
    changeStatus(kernel, 'autorestarting');
    changeStatus(kernel, 'idle');
    await flush();
    expect(loads(kernel)).toBe(3);
  });

  it('not into a kernel of another language, and not when turned off', async () => {
    const r = mockKernel('R');
    setUp(r);
    await flush();
    expect(executed(r)).toEqual([]);

    const kernel = mockKernel();
    setStatus(kernel, 'starting');
    const { tracker } = setUp(kernel);
    tracker.enabled = false;
    changeStatus(kernel, 'idle');
    await flush();
    expect(loads(kernel)).toBe(0);
  });
});

describe('records from the kernel', () => {
  function cellWith(msgId: string) {
    const layout = new PanelLayout();
    new Widget().layout = layout; // a cell's layout belongs to the cell widget
    const output = new Widget();
    output.addClass('jp-Cell-outputWrapper');
    layout.addWidget(output);
    const metadata: Record<string, unknown> = {};
    return {
      layout,
      metadata,
      isDisposed: false,
      ready: Promise.resolve(),
      outputArea: { future: { msg: { header: { msg_id: msgId } } } },
      model: { type: 'code', setMetadata: (key: string, value: unknown) => (metadata[key] = value) }
    };
  }

  async function deliver(
    tracker: CellUsageTracker,
    kernel: MockKernel,
    record: unknown,
    parentId: string
  ) {
    const [, open] = kernel.registerCommTarget.mock.calls[0];
    const comm: { onMsg?: (msg: unknown) => void } = {};
    open(comm, {});
    comm.onMsg!({ content: { data: record }, parent_header: { msg_id: parentId } });
    await flush();
  }

  const record = {
    execution_count: 2,
    start: null,
    end: 1,
    devices: [
      {
        index: 0,
        uuid: null,
        peak_allocated: 2 * 2 ** 30,
        peak_reserved: 2 * 2 ** 30,
        allocated_before: 0,
        allocated_after: 2 ** 30
      }
    ]
  };

  it('go under the cell whose request they answer; saved in metadata only when asked', async () => {
    const kernel = mockKernel();
    const { tracker, panel } = setUp(kernel);
    const [first, second] = [cellWith('req-1'), cellWith('req-2')];
    (panel.content.widgets as unknown[]).push(first, second);
    await flush();
    await deliver(tracker, kernel, record, 'req-2');
    const line = (cell: ReturnType<typeof cellWith>) =>
      cell.layout.widgets.find((w: Widget) => w.hasClass('jp-gpuscope-CellUsage'));
    expect(line(first)).toBeUndefined();
    expect(line(second)!.node.textContent).toBe('GPU peak 2.00 GiB (+1.00 GiB)');
    expect(second.metadata).toEqual({});
    expect(tracker.heaviest(panel as never).map(h => h.cellIndex)).toEqual([1]);

    tracker.saveInMetadata = true;
    await deliver(tracker, kernel, record, 'req-2');
    expect(second.metadata.gpuscope).toEqual({
      peak_allocated: 2 * 2 ** 30,
      mode: 'peak', // a record without a mode comes from a kernel that reset the peak
      delta_allocated: 2 ** 30,
      utilization: null,
      execution_count: 2
    });
    // One line per cell: the new record replaced the old one.
    expect(
      second.layout.widgets.filter((w: Widget) => w.hasClass('jp-gpuscope-CellUsage'))
    ).toHaveLength(1);
  });

  it('a record for no known request, or a malformed one, changes nothing', async () => {
    const kernel = mockKernel();
    const { tracker, panel } = setUp(kernel);
    const cell = cellWith('req-1');
    (panel.content.widgets as unknown[]).push(cell);
    await flush();
    await deliver(tracker, kernel, record, 'other');
    await deliver(tracker, kernel, 'junk', 'req-1');
    await deliver(tracker, kernel, { devices: 'x' }, 'req-1');
    expect(cell.layout.widgets).toHaveLength(1);
  });

  describe('will it fit?', () => {
    const GiB = 2 ** 30;
    /** A live GPU 0 of 80 GiB with `free` GiB free (a recording when live is false). */
    const monitor = (free: number, live = true) => ({
      devices: { status: 'ok', live, interval_seconds: 1, devices: [{ index: 0, uuid: null }] },
      latest: { gpus: [{ index: 0, memory_total: 80 * GiB, memory_used: (80 - free) * GiB }] },
      history: () => ({ times: [], values: {} })
    });
    const rerun = (panel: unknown, cell: ReturnType<typeof cellWith>) =>
      (NotebookActions.executionScheduled as unknown as Signal<unknown, unknown>).emit({
        notebook: { parent: panel },
        cell
      });
    const warningOf = (cell: ReturnType<typeof cellWith>) =>
      cell.layout.widgets.find((w: Widget) => w.hasClass('jp-mod-warning'));

    async function ranOnce(free: number, live = true, last = record) {
      const kernel = mockKernel();
      const { tracker, panel } = setUp(kernel, monitor(free, live));
      const cell = cellWith('req-1');
      (panel.content.widgets as unknown[]).push(cell);
      await flush();
      await deliver(tracker, kernel, last, 'req-1');
      rerun(panel, cell);
      await flush();
      return cell;
    }

    it('a cell that needed more than the GPU has free now says so before it runs', async () => {
      const cell = await ranOnce(1.5);
      expect(warningOf(cell)!.node.textContent).toBe(
        'Last run this cell needed 2.00 GiB more on GPU 0; 1.50 GiB is free for it now (other processes counted). It may run out of memory.'
      );
      // Its figures of last time are gone: they are about to change.
      expect(
        cell.layout.widgets.filter((w: Widget) => w.hasClass('jp-gpuscope-CellUsage'))
      ).toHaveLength(1);
    });

    it('no warning when it fits', async () => {
      expect(warningOf(await ranOnce(3))).toBeUndefined();
    });

    it("counts the kernel's own cache, which torch reuses without asking the GPU", async () => {
      const withCache = {
        ...record,
        devices: [{ ...record.devices[0], reserved_before: 0, reserved_after: 2 * GiB }]
      };
      // 1.5 GiB free plus 1 GiB cached (2 reserved, 1 allocated) is enough for 2 GiB.
      expect(warningOf(await ranOnce(1.5, true, withCache))).toBeUndefined();
    });

    it('never warns from a recording', async () => {
      expect(warningOf(await ranOnce(0.5, false))).toBeUndefined();
    });
  });
});

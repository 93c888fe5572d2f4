import { nullTranslator } from '@jupyterlab/translation';

import type { ISharedGPUsReply } from '../../api';
import { SharedGPUsModel } from '../../shared-gpus/model';
import { MonitorModel } from '../model';
import { Widget } from '@lumino/widgets';

import { GPUStatusItem, GPUStatusModel } from '../statusbar';
import { share, sharedGPUsReply } from '../../shared-gpus/__tests__/fixtures';
import {
  devicesReply,
  FakeAPI,
  flush,
  GiB,
  gpu,
  gpuProcess,
  kernelRef,
  migMachine,
  sample,
  processesReply
} from '../../__tests__/fakes';
import { settingsSchema } from '../../__tests__/schemas';
import { monitorConfig } from '../settings';

// The schema's defaults, as the plugin passes them.
const DEFAULTS = monitorConfig({}, settingsSchema('monitor'));
const STATUS_CONFIG = {
  content: DEFAULTS.statusBarContent,
  units: DEFAULTS.memoryUnits,
  thresholds: DEFAULTS.thresholds
};

const trans = nullTranslator.load('test');

describe('GPUStatusModel', () => {
  let api: FakeAPI;
  let monitor: MonitorModel;
  let status: GPUStatusModel;

  beforeEach(() => {
    api = new FakeAPI();
    monitor = new MonitorModel({ api: api, reconnectDelaysMs: [60000] });
  });

  afterEach(() => {
    status.dispose();
    monitor.dispose();
  });

  it('shows utilisation and memory, details in the tooltip', async () => {
    api.history = [sample(1)];
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.text).toBe('GPU 0: 87% · 41.2/80 GiB');
    expect(status.tooltip).toContain('NVIDIA A100-SXM4-80GB (compute capability 8.0)');
    expect(status.tooltip).toContain('61 °C');
    expect(status.tooltip).toContain('350 W of 400 W');
    expect(status.level).toBe('normal');
  });

  it('says power capping in words and keeps the colour for memory', async () => {
    // 37.6 of 80 GiB (47 %), power capped: orange would read as "memory nearly full".
    api.history = [
      sample(1, [gpu(0, { memory_used: 37.6 * GiB, throttle_reasons: ['sw_power_cap'] })])
    ];
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.text).toBe('GPU 0: 87% · 37.6/80 GiB · power cap');
    expect(status.level).toBe('normal');
  });

  it('marks a replay as a replay, always', async () => {
    api.devicesReply = devicesReply({
      backend: 'replay',
      live: false,
      source: {
        kind: 'replay',
        trace: 'h200-workload.jsonl',
        description: 'Replay of a recording from 1× NVIDIA H200, not a live GPU',
        duration_seconds: 75,
        synthetic: false
      }
    });
    api.history = [sample(1, [gpu(0, { memory_used: 78 * GiB })])];
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.text).toBe('Replay · GPU 0: 87% · 78.0/80 GiB');
    expect(status.tooltip.split('\n')[0]).toBe(
      'Replay of a recording from 1× NVIDIA H200, not a live GPU'
    );
    expect(status.level).toBe('critical'); // a real state still wins over the replay colour
  });

  it('says "No GPU" with the reason', async () => {
    api.devicesReply = devicesReply({
      backend: 'none',
      status: 'unavailable',
      reason: 'NVML could not start: the NVIDIA driver is not loaded',
      devices: []
    });
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.text).toBe('No GPU');
    expect(status.tooltip).toBe(
      'No GPU readings: NVML could not start: the NVIDIA driver is not loaded'
    );
  });

  it('announces a state turning bad and recovering, never the readings that merely move', async () => {
    api.history = [sample(1)];
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    api.socket.open();
    expect(status.announcement).toBe(''); // the first readings are no news
    api.socket.deliver(sample(2, [gpu(0, { util_gpu: 12 })]));
    expect(status.announcement).toBe('');
    api.socket.deliver(sample(3, [gpu(0, { memory_used: 79 * GiB })]));
    expect(status.level).toBe('critical');
    expect(status.announcement).toBe('GPU critical: GPU 0: 87% · 79.0/80 GiB');
    api.socket.deliver(sample(4, [gpu(0)]));
    expect(status.announcement).toBe('GPU back to normal: GPU 0: 87% · 41.2/80 GiB');
    api.socket.drop();
    expect(status.announcement).toBe('The GPU Monitor cannot reach the server; retrying.');
  });

  it('says offline when the server cannot be reached', async () => {
    api.fail = new Error('Failed to fetch');
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.text).toBe('GPU: offline');
    expect(status.tooltip).toContain('Failed to fetch');
  });

  it("shows the active notebook kernel's GPU when known", async () => {
    const two = devicesReply();
    two.devices = [two.devices[0], { ...two.devices[0], index: 1, uuid: 'GPU-1' }];
    api.devicesReply = two;
    api.history = [
      sample(1, [gpu(0, { util_gpu: 99 }), gpu(1, { util_gpu: 3, memory_used: 10 * GiB })])
    ];
    api.processesReply = processesReply(
      [
        {
          index: 0,
          processes: [],
          others: { count: 0, used_memory: 0, by_instance: {} }
        },
        {
          index: 1,
          processes: [gpuProcess({ pid: 42, kernel: kernelRef('k1', 'a.ipynb') })],
          others: { count: 0, used_memory: 0, by_instance: {} }
        }
      ],
      { devices: two }
    );
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.text).toBe('GPU 0: 99% · 41.2/80 GiB +1');
    const watch = monitor.watchProcesses();
    api.socket.open();
    await monitor.refreshProcesses();
    status.setActiveKernel('k1');
    expect(status.text).toBe('GPU 1: 3% · 10.0/80 GiB');
    expect(status.tooltip).toContain("active notebook's GPUs");
    watch.dispose();
  });

  it("shows the kernel's own MIG instance when its CUDA_VISIBLE_DEVICES names one", async () => {
    const mig = migMachine();
    api.devicesReply = mig.devices;
    api.history = [mig.sample];
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.text).toBe('GPU 0: n/a · 33.0/140 GiB');
    status.setActiveKernel('k1', 'MIG-00000000-0000-4000-8000-000000000013');
    expect(status.text).toBe('MIG 1g.18gb: SM 4% · 3.0/16 GiB');
    expect(status.tooltip).toContain(
      'GPU 0 NVIDIA H200, MIG 1g.18gb (GPU instance 13, compute instance 0): 3.0/16 GiB, SM 4%, tensor 2%'
    );
    expect(status.tooltip).toContain("active notebook's MIG instance");
    // Its memory, not the GPU's, sets the colour: 30 of 70 GiB is fine on the big slice,
    // 3 of 16 on the small one too; a full small slice is critical.
    expect(status.level).toBe('normal');
    api.socket.open();
    const full = migMachine().sample;
    full.seq = 2;
    full.gpus[0].mig![1].memory_used = 15.5 * GiB;
    api.socket.deliver(full);
    await flush();
    expect(status.level).toBe('critical');
    // Without a MIG UUID in CUDA_VISIBLE_DEVICES: the instance its process runs on.
    api.processesReply = processesReply(
      [
        {
          index: 0,
          processes: [
            gpuProcess({
              pid: 42,
              used_memory: 29 * GiB,
              kernel: kernelRef('k2', 'b.ipynb', 'busy'),
              gpu_instance_id: 2,
              compute_instance_id: 0
            })
          ]
        }
      ],
      { devices: mig.devices }
    );
    const watch = monitor.watchProcesses();
    await monitor.refreshProcesses();
    status.setActiveKernel('k2', null);
    expect(status.text).toBe('MIG 3g.71gb: SM 85% · 30.0/70 GiB');
    watch.dispose();
  });

  it('emits stateChanged only when what it shows changes', async () => {
    api.history = [sample(1)];
    status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    const changed = jest.fn();
    status.stateChanged.connect(changed);
    api.socket.deliver(sample(2, [gpu(0)], 1001.5)); // same values
    expect(changed).not.toHaveBeenCalled();
    api.socket.deliver(sample(3, [gpu(0, { util_gpu: 5 })]));
    await flush();
    expect(changed).toHaveBeenCalledTimes(1);
  });
});

describe('GPUStatusModel with a soft limit', () => {
  it("adds the user's share of the limit, and colours by it", async () => {
    const api = new FakeAPI();
    const monitor = new MonitorModel({ api: api, reconnectDelaysMs: [60000] });
    api.history = [sample(1, [gpu(0, { memory_used: 10 * GiB })])];
    const status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    expect(status.level).toBe('normal');
    const shared = new SharedGPUsModel(api, trans);
    shared.start();
    status.setSharedGPUs(shared);
    const usageIs = async (reply: ISharedGPUsReply) => {
      api.usageReplies = [reply];
      await shared.refresh();
    };
    await usageIs(
      sharedGPUsReply({
        gpus: [
          share({
            mine: 3.7 * GiB,
            limit: 4 * GiB,
            state: 'near',
            others: 6 * GiB,
            others_count: 2
          })
        ]
      })
    );
    expect(status.text).toBe('GPU 0: 87% · 10.0/80 GiB · you 3.7/4.0 GiB');
    expect(status.level).toBe('warning');
    expect(status.tooltip).toContain(
      'You hold 3.7 GiB of your 4.0 GiB limit on GPU 0. Others hold 6.0 GiB (2 processes).'
    );
    await usageIs(
      sharedGPUsReply({ gpus: [share({ mine: 5 * GiB, limit: 4 * GiB, state: 'over' })] })
    );
    expect(status.level).toBe('critical');
    // Without a limit: nothing added to the text, the others' total in the tooltip.
    await usageIs(sharedGPUsReply({ gpus: [share({ others: 6 * GiB, others_count: 1 })] }));
    expect(status.text).toBe('GPU 0: 87% · 10.0/80 GiB');
    expect(status.tooltip).toContain('Others hold 6.0 GiB (1 process).');
    shared.dispose();
    status.dispose();
    monitor.dispose();
  });
});

describe('GPUStatusItem', () => {
  it('shows a new reading at once, coloured, and opens the panel on click or Enter', async () => {
    const api = new FakeAPI();
    const monitor = new MonitorModel({ api: api, reconnectDelaysMs: [60000] });
    api.history = [sample(1)];
    const status = new GPUStatusModel(monitor, trans, STATUS_CONFIG);
    await monitor.start();
    const open = jest.fn();
    const item = new GPUStatusItem(status, open);
    Widget.attach(item, document.body);
    const text = () => item.node.querySelector('.jp-StatusBar-TextItem')!.textContent;
    expect(text()).toBe('GPU 0: 87% · 41.2/80 GiB');
    expect(item.node.title).toContain('NVIDIA A100-SXM4-80GB');
    expect(item.hasClass('jp-mod-normal')).toBe(true);
    // In the same task as the reading: no wait for a render pass.
    api.socket.deliver(sample(2, [gpu(0, { util_gpu: 5, memory_used: 78 * GiB })]));
    expect(text()).toBe('GPU 0: 5% · 78.0/80 GiB');
    expect(item.hasClass('jp-mod-critical')).toBe(true);
    expect(item.hasClass('jp-mod-normal')).toBe(false);
    item.node.click();
    item.node.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }));
    expect(open).toHaveBeenCalledTimes(2);
    item.dispose();
    status.dispose();
    monitor.dispose();
  });
});

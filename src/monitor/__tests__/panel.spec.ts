import { MessageLoop } from '@lumino/messaging';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { GPUCard } from '../card';
import { MonitorModel } from '../model';
import { GPUPanel } from '../panel';
import type { IDevicesReply, IProcessesReply } from '../../api';
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

// jsdom has no canvas: stand in for uPlot, keeping the data it is given.
jest.mock('uplot', () =>
  jest.fn().mockImplementation((_opts: unknown, data: unknown, target: HTMLElement) => {
    const root = document.createElement('div');
    root.className = 'uplot';
    target.appendChild(root);
    return {
      data,
      width: 300,
      setData: jest.fn(),
      setScale: jest.fn(),
      setSize: jest.fn(),
      destroy: () => root.remove()
    };
  })
);

const trans = nullTranslator.load('test');

describe('GPUPanel', () => {
  let api: FakeAPI;
  let model: MonitorModel;
  let panel: GPUPanel;
  const actions = { openNotebook: jest.fn(), shutDownKernel: jest.fn(), inspectKernel: jest.fn() };

  beforeEach(async () => {
    api = new FakeAPI();
    api.history = [
      sample(1, [gpu(0, { throttle_reasons: ['sw_power_cap'], memory_used: 70 * GiB })])
    ];
    model = new MonitorModel({ api: api, reconnectDelaysMs: [60000] });
    await model.start();
    api.socket.open();
    const config = monitorConfig({}, settingsSchema('monitor'));
    panel = new GPUPanel({
      model,
      trans,
      actions,
      windowChoices: [1, 5, 15, 60],
      config: {
        units: config.memoryUnits,
        windowMinutes: config.chartWindowMinutes,
        thresholds: config.thresholds
      }
    });
    Widget.attach(panel, document.body);
    panel.updateNow();
  });

  /** The server re-reads its devices (it says so on the stream): the model takes `reply`. */
  const serverDevices = async (reply: IDevicesReply) => {
    api.devicesReply = reply;
    api.socket.deliver({ type: 'status', status: reply.status, reason: reply.reason ?? null });
    await flush();
  };

  afterEach(() => {
    panel.dispose();
    model.dispose();
  });

  it('names each card by its title, for screen readers', () => {
    const card = panel.node.querySelector('.jp-gpuscope-Card')!;
    const title = document.getElementById(card.getAttribute('aria-labelledby')!)!;
    expect(title.textContent).toMatch(/^GPU 0 · .+ · compute capability \d+\.\d$/);
  });

  it('renders one card per GPU with its fields and its charts (NVLink only where it has NVLink)', () => {
    const cards = panel.node.querySelectorAll('.jp-gpuscope-Card');
    expect(cards).toHaveLength(1);
    const card = cards[0];
    expect(card.querySelector('.jp-gpuscope-Card-title')!.textContent).toBe(
      'GPU 0 · NVIDIA A100-SXM4-80GB · compute capability 8.0'
    );
    expect(card.querySelector('.jp-gpuscope-Card-memoryText')!.textContent).toBe('70.0/80 GiB');
    expect(card.classList).toContain('jp-mod-warning');
    expect(card.querySelectorAll('.uplot')).toHaveLength(5);
    const shown = Array.from(card.querySelectorAll('figure'))
      .filter(f => !f.hidden)
      .map(f => f.querySelector('figcaption')!.textContent);
    expect(shown).toEqual(['Memory used (GiB)', 'Utilisation', 'Power', 'PCIe rx + tx (GB/s)']);
    const fields = Array.from(card.querySelectorAll('dt')).map(dt => dt.textContent);
    expect(fields).toEqual([
      'Utilisation',
      'Memory busy',
      'Temperature',
      'Power',
      'SM clock',
      'SM active (GPM)',
      'Tensor / DRAM (GPM)',
      'PCIe rx / tx',
      'NVLink rx / tx',
      'Throttling',
      'Fan'
    ]);
    const values = Array.from(card.querySelectorAll('dd'));
    expect(values[3].textContent).toBe('350 W / 400 W');
    expect(values[9].textContent).toBe('power cap');
    // An unavailable field says n/a, with the server's reason on hover.
    expect(values[10].textContent).toBe('n/a');
    expect(values[10].getAttribute('title')).toBe('not supported on this GPU');
  });

  it('labels a replay and an unavailable backend in the banner', async () => {
    const banner = panel.node.querySelector('.jp-gpuscope-Panel-banner')!;
    expect(banner.textContent).toBe('Live · driver 580.159.04 · CUDA 13.0');
    expect(banner.getAttribute('data-level')).toBe('info');
    // The server switches to a recording: the model re-reads the devices on the status.
    await serverDevices(
      devicesReply({
        backend: 'replay',
        live: false,
        source: {
          kind: 'replay',
          trace: 'h200-workload.jsonl',
          description: 'Replay of a recording from 1× NVIDIA H200, not a live GPU',
          duration_seconds: 720,
          synthetic: false
        }
      })
    );
    panel.updateNow();
    expect(banner.textContent).toBe('Replay of a recording from 1× NVIDIA H200, not a live GPU');
    expect(banner.getAttribute('data-level')).toBe('replay');
    // Then the GPU goes: no cards, the reason in the banner.
    await serverDevices(
      devicesReply({
        status: 'unavailable',
        reason: 'the GPU is lost',
        devices: []
      })
    );
    panel.updateNow();
    expect(banner.textContent).toBe('No GPU readings: the GPU is lost');
    expect(banner.getAttribute('data-level')).toBe('warning');
    expect(panel.node.querySelectorAll('.jp-gpuscope-Card')).toHaveLength(0);
  });

  it('offers Pause and History only while GPUs are read: not without a GPU, not offline', async () => {
    const controls = panel.node.querySelector<HTMLElement>('.jp-gpuscope-Panel-controls')!;
    expect(controls.hidden).toBe(false);
    await serverDevices(
      devicesReply({
        status: 'unavailable',
        reason: 'no NVIDIA driver',
        devices: []
      })
    );
    panel.updateNow();
    expect(controls.hidden).toBe(true);
    expect(panel.node.querySelector('.jp-gpuscope-Panel-banner')!.textContent).toBe(
      'No GPU readings: no NVIDIA driver'
    );
    await serverDevices(devicesReply());
    panel.updateNow();
    expect(controls.hidden).toBe(false);
    // The server goes away: nothing to pause until it is back.
    api.socket.drop();
    panel.updateNow();
    expect(model.connection).toBe('offline');
    expect(controls.hidden).toBe(true);
  });

  it('offers the GPU diagnostic when there are no GPU readings, and runs it on a click', async () => {
    panel.dispose();
    const run = jest.fn();
    const config = monitorConfig({}, settingsSchema('monitor'));
    let notebookOpen = true;
    panel = new GPUPanel({
      model,
      trans,
      actions,
      windowChoices: [1, 5, 15, 60],
      config: {
        units: config.memoryUnits,
        windowMinutes: config.chartWindowMinutes,
        thresholds: config.thresholds
      },
      diagnostic: { available: () => notebookOpen, run }
    });
    Widget.attach(panel, document.body);
    const button = () =>
      panel.node.querySelector<HTMLButtonElement>('.jp-gpuscope-Panel-diagnose')!;
    panel.updateNow();
    expect(button().hidden).toBe(true); // GPUs are read: nothing to diagnose from here
    await serverDevices(
      devicesReply({ status: 'unavailable', reason: 'no NVIDIA driver', devices: [] })
    );
    panel.updateNow();
    expect(button().hidden).toBe(false);
    expect(button().textContent).toBe('Run GPU Diagnostic');
    button().click();
    expect(run).toHaveBeenCalledTimes(1);
    // Without a notebook to run it in, it is not offered.
    notebookOpen = false;
    panel.updateNow();
    expect(button().hidden).toBe(true);
  });

  it('takes focus when opened, and Escape gives it back to where it was opened from', () => {
    const before = document.createElement('button');
    document.body.appendChild(before);
    before.focus();
    panel.setReturnFocus(() => before.focus());
    // What the shell's activateById sends.
    MessageLoop.sendMessage(panel, Widget.Msg.ActivateRequest);
    expect(document.activeElement).toBe(panel.node);
    expect(panel.node.getAttribute('aria-label')).toBe('GPU Monitor');
    panel.node
      .querySelector('button')!
      .dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
    expect(document.activeElement).toBe(before);
    before.remove();
  });

  it('says where the server runs in the banner tooltip', async () => {
    await serverDevices(
      devicesReply({
        environment: { container: 'docker', own_pid_namespace: true, gpu_pids: 'host' }
      })
    );
    panel.updateNow();
    const banner = panel.node.querySelector('.jp-gpuscope-Panel-banner')!;
    expect(banner.getAttribute('title')).toBe(
      'The server runs in a docker container, in its own PID namespace. NVML gives host process IDs (an older driver): kernels are matched to GPU processes by their own evidence (when their CUDA context appeared, what their allocators hold), only where the match is unambiguous.'
    );
  });

  it('lists processes: kernels with their notebook and a shut-down action, others as a total', async () => {
    api.processesReply = processesReply(
      [
        {
          index: 0,
          processes: [
            gpuProcess({ used_memory: 3 * GiB, kernel: kernelRef('k1', 'train.ipynb', 'busy') })
          ],
          others: { count: 2, used_memory: 20 * GiB, by_instance: {} }
        }
      ],
      { devices: api.devicesReply }
    );
    await model.refreshProcesses();
    const rows = panel.node.querySelectorAll('tbody tr');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('4242');
    expect(rows[0].textContent).toContain('3.00 GiB');
    expect(rows[1].textContent).toBe(
      '—20.00 GiB2 processes of other users (details hidden by the server)'
    );
    (rows[0].querySelector('.jp-gpuscope-ProcessTable-open') as HTMLButtonElement).click();
    expect(actions.openNotebook).toHaveBeenCalledWith('train.ipynb');
    (rows[0].querySelector('.jp-gpuscope-ProcessTable-shutdown') as HTMLButtonElement).click();
    expect(actions.shutDownKernel).toHaveBeenCalledWith('k1', 'train.ipynb');
    // The kernel's row opens what in it holds the memory.
    const inspect = rows[0].querySelector('.jp-gpuscope-ProcessTable-inspect') as HTMLButtonElement;
    expect(inspect.textContent).toBe('What holds it');
    inspect.click();
    expect(actions.inspectKernel).toHaveBeenCalledWith('k1', 'train.ipynb');
  });

  it('marks a process matched to a kernel by evidence as probably its, and says why another is not', async () => {
    const how = 'matched by when it appeared in NVML’s list and by its memory';
    const hostPid = (pid: number, memory: number) => ({
      pid,
      used_memory: memory,
      username: null,
      name: null,
      cmdline: null,
      gpu_instance_id: null,
      compute_instance_id: null
    });
    api.processesReply = processesReply(
      [
        {
          index: 0,
          processes: [
            {
              ...hostPid(4_100_001, 9 * GiB),
              owner: 'self',
              username: 'ann',
              note: null,
              kernel: {
                id: 'k1',
                name: 'python3',
                execution_state: 'idle',
                notebook_path: 'train.ipynb'
              },
              attribution: { probable: true, how }
            },
            {
              ...hostPid(4_100_002, 3 * GiB),
              owner: 'unknown',
              note: 'this process is not visible from the server',
              kernel: null,
              attribution: { probable: false, why_not: 'no kernel of this server fits it' }
            }
          ]
        }
      ],
      { devices: api.devicesReply }
    );
    await model.refreshProcesses();
    const [matched, unmatched] = Array.from(panel.node.querySelectorAll('tbody tr'));
    const mark = matched.querySelector('.jp-gpuscope-ProcessTable-probable')!;
    expect(matched.querySelector('.jp-gpuscope-ProcessTable-open')!.textContent).toBe(
      'train.ipynb'
    );
    expect(mark.textContent).toBe('(probably)');
    expect(mark.getAttribute('title')).toBe(how);
    expect(matched.querySelector('.jp-gpuscope-ProcessTable-shutdown')).not.toBeNull();
    expect(unmatched.querySelector('.jp-gpuscope-ProcessTable-probable')).toBeNull();
    expect(unmatched.querySelector('.jp-gpuscope-ProcessTable-shutdown')).toBeNull();
    expect(unmatched.children[2].getAttribute('title')).toBe(
      'this process is not visible from the server no kernel of this server fits it'
    );
  });

  it('lists MIG instances under their GPU, with memory and GPM activity, and where each process runs', async () => {
    const mig = migMachine();
    await serverDevices(mig.devices);
    api.socket.deliver({ ...mig.sample, seq: 2 });
    panel.updateNow();
    const table = panel.node.querySelector('.jp-gpuscope-MigTable') as HTMLTableElement;
    expect(table.hidden).toBe(false);
    expect(table.caption!.textContent).toBe('MIG instances');
    const rows = Array.from(table.tBodies[0].rows).map(r =>
      Array.from(r.cells).map(c => c.textContent)
    );
    expect(rows).toEqual([
      ['3g.71gb', '30.0/70 GiB', '85%', '43%'],
      ['1g.18gb', '3.0/16 GiB', '4%', '2%']
    ]);
    expect(table.tBodies[0].rows[1].cells[0].getAttribute('title')).toBe(
      'MIG 1g.18gb (GPU instance 13, compute instance 0)\nMIG-00000000-0000-4000-8000-000000000013\n16 SMs'
    );
    api.processesReply = processesReply(
      [
        {
          index: 0,
          processes: [
            gpuProcess({
              pid: 7,
              used_memory: 2 * GiB,
              kernel: kernelRef('k1', 'a.ipynb'),
              gpu_instance_id: 13,
              compute_instance_id: 0
            })
          ]
        }
      ],
      { devices: mig.devices }
    );
    await model.refreshProcesses();
    const [row] = Array.from(panel.node.querySelectorAll('.jp-gpuscope-ProcessTable tbody tr'));
    expect(row.children[3].textContent).toBe('python3 · MIG 1g.18gb');
  });

  it('shows the GPU links of a two-GPU machine as nvidia-smi topo -m, with where they came from', async () => {
    // The 2xH200 replay's header: its topology was written from nvidia-smi, not recorded.
    const trace = require('fs')
      .readFileSync(
        require('path').resolve(
          __dirname,
          '../../../python/jupyterlab_gpuscope/traces/h200x2-workload.jsonl'
        ),
        'utf-8'
      )
      .split('\n')[0];
    const two = devicesReply({ topology: JSON.parse(trace).topology });
    two.devices = [two.devices[0], { ...two.devices[0], index: 1, uuid: 'GPU-1' }];
    await serverDevices(two);
    panel.updateNow();
    const table = panel.node.querySelector('.jp-gpuscope-Topology') as HTMLTableElement;
    expect(table.hidden).toBe(false);
    expect(table.caption!.textContent).toContain('not recorded through NVML');
    const rows = Array.from(table.tBodies[0].rows).map(r =>
      Array.from(r.cells).map(c => c.textContent)
    );
    expect(rows).toEqual([
      ['GPU 0', 'X', 'NV18', 'n/a', 'n/a'],
      ['GPU 1', 'NV18', 'X', 'n/a', 'n/a']
    ]);
    expect(table.tBodies[0].rows[0].cells[2].getAttribute('title')).toBe(
      '18 NVLinks between them; peer-to-peer reads: yes'
    );
    // One GPU: no matrix.
    await serverDevices(devicesReply());
    panel.updateNow();
    expect(table.hidden).toBe(true);
  });

  it('shows GPM activity beside the classic utilisation, and NVLink as n/a with the reason', async () => {
    api.socket.deliver(
      sample(2, [
        gpu(0, {
          util_gpu: 100,
          sm_util: 12.5,
          tensor_util: 0,
          dram_util: 3,
          nvlink_rx_kbs: null,
          nvlink_tx_kbs: null,
          unavailable: {
            nvlink_rx_kbs: 'n/a: this GPU has no active NVLink (it talks over PCIe only)'
          }
        })
      ])
    );
    panel.updateNow();
    const fields = Array.from(panel.node.querySelectorAll('.jp-gpuscope-Card-fields dt')).map(
      dt => [
        dt.textContent,
        dt.nextElementSibling!.textContent,
        dt.nextElementSibling!.getAttribute('title')
      ]
    );
    // A value's title is its whole text (a narrow sidebar may cut it short); n/a's, why.
    expect(fields).toContainEqual(['Utilisation', '100%', '100%']);
    expect(fields).toContainEqual(['SM active (GPM)', '13%', '13%']);
    expect(fields).toContainEqual(['Tensor / DRAM (GPM)', '0% / 3%', '0% / 3%']);
    // Read 10 s apart (no one watched): the figure says what it averages over.
    api.socket.deliver(sample(3, [gpu(0, { sm_util: 85, gpm_window_s: 10 })]));
    panel.updateNow();
    const sm = Array.from(panel.node.querySelectorAll('.jp-gpuscope-Card-fields dt')).find(
      dt => dt.textContent === 'SM active (GPM)'
    )!;
    expect(sm.nextElementSibling!.textContent).toBe('85% over 10 s');
    expect(fields).toContainEqual([
      'NVLink rx / tx',
      'n/a / n/a',
      'n/a / n/a — this GPU has no active NVLink (it talks over PCIe only)'
    ]);
  });

  it('charts NVLink beside PCIe on a GPU with NVLink', async () => {
    const linked = devicesReply();
    linked.devices = [{ ...linked.devices[0], nvlink_links: 18 }];
    await serverDevices(linked);
    api.socket.deliver(sample(2, [gpu(0, { nvlink_rx_kbs: 4e6, nvlink_tx_kbs: 5e6 })]));
    panel.updateNow();
    const figure = Array.from(panel.node.querySelectorAll('figure')).find(
      f => f.querySelector('figcaption')!.textContent === 'NVLink rx + tx (GB/s)'
    )!;
    expect(figure.hidden).toBe(false);
    expect(model.history(0).nvlinkKBs.slice(-1)).toEqual([9e6]);
    expect((figure.querySelector('.jp-gpuscope-Chart') as HTMLElement).dataset.points).toBe('2');
  });

  it("names a process's MIG instance even when the list came before the instances", async () => {
    const mig = migMachine();
    api.processesReply = processesReply([
      {
        index: 0,
        processes: [
          gpuProcess({
            pid: 7,
            kernel: kernelRef('k1', 'a.ipynb'),
            gpu_instance_id: 2,
            compute_instance_id: 0
          })
        ]
      }
    ]);
    await model.refreshProcesses();
    panel.updateNow();
    await serverDevices(mig.devices);
    api.socket.deliver({ ...mig.sample, seq: 2 });
    panel.updateNow();
    const [row] = Array.from(panel.node.querySelectorAll('.jp-gpuscope-ProcessTable tbody tr'));
    expect(row.children[3].textContent).toBe('python3 · MIG 3g.71gb');
  });

  it('pauses and resumes from its button', () => {
    const button = panel.node.querySelector('.jp-gpuscope-Panel-pause') as HTMLButtonElement;
    expect(button.textContent).toBe('Pause');
    button.click();
    expect(model.paused).toBe(true);
    panel.updateNow();
    expect(button.textContent).toBe('Resume');
    expect(button.getAttribute('aria-pressed')).toBe('true');
  });

  it('leaves a card out of view untouched, and brings it up to date when it comes into view', () => {
    const card = new GPUCard(1, trans, actions);
    card.renderCharts(300, {
      line: 'blue',
      fill: 'blue',
      axis: 'gray',
      grid: 'gray',
      font: '10px sans-serif'
    });
    const device = devicesReply().devices[0];
    const history = {
      time: [1, 2],
      memoryUsed: [GiB, 2 * GiB],
      utilization: [10, 20],
      powerWatts: [100, 120],
      pcieKBs: [1000, 2000],
      nvlinkKBs: [null, null]
    };
    const update = (used: number) =>
      card.update({ ...device, index: 1 }, gpu(1, { memory_used: used * GiB }), history, 0, 'GiB', {
        memoryWarningPercent: 85,
        memoryCriticalPercent: 95,
        warnOnThrottle: true
      });
    const text = () => card.node.querySelector('.jp-gpuscope-Card-memoryText')!.textContent;

    update(10);
    expect(text()).toBe('10.0/80 GiB');
    card.setInView(false);
    update(20);
    update(30);
    expect(text()).toBe('10.0/80 GiB');
    card.setInView(true);
    // The latest reading, not the first one missed.
    expect(text()).toBe('30.0/80 GiB');
    expect(card.node.querySelector('.jp-gpuscope-Chart')!.getAttribute('data-points')).toBe('2');
    card.dispose();
  });

  it("shows memory held outside this server's view as its own row, with how it was told", () => {
    const card = new GPUCard(0, trans, actions);
    const reply = (outside: number): IProcessesReply =>
      processesReply(
        [
          {
            index: 0,
            processes: [],
            others: { count: 0, used_memory: 0, by_instance: {} },
            unavailable: null,
            outside: { used_memory: outside, includes_driver_reserve: false, reason: null }
          }
        ],
        { ownPidNamespace: true }
      );
    card.updateProcesses(reply(2.5 * GiB));
    const row = card.node.querySelector('.jp-gpuscope-ProcessTable-outside')!;
    expect(row.textContent).toBe("—2.50 GiBHeld outside this server's view");
    expect(row.querySelector('td[title]')!.getAttribute('title')).toContain(
      'such as those of other containers on the same GPU'
    );
    expect(card.node.textContent).not.toContain('No process holds memory on this GPU.');
    // Nothing held outside and no process: the GPU is free.
    card.updateProcesses(reply(0));
    expect(card.node.textContent).toContain('No process holds memory on this GPU.');
    card.dispose();
  });

  it('says why a process list could not be read, instead of "no process"', () => {
    const card = new GPUCard(0, trans, actions);
    card.updateProcesses(
      processesReply([
        {
          index: 0,
          unavailable: 'Insufficient Permissions (NO_PERMISSION)'
        }
      ])
    );
    const text = card.node.textContent ?? '';
    expect(text).toContain(
      'The process list of this GPU could not be read: Insufficient Permissions (NO_PERMISSION)'
    );
    expect(text).not.toContain('No process holds memory on this GPU.');
    card.dispose();
  });

  it('rebuilds a process table only when its rows change, and not out of view', () => {
    const card = new GPUCard(0, trans, actions);
    const reply = (used: number, pid = 4242): IProcessesReply =>
      processesReply([
        {
          index: 0,
          processes: [gpuProcess({ pid, used_memory: used })],
          others: { count: 0, used_memory: 0, by_instance: {} }
        }
      ]);
    const table = () => card.node.querySelector('.jp-gpuscope-ProcessTable');
    const memory = () => card.node.querySelector('tbody td:nth-child(2)')!.textContent;

    card.updateProcesses(reply(3 * GiB));
    const first = table();
    expect(memory()).toBe('3.00 GiB');
    // Memory moves: its text changes, the table (and any focus in it) stays.
    card.updateProcesses(reply(3 * GiB + 4096));
    card.updateProcesses(reply(3.5 * GiB));
    expect(memory()).toBe('3.50 GiB');
    expect(table()).toBe(first);
    // Out of view: nothing is built until it comes into view, then the latest reply.
    card.setInView(false);
    card.updateProcesses(reply(4 * GiB));
    card.updateProcesses(reply(5 * GiB, 77));
    expect(memory()).toBe('3.50 GiB');
    card.setInView(true);
    expect(memory()).toBe('5.00 GiB');
    expect(card.node.querySelector('tbody td')!.textContent).toBe('77');
    expect(table()).not.toBe(first); // another process: new rows
    card.dispose();
  });
});

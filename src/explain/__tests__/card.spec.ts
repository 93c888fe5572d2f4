import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { IProcessesReply } from '../../api';
import { flush, GiB, processesReply } from '../../__tests__/fakes';
import { ExplainCard, IExplainCardOptions } from '../card';
import { holdersFor } from '../holders';
import { explainError } from '../../core/explain/matcher';
import { failureText } from '../../core/explain/outputs';
import h100 from '../../core/explain/__tests__/fixtures/observed-h100.json';

const trans = nullTranslator.load('jupyterlab_gpuscope');

function processes(overrides: Partial<IProcessesReply> = {}): IProcessesReply {
  const reply = processesReply([
    {
      index: 0,
      processes: [
        {
          pid: 4242,
          used_memory: 2 * GiB,
          owner: 'self',
          username: 'me',
          name: 'python',
          cmdline: null,
          kernel: {
            id: 'idle-kernel',
            name: 'python3',
            execution_state: 'idle',
            notebook_path: 'old/experiment.ipynb'
          }
        },
        {
          pid: 4343,
          used_memory: 48 * GiB,
          owner: 'self',
          username: 'me',
          name: 'python',
          cmdline: null,
          kernel: {
            id: 'failing-kernel',
            name: 'python3',
            execution_state: 'busy',
            notebook_path: 'train.ipynb'
          }
        }
      ].map(p => ({ ...p, note: null })) as IProcessesReply['gpus'][0]['processes'],
      others: { count: 2, used_memory: 10 * GiB, by_instance: {} }
    },
    { index: 1 }
  ]);
  return { ...reply, ...overrides };
}

function card(text: string, overrides: Partial<IExplainCardOptions> = {}) {
  const calls = { dismiss: 0, addNote: 0, opened: [] as string[], shutDown: [] as string[] };
  let reply = processes();
  const widget = new ExplainCard({
    explanations: explainError(text),
    trans,
    kernelId: 'failing-kernel',
    dismiss: () => calls.dismiss++,
    addNote: () => calls.addNote++,
    processes: async () => reply,
    units: () => 'GiB',
    openNotebook: path => calls.opened.push(path),
    shutDownKernel: async id => {
      calls.shutDown.push(id);
      reply = processes({
        gpus: [{ ...processes().gpus[0], processes: processes().gpus[0].processes.slice(1) }]
      });
      return true;
    },
    ...overrides
  });
  Widget.attach(widget, document.body);
  return { widget, calls, node: widget.node };
}

const click = (node: Element | null | undefined) => (node as HTMLElement).click();
const buttons = (node: HTMLElement) => Array.from(node.querySelectorAll('button'));
/** The process table's rows as a reader sees them, cells apart. */
const holderRows = (node: HTMLElement) =>
  Array.from(node.querySelectorAll('.jp-gpuscope-ProcessTable tbody tr')).map(r =>
    Array.from(r.children)
      .map(c => c.textContent)
      .join(' | ')
  );

describe('the explanation card', () => {
  afterEach(() => document.body.replaceChildren());

  it('shows cause, detail, fix and a copyable command for a device-side assert', () => {
    const text =
      'torch.AcceleratorError: CUDA error: device-side assert triggered\n/pytorch/IndexKernel.cu:111: Assertion `index < sizes[i]` failed.';
    const { node } = card(text);
    expect(node.querySelector('.jp-gpuscope-Explain-title')!.textContent).toBe(
      'A GPU kernel hit an assertion (usually an index out of range)'
    );
    expect(node.querySelector('.jp-gpuscope-Explain-detail code')!.textContent).toBe(
      'Assertion `index < sizes[i]` failed'
    );
    expect(node.querySelector('.jp-gpuscope-Explain-fix')!.textContent).toMatch(
      /^Fix: Restart the kernel/
    );
    expect(node.querySelector('.jp-gpuscope-Explain-commands pre')!.textContent).toBe(
      '%env CUDA_LAUNCH_BLOCKING=1'
    );
    // Inline code is rendered as code, not as backticks or HTML.
    expect(
      Array.from(node.querySelectorAll('.jp-gpuscope-Explain-fix code')).map(c => c.textContent)
    ).toContain('CUDA_LAUNCH_BLOCKING=1');
    expect(node.querySelector('.jp-gpuscope-Explain-holders')).toBeNull();
  });

  it('lists the sources by title, each linked to its page where it has one', () => {
    const text =
      'torch.AcceleratorError: CUDA error: device-side assert triggered\n/pytorch/IndexKernel.cu:111: Assertion `index < sizes[i]` failed.';
    const { node } = card(text);
    const [explanation] = explainError(text);
    const items = Array.from(node.querySelectorAll('.jp-gpuscope-Explain-sources li'));
    expect(items.map(li => li.textContent)).toEqual(explanation.sources.map(s => s.title));
    // Titles, not the knowledge base's keys or maintainers' notes.
    expect(items.map(li => li.textContent)).not.toContain(explanation.sources[0].key);
    const links = Array.from(
      node.querySelectorAll<HTMLAnchorElement>('.jp-gpuscope-Explain-sources a')
    ).map(a => a.getAttribute('href'));
    expect(links).toEqual(explanation.sources.filter(s => s.url).map(s => s.url));
    expect(links.length).toBeGreaterThan(0);
  });

  it('dismiss and "Add to notebook" call back', () => {
    const { node, calls } = card('RuntimeError: No CUDA GPUs are available');
    click(node.querySelector('.jp-gpuscope-Explain-addNote'));
    click(node.querySelector('.jp-gpuscope-Explain-dismiss'));
    expect(calls).toMatchObject({ addNote: 1, dismiss: 1 });
  });

  it('out of memory lists what holds the GPU, offers to shut down idle kernels only, and refreshes', async () => {
    const { node, calls } = card(h100.oom_realistic.stderr);
    await flush();
    expect(holderRows(node)).toEqual([
      '4343 | 48.00 GiB | train.ipynb (this notebook) | python3 | ',
      '4242 | 2.00 GiB | old/experiment.ipynb | python3 | Shut down kernel',
      '— | 10.00 GiB | 2 processes of other users (details hidden by the server)'
    ]);
    expect(node.querySelector('.jp-gpuscope-Explain-holdersTitle')!.textContent).toBe(
      'What holds memory on GPU 0 now:'
    );
    click(buttons(node).find(b => b.textContent === 'old/experiment.ipynb'));
    expect(calls.opened).toEqual(['old/experiment.ipynb']);
    click(buttons(node).find(b => b.textContent === 'Shut down kernel'));
    await flush();
    await flush();
    expect(calls.shutDown).toEqual(['idle-kernel']);
    expect(node.querySelector('.jp-gpuscope-ProcessTable')!.textContent).not.toContain(
      'old/experiment.ipynb'
    );
  });

  it('out of memory shows what in the failing kernel holds memory, above who else holds the GPU', async () => {
    const hosts: HTMLElement[] = [];
    const { node } = card(h100.oom_realistic.stderr, {
      kernelMemory: async host => {
        hosts.push(host);
        host.textContent = 'model 12.00 GiB';
      }
    });
    await flush();
    expect(hosts).toHaveLength(1);
    const section = node.querySelector('.jp-gpuscope-Explain-kernelMemory')!;
    expect(section.textContent).toBe('What holds memory in this kernel:model 12.00 GiB');
    // Before the process table of the GPU.
    expect(
      section.compareDocumentPosition(node.querySelector('.jp-gpuscope-Explain-holders')!) &
        Node.DOCUMENT_POSITION_FOLLOWING
    ).toBeTruthy();
  });

  it('other errors ask the kernel nothing', async () => {
    const kernelMemory = jest.fn(async () => undefined);
    card('RuntimeError: No CUDA GPUs are available', { kernelMemory });
    await flush();
    expect(kernelMemory).not.toHaveBeenCalled();
  });

  it("heads its process table with the GPU Monitor's columns", async () => {
    const { node } = card(h100.oom_realistic.stderr);
    await flush();
    expect(
      Array.from(node.querySelectorAll('.jp-gpuscope-ProcessTable th')).map(th => th.textContent)
    ).toEqual(['PID', 'Memory', 'Notebook / process', 'Kernel', 'Actions']);
  });

  it('writes the holders in GB when the user picked decimal units', async () => {
    const { node } = card(h100.oom_realistic.stderr, { units: () => 'GB' });
    await flush();
    expect(holderRows(node)[1]).toBe(
      '4242 | 2.15 GB | old/experiment.ipynb | python3 | Shut down kernel'
    );
  });

  it('labels holders read from a recorded GPU', async () => {
    const replay = processes({ backend: 'replay', live: false });
    const { node } = card(h100.oom_realistic.stderr, { processes: async () => replay });
    await flush();
    expect(node.querySelector('.jp-gpuscope-Explain-recorded')!.textContent).toBe(
      'recorded GPU (replay), not this machine'
    );
  });

  it('says so when the server cannot be asked', async () => {
    const { node } = card(h100.oom_realistic.stderr, {
      processes: async () => {
        throw new Error('503 Service Unavailable');
      }
    });
    await flush();
    expect(node.querySelector('.jp-gpuscope-Explain-holders')!.textContent).toBe(
      'Could not ask the server what holds GPU memory: 503 Service Unavailable'
    );
  });
});

describe('an out-of-memory card on an H200 shared with another container (recorded)', () => {
  // scripts/gpu_pid_namespace_attribution.py: the server in its own PID namespace, two kernels (8 and
  // 3 GiB) and a process outside it (2.5 GiB) that nvidia-smi lists and NVML hides here.
  const recorded = require('./fixtures/h200-namespace.json');
  const reply = recorded.processes as IProcessesReply;

  it('names both kernels by notebook and counts the hidden process as held outside', () => {
    const holders = holdersFor(reply, recorded.kernels['train.ipynb'].id, 0);
    expect(
      holders.processes.map(p => [
        p.kernel?.notebook_path,
        Math.round((p.used_memory ?? 0) / 2 ** 20)
      ])
    ).toEqual([
      ['train.ipynb', 8710],
      ['eval.ipynb', 3590]
    ]);
    // nvidia-smi's host view lists the outside process with 3078 MiB; NVML's figures here
    // leave out about 20 MiB of the kernels' contexts, so a little more is "outside".
    expect(Math.round(holders.outside!.usedMemory / 2 ** 20)).toBe(3098);
    expect(recorded.nvidia_smi.compute_apps_mib[0]).toMatch(/, 3078$/);
    expect(holders.others.count).toBe(0);
  });
});

describe('an out-of-memory card on a driver that gives host PIDs', () => {
  const how = 'matched by when it appeared in NVML’s list and by its memory';
  const reply = processesReply([
    {
      index: 0,
      processes: [
        {
          pid: 4_100_001,
          used_memory: 9 * GiB,
          owner: 'self',
          username: 'me',
          name: null,
          cmdline: null,
          note: null,
          kernel: {
            id: 'idle-kernel',
            name: 'python3',
            execution_state: 'idle',
            notebook_path: 'old.ipynb'
          },
          attribution: { probable: true, how },
          gpu_instance_id: null,
          compute_instance_id: null
        }
      ]
    }
  ]);

  it('names the kernel matched by evidence, marked as probably its', async () => {
    const { node } = card(h100.oom_realistic.stderr, { processes: async () => reply });
    await flush();
    expect(holderRows(node)).toEqual([
      '4100001 | 9.00 GiB | old.ipynb (probably) | python3 | Shut down kernel'
    ]);
    const mark = node.querySelector('.jp-gpuscope-ProcessTable-probable')!;
    expect(mark.textContent).toBe('(probably)');
    expect(mark.getAttribute('title')).toBe(how);
  });
});

describe('which GPU the OOM card shows', () => {
  it('the GPU where the failing kernel holds memory, whatever the message numbers it', () => {
    expect(holdersFor(processes(), 'failing-kernel', 1)).toMatchObject({
      gpus: [0],
      basis: 'kernel'
    });
  });

  it("counts memory held outside this server's view on the GPU shown", () => {
    const reply = processes();
    reply.gpus[0].outside = {
      used_memory: 2.5 * GiB,
      includes_driver_reserve: false,
      reason: null
    };
    expect(holdersFor(reply, 'failing-kernel', 1)).toMatchObject({
      gpus: [0],
      outside: { usedMemory: 2.5 * GiB }
    });
    // Another GPU's outside memory is not this one's.
    expect(holdersFor(reply, 'unknown-kernel', 1).outside).toBeNull();
  });

  it('else the index from the message, else every GPU', () => {
    expect(holdersFor(processes(), 'unknown-kernel', 1)).toMatchObject({
      gpus: [1],
      basis: 'message',
      processes: []
    });
    expect(holdersFor(processes(), 'unknown-kernel', null)).toMatchObject({
      gpus: [0, 1],
      basis: 'all'
    });
  });
});

describe('failure text of outputs', () => {
  it('reads errors and stderr, not stdout or rich output', () => {
    const text = failureText([
      {
        output_type: 'stream',
        name: 'stdout',
        text: 'CUDA out of memory. Tried to allocate (printed by the user)'
      },
      {
        output_type: 'display_data',
        data: { 'text/plain': 'no kernel image is available' }
      } as never,
      { output_type: 'stream', name: 'stderr', text: ['UserWarning: ', 'something'] },
      {
        output_type: 'error',
        ename: 'RuntimeError',
        evalue: 'No CUDA GPUs are available',
        traceback: ['\u001b[31mTraceback\u001b[0m']
      }
    ]);
    expect(text).toBe('UserWarning: something\nRuntimeError: No CUDA GPUs are available');
  });

  it("not the library source IPython quotes in a traceback (seen with torch's CPU build)", () => {
    const output = {
      output_type: 'error',
      ename: 'AssertionError',
      evalue: 'Torch not compiled with CUDA enabled',
      traceback: [
        '\u001b[0;31mAssertionError\u001b[0m                            Traceback (most recent call last)',
        'File \u001b[0;32m.../torch/cuda/__init__.py:522\u001b[0m, in \u001b[0;36m_lazy_init\u001b[0;34m()\u001b[0m\n\u001b[1;32m    517\u001b[0m     \u001b[38;5;28;01mraise\u001b[39;00m \u001b[38;5;167;01mRuntimeError\u001b[39;00m(\n\u001b[1;32m    518\u001b[0m         \u001b[38;5;124m"\u001b[39m\u001b[38;5;124mCannot re-initialize CUDA in forked subprocess. To use CUDA with \u001b[39m\u001b[38;5;124m"\u001b[39m\n',
        '\u001b[0;31mAssertionError\u001b[0m: Torch not compiled with CUDA enabled'
      ]
    };
    expect(explainError(failureText([output])).map(e => e.id)).toEqual(['not-compiled-with-cuda']);
  });

  it('tolerates malformed outputs', () => {
    expect(
      failureText([
        { output_type: 'error' },
        { output_type: 'stream', name: 'stderr', text: 42 },
        {}
      ])
    ).toBe(': \n');
  });
});

describe('a real out-of-memory error on an H100 (scripts/gpu_oom_in_kernel.py)', () => {
  // Two server kernels: holder.ipynb keeps 30 GiB and is idle; train.ipynb keeps 20 GiB
  // and then asks for 60 GiB. The outputs and the process list are what the server sent.
  const notebook = require('../../core/explain/__tests__/fixtures/h100-oom/train.ipynb.json');
  const reply =
    require('../../core/explain/__tests__/fixtures/h100-oom/processes.json') as IProcessesReply;
  const kernels = require('../../core/explain/__tests__/fixtures/h100-oom/kernels.json') as Record<
    string,
    string
  >;

  it('is recognised from the kernel output, with the numbers of the message', () => {
    const [e, ...rest] = explainError(failureText(notebook.cells[1].outputs));
    expect(rest).toEqual([]);
    expect(e.id).toBe('cuda-oom');
    expect(e.context.facts).toEqual([
      'The cell asked for 60.00 GiB on GPU 0, which has 79.18 GiB in all and had 28.15 GiB free.'
    ]);
  });

  it("lists the idle holder kernel (shut-down offered) and the failing notebook's own kernel", () => {
    const holders = holdersFor(reply, kernels['train.ipynb'], 0);
    expect(holders).toMatchObject({ gpus: [0], basis: 'kernel' });
    expect(
      holders.processes.map(p => [p.kernel?.notebook_path, (p.used_memory! / 2 ** 30).toFixed(2)])
    ).toEqual([
      ['holder.ipynb', '30.51'],
      ['train.ipynb', '20.51']
    ]);
  });
});

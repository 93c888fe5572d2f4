import { Notification } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator } from '@jupyterlab/translation';

import { FakeAPI, flush, GiB } from '../../__tests__/fakes';
import type { IGPUShare, IIdleKernel } from '../../api';
import { SharedGPUsModel } from '../model';
import { NudgeNotifier, NudgeStorage } from '../nudges';
import { UsageSection } from '../section';
import { formatDuration, idleMessage, shutDownMessage, usageLine } from '../text';
import { NOW, share, sharedGPUsReply } from './fixtures';

const trans = nullTranslator.load('test');
function idleKernel(overrides: Partial<IIdleKernel> = {}): IIdleKernel {
  return {
    nudge_id: `k1@${NOW - 1860}`,
    kernel_id: 'k1',
    kernel_name: 'python3',
    notebook_path: 'class/week1.ipynb',
    used_memory: 2 * GiB,
    gpus: [0],
    idle_since: NOW - 1860,
    shutdown_at: null,
    ...overrides
  };
}

class MemoryStorage implements NudgeStorage {
  items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

const toasts = () => Notification.manager.notifications;

afterEach(() => Notification.dismiss());

describe('messages', () => {
  it('reads durations and usage as a student would', () => {
    expect(formatDuration(45, trans)).toBe('45 s');
    expect(formatDuration(31 * 60 + 5, trans)).toBe('31 min');
    expect(formatDuration(125 * 60, trans)).toBe('2 h 5 min');
    expect(
      usageLine(
        share({
          mine: 3 * GiB,
          limit: 4 * GiB,
          state: 'near',
          others: 23.1 * GiB,
          others_count: 3
        }),
        'GiB',
        trans
      )
    ).toBe('You hold 3.0 GiB of your 4.0 GiB limit on GPU 0. Others hold 23.1 GiB (3 processes).');
    expect(
      usageLine(share({ mine: 5 * GiB, limit: 4 * GiB, state: 'over' }), 'GiB', trans)
    ).toContain('over the limit');
  });

  it('says when an idle kernel will be shut down', () => {
    const text = idleMessage(idleKernel({ shutdown_at: NOW + 600 }), NOW, 'GiB', trans);
    expect(text).toBe(
      'week1.ipynb: idle 31 min, holding 2.0 GiB of GPU memory others could use. Shut down in 10 min unless you keep it.'
    );
    expect(text.length).toBeLessThanOrEqual(140); // JupyterLab cuts toasts there
    expect(idleMessage(idleKernel(), NOW, 'GiB', trans)).not.toContain('Shut down in');
  });
});

describe('NudgeNotifier', () => {
  const actions = () => ({
    shutDown: jest.fn(async () => undefined),
    keep: jest.fn(async () => undefined)
  });

  it('notifies once per idle period, with Shut down kernel and Keep', async () => {
    const act = actions();
    const storage = new MemoryStorage();
    const notifier = new NudgeNotifier(act, trans, storage);
    notifier.update(sharedGPUsReply({ idle: [idleKernel()] }), 'GiB');
    notifier.update(sharedGPUsReply({ idle: [idleKernel()] }), 'GiB');
    expect(toasts()).toHaveLength(1);
    const [toast] = toasts();
    expect(toast.type).toBe('warning');
    expect(toast.message).toContain('week1.ipynb: idle 31 min');
    const [shutDown, keep] = toast.options.actions!;
    expect([shutDown.label, keep.label]).toEqual(['Shut down kernel', 'Keep']);
    keep.callback(new MouseEvent('click'));
    expect(act.keep).toHaveBeenCalledWith('k1');
    shutDown.callback(new MouseEvent('click'));
    expect(act.shutDown).toHaveBeenCalledWith('k1');

    // Another tab (same localStorage) does not repeat it; a new idle period does notify.
    const otherTab = new NudgeNotifier(act, trans, storage);
    otherTab.update(sharedGPUsReply({ idle: [idleKernel()] }), 'GiB');
    expect(toasts()).toHaveLength(1);
    otherTab.update(sharedGPUsReply({ idle: [idleKernel({ nudge_id: 'k1@later' })] }), 'GiB');
    expect(toasts()).toHaveLength(2);
  });

  it('takes back the notification when the kernel is no longer idle', () => {
    const notifier = new NudgeNotifier(actions(), trans, new MemoryStorage());
    notifier.update(sharedGPUsReply({ idle: [idleKernel()] }), 'GiB');
    expect(toasts()).toHaveLength(1);
    notifier.update(sharedGPUsReply({ idle: [] }), 'GiB');
    expect(toasts()).toHaveLength(0);
  });

  it('labels a replay and reports a shut-down once', () => {
    const notifier = new NudgeNotifier(actions(), trans, new MemoryStorage());
    const shut = {
      kernel_id: 'k1',
      notebook_path: 'a.ipynb',
      used_memory: GiB,
      idle_minutes: 41,
      at: NOW,
      by: null
    };
    notifier.update(
      sharedGPUsReply({ live: false, idle: [idleKernel()], shut_down: [shut] }),
      'GiB'
    );
    notifier.update(
      sharedGPUsReply({ live: false, idle: [idleKernel()], shut_down: [shut] }),
      'GiB'
    );
    const messages = toasts().map(t => `${t.type}: ${t.message}`);
    expect(messages).toHaveLength(2);
    expect(messages.some(m => m.startsWith('warning:') && m.includes('(replay readings)'))).toBe(
      true
    );
    expect(
      messages.some(
        m =>
          m.startsWith('info:') &&
          m.includes('shut down the kernel of a.ipynb (idle 41 min, holding 1.0 GiB)')
      )
    ).toBe(true);
  });

  it("shows an instructor's nudge once, with their note and a shut-down button", () => {
    const act = actions();
    const notifier = new NudgeNotifier(act, trans, new MemoryStorage());
    const notice = {
      id: 'k1@1',
      by: 'teacher',
      note: 'The exam starts at 10.',
      kernel_id: 'k1',
      notebook_path: 'lab3/train.ipynb',
      used_memory: 2 * GiB,
      at: NOW
    };
    notifier.update(sharedGPUsReply({ notices: [notice] }), 'GiB');
    notifier.update(sharedGPUsReply({ notices: [notice] }), 'GiB');
    expect(toasts()).toHaveLength(1);
    const [toast] = toasts();
    expect(toast.message).toBe(
      'teacher asks you to free the GPU memory of train.ipynb (2.0 GiB): shut its kernel down or release what it holds. Their note: The exam starts at 10.'
    );
    toast.options.actions![0].callback(new MouseEvent('click'));
    expect(act.shutDown).toHaveBeenCalledWith('k1');
  });

  it('says which instructor shut a kernel down', () => {
    const entry = {
      kernel_id: 'k1',
      notebook_path: 'a.ipynb',
      used_memory: GiB,
      idle_minutes: 12,
      at: NOW,
      by: 'teacher'
    };
    expect(shutDownMessage(entry, 'GiB', trans)).toBe(
      'teacher shut down the kernel of a.ipynb (holding 1.0 GiB) for the class.'
    );
  });

  it('warns when memory rises past the warning level and again past the limit, not while it stays', () => {
    const notifier = new NudgeNotifier(actions(), trans, new MemoryStorage());
    const at = (state: IGPUShare['state'], mine: number) =>
      sharedGPUsReply({ gpus: [share({ mine, limit: 4 * GiB, state })] });
    notifier.update(at('ok', GiB), 'GiB');
    expect(toasts()).toHaveLength(0);
    notifier.update(at('near', 3.7 * GiB), 'GiB');
    notifier.update(at('near', 3.8 * GiB), 'GiB');
    expect(toasts().map(t => t.type)).toEqual(['warning']);
    notifier.update(at('over', 5 * GiB), 'GiB');
    expect(
      toasts()
        .map(t => t.type)
        .sort()
    ).toEqual(['error', 'warning']);
    notifier.update(at('ok', GiB), 'GiB');
    notifier.update(at('near', 3.7 * GiB), 'GiB');
    expect(toasts()).toHaveLength(3);
  });

  it('survives unreadable storage', () => {
    const storage = new MemoryStorage();
    storage.setItem('jupyterlab-gpuscope:nudges-shown', '{"not": "a list"}');
    storage.setItem('jupyterlab-gpuscope:limit-states', 'not json');
    const notifier = new NudgeNotifier(actions(), trans, storage);
    notifier.update(
      sharedGPUsReply({
        idle: [idleKernel()],
        gpus: [share({ mine: 5 * GiB, limit: GiB, state: 'over' })]
      }),
      'GiB'
    );
    expect(toasts()).toHaveLength(2);
  });
});

describe('UsageSection', () => {
  it('shows the limit, the others as a total, idle kernels with their actions and the policy', async () => {
    const act = {
      shutDown: jest.fn(async () => undefined),
      keep: jest.fn(async () => undefined),
      openNotebook: jest.fn()
    };
    const section = new UsageSection(act, trans);
    expect(section.node.hidden).toBe(true);
    section.update(
      sharedGPUsReply({
        gpus: [
          share({
            mine: 3.8 * GiB,
            limit: 4 * GiB,
            state: 'near',
            others: 20 * GiB,
            others_count: 2
          })
        ],
        idle: [idleKernel()],
        policy: { ...sharedGPUsReply().policy, idle_kernel_shutdown_minutes: 10 }
      }),
      'GiB'
    );
    const text = section.node.textContent!;
    expect(section.node.hidden).toBe(false);
    expect(text).toContain(
      'You hold 3.8 GiB of your 4.0 GiB limit on GPU 0. Others hold 20.0 GiB (2 processes).'
    );
    expect(section.node.querySelector('.jp-gpuscope-Usage-gpu')!.classList).toContain(
      'jp-mod-near'
    );
    expect(section.node.querySelector('[role=meter]')!.getAttribute('aria-valuenow')).toBe(
      String(3.8 * GiB)
    );
    expect(text).toContain('idle 31 min, holds 2.0 GiB');
    expect(text).toContain('shut down 10 min after you are notified');
    expect(text).toContain("Other users' processes are shown only as totals.");
    const buttons = Array.from(section.node.querySelectorAll('button'));
    buttons.find(b => b.textContent === 'class/week1.ipynb')!.click();
    expect(act.openNotebook).toHaveBeenCalledWith('class/week1.ipynb');
    buttons.find(b => b.textContent === 'Keep')!.click();
    buttons.find(b => b.textContent === 'Shut down kernel')!.click();
    await flush();
    expect(act.keep).toHaveBeenCalledWith('k1');
    expect(act.shutDown).toHaveBeenCalledWith('k1');
  });

  it('lists only the GPUs with something to say, and says so when nothing is held', () => {
    const act = { shutDown: jest.fn(), keep: jest.fn(), openNotebook: jest.fn() };
    const section = new UsageSection(act, trans);
    const empty = (index: number) =>
      share({ index, mine: 0, limit: null, others: 0, others_count: 0 });
    section.update(sharedGPUsReply({ gpus: [0, 1, 2, 3].map(empty) }), 'GiB');
    const lines = () =>
      Array.from(section.node.querySelectorAll('.jp-gpuscope-Usage-gpu')).map(li => li.textContent);
    expect(lines()).toEqual(['You hold no GPU memory.']);
    section.update(
      sharedGPUsReply({
        gpus: [
          empty(0),
          { ...empty(1), mine: 2 * GiB },
          empty(2),
          { ...empty(3), others: GiB, others_count: 1 }
        ]
      }),
      'GiB'
    );
    expect(lines()).toEqual([
      'You hold 2.0 GiB on GPU 1.',
      'You hold 0.0 GiB on GPU 3. Others hold 1.0 GiB (1 process).'
    ]);
  });

  it('leaves the section as it is when a poll brings the same picture, so the focus stays', () => {
    const act = {
      shutDown: jest.fn(async () => undefined),
      keep: jest.fn(async () => undefined),
      openNotebook: jest.fn()
    };
    const section = new UsageSection(act, trans);
    document.body.appendChild(section.node);
    const reply = sharedGPUsReply({ gpus: [share({ mine: 2 * GiB })], idle: [idleKernel()] });
    section.update(reply, 'GiB');
    const keep = Array.from(section.node.querySelectorAll('button')).find(
      b => b.textContent === 'Keep'
    )!;
    keep.focus();
    // Seconds later: the same kernel, the same rounded figures.
    section.update(
      {
        ...reply,
        checked_at: reply.checked_at + 5,
        idle: [{ ...reply.idle[0], idle_since: reply.idle[0].idle_since + 5 }]
      },
      'GiB'
    );
    expect(document.activeElement).toBe(keep);
    // Something shown changes: the section is redrawn.
    section.update(
      sharedGPUsReply({ gpus: [share({ mine: 3 * GiB })], idle: [idleKernel()] }),
      'GiB'
    );
    expect(section.node.textContent).toContain('You hold 3.0 GiB');
    section.node.remove();
  });
});

const tick = () => new Promise(resolve => setTimeout(resolve, 50));

/** A started model, once the server's first `usage` reply is in. */
async function startedWithFirstReply(api: FakeAPI): Promise<SharedGPUsModel> {
  const model = new SharedGPUsModel(api, trans);
  model.start();
  await new Promise(resolve => model.changed.connect(resolve));
  return model;
}

describe('SharedGPUsModel', () => {
  it("adds a status bar line for memory held outside this server's view", async () => {
    const api = new FakeAPI();
    api.usageReplies = [sharedGPUsReply({ gpus: [share({ mine: GiB, outside: 2.5 * GiB })] })];
    const model = await startedWithFirstReply(api);
    expect(model.statusFor([0], 'GiB').lines).toEqual([
      'You hold 1.0 GiB on GPU 0.',
      "2.5 GiB is held outside this server's view on GPU 0 (other containers or machines)."
    ]);
    model.dispose();
  });

  it('says why the parts need not add up to the memory in use when what is held outside is unknown', async () => {
    const api = new FakeAPI();
    api.usageReplies = [
      sharedGPUsReply({
        live: false,
        gpus: [
          share({
            mine: 2 * GiB,
            others: 16.5 * GiB,
            others_count: 1,
            outside: null,
            outside_reason: 'a recording: its memory and its processes need not be of one moment'
          })
        ]
      })
    ];
    const model = await startedWithFirstReply(api);
    expect(model.statusFor([0], 'GiB').lines).toEqual([
      'You hold 2.0 GiB on GPU 0. Others hold 16.5 GiB (1 process).',
      'The rest of the memory in use on GPU 0 cannot be accounted for here: a recording: its memory and its processes need not be of one moment.'
    ]);
    model.dispose();
  });

  it('asks the server for nothing until started (the plugin starts it after JupyterLab has)', async () => {
    jest.useFakeTimers();
    try {
      const api = new FakeAPI();
      api.usageReplies = [sharedGPUsReply()];
      const model = new SharedGPUsModel(api, trans);
      await jest.advanceTimersByTimeAsync(10000);
      expect(api.usageCalls).toBe(0);
      model.start();
      await jest.advanceTimersByTimeAsync(100);
      expect(api.usageCalls).toBe(1);
      model.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('polls at the server check interval (within 2–60 s), as the reply says', async () => {
    jest.useFakeTimers();
    try {
      const api = new FakeAPI();
      api.usageReplies = [
        sharedGPUsReply({ policy: { ...sharedGPUsReply().policy, check_seconds: 3 } })
      ];
      const model = new SharedGPUsModel(api, trans);
      model.start();
      await jest.advanceTimersByTimeAsync(100);
      expect(api.usageCalls).toBe(1);
      // 3 s later the next poll, not at the 5 s it started with.
      await jest.advanceTimersByTimeAsync(2800);
      expect(api.usageCalls).toBe(1);
      await jest.advanceTimersByTimeAsync(200);
      expect(api.usageCalls).toBe(2);
      // A server asking for 0.5 s gets the 2 s floor.
      api.usageReplies = [
        sharedGPUsReply({ policy: { ...sharedGPUsReply().policy, check_seconds: 0.5 } })
      ];
      // That reply comes with the poll at 6 s: the next one is 2 s later, none before.
      await jest.advanceTimersByTimeAsync(3000);
      const calls = api.usageCalls;
      await jest.advanceTimersByTimeAsync(1500);
      expect(api.usageCalls).toBe(calls);
      await jest.advanceTimersByTimeAsync(600);
      expect(api.usageCalls).toBe(calls + 1);
      model.dispose();
    } finally {
      jest.useRealTimers();
    }
  });

  it('resolves refresh() with the new reply in (after Keep, the panel draws what changed)', async () => {
    const api = new FakeAPI();
    api.usageReplies = [sharedGPUsReply({ idle: [idleKernel()] })];
    const model = await startedWithFirstReply(api);
    expect(model.usage?.idle).toHaveLength(1);
    api.usageReplies = [sharedGPUsReply({ idle: [] })];
    await model.refresh();
    expect(model.usage?.idle).toHaveLength(0);
    model.dispose();
  });

  it('stops polling a server without the usage route', async () => {
    const api = new FakeAPI();
    api.usageReplies = [sharedGPUsReply()];
    const model = await startedWithFirstReply(api);
    api.usageReplies = [
      await ServerConnection.ResponseError.create(new Response('{}', { status: 404 }))
    ];
    await model.refresh().catch(() => undefined);
    await tick();
    const calls = api.usageCalls;
    await model.refresh().catch(() => undefined);
    await tick();
    expect(api.usageCalls).toBe(calls); // stopped: no more requests
    model.dispose();
  });
});

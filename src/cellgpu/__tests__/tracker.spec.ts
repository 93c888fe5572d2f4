import { Signal } from '@lumino/signaling';

import type { GPUScopeAPI } from '../../api';
import { flush } from '../../monitor/__tests__/fakes';
import { CellUsageTracker, COMM_TARGET } from '../tracker';

/** A kernel connection as far as the tracker uses it. */
class FakeKernel {
  status = 'idle';
  statusChanged = new Signal<FakeKernel, string>(this);
  info = Promise.resolve({ language_info: { name: this.language } });
  registerCommTarget = jest.fn();
  executed: string[] = [];
  constructor(private language = 'python') {}
  requestExecute(content: { code: string; silent: boolean }) {
    this.executed.push(content.code);
    return { done: Promise.resolve() };
  }
  setStatus(status: string) {
    this.status = status;
    this.statusChanged.emit(status);
  }
}

function setUp(kernel: FakeKernel) {
  const panel = {
    sessionContext: { session: { kernel }, kernelChanged: new Signal<unknown, unknown>({}), ready: Promise.resolve() },
    content: { widgets: [] }
  };
  const notebooks = { widgetAdded: new Signal<unknown, unknown>({}), forEach: (f: (p: unknown) => void) => f(panel) };
  const api = { collector: async () => ({ source: '', mime: '', cell_usage_source: 'EXTENSION_SOURCE' }) } as unknown as GPUScopeAPI;
  const tracker = new CellUsageTracker(notebooks as never, api, null);
  return { tracker, panel };
}

const loads = (kernel: FakeKernel) => kernel.executed.filter(code => code.includes('EXTENSION_SOURCE')).length;

describe('loading the kernel extension', () => {
  it('once per kernel start, with the comm target registered first', async () => {
    const kernel = new FakeKernel();
    setUp(kernel);
    await flush();
    expect(kernel.registerCommTarget).toHaveBeenCalledWith(COMM_TARGET, expect.any(Function));
    expect(loads(kernel)).toBe(1);
    kernel.setStatus('busy');
    kernel.setStatus('idle');
    await flush();
    expect(loads(kernel)).toBe(1);
  });

  it('again after a restart (same connection), not while the kernel is still starting', async () => {
    const kernel = new FakeKernel();
    setUp(kernel);
    await flush();
    kernel.setStatus('restarting');
    kernel.setStatus('starting');
    await flush();
    expect(loads(kernel)).toBe(1);
    kernel.setStatus('idle');
    await flush();
    expect(loads(kernel)).toBe(2);
    expect(kernel.registerCommTarget).toHaveBeenCalledTimes(1);
    // And after a crash (autorestart).
    kernel.setStatus('autorestarting');
    kernel.setStatus('idle');
    await flush();
    expect(loads(kernel)).toBe(3);
  });

  it('not into a kernel of another language, and not when turned off', async () => {
    const r = new FakeKernel('R');
    setUp(r);
    await flush();
    expect(r.executed).toEqual([]);

    const kernel = new FakeKernel();
    kernel.status = 'starting';
    const { tracker } = setUp(kernel);
    tracker.enabled = false;
    kernel.setStatus('idle');
    await flush();
    expect(loads(kernel)).toBe(0);
  });
});

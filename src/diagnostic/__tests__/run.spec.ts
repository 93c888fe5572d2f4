import { nullTranslator } from '@jupyterlab/translation';

import { kernelProblem, runDiagnosticSilently } from '../run';

const trans = nullTranslator.load('test');

function session(kernel: Record<string, unknown> | null): any {
  return { session: kernel ? { kernel } : null };
}

const python = { name: 'python' };

describe('kernel checks before the diagnostic', () => {
  it('explains a missing, dead or non-Python kernel', async () => {
    expect(await kernelProblem(session(null), trans)).toContain('has no kernel');
    expect(
      await kernelProblem(session({ status: 'dead', info: Promise.resolve({ language_info: python }) }), trans)
    ).toContain('The kernel is dead');
    expect(
      await kernelProblem(session({ status: 'idle', info: Promise.resolve({ language_info: { name: 'R' } }) }), trans)
    ).toBe('The GPU diagnostic needs a Python kernel; this notebook runs R.');
    expect(
      await kernelProblem(session({ status: 'idle', info: Promise.resolve({ language_info: python }) }), trans)
    ).toBeNull();
  });

  it('refuses a busy kernel instead of queueing behind the running cell', async () => {
    const busy = session({ status: 'busy', requestExecute: jest.fn() });
    await expect(runDiagnosticSilently(busy, 'pass', 'x/y', trans)).rejects.toThrow('The kernel is busy');
  });

  it('gives up after the time limit with a message', async () => {
    const kernel = {
      status: 'idle',
      requestExecute: () => ({ done: new Promise(() => undefined), onIOPub: null })
    };
    await expect(runDiagnosticSilently(session(kernel), 'pass', 'x/y', trans, 50)).rejects.toThrow(
      'The diagnostic did not finish within 0.05 s.'
    );
  });

  it('reports the error a failing run raised in the kernel', async () => {
    const future: any = { onIOPub: null };
    future.done = Promise.resolve().then(() => {
      future.onIOPub({ header: { msg_type: 'error' }, content: { ename: 'SyntaxError', evalue: 'bad' } });
    });
    const kernel = { status: 'idle', requestExecute: () => future };
    await expect(runDiagnosticSilently(session(kernel), 'pass', 'x/y', trans)).rejects.toThrow(
      'The diagnostic failed in the kernel: SyntaxError: bad'
    );
  });

  it('returns the facts the kernel displays', async () => {
    const future: any = { onIOPub: null };
    future.done = Promise.resolve().then(() => {
      future.onIOPub({ header: { msg_type: 'display_data' }, content: { data: { 'x/y': { schema: 's' } } } });
    });
    const kernel = { status: 'idle', requestExecute: jest.fn(() => future) };
    await expect(runDiagnosticSilently(session(kernel), 'print(1)', 'x/y', trans)).resolves.toEqual({ schema: 's' });
    const request = (kernel.requestExecute as jest.Mock).mock.calls[0][0];
    expect(request).toMatchObject({ silent: true, store_history: false });
    expect(request.code).toBe('exec(compile("print(1)", "<gpuscope-diagnostic>", "exec"), {"__name__": "__main__"})');
  });
});

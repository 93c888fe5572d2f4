import { nullTranslator } from '@jupyterlab/translation';

import { DIAGNOSTIC_MIME } from '../report';
import { kernelHasGPUScope, kernelProblem, runDiagnosticSilently } from '../run';

const trans = nullTranslator.load('test');

function session(kernel: Record<string, unknown> | null): any {
  return { session: kernel ? { kernel } : null };
}

const python = { name: 'python' };

describe('kernel checks before the diagnostic', () => {
  it('explains a missing, dead or non-Python kernel', async () => {
    expect(await kernelProblem(session(null), trans)).toContain('has no kernel');
    expect(
      await kernelProblem(
        session({ status: 'dead', info: Promise.resolve({ language_info: python }) }),
        trans
      )
    ).toContain('The kernel is dead');
    expect(
      await kernelProblem(
        session({ status: 'idle', info: Promise.resolve({ language_info: { name: 'R' } }) }),
        trans
      )
    ).toBe('The GPU diagnostic needs a Python kernel; this notebook runs R.');
    expect(
      await kernelProblem(
        session({ status: 'idle', info: Promise.resolve({ language_info: python }) }),
        trans
      )
    ).toBeNull();
  });

  it('refuses a busy kernel instead of queueing behind the running cell', async () => {
    const busy = session({ status: 'busy', requestExecute: jest.fn() });
    await expect(runDiagnosticSilently(busy, 'pass', trans)).rejects.toThrow('The kernel is busy');
  });

  it('gives up after the time limit with a message', async () => {
    const kernel = {
      status: 'idle',
      requestExecute: () => ({ done: new Promise(() => undefined), onIOPub: null })
    };
    await expect(runDiagnosticSilently(session(kernel), 'pass', trans, 50)).rejects.toThrow(
      'The diagnostic did not finish within 0.05 s.'
    );
  });

  it('reports the error a failing run raised in the kernel', async () => {
    const future: any = { onIOPub: null };
    future.done = Promise.resolve().then(() => {
      future.onIOPub({
        header: { msg_type: 'error' },
        content: { ename: 'SyntaxError', evalue: 'bad' }
      });
    });
    const kernel = { status: 'idle', requestExecute: () => future };
    await expect(runDiagnosticSilently(session(kernel), 'pass', trans)).rejects.toThrow(
      'The diagnostic failed in the kernel: SyntaxError: bad'
    );
  });

  it('says what the kernel printed when it displayed no report (the short cell in a kernel without the package)', async () => {
    const future: any = { onIOPub: null };
    future.done = Promise.resolve().then(() => {
      future.onIOPub({
        header: { msg_type: 'stream' },
        content: { name: 'stdout', text: 'This GPU diagnostic needs jupyterlab-gpuscope\n' }
      });
    });
    const kernel = { status: 'idle', requestExecute: () => future };
    await expect(runDiagnosticSilently(session(kernel), 'pass', trans)).rejects.toThrow(
      'The kernel finished without reporting the diagnostic: This GPU diagnostic needs jupyterlab-gpuscope'
    );
  });

  it('returns the whole output bundle the kernel displays', async () => {
    const future: any = { onIOPub: null };
    const data = { [DIAGNOSTIC_MIME]: { schema: 's' }, 'text/markdown': '**GPU diagnostic**' };
    future.done = Promise.resolve().then(() => {
      future.onIOPub({ header: { msg_type: 'display_data' }, content: { data } });
    });
    const kernel = { status: 'idle', requestExecute: jest.fn(() => future) };
    await expect(runDiagnosticSilently(session(kernel), 'print(1)', trans)).resolves.toEqual(data);
    const request = (kernel.requestExecute as jest.Mock).mock.calls[0][0];
    expect(request).toMatchObject({ silent: true, store_history: false });
    expect(request.code).toBe(
      'exec(compile("print(1)", "<gpuscope-diagnostic>", "exec"), {"__name__": "__main__"})'
    );
  });
});

describe('which diagnostic cell a kernel gets', () => {
  const reply = (status: string, text?: string) => ({
    done: Promise.resolve({
      content: {
        user_expressions: { gpuscope: { status, data: text ? { 'text/plain': text } : undefined } }
      }
    })
  });

  it('the short cell where the kernel can import the diagnostic, asked without running a cell', async () => {
    const kernel = { requestExecute: jest.fn(() => reply('ok', 'True')) };
    expect(await kernelHasGPUScope(session(kernel))).toBe(true);
    expect((kernel.requestExecute as jest.Mock).mock.calls[0][0]).toMatchObject({
      code: '',
      silent: true,
      store_history: false
    });
  });

  it('the self-contained cell where the import fails, the answer is False, or the kernel does not answer', async () => {
    expect(await kernelHasGPUScope(session({ requestExecute: () => reply('error') }))).toBe(false);
    expect(await kernelHasGPUScope(session({ requestExecute: () => reply('ok', 'False') }))).toBe(
      false
    );
    expect(
      await kernelHasGPUScope(
        session({ requestExecute: () => ({ done: new Promise(() => undefined) }) }),
        20
      )
    ).toBe(false);
    expect(await kernelHasGPUScope(session(null))).toBe(false);
  });
});

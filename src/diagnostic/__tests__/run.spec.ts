import { nullTranslator } from '@jupyterlab/translation';
import { Mock } from '@jupyterlab/testutils';

import { answer, kernelOf, sessionWithKernel, setStatus } from '../../__tests__/kernels';
import { DIAGNOSTIC_MIME } from '../report';
import { kernelHasGPUScope, kernelProblem, runDiagnosticSilently } from '../run';

const trans = nullTranslator.load('test');

describe('kernel checks before the diagnostic', () => {
  it('explains a missing, dead or non-Python kernel', async () => {
    // A notebook whose kernel was shut down has no session (the mock always has one).
    const none = Mock.createSimpleSessionContext();
    Object.defineProperty(none, 'session', { value: null });
    expect(await kernelProblem(none, trans)).toContain('has no kernel');
    const dead = sessionWithKernel();
    setStatus(kernelOf(dead), 'dead');
    expect(await kernelProblem(dead, trans)).toContain('The kernel is dead');
    expect(await kernelProblem(sessionWithKernel('R'), trans)).toBe(
      'The GPU diagnostic needs a Python kernel; this notebook runs R.'
    );
    expect(await kernelProblem(sessionWithKernel(), trans)).toBeNull();
  });

  it('refuses a busy kernel instead of queueing behind the running cell', async () => {
    const busy = sessionWithKernel();
    setStatus(kernelOf(busy), 'busy');
    await expect(runDiagnosticSilently(busy, 'pass', trans)).rejects.toThrow('The kernel is busy');
    expect(kernelOf(busy).requestExecute).not.toHaveBeenCalled();
  });

  it('gives up after the time limit with a message', async () => {
    const session = sessionWithKernel();
    answer(kernelOf(session), { hang: true });
    await expect(runDiagnosticSilently(session, 'pass', trans, 50)).rejects.toThrow(
      'The diagnostic did not finish within 0.05 s.'
    );
  });

  it('reports the error a failing run raised in the kernel', async () => {
    const session = sessionWithKernel();
    answer(kernelOf(session), {
      iopub: [{ msgType: 'error', content: { ename: 'SyntaxError', evalue: 'bad', traceback: [] } }]
    });
    await expect(runDiagnosticSilently(session, 'pass', trans)).rejects.toThrow(
      'The diagnostic failed in the kernel: SyntaxError: bad'
    );
  });

  it('says what the kernel printed when it displayed no report (the short cell in a kernel without the package)', async () => {
    const session = sessionWithKernel();
    answer(kernelOf(session), {
      iopub: [
        {
          msgType: 'stream',
          content: { name: 'stdout', text: 'This GPU diagnostic needs jupyterlab-gpuscope\n' }
        }
      ]
    });
    await expect(runDiagnosticSilently(session, 'pass', trans)).rejects.toThrow(
      'The kernel finished without reporting the diagnostic: This GPU diagnostic needs jupyterlab-gpuscope'
    );
  });

  it('returns the whole output bundle the kernel displays', async () => {
    const session = sessionWithKernel();
    const data = { [DIAGNOSTIC_MIME]: { schema: 's' }, 'text/markdown': '**GPU diagnostic**' };
    const requests = answer(kernelOf(session), {
      iopub: [{ msgType: 'display_data', content: { data, metadata: {} } }]
    });
    await expect(runDiagnosticSilently(session, 'print(1)', trans)).resolves.toEqual(data);
    const request = requests.mock.calls[0][0];
    expect(request).toMatchObject({ silent: true, store_history: false });
    expect(request.code).toBe(
      'exec(compile("print(1)", "<gpuscope-diagnostic>", "exec"), {"__name__": "__main__"})'
    );
  });
});

describe('which diagnostic cell a kernel gets', () => {
  const expression = (status: string, text?: string) => ({
    gpuscope: { status, data: text ? { 'text/plain': text } : undefined }
  });

  it('the short cell where the kernel can import the diagnostic, asked without running a cell', async () => {
    const session = sessionWithKernel();
    const requests = answer(kernelOf(session), { userExpressions: expression('ok', 'True') });
    expect(await kernelHasGPUScope(session)).toBe(true);
    expect(requests.mock.calls[0][0]).toMatchObject({
      code: '',
      silent: true,
      store_history: false
    });
  });

  it('the self-contained cell where the import fails, the answer is False, or the kernel does not answer', async () => {
    const session = sessionWithKernel();
    answer(kernelOf(session), { userExpressions: expression('error') });
    expect(await kernelHasGPUScope(session)).toBe(false);
    answer(kernelOf(session), { userExpressions: expression('ok', 'False') });
    expect(await kernelHasGPUScope(session)).toBe(false);
    answer(kernelOf(session), { hang: true });
    expect(await kernelHasGPUScope(session, 20)).toBe(false);
  });
});

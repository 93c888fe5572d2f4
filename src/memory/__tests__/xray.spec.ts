import { answer, kernelOf, sessionWithKernel } from '../../__tests__/kernels';
import { askKernel } from '../xray';

const REPLY = 'application/vnd.gpuscope.memory-reply+json';
const LOADER = '# the collector loader';

describe('asking a kernel what holds its GPU memory', () => {
  it('runs the loader and the question silently, and reads the answer from its display', async () => {
    const kernel = kernelOf(sessionWithKernel('python'));
    const breakdown = {
      version: 1,
      available: false,
      reason: 'torch is not imported in this kernel'
    };
    const execute = answer(kernel, {
      iopub: [{ msgType: 'display_data', content: { data: { [REPLY]: breakdown }, metadata: {} } }]
    });
    await expect(askKernel(kernel, LOADER, 'breakdown')).resolves.toEqual(breakdown);
    const request = execute.mock.calls[0][0];
    expect(request).toMatchObject({ silent: true, store_history: false });
    expect(request.code).toBe(`${LOADER}\n__import__('gpuscope_memory_xray').answer("breakdown")`);
  });

  it("passes a variable's name as a string literal, never as code", async () => {
    const kernel = kernelOf(sessionWithKernel('python'));
    const execute = answer(kernel, {
      iopub: [
        { msgType: 'display_data', content: { data: { [REPLY]: { ok: true } }, metadata: {} } }
      ]
    });
    await askKernel(kernel, LOADER, 'delete', ['x"); import os; ("']);
    expect(execute.mock.calls[0][0].code).toContain('answer("delete", "x\\"); import os; (\\"")');
  });

  it('says a non-Python kernel cannot answer', async () => {
    const kernel = kernelOf(sessionWithKernel('julia'));
    await expect(askKernel(kernel, LOADER, 'breakdown')).rejects.toThrow(
      'This kernel runs julia; the memory breakdown needs Python.'
    );
  });

  it('says a busy kernel did not answer in time', async () => {
    const kernel = kernelOf(sessionWithKernel('python'));
    answer(kernel, { hang: true });
    await expect(askKernel(kernel, LOADER, 'breakdown', [], 10)).rejects.toThrow(
      'The kernel did not answer in time: it is busy running a cell.'
    );
  });

  it("says what the kernel's error was", async () => {
    const kernel = kernelOf(sessionWithKernel('python'));
    answer(kernel, {
      iopub: [
        {
          msgType: 'error',
          content: { ename: 'NameError', evalue: "name 'x' is not defined", traceback: [] }
        }
      ]
    });
    await expect(askKernel(kernel, LOADER, 'breakdown')).rejects.toThrow(
      "The kernel could not answer: NameError: name 'x' is not defined"
    );
  });
});

/**
 * The process table's Shut down kernel: a cancelled dialog changes nothing, a failure
 * is said in a notification rather than lost in an unhandled rejection.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';

import { FakeAPI } from '../../__tests__/fakes';
import { shutDownKernel } from '../../ui/kernels';
import { shutDownFromPanel } from '../actions';
import { MonitorModel } from '../model';

jest.mock('../../ui/kernels', () => ({ shutDownKernel: jest.fn() }));
const confirmed = shutDownKernel as jest.MockedFunction<typeof shutDownKernel>;
const trans = nullTranslator.load('test');
const app = {} as JupyterFrontEnd; // the dialog, which uses it, is mocked here

describe('shutting down a kernel from the panel', () => {
  it('a cancelled dialog lists nothing again', async () => {
    const model = new MonitorModel({ api: new FakeAPI() });
    const refresh = jest.spyOn(model, 'refreshProcesses');
    confirmed.mockResolvedValueOnce(false);
    await shutDownFromPanel(app, trans, model, 'k1', 'train.ipynb');
    expect(refresh).not.toHaveBeenCalled();
    model.dispose();
  });

  it('after a shut-down the processes are listed again; if that fails, it is said', async () => {
    const error = jest.spyOn(Notification, 'error').mockImplementation(() => '');
    const model = new MonitorModel({ api: new FakeAPI() });
    jest.spyOn(model, 'refreshProcesses').mockRejectedValueOnce(new Error('server gone'));
    confirmed.mockResolvedValueOnce(true);
    await expect(shutDownFromPanel(app, trans, model, 'k1', null)).resolves.toBeUndefined();
    expect(error).toHaveBeenCalledWith('The GPU action failed: server gone');
    error.mockRestore();
    model.dispose();
  });
});

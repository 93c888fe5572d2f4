/**
 * The diagnostic plugin as JupyterLab activates it: settings that fail to load are said,
 * not lost in an unhandled rejection.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';

import { FakeAPI, flush } from '../../__tests__/fakes';
import { CommandIDs } from '../../tokens';
import { diagnosticPlugin } from '../plugin';

describe('the diagnostic plugin', () => {
  it('says when its settings cannot be loaded, and its commands still work', async () => {
    const warning = jest.spyOn(Notification, 'warning').mockImplementation(() => '');
    const app = { commands: new CommandRegistry() } as unknown as JupyterFrontEnd;
    const notebooks = {
      currentWidget: null,
      currentChanged: new Signal<unknown, unknown>({})
    } as unknown as INotebookTracker;
    const registry = {
      load: async () => {
        throw new Error('settings file is not valid JSON');
      }
    } as unknown as ISettingRegistry;
    await diagnosticPlugin.activate(app, new FakeAPI(), notebooks, registry, null, null);
    await flush();
    expect(warning).toHaveBeenCalledWith(
      'GPU diagnostic settings could not be loaded (Error: settings file is not valid JSON); using the defaults.'
    );
    expect(app.commands.hasCommand(CommandIDs.insertDiagnostic)).toBe(true);
    expect(app.commands.isEnabled(CommandIDs.insertDiagnostic)).toBe(false); // no notebook
    warning.mockRestore();
  });
});

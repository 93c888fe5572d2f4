/**
 * The diagnostic plugin as JupyterLab activates it: settings that fail to load are said,
 * not lost in an unhandled rejection.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import type { INotebookTracker } from '@jupyterlab/notebook';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';

import { FakeAPI, flush } from '../../__tests__/fakes';
import { registryServing } from '../../__tests__/settings';
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
    // A settings file edited by hand that the schema refuses: the registry will not load it.
    const { registry } = registryServing('diagnostic', '{"runAfterInsert": "yes"}');
    await diagnosticPlugin.activate(app, new FakeAPI(), notebooks, registry, null, null);
    await flush();
    expect(warning).toHaveBeenCalledWith(
      expect.stringMatching(
        /^GPU diagnostic settings could not be loaded \(.*\); using the defaults\.$/
      )
    );
    expect(app.commands.hasCommand(CommandIDs.insertDiagnostic)).toBe(true);
    expect(app.commands.isEnabled(CommandIDs.insertDiagnostic)).toBe(false); // no notebook
    warning.mockRestore();
  });
});

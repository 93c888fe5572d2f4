/**
 * The monitor plugin as JupyterLab activates it, with the settings registry: the
 * panel's History choice is saved as the chartWindowMinutes setting.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { CommandRegistry } from '@lumino/commands';
import * as JSON5 from 'json5';
import type { Widget } from '@lumino/widgets';

import { FakeAPI, flush } from '../../__tests__/fakes';
import { registryServing } from '../../__tests__/settings';
import type { IGPUMonitor } from '../../tokens';
import { monitorPlugin } from '../plugin';

function fakeApp(added: Widget[]): JupyterFrontEnd {
  return {
    commands: new CommandRegistry(),
    restored: Promise.resolve(),
    shell: { add: (widget: Widget) => added.push(widget), activateById: () => undefined }
  } as unknown as JupyterFrontEnd;
}

describe('the monitor plugin', () => {
  it("saves the panel's History choice as the chartWindowMinutes setting", async () => {
    const added: Widget[] = [];
    const { registry, saved } = registryServing('monitor');
    const api = new FakeAPI();
    const monitor = (await monitorPlugin.activate(
      fakeApp(added),
      api,
      registry,
      null,
      null,
      null,
      null,
      null
    )) as IGPUMonitor;
    await flush();
    const select = added[0].node.querySelector('select') as HTMLSelectElement;
    expect(select.value).toBe('15');
    select.value = '60';
    select.dispatchEvent(new Event('change'));
    await flush();
    // The registry writes the file with comments (JSON5), as JupyterLab keeps it.
    expect(saved.map(raw => JSON5.parse(raw))).toEqual([{ chartWindowMinutes: 60 }]);
    monitor.model.dispose();
    added[0].dispose();
  });
});

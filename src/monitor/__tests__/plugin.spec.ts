/**
 * The monitor plugin as JupyterLab activates it, with the settings registry: the
 * panel's History choice is saved as the chartWindowMinutes setting.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { CommandRegistry } from '@lumino/commands';
import { Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import { FakeAPI, flush } from '../../__tests__/fakes';
import type { IGPUMonitor } from '../../tokens';
import { monitorPlugin } from '../plugin';

function fakeApp(added: Widget[]): JupyterFrontEnd {
  return {
    commands: new CommandRegistry(),
    shell: { add: (widget: Widget) => added.push(widget), activateById: () => undefined }
  } as unknown as JupyterFrontEnd;
}

function registryWith(composite: Record<string, unknown>) {
  const saved: [string, unknown][] = [];
  const settings = {
    composite,
    changed: new Signal<unknown, void>({}),
    set: async (key: string, value: unknown) => {
      saved.push([key, value]);
    }
  };
  const registry = { load: async () => settings } as unknown as ISettingRegistry;
  return { registry, saved };
}

describe('the monitor plugin', () => {
  it("saves the panel's History choice as the chartWindowMinutes setting", async () => {
    const added: Widget[] = [];
    const { registry, saved } = registryWith({ chartWindowMinutes: 15 });
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
    expect(saved).toEqual([['chartWindowMinutes', 60]]);
    monitor.model.dispose();
    added[0].dispose();
  });
});

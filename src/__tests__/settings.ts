/**
 * A real SettingRegistry (JupyterLab's, with its validation) over a connector that serves
 * this extension's schema files and the user's raw settings, and records what is saved.
 */
import { ISettingRegistry, SettingRegistry } from '@jupyterlab/settingregistry';
import type { IDataConnector } from '@jupyterlab/statedb';

import { settingsSchema } from './schemas';

export function registryServing(
  name: string,
  raw = '{}'
): { registry: ISettingRegistry; saved: string[] } {
  const id = `jupyterlab-gpuscope:${name}`;
  const saved: string[] = [];
  const plugin = (): ISettingRegistry.IPlugin => ({
    id,
    raw: saved[saved.length - 1] ?? raw,
    schema: settingsSchema(name),
    version: 'test',
    data: { composite: {}, user: {} }
  });
  const connector: IDataConnector<ISettingRegistry.IPlugin, string, string> = {
    fetch: async (wanted: string) => (wanted === id ? plugin() : undefined),
    list: async () => ({ ids: [id], values: [plugin()] }),
    save: async (_: string, value: string) => {
      saved.push(value);
    },
    remove: async () => undefined
  };
  return { registry: new SettingRegistry({ connector }), saved };
}

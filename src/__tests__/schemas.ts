/** The settings schemas as the registry serves them: tests take defaults from here too. */
import * as fs from 'fs';
import * as path from 'path';

import type { ISettingRegistry } from '@jupyterlab/settingregistry';

export function settingsSchema(name: string): ISettingRegistry.ISchema {
  const file = path.join(__dirname, '..', '..', 'schema', `${name}.json`);
  return JSON.parse(fs.readFileSync(file, 'utf-8'));
}

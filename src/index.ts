/**
 * The extension's plugins, one folder each; nothing else happens here.
 */
import { cellUsagePlugin } from './cell-usage/plugin';
import { diagnosticPlugin } from './diagnostic/plugin';
import { explainPlugin } from './explain/plugin';
import { lintPlugin } from './lint/plugin';
import { memoryPlugin } from './memory/plugin';
import { monitorPlugin, statusBarPlugin } from './monitor/plugin';
import { profilesPlugin } from './profiles/plugin';
import { serverPlugin } from './server/plugin';
import { sharedGPUsPlugin } from './shared-gpus/plugin';

export default [
  serverPlugin,
  monitorPlugin,
  statusBarPlugin,
  diagnosticPlugin,
  profilesPlugin,
  lintPlugin,
  explainPlugin,
  memoryPlugin,
  cellUsagePlugin,
  sharedGPUsPlugin
];
export * from './api';
export * from './tokens';
export { gpuIcon } from './ui/icons';

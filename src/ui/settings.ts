import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/**
 * Load a plugin's settings, apply them now and after every change; without a registry
 * (a shell that has none) nothing happens. `onError` gets a failure to load: every
 * caller says what the user gets instead, so no load fails unseen.
 */
export function followSettings(
  registry: ISettingRegistry | null,
  pluginId: string,
  apply: (composite: ReadonlyPartialJSONObject, settings: ISettingRegistry.ISettings) => void,
  onError: (reason: unknown) => void
): void {
  if (!registry) {
    return;
  }
  registry
    .load(pluginId)
    .then(settings => {
      const read = () => apply(settings.composite, settings);
      settings.changed.connect(read);
      read();
    })
    .catch(onError);
}

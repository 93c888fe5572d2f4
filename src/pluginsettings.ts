import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/**
 * Load a plugin's settings, apply them now and after every change; without a registry
 * (a shell that has none) nothing happens. `onError` gets a failure to load.
 */
export function followSettings(
  registry: ISettingRegistry | null,
  pluginId: string,
  apply: (composite: ReadonlyPartialJSONObject) => void,
  onError?: (reason: unknown) => void
): void {
  if (!registry) {
    return;
  }
  const loaded = registry.load(pluginId).then(settings => {
    const read = () => apply(settings.composite);
    settings.changed.connect(read);
    read();
  });
  if (onError) {
    void loaded.catch(onError);
  }
}

import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/**
 * Load a plugin's settings and apply them now and after every change. Defaults live only
 * in the schema: the registry's composite carries them, and when the settings cannot be
 * loaded (a hand-edited file that fails validation) `onError` says so and the schema's
 * own defaults are applied. `apply` also gets the schema (defaults to fall back on, choices).
 * Resolves, once applied, with the settings (null when they could not be loaded).
 */
export async function followSettings(
  registry: ISettingRegistry,
  pluginId: string,
  apply: (composite: ReadonlyPartialJSONObject, schema: ISettingRegistry.ISchema) => void,
  onError: (reason: unknown) => void
): Promise<ISettingRegistry.ISettings | null> {
  let settings: ISettingRegistry.ISettings;
  try {
    settings = await registry.load(pluginId);
  } catch (reason) {
    onError(reason);
    const plugin = await registry.connector.fetch(pluginId).catch(() => undefined);
    const schema = plugin?.schema ?? { type: 'object' };
    apply(schemaDefaults(schema), schema);
    return null;
  }
  const read = () => apply(settings.composite, settings.schema);
  settings.changed.connect(read);
  read();
  return settings;
}

/** Each property's default in a settings schema. */
export function schemaDefaults(schema: ISettingRegistry.ISchema): ReadonlyPartialJSONObject {
  const defaults: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (property.default !== undefined) {
      defaults[key] = property.default;
    }
  }
  return defaults as ReadonlyPartialJSONObject;
}

/** The values a property's `oneOf` allows (its `const`s), in the schema's order. */
export function schemaChoices(schema: ISettingRegistry.ISchema, key: string): unknown[] {
  const property = schema.properties?.[key] as { oneOf?: { const?: unknown }[] } | undefined;
  return (property?.oneOf ?? []).map(choice => choice.const);
}

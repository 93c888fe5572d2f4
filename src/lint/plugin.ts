import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, IToolbarWidgetRegistry, Notification } from '@jupyterlab/apputils';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry,
  IEditorLanguageRegistry
} from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import type { IPolicy } from '../api';
import { usePythonParser } from '../core/lint/analyzer';
import { profileForTarget } from '../core/profiles/targets';
import { CommandIDs, IDeviceProfiles, IGPUScopeAPI, TRANSLATION_DOMAIN } from '../tokens';
import { followSettings } from '../ui/settings';
import { capabilityLinter, refreshAllEditors } from './editor';
import { NotebookLinter } from './notebook';
import { LintSummary } from './summary';

/**
 * Capability warnings: code checked in the editor against the kernel's GPU (or a target).
 */
export const lintPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:lint',
  description:
    "Warns in the editor when code uses what the kernel's GPU or PyTorch build cannot do.",
  autoStart: true,
  requires: [
    IDeviceProfiles,
    INotebookTracker,
    IEditorExtensionRegistry,
    IEditorLanguageRegistry,
    ISettingRegistry
  ],
  optional: [IToolbarWidgetRegistry, ICommandPalette, ITranslator, IGPUScopeAPI],
  activate: async (
    app: JupyterFrontEnd,
    profiles: IDeviceProfiles,
    notebooks: INotebookTracker,
    editors: IEditorExtensionRegistry,
    languages: IEditorLanguageRegistry,
    settingRegistry: ISettingRegistry,
    toolbars: IToolbarWidgetRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    api: IGPUScopeAPI | null
  ): Promise<void> => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const linter = new NotebookLinter(notebooks, profiles);
    const summaries = new Set<LintSummary>();
    const refresh = () => {
      refreshAllEditors();
      summaries.forEach(s => s.refresh());
    };
    profiles.changed.connect(refresh);

    // The Lezer Python parser of JupyterLab's own editor: nothing extra to download.
    void languages.getLanguage('python').then(python => {
      const parser = (
        python?.support?.language as { parser?: Parameters<typeof usePythonParser>[0] }
      )?.parser;
      if (parser) {
        usePythonParser(parser);
        refresh();
      } else {
        Notification.warning(
          trans.__(
            'GPU capability warnings are off: this JupyterLab has no Python language support for its editor.'
          )
        );
      }
    });

    editors.addExtension({
      name: 'jupyterlab-gpuscope:capability-lint',
      factory: options =>
        EditorExtensionRegistry.createImmutableExtension(
          capabilityLinter(text => linter.lintEditor(options.model, text))
        )
    });

    toolbars?.addFactory('Notebook', 'gpuscope-lint', panel => {
      const summary = new LintSummary(panel as NotebookPanel, linter, trans);
      summaries.add(summary);
      summary.disposed.connect(() => summaries.delete(summary));
      return summary;
    });

    app.commands.addCommand(CommandIDs.recheckNotebook, {
      label: trans.__('Re-check Notebook for GPU Capability Warnings'),
      caption: trans.__('Check every cell again against the GPU'),
      isEnabled: () => notebooks.currentWidget !== null,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => refresh()
    });
    palette?.addItem({ command: CommandIDs.recheckNotebook, category: trans.__('GPU') });

    // The admin's target (c.GPUScope.lint_target) wins over the user's setting: settings
    // files cannot be locked, the server's configuration can.
    let policy: IPolicy | null = null;
    let userSettings: Record<string, unknown> | null = null; // until the settings load
    const applyTarget = () => {
      if (!userSettings) {
        return;
      }
      const adminTarget = policy?.lint_target ?? '';
      const adminTorch = policy?.lint_target_torch ?? '';
      const target = adminTarget || String(userSettings.target).trim();
      const torch = adminTorch || String(userSettings.targetTorch).trim();
      const gpus = Number(userSettings.targetGpuCount);
      let profile = target || torch ? profileForTarget(target, gpus, torch) : null;
      const problem =
        target && !profile
          ? trans.__(
              'GPU lint target "%1" is not a GPU gpuscope knows; use a name such as T4 or A100, or a compute capability such as 7.5 (Settings → GPU capability warnings).',
              target
            )
          : null;
      if (problem) {
        Notification.warning(problem);
      }
      if (profile && (adminTarget || adminTorch)) {
        profile = { ...profile, source: trans.__('set by your administrator') };
      }
      profiles.setTarget(profile, problem);
    };
    await followSettings(
      settingRegistry,
      lintPlugin.id,
      composite => {
        userSettings = composite;
        linter.enabled = composite.enabled === true;
        linter.disabled = new Set(composite.disabledRules as string[]);
        applyTarget();
      },
      reason =>
        Notification.warning(
          trans.__(
            'GPU capability warning settings could not be loaded (%1); using the defaults.',
            String(reason)
          )
        )
    );
    // After JupyterLab's startup, whose requests ours would delay at the server.
    void app.restored
      .then(() => api?.policy())
      .then(reply => {
        if (reply) {
          policy = reply;
          if (reply.lint_target || reply.lint_target_torch) {
            applyTarget();
          }
        }
      })
      .catch(() => undefined); // an older server: the user's settings alone
  }
};

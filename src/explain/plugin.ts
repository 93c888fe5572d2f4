import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { shutDownKernel } from '../ui/kernels';
import { followSettings } from '../ui/settings';
import {
  CommandIDs,
  IDeviceProfiles,
  IGPUMonitor,
  IGPUScopeAPI,
  IMemoryXRay,
  TRANSLATION_DOMAIN
} from '../tokens';
import { CellErrorExplainer } from './notebook';

/**
 * The error explainer: a card under every cell output that shows a known GPU failure.
 */
export const explainPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:explain',
  description: 'Explains CUDA errors under the cell that raised them, with the fix.',
  autoStart: true,
  requires: [IGPUScopeAPI, IDeviceProfiles, INotebookTracker, ISettingRegistry],
  optional: [ICommandPalette, ITranslator, IGPUMonitor, IMemoryXRay],
  activate: async (
    app: JupyterFrontEnd,
    api: IGPUScopeAPI,
    profiles: IDeviceProfiles,
    notebooks: INotebookTracker,
    settingRegistry: ISettingRegistry,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    monitor: IGPUMonitor | null,
    memory: IMemoryXRay | null
  ): Promise<void> => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const explainer = new CellErrorExplainer({
      tracker: notebooks,
      facts: panel => ({
        kernel: profiles.kernelProfile(panel.sessionContext),
        server: profiles.serverProfile
      }),
      card: {
        trans,
        processes: () => api.processes(),
        units: () => monitor?.config.memoryUnits ?? 'GiB',
        openNotebook: path => void app.commands.execute('docmanager:open', { path }),
        shutDownKernel: (kernelId, path) => shutDownKernel(app, trans, kernelId, path)
      },
      memory
    });

    // A cell can fail before its kernel's probe answers: its card then gains the kernel's facts.
    profiles.changed.connect(() => explainer.recheckAll());

    app.commands.addCommand(CommandIDs.explainError, {
      label: trans.__('Explain GPU Error in Active Cell'),
      caption: trans.__("Explain the active cell's CUDA error or warning, and show the fix"),
      isEnabled: () => notebooks.activeCell?.model.type === 'code',
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        if (!(await explainer.explainActiveCell()).length) {
          Notification.info(
            trans.__('The active cell shows no GPU error that gpuscope recognises.'),
            { autoClose: 5000 }
          );
        }
      }
    });
    palette?.addItem({ command: CommandIDs.explainError, category: trans.__('GPU') });
    notebooks.activeCellChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.explainError)
    );

    await followSettings(
      settingRegistry,
      explainPlugin.id,
      composite => {
        explainer.enabled = composite.enabled === true;
        explainer.showWarnings = composite.showWarnings === true;
      },
      reason =>
        Notification.warning(
          trans.__('GPU error explainer settings could not be loaded (%1).', String(reason))
        )
    );
  }
};

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { CommandIDs, IGPUScopeAPI, TRANSLATION_DOMAIN } from '../tokens';
import { gpuIcon } from '../ui/icons';
import { followSettings } from '../ui/settings';
import { DiagnosticReport } from './report';
import {
  insertDiagnosticCell,
  kernelHasGPUScope,
  kernelProblem,
  runDiagnosticSilently
} from './run';

/**
 * The GPU diagnostic: insert it as a readable cell, or run it silently and show the report.
 */
export const diagnosticPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:diagnostic',
  description: 'Insert or run a GPU environment diagnostic in the notebook kernel.',
  autoStart: true,
  requires: [IGPUScopeAPI, INotebookTracker, ISettingRegistry],
  optional: [ICommandPalette, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    api: IGPUScopeAPI,
    notebooks: INotebookTracker,
    settingRegistry: ISettingRegistry,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): Promise<void> => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    // Read when a command runs; the schema (schema/diagnostic.json) holds the defaults.
    let runAfterInsert = false;
    let includePrivate = false;
    await followSettings(
      settingRegistry,
      diagnosticPlugin.id,
      composite => {
        runAfterInsert = composite.runAfterInsert === true;
        includePrivate = composite.includePrivate === true;
      },
      reason =>
        Notification.warning(
          trans.__(
            'GPU diagnostic settings could not be loaded (%1); using the defaults.',
            String(reason)
          )
        )
    );
    const hasNotebook = () => notebooks.currentWidget !== null;

    // Checks shared by both commands: a notebook with a live Python kernel, and the cell
    // for it (short when the kernel's environment has jupyterlab-gpuscope).
    const prepare = async (): Promise<{
      panel: NotebookPanel;
      source: string;
      selfContained: boolean;
    } | null> => {
      const panel = notebooks.currentWidget;
      if (!panel) {
        return null;
      }
      await panel.sessionContext.ready;
      const problem = await kernelProblem(panel.sessionContext, trans);
      if (problem) {
        Notification.warning(problem, { autoClose: 8000 });
        return null;
      }
      try {
        const [{ cells }, hasGPUScope] = await Promise.all([
          api.collector({ includePrivate }),
          kernelHasGPUScope(panel.sessionContext)
        ]);
        return {
          panel,
          source: hasGPUScope ? cells.short : cells.self_contained,
          selfContained: !hasGPUScope
        };
      } catch (error) {
        Notification.error(
          trans.__('Could not get the diagnostic from the server: %1', (error as Error).message)
        );
        return null;
      }
    };

    app.commands.addCommand(CommandIDs.insertDiagnostic, {
      label: trans.__('Insert GPU Diagnostic Cell'),
      caption: trans.__(
        'Insert a cell that checks the GPU, driver and PyTorch build, below the active cell'
      ),
      icon: gpuIcon,
      isEnabled: hasNotebook,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const ready = await prepare();
        if (ready) {
          await insertDiagnosticCell(
            ready.panel,
            ready.source,
            ready.selfContained,
            runAfterInsert
          );
        }
      }
    });
    app.commands.addCommand(CommandIDs.runDiagnostic, {
      label: trans.__('Run GPU Diagnostic'),
      caption: trans.__(
        'Check the GPU, driver and PyTorch build in this kernel, without changing the notebook'
      ),
      icon: gpuIcon,
      isEnabled: hasNotebook,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const ready = await prepare();
        if (!ready) {
          return;
        }
        const id = Notification.emit(trans.__('Running the GPU diagnostic…'), 'in-progress', {
          autoClose: false
        });
        try {
          const bundle = await runDiagnosticSilently(
            ready.panel.sessionContext,
            ready.source,
            trans
          );
          Notification.dismiss(id);
          const report = new DiagnosticReport(trans);
          report.setBundle(bundle);
          await showDialog({
            title: trans.__('GPU diagnostic — %1', ready.panel.context.path),
            body: report,
            buttons: [Dialog.okButton({ label: trans.__('Close') })]
          });
        } catch (error) {
          Notification.update({
            id,
            message: (error as Error).message,
            type: 'error',
            autoClose: false
          });
        }
      }
    });
    const category = trans.__('GPU');
    palette?.addItem({ command: CommandIDs.insertDiagnostic, category });
    palette?.addItem({ command: CommandIDs.runDiagnostic, category });
    notebooks.currentChanged.connect(() => {
      app.commands.notifyCommandChanged(CommandIDs.insertDiagnostic);
      app.commands.notifyCommandChanged(CommandIDs.runDiagnostic);
    });
  }
};

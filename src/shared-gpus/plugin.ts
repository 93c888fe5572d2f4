import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { IGPUMonitor, IGPUScopeAPI, ISharedGPUs, TRANSLATION_DOMAIN } from '../tokens';
import { SharedGPUsModel } from './model';
import { NudgeNotifier } from './nudges';
import { UsageSection } from './section';

/**
 * Shared GPUs: this user's memory against the admin's soft limit (status bar, panel) and
 * notifications for idle kernels that hold GPU memory, with "Shut down kernel" and "Keep".
 */
export const sharedGPUsPlugin: JupyterFrontEndPlugin<ISharedGPUs> = {
  id: 'jupyterlab-gpuscope:shared-gpus',
  description:
    "This user's GPU memory against the soft limit, and nudges for idle kernels that hold GPU memory.",
  autoStart: true,
  requires: [IGPUScopeAPI, IGPUMonitor],
  provides: ISharedGPUs,
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    api: IGPUScopeAPI,
    monitor: IGPUMonitor,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const model = new SharedGPUsModel(api, trans);
    // After JupyterLab's startup, whose requests ours would delay at the server.
    void app.restored.then(() => model.start());
    const reportFailure = (error: unknown): void => {
      Notification.error(
        trans.__('The GPU action failed: %1', String((error as Error)?.message ?? error))
      );
    };
    const actions = {
      shutDown: async (kernelId: string) => {
        await app.serviceManager.kernels.shutdown(kernelId);
        Notification.success(trans.__('Kernel shut down; its GPU memory is being released.'), {
          autoClose: 4000
        });
        await model.refresh();
      },
      keep: async (kernelId: string) => {
        await api.keepKernel(kernelId);
        await model.refresh();
      }
    };
    const drawSection = (): void => section.update(model.usage, monitor.config.memoryUnits);
    const notifier = new NudgeNotifier(actions, trans);
    const section = new UsageSection(
      {
        // After an action, show its outcome at once.
        shutDown: id => actions.shutDown(id).then(drawSection, reportFailure),
        keep: id => actions.keep(id).then(drawSection, reportFailure),
        openNotebook: path => void app.commands.execute('docmanager:open', { path })
      },
      trans
    );
    monitor.panel.addSection(section.node);
    model.changed.connect(() => {
      if (model.usage) {
        notifier.update(model.usage, monitor.config.memoryUnits);
      }
      // A polled change is drawn with the next reading, in the same frame.
      monitor.model.withNextReading(drawSection, 5000);
    });
    monitor.configChanged.connect((_, config) => section.update(model.usage, config.memoryUnits));
    return model;
  }
};

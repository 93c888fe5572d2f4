import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import type { GPUScopeAPI } from '../api';
import { IGPUMonitor, IGPUScopeAPI, IGPUUsage, TRANSLATION_DOMAIN } from '../tokens';
import { UsageModel } from './model';
import { NudgeNotifier } from './nudges';
import { UsageSection } from './section';

/**
 * Shared GPUs: this user's memory against the admin's soft limit (status bar, panel) and
 * notifications for idle kernels that hold GPU memory, with "Shut down kernel" and "Keep".
 */
export const sharedGpusPlugin: JupyterFrontEndPlugin<UsageModel> = {
  id: 'jupyterlab-gpuscope:shared-gpus',
  description: "This user's GPU memory against the soft limit, and nudges for idle kernels that hold GPU memory.",
  autoStart: true,
  requires: [IGPUScopeAPI, IGPUMonitor],
  provides: IGPUUsage,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, api: GPUScopeAPI, monitor: IGPUMonitor, translator: ITranslator | null) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const model = new UsageModel(api);
    const reportFailure = (error: unknown): void => {
      Notification.error(trans.__('The GPU action failed: %1', String((error as Error)?.message ?? error)));
    };
    const actions = {
      shutDown: async (kernelId: string) => {
        await app.serviceManager.kernels.shutdown(kernelId);
        Notification.success(trans.__('Kernel shut down; its GPU memory is being released.'), { autoClose: 4000 });
        await model.refresh();
      },
      keep: async (kernelId: string) => {
        await api.keepKernel(kernelId);
        await model.refresh();
      }
    };
    const notifier = new NudgeNotifier(actions, trans);
    const section = new UsageSection(
      {
        shutDown: id => actions.shutDown(id).catch(reportFailure),
        keep: id => actions.keep(id).catch(reportFailure),
        openNotebook: path => void app.commands.execute('docmanager:open', { path })
      },
      trans
    );
    monitor.panel.addSection(section.node);
    model.changed.connect(() => {
      const units = monitor.config.memoryUnits;
      if (model.usage) {
        notifier.update(model.usage, units);
      }
      section.update(model.usage, units);
    });
    monitor.configChanged.connect((_, config) => section.update(model.usage, config.memoryUnits));
    return model;
  }
};

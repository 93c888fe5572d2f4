import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';

import { formatSize } from '../core/memory';
import { followSettings } from '../ui/settings';
import type { CellUsageMode } from '../api';
import { IGPUMonitor, IGPUScopeAPI, TRANSLATION_DOMAIN } from '../tokens';
import { CellUsageTracker } from './tracker';
import { heaviness } from './usage';

/**
 * Per-cell GPU usage: a line under each executed cell that used the GPU, and the
 * notebook's heaviest cells in the GPU panel.
 */
export const cellUsagePlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:cell-usage',
  description: 'Peak GPU memory and utilisation under every executed cell.',
  autoStart: true,
  requires: [IGPUScopeAPI, INotebookTracker, ISettingRegistry],
  optional: [IGPUMonitor, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    api: IGPUScopeAPI,
    notebooks: INotebookTracker,
    settingRegistry: ISettingRegistry,
    monitor: IGPUMonitor | null,
    translator: ITranslator | null
  ): Promise<void> => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const tracker = new CellUsageTracker(notebooks, api, monitor?.model ?? null, trans);
    if (monitor) {
      tracker.units = monitor.config.memoryUnits;
      monitor.configChanged.connect((_, config) => {
        tracker.units = config.memoryUnits;
      });
    }
    if (monitor?.panel) {
      const section = heaviestCellsSection(tracker, notebooks, trans);
      monitor.panel.addSection(section.node);
      tracker.changed.connect(section.update);
      notebooks.currentChanged.connect(section.update);
      section.update();
    }
    await followSettings(
      settingRegistry,
      cellUsagePlugin.id,
      composite => {
        tracker.saveInMetadata = composite.saveInMetadata === true;
        tracker.mode = composite.measure as CellUsageMode;
        tracker.flightRecorder = composite.flightRecorder === true;
        tracker.enabled = composite.enabled === true;
      },
      reason =>
        Notification.warning(
          trans.__('Per-cell GPU usage settings could not be loaded (%1).', String(reason))
        )
    );
  }
};

/** "Heaviest cells" of the active notebook in the GPU panel, each a link to its cell. */
function heaviestCellsSection(
  tracker: CellUsageTracker,
  notebooks: INotebookTracker,
  trans: TranslationBundle
) {
  const node = document.createElement('section');
  node.className = 'jp-gpuscope-HeavyCells';
  const title = document.createElement('div');
  title.className = 'jp-gpuscope-HeavyCells-title';
  const list = document.createElement('ol');
  node.append(title, list);
  const update = () => {
    const panel = notebooks.currentWidget;
    const cells = panel ? tracker.heaviest(panel) : [];
    node.hidden = !cells.length;
    if (!panel || !cells.length) {
      return;
    }
    title.textContent = trans.__('Heaviest cells in %1 (GPU memory)', panel.context.localPath);
    list.replaceChildren(
      ...cells.map(({ cellIndex, usage }) => {
        const item = document.createElement('li');
        const link = document.createElement('button');
        link.type = 'button';
        link.className = 'jp-gpuscope-ProcessTable-open';
        link.textContent = trans.__(
          'Cell %1: %2',
          cellIndex + 1,
          formatSize(heaviness(usage), tracker.units)
        );
        link.title = trans.__('Go to cell %1', cellIndex + 1);
        link.addEventListener('click', () => goToCell(panel, cellIndex));
        item.appendChild(link);
        return item;
      })
    );
  };
  return { node, update };
}

function goToCell(panel: NotebookPanel, index: number): void {
  panel.content.activeCellIndex = index;
  void panel.content.scrollToItem(index);
  panel.activate();
}

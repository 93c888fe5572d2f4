import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, IThemeManager, Notification } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import type { IPolicy } from '../api';
import {
  CommandIDs,
  IDeviceProfiles,
  IGPUMonitor,
  IGPUPanel,
  IGPUScopeAPI,
  IMonitorConfig,
  IMonitorModel,
  ISharedGPUs,
  TRANSLATION_DOMAIN
} from '../tokens';
import { gpuIcon } from '../ui/icons';
import { followSettings } from '../ui/settings';
import { reportFailure, shutDownFromPanel } from './actions';
import { MonitorModel } from './model';
import { GPUPanel } from './panel';
import { monitorConfig, windowChoicesOf, withPolicy } from './settings';
import { GPUStatusItem, GPUStatusModel } from './statusbar';

/**
 * The live monitor: one model fed by the server's stream, the GPU panel, its commands.
 */
export const monitorPlugin: JupyterFrontEndPlugin<IGPUMonitor> = {
  id: 'jupyterlab-gpuscope:monitor',
  description: 'The GPU panel with history charts and processes, fed by one stream.',
  autoStart: true,
  requires: [IGPUScopeAPI, ISettingRegistry],
  provides: IGPUMonitor,
  optional: [ICommandPalette, IThemeManager, ILabShell, ILayoutRestorer, ITranslator],
  activate: async (
    app: JupyterFrontEnd,
    api: IGPUScopeAPI,
    settingRegistry: ISettingRegistry,
    palette: ICommandPalette | null,
    themeManager: IThemeManager | null,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ): Promise<IGPUMonitor> => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const model = new MonitorModel({ api });
    let monitor: Private.Monitor | null = null;
    let panel: GPUPanel | null = null;
    let userSettings: ReadonlyPartialJSONObject = {};
    let schema: ISettingRegistry.ISchema = { type: 'object' };
    let policy: IPolicy | null = null;
    const apply = () => {
      const config = monitorConfig(withPolicy(userSettings, policy), schema);
      model.setMinInterval(config.updateIntervalSeconds);
      panel?.configure(Private.panelConfig(config));
      monitor?.setConfig(config);
      return config;
    };
    // The settings first: the panel and the status bar start with them (the schema holds
    // every default).
    const settings = await followSettings(
      settingRegistry,
      monitorPlugin.id,
      (composite, loadedSchema) => {
        userSettings = composite;
        schema = loadedSchema;
        apply();
      },
      reason =>
        Notification.warning(
          trans.__(
            'GPU Monitor settings could not be loaded (%1); using the defaults.',
            String(reason)
          )
        )
    );
    const config = apply();
    panel = new GPUPanel({
      model,
      trans,
      config: Private.panelConfig(config),
      windowChoices: windowChoicesOf(schema),
      actions: {
        openNotebook: path => void app.commands.execute('docmanager:open', { path }),
        shutDownKernel: (kernelId, path) =>
          void shutDownFromPanel(app, trans, model, kernelId, path),
        inspectKernel: (kernelId, path) =>
          void app.commands
            .execute(CommandIDs.memoryBreakdown, { kernelId, path })
            .catch(reason => reportFailure(trans, reason))
      },
      diagnostic: {
        available: () =>
          app.commands.hasCommand(CommandIDs.runDiagnostic) &&
          app.commands.isEnabled(CommandIDs.runDiagnostic),
        run: () => void app.commands.execute(CommandIDs.runDiagnostic)
      },
      // The History choice is a setting: it is kept for the next session.
      onWindowChange: minutes =>
        void settings
          ?.set('chartWindowMinutes', minutes)
          .catch(reason => reportFailure(trans, reason))
    });
    panel.title.icon = gpuIcon;
    app.shell.add(panel, 'right', { rank: 900 });
    restorer?.add(panel, panel.id);
    const shown = panel;
    themeManager?.themeChanged.connect(() => shown.refreshTheme());
    monitor = new Private.Monitor(model, panel, config);
    Private.addCommands(app, model, panel, labShell, palette, trans);

    // After JupyterLab's startup, whose requests ours would delay at the server.
    void app.restored.then(() => {
      void model.start();
      api
        .policy()
        .then(reply => {
          policy = reply;
          if (reply.memory_warning_percent || reply.memory_critical_percent) {
            apply();
          }
        })
        .catch(() => undefined); // an older server: the user's settings alone
    });
    return monitor;
  }
};

/**
 * The status bar item: the active notebook's GPUs at a glance; click for the panel.
 */
export const statusBarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:status-bar',
  description: 'GPU utilisation and memory in the status bar.',
  autoStart: true,
  requires: [IGPUMonitor],
  optional: [IStatusBar, INotebookTracker, ITranslator, ISharedGPUs, IDeviceProfiles],
  activate: (
    app: JupyterFrontEnd,
    monitor: IGPUMonitor,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null,
    translator: ITranslator | null,
    shared: ISharedGPUs | null,
    profiles: IDeviceProfiles | null
  ) => {
    if (!statusBar) {
      return; // e.g. a shell without a status bar
    }
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const statusConfig = (config: IMonitorConfig): GPUStatusModel.IConfig => ({
      content: config.statusBarContent,
      units: config.memoryUnits,
      thresholds: config.thresholds
    });
    const model = new GPUStatusModel(monitor.model, trans, statusConfig(monitor.config));
    monitor.configChanged.connect((_, config) => model.configure(statusConfig(config)));
    model.setSharedGPUs(shared);
    Private.followActiveKernel(model, monitor.model, notebooks, profiles);

    const item = new GPUStatusItem(model, () => void app.commands.execute(CommandIDs.openPanel));
    statusBar.registerStatusItem(statusBarPlugin.id, {
      item,
      align: 'left',
      rank: 4,
      isActive: () => true,
      activeStateChanged: model.stateChanged
    });
  }
};

namespace Private {
  /** The monitor other plugins get: its config changes as the settings do. */
  export class Monitor implements IGPUMonitor {
    constructor(
      readonly model: IMonitorModel,
      readonly panel: IGPUPanel,
      private _config: IMonitorConfig
    ) {}

    get config(): IMonitorConfig {
      return this._config;
    }

    get configChanged(): Signal<IGPUMonitor, IMonitorConfig> {
      return this._configChanged;
    }

    setConfig(config: IMonitorConfig): void {
      this._config = config;
      this._configChanged.emit(config);
    }

    private _configChanged = new Signal<IGPUMonitor, IMonitorConfig>(this);
  }

  /**
   * Where Escape in the panel should send focus back: the element that had it, or, when
   * the command came from the palette or a menu (which close), the main area's widget.
   */
  export function whereFocusWas(app: JupyterFrontEnd): (() => void) | null {
    const active = document.activeElement as HTMLElement | null;
    if (active && active !== document.body && !active.closest('.lm-CommandPalette, .lm-Menu')) {
      return () => active.focus();
    }
    const widget = app.shell.currentWidget;
    return widget ? () => app.shell.activateById(widget.id) : null;
  }

  export function panelConfig(config: IMonitorConfig): GPUPanel.IConfig {
    return {
      units: config.memoryUnits,
      windowMinutes: config.chartWindowMinutes,
      thresholds: config.thresholds
    };
  }

  export function addCommands(
    app: JupyterFrontEnd,
    model: MonitorModel,
    panel: GPUPanel,
    labShell: ILabShell | null,
    palette: ICommandPalette | null,
    trans: TranslationBundle
  ): void {
    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Open GPU Monitor'),
      caption: trans.__('Show GPU utilisation, memory, history and processes'),
      icon: gpuIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        panel.setReturnFocus(whereFocusWas(app));
        if (labShell && !panel.isVisible) {
          labShell.expandRight();
        }
        app.shell.activateById(panel.id);
      }
    });
    app.commands.addCommand(CommandIDs.toggleMonitoring, {
      label: () =>
        model.paused ? trans.__('Resume GPU Monitoring') : trans.__('Pause GPU Monitoring'),
      caption: trans.__('Pause or resume live GPU updates'),
      isToggled: () => model.paused,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => (model.paused ? model.resume() : model.pause())
    });
    // Menus and the palette re-render on notifyCommandChanged: only when the label flips.
    let wasPaused = model.paused;
    model.changed.connect(() => {
      if (model.paused !== wasPaused) {
        wasPaused = model.paused;
        app.commands.notifyCommandChanged(CommandIDs.toggleMonitoring);
      }
    });
    const category = trans.__('GPU');
    palette?.addItem({ command: CommandIDs.openPanel, category });
    palette?.addItem({ command: CommandIDs.toggleMonitoring, category });
  }

  /**
   * Show the GPUs (or the MIG instance) of the active notebook's kernel, from the process
   * lists the server pushes, only with more than one GPU or MIG instance to choose from.
   * The kernel's MIG instance comes from its probe (the device profiles).
   */
  export function followActiveKernel(
    model: GPUStatusModel,
    monitor: IMonitorModel,
    notebooks: INotebookTracker | null,
    profiles: IDeviceProfiles | null
  ): void {
    let watch = monitor.watchProcesses();
    const follow = () => {
      const context = notebooks?.currentWidget?.sessionContext ?? null;
      const mig = profiles?.kernelProfile(context)?.mig?.uuid ?? null;
      model.setActiveKernel(context?.session?.kernel?.id ?? null, mig);
    };
    profiles?.changed.connect(follow);
    notebooks?.currentChanged.connect((_, panel) => {
      follow();
      panel?.sessionContext.kernelChanged.connect(follow);
    });
    follow();
    monitor.changed.connect(() => {
      const devices = monitor.devices?.devices ?? [];
      const several = devices.length > 1 || devices.some(d => (d.mig_instances ?? []).length > 0);
      if (!several && !watch.isDisposed) {
        watch.dispose();
      } else if (several && watch.isDisposed) {
        watch = monitor.watchProcesses();
      }
    });
  }
}

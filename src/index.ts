import {
  ILabShell,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  IThemeManager,
  IToolbarWidgetRegistry,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry,
  IEditorLanguageRegistry
} from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';

import gpuSvg from '../style/icons/gpu.svg';
import { GPUScopeAPI } from './api';
import { DiagnosticReport } from './diagnostic/report';
import { usePythonParser } from './lint/analyzer';
import { capabilityLinter, refreshAllEditors } from './lint/editor';
import { NotebookLinter } from './lint/notebook';
import { ProfileStore, profileForTarget } from './lint/profile';
import { LintSummary } from './lint/summary';
import { insertDiagnosticCell, kernelHasGpuscope, kernelProblem, runDiagnosticSilently } from './diagnostic/run';
import { MonitorModel } from './monitor/model';
import { GpuPanel } from './monitor/panel';
import { monitorConfig, withPolicy } from './monitor/settings';
import { GpuStatusItem, GpuStatusModel } from './monitor/statusbar';
import { cellUsagePlugin } from './cellgpu/plugin';
import type { UsageModel } from './classroom/model';
import { sharedGpusPlugin } from './classroom/plugin';
import { explainPlugin } from './explain/plugin';
import { followSettings } from './pluginsettings';
import { shutDownKernel } from './kernels';
import {
  CommandIDs,
  IDeviceProfiles,
  IGPUMonitor,
  IGPUScopeAPI,
  IGPUUsage,
  IMonitorConfig,
  IPolicy,
  TRANSLATION_DOMAIN
} from './tokens';

export const gpuIcon = new LabIcon({ name: 'jupyterlab-gpuscope:gpu', svgstr: gpuSvg });

/**
 * Provides the API client and checks once that the server extension answers.
 */
const apiPlugin: JupyterFrontEndPlugin<GPUScopeAPI> = {
  id: 'jupyterlab-gpuscope:api',
  description: 'Connects to the gpuscope server extension.',
  autoStart: true,
  provides: IGPUScopeAPI,
  optional: [ITranslator],
  activate: (app: JupyterFrontEnd, translator: ITranslator | null) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const api = new GPUScopeAPI(app.serviceManager.serverSettings);
    api.devices().catch(reason => {
      Notification.error(
        trans.__(
          'GPU monitor: the gpuscope server extension did not answer (%1). Is it installed and enabled?',
          String(reason?.message ?? reason)
        ),
        { autoClose: false }
      );
    });
    return api;
  }
};

/**
 * The live monitor: one model fed by the server's stream, the GPU panel, its commands.
 */
const monitorPlugin: JupyterFrontEndPlugin<IGPUMonitor> = {
  id: 'jupyterlab-gpuscope:monitor',
  description: 'The GPU panel with history charts and processes, fed by one stream.',
  autoStart: true,
  requires: [IGPUScopeAPI],
  provides: IGPUMonitor,
  optional: [ISettingRegistry, ICommandPalette, IThemeManager, ILabShell, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    api: GPUScopeAPI,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    themeManager: IThemeManager | null,
    labShell: ILabShell | null,
    translator: ITranslator | null
  ): IGPUMonitor => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const model = new MonitorModel({ api });
    const monitor = { model, config: monitorConfig({}) } as { -readonly [K in keyof IGPUMonitor]: IGPUMonitor[K] };
    const configChanged = new Signal<IGPUMonitor, IMonitorConfig>(monitor);
    monitor.configChanged = configChanged;

    const panel = new GpuPanel({
      model,
      trans,
      actions: {
        openNotebook: path => void app.commands.execute('docmanager:open', { path }),
        shutDownKernel: (kernelId, path) =>
          void shutDownKernel(app, trans, kernelId, path).then(() => model.refreshProcesses())
      }
    });
    panel.title.icon = gpuIcon;
    monitor.panel = panel;
    app.shell.add(panel, 'right', { rank: 900 });
    themeManager?.themeChanged.connect(() => panel.refreshTheme());

    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Open GPU Panel'),
      caption: trans.__('Show GPU utilisation, memory, history and processes'),
      icon: gpuIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
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

    const apply = (config: IMonitorConfig) => {
      monitor.config = config;
      model.setMinInterval(config.updateIntervalSeconds);
      panel.configure({
        units: config.memoryUnits,
        windowMinutes: config.chartWindowMinutes,
        thresholds: config.thresholds
      });
      configChanged.emit(config);
    };
    let userSettings: ReadonlyPartialJSONObject = {};
    let policy: IPolicy | null = null;
    followSettings(
      settingRegistry,
      monitorPlugin.id,
      composite => {
        userSettings = composite;
        apply(monitorConfig(withPolicy(composite, policy)));
      },
      reason =>
        Notification.warning(trans.__('GPU monitor settings could not be loaded (%1); using the defaults.', String(reason)))
    );
    void api
      .policy()
      .then(reply => {
        policy = reply;
        if (reply.memory_warning_percent || reply.memory_critical_percent) {
          apply(monitorConfig(withPolicy(userSettings, policy)));
        }
      })
      .catch(() => undefined); // an older server: the user's settings alone
    void model.start();
    return monitor;
  }
};

/**
 * The status bar item: the active notebook's GPUs at a glance; click for the panel.
 */
const statusBarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:status-bar',
  description: 'GPU utilisation and memory in the status bar.',
  autoStart: true,
  requires: [IGPUMonitor],
  optional: [IStatusBar, INotebookTracker, ITranslator, IGPUUsage],
  activate: (
    app: JupyterFrontEnd,
    monitor: IGPUMonitor,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null,
    translator: ITranslator | null,
    usage: UsageModel | null
  ) => {
    if (!statusBar) {
      return; // e.g. a shell without a status bar
    }
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const model = new GpuStatusModel(monitor.model, trans);
    const configure = (config: IMonitorConfig) =>
      model.configure({
        content: config.statusBarContent,
        units: config.memoryUnits,
        thresholds: config.thresholds
      });
    configure(monitor.config);
    monitor.configChanged.connect((_, config) => configure(config));
    usage?.changed.connect(() => model.setUsage(usage.usage));

    // Follow the active notebook's kernel, so the item shows the GPUs it uses. Which GPU
    // a kernel uses changes rarely: a slow poll is enough.
    const STATUS_PROCESS_INTERVAL = 15000;
    let watch = monitor.model.watchProcesses(STATUS_PROCESS_INTERVAL);
    const follow = () => {
      const session = notebooks?.currentWidget?.sessionContext.session;
      model.setActiveKernel(session?.kernel?.id ?? null);
    };
    notebooks?.currentChanged.connect((_, panel) => {
      follow();
      panel?.sessionContext.kernelChanged.connect(follow);
    });
    follow();
    // Processes are polled for this only when there is more than one GPU to choose from.
    monitor.model.changed.connect(() => {
      const several = (monitor.model.devices?.devices.length ?? 0) > 1;
      if (!several && !watch.isDisposed) {
        watch.dispose();
      } else if (several && watch.isDisposed) {
        watch = monitor.model.watchProcesses(STATUS_PROCESS_INTERVAL);
      }
    });

    const item = new GpuStatusItem(model, () => void app.commands.execute(CommandIDs.openPanel));
    statusBar.registerStatusItem(statusBarPlugin.id, {
      item,
      align: 'left',
      rank: 4,
      isActive: () => true,
      activeStateChanged: model.stateChanged
    });
  }
};

/**
 * The GPU diagnostic: insert it as a readable cell, or run it silently and show the report.
 */
const diagnosticPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:diagnostic',
  description: 'Insert or run a GPU environment diagnostic in the notebook kernel.',
  autoStart: true,
  requires: [IGPUScopeAPI, INotebookTracker],
  optional: [ISettingRegistry, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    api: GPUScopeAPI,
    notebooks: INotebookTracker,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    let runAfterInsert = true;
    let includePrivate = false;
    followSettings(settingRegistry, diagnosticPlugin.id, composite => {
      runAfterInsert = composite.runAfterInsert !== false;
      includePrivate = composite.includePrivate === true;
    });
    const hasNotebook = () => notebooks.currentWidget !== null;

    // Checks shared by both commands: a notebook with a live Python kernel, and the cell
    // for it (short when the kernel's environment has jupyterlab-gpuscope).
    const prepare = async (): Promise<{ panel: NotebookPanel; source: string; selfContained: boolean } | null> => {
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
        const [{ cells }, hasGpuscope] = await Promise.all([
          api.collector(includePrivate),
          kernelHasGpuscope(panel.sessionContext)
        ]);
        return { panel, source: hasGpuscope ? cells.short : cells.self_contained, selfContained: !hasGpuscope };
      } catch (error) {
        Notification.error(trans.__('Could not get the diagnostic from the server: %1', (error as Error).message));
        return null;
      }
    };

    app.commands.addCommand(CommandIDs.insertDiagnostic, {
      label: trans.__('Insert GPU Diagnostic Cell'),
      caption: trans.__('Insert a cell that checks the GPU, driver and PyTorch build, below the active cell'),
      icon: gpuIcon,
      isEnabled: hasNotebook,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const ready = await prepare();
        if (ready) {
          await insertDiagnosticCell(ready.panel, ready.source, ready.selfContained, runAfterInsert);
        }
      }
    });
    app.commands.addCommand(CommandIDs.runDiagnostic, {
      label: trans.__('Run GPU Diagnostic'),
      caption: trans.__('Check the GPU, driver and PyTorch build in this kernel, without changing the notebook'),
      icon: gpuIcon,
      isEnabled: hasNotebook,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const ready = await prepare();
        if (!ready) {
          return;
        }
        const id = Notification.emit(trans.__('Running the GPU diagnostic…'), 'in-progress', { autoClose: false });
        try {
          const bundle = await runDiagnosticSilently(ready.panel.sessionContext, ready.source, trans);
          Notification.dismiss(id);
          const report = new DiagnosticReport(trans);
          report.setBundle(bundle);
          await showDialog({
            title: trans.__('GPU diagnostic — %1', ready.panel.context.path),
            body: report,
            buttons: [Dialog.okButton({ label: trans.__('Close') })]
          });
        } catch (error) {
          Notification.update({ id, message: (error as Error).message, type: 'error', autoClose: false });
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

/**
 * Device profiles: what each notebook's kernel can use (a cheap silent probe at kernel
 * start) and what the server sees; the linter and the error explainer read them.
 */
const profilesPlugin: JupyterFrontEndPlugin<ProfileStore> = {
  id: 'jupyterlab-gpuscope:profiles',
  description: "Probes each notebook kernel's GPUs and torch build once per kernel start.",
  autoStart: true,
  requires: [IGPUScopeAPI, INotebookTracker],
  provides: IDeviceProfiles,
  activate: (app: JupyterFrontEnd, api: GPUScopeAPI, notebooks: INotebookTracker): ProfileStore => {
    const profiles = new ProfileStore(api);
    // The server's GPUs, until a kernel says more.
    void api
      .devices()
      .then(devices => {
        const first = devices.devices[0];
        profiles.setServerProfile(
          devices.status === 'ok' && first
            ? {
                source: devices.live ? 'server' : 'server (a recording)',
                hasGpu: true,
                cc: first.compute_capability,
                name: first.name,
                deviceCount: devices.devices.length,
                recorded: !devices.live
              }
            : { source: 'server', hasGpu: false, noGpuReason: devices.reason ?? 'the server sees no GPU', cc: null, name: null, deviceCount: 0 }
        );
      })
      .catch(() => undefined);

    // Probe each notebook's kernel once it is ready (and again after a kernel change).
    notebooks.widgetAdded.connect((_, panel) => {
      const probe = () => {
        void panel.sessionContext.ready.then(() => profiles.probe(panel.sessionContext)).catch(() => undefined);
      };
      panel.sessionContext.kernelChanged.connect(probe);
      probe();
    });

    return profiles;
  }
};

/**
 * Capability warnings: code checked in the editor against the kernel's GPU (or a target).
 */
const lintPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyterlab-gpuscope:lint',
  description: "Warns in the editor when code uses what the kernel's GPU or PyTorch build cannot do.",
  autoStart: true,
  requires: [IDeviceProfiles, INotebookTracker, IEditorExtensionRegistry, IEditorLanguageRegistry],
  optional: [ISettingRegistry, IToolbarWidgetRegistry, ICommandPalette, ITranslator, IGPUScopeAPI],
  activate: (
    app: JupyterFrontEnd,
    profiles: ProfileStore,
    notebooks: INotebookTracker,
    editors: IEditorExtensionRegistry,
    languages: IEditorLanguageRegistry,
    settingRegistry: ISettingRegistry | null,
    toolbars: IToolbarWidgetRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    api: GPUScopeAPI | null
  ) => {
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
      const parser = (python?.support?.language as { parser?: Parameters<typeof usePythonParser>[0] })?.parser;
      if (parser) {
        usePythonParser(parser);
        refresh();
      } else {
        Notification.warning(
          trans.__('GPU capability warnings are off: this JupyterLab has no Python language support for its editor.')
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
    let userSettings: Record<string, unknown> = {};
    const applyTarget = () => {
      const adminTarget = policy?.lint_target ?? '';
      const adminTorch = policy?.lint_target_torch ?? '';
      const target = adminTarget || String(userSettings.target ?? '').trim();
      const torch = adminTorch || String(userSettings.targetTorch ?? '').trim();
      const gpus = Number(userSettings.targetGpuCount ?? 1);
      let profile = target || torch ? profileForTarget(target, gpus, torch) : null;
      const problem =
        target && !profile
          ? trans.__('GPU lint target "%1" is not a GPU gpuscope knows; use a name such as T4 or A100, or a compute capability such as 7.5 (Settings → GPU capability warnings).', target)
          : null;
      if (problem) {
        Notification.warning(problem);
      }
      if (profile && (adminTarget || adminTorch)) {
        profile = { ...profile, source: trans.__('set by your administrator') };
      }
      profiles.setTarget(profile, problem);
    };
    followSettings(settingRegistry, lintPlugin.id, composite => {
      userSettings = composite;
      linter.enabled = composite.enabled !== false;
      linter.disabled = new Set((composite.disabledRules as string[]) ?? []);
      applyTarget();
    });
    void api
      ?.policy()
      .then(reply => {
        policy = reply;
        if (reply.lint_target || reply.lint_target_torch) {
          applyTarget();
        }
      })
      .catch(() => undefined); // an older server: the user's settings alone

  }
};

export default [
  apiPlugin,
  monitorPlugin,
  statusBarPlugin,
  diagnosticPlugin,
  profilesPlugin,
  lintPlugin,
  explainPlugin,
  cellUsagePlugin,
  sharedGpusPlugin
];
export { GPUScopeAPI } from './api';
export * from './tokens';

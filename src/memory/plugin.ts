import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  showDialog,
  ToolbarButton
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import type { IMemoryAction, IMemoryBreakdown } from '../api';
import { CommandIDs, IGPUMonitor, IGPUScopeAPI, IMemoryXRay, TRANSLATION_DOMAIN } from '../tokens';
import { gpuIcon } from '../ui/icons';
import { MemoryView } from './view';
import { askKernel } from './xray';

/** The memory X-ray: asks kernels what holds their GPU memory and gives it back. */
class MemoryXRay implements IMemoryXRay {
  constructor(
    private _api: IGPUScopeAPI,
    private _trans: TranslationBundle,
    private _monitor: IGPUMonitor | null
  ) {}

  async show(host: HTMLElement, kernel: Kernel.IKernelConnection): Promise<void> {
    const trans = this._trans;
    const view = new MemoryView({
      trans,
      units: () => this._monitor?.config.memoryUnits ?? 'GiB',
      act: async (action, args) =>
        (await askKernel(kernel, await this._loader(), action, args)) as IMemoryAction,
      confirm: async (title, body, button) =>
        (
          await showDialog({
            title,
            body,
            buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: button })]
          })
        ).button.accept,
      refresh: () => draw()
    });
    host.replaceChildren(view.node);
    const draw = async () => {
      try {
        view.render(
          (await askKernel(kernel, await this._loader(), 'breakdown')) as IMemoryBreakdown
        );
      } catch (error) {
        view.renderError((error as Error).message);
      }
    };
    view.renderError(trans.__('Asking the kernel what holds its GPU memory…'));
    await draw();
  }

  private _loader(): Promise<string> {
    this._loading ??= this._api.collector().then(reply => reply.memory_loader);
    // A failed request is asked again next time.
    this._loading.catch(() => (this._loading = null));
    return this._loading;
  }

  private _loading: Promise<string> | null = null;
}

/** The breakdown of one kernel in the main area, refreshed on demand. */
class MemoryPanel extends Widget {
  constructor(
    private _xray: IMemoryXRay,
    private _kernel: Kernel.IKernelConnection,
    private _ownsConnection: boolean
  ) {
    super();
    this.addClass('jp-gpuscope-MemoryPanel');
  }

  refresh(): Promise<void> {
    return this._xray.show(this.node, this._kernel);
  }

  dispose(): void {
    if (this._ownsConnection) {
      this._kernel.dispose();
    }
    super.dispose();
  }
}

export const memoryPlugin: JupyterFrontEndPlugin<IMemoryXRay> = {
  id: 'jupyterlab-gpuscope:memory',
  description: 'What in a kernel holds GPU memory, and giving it back without a restart.',
  autoStart: true,
  provides: IMemoryXRay,
  requires: [IGPUScopeAPI, INotebookTracker],
  optional: [ICommandPalette, ITranslator, IGPUMonitor],
  activate: (
    app: JupyterFrontEnd,
    api: IGPUScopeAPI,
    notebooks: INotebookTracker,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    monitor: IGPUMonitor | null
  ): IMemoryXRay => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const xray = new MemoryXRay(api, trans, monitor);

    /** The kernel the command is for: by id (the GPU Monitor's row), else the notebook's. */
    const kernelFor = async (
      kernelId: string | undefined
    ): Promise<{ kernel: Kernel.IKernelConnection; owned: boolean } | null> => {
      if (!kernelId) {
        const kernel = notebooks.currentWidget?.sessionContext.session?.kernel;
        return kernel ? { kernel, owned: false } : null;
      }
      const model = await app.serviceManager.kernels.findById(kernelId);
      return model
        ? { kernel: app.serviceManager.kernels.connectTo({ model }), owned: true }
        : null;
    };

    app.commands.addCommand(CommandIDs.memoryBreakdown, {
      label: args =>
        args.path
          ? trans.__('What Holds GPU Memory in %1', String(args.path))
          : trans.__('What Holds GPU Memory in This Kernel'),
      caption: trans.__(
        "Show what in the kernel holds GPU memory (variables, output history, the last error's frames, the cache) and give it back"
      ),
      icon: gpuIcon,
      isEnabled: args =>
        !!args.kernelId || !!notebooks.currentWidget?.sessionContext.session?.kernel,
      describedBy: {
        args: {
          type: 'object',
          properties: {
            kernelId: {
              type: 'string',
              description: 'The kernel; the active notebook’s if absent.'
            },
            path: { type: 'string', description: 'The notebook, for the title.' }
          }
        }
      },
      execute: async args => {
        const found = await kernelFor(args.kernelId as string | undefined);
        if (!found) {
          await showDialog({
            title: trans.__('No kernel'),
            body: trans.__('That kernel is not running any more.'),
            buttons: [Dialog.okButton()]
          });
          return;
        }
        const path = (args.path as string | undefined) ?? notebooks.currentWidget?.context.path;
        const content = new MemoryPanel(xray, found.kernel, found.owned);
        const widget = new MainAreaWidget({ content });
        widget.id = `gpuscope-memory-${found.kernel.id}`;
        widget.title.label = path
          ? trans.__('GPU memory: %1', path.split('/').pop() ?? path)
          : trans.__('GPU memory');
        widget.title.caption = trans.__('What holds GPU memory in the kernel of %1', path ?? '?');
        widget.title.icon = gpuIcon;
        widget.toolbar.addItem(
          'refresh',
          new ToolbarButton({
            icon: refreshIcon,
            tooltip: trans.__('Ask the kernel again'),
            onClick: () => void content.refresh()
          })
        );
        app.shell.add(widget, 'main', { mode: 'split-right' });
        app.shell.activateById(widget.id);
        await content.refresh();
      }
    });
    palette?.addItem({ command: CommandIDs.memoryBreakdown, category: trans.__('GPU') });
    return xray;
  }
};

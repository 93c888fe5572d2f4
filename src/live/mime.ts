import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { nullTranslator, type TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { formatMemory, formatUsedOfTotal } from '../core/memory';
import { CommandIDs, TRANSLATION_DOMAIN } from '../tokens';
import { element, setText, SMALL_BUTTON } from '../ui/dom';

/** What `jupyterlab_gpuscope.live.show()` displays (kernel/live.py), besides text and HTML. */
export const LIVE_MIME = 'application/vnd.gpuscope.live+json';

export interface ILiveDevice {
  index: number;
  name: string | null;
  memory_total: number | null;
  memory_used: number | null;
  this_kernel: number;
  others: number;
  util_gpu: number | null;
}

export interface ILiveState {
  at: number;
  which: string;
  devices: ILiveDevice[];
  reason: string | null;
  stopped?: boolean;
}

/** One line per GPU: what the kernel's own view says first. */
export function liveLines(state: ILiveState, trans: TranslationBundle): string[] {
  if (state.reason) {
    return [trans.__('GPU live view: %1.', state.reason)];
  }
  return state.devices.map(d =>
    trans.__(
      'GPU %1 %2: %3 in use (this kernel %4), utilisation %5',
      d.index,
      d.name ?? '',
      formatUsedOfTotal(d.memory_used, d.memory_total, 'GiB'),
      formatMemory(d.this_kernel, 'GiB'),
      d.util_gpu === null ? 'n/a' : `${d.util_gpu} %`
    )
  );
}

/**
 * In JupyterLab the GPU Monitor already shows this, live: the kernel's view is shown as a
 * few lines and a way to the monitor, not as a second monitor.
 */
class LiveRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this.addClass('jp-gpuscope-Live');
    this._trans = (options.translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const state = model.data[LIVE_MIME] as unknown as ILiveState;
    const trans = this._trans;
    this.node.replaceChildren();
    if (!state || !Array.isArray(state.devices)) {
      setText(
        element('div', '', this.node),
        trans.__('This GPU live view was made by another version of gpuscope.')
      );
      return Promise.resolve();
    }
    for (const line of liveLines(state, trans)) {
      setText(element('div', 'jp-gpuscope-Live-line', this.node), line);
    }
    const note = element('div', 'jp-gpuscope-Live-note', this.node);
    setText(
      element('span', '', note),
      state.stopped
        ? trans.__('Stopped. The GPU Monitor shows the same, live, and more.')
        : trans.__('The GPU Monitor shows the same, live, and more.')
    );
    // JupyterLab's command linker runs the command on click (and on Enter: a button).
    const open = document.createElement('button');
    open.type = 'button';
    open.className = SMALL_BUTTON;
    open.textContent = trans.__('Open GPU Monitor');
    open.dataset.commandlinkerCommand = CommandIDs.openPanel;
    note.appendChild(open);
    return Promise.resolve();
  }

  private _trans: TranslationBundle;
}

export const liveRenderer: IRenderMime.IExtension = {
  id: 'jupyterlab-gpuscope:live-renderer',
  description: 'Renders the kernel-side GPU live view (jupyterlab_gpuscope.live.show()).',
  rendererFactory: {
    safe: true,
    mimeTypes: [LIVE_MIME],
    createRenderer: options => new LiveRenderer(options)
  },
  // Above the HTML and plain text the same output carries for other frontends.
  rank: 10,
  dataType: 'json'
};

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { IMemoryBreakdown } from '../api';
import { TRANSLATION_DOMAIN } from '../tokens';
import { MemoryView } from './view';
import { BREAKDOWN_MIME } from './xray';

/**
 * Renders gpu_memory.report()'s output: the breakdown as it was when the cell ran, without
 * actions (an output may be read long after, or in a saved notebook).
 */
class BreakdownRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    const trans = (options.translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    this._view = new MemoryView({ trans, units: () => 'GiB' });
    this.node.appendChild(this._view.node);
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[BREAKDOWN_MIME] as unknown as IMemoryBreakdown;
    if (data?.version === 1) {
      this._view.render(data);
    } else {
      this._view.renderError('This GPU memory breakdown was made by another version of gpuscope.');
    }
    return Promise.resolve();
  }

  private _view: MemoryView;
}

export const memoryRenderer: IRenderMime.IExtension = {
  id: 'jupyterlab-gpuscope:memory-renderer',
  description: 'Renders what held GPU memory in a kernel (gpu_memory.report()).',
  rendererFactory: {
    safe: true,
    mimeTypes: [BREAKDOWN_MIME],
    createRenderer: options => new BreakdownRenderer(options)
  },
  // Above Markdown and plain text, which the same output carries as fallbacks.
  rank: 10,
  dataType: 'json'
};

import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { TRANSLATION_DOMAIN } from '../tokens';
import { DIAGNOSTIC_MIME, DiagnosticReport, IDiagnosticBundle } from './report';

/** Renders the diagnostic's output: the findings the kernel put there. */
class ReportRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    const trans = (options.translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    this._report = new DiagnosticReport(trans);
    this.node.appendChild(this._report.node);
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._report.setBundle(model.data as IDiagnosticBundle);
    return Promise.resolve();
  }

  private _report: DiagnosticReport;
}

export const diagnosticRenderer: IRenderMime.IExtension = {
  id: 'jupyterlab-gpuscope:diagnostic-renderer',
  description: 'Renders the GPU diagnostic as a report of findings with fixes.',
  rendererFactory: {
    safe: true,
    mimeTypes: [DIAGNOSTIC_MIME],
    createRenderer: options => new ReportRenderer(options)
  },
  // Above Markdown and plain text, which the same output carries as fallbacks.
  rank: 10,
  dataType: 'json'
};

import { Dialog } from '@jupyterlab/apputils';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { ICellFinding, NotebookLinter } from './notebook';

/**
 * The notebook toolbar item: how many capability warnings the notebook has, for which
 * GPU; a click lists them, each a link to its cell.
 */
export class LintSummary extends Widget {
  constructor(
    private _panel: NotebookPanel,
    private _linter: NotebookLinter,
    private _trans: TranslationBundle
  ) {
    super({ node: document.createElement('button') });
    this.addClass('jp-gpuscope-LintSummary');
    this.addClass('jp-ToolbarButtonComponent');
    (this.node as HTMLButtonElement).type = 'button';
    this.node.addEventListener('click', () => void this.showList());
    _linter.summaryChanged.connect(this._schedule, this);
    _panel.content.model?.contentChanged.connect(this._schedule, this);
    this.update();
  }

  /** Recount now (after a profile or settings change). */
  refresh(): void {
    this.update();
  }

  async showList(): Promise<void> {
    const trans = this._trans;
    const findings = this._linter.summary(this._panel);
    const list = document.createElement('ul');
    list.className = 'jp-gpuscope-LintList';
    for (const { cellIndex, finding } of findings) {
      const item = document.createElement('li');
      const link = document.createElement('button');
      link.type = 'button';
      link.className = `jp-gpuscope-LintList-item jp-mod-${finding.severity}`;
      link.textContent = trans.__('Cell %1, line %2: %3', cellIndex + 1, finding.line, finding.message);
      link.addEventListener('click', () => {
        this._panel.content.activeCellIndex = cellIndex;
        void this._panel.content.scrollToItem(cellIndex);
        dialog.resolve();
      });
      item.appendChild(link);
      list.appendChild(item);
    }
    if (!findings.length) {
      list.textContent = trans.__('No capability warnings for %1.', this._profileName());
    }
    const body = new Widget({ node: list });
    const dialog = new Dialog({
      title: trans.__('GPU capability warnings for %1', this._profileName()),
      body,
      buttons: [Dialog.okButton({ label: trans.__('Close') })]
    });
    await dialog.launch();
  }

  dispose(): void {
    this._linter.summaryChanged.disconnect(this._schedule, this);
    window.clearTimeout(this._timer);
    super.dispose();
  }

  protected onUpdateRequest(): void {
    const trans = this._trans;
    const profile = this._linter.profile(this._panel);
    const findings: ICellFinding[] = this._linter.summary(this._panel);
    const errors = findings.filter(f => f.finding.severity === 'error').length;
    const others = findings.length - errors;
    this.node.textContent = !profile
      ? trans.__('GPU lint: …')
      : findings.length
        ? trans.__('GPU: %1 error(s), %2 warning(s)', errors, others)
        : trans.__('GPU: ✓');
    this.node.title = profile
      ? trans.__('Capability warnings for %1 (%2). Click for the list.', this._profileName(), profile.source)
      : trans.__('Waiting for the kernel or the server to say which GPU this notebook uses.');
    this.toggleClass('jp-mod-error', errors > 0);
    this.toggleClass('jp-mod-warning', errors === 0 && others > 0);
  }

  private _profileName(): string {
    const profile = this._linter.profile(this._panel);
    if (!profile) {
      return this._trans.__('an unknown GPU');
    }
    return profile.hasGpu
      ? `${profile.name ?? this._trans.__('the GPU')}${profile.cc ? ` (${profile.cc})` : ''}`
      : this._trans.__('a kernel without a usable GPU');
  }

  private _schedule(_: unknown, panel?: unknown): void {
    if (panel && panel !== this._panel && (panel as NotebookPanel).content) {
      return;
    }
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => this.update(), 500);
  }

  private _timer = 0;
}

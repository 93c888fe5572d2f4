import { Dialog } from '@jupyterlab/apputils';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { withCode } from '../ui/dom';
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
    const problem = this._linter.targetProblem();
    if (problem) {
      await new Dialog({
        title: trans.__('GPU capability warnings'),
        body: problem,
        buttons: [Dialog.okButton({ label: trans.__('Close') })]
      }).launch();
      return;
    }
    const findings = this._linter.summary(this._panel);
    const list = document.createElement('ul');
    list.className = 'jp-gpuscope-LintList';
    for (const { cellIndex, finding } of findings) {
      // One entry: a link to the place, then the message and the fix, wrapped as prose.
      const item = document.createElement('li');
      item.className = `jp-gpuscope-LintList-item jp-mod-${finding.severity}`;
      const link = document.createElement('button');
      link.type = 'button';
      link.className = 'jp-gpuscope-LintList-link';
      link.textContent = trans.__('Cell %1, line %2', cellIndex + 1, finding.line);
      link.title = trans.__('Go to cell %1', cellIndex + 1);
      link.addEventListener('click', () => {
        this._panel.content.activeCellIndex = cellIndex;
        void this._panel.content.scrollToItem(cellIndex);
        dialog.resolve();
      });
      const severity = document.createElement('span');
      severity.className = 'jp-gpuscope-LintList-severity';
      severity.textContent = {
        error: trans.__('error'),
        warning: trans.__('warning'),
        info: trans.__('note')
      }[finding.severity];
      const message = document.createElement('div');
      message.className = 'jp-gpuscope-LintList-message';
      withCode(message, finding.message);
      const fix = document.createElement('div');
      fix.className = 'jp-gpuscope-LintList-fix';
      const label = document.createElement('span');
      label.className = 'jp-gpuscope-LintList-fixLabel';
      label.textContent = trans.__('Fix:');
      fix.append(label, ' ');
      withCode(fix, finding.fix);
      item.append(link, severity, message, fix);
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
    const problem = this._linter.targetProblem();
    if (problem) {
      // A target the user set but gpuscope does not know: say so, lint nothing.
      this.node.textContent = trans.__('GPU: unknown target');
      this.node.title = problem;
      this.toggleClass('jp-mod-error', true);
      this.toggleClass('jp-mod-warning', false);
      return;
    }
    const profile = this._linter.profile(this._panel);
    const findings: ICellFinding[] = this._linter.summary(this._panel);
    const errors = findings.filter(f => f.finding.severity === 'error').length;
    const others = findings.length - errors;
    this.node.textContent = !profile
      ? trans.__('GPU lint: …')
      : findings.length
        ? trans.__(
            'GPU: %1, %2',
            trans._n('%1 error', '%1 errors', errors),
            trans._n('%1 warning', '%1 warnings', others)
          )
        : trans.__('GPU: ✓');
    this.node.title = profile
      ? trans.__(
          'Capability warnings for %1 (%2). Click for the list.',
          this._profileName(),
          profile.source
        )
      : this._linter.serverIsRecording()
        ? trans.__(
            "Waiting for the kernel to say which GPU this notebook uses: the server's GPU data is a recording (replay), not this machine's, so it is not used."
          )
        : trans.__('Waiting for the kernel or the server to say which GPU this notebook uses.');
    this.toggleClass('jp-mod-error', errors > 0);
    this.toggleClass('jp-mod-warning', errors === 0 && others > 0);
  }

  private _profileName(): string {
    const profile = this._linter.profile(this._panel);
    if (!profile) {
      return this._trans.__('an unknown GPU');
    }
    return profile.hasGPU
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

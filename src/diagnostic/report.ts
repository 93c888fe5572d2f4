import { Clipboard } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { diagnose, IFinding, summarize, toMarkdown } from '../doctor/doctor';
import { factsProblem, IFacts } from '../doctor/facts';

export const DIAGNOSTIC_MIME = 'application/vnd.gpuscope.diagnostic+json';

/**
 * The diagnostic report: a summary line, the findings (worst first) with their fixes
 * and sources, the raw facts in a collapsible section, and "Copy as Markdown".
 */
export class DiagnosticReport extends Widget {
  constructor(private _trans: TranslationBundle) {
    super();
    this.addClass('jp-gpuscope-Report');
  }

  /** Render facts (anything: a malformed output gets a message, not a crash). */
  setFacts(value: unknown): void {
    const trans = this._trans;
    this.node.replaceChildren();
    const problem = factsProblem(value);
    if (problem) {
      const p = add(this.node, 'p', 'jp-gpuscope-Report-invalid');
      p.textContent = trans.__('This output is not a gpuscope diagnostic that can be read: %1.', problem);
      return;
    }
    const facts = value as IFacts;
    const findings = diagnose(facts);
    const worst = findings[0]?.severity ?? 'pass';
    const header = add(this.node, 'div', 'jp-gpuscope-Report-header');
    const title = add(header, 'h3', `jp-gpuscope-Report-summary jp-mod-${worst}`);
    title.textContent = trans.__('GPU diagnostic: %1', summarize(findings));
    const copy = add(header, 'button', 'jp-Button jp-mod-styled jp-mod-reject jp-gpuscope-Report-copy') as HTMLButtonElement;
    copy.type = 'button';
    copy.textContent = trans.__('Copy as Markdown');
    copy.title = trans.__('Copy the report, for a bug report or a question');
    copy.addEventListener('click', () => {
      Clipboard.copyToSystem(toMarkdown(findings, facts));
      copy.textContent = trans.__('Copied');
    });
    const list = add(this.node, 'ul', 'jp-gpuscope-Report-findings');
    for (const finding of findings) {
      this._finding(list, finding);
    }
    const details = add(this.node, 'details', 'jp-gpuscope-Report-facts');
    add(details, 'summary', '').textContent = trans.__(
      'Facts (collected %1 in %2 s, Python %3)',
      facts.collected_at,
      facts.duration_s,
      facts.python.version
    );
    add(details, 'pre', '').textContent = JSON.stringify(facts, null, 1);
  }

  private _finding(list: HTMLElement, finding: IFinding): void {
    const trans = this._trans;
    const item = add(list, 'li', `jp-gpuscope-Finding jp-mod-${finding.severity}`);
    item.dataset.finding = finding.id;
    const badge = add(item, 'span', 'jp-gpuscope-Finding-badge');
    badge.textContent = { pass: trans.__('pass'), warn: trans.__('warn'), fail: trans.__('fail') }[finding.severity];
    const body = add(item, 'div', 'jp-gpuscope-Finding-body');
    add(body, 'div', 'jp-gpuscope-Finding-title').textContent = finding.title;
    add(body, 'div', 'jp-gpuscope-Finding-cause').textContent = finding.cause;
    if (finding.fix) {
      const fix = add(body, 'div', 'jp-gpuscope-Finding-fix');
      add(fix, 'span', 'jp-gpuscope-Finding-fixLabel').textContent = trans.__('Fix:') + ' ';
      // Fixes are prose with `code spans` (odd parts after splitting on backticks).
      finding.fix.split('`').forEach((part, i) => {
        if (part) {
          add(fix, i % 2 ? 'code' : 'span', '').textContent = part;
        }
      });
    }
    if (finding.sources.length) {
      const sources = add(body, 'details', 'jp-gpuscope-Finding-sources');
      add(sources, 'summary', '').textContent = trans._n('%1 source', '%1 sources', finding.sources.length);
      const ul = add(sources, 'ul', '');
      for (const source of finding.sources) {
        add(ul, 'li', '').textContent = source.text;
      }
    }
  }
}

function add(parent: HTMLElement, tag: string, className: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  parent.appendChild(node);
  return node;
}

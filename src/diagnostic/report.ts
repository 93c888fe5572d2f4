import { Clipboard } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { element, withCode } from '../ui/dom';
import generatedValidator from './reportValidator';

/** Ajv's validator for the report schema: false, with `errors` set, when data does not match. */
const validateReport = generatedValidator as unknown as {
  (data: unknown): boolean;
  errors?: { instancePath?: string; message?: string }[] | null;
};
import { appendSources, ISourceLike, listedSources } from '../ui/sources';

/**
 * What the diagnostic cell outputs (made by python/jupyterlab_gpuscope/kernel/findings.py in the
 * kernel): the facts with their findings, so that the report reads the same in every
 * frontend. JupyterLab renders the findings it finds here and judges nothing itself.
 */
export const DIAGNOSTIC_MIME = 'application/vnd.gpuscope.diagnostic+json';
export const REPORT_SCHEMA = 'gpuscope.report/1';

export type Severity = 'pass' | 'warn' | 'fail';

export interface IFinding {
  id: string;
  severity: Severity;
  title: string;
  cause: string;
  /** The exact fix, prose with commands in `backticks`. */
  fix: string | null;
  sources: ISourceLike[];
  device?: number;
}

export interface IReport {
  schema: string;
  gpuscope: string;
  kb: string;
  collected_at: string;
  headline: string;
  worst: Severity;
  findings: IFinding[];
  facts: { schema?: string; duration_s?: number; python?: { version?: string } } & Record<
    string,
    unknown
  >;
  redacted: boolean;
}

/** The output bundle's parts the report reads (any of them may be missing or malformed). */
export interface IDiagnosticBundle {
  [DIAGNOSTIC_MIME]?: unknown;
  'text/markdown'?: unknown;
}

type Reading =
  | { kind: 'report'; report: IReport }
  | { kind: 'facts-only'; facts: Record<string, unknown> }
  | { kind: 'newer'; schema: string }
  | { kind: 'invalid'; why: string };

/**
 * What a diagnostic output holds, validated against the report schema (a saved notebook
 * can hold anything): a report only when every field is what the renderer expects. The
 * validator is Ajv's code for the schema, generated ahead of time (reportValidator.ts).
 */
export function readDiagnostic(value: unknown): Reading {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'invalid', why: 'it is not a JSON object' };
  }
  const schema = (value as { schema?: unknown }).schema;
  if (schema === REPORT_SCHEMA) {
    if (!validateReport(value)) {
      const [first] = (validateReport.errors ?? []) as {
        instancePath?: string;
        message?: string;
      }[];
      const where = first?.instancePath ? `"${first.instancePath}"` : 'the report';
      return { kind: 'invalid', why: `${where} ${first?.message ?? 'does not match its schema'}` };
    }
    return { kind: 'report', report: value as IReport };
  }
  if (typeof schema === 'string' && /^gpuscope\.facts\/\d+$/.test(schema)) {
    return { kind: 'facts-only', facts: value as Record<string, unknown> };
  }
  if (typeof schema === 'string' && schema.startsWith('gpuscope.report/')) {
    return { kind: 'newer', schema };
  }
  return { kind: 'invalid', why: `unknown schema ${JSON.stringify(schema)}` };
}

/**
 * The diagnostic report: the headline, the findings (worst first) with their fixes and
 * sources, the facts in a collapsible section, versions and time (so a stale answer is
 * recognisable), and "Copy as Markdown" (the output's own Markdown rendering).
 */
export class DiagnosticReport extends Widget {
  constructor(private _trans: TranslationBundle) {
    super();
    this.addClass('jp-gpuscope-Report');
  }

  /** Render an output bundle (anything: a malformed output gets a message, not a crash). */
  setBundle(bundle: IDiagnosticBundle): void {
    const trans = this._trans;
    const reading = readDiagnostic(bundle[DIAGNOSTIC_MIME]);
    this.node.replaceChildren();
    if (reading.kind === 'invalid') {
      element('p', 'jp-gpuscope-Report-invalid', this.node).textContent = trans.__(
        'This output is not a gpuscope diagnostic that can be read: %1.',
        reading.why
      );
      return;
    }
    if (reading.kind === 'newer') {
      element('p', 'jp-gpuscope-Report-invalid', this.node).textContent = trans.__(
        'This diagnostic was made by a newer jupyterlab-gpuscope (%1): upgrade the extension to see it here, or read its text rendering in another frontend.',
        reading.schema
      );
      return;
    }
    if (reading.kind === 'facts-only') {
      element('h3', 'jp-gpuscope-Report-summary', this.node).textContent = trans.__(
        'GPU diagnostic: facts without findings'
      );
      element('p', 'jp-gpuscope-Report-stale', this.node).textContent = trans.__(
        'This output was saved by an earlier version of jupyterlab-gpuscope, which left the findings to JupyterLab. Run the diagnostic again for findings and fixes.'
      );
      this._facts(reading.facts, String(reading.facts.collected_at ?? '?'));
      return;
    }
    const report = reading.report;
    const header = element('div', 'jp-gpuscope-Report-header', this.node);
    element('h3', `jp-gpuscope-Report-summary jp-mod-${report.worst}`, header).textContent =
      trans.__('GPU diagnostic: %1', report.headline);
    const markdown = bundle['text/markdown'];
    if (typeof markdown === 'string') {
      const copy = element(
        'button',
        'jp-Button jp-mod-styled jp-mod-reject jp-gpuscope-Report-copy',
        header
      ) as HTMLButtonElement;
      copy.type = 'button';
      copy.textContent = trans.__('Copy as Markdown');
      copy.title = report.redacted
        ? trans.__(
            'Copy the report, for a bug report or a question (home paths and user names are left out)'
          )
        : trans.__('Copy the report, for a bug report or a question');
      copy.addEventListener('click', () => {
        Clipboard.copyToSystem(markdown);
        copy.textContent = trans.__('Copied');
      });
    }
    const list = element('ul', 'jp-gpuscope-Report-findings', this.node);
    for (const finding of report.findings) {
      this._finding(list, finding);
    }
    this._facts(report.facts, report.collected_at);
    element('p', 'jp-gpuscope-Report-provenance', this.node).textContent = trans.__(
      'Judged in the kernel by jupyterlab-gpuscope %1 (knowledge base %2), collected %3.',
      report.gpuscope,
      report.kb,
      report.collected_at
    );
  }

  private _facts(facts: Record<string, unknown>, collectedAt: string): void {
    const details = element('details', 'jp-gpuscope-Report-facts', this.node);
    const python = (facts.python ?? {}) as { version?: string };
    element('summary', '', details).textContent = this._trans.__(
      'Facts (collected %1 in %2 s, Python %3)',
      collectedAt,
      String(facts.duration_s ?? '?'),
      python.version ?? '?'
    );
    element('pre', '', details).textContent = JSON.stringify(facts, null, 1);
  }

  private _finding(list: HTMLElement, finding: IFinding): void {
    const trans = this._trans;
    const item = element('li', `jp-gpuscope-Finding jp-mod-${finding.severity}`, list);
    item.dataset.finding = finding.id;
    const badge = element('span', 'jp-gpuscope-Finding-badge', item);
    badge.textContent = { pass: trans.__('pass'), warn: trans.__('warn'), fail: trans.__('fail') }[
      finding.severity
    ];
    const body = element('div', 'jp-gpuscope-Finding-body', item);
    element('div', 'jp-gpuscope-Finding-title', body).textContent = finding.title;
    element('div', 'jp-gpuscope-Finding-cause', body).textContent = finding.cause;
    if (finding.fix) {
      const fix = element('div', 'jp-gpuscope-Finding-fix', body);
      element('span', 'jp-gpuscope-Finding-fixLabel', fix).textContent = trans.__('Fix:');
      fix.append(' ');
      withCode(fix, finding.fix);
    }
    const sources = listedSources(finding.sources);
    if (sources.length) {
      const details = element('details', 'jp-gpuscope-Finding-sources', body);
      element('summary', '', details).textContent = trans._n(
        '%1 source',
        '%1 sources',
        sources.length
      );
      appendSources(element('ul', '', details), sources);
    }
  }
}

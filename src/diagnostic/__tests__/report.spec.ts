import { nullTranslator } from '@jupyterlab/translation';

import { DIAGNOSTIC_MIME, DiagnosticReport } from '../report';

// A report document made by the kernel-side findings on a real H200 (scripts/gpu_diagnostic_facts.py).
import h200 from '../../../python/jupyterlab_gpuscope/tests/facts/h200-report.json';
// Facts saved by an earlier gpuscope (schema facts/1, no findings), from a real H100.
import oldFacts from '../../../python/jupyterlab_gpuscope/tests/facts/h100-facts1.json';

const trans = nullTranslator.load('test');

async function render(bundle: Record<string, unknown>): Promise<DiagnosticReport> {
  const report = new DiagnosticReport(trans);
  await report.setBundle(bundle);
  return report;
}

/** The H200 report with these findings instead of its own. */
const withFindings = (findings: Record<string, unknown>[]) => ({
  ...JSON.parse(JSON.stringify(h200)),
  findings
});

const text = (report: DiagnosticReport, selector: string) =>
  Array.from(report.node.querySelectorAll(selector)).map(n => n.textContent ?? '');

describe('the diagnostic report renders what the kernel judged', () => {
  it('shows the findings of the output, in their order, with the headline and versions', async () => {
    const report = await render({ [DIAGNOSTIC_MIME]: h200, 'text/markdown': '**GPU diagnostic**' });
    expect(text(report, '.jp-gpuscope-Report-summary')).toEqual([
      `GPU diagnostic: ${h200.headline}`
    ]);
    expect(text(report, '.jp-gpuscope-Finding-title')).toEqual(h200.findings.map(f => f.title));
    expect(text(report, '.jp-gpuscope-Report-provenance')[0]).toContain(
      `jupyterlab-gpuscope ${h200.gpuscope} (knowledge base ${h200.kb}), collected ${h200.collected_at}`
    );
  });

  it('renders a changed finding as the output says, without judging the facts again', async () => {
    const edited = withFindings([
      {
        id: 'x',
        severity: 'fail',
        title: 'Said by the kernel',
        cause: 'because',
        fix: 'run `this`',
        sources: []
      }
    ]);
    edited.worst = 'fail';
    const report = await render({ [DIAGNOSTIC_MIME]: edited });
    expect(text(report, '.jp-gpuscope-Finding-title')).toEqual(['Said by the kernel']);
    expect(text(report, '.jp-gpuscope-Finding-fix code')).toEqual(['this']);
    expect(report.node.querySelector('.jp-gpuscope-Report-summary')!.classList).toContain(
      'jp-mod-fail'
    );
  });

  it("lists each finding's sources by title, linked to their pages; an address that is not http(s) stays text", async () => {
    const edited = withFindings([
      {
        id: 'x',
        severity: 'warn',
        title: 'With sources',
        cause: 'because',
        fix: null,
        sources: [
          {
            key: 'a',
            title: 'PyTorch docs: CUDA semantics',
            url: 'https://docs.pytorch.org/docs/stable/notes/cuda.html'
          },
          { key: 'b', title: "A user's log", url: null },
          { key: 'c', title: 'Crafted', url: 'javascript:alert(1)' }
        ]
      }
    ]);
    const report = await render({ [DIAGNOSTIC_MIME]: edited });
    const items = Array.from(report.node.querySelectorAll('.jp-gpuscope-Finding-sources li'));
    expect(items.map(li => li.textContent)).toEqual([
      'PyTorch docs: CUDA semantics',
      "A user's log",
      'Crafted'
    ]);
    const links = Array.from(
      report.node.querySelectorAll<HTMLAnchorElement>('.jp-gpuscope-Finding-sources a')
    );
    expect(links.map(a => a.href)).toEqual([
      'https://docs.pytorch.org/docs/stable/notes/cuda.html'
    ]);
    expect(links[0].rel).toBe('noopener noreferrer');
  });

  it('a report saved with the older sources (a note, no title) still lists them', async () => {
    const old = withFindings([
      {
        id: 'x',
        severity: 'warn',
        title: 'Old',
        cause: 'c',
        fix: null,
        sources: [{ key: 'k', text: 'a note' }]
      }
    ]);
    const report = await render({ [DIAGNOSTIC_MIME]: old });
    expect(text(report, '.jp-gpuscope-Finding-sources li')).toEqual(['a note']);
  });

  it('Copy as Markdown is offered only with the Markdown the output carries', async () => {
    expect(
      (await render({ [DIAGNOSTIC_MIME]: h200, 'text/markdown': 'md' })).node.querySelector(
        '.jp-gpuscope-Report-copy'
      )
    ).not.toBeNull();
    expect(
      (await render({ [DIAGNOSTIC_MIME]: h200 })).node.querySelector('.jp-gpuscope-Report-copy')
    ).toBeNull();
  });

  it('an output saved by an earlier gpuscope (facts only) shows its facts and asks to run the diagnostic again', async () => {
    const report = await render({ [DIAGNOSTIC_MIME]: oldFacts });
    expect(text(report, '.jp-gpuscope-Report-stale')[0]).toContain(
      'Run the diagnostic again for findings and fixes.'
    );
    expect(text(report, '.jp-gpuscope-Report-facts pre')[0]).toContain('NVIDIA H100 80GB HBM3');
    expect(report.node.querySelectorAll('.jp-gpuscope-Finding')).toHaveLength(0);
  });

  it('a newer report schema, malformed findings or junk get a message instead of a crash', async () => {
    expect(
      text(await render({ [DIAGNOSTIC_MIME]: { ...h200, schema: 'gpuscope.report/9' } }), 'p')[0]
    ).toContain('made by a newer jupyterlab-gpuscope');
    expect(
      text(await render({ [DIAGNOSTIC_MIME]: { ...h200, findings: [{ title: 1 }] } }), 'p')[0]
    ).toContain('"/findings/0" must have required property');
    expect(text(await render({ [DIAGNOSTIC_MIME]: 'junk' }), 'p')[0]).toContain(
      'not a gpuscope diagnostic that can be read'
    );
    expect(text(await render({}), 'p')[0]).toContain('not a gpuscope diagnostic that can be read');
  });

  it('a report with a malformed field says which field, instead of vanishing', async () => {
    const [first, ...rest] = h200.findings;
    const numberFix = await render({
      [DIAGNOSTIC_MIME]: withFindings([{ ...first, fix: 42 }, ...rest])
    });
    expect(text(numberFix, 'p')[0]).toBe(
      'This output is not a gpuscope diagnostic that can be read: "/findings/0/fix" must be string,null.'
    );
    expect(numberFix.node.querySelectorAll('.jp-gpuscope-Finding')).toHaveLength(0);
  });

  it('a "worst" that is not a severity never reaches a class name', async () => {
    const report = await render({ [DIAGNOSTIC_MIME]: { ...h200, worst: 'pass jp-mod-hidden x' } });
    expect(text(report, 'p')[0]).toContain('"/worst" must be equal to one of the allowed values');
    expect(report.node.querySelector('.jp-mod-hidden')).toBeNull();
  });
});

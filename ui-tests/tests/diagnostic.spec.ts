import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';
import { run } from './helpers';
import { SCREENSHOTS } from './screenshots';

/** The diagnostic's MIME data in a cell's first output (what a saved notebook carries). */
const outputOf = (page: any, cell: number) =>
  page.evaluate((index: number) => {
    const notebook = (window as any).jupyterapp.shell.currentWidget.content;
    const outputs = notebook.widgets[index].model.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const data = outputs.get(i).data['application/vnd.gpuscope.diagnostic+json'];
      if (data) {
        return data;
      }
    }
    return null;
  }, cell);

const sourceOf = (page: any, cell: number): Promise<string> =>
  page.evaluate(
    (index: number) =>
      (window as any).jupyterapp.shell.currentWidget.content.widgets[
        index
      ].model.sharedModel.getSource(),
    cell
  );

test.describe('GPU diagnostic', () => {
  test.beforeEach(async ({ page }) => {
    await page.notebook.createNew('diag.ipynb');
    await page.notebook.setCell(0, 'code', 'x = 1');
    await page.notebook.runCell(0);
  });

  test('inserting it gives a short cell whose report, judged in the kernel, comes into view', async ({
    page
  }) => {
    const before = await page.notebook.getCellCount();
    await page.notebook.selectCells(0);
    await run(page, 'gpuscope:insert-diagnostic');
    const report = page.locator('.jp-gpuscope-Report');
    await expect(report).toBeVisible({ timeout: 60000 });
    await expect(report).toBeInViewport();
    expect(await page.notebook.getCellCount()).toBe(before + 1);
    // The test server's kernel has the package: a few readable lines, not the collector.
    const source = await sourceOf(page, 1);
    expect(source.startsWith('# GPU diagnostic (jupyterlab-gpuscope)')).toBe(true);
    expect(source.trim().split('\n').length).toBeLessThanOrEqual(8);
    expect(source).toContain('gpuscope_diagnose.report()');
    // What the report shows is what the kernel put in the output, finding by finding.
    const output = await outputOf(page, 1);
    expect(output.findings.length).toBeGreaterThan(0);
    await expect(report.locator('.jp-gpuscope-Finding-title')).toHaveText(
      output.findings.map((f: any) => f.title)
    );
    await expect(report.locator('.jp-gpuscope-Report-summary')).toHaveText(
      `GPU diagnostic: ${output.headline}`
    );
    // This machine's torch decides what it is told: a CPU build here, a CUDA build without a GPU elsewhere.
    if (output.facts.torch.cuda === null) {
      await expect(report.locator('[data-finding="cpu-only-wheel"]')).toContainText(
        'No CUDA in this torch build'
      );
    }
    await expect(
      report.locator('[data-finding="no-driver"], [data-finding="no-gpu-in-container"]')
    ).toBeVisible();
    await expect(report.getByRole('button', { name: 'Copy as Markdown' })).toBeVisible();
    await expect(report.locator('.jp-gpuscope-Report-provenance')).toContainText('knowledge base');
    // gpuscope does not warn about its own cell.
    await expect(page.locator('.jp-gpuscope-LintSummary')).toHaveText('GPU: ✓', { timeout: 10000 });
    await report.screenshot({ path: path.join(SCREENSHOTS, 'diagnostic-light.png') });
    await page.theme.setDarkTheme();
    await report.screenshot({ path: path.join(SCREENSHOTS, 'diagnostic-dark.png') });
  });

  test('running it silently shows the report without adding a cell', async ({ page }) => {
    const before = await page.notebook.getCellCount();
    await run(page, 'gpuscope:run-diagnostic');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-gpuscope-Report')).toBeVisible({ timeout: 60000 });
    // No GPU on this machine, whichever torch it installed: a problem or warnings, never "ready".
    await expect(dialog.locator('.jp-gpuscope-Report-summary')).not.toContainText('GPU ready');
    await expect(
      dialog.locator('[data-finding="no-driver"], [data-finding="no-gpu-in-container"]')
    ).toBeVisible();
    await dialog.getByRole('button', { name: 'Close' }).click();
    expect(await page.notebook.getCellCount()).toBe(before);
    // The user's namespace got none of the diagnostic's names.
    await page.notebook.setCell(
      0,
      'code',
      "print(sorted(n for n in dir() if 'gpuscope' in n or n in ('report', 'collect')))"
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output').first()).toHaveText('[]');
  });

  test('a report with a malformed field says what is wrong instead of vanishing', async ({
    page
  }) => {
    await page.notebook.setCell(
      0,
      'code',
      [
        'from IPython.display import display',
        'from jupyterlab_gpuscope.kernel import facts, findings',
        'report = findings.report_document(facts.collect())',
        'report["findings"][0]["fix"] = 42',
        'display({facts.MIME: report, "text/plain": "a diagnostic"}, raw=True)'
      ].join('\n')
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-gpuscope-Report')).toContainText(
      'This output is not a gpuscope diagnostic that can be read: "/findings/0/fix" must be string,null.',
      { timeout: 60000 }
    );
    await expect(page.locator('.jp-gpuscope-Finding')).toHaveCount(0);
  });

  test('the notebook toolbar has the diagnostic button', async ({ page }) => {
    await expect(
      page.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="gpuscope-diagnostic"]')
    ).toBeVisible();
  });
});

test.describe('GPU diagnostic in a kernel without jupyterlab-gpuscope', () => {
  test('the cell is self-contained, shown collapsed, and its report renders', async ({ page }) => {
    await page.notebook.createNew('bare.ipynb', { kernel: 'gpuscope-bare' });
    await page.notebook.setCell(
      0,
      'code',
      'import importlib.util; print(importlib.util.find_spec("jupyterlab_gpuscope"))'
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText('No module named');
    await page.notebook.selectCells(0);
    await run(page, 'gpuscope:insert-diagnostic');
    const report = page.locator('.jp-gpuscope-Report');
    await expect(report).toBeVisible({ timeout: 60000 });
    await expect(report).toBeInViewport();
    const cell = page.locator('.jp-Notebook .jp-Cell').nth(1);
    await expect(cell.locator('.jp-InputPlaceholder')).toBeVisible();
    const source = await sourceOf(page, 1);
    expect(source).toContain('Self-contained, because this kernel');
    const output = await outputOf(page, 1);
    await expect(report.locator('.jp-gpuscope-Finding-title')).toHaveText(
      output.findings.map((f: any) => f.title)
    );
    await expect(page.locator('.jp-gpuscope-LintSummary')).toHaveText('GPU: ✓', { timeout: 10000 });
  });
});

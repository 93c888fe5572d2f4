import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

const SCREENSHOTS = path.resolve(__dirname, '../screenshots');

// Fire and forget: a command that opens a dialog resolves only when it closes.
const run = (page: any, command: string) =>
  page.evaluate((id: string) => {
    void (window as any).jupyterapp.commands.execute(id);
  }, command);

test.describe('GPU diagnostic', () => {
  test.beforeEach(async ({ page }) => {
    await page.notebook.createNew('diag.ipynb');
    await page.notebook.setCell(0, 'code', 'x = 1');
    await page.notebook.runCell(0);
  });

  test('inserting the diagnostic cell runs it and renders the report', async ({ page }) => {
    const before = await page.notebook.getCellCount();
    await page.notebook.selectCells(0);
    await run(page, 'gpuscope:insert-diagnostic');
    const report = page.locator('.jp-gpuscope-Report');
    await expect(report).toBeVisible({ timeout: 60000 });
    // The test environment has PyTorch's CPU build and no GPU.
    await expect(report.locator('.jp-gpuscope-Report-summary')).toContainText('GPU diagnostic:');
    const cpuOnly = report.locator('[data-finding="cpu-only-wheel"]');
    await expect(cpuOnly).toContainText('No CUDA in this torch build');
    await expect(cpuOnly).toContainText('CPU-only build');
    // No driver here: "no driver", or "no GPU passed into the container" inside one.
    await expect(
      report.locator('[data-finding="no-driver"], [data-finding="no-gpu-in-container"]')
    ).toBeVisible();
    await expect(report.getByRole('button', { name: 'Copy as Markdown' })).toBeVisible();
    expect(await page.notebook.getCellCount()).toBe(before + 1);
    const source = await page.notebook.getCellTextInput(1);
    expect(source).toContain('GPU environment diagnostic (jupyterlab-gpuscope)');
    await report.screenshot({ path: path.join(SCREENSHOTS, 'diagnostic-light.png') });
    await page.theme.setDarkTheme();
    await report.screenshot({ path: path.join(SCREENSHOTS, 'diagnostic-dark.png') });
  });

  test('running it silently shows the report without adding a cell', async ({ page }) => {
    const before = await page.notebook.getCellCount();
    await run(page, 'gpuscope:run-diagnostic');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog.locator('.jp-gpuscope-Report')).toBeVisible({ timeout: 60000 });
    await expect(dialog).toContainText('No CUDA in this torch build');
    await dialog.getByRole('button', { name: 'Close' }).click();
    expect(await page.notebook.getCellCount()).toBe(before);
    // The user's namespace got none of the collector's names.
    await page.notebook.setCell(0, 'code', "print(sorted(n for n in dir() if n.startswith('_torch') or n == 'collect'))");
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output').first()).toHaveText('[]');
  });

  test('the notebook toolbar has the diagnostic button', async ({ page }) => {
    await expect(page.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="gpuscope-diagnostic"]')).toBeVisible();
  });
});

import { expect, galata, test } from '@jupyterlab/galata';
import * as path from 'path';

const SCREENSHOTS = path.resolve(__dirname, '../screenshots');

/** The text under a lint range (syntax highlighting splits it into several spans). */
async function rangeText(page: any, selector: string): Promise<string> {
  return (await page.locator(selector).allTextContents()).join('');
}
// Galata serves settings from memory: "lint as if for a T4" is set there.
const asIfT4 = {
  mockSettings: { ...galata.DEFAULT_SETTINGS, 'jupyterlab-gpuscope:lint': { target: 'T4' } }
};

test.describe('GPU capability warnings, linting as if for a T4', () => {
  test.use(asIfT4);

  test('bf16 on a T4: the warning appears as you type and goes when fixed', async ({ page }) => {
    await page.notebook.createNew('lint.ipynb');
    await page.notebook.setCell(0, 'code', 'import torch\nx = torch.zeros(2, dtype=torch.bfloat16, device="cuda")');
    const range = page.locator('.jp-Cell .cm-lintRange-warning');
    await expect.poll(() => rangeText(page, '.jp-Cell .cm-lintRange-warning'), { timeout: 10000 }).toBe('torch.bfloat16');
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: 0 error(s), 1 warning(s)', { timeout: 10000 });
    await range.first().hover();
    const tooltip = page.locator('.cm-tooltip-lint');
    await expect(tooltip).toContainText('bf16 needs compute capability 8.0 or newer; T4 is 7.5');
    await expect(tooltip).toContainText('Fix: Use torch.float16');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'lint-light.png') });
    await page.mouse.move(0, 0); // let the tooltip go
    await expect(tooltip).toHaveCount(0);

    // Fix the line by typing, as a user would: delete the "b" of "bfloat16".
    const editor = page.locator('.jp-Cell .cm-content').first();
    await editor.focus();
    await page.keyboard.press('Control+End');
    for (let i = 0; i < 'bfloat16, device="cuda")'.length; i++) {
      await page.keyboard.press('ArrowLeft');
    }
    await page.keyboard.press('Delete');
    await expect(editor).toContainText('dtype=torch.float16, device="cuda")');
    await expect(range).toHaveCount(0, { timeout: 10000 });
    await expect(summary).toHaveText('GPU: ✓', { timeout: 10000 });
  });

  test('the list of warnings jumps to the cell', async ({ page }) => {
    await page.notebook.createNew('lint-list.ipynb');
    await page.notebook.setCell(0, 'code', 'import torch');
    await page.notebook.addCell('code', 'y = 1');
    await page.notebook.addCell('code', 'm = torch.nn.DataParallel(model)  # fine: one GPU warning');
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: 0 error(s), 1 warning(s)', { timeout: 10000 });
    await page.evaluate(() => ((window as any).jupyterapp.shell.currentWidget.content.activeCellIndex = 0));
    await summary.click();
    const item = page.locator('.jp-gpuscope-LintList-item');
    await expect(item).toHaveText(/^Cell 3, line 1: `DataParallel` splits batches across GPUs/);
    await item.click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    expect(await page.evaluate(() => (window as any).jupyterapp.shell.currentWidget.content.activeCellIndex)).toBe(2);
  });

});

test.describe('GPU capability warnings for the kernel', () => {
  test('the kernel probe: CPU-only torch here, so CUDA use is an error', async ({ page }) => {
    await page.notebook.createNew('cpu.ipynb');
    await page.notebook.setCell(0, 'code', 'import torch\nmodel = model.cuda()');
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: 1 error(s), 0 warning(s)', { timeout: 20000 });
    await expect(summary).toHaveAttribute('title', /kernel without a usable GPU \(kernel\)/);
    expect(await rangeText(page, '.jp-Cell .cm-lintRange-error')).toBe('cuda()');
  });
});

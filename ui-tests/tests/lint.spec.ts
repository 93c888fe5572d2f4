import { expect, galata, test } from '@jupyterlab/galata';
import * as path from 'path';
import { SCREENSHOTS } from './screenshots';

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
    await page.notebook.setCell(
      0,
      'code',
      'import torch\nx = torch.zeros(2, dtype=torch.bfloat16, device="cuda")'
    );
    const range = page.locator('.jp-Cell .cm-lintRange-warning');
    await expect
      .poll(() => rangeText(page, '.jp-Cell .cm-lintRange-warning'), { timeout: 10000 })
      .toBe('torch.bfloat16');
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: 0 errors, 1 warning', { timeout: 10000 });
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

  test('the list of warnings is readable: each entry wraps, shows its fix, and links to its cell', async ({
    page
  }) => {
    await page.notebook.createNew('lint-list.ipynb');
    await page.notebook.setCell(0, 'code', 'import torch');
    await page.notebook.addCell('code', 'y = 1');
    await page.notebook.addCell(
      'code',
      'm = torch.nn.DataParallel(model)  # fine: one GPU warning'
    );
    await page.notebook.addCell(
      'code',
      'x = torch.zeros(2, dtype=torch.bfloat16)\nwith sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):\n    pass'
    );
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: 0 errors, 3 warnings', { timeout: 10000 });
    await page.evaluate(
      () => ((window as any).jupyterapp.shell.currentWidget.content.activeCellIndex = 0)
    );
    await summary.click();
    const items = page.locator('.jp-gpuscope-LintList-item');
    await expect(items).toHaveCount(3);
    const first = items.first();
    await expect(first.locator('.jp-gpuscope-LintList-link')).toHaveText('Cell 3, line 1');
    await expect(first.locator('.jp-gpuscope-LintList-message')).toContainText(
      'DataParallel splits batches across GPUs'
    );
    await expect(first.locator('.jp-gpuscope-LintList-message code')).toHaveText('DataParallel');
    await expect(first.locator('.jp-gpuscope-LintList-fix')).toContainText('Fix:');
    // Whole sentences, left-aligned, and no two entries drawn over each other.
    expect(await first.evaluate(n => getComputedStyle(n).textAlign)).toBe('left');
    const boxes = await items.evaluateAll(nodes =>
      nodes
        .map(n => n.getBoundingClientRect())
        .map(r => ({ top: r.top, bottom: r.bottom, height: r.height }))
    );
    for (let i = 1; i < boxes.length; i++) {
      expect(boxes[i].top).toBeGreaterThanOrEqual(boxes[i - 1].bottom);
    }
    const message = first.locator('.jp-gpuscope-LintList-message');
    expect(await message.evaluate(n => n.scrollWidth <= n.clientWidth + 1)).toBe(true);
    await page
      .locator('.jp-Dialog-content')
      .screenshot({ path: path.join(SCREENSHOTS, 'lint-list-light.png') });
    await first.locator('.jp-gpuscope-LintList-link').click();
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    expect(
      await page.evaluate(
        () => (window as any).jupyterapp.shell.currentWidget.content.activeCellIndex
      )
    ).toBe(2);
  });
});

test.describe('GPU capability warnings for the kernel', () => {
  test('the kernel probe: CPU-only torch here, so CUDA use is an error', async ({ page }) => {
    await page.notebook.createNew('cpu.ipynb');
    await page.notebook.setCell(0, 'code', 'import torch\nmodel = model.cuda()');
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: 1 error, 0 warnings', { timeout: 20000 });
    await expect(summary).toHaveAttribute('title', /kernel without a usable GPU \(kernel\)/);
    expect(await rangeText(page, '.jp-Cell .cm-lintRange-error')).toBe('cuda()');
  });
});

test.describe('a lint target gpuscope does not know', () => {
  test.use({
    mockSettings: { ...galata.DEFAULT_SETTINGS, 'jupyterlab-gpuscope:lint': { target: 'T5' } }
  });

  test('is shown as an error in the notebook toolbar, not silently ignored', async ({ page }) => {
    await page.notebook.createNew('bad-target.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      'import torch\nx = torch.zeros(2, dtype=torch.bfloat16)'
    );
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: unknown target', { timeout: 10000 });
    await expect(summary).toHaveClass(/jp-mod-error/);
    await expect(summary).toHaveAttribute('title', /"T5" is not a GPU gpuscope knows/);
    await summary.click();
    await expect(page.locator('.jp-Dialog')).toContainText('"T5" is not a GPU gpuscope knows');
  });
});

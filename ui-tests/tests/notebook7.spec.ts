/**
 * The extension in Jupyter Notebook 7, as far as its shell allows: Notebook has no status
 * bar, but it has the View menu, the right sidebar (for the GPU panel) and the notebook
 * toolbar and editors (for the capability warnings). Galata's fixtures expect JupyterLab,
 * so these tests use Playwright's own.
 */
import { expect, Page, test } from '@playwright/test';
import * as path from 'path';
import { SCREENSHOTS } from './screenshots';

/** Errors thrown by gpuscope's own code (Notebook 7.6 logs one of its own on load). */
function watchErrors(page: Page): string[] {
  const ours: string[] = [];
  page.on('pageerror', error => {
    if (`${error.stack}`.includes('jupyterlab-gpuscope')) {
      ours.push(`${error.message}\n${error.stack}`);
    }
  });
  return ours;
}

async function openPanelFromViewMenu(page: Page) {
  await page.locator('.lm-MenuBar-itemLabel', { hasText: /^View$/ }).click();
  await page.locator('.lm-Menu-itemLabel', { hasText: /^Open GPU Monitor$/ }).click();
  const panel = page.locator('#jp-gpuscope-panel');
  await expect(panel).toBeVisible();
  return panel;
}

test('the file browser page: the GPU panel opens from the View menu, marked as a replay', async ({
  page
}) => {
  const errors = watchErrors(page);
  await page.goto('/tree');
  const panel = await openPanelFromViewMenu(page);
  await expect(panel.locator('.jp-gpuscope-Panel-banner')).toContainText('Replay of a recording');
  await expect(panel.locator('.jp-gpuscope-Card')).toHaveCount(1);
  await expect(panel.locator('.jp-gpuscope-Card-title')).toHaveText(
    'GPU 0 · NVIDIA H200 · compute capability 9.0'
  );
  await expect(panel.locator('figure:visible .jp-gpuscope-Chart canvas')).toHaveCount(4);
  // The card fits in Notebook's sidebar, at the window's right edge: nothing cut off.
  const overflow = await panel.evaluate(
    node =>
      node.querySelector('.jp-gpuscope-Card')!.getBoundingClientRect().right -
      document.documentElement.clientWidth
  );
  expect(overflow).toBeLessThan(0);
  // Notebook 7 has no status bar: the item has nowhere to go, and nothing fails for it.
  await expect(page.locator('.jp-gpuscope-StatusItem')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a notebook: capability warnings in the toolbar and the editor, and the GPU panel beside it', async ({
  page,
  request
}) => {
  const errors = watchErrors(page);
  const name = `notebook7-${Date.now()}.ipynb`;
  const created = await request.put(`/api/contents/${name}`, {
    data: {
      type: 'notebook',
      content: {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
        cells: [
          {
            cell_type: 'code',
            metadata: {},
            execution_count: null,
            outputs: [],
            source: 'import torch\nx = torch.zeros(2, dtype=torch.bfloat16, device="cuda")'
          }
        ]
      }
    }
  });
  expect(created.ok()).toBe(true);
  await page.goto(`/notebooks/${name}`);
  // This machine's kernel has no GPU (its probe says so): device="cuda" is an error.
  const summary = page.locator('.jp-gpuscope-LintSummary');
  await expect(summary).toHaveText('GPU: 1 error, 0 warnings', { timeout: 30000 });
  await expect(page.locator('.jp-Cell .cm-lintRange-error')).toHaveCount(1);

  const panel = await openPanelFromViewMenu(page);
  await expect(panel.locator('.jp-gpuscope-Card')).toHaveCount(1);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'notebook7.png') });
  expect(errors).toEqual([]);
});

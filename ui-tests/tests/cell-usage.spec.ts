import { expect, test } from '@jupyterlab/galata';
import { setSource } from './helpers';
import * as fs from 'fs';
import * as path from 'path';
import { SCREENSHOTS } from './screenshots';

// No GPU on CI: the kernel gets a stand-in for torch with CUDA "initialised" whose
// allocator counters the cells drive (the same file as the kernel extension's pytest). The
// utilisation comes from the replayed recording and is labelled "(replay)".
const FAKE_TORCH = fs.readFileSync(
  path.join(
    __dirname,
    '..',
    '..',
    'python',
    'jupyterlab_gpuscope',
    'tests',
    'fixtures',
    'fake_torch_cell.py'
  ),
  'utf-8'
);

async function extensionLoaded(page: any): Promise<boolean> {
  return page.evaluate(async () => {
    const kernel = (window as any).jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;
    if (!kernel) {
      return false;
    }
    const reply = await kernel.requestExecute({
      code: '',
      silent: true,
      user_expressions: {
        loaded: "getattr(get_ipython(), '_gpuscope_cell_usage', None) is not None"
      }
    }).done;
    return reply.content.user_expressions.loaded?.data?.['text/plain'] === 'True';
  });
}

/** Set a cell's source through the model: typing would re-indent the class body. */

function usageOf(page: any, index: number) {
  return page.locator('.jp-Notebook .jp-Cell').nth(index).locator('.jp-gpuscope-CellUsage');
}

test('GPU usage under the cells that used the GPU, and the heaviest in the panel', async ({
  page
}) => {
  await page.notebook.createNew('cells.ipynb');
  await expect.poll(() => extensionLoaded(page), { timeout: 20000 }).toBe(true);
  await page.notebook.setCell(0, 'code', 'fake torch');
  await setSource(page, 0, FAKE_TORCH);
  await page.notebook.addCell('code', 'torch.cuda.allocate(3 * 2**30)');
  await page.notebook.addCell('code', 'x = 1 + 1');
  for (let i = 0; i < 3; i++) {
    await page.notebook.runCell(i);
  }
  await expect(usageOf(page, 1)).toHaveText(
    /^GPU peak 3\.00 GiB \(\+3\.00 GiB\)( · util \d+ % \(replay\))?$/
  );
  await expect(usageOf(page, 1)).toHaveAttribute('title', /cuda:0: peak 3\.00 GiB allocated/);
  await expect(usageOf(page, 0)).toHaveCount(0);
  await expect(usageOf(page, 2)).toHaveCount(0);
  await page
    .locator('.jp-Notebook .jp-Cell')
    .nth(1)
    .screenshot({ path: path.join(SCREENSHOTS, 'cell-usage-light.png') });

  // The GPU panel lists it among the notebook's heaviest cells; the link goes to it.
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('gpuscope:open-panel'));
  const heavy = page.locator('.jp-gpuscope-HeavyCells');
  await expect(heavy.locator('li')).toHaveText(['Cell 2: 3.00 GiB']);
  await page.notebook.selectCells(2);
  await heavy.locator('button').click();
  expect(
    await page.evaluate(
      () => (window as any).jupyterapp.shell.currentWidget.content.activeCellIndex
    )
  ).toBe(1);

  // Not saved: the notebook file has no measurements (the setting is off by default).
  await page.notebook.save();
  const saved = await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    return JSON.stringify(
      (await app.serviceManager.contents.get(app.shell.currentWidget.context.path)).content
    );
  });
  expect(saved).not.toContain('peak_allocated');

  // Running the cell again replaces its line. (Reloading after a kernel restart is tested
  // in jest: kernel restarts do not reconnect in this Galata setup, with or without
  // gpuscope.)
  await setSource(page, 1, 'torch.cuda.allocate(5 * 2**30)');
  await page.notebook.runCell(1);
  await expect(usageOf(page, 1)).toHaveText(/^GPU peak 8\.00 GiB \(\+5\.00 GiB\)/, {
    timeout: 15000
  });
});

test('a real CPU-only torch: nothing is shown and CUDA is never started', async ({ page }) => {
  await page.notebook.createNew('cpu-cells.ipynb');
  await expect.poll(() => extensionLoaded(page), { timeout: 20000 }).toBe(true);
  await page.notebook.setCell(
    0,
    'code',
    'import torch\nx = torch.ones(1000) * 2\nprint(torch.cuda.is_initialized())'
  );
  await page.notebook.runCell(0);
  await expect(
    page
      .locator('.jp-Notebook .jp-Cell')
      .first()
      .locator('[data-mime-type="application/vnd.jupyter.stdout"]')
  ).toHaveText('False\n');
  await expect(page.locator('.jp-gpuscope-CellUsage')).toHaveCount(0);
});

import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import { openPanel } from './helpers';
import { SCREENSHOTS } from './screenshots';

const TRACE = path.resolve(
  __dirname,
  '../../python/jupyterlab_gpuscope/traces/h200-workload.jsonl'
);

/** Every memory-used value of the recording, as the status bar prints it (GiB, 1 decimal). */
function recordedMemoryTexts(): Set<string> {
  const texts = new Set<string>();
  for (const line of fs.readFileSync(TRACE, 'utf-8').split('\n')) {
    if (line.trim()) {
      const record = JSON.parse(line);
      if (record.type === 'sample') {
        texts.add((record.gpus[0].memory_used / 2 ** 30).toFixed(1));
      }
    }
  }
  return texts;
}

const statusItem = (page: any) => page.locator('.jp-gpuscope-StatusItem');

test.describe('GPU monitor on the replay backend', () => {
  test('the status bar shows values from the recording, marked as a replay', async ({ page }) => {
    const item = statusItem(page);
    await expect(item).toHaveText(/^Replay · GPU 0: \d+% · \d+\.\d\/140 GiB( · power cap)?$/);
    const text = (await item.textContent()) as string;
    const used = text.match(/· (\d+\.\d)\/140 GiB/)![1];
    expect(recordedMemoryTexts().has(used)).toBe(true);
    const tooltip = await item.getAttribute('title');
    expect(tooltip).toContain('not a live GPU');
    expect(tooltip).toContain('NVIDIA H200 (compute capability 9.0)');
  });

  test('clicking the status bar opens the panel with one card and its charts', async ({ page }) => {
    await statusItem(page).click();
    const panel = page.locator('#jp-gpuscope-panel');
    await expect(panel).toBeVisible();
    await expect(panel.locator('.jp-gpuscope-Panel-banner')).toContainText('not a live GPU');
    const cards = panel.locator('.jp-gpuscope-Card');
    await expect(cards).toHaveCount(1);
    await expect(cards.first().locator('.jp-gpuscope-Card-title')).toHaveText(
      'GPU 0 · NVIDIA H200 · compute capability 9.0'
    );
    // Memory, utilisation, power and PCIe; NVLink's chart stays hidden (the H200 has none).
    await expect(cards.first().locator('figure:visible .uplot')).toHaveCount(4);
    // The H200 has no fan reading: "n/a" with the reason on hover.
    const fan = cards.first().locator('dd.jp-mod-unavailable').last();
    await expect(fan).toHaveText('n/a');
    await expect(fan).toHaveAttribute('title', 'not supported (as recorded)');
  });

  test('the history survives a page reload', async ({ page }) => {
    const panel = await openPanel(page);
    const chart = panel.locator('.jp-gpuscope-Chart').first();
    await expect
      .poll(async () => Number(await chart.getAttribute('data-points')), {
        timeout: 15000
      })
      .toBeGreaterThanOrEqual(12);
    await page.reload();
    await page.waitForSelector('.jp-gpuscope-StatusItem');
    const reopened = await openPanel(page);
    // Straight after the reload the chart already has the server's history, far more
    // than the stream alone could have delivered (one sample per 0.5 s).
    await expect
      .poll(
        async () =>
          Number(await reopened.locator('.jp-gpuscope-Chart').first().getAttribute('data-points')),
        { timeout: 3000 }
      )
      .toBeGreaterThanOrEqual(12);
  });

  test('pause and resume from the command palette command', async ({ page }) => {
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('gpuscope:toggle-monitoring')
    );
    await expect(statusItem(page)).toContainText('(paused)');
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('gpuscope:toggle-monitoring')
    );
    await expect(statusItem(page)).not.toContainText('(paused)');
  });

  test('at the default sidebar width, each value is one line and nothing overflows the card', async ({
    page
  }) => {
    const panel = await openPanel(page);
    const card = panel.locator('.jp-gpuscope-Card').first();
    await expect(card.locator('.jp-gpuscope-Chart canvas').first()).toBeVisible();
    const layout = await card.evaluate((node: HTMLElement) => {
      const lineHeight = (el: Element) => parseFloat(getComputedStyle(el).lineHeight) || 20;
      const values = Array.from(node.querySelectorAll('.jp-gpuscope-Card-fields dd'));
      return {
        width: node.getBoundingClientRect().width,
        overflow: node.scrollWidth - node.clientWidth,
        wrapped: values
          .filter(dd => dd.getBoundingClientRect().height > 1.5 * lineHeight(dd))
          .map(dd => dd.textContent),
        cut: values
          .filter(dd => (dd as HTMLElement).scrollWidth > (dd as HTMLElement).clientWidth)
          .filter(dd => dd.getAttribute('title') !== dd.textContent)
          .map(dd => dd.textContent)
      };
    });
    // The sidebar's default is also its narrowest (JupyterLab's --jp-sidebar-min-width):
    // a user cannot drag it narrower than this.
    expect(layout.width).toBeLessThan(400);
    expect(layout.overflow).toBeLessThanOrEqual(0);
    expect(layout.wrapped).toEqual([]);
    // A value cut short by the width keeps its whole text in its title.
    expect(layout.cut).toEqual([]);
  });

  test("a notebook's kernel appears in the process table and can be shut down", async ({
    page
  }) => {
    await page.notebook.createNew('gpu-user.ipynb');
    await page.notebook.setCell(0, 'code', 'x = 1');
    await page.notebook.runCell(0);
    const panel = await openPanel(page);
    const row = panel.locator('tbody tr', { hasText: 'python3' });
    await expect(row).toBeVisible({ timeout: 15000 });
    await expect(row).toContainText('2.00 GiB');
    // The notebook the kernel belongs to, as the server's session knows it (Galata
    // creates "Untitled.ipynb" and renames it, which the session may not follow yet).
    const notebook = row.getByRole('button', { name: /\.ipynb$/ });
    await expect(notebook).toBeVisible();
    const notebookPath = (await notebook.textContent()) as string;
    await row.getByRole('button', { name: 'Shut down kernel' }).click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Shut down the kernel of ${notebookPath}?`);
    await dialog.getByRole('button', { name: 'Shut Down' }).click();
    await expect(row).toHaveCount(0, { timeout: 15000 });
    await expect(panel.locator('.jp-gpuscope-Card-empty')).toHaveText(
      'No process holds memory on this GPU.'
    );
    const kernels = await (await page.request.get('/api/kernels')).json();
    expect(kernels).toHaveLength(0);
  });
});

test.describe('GPU monitor states', () => {
  test('no GPU: a quiet "No GPU" with the reason in the tooltip', async ({ page }) => {
    await page.route(/\/gpuscope\/api\/devices/, route =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({
          backend: 'none',
          configured_backend: 'auto',
          live: false,
          source: null,
          status: 'unavailable',
          reason:
            'NVML could not start: libnvidia-ml.so was not found: no NVIDIA driver is installed here',
          run_id: 'nogpu',
          interval_seconds: 1,
          driver_version: null,
          cuda_driver_version: null,
          nvml_version: null,
          devices: []
        })
      })
    );
    await page.reload();
    const item = statusItem(page);
    await expect(item).toHaveText('No GPU');
    await expect(item).toHaveAttribute('title', /libnvidia-ml\.so was not found/);
    const panel = await openPanel(page);
    await expect(panel.locator('.jp-gpuscope-Panel-banner')).toContainText('no NVIDIA driver');
    await expect(panel.locator('.jp-gpuscope-Card')).toHaveCount(0);
    // Nothing to pause and no history to choose: no controls that do nothing.
    await expect(panel.locator('.jp-gpuscope-Panel-controls')).toBeHidden();
    await expect(panel.getByRole('button', { name: 'Pause' })).toBeHidden();
  });

  test('server unreachable: shows offline, then recovers by itself', async ({ page }) => {
    await page.route(/\/gpuscope\/api\//, route => route.abort());
    await page.routeWebSocket(/\/gpuscope\/api\/stream/, ws => ws.close());
    await page.reload();
    const item = statusItem(page);
    await expect(item).toHaveText('GPU: offline', { timeout: 15000 });
    await expect(item).toHaveAttribute('title', /cannot reach the server/);
    const panel = await openPanel(page);
    await expect(panel.locator('.jp-gpuscope-Panel-banner')).toContainText(
      'Cannot reach the server'
    );
    await expect(panel.locator('.jp-gpuscope-Panel-controls')).toBeHidden();
    await page.unroute(/\/gpuscope\/api\//);
    await page.routeWebSocket(/\/gpuscope\/api\/stream/, ws => ws.connectToServer());
    await expect(item).toHaveText(/^Replay · GPU 0/, { timeout: 20000 });
    await expect(panel.locator('.jp-gpuscope-Panel-controls')).toBeVisible();
  });
});

/** The relative luminance (0 dark … 1 light) of an element's background colour. */
async function backgroundLuminance(locator: any): Promise<number> {
  return locator.evaluate((node: Element) => {
    let element: Element | null = node;
    let color = 'rgba(0, 0, 0, 0)';
    while (element && /rgba\(0, 0, 0, 0\)|transparent/.test(color)) {
      color = getComputedStyle(element).backgroundColor;
      element = element.parentElement;
    }
    const [r, g, b] = (color.match(/\d+(\.\d+)?/g) ?? ['0', '0', '0']).slice(0, 3).map(Number);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  });
}

test.describe('themes', () => {
  for (const theme of ['light', 'dark']) {
    test(`the panel and status bar follow the ${theme} theme, with a drawn chart`, async ({
      page
    }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      const panel = await openPanel(page);
      await expect
        .poll(
          async () =>
            Number(await panel.locator('.jp-gpuscope-Chart').first().getAttribute('data-points')),
          { timeout: 15000 }
        )
        .toBeGreaterThanOrEqual(10);
      // The panel takes the theme's colours (only var(--jp-*) in the stylesheet).
      const luminance = await backgroundLuminance(panel);
      if (theme === 'dark') {
        expect(luminance).toBeLessThan(0.35);
      } else {
        expect(luminance).toBeGreaterThan(0.65);
      }
      const item = page.locator('.jp-gpuscope-StatusItem');
      await expect(item).toBeVisible();
      // The README's images (make screenshots writes them to docs/screenshots).
      await panel.screenshot({ path: path.join(SCREENSHOTS, `panel-${theme}.png`) });
      await page
        .locator('#jp-main-statusbar')
        .screenshot({ path: path.join(SCREENSHOTS, `statusbar-${theme}.png`) });
      await page.screenshot({ path: path.join(SCREENSHOTS, `lab-${theme}.png`) });
    });
  }
});

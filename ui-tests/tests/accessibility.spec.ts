import { expect, galata, test } from '@jupyterlab/galata';

import { openPanel, run, seriousViolations, textContrast } from './helpers';

const NO_KERNEL_IMAGE = `raise RuntimeError("""CUDA error: no kernel image is available for execution on the device
CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.
For debugging consider passing CUDA_LAUNCH_BLOCKING=1""")`;

test.describe('accessibility (axe-core)', () => {
  for (const theme of ['light', 'dark']) {
    test(`no serious violations in the panel, status bar item, report, explanation and warnings (${theme})`, async ({
      page
    }) => {
      test.setTimeout(180000);
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await page.notebook.createNew(`a11y-${theme}.ipynb`);
      // A warning for the list (cuda:3 on the replay's one GPU), an error for its card.
      await page.notebook.setCell(0, 'code', 'import torch\nx = torch.zeros(2).to("cuda:3")');
      await page.notebook.addCell('code', NO_KERNEL_IMAGE);
      await page.notebook.runCell(1);
      await expect(page.locator('.jp-gpuscope-Explain')).toBeVisible({ timeout: 30000 });
      await page.notebook.selectCells(1);
      await run(page, 'gpuscope:insert-diagnostic');
      await expect(page.locator('.jp-gpuscope-Report')).toBeVisible({ timeout: 60000 });
      await page
        .locator('.jp-gpuscope-Report .jp-gpuscope-Finding-sources summary')
        .first()
        .click();
      const summary = page.locator('.jp-gpuscope-LintSummary');
      await expect(summary).toContainText('GPU:', { timeout: 10000 });
      await summary.click();
      await expect(page.locator('.jp-gpuscope-LintList')).toBeVisible();
      // axe finds no text to check for contrast in JupyterLab's modal dialogs (its
      // colour-contrast rule is inapplicable there); the list's other rules still run.
      const lists = await seriousViolations(page, ['.jp-gpuscope-LintList'], false);
      await page.keyboard.press('Escape');
      const panel = await openPanel(page);
      await expect(panel.locator('.jp-gpuscope-Card')).toHaveCount(1);
      await expect
        .poll(
          async () =>
            Number(await panel.locator('.jp-gpuscope-Chart').first().getAttribute('data-points')),
          { timeout: 15000 }
        )
        .toBeGreaterThan(2);
      const rest = await seriousViolations(page, [
        '#jp-gpuscope-panel',
        '.jp-gpuscope-StatusItem',
        '.jp-gpuscope-Report',
        '.jp-gpuscope-Explain'
      ]);
      expect([...lists, ...rest]).toEqual([]);
    });
  }
});

// The replay's GPU holds up to half of its memory during its jobs: these thresholds put it
// in each state then.
const LEVELS = {
  warning: { memoryWarningPercent: 1, memoryCriticalPercent: 99 },
  critical: { memoryWarningPercent: 1, memoryCriticalPercent: 2 }
};
const THEMES = ['JupyterLab Light', 'JupyterLab Dark', 'JupyterLab Dark High Contrast'];

for (const [level, thresholds] of Object.entries(LEVELS)) {
  test.describe(`the ${level} colours`, () => {
    test.use({
      mockSettings: { ...galata.DEFAULT_SETTINGS, 'jupyterlab-gpuscope:monitor': thresholds }
    });
    for (const theme of THEMES) {
      test(`pass WCAG AA contrast in ${theme}`, async ({ page }) => {
        test.setTimeout(120000);
        await page.theme.setTheme(theme);
        const item = page.locator(`.jp-gpuscope-StatusItem.jp-mod-${level}`);
        // The replay's GPU holds under 1 % between its jobs (up to about 30 s where the
        // recording wraps round); the colour shows once a job holds memory again.
        await expect(item).toBeVisible({ timeout: 60000 });
        // The status bar's text in the level's colour: axe cannot tell its background (the
        // item is its own layer), so the ratio is computed here.
        expect(await textContrast(item.locator('.jp-StatusBar-TextItem'))).toBeGreaterThanOrEqual(
          4.5
        );
        const panel = await openPanel(page);
        await expect(panel.locator(`.jp-gpuscope-Card.jp-mod-${level}`)).toHaveCount(1);
        expect(
          await seriousViolations(page, ['#jp-gpuscope-panel', '.jp-gpuscope-StatusItem'])
        ).toEqual([]);
      });
    }
  });
}

test.describe('keyboard only', () => {
  const panelHasFocus = (page: any) =>
    page.evaluate(() =>
      Boolean(document.querySelector('#jp-gpuscope-panel')?.contains(document.activeElement))
    );

  /** Tab until the focused element matches, at most `limit` times. */
  async function tabTo(page: any, matches: (el: Element) => boolean, limit = 60) {
    for (let i = 0; i < limit; i++) {
      await page.keyboard.press('Tab');
      const found = await page.evaluate((source: string) => {
        const el = document.activeElement;
        return !!el && new Function('el', `return (${source})(el)`)(el);
      }, matches.toString());
      if (found) {
        return;
      }
    }
    throw new Error('not reached by Tab');
  }

  test('Accel Shift Alt G moves focus into the panel, and Escape gives it back', async ({
    page
  }) => {
    await page.notebook.createNew('keys.ipynb');
    await page.notebook.enterCellEditingMode(0);
    await page.keyboard.press('ControlOrMeta+Shift+Alt+G');
    await expect(page.locator('#jp-gpuscope-panel')).toBeVisible();
    await expect.poll(() => panelHasFocus(page)).toBe(true);
    // Its controls and charts come next in the tab order, in the panel's order.
    await page.keyboard.press('Tab');
    await expect(page.locator('#jp-gpuscope-panel .jp-gpuscope-Panel-pause')).toBeFocused();
    await page.keyboard.press('Escape');
    await expect.poll(() => panelHasFocus(page)).toBe(false);
    await expect(
      page.locator('.jp-Notebook .jp-Cell').first().locator('.cm-content')
    ).toBeFocused();
  });

  test('open a notebook from the process table, and shut its kernel down, by keyboard', async ({
    page
  }) => {
    // Not renamed: Galata renames a new notebook behind the session's back, which would
    // leave the session (and so the table) with the old name.
    await page.notebook.createNew();
    await page.notebook.setCell(0, 'code', 'x = 1');
    await page.notebook.runCell(0);
    await page.keyboard.press('ControlOrMeta+Shift+Alt+G');
    const row = page.locator('#jp-gpuscope-panel tbody tr', { hasText: 'python3' });
    await expect(row).toBeVisible({ timeout: 15000 });
    await expect.poll(() => panelHasFocus(page)).toBe(true);
    // A launcher in front; the table's notebook name is a button: Enter brings the
    // notebook back.
    const notebookPath = (await row
      .getByRole('button', { name: /\.ipynb$/ })
      .textContent()) as string;
    await page.evaluate(() => {
      void (window as any).jupyterapp.commands.execute('launcher:create');
    });
    await expect(page.locator('.jp-Launcher:visible')).toHaveCount(1);
    await page.keyboard.press('ControlOrMeta+Shift+Alt+G');
    await expect.poll(() => panelHasFocus(page)).toBe(true);
    await tabTo(page, el => el.tagName === 'BUTTON' && /\.ipynb$/.test(el.textContent ?? ''));
    await page.keyboard.press('Enter');
    await expect
      .poll(() =>
        page.evaluate(() => (window as any).jupyterapp.shell.currentWidget?.context?.path)
      )
      .toBe(notebookPath);
    await page.keyboard.press('ControlOrMeta+Shift+Alt+G');
    await expect.poll(() => panelHasFocus(page)).toBe(true);
    await tabTo(page, el => el.tagName === 'BUTTON' && el.textContent === 'Shut down kernel');
    await page.keyboard.press('Enter');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText('Shut down the kernel of');
    await expect(dialog.getByRole('button', { name: 'Shut Down' })).toBeFocused();
    await page.keyboard.press('Enter');
    await expect(row).toHaveCount(0, { timeout: 15000 });
  });
});

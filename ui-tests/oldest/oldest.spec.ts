import { expect, test } from '@playwright/test';

/**
 * On JupyterLab 4.2 the extension loads without a warning of its own (no "Unsatisfied
 * version" of a shared module: it asks for the ranges it supports), and the status bar
 * and the panel work.
 */
test('on JupyterLab 4.2 the extension loads without version warnings; status bar and panel work', async ({
  page
}) => {
  const messages: string[] = [];
  page.on('console', message => messages.push(`${message.type()}: ${message.text()}`));
  await page.goto('/lab');
  await expect
    .poll(() => page.evaluate(() => (window as any).jupyterapp?.version ?? null), {
      timeout: 60000
    })
    .toMatch(/^4\.2\./);
  const item = page.locator('.jp-gpuscope-StatusItem');
  await expect(item).toHaveText(/^Replay · GPU 0: \d+% · [\d.]+\/\d+ GiB( · power cap)?$/, {
    timeout: 60000
  });
  await item.click();
  const panel = page.locator('#jp-gpuscope-panel');
  await expect(panel.locator('.jp-gpuscope-Card')).toHaveCount(1, { timeout: 20000 });
  await expect(panel.locator('.jp-gpuscope-Panel-banner')).toContainText('not a live GPU');
  await expect
    .poll(
      async () =>
        Number(await panel.locator('.jp-gpuscope-Chart').first().getAttribute('data-points')),
      { timeout: 20000 }
    )
    .toBeGreaterThanOrEqual(3);
  const ours = messages.filter(
    m => /Unsatisfied version/.test(m) || (/gpuscope/i.test(m) && /^(error|warning):/.test(m))
  );
  expect(ours).toEqual([]);
});

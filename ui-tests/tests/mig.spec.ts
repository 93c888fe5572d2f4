import { expect, test } from '@jupyterlab/galata';

/**
 * MIG on the synthetic MIG trace (no MIG hardware was at hand): the server's kernels run on the
 * 1g.18gb instance (GPU instance 13) that their CUDA_VISIBLE_DEVICES names
 * (jupyter_server_mig_config.py).
 */
test.describe('MIG instances on the synthetic MIG replay', () => {
  test('the panel lists each instance under its GPU, labelled as synthetic', async ({ page }) => {
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('gpuscope:open-panel'));
    const panel = page.locator('#jp-gpuscope-panel');
    await expect(panel.locator('.jp-gpuscope-Panel-banner')).toContainText('synthetic');
    const table = panel.locator('.jp-gpuscope-MigTable');
    await expect(table.locator('caption')).toHaveText('MIG instances');
    const rows = table.locator('tbody tr');
    await expect(rows).toHaveCount(4);
    await expect(rows.locator('td:first-child')).toHaveText([
      '3g.71gb',
      '2g.35gb',
      '1g.18gb',
      '1g.18gb'
    ]);
    // Memory per instance, of the instance's own size; activity from GPM.
    await expect(rows.nth(1).locator('td').nth(1)).toHaveText('6.0/33 GiB');
    await expect(rows.nth(0).locator('td').nth(2)).toHaveText(/^\d+%$/);
    await expect(rows.nth(2).locator('td').first()).toHaveAttribute(
      'title',
      /MIG 1g\.18gb \(GPU instance 13, compute instance 0\)/
    );
  });

  test("the status bar shows the notebook kernel's own instance", async ({ page }) => {
    await page.notebook.createNew();
    const item = page.locator('.jp-gpuscope-StatusItem');
    await expect(item).toHaveText(/^Replay · MIG 1g\.18gb: SM 0% · 3\.0\/16 GiB$/, {
      timeout: 30000
    });
    const tooltip = await item.getAttribute('title');
    expect(tooltip).toContain('MIG 1g.18gb (GPU instance 13, compute instance 0)');
    expect(tooltip).toContain("Showing the active notebook's MIG instance.");
    // The process table says where the kernel's process runs.
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('gpuscope:open-panel'));
    await expect(page.locator('.jp-gpuscope-ProcessTable tbody tr').first()).toContainText(
      'MIG 1g.18gb',
      { timeout: 15000 }
    );
  });
});

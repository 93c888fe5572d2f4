import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';
import { SCREENSHOTS } from './screenshots';

/*
 * Runs against the classroom server (jupyter_server_shared_gpus_config.py, port 8889):
 * every kernel is reported as holding 2 GiB on GPU 0 of the replayed H200; the soft limit
 * is 2.5 GiB (warned from 75 %); kernels idle 3 s are nudged and shut down 15 s later;
 * the class lints for a T4.
 */

const warningToast = (page: any, text: string) =>
  page.locator('.jp-Notification-Toast-warning', { hasText: text });

/** A new notebook whose kernel ran a cell: its kernel id and the path its session has. */
async function startKernel(page: any, name: string): Promise<{ kernelId: string; path: string }> {
  // Notebook names must not contain "idle": Galata waits for "Idle" in the status bar.
  await page.notebook.createNew(name);
  await page.notebook.setCell(0, 'code', '1 + 1');
  await page.notebook.runCell(0);
  await expect(page.locator('.jp-OutputArea-output').first()).toHaveText('2');
  return page.evaluate(() => {
    const session = (window as any).jupyterapp.shell.currentWidget.sessionContext.session;
    return { kernelId: session.kernel.id, path: session.path };
  });
}

async function runningKernels(page: any): Promise<string[]> {
  return page.evaluate(async () => {
    const response = await fetch('/api/kernels');
    return (await response.json()).map((k: any) => k.id);
  });
}

test.afterEach(async ({ page }) => {
  // Each test starts with no kernel holding GPU memory.
  await page.evaluate(() => (window as any).jupyterapp.serviceManager.kernels.shutdownAll());
});

test.describe('Shared GPUs (classroom server)', () => {
  test('the soft limit shows in the status bar and the panel, with a warning near it', async ({
    page
  }) => {
    await startKernel(page, 'limit.ipynb');
    const item = page.locator('.jp-gpuscope-StatusItem');
    await expect(item).toHaveText(
      /^Replay · GPU 0: \d+% · \d+\.\d\/140 GiB( · power cap)? · you 2\.0\/2\.5 GiB$/,
      { timeout: 15000 }
    );
    await expect(item).toHaveClass(/jp-mod-warning|jp-mod-critical/);
    expect(await item.getAttribute('title')).toContain(
      'You hold 2.0 GiB of your 2.5 GiB limit on GPU 0.'
    );
    await expect(
      warningToast(page, 'You hold 2.0 GiB of your 2.5 GiB limit on GPU 0. (replay readings)')
    ).toBeVisible();

    await page.evaluate(() => (window as any).jupyterapp.commands.execute('gpuscope:open-panel'));
    const section = page.locator('#jp-gpuscope-panel .jp-gpuscope-Usage');
    await expect(section).toContainText('Your GPU memory (replay readings)');
    await expect(section.locator('.jp-gpuscope-Usage-gpu.jp-mod-near')).toContainText(
      'You hold 2.0 GiB of your 2.5 GiB limit'
    );
    await expect(section).toContainText('shut down 0.25 min after you are notified');
    await section.screenshot({ path: path.join(SCREENSHOTS, 'usage-light.png') });
    await page.theme.setDarkTheme();
    await expect(section.locator('.jp-gpuscope-Usage-gpu')).toBeVisible();
    await section.screenshot({ path: path.join(SCREENSHOTS, 'usage-dark.png') });
    await page.theme.setLightTheme();
  });

  test('an idle kernel holding GPU memory: one notification; Keep keeps it; Shut down kernel frees it', async ({
    page
  }) => {
    const { kernelId, path: notebook } = await startKernel(page, 'nudge.ipynb');
    const nudge = warningToast(page, 'of GPU memory others could use');
    await expect(nudge).toHaveCount(1, { timeout: 15000 });
    await expect(nudge).toContainText(`${path.basename(notebook)}: idle`);
    await expect(nudge).toContainText('holding 2.0 GiB of GPU memory');
    await expect(nudge).toContainText('unless you keep it. (replay readings)');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'idle-nudge.png') });

    await nudge.locator('.jp-toast-button', { hasText: 'Keep' }).click();
    await expect(nudge).toHaveCount(0);
    expect(await runningKernels(page)).toContain(kernelId);

    // Kept: a new idle period begins, and after it one new notification.
    await expect(nudge).toHaveCount(1, { timeout: 15000 });
    await nudge.locator('.jp-toast-button', { hasText: 'Shut down kernel' }).click();
    await expect.poll(() => runningKernels(page), { timeout: 10000 }).not.toContain(kernelId);
    await expect(
      page.locator('.jp-Notification-Toast-success', { hasText: 'Kernel shut down' })
    ).toBeVisible();
  });

  test('gpuscope shuts down a kernel left idle past the grace period, and says so', async ({
    page
  }) => {
    test.setTimeout(90000);
    const { kernelId, path: notebook } = await startKernel(page, 'forgotten.ipynb');
    const notice = page.locator('.jp-Notification-Toast-info', {
      hasText: 'gpuscope shut down the kernel of'
    });
    await expect(notice).toContainText(path.basename(notebook), { timeout: 45000 });
    await expect(notice).toContainText('holding 2.0 GiB), as your administrator set.');
    expect(await runningKernels(page)).not.toContain(kernelId);
  });

  test("the instructor's lint target applies, and says who set it", async ({ page }) => {
    await page.notebook.createNew('class-lint.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      'import torch\nx = torch.zeros(2, dtype=torch.bfloat16, device="cuda")'
    );
    const summary = page.locator('.jp-gpuscope-LintSummary');
    await expect(summary).toHaveText('GPU: 0 errors, 1 warning', { timeout: 15000 });
    const title = await summary.getAttribute('title');
    expect(title).toContain('(7.5)');
    expect(title).toContain('set by your administrator');
  });
});

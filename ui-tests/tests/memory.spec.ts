import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';
import { openPanel, seriousViolations, setSource, textContrast } from './helpers';
import { SCREENSHOTS } from './screenshots';

/**
 * The memory X-ray on the replay backend. The kernel here has no GPU, so a cell puts a
 * fake module in its place (the loader keeps a module already loaded): it answers with
 * the breakdown recorded in a real kernel on an H100 (scripts/gpu_memory_xray.py) and
 * acts on that copy. Everything between the kernel's answer and the user is the real path.
 */
const RECORD = JSON.parse(
  fs.readFileSync(
    path.join(__dirname, '../../src/memory/__tests__/fixtures/h100-memory-xray.json'),
    'utf-8'
  )
);

const FAKE_MODULE_SOURCE = `import json, sys, types
from IPython.display import display
_recorded = json.loads(${JSON.stringify(JSON.stringify(RECORD.breakdown))})
def _answer(action, *args):
    if action == "breakdown":
        reply = _recorded
    else:
        freed = 0
        for device in _recorded["devices"]:
            for holder in list(device["holders"]):
                if action == "delete" and holder["name"] == args[0]:
                    device["holders"].remove(holder)
                    freed += holder["bytes"]
        message = f"deleted {args[0]}" if args else action
        reply = {"action": action, "ok": True, "message": message, "freed": [{"index": 0, "nvml": freed, "reserved": freed}]}
    display({"application/vnd.gpuscope.memory-reply+json": reply}, raw=True)
_fake = types.ModuleType("gpuscope_memory_xray")
_fake.answer = _answer
sys.modules["gpuscope_memory_xray"] = _fake
del _fake, _answer`;
// One line, so that the editor's auto-indent cannot change the code as Galata types it.
const FAKE_KERNEL_MODULE = `exec(${JSON.stringify(FAKE_MODULE_SOURCE)})`;

const OOM = `raise RuntimeError(${JSON.stringify(RECORD.error.evalue)})`;

/** The largest variable of the recording, and its size as the view writes it. */
const LARGEST = RECORD.breakdown.devices[0].holders.find((h: any) => h.kind === 'variable');

test.describe('what holds GPU memory in a kernel', () => {
  test('the command shows the breakdown, and a variable is deleted by keyboard after confirming', async ({
    page
  }) => {
    await page.notebook.createNew('xray.ipynb');
    await page.notebook.setCell(0, 'code', 'fake module');
    await setSource(page, 0, FAKE_KERNEL_MODULE);
    await page.notebook.runCell(0);
    await page.keyboard.press('Control+Shift+c');
    await page.keyboard.type('What Holds GPU Memory in This Kernel');
    await page.keyboard.press('Enter');

    const view = page.locator('.jp-gpuscope-MemoryPanel .jp-gpuscope-Memory');
    const names = view.locator('.jp-gpuscope-MemoryTable-name');
    await expect(names.first()).toBeVisible({ timeout: 20000 });
    // The same names as the kernel's own breakdown(), in its order.
    const recorded = RECORD.breakdown.devices[0].holders.map((h: any) =>
      h.kind === 'error' ? "The last error's frames" : h.name
    );
    expect((await names.allTextContents()).slice(0, recorded.length)).toEqual(recorded);
    await expect(view.locator('.jp-gpuscope-Memory-summary')).toContainText(
      `${LARGEST.name} ${(LARGEST.bytes / 2 ** 30).toFixed(2)} GiB`
    );
    await view.screenshot({ path: path.join(SCREENSHOTS, 'memory-xray.png') });

    // Keyboard only: focus the variable's Delete button, press Enter, confirm with Enter.
    const del = view.getByRole('button', { name: `Delete ${LARGEST.name}`, exact: true });
    await del.focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(`Delete the variable ${LARGEST.name}`);
    await page.keyboard.press('Enter');
    await expect(view.getByRole('status')).toHaveText(
      new RegExp(`^Deleted ${LARGEST.name}: NVML shows [0-9.]+ GiB freed on GPU 0\\.$`),
      { timeout: 20000 }
    );
    await expect(names.filter({ hasText: new RegExp(`^${LARGEST.name}$`) })).toHaveCount(0);
  });

  test('a cancelled confirmation keeps the variable', async ({ page }) => {
    await page.notebook.createNew('keep.ipynb');
    await page.notebook.setCell(0, 'code', 'fake module');
    await setSource(page, 0, FAKE_KERNEL_MODULE);
    await page.notebook.runCell(0);
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('gpuscope:memory-breakdown')
    );
    const view = page.locator('.jp-gpuscope-MemoryPanel .jp-gpuscope-Memory');
    await view.getByRole('button', { name: `Delete ${LARGEST.name}`, exact: true }).click();
    await page.keyboard.press('Escape');
    await expect(page.locator('.jp-Dialog')).toHaveCount(0);
    await expect(view.locator('.jp-gpuscope-Memory-status')).toHaveText('');
    await expect(
      view.locator('.jp-gpuscope-MemoryTable-name', { hasText: new RegExp(`^${LARGEST.name}$`) })
    ).toHaveCount(1);
  });

  test('the out-of-memory card names what in the kernel holds memory', async ({ page }) => {
    await page.notebook.createNew('oom-xray.ipynb');
    await page.notebook.setCell(0, 'code', 'fake module');
    await setSource(page, 0, FAKE_KERNEL_MODULE);
    await page.notebook.addCell('code', OOM);
    await page.notebook.runCell(0);
    await page.notebook.runCell(1);
    const card = page.locator('.jp-Notebook .jp-Cell').nth(1).locator('.jp-gpuscope-Explain');
    const inKernel = card.locator('.jp-gpuscope-Explain-kernelMemory');
    await expect(inKernel.locator('.jp-gpuscope-Memory-summary')).toContainText(
      `In this kernel: `,
      { timeout: 20000 }
    );
    await expect(inKernel.locator('.jp-gpuscope-Memory-summary')).toContainText(LARGEST.name);
    await expect(
      inKernel.getByRole('button', { name: "Drop the last error's frames" })
    ).toBeVisible();
  });

  test("the GPU Monitor's kernel row opens what in that kernel holds memory", async ({ page }) => {
    await page.notebook.createNew('from-monitor.ipynb');
    await page.notebook.setCell(0, 'code', 'fake module');
    await setSource(page, 0, FAKE_KERNEL_MODULE);
    await page.notebook.runCell(0);
    // The notebook as the server's session names it (the process table shows that name;
    // the session may keep Galata's first name, "Untitled.ipynb").
    const sessionPath = await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      const kernelId = app.shell.currentWidget.sessionContext.session.kernel.id;
      await app.serviceManager.sessions.refreshRunning();
      return (
        Array.from(app.serviceManager.sessions.running()).find(
          (s: any) => s.kernel?.id === kernelId
        ) as any
      ).path;
    });
    const panel = await openPanel(page);
    const row = panel.locator('tbody tr', { hasText: sessionPath });
    await expect(row).toBeVisible({ timeout: 15000 });
    // By keyboard: the card draws what comes into view as the sidebar scrolls, which can
    // move the table under a pointer.
    await row.getByRole('button', { name: 'What holds it' }).focus();
    await page.keyboard.press('Enter');
    await expect(
      page.locator('.jp-gpuscope-MemoryPanel .jp-gpuscope-Memory-summary')
    ).toContainText(LARGEST.name, { timeout: 20000 });
  });

  for (const theme of ['light', 'dark']) {
    test(`the breakdown has no serious accessibility violations and readable text (${theme})`, async ({
      page
    }) => {
      if (theme === 'dark') {
        await page.theme.setDarkTheme();
      }
      await page.notebook.createNew(`a11y-memory-${theme}.ipynb`);
      await page.notebook.setCell(0, 'code', 'fake module');
      await setSource(page, 0, FAKE_KERNEL_MODULE);
      await page.notebook.runCell(0);
      await page.evaluate(() =>
        (window as any).jupyterapp.commands.execute('gpuscope:memory-breakdown')
      );
      const view = page.locator('.jp-gpuscope-MemoryPanel');
      await expect(view.locator('.jp-gpuscope-MemoryTable-name').first()).toBeVisible({
        timeout: 20000
      });
      // axe's colour-contrast rule finds nothing to check in JupyterLab's main area (it is
      // inapplicable there); its other rules run, and the text's contrast is measured here.
      expect(await seriousViolations(page, ['.jp-gpuscope-MemoryPanel'], false)).toEqual([]);
      for (const selector of [
        '.jp-gpuscope-MemoryTable-name',
        '.jp-gpuscope-MemoryTable-size',
        '.jp-gpuscope-MemoryTable-note',
        '.jp-gpuscope-Memory-summary',
        'caption'
      ]) {
        const contrast = await textContrast(view.locator(selector).last());
        expect([selector, contrast >= 4.5]).toEqual([selector, true]);
      }
    });
  }
});

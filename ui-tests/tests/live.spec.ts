import { expect, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { seriousViolations, setSource } from './helpers';
import { SCREENSHOTS } from './screenshots';

/**
 * The kernel's live view (jupyterlab_gpuscope.live) in JupyterLab, with a stand-in for
 * libnvidia-ml in the kernel (tests/fake_nvml_ctypes.py: one H100, this kernel holding
 * 3 GiB): gpuscope's renderer shows its lines and a way to the GPU Monitor instead of a
 * second monitor; its updates arrive while the kernel is idle; stopping it says so. The
 * HTML rendering other frontends show (VS Code, Colab) is checked in a plain page.
 */
const SHOW = [
  'from jupyterlab_gpuscope.tests.fake_nvml_ctypes import install',
  'fake = install(kernel_bytes=3 * 2**30)',
  'import jupyterlab_gpuscope.live as gpu_live',
  'view = gpu_live.show(interval=0.5)'
].join('\n');

test.describe('the GPU live view from the kernel', () => {
  test('shows its lines, updates in place, offers the GPU Monitor and stops when asked', async ({
    page
  }) => {
    await page.notebook.createNew('live.ipynb');
    await page.notebook.setCell(0, 'code', 'show');
    await setSource(page, 0, SHOW);
    await page.notebook.runCell(0);
    const view = page.locator('.jp-gpuscope-Live');
    await expect(view).toContainText(
      'GPU 0 NVIDIA H100 80GB HBM3: 8.5/80 GiB in use (this kernel 3.0 GiB)'
    );
    // The fake's utilisation rises with each read: later updates replace the output.
    await expect(view).toContainText('utilisation 50 %', { timeout: 15000 });
    await expect(view).toContainText('The GPU Monitor shows the same, live, and more.');
    expect(await seriousViolations(page, ['.jp-gpuscope-Live'], false)).toEqual([]);

    // Its source set directly: typing races the output's updates for the focus.
    await page.notebook.addCell('code', 'stop');
    await setSource(page, 1, 'gpu_live.stop()');
    await page.notebook.runCell(1);
    await expect(view).toContainText('Stopped.');

    await view.getByRole('button', { name: 'Open GPU Monitor' }).click();
    await expect(page.locator('#jp-gpuscope-panel')).toBeVisible();
  });

  test('its HTML, for frontends without gpuscope, reads in light and dark themes', async ({
    page
  }) => {
    const python = process.env.PYTHON ?? 'python';
    const html = execFileSync(python, [
      '-c',
      [
        'from jupyterlab_gpuscope.kernel import live',
        'from jupyterlab_gpuscope.tests.fake_nvml_ctypes import FakeCtypesNVML',
        'reader = live.Reader(FakeCtypesNVML(kernel_bytes=3 * 2**30))',
        'reader.open(); reader.read(); reader.read(); reader.read()',
        "print(live.bundle(reader.read())['text/html'])"
      ].join('\n')
    ]).toString();
    for (const [theme, background, color] of [
      ['light', '#ffffff', '#1f1f1f'],
      ['dark', '#1f1f1f', '#cccccc']
    ]) {
      // As an editor's output pane shows it: the pane's colours, the HTML inherits them.
      await page.setContent(
        `<body style="background:${background};color:${color};padding:12px">${html}</body>`
      );
      const body = page.locator('body');
      await expect(body).toContainText(
        'memory: 8.50 GiB of 80.00 GiB in use (this kernel 3.00 GiB'
      );
      await expect(body).toContainText('SM 64 %, tensor 38 %');
      await page.locator('body > div').screenshot({
        path: path.join(SCREENSHOTS, `live-html-${theme}.png`)
      });
    }
  });
});

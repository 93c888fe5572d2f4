import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';
import { SCREENSHOTS } from './screenshots';

// Real failure texts, as torch 2.11 (cu130) and NCCL 2.28.9 printed them on an H200 / H100
// (src/core/explain/__tests__/fixtures): raised here by a kernel without a GPU.
const NO_KERNEL_IMAGE = `raise RuntimeError("""CUDA error: no kernel image is available for execution on the device
CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.
For debugging consider passing CUDA_LAUNCH_BLOCKING=1""")`;
const DEVICE_ASSERT = `import sys
print('/pytorch/aten/src/ATen/native/cuda/IndexKernel.cu:111: operator(): block: [0,0,0], thread: [0,0,0] Assertion \`-sizes[i] <= index && index < sizes[i] && "index out of bounds"\` failed.', file=sys.stderr)
raise RuntimeError("CUDA error: device-side assert triggered")`;
const NCCL_DUPLICATE = `raise RuntimeError("""NCCL error in: /pytorch/torch/csrc/distributed/c10d/NCCLUtils.cpp:93, invalid usage (run with NCCL_DEBUG=WARN for details), NCCL version 2.28.9
ncclInvalidUsage: This usually reflects invalid usage of NCCL library.
Last error:
Duplicate GPU detected : rank 1 and rank 0 both on CUDA device 60""")`;
const OOM = `raise RuntimeError("CUDA out of memory. Tried to allocate 90.00 GiB. GPU 0 has a total capacity of 79.18 GiB of which 30.66 GiB is free. Including non-PyTorch memory, this process has 48.51 GiB memory in use. Of the allocated memory 48.00 GiB is allocated by PyTorch, and 0 bytes is reserved by PyTorch but unallocated.")`;

/** The card under cell i (cards sit in the cell, right under its outputs). */
function cardOf(page: any, index: number) {
  return page.locator('.jp-Notebook .jp-Cell').nth(index).locator('.jp-gpuscope-Explain');
}

test.describe('GPU error explanations under cell outputs', () => {
  test('three real CUDA / NCCL messages each get the right card; ordinary errors none', async ({
    page
  }) => {
    await page.notebook.createNew('errors.ipynb');
    await page.notebook.setCell(0, 'code', NO_KERNEL_IMAGE);
    await page.notebook.addCell('code', DEVICE_ASSERT);
    await page.notebook.addCell('code', NCCL_DUPLICATE);
    await page.notebook.addCell('code', '1 / 0');
    for (let i = 0; i < 4; i++) {
      await page.notebook.runCell(i);
    }
    await expect(cardOf(page, 0).locator('.jp-gpuscope-Explain-title')).toHaveText(
      'This PyTorch build has no code for this GPU'
    );
    await expect(cardOf(page, 1).locator('.jp-gpuscope-Explain-title')).toHaveText(
      'A GPU kernel hit an assertion (usually an index out of range)'
    );
    await expect(cardOf(page, 1).locator('.jp-gpuscope-Explain-detail')).toContainText(
      'index out of bounds'
    );
    await expect(cardOf(page, 1).locator('.jp-gpuscope-Explain-commands pre')).toHaveText(
      '%env CUDA_LAUNCH_BLOCKING=1'
    );
    await expect(cardOf(page, 2).locator('.jp-gpuscope-Explain-title')).toHaveText(
      'Two NCCL ranks are on the same GPU'
    );
    await expect(
      page.locator('.jp-Notebook .jp-Cell').nth(3).locator('.jp-OutputArea-output')
    ).toContainText('ZeroDivisionError');
    await expect(cardOf(page, 3)).toHaveCount(0);
  });

  test("a real error from this kernel's torch without a GPU, explained with the kernel's facts", async ({
    page
  }) => {
    await page.notebook.createNew('cpu-torch.ipynb');
    await page.notebook.setCell(
      0,
      'code',
      'import torch\nprint(torch.version.cuda)\ntorch.zeros(1).cuda()'
    );
    // The card uses what the kernel's probe found: wait until the probe has answered.
    await expect(page.locator('.jp-gpuscope-LintSummary')).toHaveAttribute('title', /\(kernel\)/, {
      timeout: 20000
    });
    await page.notebook.runCell(0);
    const card = cardOf(page, 0);
    // Whatever torch this machine installed: PyTorch's CPU build (these machines), or the
    // CUDA build PyPI gives elsewhere, which finds no driver here.
    const cuda = (await page
      .locator('.jp-Notebook .jp-Cell')
      .first()
      .locator('[data-mime-type="application/vnd.jupyter.stdout"]')
      .textContent())!.trim();
    if (cuda === 'None') {
      // Only this: the traceback quotes torch source with other error texts in it.
      await expect(card.locator('.jp-gpuscope-Explain-title')).toHaveText(
        ['This PyTorch is a CPU-only build'],
        { timeout: 20000 }
      );
      // The probe read torch's version, build and platform at kernel start; the server's
      // H200 is a replay, so it is named as a recording and no install command rests on it.
      await expect(card.locator('.jp-gpuscope-Explain-facts')).toContainText(
        /This kernel has torch \d+\.\d+\.\d+\+cpu \(linux-x86_64\)\./
      );
      await expect(card.locator('.jp-gpuscope-Explain-facts')).toContainText(
        'from a recording (replay), not this machine'
      );
      await expect(card.locator('.jp-gpuscope-Explain-commands pre')).toHaveCount(0);
    } else {
      await expect(card.locator('.jp-gpuscope-Explain-title')).toHaveText(
        ['No NVIDIA driver is visible'],
        { timeout: 20000 }
      );
    }
  });

  test('out of memory: who holds the GPU, and shutting down an idle kernel', async ({ page }) => {
    // Another notebook's idle kernel, holding GPU memory (the e2e backend reports this
    // server's kernels as 2 GiB GPU processes on the replayed GPU 0).
    await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      await app.serviceManager.contents.save('idle.ipynb', {
        type: 'notebook',
        format: 'json',
        content: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }
      });
      await app.serviceManager.sessions.startNew({
        path: 'idle.ipynb',
        type: 'notebook',
        name: 'idle.ipynb',
        kernel: { name: 'python3' }
      });
    });
    await page.notebook.createNew('oom.ipynb');
    await page.notebook.setCell(0, 'code', OOM);
    await page.notebook.runCell(0);
    const card = cardOf(page, 0);
    await expect(card.locator('.jp-gpuscope-Explain-title')).toHaveText(
      'The GPU ran out of memory'
    );
    const facts = card.locator('.jp-gpuscope-Explain-facts');
    await expect(facts).toContainText(
      'The cell asked for 90.00 GiB on GPU 0, which has 79.18 GiB in all and had 30.66 GiB free.'
    );
    // The message says the failing process itself holds 48.51 of 79.18 GiB: that comes first.
    await expect(facts).toContainText(
      "This process (the kernel that failed) holds 48.51 GiB of the GPU's 79.18 GiB itself"
    );
    // 90 GiB is more than the whole GPU: freeing memory cannot help, whoever holds it.
    await expect(card.locator('.jp-gpuscope-Explain-fix')).toContainText(
      'larger than the whole GPU'
    );
    const rows = card.locator('.jp-gpuscope-ProcessTable tbody tr');
    // The failing kernel's own row: marked, with no shut-down button.
    const own = rows.filter({ hasText: '(this notebook)' });
    await expect(own).toHaveCount(1, { timeout: 15000 });
    await expect(own.locator('button', { hasText: 'Shut down kernel' })).toHaveCount(0);
    await expect(card.locator('.jp-gpuscope-Explain-recorded')).toHaveText(
      'recorded GPU (replay), not this machine'
    );
    const idle = rows.filter({ hasText: 'idle.ipynb' });
    await expect(idle).toContainText('2.00 GiB');
    await card.screenshot({ path: path.join(SCREENSHOTS, 'explain-oom-light.png') });

    await idle.locator('button', { hasText: 'Shut down kernel' }).click();
    await page.locator('.jp-Dialog .jp-mod-warn', { hasText: 'Shut Down' }).click();
    await expect(rows.filter({ hasText: 'idle.ipynb' })).toHaveCount(0, { timeout: 15000 });
    const sessions = await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      await app.serviceManager.sessions.refreshRunning();
      return Array.from(app.serviceManager.sessions.running()).map((s: any) => s.path);
    });
    expect(sessions).not.toContain('idle.ipynb');
  });

  test('dismiss, bring back from the palette, add to the notebook only on request', async ({
    page
  }) => {
    await page.notebook.createNew('dismiss.ipynb');
    await page.notebook.setCell(0, 'code', 'raise RuntimeError("No CUDA GPUs are available")');
    await page.notebook.runCell(0);
    const card = cardOf(page, 0);
    await expect(card).toHaveCount(1);
    await page.notebook.save();
    const saved = await page.evaluate(async () => {
      const app = (window as any).jupyterapp;
      const model = await app.serviceManager.contents.get(app.shell.currentWidget.context.path);
      return JSON.stringify(model.content);
    });
    expect(saved).toContain('No CUDA GPUs are available');
    expect(saved).not.toContain('The kernel sees no GPU');

    await card.locator('.jp-gpuscope-Explain-dismiss').click();
    await expect(card).toHaveCount(0);
    await page.notebook.selectCells(0);
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('gpuscope:explain-error')
    );
    await expect(card).toHaveCount(1);

    const cells = await page.locator('.jp-Notebook .jp-Cell').count();
    await card.locator('.jp-gpuscope-Explain-addNote').click();
    await expect(page.locator('.jp-Notebook .jp-Cell')).toHaveCount(cells + 1);
    expect(await page.notebook.getCellType(1)).toBe('markdown');
    expect(await page.notebook.getCellTextInput(1)).toContain('**The kernel sees no GPU**');
  });

  test('an explanation added to the notebook shows the message as text: no image, link or HTML', async ({
    page
  }) => {
    const requested: string[] = [];
    page.on('request', (request: any) => requested.push(request.url()));
    await page.notebook.createNew('hostile.ipynb');
    // A saved, untrusted output could say anything: here an assertion that carries Markdown
    // and HTML which would load a remote image if it became part of a note.
    await page.notebook.setCell(
      0,
      'code',
      DEVICE_ASSERT.replace(
        '"index out of bounds"',
        '"x"` ![t](https://attacker.example/t.png) <img src=https://attacker.example/i.png> `'
      )
    );
    await page.notebook.runCell(0);
    const card = cardOf(page, 0);
    await expect(card.locator('.jp-gpuscope-Explain-detail')).toContainText('attacker.example');
    await card.locator('.jp-gpuscope-Explain-addNote').click();
    expect(await page.notebook.getCellType(1)).toBe('markdown');
    await page.notebook.runCell(1); // render the note
    const note = page.locator('.jp-Notebook .jp-Cell').nth(1).locator('.jp-RenderedMarkdown');
    await expect(note).toContainText('A GPU kernel hit an assertion');
    await expect(note).toContainText('<img src=https://attacker.example/i.png>');
    await expect(note.locator('img')).toHaveCount(0);
    await expect(note.locator('a[href*="attacker"]')).toHaveCount(0);
    expect(requested.filter(url => url.includes('attacker.example'))).toEqual([]);
  });

  test('dark theme', async ({ page }) => {
    await page.theme.setDarkTheme();
    await page.notebook.createNew('dark.ipynb');
    await page.notebook.setCell(0, 'code', DEVICE_ASSERT);
    await page.notebook.runCell(0);
    const card = cardOf(page, 0);
    await expect(card).toHaveCount(1);
    const background = await card.evaluate(
      (node: Element) => getComputedStyle(node).backgroundColor
    );
    expect(background).not.toBe('rgb(255, 255, 255)');
    await page
      .locator('.jp-Notebook .jp-Cell')
      .first()
      .screenshot({ path: path.join(SCREENSHOTS, 'explain-dark.png') });
  });
});

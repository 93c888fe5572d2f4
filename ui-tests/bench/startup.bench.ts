import { expect, test } from '@playwright/test';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

/**
 * JupyterLab's startup with gpuscope against the same JupyterLab without it: the time from
 * navigation to `app.restored` (the shell laid out, every plugin activated), in a new page
 * of one browser context per server, so the assets come from the browser's cache as for a
 * user who opened JupyterLab before (a first, unmeasured load fills it). The two alternate,
 * ROUNDS times each, so drift in the machine's load hits both alike; medians compared.
 * Target: at most 5 % slower.
 */
test('JupyterLab startup with and without gpuscope', async ({ browser }) => {
  const servers = { with: 'http://localhost:8893/lab', without: 'http://localhost:8894/lab' };
  const times: Record<keyof typeof servers, number[]> = { with: [], without: [] };
  const contexts = { with: await browser.newContext(), without: await browser.newContext() };
  const load = async (key: keyof typeof servers): Promise<number> => {
    const url = servers[key];
    const page = await contexts[key].newPage();
    await page.addInitScript(() => {
      const poll = window.setInterval(() => {
        const app = (window as any).jupyterapp;
        if (app?.restored) {
          window.clearInterval(poll);
          app.restored.then(() => ((window as any).__restoredAt = performance.now()));
        }
      }, 2);
    });
    await page.goto(url);
    await page.waitForFunction(() => (window as any).__restoredAt !== undefined, null, {
      timeout: 60000
    });
    const at = await page.evaluate(() => (window as any).__restoredAt as number);
    const hasGPUScope = await page.evaluate(() =>
      (window as any).jupyterapp.hasPlugin('jupyterlab-gpuscope:monitor')
    );
    expect(hasGPUScope).toBe(url === servers.with);
    await page.close();
    return at;
  };
  await load('with'); // fill each context's cache; not measured
  await load('without');
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? (['without', 'with'] as const) : (['with', 'without'] as const);
    for (const key of order) {
      times[key].push(await load(key));
    }
  }
  const median = (values: number[]) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const withMs = median(times.with);
  const withoutMs = median(times.without);
  console.log(
    `\nJupyterLab startup to app.restored, medians of ${ROUNDS} alternating rounds (warm browser cache)\n\n` +
      '| JupyterLab | startup ms |\n|---|---|\n' +
      `| without gpuscope | ${withoutMs.toFixed(0)} |\n| with gpuscope | ${withMs.toFixed(0)} |\n\n` +
      `with / without: ${(withMs / withoutMs).toFixed(3)} (target <= 1.05)\n`
  );
});

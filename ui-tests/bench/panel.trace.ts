import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';

/**
 * Not a benchmark (make bench leaves it out): records what the browser does while the
 * GPU panel (8 replayed GPUs) updates, to find where update-cost.bench.ts's time goes.
 * Open the trace in Chromium's DevTools (Performance, "Load profile").
 *
 *   TRACE_OUT=/tmp/panel.json npx playwright test -c bench/playwright.config.js panel.trace
 *
 * TRACE_SECONDS (10): how long; TRACE_PANEL=0: panel closed; TRACE_PAUSED=1: updates
 * paused (the baseline); PROFILE_OUT=file.cpuprofile: a JavaScript CPU profile instead.
 */
test('trace', async ({ page }) => {
  test.setTimeout(5 * 60 * 1000);
  const seconds = Number(process.env.TRACE_SECONDS ?? 10);
  const run = (command: string) =>
    page.evaluate(id => (window as any).jupyterapp.commands.execute(id), command);
  await expect(page.locator('.jp-gpuscope-StatusItem')).toContainText('GPU');
  if (process.env.TRACE_PANEL !== '0') {
    await run('gpuscope:open-panel');
    await expect(page.locator('.jp-gpuscope-Card')).toHaveCount(8);
  }
  if (process.env.TRACE_PAUSED === '1') {
    await run('gpuscope:toggle-monitoring');
  }
  await page.waitForTimeout(4000); // settle
  // Galata's page is a proxy: ask the context for the real page behind it.
  const real = page.context().pages()[0];
  if (process.env.PROFILE_OUT) {
    const cdp = await page.context().newCDPSession(real);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    await page.waitForTimeout(seconds * 1000);
    const { profile } = await cdp.send('Profiler.stop');
    fs.writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));
    return;
  }
  const browser = page.context().browser()!;
  await browser.startTracing(real, {
    categories: [
      'devtools.timeline',
      'disabled-by-default-devtools.timeline',
      // Which script call made each style or layout invalidation.
      'disabled-by-default-devtools.timeline.invalidationTracking',
      'disabled-by-default-devtools.timeline.stack',
      'cc'
    ],
    path: process.env.TRACE_OUT ?? 'panel-trace.json'
  });
  await page.waitForTimeout(seconds * 1000);
  await browser.stopTracing();
});

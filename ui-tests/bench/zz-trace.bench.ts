import { expect, test } from '@jupyterlab/galata';

test('trace', async ({ page, browser }) => {
  await expect(page.locator('.jp-gpuscope-StatusItem')).toContainText('GPU');
  const real = page.context().pages()[0];
  const run = (command: string) => page.evaluate(id => (window as any).jupyterapp.commands.execute(id), command);
  if (process.env.PANEL) {
    await run('gpuscope:open-panel');
    await expect(page.locator('.jp-gpuscope-Card')).toHaveCount(8);
  }
  const capture = async () => {
    await page.waitForTimeout(2000);
    await browser.startTracing(real, { categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'] });
    await page.waitForTimeout(10000);
    const buffer = await browser.stopTracing();
    const events = JSON.parse(buffer.toString()).traceEvents as any[];
    const main = events.filter(e => e.name === 'RunTask' && e.ph === 'X');
    // main thread: the tid with most RunTask time
    const byTid = new Map<number, number>();
    main.forEach(e => byTid.set(e.tid, (byTid.get(e.tid) ?? 0) + e.dur));
    const tids = [...byTid.entries()].sort((a, b) => b[1] - a[1]);
    const byName = new Map<string, number>();
    events.filter(e => e.ph === 'X' && e.dur).forEach(e => {
      const key = `${e.tid === tids[0][0] ? 'main' : 't' + e.tid} ${e.name}`;
      byName.set(key, (byName.get(key) ?? 0) + e.dur);
    });
    return { tids: tids.slice(0, 4), byName };
  };
  await run('gpuscope:toggle-monitoring');
  const paused = await capture();
  await run('gpuscope:toggle-monitoring');
  const live = await capture();
  console.log('tids', JSON.stringify(live.tids), JSON.stringify(paused.tids));
  const names = new Set([...live.byName.keys(), ...paused.byName.keys()]);
  const rows = [...names].map(n => [n, (live.byName.get(n) ?? 0) / 1000, (paused.byName.get(n) ?? 0) / 1000] as [string, number, number]);
  rows.sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
  console.log(rows.slice(0, 30).map(([n, l, p]) => `${(l - p).toFixed(1).padStart(8)} ${l.toFixed(1).padStart(8)} ${p.toFixed(1).padStart(8)}  ${n}`).join('\n'));
});

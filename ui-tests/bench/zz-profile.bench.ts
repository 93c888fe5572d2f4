import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';

test('profile', async ({ page }) => {
  const cdp = await page.context().newCDPSession(page.context().pages()[0]);
  await expect(page.locator('.jp-gpuscope-StatusItem')).toContainText('GPU');
  if (process.env.PANEL) {
    await page.evaluate(() => (window as any).jupyterapp.commands.execute('gpuscope:open-panel'));
    await expect(page.locator('.jp-gpuscope-Card')).toHaveCount(8);
  }
  await page.waitForTimeout(3000);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
  await cdp.send('Profiler.start');
  await page.waitForTimeout(15000);
  const { profile } = await cdp.send('Profiler.stop');
  fs.writeFileSync('/tmp/prof.json', JSON.stringify(profile));
  const self = new Map<string, number>();
  const dt = profile.timeDeltas!;
  const byId = new Map(profile.nodes.map(n => [n.id, n]));
  profile.samples!.forEach((id, i) => {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0));
  });
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40);
  console.log(top.map(([k, v]) => `${(v / 1000).toFixed(1).padStart(8)} ms  ${k}`).join('\n'));
});

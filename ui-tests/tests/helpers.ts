import { expect } from '@jupyterlab/galata';

/** Run a command without waiting for it: one that opens a dialog resolves only when it closes. */
export const run = (page: any, command: string) =>
  page.evaluate((id: string) => {
    void (window as any).jupyterapp.commands.execute(id);
  }, command);

/** Open the GPU Monitor (its command) and return it once it shows. */
export async function openPanel(page: any) {
  await page.evaluate(() => (window as any).jupyterapp.commands.execute('gpuscope:open-panel'));
  const panel = page.locator('#jp-gpuscope-panel');
  await expect(panel).toBeVisible();
  return panel;
}

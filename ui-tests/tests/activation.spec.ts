import { expect, test } from '@jupyterlab/galata';

test('the frontend plugin activates and reaches the server API', async ({ page }) => {
  // The page fixture has already loaded JupyterLab; reload and watch the API call.
  const devices = page.waitForResponse(
    response =>
      response.url().includes('/gpuscope/api/devices') && response.request().method() === 'GET'
  );
  await page.reload();
  const response = await devices;
  expect(response.status()).toBe(200);
  const body = await response.json();
  expect(body.backend).toBe('replay');
  expect(body.live).toBe(false);
  expect(body.devices[0].name).toBe('NVIDIA H200');

  // Let the reloaded page settle first: evaluating mid-reload loses the promise.
  await page.waitForSelector('.jp-gpuscope-StatusItem');
  await page.waitForCondition(() =>
    page.evaluate(() => (window as any).jupyterapp.isPluginActivated('jupyterlab-gpuscope:api'))
  );
  // No error notification: the server extension answered.
  await expect(page.locator('.jp-Notification-Toast-error')).toHaveCount(0);
});

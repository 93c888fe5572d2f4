/**
 * jupyter_server's standard `?token=` authentication, as JupyterLab uses it in socket URLs
 * when `appendToken` is on (a proxy on another host, or the option set).
 */
import { expect, test } from '@jupyterlab/galata';
import { openPanel } from './helpers';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require('../playwright.config');

// The page is served through route.fulfill below, which Chromium's local network access
// checks treat as not local: they would block its sockets to localhost.
test.use({
  launchOptions: {
    ...config.use.launchOptions,
    args: [...config.use.launchOptions.args, '--disable-features=LocalNetworkAccessChecks']
  }
});

test.describe('GPU monitor with the token in socket URLs', () => {
  test('with appendToken on, the stream opens with ?token= and the monitor shows the GPU', async ({
    page
  }) => {
    // The page's configuration as JupyterLab serves it where socket URLs carry the token
    // (a proxy on another host, or `appendToken` set): the token goes into ?token=.
    await page.route(
      url => /\/lab(\/|$|\?)/.test(url.pathname),
      async route => {
        if (route.request().resourceType() !== 'document') {
          return route.continue();
        }
        const response = await route.fetch();
        const html = (await response.text()).replace(
          /(<script id="jupyter-config-data" type="application\/json">)([\s\S]*?)(<\/script>)/,
          (_: string, open: string, json: string, close: string) =>
            open +
            JSON.stringify({ ...JSON.parse(json), appendToken: 'true', token: 'galata-token' }) +
            close
        );
        await route.fulfill({ response, body: html });
      }
    );
    const sockets: string[] = [];
    page.on('websocket', (ws: any) => sockets.push(ws.url()));
    await page.reload();
    await expect(page.locator('.jp-gpuscope-StatusItem')).toHaveText(/^Replay · GPU 0/, {
      timeout: 20000
    });
    const panel = await openPanel(page);
    await expect(panel.locator('.jp-gpuscope-Panel-banner')).not.toContainText('Cannot reach');
    expect(
      sockets.filter(url => /\/gpuscope\/api\/stream\?token=galata-token$/.test(url))
    ).not.toEqual([]);
  });
});

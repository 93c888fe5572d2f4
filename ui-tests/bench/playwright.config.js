/** The UI update benchmark: `npx playwright test -c bench/playwright.config.js update-cost`
 * (and the trace helper, panel.trace.ts). */
const base = require('../playwright.config');

module.exports = {
  ...base,
  testDir: '.',
  testMatch: ['*.bench.ts', '*.trace.ts'],
  projects: [{ name: 'bench' }],
  reporter: [['list']],
  timeout: 180 * 1000,
  use: { ...base.use, baseURL: 'http://localhost:8890', viewport: { width: 1400, height: 1000 } },
  webServer: {
    command: 'jupyter lab --config jupyter_bench_config.py',
    url: 'http://localhost:8890/lab',
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};

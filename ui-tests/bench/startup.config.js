/** The startup benchmark: `npx playwright test -c bench/startup.config.js` (make bench). */
const base = require('../playwright.config');

module.exports = {
  ...base,
  testDir: '.',
  testMatch: ['startup.bench.ts'],
  projects: [{ name: 'startup' }],
  reporter: [['list']],
  timeout: 20 * 60 * 1000,
  webServer: [
    {
      command: 'GPUSCOPE_STARTUP=on jupyter lab --config jupyter_startup_config.py',
      url: 'http://localhost:8893/lab',
      timeout: 120 * 1000,
      reuseExistingServer: false
    },
    {
      command: 'GPUSCOPE_STARTUP=off jupyter lab --config jupyter_startup_config.py',
      url: 'http://localhost:8894/lab',
      timeout: 120 * 1000,
      reuseExistingServer: false
    }
  ]
};

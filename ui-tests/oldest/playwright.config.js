/**
 * The oldest supported JupyterLab (4.2) with the release wheel: plain Playwright (Galata's
 * helpers follow the newest JupyterLab). `make test-oldest` sets it up.
 */
const path = require('path');
const base = require('../playwright.config');

module.exports = {
  testDir: __dirname,
  testMatch: /oldest\.spec\.ts/,
  reporter: [['list']],
  retries: 0,
  timeout: 120 * 1000,
  use: {
    baseURL: 'http://localhost:8892',
    video: 'off',
    trace: 'off',
    launchOptions: base.use.launchOptions
  },
  webServer: {
    command: `${path.resolve(__dirname, '../../.venv-jl42/bin/jupyter')} lab --config ${path.join(__dirname, 'jupyter_server_config.py')}`,
    url: 'http://localhost:8892/lab',
    timeout: 120 * 1000,
    reuseExistingServer: false
  }
};

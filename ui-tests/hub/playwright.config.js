/**
 * The class on JupyterHub in a real browser: `make test-hub` runs it. The web server is the
 * class hub of the Python tests (JupyterHub, configurable-http-proxy, three students' servers
 * as OS accounts, Prometheus), which writes its URLs and passwords to class-hub-state.json.
 */
const path = require('path');
const base = require('../playwright.config');

const PORT = 8893;
const python = path.resolve(__dirname, '../../.venv/bin/python');
const state = path.join(__dirname, 'class-hub-state.json');

module.exports = {
  testDir: __dirname,
  testMatch: /hub\.spec\.ts/,
  reporter: [['list']],
  retries: 0,
  timeout: 180 * 1000,
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    video: 'off',
    trace: 'off',
    launchOptions: base.use.launchOptions
  },
  webServer: {
    command: `${python} -m jupyterlab_gpuscope.tests.class_hub --port ${PORT} ${state}`,
    url: `http://127.0.0.1:${PORT}/hub/api/`,
    timeout: 180 * 1000,
    reuseExistingServer: false,
    // The class hub stops JupyterHub, the servers and Prometheus on SIGTERM.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 40 * 1000 }
  }
};

/**
 * Galata configuration: JupyterLab started by `jlpm start` with the replay backend.
 * The browser is CHROMIUM_EXECUTABLE when set (the Makefile sets it to the system's
 * Chromium, for machines where Playwright cannot download its own), else Playwright's.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

module.exports = {
  ...baseConfig,
  // oldest/ has its own configuration (make test-oldest).
  testDir: './tests',
  reporter: [['list'], ['html', { open: 'never' }]],
  retries: 0,
  use: {
    ...baseConfig.use,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.CHROMIUM_EXECUTABLE || undefined,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  },
  // The shared-GPU tests need a server configured as a classroom: a second server.
  projects: [
    { name: 'default', testIgnore: /(shared-gpus|notebook7|mig)\.spec\.ts/ },
    {
      name: 'shared-gpus',
      testMatch: /shared-gpus\.spec\.ts/,
      use: { baseURL: 'http://localhost:8889' }
    },
    // MIG: the synthetic MIG trace, kernels on one instance.
    {
      name: 'mig',
      testMatch: /mig\.spec\.ts/,
      use: { baseURL: 'http://localhost:8892' }
    },
    // Jupyter Notebook 7: the same extension in Notebook's shell.
    {
      name: 'notebook7',
      testMatch: /notebook7\.spec\.ts/,
      use: { baseURL: 'http://localhost:8891' }
    }
  ],
  // Each server's log goes to ui-tests/server-logs/ (read it when a server does not start
  // or a test fails), not into the test report.
  webServer: [
    {
      command: `mkdir -p server-logs && jupyter lab --config jupyter_server_test_config.py 2> server-logs/lab-8888.log`,
      url: 'http://localhost:8888/lab',
      timeout: 120 * 1000,
      // Never test whatever else listens on the port: a busy port is an error to see.
      reuseExistingServer: false
    },
    {
      command: `mkdir -p server-logs && jupyter lab --config jupyter_server_shared_gpus_config.py 2> server-logs/shared-gpus-8889.log`,
      url: 'http://localhost:8889/lab',
      timeout: 120 * 1000,
      reuseExistingServer: false
    },
    {
      command: `mkdir -p server-logs && jupyter lab --config jupyter_server_mig_config.py 2> server-logs/mig-8892.log`,
      url: 'http://localhost:8892/lab',
      timeout: 120 * 1000,
      reuseExistingServer: false
    },
    {
      command: `mkdir -p server-logs && jupyter notebook --config jupyter_notebook7_config.py 2> server-logs/notebook7-8891.log`,
      url: 'http://localhost:8891/tree',
      timeout: 120 * 1000,
      reuseExistingServer: false
    }
  ]
};

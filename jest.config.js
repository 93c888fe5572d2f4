const jestJupyterLab = require('@jupyterlab/testutils/lib/jest-config');

// ESM packages that jest must transform (a shorter list fails with
// "SyntaxError: Unexpected token 'export'" once the plugin imports notebook and statusbar).
const esModules = [
  '@codemirror',
  '@jupyter/',
  '@jupyterlab/',
  '@lezer',
  '@marijn',
  '@microsoft',
  'color',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  collectCoverageFrom: ['src/**/*.{ts,tsx}', '!src/**/*.d.ts', '!src/**/.ipynb_checkpoints/*'],
  modulePathIgnorePatterns: [
    '<rootDir>/python/jupyterlab_gpuscope/labextension',
    '<rootDir>/ui-tests',
    '<rootDir>/.venv'
  ],
  roots: ['<rootDir>/src'],
  reporters: ['default'],
  testRegex: '/__tests__/.*\\.spec\\.tsx?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};

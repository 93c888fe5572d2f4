#!/usr/bin/env node
// The gpuscope command line (compiled from src/cli.ts into lib-cli/ by `jlpm build:cli`).
process.exitCode = require('../lib-cli/cli.js').main(process.argv.slice(2));

/**
 * The project's TypeScript, bundled for Node as the CLI is (esbuild, one file), for the
 * benchmarks: `bundle("export { analyze } from './core/lint/analyzer';", 'name')` returns the module.
 */
const path = require('path');
const os = require('os');

module.exports = function bundle(contents, name) {
  const outfile = path.join(os.tmpdir(), `gpuscope-${name}.js`);
  require('esbuild').buildSync({
    stdin: { contents, resolveDir: path.join(__dirname, '..', 'src'), loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    ignoreAnnotations: true, // cli/parser.ts is imported for its effect
    outfile,
    logLevel: 'warning'
  });
  return require(outfile);
};

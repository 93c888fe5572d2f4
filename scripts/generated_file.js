/**
 * Writes a generated source file, or with `--check` on the command line fails (exit 1)
 * when the committed file is not what its generator gives: the generators' shared tail.
 */
const fs = require('fs');
const path = require('path');

function writeOrCheck(out, code, script) {
  if (!process.argv.includes('--check')) {
    fs.writeFileSync(out, code);
    return;
  }
  const committed = fs.existsSync(out) ? fs.readFileSync(out, 'utf-8') : '';
  if (committed !== code) {
    const root = path.resolve(__dirname, '..');
    console.error(`${path.relative(root, out)} is out of date: run node ${script}`);
    process.exit(1);
  }
}

module.exports = { writeOrCheck };

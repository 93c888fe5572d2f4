/**
 * Recall and precision of the capability linter and the error explainer on corpora from
 * public material (src/core/lint/__tests__/fixtures/real-code.json: patterns from public
 * training scripts and docs; src/core/explain/__tests__/fixtures/real-errors.json: error texts
 * quoted in public issue threads, and ordinary output from the same threads).
 *
 * Linter: recall = expected findings that appear / expected findings; precision =
 * findings that were expected / all findings. Explainer: recall = texts whose first
 * explanation is the right one / texts; precision = right first explanations / all
 * explanations given (a wrong one, or one for quiet output, counts against it).
 *
 *   node bench/lint_quality.js
 */
const { analyze, profileForTarget, explainError } = require('./bundle')(
  "import './cli/parser'; export { analyze } from './core/lint/analyzer'; export { profileForTarget } from './core/profiles/targets'; export { explainError } from './core/explain/matcher';",
  'quality-bench'
);
const code = require('../src/core/lint/__tests__/fixtures/real-code.json');
const errors = require('../src/core/explain/__tests__/fixtures/real-errors.json');

function lintQuality() {
  let expected = 0;
  let hit = 0;
  let said = 0;
  const missed = [];
  const falseAlarms = [];
  for (const c of code.cases) {
    const profile = profileForTarget(c.target, c.gpus, c.torch);
    const found = analyze(c.code, profile).map(f => `${f.rule}@${f.line}`);
    const want = c.expect.map(e => `${e.rule}@${e.line}`);
    expected += want.length;
    said += found.length;
    for (const w of want) {
      if (found.includes(w)) {
        hit++;
      } else {
        missed.push(`${w} (${c.target}) ${c.source}`);
      }
    }
    for (const f of found) {
      if (!want.includes(f)) {
        falseAlarms.push(`${f} (${c.target}) ${c.note}`);
      }
    }
  }
  return {
    cases: code.cases.length,
    expected,
    hit,
    said,
    right: said - falseAlarms.length,
    missed,
    falseAlarms
  };
}

function explainQuality() {
  let right = 0;
  let given = 0;
  const wrong = [];
  for (const c of errors.explained) {
    const ids = explainError(c.text).map(e => e.id);
    given += ids.length ? 1 : 0;
    if (ids[0] === c.expect[0]) {
      right++;
    } else {
      wrong.push(`${c.expect[0]} expected, got ${ids[0] ?? 'nothing'}: ${c.source}`);
    }
  }
  for (const c of errors.quiet) {
    const ids = explainError(c.text).map(e => e.id);
    if (ids.length) {
      given++;
      wrong.push(`quiet output explained as ${ids[0]}: ${c.source}`);
    }
  }
  return { texts: errors.explained.length, quiet: errors.quiet.length, right, given, wrong };
}

const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)} %` : 'n/a');
const lint = lintQuality();
const explain = explainQuality();
console.log(
  `\nCapability linter and error explainer on public material (node ${process.version})\n`
);
console.log('| corpus | cases | recall | precision |');
console.log('|---|---|---|---|');
console.log(
  `| linter: ${lint.cases} snippets from public training code | ${lint.expected} expected findings | ${pct(lint.hit, lint.expected)} (${lint.hit}/${lint.expected}) | ${pct(lint.right, lint.said)} (${lint.right}/${lint.said}) |`
);
console.log(
  `| explainer: ${explain.texts} error texts + ${explain.quiet} quiet outputs from issue threads | ${explain.texts} texts | ${pct(explain.right, explain.texts)} (${explain.right}/${explain.texts}) | ${pct(explain.right, explain.given)} (${explain.right}/${explain.given}) |`
);
for (const [title, list] of [
  ['linter: missed', lint.missed],
  ['linter: false alarms', lint.falseAlarms],
  ['explainer: wrong or missing', explain.wrong]
]) {
  if (list.length) {
    console.log(`\n${title}:`);
    list.forEach(line => console.log(`  - ${line}`));
  }
}

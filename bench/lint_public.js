/**
 * The capability linter on material it was not written from, per target GPU:
 *   - the gates (src/core/knowledge/gates.json): each library check's example, linted where
 *     the gate refuses (the finding must sit on the setting) and where it lets it through
 *     (nothing may be said);
 *   - public scripts (bench/corpus/lint-public.json), rewritten to their GPU-relevant lines:
 *     recall of the findings a user should get, and the share of lines that should stay
 *     quiet and do, for T4, V100, A100, H100, no GPU and four A100s. Files marked held_out
 *     and held_out_2 were kept aside while rules changed; each split is reported apart.
 *
 *   node bench/lint_public.js [--details]    (--details lists what was missed or said wrongly)
 */
const { analyze, profileForTarget, gateTargets, capabilityRules } = require('./bundle')(
  "import './cli/parser'; export { analyze } from './core/lint/analyzer'; export { profileForTarget } from './core/profiles/targets'; export { gateTargets, capabilityRules } from './core/lint/gates';",
  'lint-public-bench'
);
const gates = require('../src/core/knowledge/gates.json');
const corpus = require('./corpus/lint-public.json');

const details = process.argv.includes('--details');
const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)} %` : 'n/a');

function gateQuality() {
  const capability = capabilityRules();
  let flagged = 0;
  let quiet = 0;
  const wrong = [];
  for (const gate of gates.gates) {
    const { refused, allowed } = gateTargets(gate.condition);
    const said = analyze(gate.example, refused).filter(f => f.rule === gate.rule);
    if (said.some(f => gate.example.slice(f.from, f.to) === gate.points_at)) {
      flagged++;
    } else {
      wrong.push(`${gate.id}: not flagged on ${gate.points_at} where the gate refuses`);
    }
    const noise = analyze(gate.example, allowed).filter(f => capability.has(f.rule));
    if (noise.length === 0) {
      quiet++;
    } else {
      wrong.push(`${gate.id}: ${noise.map(f => f.rule).join(', ')} where the gate allows it`);
    }
  }
  return { gates: gates.gates.length, flagged, quiet, wrong };
}

/** Recall and quiet lines for one split on one target. */
function corpusQuality(split, targetName) {
  const target = corpus.targets[targetName];
  const profile = profileForTarget(target.gpu, target.count);
  const applies = e => e.on.includes(targetName);
  let expected = 0;
  let hit = 0;
  let quietLines = 0;
  let keptQuiet = 0;
  const missed = [];
  const noisy = [];
  for (const file of corpus.files.filter(f => f.split === split)) {
    const found = analyze(file.code, profile);
    const want = file.expect.filter(applies);
    for (const e of want) {
      expected++;
      if (found.some(f => f.rule === e.rule && f.line === e.line)) {
        hit++;
      } else {
        missed.push(`${e.rule}@${e.line} ${file.source}`);
      }
    }
    const flaggedLines = new Set(found.map(f => f.line));
    const exempt = new Set([
      ...want.map(e => e.line),
      ...file.optional.filter(applies).map(o => o.line)
    ]);
    file.code.split('\n').forEach((text, i) => {
      const line = i + 1;
      if (!text.trim() || exempt.has(line)) {
        return;
      }
      quietLines++;
      if (flaggedLines.has(line)) {
        const rules = found.filter(f => f.line === line).map(f => f.rule);
        noisy.push(`${rules.join(', ')}@${line} ${file.source}`);
      } else {
        keptQuiet++;
      }
    });
  }
  return { expected, hit, quietLines, keptQuiet, missed, noisy };
}

const gate = gateQuality();
console.log(`\nCapability linter on material it was not written from (node ${process.version})\n`);
console.log('| material | flagged where refused | no capability warning where allowed |');
console.log('|---|---|---|');
console.log(
  `| ${gate.gates} library gates (gates.json) | ${pct(gate.flagged, gate.gates)} (${gate.flagged}/${gate.gates}) | ${pct(gate.quiet, gate.gates)} (${gate.quiet}/${gate.gates}) |`
);
const lists = [];
const SPLITS = {
  tune: 'tuned on',
  held_out: 'held out (now tuned on: its one blind measurement is in bench/results/lint-public.md)',
  held_out_2: 'second held-out set, gathered after those fixes, measured once'
};
for (const [split, title] of Object.entries(SPLITS)) {
  const files = corpus.files.filter(f => f.split === split).length;
  console.log(`\nPublic scripts, ${title} (${files} files)\n`);
  console.log('| target | required findings | lines kept quiet |');
  console.log('|---|---|---|');
  const total = { expected: 0, hit: 0, quietLines: 0, keptQuiet: 0 };
  for (const name of Object.keys(corpus.targets)) {
    const q = corpusQuality(split, name);
    for (const key of Object.keys(total)) {
      total[key] += q[key];
    }
    console.log(
      `| ${name} | ${pct(q.hit, q.expected)} (${q.hit}/${q.expected}) | ${pct(q.keptQuiet, q.quietLines)} (${q.keptQuiet}/${q.quietLines}) |`
    );
    lists.push([`${split}, ${name}: missed`, q.missed], [`${split}, ${name}: said`, q.noisy]);
  }
  console.log(
    `| all targets | ${pct(total.hit, total.expected)} (${total.hit}/${total.expected}) | ${pct(total.keptQuiet, total.quietLines)} (${total.keptQuiet}/${total.quietLines}) |`
  );
}
if (details) {
  for (const [title, list] of [['gates', gate.wrong], ...lists]) {
    if (list.length) {
      console.log(`\n${title}:`);
      list.forEach(line => console.log(`  - ${line}`));
    }
  }
}

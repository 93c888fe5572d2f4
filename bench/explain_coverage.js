/**
 * The error explainer against its inventory and against real texts.
 *
 * - Inventory (src/core/knowledge/errors.json over error-codes.json): every status code of
 *   the CUDA runtime, the driver API, cuBLAS, cuDNN, NCCL, cuFFT, cuSOLVER and cuSPARSE as
 *   each framework prints it, and messages collected from the code of PyTorch, CuPy, JAX,
 *   Numba, transformers, vLLM, bitsandbytes, xformers, flash-attn, Triton, Transformer
 *   Engine, the driver's log and the MPS and ROCm backends. Right: the first explanation is
 *   the entry's family.
 * - Ordinary errors from the same code bases: right when nothing is explained.
 * - Real texts from public issue threads (src/core/explain/__tests__/fixtures/real-errors.json,
 *   the corpus the rules were written against, and thread-errors.json: "tuned" texts and a
 *   "held-out" part not looked at while writing the rules), reported apart.
 *
 *   node bench/explain_coverage.js [--misses]
 */
const { explainError, inventoryMessages, ordinaryMessages } = require('./bundle')(
  "export { explainError } from './core/explain/matcher'; export { inventoryMessages, ordinaryMessages } from './core/knowledge/inventory';",
  'explain-coverage'
);
const realErrors = require('../src/core/explain/__tests__/fixtures/real-errors.json');
const threads = require('../src/core/explain/__tests__/fixtures/thread-errors.json');

const showMisses = process.argv.includes('--misses');
const pct = (a, b) => (b ? `${((100 * a) / b).toFixed(1)} %` : 'n/a');

function measure(cases) {
  const misses = [];
  let right = 0;
  for (const c of cases) {
    const ids = explainError(c.text).map(e => e.id);
    if (ids[0] === c.family) {
      right++;
    } else {
      misses.push(
        `${c.family} expected, got ${ids[0] ?? 'nothing'}: ${c.text.slice(0, 110).replace(/\n/g, ' ')}`
      );
    }
  }
  return { right, total: cases.length, misses };
}

function quiet(cases) {
  const loud = cases.filter(c => explainError(c.text).length);
  return { right: cases.length - loud.length, total: cases.length, loud };
}

function table(title, groups) {
  console.log(`\n${title}\n`);
  console.log('| group | right | recall |');
  console.log('|---|---|---|');
  for (const [name, cases] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const m = measure(cases);
    console.log(`| ${name} | ${m.right}/${m.total} | ${pct(m.right, m.total)} |`);
  }
}

function groupBy(cases, key) {
  const groups = new Map();
  for (const c of cases) {
    groups.set(key(c), [...(groups.get(key(c)) ?? []), c]);
  }
  return groups;
}

const inventory = inventoryMessages();
const all = measure(inventory);
const ordinary = quiet(ordinaryMessages());
const real = realErrors.explained.map(c => ({
  family: c.expect[0],
  text: c.text,
  source: c.source
}));
const realQuiet = quiet([...realErrors.quiet, ...threads.quiet]);
const threadSet = name => threads.explained.filter(c => c.set === name);
const tuned = threadSet('tuned');
const heldOut = threadSet('held-out');
const heldOut2 = threadSet('held-out-2');

console.log(`\nError explainer coverage (node ${process.version})\n`);
console.log('| material | right | share |');
console.log('|---|---|---|');
console.log(
  `| inventory: every message, as each library prints it | ${all.right}/${all.total} | ${pct(all.right, all.total)} |`
);
console.log(
  `| ordinary errors from the same code bases, kept quiet | ${ordinary.right}/${ordinary.total} | ${pct(ordinary.right, ordinary.total)} |`
);
for (const [name, cases] of [
  ['real texts the rules were written against (real-errors.json)', real],
  ['real texts from other threads, tuned on (thread-errors.json)', tuned],
  ['real texts from other threads, held out, seen after measuring (thread-errors.json)', heldOut],
  [
    'real texts from other threads, second held-out set, never tuned on (thread-errors.json)',
    heldOut2
  ]
]) {
  const m = measure(cases);
  console.log(`| ${name} | ${m.right}/${m.total} | ${pct(m.right, m.total)} |`);
}
console.log(
  `| ordinary output from those threads, kept quiet | ${realQuiet.right}/${realQuiet.total} | ${pct(realQuiet.right, realQuiet.total)} |`
);

table(
  'Inventory by library (who prints it)',
  groupBy(inventory, c => c.library.replace(/ via .*/, ''))
);
table(
  'Inventory by family',
  groupBy(inventory, c => c.family)
);

if (showMisses) {
  for (const [title, list] of [
    ['inventory misses', all.misses],
    ['ordinary errors explained', ordinary.loud.map(c => c.text.slice(0, 110))],
    ['real texts missed', measure(real).misses],
    ['thread texts missed (tuned)', measure(tuned).misses],
    ['thread texts missed (held out)', measure(heldOut).misses],
    ['thread texts missed (second held-out set)', measure(heldOut2).misses],
    ['thread output explained', realQuiet.loud.map(c => c.text.slice(0, 110))]
  ]) {
    if (list.length) {
      console.log(`\n${title}:`);
      list.forEach(line => console.log(`  - ${line}`));
    }
  }
}

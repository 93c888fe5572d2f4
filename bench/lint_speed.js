/**
 * Capability linter speed: a full lint of a 500-cell notebook, and re-linting one edited
 * cell (what the editor does on a keystroke, imports already known). Targets: under 50 ms
 * for the notebook, under 1 ms median for one cell.
 *
 *   jlpm build:cli && node bench/lint_speed.js
 */
require('../lib-cli/lint/node.js');
const { lintFile } = require('../lib-cli/lint/files.js');
const { analyze, collectImports } = require('../lib-cli/lint/analyzer.js');
const { resolveTarget } = require('../lib-cli/knowledge/index.js');

const CELLS = [
  'import torch\nimport torch.nn as nn\nfrom torch.nn.attention import sdpa_kernel, SDPBackend',
  'model = nn.Sequential(nn.Linear(1024, 4096), nn.GELU(), nn.Linear(4096, 1024)).cuda()\nopt = torch.optim.AdamW(model.parameters(), lr=3e-4)',
  'for step, (x, y) in enumerate(loader):\n    x, y = x.to("cuda"), y.to("cuda")\n    with torch.autocast("cuda", dtype=torch.bfloat16):\n        loss = nn.functional.mse_loss(model(x), y)\n    loss.backward()\n    opt.step()\n    opt.zero_grad(set_to_none=True)',
  'with sdpa_kernel(SDPBackend.FLASH_ATTENTION):\n    out = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)',
  '%timeit model(x)\nprint(torch.cuda.max_memory_allocated() / 2**30)',
  'def evaluate(model, data):\n    model.eval()\n    total = 0.0\n    with torch.no_grad():\n        for x, y in data:\n            total += (model(x.cuda()) - y.cuda()).pow(2).mean().item()\n    return total / len(data)'
];

function notebook(cells) {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: Array.from({ length: cells }, (_, i) => ({
      cell_type: i % 10 === 9 ? 'markdown' : 'code',
      metadata: {},
      source: i % 10 === 9 ? '## notes' : CELLS[i % CELLS.length],
      outputs: [],
      execution_count: null
    }))
  });
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const t4 = resolveTarget('T4');
const profile = { source: 'target', hasGpu: true, cc: t4.cc, name: 'T4', deviceCount: 1 };
const text = notebook(500);

// Warm up the JIT as an editor session would be warm.
for (let i = 0; i < 30; i++) lintFile('warm.ipynb', text, profile);

const full = [];
let findings = 0;
for (let i = 0; i < 20; i++) {
  const started = process.hrtime.bigint();
  findings = lintFile('bench.ipynb', text, profile).length;
  full.push(Number(process.hrtime.bigint() - started) / 1e6);
}

const imports = collectImports(CELLS[0]);
const one = [];
for (let i = 0; i < 2000; i++) {
  const edited = CELLS[2] + `\n# edit ${i}`;
  const started = process.hrtime.bigint();
  analyze(edited, profile, { imports });
  one.push(Number(process.hrtime.bigint() - started) / 1e6);
}

console.log(`\nCapability linter speed (node ${process.version}, target T4, ${findings} findings in the notebook)\n`);
console.log('| measurement                                  | median ms | min ms | target ms |');
console.log('|----------------------------------------------|-----------|--------|-----------|');
console.log(`| full lint, 500-cell notebook (20 runs)       | ${median(full).toFixed(2).padStart(9)} | ${Math.min(...full).toFixed(2).padStart(6)} | ${'50'.padStart(9)} |`);
console.log(`| re-lint one edited 7-line cell (2000 edits)  | ${median(one).toFixed(3).padStart(9)} | ${Math.min(...one).toFixed(3).padStart(6)} | ${'1'.padStart(9)} |`);

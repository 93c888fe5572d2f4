/**
 * The capability analyzer: Python source -> Lezer tree -> uses of GPU features ->
 * findings for a device profile, by the rules in the knowledge base. Never throws.
 */
import type { Parser, SyntaxNode, Tree } from '@lezer/common';

import { ccValue, feature, lintRules, sources, ILintRule, ISource } from '../knowledge';

/** What the code will run on: the kernel's GPU, the server's, or a chosen target. */
export interface IDeviceProfile {
  /** Where it comes from, for messages: "kernel", "server", "target". */
  source: string;
  /** False when the kernel is known to have no usable GPU. */
  hasGPU: boolean;
  /** Why there is no GPU, when hasGPU is false. */
  noGPUReason?: string;
  /** Compute capability of the GPU code runs on ("7.5"), null when unknown. */
  cc: string | null;
  name: string | null;
  deviceCount: number;
  /** The kernel's torch version string ("2.11.0+cu130"), when known. */
  torch?: string | null;
  /** The kernel's NVIDIA driver and the newest CUDA it supports, when probed. */
  driverVersion?: string | null;
  driverCuda?: string | null;
  /** The kernel's wheel platform ("linux-x86_64"), when probed. */
  platform?: string | null;
  /** The CUDA version torch was built for ("13.0"), read from torch/version.py; null for a CPU build. */
  torchCuda?: string | null;
  /** True for GPUs from a recording (the replay backend): never taken for this machine's. */
  recorded?: boolean;
  /** The memory of the GPU code runs on (bytes): a MIG slice's own, not its parent's. */
  memoryTotal?: number | null;
  /** The MIG instance code runs on, when CUDA_VISIBLE_DEVICES names one. */
  mig?: { uuid: string; name: string | null } | null;
  /** The kernel's CUDA_VISIBLE_DEVICES as set (null: unset), when probed. */
  visibleDevices?: string | null;
}

export type LintSeverity = 'error' | 'warning' | 'info';

export interface ILintFinding {
  rule: string;
  severity: LintSeverity;
  message: string;
  fix: string;
  /** Offsets into the analysed source, and 1-based line / column of `from`. */
  from: number;
  to: number;
  line: number;
  column: number;
  sources: ISource[];
}

export interface IAnalyzeOptions {
  /** Names imported elsewhere in the notebook (alias -> dotted path). */
  imports?: Map<string, string>;
  /** Names bound elsewhere in the notebook to a CUDA device string (or null: to something else). */
  deviceNames?: Map<string, string | null>;
  /** Names bound elsewhere in the notebook to a literal (`BF16 = True`), as written. */
  literals?: Map<string, string>;
  /** Rule ids turned off in the settings. */
  disabled?: Set<string>;
}

/** A use of something the rules care about, found in the tree. */
interface IUse {
  kind:
    'symbol' | 'call' | 'import' | 'assign' | 'kwarg' | 'cuda_use' | 'device_index' | 'dict_entry';
  /** Dotted path, module name, keyword name; for device_index the index. */
  key: string;
  value?: string;
  /** A call's arguments (source text; a name bound to a literal earlier in the cell reads
   * as that literal), and where each one is written. */
  args?: IArgs;
  from: number;
  to: number;
  /** For a use through a name: where the name got its value (guards apply there too). */
  boundAt?: number;
}

interface ISpan {
  from: number;
  to: number;
}

interface IArgs {
  positional: string[];
  keywords: Map<string, string>;
  /** Where each argument is: a finding about one points at it, not at the whole call. */
  positionalSpans: ISpan[];
  keywordSpans: Map<string, ISpan>;
}

/**
 * What a guard around code checks: that a GPU is there ("availability":
 * `torch.cuda.is_available()`, `use_cuda`, `device.type == "cuda"`, a device count), or
 * what it can do ("capability": `is_bf16_supported()`, `get_device_capability()`).
 */
/**
 * Also: 'choice', a branch picked by the user's own setting (`if args.bf16:`,
 * `torch.bfloat16 if use_bf16 else torch.float16`): the finding belongs where that setting
 * is made, not here; 'elsewhere', a branch for another accelerator (`if
 * torch.xpu.is_available():`), where no CUDA rule applies.
 */
type Guard = 'availability' | 'capability' | 'count' | 'choice' | 'elsewhere';

const GUARDS: [Guard, RegExp][] = [
  [
    'capability',
    /is_bf16_supported|get_device_capability|get_device_properties|compute_capability|\bcapability\b|\bsm_?\d{2,3}\b|\.major\b/
  ],
  [
    'availability',
    /\.is_available\(|device_count\(|\b(use_cuda|use_gpu|cuda|gpu|has_cuda|has_gpu|cuda_available|gpu_available|on_gpu|is_cuda)\b|(device|device_type|\.type)\s*(==|!=)\s*['"]cuda['"]|['"]cuda['"]\s*(==|!=|in)\b/
  ],
  // How many processes or GPUs take part: code for several runs only where there are.
  [
    'count',
    /\b(world_size|WORLD_SIZE|local_world_size|n_?gpus?|num_gpus|ngpus|gpu_count|is_distributed|distributed|ddp)\b|get_world_size\(|device_count\(\)\s*>/
  ]
];

/** Source ranges under a guard, by what the guard checks. */
interface IGuarded {
  from: number;
  to: number;
  guard: Guard;
  /** For 'choice': the condition's text, which names what is chosen. */
  said?: string;
}

/** Another accelerator's availability or device type in a condition. */
const ELSEWHERE = /\b(xpu|mps|npu|hpu|tpu|xla|mlu|musa)\b/i;

/** The words a condition uses for a feature a rule is about (`args.bf16`, `use_flash_attn`). */
const FEATURE_WORDS: Record<string, RegExp> = {
  bf16: /bf16|bfloat16/i,
  tf32: /tf32/i,
  fp8_scaled_mm: /fp8|float8/i,
  te_fp8: /fp8|float8/i,
  fp8_block: /fp8|float8/i,
  mxfp8: /fp8|mxfp8/i,
  nvfp4: /fp4/i,
  nvfp4_partial: /fp4/i,
  fp4: /fp4/i,
  flash_attn_fa2: /flash/i,
  flash_attn_fa3: /flash/i,
  flash_attn_fa4: /flash/i,
  sdpa_flash: /flash/i,
  torch_compile: /compile/i,
  int8_bnb: /8bit|int8|bits|quant/i,
  vllm_awq: /awq|quant/i,
  vllm_bitsandbytes: /bnb|bitsandbytes|quant/i
};

const DEFAULT_IMPORTS = new Map([['torch', 'torch']]);

// Lines IPython handles before Python: magics, shell escapes, help.
const IPYTHON_LINE = /^\s*(%|!|\?)|\?\s*$/;
// Cell magics whose body is still Python.
const PYTHON_CELL_MAGICS = /^%%(time|timeit|capture|prun)\b/;
const CUDA_DEVICE = /^cuda(:(\d+))?$/;

/** Blank out what is not Python, keeping every offset where it was. */
export function pythonOnly(source: string): string | null {
  if (source.startsWith('%%') && !PYTHON_CELL_MAGICS.test(source)) {
    return null; // %%bash, %%html...: not Python at all
  }
  return source
    .split('\n')
    .map((line, i) =>
      IPYTHON_LINE.test(line) || (i === 0 && line.startsWith('%%')) ? ' '.repeat(line.length) : line
    )
    .join('\n');
}

/** Aliases defined by the imports in a source: `import torch as t` -> t: torch. */
export function collectImports(source: string): Map<string, string> {
  const imports = new Map<string, string>();
  const python = safePython(source);
  if (python === null) {
    return imports;
  }
  const tree = parse(python);
  return tree ? importsFromTree(tree, python) : imports;
}

function importsFromTree(tree: Tree, python: string): Map<string, string> {
  const imports = new Map<string, string>();
  // Imports are statements: only the top level and blocks need visiting, but a plain
  // walk is simple and the cursor does not recurse.
  const cursor = tree.cursor();
  do {
    if (cursor.name === 'ImportStatement') {
      addImport(cursor.node, python, imports);
    }
  } while (cursor.next());
  return imports;
}

/**
 * The top-level names a source binds to a CUDA device string (`device = "cuda:1"`,
 * `dev = torch.device("cuda")`), or to something else (null), for the other cells of a
 * notebook. Only top-level assignment lines are parsed; a guarded or computed value is null.
 */
export function collectDeviceNames(source: string): Map<string, string | null> {
  const names = new Map<string, string | null>();
  const lines = source
    .split('\n')
    .filter(line => /^[A-Za-z_]\w*\s*=[^=]/.test(line))
    .join('\n');
  const tree = lines ? parse(lines) : null;
  for (let node = tree?.topNode.firstChild ?? null; node; node = node.nextSibling) {
    const target = node.name === 'AssignStatement' ? node.firstChild : null;
    if (
      target?.name === 'VariableName' &&
      target.nextSibling?.name === 'AssignOp' &&
      node.lastChild
    ) {
      names.set(lines.slice(target.from, target.to), cudaLiteralIn(node.lastChild, lines));
    }
  }
  return names;
}

const LITERAL_LINE = /^[A-Za-z_]\w*\s*=\s*(True|False|None|[-+]?[\d.]|[rRbBuU]?['"])/;

/**
 * The top-level names a source binds to a literal (`BF16 = True`, `ATTN = "sdpa"`), for
 * the other cells of a notebook; a name bound to anything else is left out.
 */
export function collectLiterals(source: string): Map<string, string> {
  const names = new Map<string, string>();
  // Only lines that look like `NAME = literal` are parsed: most assignments are not.
  const lines = source
    .split('\n')
    .filter(line => LITERAL_LINE.test(line))
    .join('\n');
  const tree = lines ? parse(lines) : null;
  for (let node = tree?.topNode.firstChild ?? null; node; node = node.nextSibling) {
    const target = node.name === 'AssignStatement' ? node.firstChild : null;
    const value = node.lastChild;
    if (target?.name === 'VariableName' && target.nextSibling?.name === 'AssignOp' && value) {
      if (LITERALS.has(value.name)) {
        names.set(lines.slice(target.from, target.to), lines.slice(value.from, value.to));
      }
    }
  }
  return names;
}

/** Findings for one cell (or file) against a device profile. */
export function analyze(
  source: string,
  profile: IDeviceProfile,
  options: IAnalyzeOptions = {}
): ILintFinding[] {
  try {
    return analyzeStrict(source, profile, options);
  } catch {
    return []; // a linter must never break the editor
  }
}

/** The analysis itself, without analyze()'s safety net: the fuzz tests call this, so a
 * throw is seen instead of hidden as "no findings". */
export function analyzeStrict(
  source: string,
  profile: IDeviceProfile,
  options: IAnalyzeOptions
): ILintFinding[] {
  const python = safePython(source);
  if (python === null) {
    return [];
  }
  const tree = parse(python);
  if (!tree) {
    return [];
  }
  // Most cells import nothing: skip the second walk over their tree.
  const own = python.includes('import') ? importsFromTree(tree, python) : new Map<string, string>();
  // `torch` means torch unless imported otherwise; copy the notebook's imports only when
  // this cell adds to them.
  const base = options.imports ?? DEFAULT_IMPORTS;
  const imports =
    own.size || !base.has('torch') ? new Map([['torch', 'torch'], ...base, ...own]) : base;
  // Only uses some rule can match: on large cells most names are irrelevant.
  const found = findUses(tree, python, imports, options.deviceNames, options.literals);
  const uses = found.uses.filter(isWatched);
  if (!uses.length) {
    return [];
  }
  const ignored = ignoredLines(python);
  const findings: ILintFinding[] = [];
  const lineStarts = lineOffsets(python);
  const contexts = contextsFor(profile);
  for (const rule of lintRules()) {
    if (options.disabled?.has(rule.id)) {
      continue;
    }
    const context = contexts.get(rule.id);
    if (!context) {
      continue;
    }
    for (const use of uses) {
      const extra = matches(rule, use, profile);
      if (!extra || isGuarded(rule, use, found.guarded)) {
        continue;
      }
      const at = argumentOf(rule, use, extra) ?? use;
      const { line, column } = position(lineStarts, at.from);
      const ignore = ignored.get(line);
      if (ignore && (ignore.size === 0 || ignore.has(rule.id))) {
        continue;
      }
      const words = { ...context, ...extra };
      // A value written away from the call that uses it: say where it is used.
      const usedAt =
        at.from < use.from || at.to > use.to
          ? ` Used on line ${position(lineStarts, use.from).line}.`
          : '';
      findings.push({
        rule: rule.id,
        severity: rule.severity as LintSeverity,
        message: fill(rule.message, words) + usedAt,
        fix: fill(rule.fix, words),
        from: at.from,
        to: at.to,
        line,
        column,
        sources: sources(rule.source)
      });
    }
  }
  return dedupe(findings).sort((a, b) => a.from - b.from || a.rule.localeCompare(b.rule));
}

/**
 * The argument a call's finding is about (`bf16=True` in `TrainingArguments(...)`), where
 * the squiggle belongs and what the user must change; null when it is the whole call.
 */
function argumentOf(rule: ILintRule, use: IUse, extra: Record<string, string>): ISpan | null {
  if (use.kind !== 'call' || !use.args) {
    return null;
  }
  const keyword = extra.keyword ?? rule.match.call_arg?.keyword;
  const named = keyword ? use.args.keywordSpans.get(keyword) : undefined;
  if (named) {
    return named;
  }
  const position = rule.match.call_arg?.position;
  return position !== undefined ? (use.args.positionalSpans[position] ?? null) : null;
}

/**
 * Whether a guard around the use (or around where its name got its value) already
 * checks what the rule is about: a GPU check covers "no GPU" and device-index rules, a
 * capability check covers those and the feature rules.
 */
function isGuarded(rule: ILintRule, use: IUse, guarded: IGuarded[]): boolean {
  if (!guarded.length) {
    return false;
  }
  const enough: Guard[] =
    rule.when.gpus_at_most !== undefined
      ? ['count']
      : rule.when.no_gpu || rule.when.index_beyond_count
        ? ['availability', 'capability']
        : ['capability'];
  if (
    !rule.when.no_gpu &&
    !rule.when.index_beyond_count &&
    !rule.when.below &&
    !rule.when.outside &&
    !rule.when.inside &&
    rule.when.gpus_at_most === undefined
  ) {
    return false; // deprecations and the like: a guard changes nothing
  }
  const feature = rule.when.below ?? rule.when.outside ?? rule.when.inside;
  const words = feature ? FEATURE_WORDS[feature] : undefined;
  const covers = (g: IGuarded) =>
    enough.includes(g.guard) ||
    g.guard === 'elsewhere' ||
    (g.guard === 'choice' && !!words && words.test(g.said ?? ''));
  const inside = (at: number, end: number) =>
    guarded.some(g => covers(g) && g.from <= at && end <= g.to);
  return (
    inside(use.from, use.to) || (use.boundAt !== undefined && inside(use.boundAt, use.boundAt + 1))
  );
}

// ---- the rules' conditions on the profile -----------------------------------------------

const contextCache = new WeakMap<IDeviceProfile, Map<string, Record<string, string> | null>>();

/** Which rules apply to a profile, with their words: worked out once per profile. */
function contextsFor(profile: IDeviceProfile): Map<string, Record<string, string> | null> {
  let contexts = contextCache.get(profile);
  if (!contexts) {
    contexts = new Map(lintRules().map(rule => [rule.id, applies(rule, profile)]));
    contextCache.set(profile, contexts);
  }
  return contexts;
}

/** The words a rule's message needs, or null when the rule does not apply here. */
function applies(rule: ILintRule, profile: IDeviceProfile): Record<string, string> | null {
  const when = rule.when;
  const gpu = profile.name ?? 'this GPU';
  const count = String(profile.deviceCount);
  const base = {
    gpu,
    cc: profile.cc ?? 'unknown',
    count,
    last: String(Math.max(profile.deviceCount - 1, 0))
  };
  if (when.always) {
    return base;
  }
  if (when.no_gpu) {
    return profile.hasGPU ? null : { ...base, why: profile.noGPUReason ?? 'none was found' };
  }
  if (when.index_beyond_count) {
    // Without a GPU, "no GPU" says it all: every index is out of range then.
    return profile.hasGPU ? base : null;
  }
  if (when.gpus_at_most !== undefined) {
    return profile.hasGPU && profile.deviceCount <= when.gpus_at_most ? base : null;
  }
  if (when.gpus_at_least !== undefined) {
    return profile.hasGPU && profile.deviceCount >= when.gpus_at_least ? base : null;
  }
  const id = (when.below ?? when.outside ?? when.inside) as
    Parameters<typeof feature>[0] | undefined;
  if (!id || !profile.hasGPU || !profile.cc) {
    return null;
  }
  const f = feature(id);
  const cc = ccValue(profile.cc);
  if (when.inside !== undefined) {
    const within = (!f.min_cc || cc >= ccValue(f.min_cc)) && (!f.max_cc || cc <= ccValue(f.max_cc));
    return within ? { ...base, min_cc: f.min_cc ?? '', max_cc: f.max_cc ?? '' } : null;
  }
  const below = f.min_cc !== undefined && cc < ccValue(f.min_cc);
  const above = when.outside !== undefined && f.max_cc !== undefined && cc > ccValue(f.max_cc);
  if (!below && !above) {
    return null;
  }
  return { ...base, min_cc: f.min_cc ?? '', max_cc: f.max_cc ?? '' };
}

/** Extra words when a use matches a rule, or null. */
function matches(
  rule: ILintRule,
  use: IUse,
  profile: IDeviceProfile
): Record<string, string> | null {
  const m = rule.match;
  switch (use.kind) {
    case 'symbol':
      return m.symbol?.includes(use.key) ? {} : null;
    case 'import':
      return m.import?.some(mod => use.key === mod || use.key.startsWith(mod + '.')) ? {} : null;
    case 'assign':
      return m.assign?.includes(use.key) && use.value === 'True' ? {} : null;
    case 'kwarg':
      return m.kwarg && m.kwarg[use.key] === use.value ? {} : null;
    case 'cuda_use':
      return m.cuda_use ? {} : null;
    case 'device_index': {
      const index = Number(use.key);
      return m.device_index && index >= profile.deviceCount ? { index: use.key } : null;
    }
    case 'dict_entry':
      return m.dict_entry &&
        m.dict_entry.key === use.key &&
        new RegExp(m.dict_entry.value).test(use.value ?? '')
        ? {}
        : null;
    case 'call': {
      if (m.call?.includes(use.key)) {
        return {};
      }
      for (const spec of m.call_kwarg ?? []) {
        const keywords = use.args?.keywords;
        const given = keywords?.get(spec.keyword);
        if (given === undefined || !spec.callee.some(c => calleeMatches(c, use.key))) {
          continue;
        }
        const overruled = spec.unless?.some(u => {
          const other = keywords!.get(u.keyword);
          return other !== undefined && u.values.some(v => sameLiteral(v, other));
        });
        const hit = spec.above_count
          ? /^\d+$/.test(given.trim()) && Number(given) > profile.deviceCount
          : (spec.values ?? []).some(v => sameLiteral(v, given));
        if (hit && !overruled) {
          return { keyword: spec.keyword, value: given.trim() };
        }
      }
      const spec = m.call_arg;
      if (spec && spec.path === use.key && use.args) {
        const given = use.args.keywords.get(spec.keyword) ?? use.args.positional[spec.position];
        return given !== undefined && stringValue(given) === spec.value ? {} : null;
      }
      return null;
    }
  }
}

let watched: Map<IUse['kind'], Set<string>> | null = null;
let wildcardCalls = false;

/** `transformers.*.from_pretrained` matches `transformers.AutoModel.from_pretrained`. */
function calleeMatches(pattern: string, path: string): boolean {
  if (!pattern.includes('*')) {
    return pattern === path;
  }
  const parts = pattern.split('.');
  const actual = path.split('.');
  return parts.length === actual.length && parts.every((p, i) => p === '*' || p === actual[i]);
}

/** A literal as the rule writes it against one in the code: strings by value. */
function sameLiteral(expected: string, given: string): boolean {
  const a = stringValue(expected);
  return a !== null ? stringValue(given) === a : expected === given.trim();
}

/** Whether any rule looks at this use (the keys are read from the rules once). */
function isWatched(use: IUse): boolean {
  if (!watched) {
    watched = new Map();
    const add = (kind: IUse['kind'], keys: string[]) =>
      keys.forEach(k => (watched!.get(kind) ?? watched!.set(kind, new Set()).get(kind)!).add(k));
    for (const { match } of lintRules()) {
      add('symbol', match.symbol ?? []);
      add('call', [...(match.call ?? []), ...(match.call_arg ? [match.call_arg.path] : [])]);
      add('assign', match.assign ?? []);
      add('kwarg', Object.keys(match.kwarg ?? {}));
      add('dict_entry', match.dict_entry ? [match.dict_entry.key] : []);
      if (match.call_kwarg?.length) {
        wildcardCalls = true;
      }
    }
  }
  if (use.kind === 'import' || use.kind === 'cuda_use' || use.kind === 'device_index') {
    return true;
  }
  if (use.kind === 'call' && wildcardCalls && use.args?.keywords.size) {
    return true; // matched by callee pattern in matches()
  }
  if (use.kind === 'call' && (use.key === 'torch.cuda.set_device' || use.key === 'torch.device')) {
    return true;
  }
  return watched.get(use.kind)?.has(use.key) ?? false;
}

// ---- finding uses in the tree -------------------------------------------------------------

function findUses(
  tree: Tree,
  source: string,
  imports: Map<string, string>,
  deviceNames?: Map<string, string | null>,
  notebookLiterals?: Map<string, string>
): { uses: IUse[]; guarded: IGuarded[] } {
  const uses: IUse[] = [];
  const guarded: IGuarded[] = [];
  // Names bound to a CUDA device string (`device = "cuda:1"`), in source order; the other
  // cells' bindings come first (before this cell's first line).
  const bindings = new Map<string, { at: number; value: string | null }[]>();
  deviceNames?.forEach((value, name) => bindings.set(name, [{ at: -1, value }]));
  // Names bound to a literal so far (`BF16 = True`): an argument that names one reads as
  // it, and a finding about it points where it is written (other cells: the argument).
  const literals = new Map<string, IKnownValue>();
  notebookLiterals?.forEach((value, name) => literals.set(name, { value, span: null }));
  // Names bound to what a guard checks (`major, _ = torch.cuda.get_device_capability()`):
  // a condition on them (`if major >= 9:`) is that guard.
  const guardNames = new Map<string, Guard[]>();
  // Settings gathered under a name before a call: a dict (`kw = dict(bf16=True)`,
  // `kw["attn_implementation"] = "flash_attention_2"`) for `f(**kw)`, and the attributes of
  // a simple config object (a namespace, a class's defaults, argparse's defaults) for
  // `f(bf16=cfg.bf16)`.
  const kwargDicts = new Map<string, KeywordValues>();
  // argparse parsers: the defaults their options were given, by destination.
  const parsers = new Map<string, KeywordValues>();
  const text = (n: SyntaxNode) => source.slice(n.from, n.to);
  const cursor = tree.cursor();
  do {
    // cursor.node allocates: only the node types below need it.
    switch (cursor.name) {
      case 'IfStatement':
      case 'ConditionalExpression':
        addGuards(cursor.node, source, guarded, guardNames);
        break;
      case 'AssertStatement': {
        // `assert torch.cuda.is_available()`: what follows in the block runs only if it held.
        const node = cursor.node;
        for (const guard of guardsIn(text(node), guardNames)) {
          guarded.push({ from: node.to, to: node.parent?.to ?? source.length, guard });
        }
        break;
      }
      case 'ImportStatement': {
        const node = cursor.node;
        for (const module of importedModules(node, source)) {
          uses.push({ kind: 'import', key: module, from: node.from, to: node.to });
        }
        break;
      }
      case 'MemberExpression':
      case 'VariableName': {
        const node = cursor.node;
        // Only the outermost name of a chain: `torch.cuda.amp.autocast`, then its prefixes
        // are MemberExpressions of their own and are visited too.
        if (cursor.name === 'VariableName' && isDefinition(node)) {
          break;
        }
        const path = resolve(node, source, imports);
        if (path && (isChosenAtRunTime(node, source) || isStorageSetting(node, source))) {
          break; // picked by a run-time key, or a storage format: not computed in
        }
        if (path) {
          uses.push({ kind: 'symbol', key: path, from: node.from, to: node.to });
        } else if (cursor.name === 'VariableName' && isDeviceArgument(node, source)) {
          deviceUses(node, bindings.get(text(node)), uses);
        }
        break;
      }
      case 'CallExpression': {
        const node = cursor.node;
        callUses(node, source, imports, uses, { literals, kwargDicts });
        addParserOption(node, source, parsers, { literals, kwargDicts });
        break;
      }
      case 'ClassDefinition': {
        // `class Config: bf16 = True`: its instances start with these attributes.
        const node = cursor.node;
        const name = node.getChild('VariableName');
        const body = node.getChild('Body');
        if (name && body) {
          kwargDicts.set(text(name), classDefaults(body, source, { literals, kwargDicts }));
        }
        break;
      }
      case 'AssignStatement': {
        const node = cursor.node;
        const target = node.firstChild;
        const value = node.lastChild;
        if (target && value && target !== value) {
          const path = resolve(target, source, imports);
          if (path) {
            uses.push({
              kind: 'assign',
              key: path,
              value: text(value),
              from: node.from,
              to: node.to
            });
          }
          const checks = guardsIn(text(value), guardNames);
          for (let t: SyntaxNode | null = target; t && t.name !== 'AssignOp'; t = t.nextSibling) {
            if (t.name === 'VariableName') {
              if (checks.length) {
                guardNames.set(text(t), checks);
              } else {
                guardNames.delete(text(t));
              }
            }
          }
          // `args, _ = parser.parse_known_args()` binds its first name to the options too.
          const first = target.name === 'VariableName' ? text(target) : null;
          const parsed = first ? parsedOptions(value, source, parsers) : null;
          if (parsed) {
            kwargDicts.set(first!, new Map(parsed));
          } else if (target.name === 'VariableName' && target.nextSibling?.name === 'AssignOp') {
            const gathered = keywordsIn(value, source, { literals, kwargDicts });
            if (gathered) {
              kwargDicts.set(text(target), gathered);
            } else {
              kwargDicts.delete(text(target));
            }
          }
          const entry = memberTarget(target, source);
          if (entry && target.nextSibling?.name === 'AssignOp') {
            // `kw["attn_implementation"] = "flash_attention_2"`, `cfg.bf16 = True`: one
            // more setting under that name.
            const dict = kwargDicts.get(entry.name) ?? new Map();
            dict.set(entry.key, {
              value: valueOf(value, source, { literals, kwargDicts }).value,
              span: { from: node.from, to: node.to }
            });
            kwargDicts.set(entry.name, dict);
          }
          if (target.name === 'VariableName' && target.nextSibling?.name === 'AssignOp') {
            const name = text(target);
            if (LITERALS.has(value.name)) {
              literals.set(name, { value: text(value), span: { from: node.from, to: node.to } });
            } else {
              literals.delete(name);
            }
            (bindings.get(name) ?? bindings.set(name, []).get(name)!).push({
              at: node.from,
              value: cudaLiteralIn(value, source)
            });
          }
        }
        break;
      }
      case 'FormatString': {
        // f"cuda:{rank}": CUDA, on a device known only at run time.
        const node = cursor.node;
        if (/^[fF][rR]?['"]cuda\b/.test(text(node)) && isDeviceArgument(node, source)) {
          uses.push({ kind: 'cuda_use', key: 'cuda', from: node.from, to: node.to });
        }
        break;
      }
      case 'String': {
        const node = cursor.node;
        const value = stringValue(text(node));
        if (value === null) {
          break;
        }
        const match = CUDA_DEVICE.exec(value);
        if (match && isDeviceArgument(node, source)) {
          uses.push({ kind: 'cuda_use', key: 'cuda', from: node.from, to: node.to });
          if (match[2] !== undefined) {
            uses.push({ kind: 'device_index', key: match[2], from: node.from, to: node.to });
          }
        } else if (node.parent?.name === 'DictionaryExpression' && node.nextSibling?.name === ':') {
          const entry = node.nextSibling.nextSibling;
          if (entry) {
            uses.push({
              kind: 'dict_entry',
              key: value,
              value: text(entry),
              from: node.from,
              to: entry.to
            });
          }
        }
        break;
      }
    }
  } while (cursor.next());
  return { uses, guarded };
}

/**
 * The branches an `if` chain or a conditional expression guards, when one of its
 * conditions checks for a GPU or what it can do: code there does what its guard says.
 */
function addGuards(
  node: SyntaxNode,
  source: string,
  guarded: IGuarded[],
  guardNames: Map<string, Guard[]>
): void {
  const conditions: SyntaxNode[] = [];
  const branches: SyntaxNode[] = [];
  for (let child = node.firstChild; child; child = child.nextSibling) {
    if ((child.name === 'if' || child.name === 'elif') && child.nextSibling) {
      conditions.push(child.nextSibling);
    } else if (child.name === 'Body') {
      branches.push(child);
    }
  }
  if (node.name === 'ConditionalExpression') {
    // `A if COND else B`: A is the first child, B the last.
    branches.push(node.firstChild!, node.lastChild!);
  }
  const said = conditions.map(c => source.slice(c.from, c.to)).join(' ');
  const guards = guardsIn(said, guardNames);
  for (const guard of guards) {
    for (const branch of branches) {
      guarded.push({ from: branch.from, to: branch.to, guard });
    }
  }
  // Every branch is picked by what the conditions say: a setting of the user's (matched
  // against a rule's feature in isGuarded).
  for (const branch of branches) {
    guarded.push({ from: branch.from, to: branch.to, guard: 'choice', said });
  }
  // A branch whose own condition is about another accelerator runs no CUDA code.
  const elsewhere = (
    branch: SyntaxNode | null | undefined,
    cond: SyntaxNode | null | undefined
  ) => {
    if (branch && cond && ELSEWHERE.test(source.slice(cond.from, cond.to))) {
      guarded.push({ from: branch.from, to: branch.to, guard: 'elsewhere' });
    }
  };
  if (node.name === 'ConditionalExpression') {
    // `A if COND else B`: A, then `if`, then COND.
    elsewhere(node.firstChild, node.firstChild?.nextSibling?.nextSibling);
  } else {
    let condition: SyntaxNode | null = null;
    for (let child = node.firstChild; child; child = child.nextSibling) {
      if ((child.name === 'if' || child.name === 'elif') && child.nextSibling) {
        condition = child.nextSibling;
      } else if (child.name === 'else') {
        condition = null;
      } else if (child.name === 'Body') {
        elsewhere(child, condition);
      }
    }
  }
  // `if not torch.cuda.is_available(): return` (or raise, exit, continue): the rest of the
  // block runs only when the check passed.
  const [only] = branches;
  if (
    node.name === 'IfStatement' &&
    conditions.length === 1 &&
    branches.length === 1 &&
    /^\s*:?\s*(return|raise|continue|break|sys\.exit\(|exit\(|quit\()/m.test(
      source.slice(only.from, only.to).replace(/^:/, '').trim()
    )
  ) {
    for (const guard of guards) {
      guarded.push({ from: node.to, to: node.parent?.to ?? source.length, guard });
    }
  }
}

/** The guards a piece of code checks: by what it calls, or by names bound to such checks. */
function guardsIn(text: string, guardNames: Map<string, Guard[]>): Guard[] {
  const found = new Set<Guard>();
  for (const [guard, pattern] of GUARDS) {
    if (pattern.test(text)) {
      found.add(guard);
    }
  }
  for (const [name, guards] of guardNames) {
    if (new RegExp(`\\b${name}\\b`).test(text)) {
      guards.forEach(guard => found.add(guard));
    }
  }
  return [...found];
}

/** The CUDA device string an assigned value holds: a literal, `torch.device("cuda:1")`,
 * or a tuple that carries one (`("cuda:1",) + args`); null for anything computed. */
function cudaLiteralIn(value: SyntaxNode, source: string): string | null {
  if (value.name === 'ConditionalExpression') {
    return null; // `"cuda" if torch.cuda.is_available() else "cpu"`: the guard itself
  }
  let found: string | null = null;
  const cursor = value.cursor();
  do {
    if (cursor.name === 'ConditionalExpression' || cursor.name === 'Lambda') {
      return null;
    }
    if (cursor.name === 'String' && found === null) {
      const literal = stringValue(source.slice(cursor.from, cursor.to));
      if (literal !== null && CUDA_DEVICE.test(literal)) {
        found = literal;
      }
    }
  } while (cursor.next() && cursor.from < value.to);
  return found;
}

/** A name in a device position whose last binding is a CUDA device string. */
function deviceUses(
  node: SyntaxNode,
  bound: { at: number; value: string | null }[] | undefined,
  uses: IUse[]
): void {
  const last = bound?.filter(b => b.at < node.from).pop();
  const match = last?.value ? CUDA_DEVICE.exec(last.value) : null;
  if (!match) {
    return;
  }
  uses.push({ kind: 'cuda_use', key: 'cuda', from: node.from, to: node.to, boundAt: last!.at });
  if (match[2] !== undefined) {
    uses.push({
      kind: 'device_index',
      key: match[2],
      from: node.from,
      to: node.to,
      boundAt: last!.at
    });
  }
}

/**
 * A value in a dict literal that is indexed right away by something computed
 * (`{"bf16": torch.bfloat16, "fp32": torch.float32}[args.dtype]`): which entry is used is
 * decided at run time, so naming one is no use of it.
 */
function isChosenAtRunTime(node: SyntaxNode, source: string): boolean {
  const table = node.parent;
  const subscript = table?.parent;
  if (table?.name !== 'DictionaryExpression' || subscript?.name !== 'MemberExpression') {
    return false;
  }
  if (subscript.firstChild?.from !== table.from) {
    return false;
  }
  const key = table.nextSibling?.nextSibling;
  return !!key && key.name !== 'String' && stringValue(source.slice(key.from, key.to)) === null;
}

/**
 * A dtype given as a storage format (`bnb_4bit_quant_storage=torch.bfloat16`): how weights
 * are packed, not what the GPU computes in.
 */
function isStorageSetting(node: SyntaxNode, source: string): boolean {
  const keyword = node.prevSibling?.name === 'AssignOp' ? node.prevSibling.prevSibling : null;
  return (
    node.parent?.name === 'ArgList' &&
    keyword?.name === 'VariableName' &&
    /storage/i.test(source.slice(keyword.from, keyword.to))
  );
}

/** Syntax nodes whose text is a literal value a name can stand for. */
const LITERALS = new Set(['String', 'Number', 'Boolean', 'None']);

function callUses(
  node: SyntaxNode,
  source: string,
  imports: Map<string, string>,
  uses: IUse[],
  known: IKnownValues
): void {
  const callee = node.firstChild;
  const argList = node.getChild('ArgList');
  if (!callee || !argList) {
    return;
  }
  const args = readArgs(argList, source, known);
  for (const [name, value] of args.keywords) {
    const at = args.keywordSpans.get(name)!;
    uses.push({ kind: 'kwarg', key: name, value, from: at.from, to: at.to });
  }
  const path = resolve(callee, source, imports);
  if (path) {
    uses.push({ kind: 'call', key: path, args, from: node.from, to: node.to });
    if (path === 'torch.cuda.set_device' || path === 'torch.cuda.device') {
      // Choosing a CUDA device needs one, whatever the index (`set_device(local_rank)`).
      uses.push({ kind: 'cuda_use', key: 'cuda', from: node.from, to: node.to });
    }
    if ((path === 'torch.cuda.set_device' || path === 'torch.device') && args.positional.length) {
      const index = path === 'torch.device' ? args.positional[1] : args.positional[0];
      if (index !== undefined && /^\d+$/.test(index)) {
        uses.push({ kind: 'device_index', key: index, from: node.from, to: node.to });
      }
    }
    if (DATA_PARALLEL.has(path)) {
      // `DataParallel(model, device_ids=[0, 1])`: each id is a GPU that must exist.
      const ids = argumentNode(argList, source, 'device_ids', 1);
      for (
        let id = ids?.name === 'ArrayExpression' ? ids.firstChild : null;
        id;
        id = id.nextSibling
      ) {
        if (id.name === 'Number' && /^\d+$/.test(source.slice(id.from, id.to))) {
          const key = source.slice(id.from, id.to);
          uses.push({ kind: 'device_index', key, from: id.from, to: id.to });
        }
      }
    }
    return;
  }
  // `x.cuda()` on a tensor or a model (not a module path we know).
  if (callee.name === 'MemberExpression') {
    const property = callee.getChild('PropertyName');
    if (property && source.slice(property.from, property.to) === 'cuda') {
      if (args.positional.length === 0) {
        uses.push({ kind: 'cuda_use', key: 'cuda', from: property.from, to: node.to });
      } else if (args.positional.length === 1 && /^\d+$/.test(args.positional[0])) {
        // `.cuda(1)`: a device index, written as the argument.
        const at = args.positionalSpans[0];
        uses.push({ kind: 'cuda_use', key: 'cuda', from: property.from, to: node.to });
        uses.push({ kind: 'device_index', key: args.positional[0], from: at.from, to: at.to });
      }
    }
  }
}

const DATA_PARALLEL = new Set([
  'torch.nn.DataParallel',
  'torch.nn.parallel.DataParallel',
  'torch.nn.parallel.DistributedDataParallel'
]);

/** The node of a call's argument given by keyword or at a position (0-based). */
function argumentNode(
  argList: SyntaxNode,
  source: string,
  keyword: string,
  position: number
): SyntaxNode | null {
  let index = 0;
  for (let child = argList.firstChild; child; child = child.nextSibling) {
    if (child.name === 'VariableName' && child.nextSibling?.name === 'AssignOp') {
      if (source.slice(child.from, child.to) === keyword) {
        return child.nextSibling.nextSibling;
      }
      child = child.nextSibling.nextSibling ?? child;
    } else if (!['(', ')', ','].includes(child.name) && !child.type.isError) {
      if (index++ === position) {
        return child;
      }
    }
  }
  return null;
}

/** Values known so far in the source: names bound to literals, and settings under a name. */
interface IKnownValues {
  literals: Map<string, IKnownValue>;
  kwargDicts: Map<string, KeywordValues>;
}

/** A value's text as written, and where it is written (null: in another cell). */
interface IKnownValue {
  value: string;
  span: ISpan | null;
}

/** Keyword name -> its value's text and where it is written. */
type KeywordValues = Map<string, { value: string; span: ISpan }>;

/**
 * What an expression stands for: a name bound to a literal, or a setting read from a
 * dict or a config object (`cfg["bf16"]`, `cfg.bf16`), as that literal and where it is
 * written; anything else as its own text.
 */
function valueOf(node: SyntaxNode, source: string, known: IKnownValues): IKnownValue {
  const text = source.slice(node.from, node.to);
  if (node.name === 'VariableName') {
    return known.literals.get(text) ?? { value: text, span: null };
  }
  const entry = memberTarget(node, source);
  const setting = entry ? known.kwargDicts.get(entry.name)?.get(entry.key) : undefined;
  return setting ?? { value: text, span: null };
}

function readArgs(argList: SyntaxNode, source: string, known: IKnownValues): IArgs {
  const args: IArgs = {
    positional: [],
    keywords: new Map(),
    positionalSpans: [],
    keywordSpans: new Map()
  };
  let child = argList.firstChild;
  while (child) {
    if (
      child.name === 'VariableName' &&
      child.nextSibling?.name === 'AssignOp' &&
      child.nextSibling.nextSibling
    ) {
      const value = child.nextSibling.nextSibling;
      const name = source.slice(child.from, child.to);
      const given = valueOf(value, source, known);
      args.keywords.set(name, given.value);
      args.keywordSpans.set(name, given.span ?? { from: child.from, to: value.to });
      child = value.nextSibling;
      continue;
    }
    if (child.name === '**' && child.nextSibling) {
      // `f(**kw)`: the keywords the dict was given, where they were written.
      const spread = child.nextSibling;
      const gathered =
        spread.name === 'VariableName'
          ? known.kwargDicts.get(source.slice(spread.from, spread.to))
          : keywordsIn(spread, source, known);
      gathered?.forEach(({ value, span }, name) => {
        if (!args.keywords.has(name)) {
          args.keywords.set(name, value);
          args.keywordSpans.set(name, span);
        }
      });
      child = spread.nextSibling;
      continue;
    }
    if (!['(', ')', ','].includes(child.name) && !child.type.isError) {
      const given = valueOf(child, source, known);
      args.positional.push(given.value);
      args.positionalSpans.push(given.span ?? { from: child.from, to: child.to });
    }
    child = child.nextSibling;
  }
  return args;
}

/** The keywords a dict literal or `dict(...)` call holds (null for any other value). */
function keywordsIn(node: SyntaxNode, source: string, known: IKnownValues): KeywordValues | null {
  const found: KeywordValues = new Map();
  if (node.name === 'DictionaryExpression') {
    for (let key = node.firstChild; key; key = key.nextSibling) {
      const value = key.nextSibling?.name === ':' ? key.nextSibling.nextSibling : null;
      const name = key.name === 'String' ? stringValue(source.slice(key.from, key.to)) : null;
      if (value && name !== null) {
        found.set(name, {
          value: valueOf(value, source, known).value,
          span: { from: key.from, to: value.to }
        });
      }
    }
    return found;
  }
  const callee = node.name === 'CallExpression' ? node.firstChild : null;
  const argList = node.getChild('ArgList');
  if (!callee || !argList) {
    return null;
  }
  const name = source.slice(callee.from, callee.to);
  // A class of this source starts from its defaults; a namespace from nothing.
  const defaults = known.kwargDicts.get(name);
  if (defaults || NAMESPACES.test(name)) {
    const args = readArgs(argList, source, known);
    args.keywords.forEach((value, keyword) =>
      found.set(keyword, { value, span: args.keywordSpans.get(keyword)! })
    );
    defaults?.forEach((value, keyword) => found.has(keyword) || found.set(keyword, value));
    return found;
  }
  if (CONFIG_FROM_DICT.test(name)) {
    // `OmegaConf.create({"bf16": True})`
    const first = argList.firstChild?.nextSibling;
    return first ? keywordsIn(first, source, known) : null;
  }
  return null;
}

/** Calls that build a namespace from keywords: its attributes are those keywords. */
const NAMESPACES =
  /^(dict|(types\.)?SimpleNamespace|(argparse\.)?Namespace|EasyDict|edict|AttrDict|(ml_collections\.)?ConfigDict)$/;
/** Calls that build a config object from a dict literal. */
const CONFIG_FROM_DICT = /^(OmegaConf\.create|(omegaconf\.)?DictConfig)$/;

/** The literal defaults of a class body (`bf16 = True`, `bf16: bool = True`). */
function classDefaults(body: SyntaxNode, source: string, known: IKnownValues): KeywordValues {
  const found: KeywordValues = new Map();
  for (let statement = body.firstChild; statement; statement = statement.nextSibling) {
    const target = statement.name === 'AssignStatement' ? statement.firstChild : null;
    const value = statement.lastChild;
    if (target?.name === 'VariableName' && value && LITERALS.has(value.name)) {
      found.set(source.slice(target.from, target.to), {
        value: valueOf(value, source, known).value,
        span: { from: statement.from, to: statement.to }
      });
    }
  }
  return found;
}

/**
 * `parser.add_argument("--bf16", default=True)`: the option's default, by its destination
 * (`--use-bf16` -> use_bf16), for what `parser.parse_args()` returns.
 */
function addParserOption(
  node: SyntaxNode,
  source: string,
  parsers: Map<string, KeywordValues>,
  known: IKnownValues
): void {
  const callee = node.firstChild;
  const argList = node.getChild('ArgList');
  const call = callee ? /^(\w+)\.add_argument$/.exec(source.slice(callee.from, callee.to)) : null;
  if (!call || !argList) {
    return;
  }
  const args = readArgs(argList, source, known);
  const flag = args.positional.map(stringValue).find(f => f?.startsWith('--'));
  const dest = stringValue(args.keywords.get('dest') ?? '') ?? flag?.slice(2).replace(/-/g, '_');
  const given = args.keywords.get('default');
  if (!dest || given === undefined) {
    return;
  }
  const options = parsers.get(call[1]) ?? parsers.set(call[1], new Map()).get(call[1])!;
  options.set(dest, { value: given, span: args.keywordSpans.get('default')! });
}

/** The options a `parser.parse_args()` / `parse_known_args()` call returns, if known. */
function parsedOptions(
  value: SyntaxNode,
  source: string,
  parsers: Map<string, KeywordValues>
): KeywordValues | null {
  const callee = value.name === 'CallExpression' ? value.firstChild : null;
  const call = callee
    ? /^(\w+)\.parse_(known_)?args$/.exec(source.slice(callee.from, callee.to))
    : null;
  return call ? (parsers.get(call[1]) ?? null) : null;
}

/** `kw["name"]` or `cfg.name` (as a target or a value): the name and the key. */
function memberTarget(target: SyntaxNode, source: string): { name: string; key: string } | null {
  if (target.name !== 'MemberExpression' || target.firstChild?.name !== 'VariableName') {
    return null;
  }
  const name = source.slice(target.firstChild.from, target.firstChild.to);
  const next = target.firstChild.nextSibling;
  if (
    next?.name === '.' &&
    next.nextSibling?.name === 'PropertyName' &&
    !next.nextSibling.nextSibling
  ) {
    return { name, key: source.slice(next.nextSibling.from, next.nextSibling.to) };
  }
  const key = next?.name === '[' ? next.nextSibling : null;
  const value = key?.name === 'String' ? stringValue(source.slice(key.from, key.to)) : null;
  return value === null ? null : { name, key: value };
}

/** A string (or a name) used as a device: `device="cuda"`, `.to("cuda:1")`, `.to(*args)`,
 * `torch.device("cuda")`. */
function isDeviceArgument(node: SyntaxNode, source: string): boolean {
  const parent = node.parent;
  if (parent?.name !== 'ArgList') {
    return false;
  }
  const before = node.prevSibling?.prevSibling;
  if (node.prevSibling?.name === 'AssignOp' && before?.name === 'VariableName') {
    return ['device', 'device_map'].includes(source.slice(before.from, before.to));
  }
  const callee = parent.parent?.firstChild;
  if (!callee) {
    return false;
  }
  const calleeText = source.slice(callee.from, callee.to);
  return /(^|\.)(to|device)$/.test(calleeText);
}

/** The dotted path a name or attribute chain refers to, through the import aliases. */
function resolve(node: SyntaxNode, source: string, imports: Map<string, string>): string | null {
  const parts: string[] = [];
  let current: SyntaxNode | null = node;
  // Walk down the left spine iteratively: deep chains must not overflow the stack.
  while (current && current.name === 'MemberExpression') {
    const property = current.lastChild;
    if (!property || property.name !== 'PropertyName') {
      return null; // subscript or call in the chain: not a plain path
    }
    parts.unshift(source.slice(property.from, property.to));
    current = current.firstChild;
  }
  if (!current || current.name !== 'VariableName') {
    return null;
  }
  const root = imports.get(source.slice(current.from, current.to));
  return root ? [root, ...parts].join('.') : null;
}

function isDefinition(node: SyntaxNode): boolean {
  const parent = node.parent;
  if (!parent) {
    return false;
  }
  if (
    parent.name === 'ImportStatement' ||
    parent.name === 'FunctionDefinition' ||
    parent.name === 'ClassDefinition'
  ) {
    return true;
  }
  // The name being assigned, or a keyword argument's name.
  return node.nextSibling?.name === 'AssignOp';
}

function addImport(node: SyntaxNode, source: string, imports: Map<string, string>): void {
  const words: { name: string; text: string }[] = [];
  let child = node.firstChild;
  while (child) {
    words.push({ name: child.name, text: source.slice(child.from, child.to) });
    child = child.nextSibling;
  }
  if (words[0]?.name === 'from') {
    const importAt = words.findIndex(w => w.name === 'import');
    const module = words
      .slice(1, importAt)
      .map(w => w.text)
      .join('');
    for (let i = importAt + 1; i < words.length; i++) {
      if (words[i].name !== 'VariableName') {
        continue;
      }
      const name = words[i].text;
      const alias = words[i + 1]?.name === 'as' ? words[i + 2]?.text : name;
      if (alias) {
        imports.set(alias, `${module}.${name}`);
      }
      if (words[i + 1]?.name === 'as') {
        i += 2;
      }
    }
    return;
  }
  // import a.b.c [as x], d
  let path: string[] = [];
  for (let i = 1; i <= words.length; i++) {
    const w = words[i];
    if (w?.name === 'VariableName' || w?.name === '.') {
      path.push(w.text);
      continue;
    }
    if (w?.name === 'as') {
      imports.set(words[i + 1]?.text ?? '', path.join(''));
      path = [];
      i++;
      continue;
    }
    if (path.length) {
      const dotted = path.join('');
      // `import torch.nn` binds `torch`.
      imports.set(dotted.split('.')[0], dotted.split('.')[0]);
      path = [];
    }
  }
}

function importedModules(node: SyntaxNode, source: string): string[] {
  const text = source.slice(node.from, node.to);
  const from = /^from\s+([\w.]+)\s+import/.exec(text);
  if (from) {
    return [from[1]];
  }
  return text
    .replace(/^import\s+/, '')
    .split(',')
    .map(part =>
      part
        .trim()
        .split(/\s+as\s+/)[0]
        .trim()
    )
    .filter(Boolean);
}

// ---- helpers ---------------------------------------------------------------------------

function safePython(source: string): string | null {
  return typeof source === 'string' ? pythonOnly(source) : null;
}

let pythonParser: Parser | null = null;

/**
 * The Lezer Python parser to use: in JupyterLab the one its editor already ships (from
 * the language registry, so none is bundled twice); in node, @lezer/python (lint/node.ts).
 */
export function usePythonParser(parser: Parser): void {
  pythonParser = parser;
}

function parse(source: string): Tree | null {
  try {
    return pythonParser ? pythonParser.parse(source) : null;
  } catch {
    return null;
  }
}

/** The value of a simple string literal (no f-strings, no concatenation), else null. */
function stringValue(literal: string): string | null {
  const match = /^[rRbBuU]?(['"])(.*)\1$/s.exec(literal.trim());
  return match && !match[2].includes(match[1]) ? match[2] : null;
}

/** Lines with `# gpuscope: ignore` (all rules) or `# gpuscope: ignore[a, b]`. */
function ignoredLines(source: string): Map<number, Set<string>> {
  const ignored = new Map<number, Set<string>>();
  if (!source.includes('gpuscope')) {
    return ignored;
  }
  source.split('\n').forEach((line, i) => {
    const match = /#\s*gpuscope:\s*ignore(?:\[([^\]]*)\])?/.exec(line);
    if (match) {
      ignored.set(
        i + 1,
        new Set(
          (match[1] ?? '')
            .split(',')
            .map(s => s.trim())
            .filter(Boolean)
        )
      );
    }
  });
  return ignored;
}

function lineOffsets(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      starts.push(i + 1);
    }
  }
  return starts;
}

function position(starts: number[], offset: number): { line: number; column: number } {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (starts[mid] <= offset) {
      low = mid;
    } else {
      high = mid - 1;
    }
  }
  return { line: low + 1, column: offset - starts[low] + 1 };
}

function fill(template: string, words: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key) => words[key] ?? whole);
}

/** One finding per rule and place: `torch.bfloat16` inside `t.bfloat16.x` counts once. */
function dedupe(findings: ILintFinding[]): ILintFinding[] {
  const seen = new Set<string>();
  return findings.filter(f => {
    const key = `${f.rule}:${f.from}`;
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
}

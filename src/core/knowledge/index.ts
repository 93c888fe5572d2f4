/**
 * The project's GPU knowledge base (kb.json, written from the sourced reference), with
 * the few functions every consumer needs. Nothing else hard-codes a compute capability,
 * a driver version or a wheel's arch list.
 */
import { escapeMarkdown } from '../markdown';
import kb from './kb.json';

/** A source of the knowledge base: what a reader can follow (its note is for maintainers). */
export interface ISource {
  key: string;
  title: string;
  /** Its public page; null for one that has none (a log quoted without a link). */
  url: string | null;
}

export interface ICapability {
  cc: string;
  arch: string;
  examples: string[];
}

type FeatureId = keyof typeof kb.features;

/** "8.6" -> 86, "12.1" -> 121: compute capabilities compared as numbers. */
export function ccValue(cc: string): number {
  const [major, minor] = cc.split('.').map(Number);
  return major * 10 + (minor || 0);
}

/** The sources behind keys, in the order given. */
export function sources(keys: string[]): ISource[] {
  const all = kb.sources as Record<string, { title: string; url: string | null }>;
  return keys.filter(k => k in all).map(key => ({ key, title: all[key].title, url: all[key].url }));
}

/** "[title](url)", or the title alone for a source with no public page. */
export function markdownSource(source: ISource): string {
  const title = escapeMarkdown(source.title);
  return source.url ? `[${title}](${source.url})` : title;
}

export function capability(cc: string): ICapability | undefined {
  return kb.capabilities.find(c => c.cc === cc) as ICapability | undefined;
}

export function feature(id: FeatureId): { min_cc?: string; max_cc?: string; source: string[] } {
  return kb.features[id];
}

/** Whether a device of this compute capability has the feature (by its cc range). */
export function supports(id: FeatureId, cc: string): boolean {
  const f = feature(id);
  const value = ccValue(cc);
  return (!f.min_cc || value >= ccValue(f.min_cc)) && (!f.max_cc || value <= ccValue(f.max_cc));
}

export interface ILintRule {
  id: string;
  severity: 'error' | 'warning' | 'info';
  match: {
    symbol?: string[];
    call?: string[];
    import?: string[];
    assign?: string[];
    kwarg?: Record<string, string>;
    cuda_use?: boolean;
    device_index?: boolean;
    call_arg?: { path: string; keyword: string; position: number; value: string };
    /**
     * A keyword argument of a call, by callee: paths may use `*` for one name
     * (`transformers.*.from_pretrained`); values are Python literals as written, strings
     * compared by their value (`"bf16-mixed"` matches '...' and "...").
     */
    call_kwarg?: {
      callee: string[];
      keyword: string;
      values?: string[];
      /** Matches a whole number above the GPUs there are (`devices=4` on one GPU). */
      above_count?: boolean;
      /** Not when another keyword says otherwise (`use_cpu=True`). */
      unless?: { keyword: string; values: string[] }[];
    }[];
    /** A dictionary entry, as in a DeepSpeed config: key and a pattern for its value's text. */
    dict_entry?: { key: string; value: string };
  };
  when: {
    below?: string;
    outside?: string;
    /** Applies on the feature's own cc range (a "may" for partial support). */
    inside?: string;
    no_gpu?: boolean;
    index_beyond_count?: boolean;
    gpus_at_most?: number;
    gpus_at_least?: number;
    always?: boolean;
  };
  message: string;
  fix: string;
  source: string[];
  /** Rests on unconfirmed facts: never an error, and the message says "may". */
  may?: boolean;
}

/** The capability rules of the linter, each with its sources. */
export function lintRules(): ILintRule[] {
  rules ??= (kb.lint_rules as ILintRule[]).map(rule =>
    rule.may && rule.severity === 'error' ? { ...rule, severity: 'warning' } : rule
  );
  return rules;
}

let rules: ILintRule[] | null = null;

/**
 * A target given as a compute capability ("7.5") or a GPU name ("T4", "A100", "RTX 4090"):
 * its compute capability and a display name, or null when unknown.
 */
export function resolveTarget(target: string): { cc: string; name: string } | null {
  const wanted = target.trim();
  if (/^\d+\.\d+$/.test(wanted)) {
    const known = capability(wanted);
    return {
      cc: wanted,
      name: known ? `a ${known.arch} GPU (${wanted})` : `a GPU of compute capability ${wanted}`
    };
  }
  const needle = wanted.toLowerCase().replace(/^(nvidia|tesla|geforce)\s+/, '');
  if (!needle) {
    return null;
  }
  const pattern = new RegExp(
    `(^|[\\s/])(tesla |geforce |nvidia )?${needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s/(])`,
    'i'
  );
  for (const cap of kb.capabilities) {
    if (cap.examples.flatMap(modelNames).some(example => pattern.test(example))) {
      return { cc: cap.cc, name: wanted };
    }
  }
  return null;
}

/**
 * "GeForce RTX 3090 Ti / 3080 Ti / 3070" -> itself and "GeForce RTX 3090 Ti",
 * "GeForce RTX 3080 Ti", "GeForce RTX 3070": each model of a list with the family's name.
 */
function modelNames(example: string): string[] {
  const [first, ...rest] = example.split(/\s*\/\s*/);
  const family = /^(.*?\s)(?=[A-Z]*\d)/.exec(first)?.[1] ?? '';
  return [example, first, ...rest.map(model => family + model)];
}

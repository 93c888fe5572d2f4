/**
 * Recognise GPU failures in error text (a traceback, a stderr stream) by the signatures
 * in the knowledge base, and explain them with what is known about the kernel.
 */
import { ISource, markdownSource, sources } from '../knowledge';
import {
  errorFamilies,
  findStatus,
  IErrorFamily,
  IStatusCode,
  statusFormats
} from '../knowledge/errors';
import { codeBlock, codeSpan, markdownText, printable } from '../markdown';
import { contextFor, IContext, IExplainFacts } from './context';

export type { IExplainFacts } from './context';

export interface IExplanation {
  id: string;
  title: string;
  severity: 'error' | 'warning';
  cause: string;
  fix: string;
  /** What the message itself said that matters (an assertion, NCCL's last error, a status code). */
  detail: string | null;
  may: boolean;
  context: IContext;
  sources: ISource[];
  /** The library status code the message carried, when the family was found through one. */
  status: IStatusCode | null;
}

/** Text beyond this is not searched: the head and the tail of longer text are. */
const MAX_TEXT = 256 * 1024;
/** Explanations shown at most for one output: the rest is rarely a separate cause. */
const MAX_EXPLANATIONS = 3;

interface ICompiled {
  family: IErrorFamily;
  patterns: RegExp[];
  detail: RegExp | null;
}

let compiled: { families: ICompiled[]; statuses: { library: string; pattern: RegExp }[] } | null =
  null;

function knowledge() {
  compiled ??= {
    families: errorFamilies().map(family => ({
      family,
      patterns: family.patterns.map(p => new RegExp(spacesTolerant(p))),
      detail: family.detail ? new RegExp(spacesTolerant(family.detail)) : null
    })),
    statuses: statusFormats().map(format => ({
      library: format.library,
      pattern: new RegExp(format.pattern, 'g')
    }))
  };
  return compiled;
}

/**
 * A pattern whose spaces match any run of whitespace: messages are printed with double
 * spaces (torch's "compiled  against"), wrapped across lines by loggers, or indented.
 * Spaces inside character classes stay as written.
 */
export function spacesTolerant(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      out += c + (pattern[i + 1] ?? '');
      i++;
    } else if (inClass) {
      out += c;
      inClass = c !== ']';
    } else if (c === '[') {
      out += c;
      inClass = true;
    } else if (c === ' ') {
      while (pattern[i + 1] === ' ') {
        i++;
      }
      out += '\\s+';
    } else {
      out += c;
    }
  }
  return out;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Terminal colour codes out (IPython colours its tracebacks), and long text bounded. */
export function cleanText(text: string): string {
  const plain = text.replace(ANSI, '');
  if (plain.length <= MAX_TEXT) {
    return plain;
  }
  return plain.slice(0, MAX_TEXT / 2) + '\n…\n' + plain.slice(-MAX_TEXT / 2);
}

interface IFound {
  family: ICompiled;
  match: RegExpExecArray;
  status: IStatusCode | null;
}

/** Every known GPU failure in the text, most specific first; [] for anything else. */
export function explainError(text: string, facts: IExplainFacts = {}): IExplanation[] {
  if (typeof text !== 'string' || !text) {
    return [];
  }
  const clean = cleanText(text);
  const { families } = knowledge();
  const found = new Map<string, IFound>();
  for (const family of families) {
    for (const pattern of family.patterns) {
      const match = pattern.exec(clean);
      if (match) {
        found.set(family.family.id, { family, match, status: null });
        break;
      }
    }
  }
  for (const { code, match } of statusesIn(clean)) {
    const known = found.get(code.family!);
    if (known) {
      known.status ??= code;
    } else {
      const family = families.find(f => f.family.id === code.family);
      if (family) {
        found.set(code.family!, { family, match, status: code });
      }
    }
  }
  const superseded = new Set([...found.values()].flatMap(f => f.family.family.supersedes ?? []));
  const order = (id: string) => families.findIndex(f => f.family.id === id);
  return [...found.values()]
    .filter(f => !superseded.has(f.family.family.id))
    .sort(
      (a, b) =>
        // Errors before warnings (the error is what stopped the cell), then most specific.
        Number(a.family.family.severity === 'warning') -
          Number(b.family.family.severity === 'warning') ||
        order(a.family.family.id) - order(b.family.family.id)
    )
    .slice(0, MAX_EXPLANATIONS)
    .map(f => explanation(f, clean, facts));
}

/** The library status codes the text carries, each found by one of the frameworks' formats. */
function statusesIn(text: string): { code: IStatusCode; match: RegExpExecArray }[] {
  const seen: { code: IStatusCode; match: RegExpExecArray }[] = [];
  for (const { library, pattern } of knowledge().statuses) {
    pattern.lastIndex = 0;
    for (const match of text.matchAll(pattern)) {
      const code = findStatus(library, match.groups ?? {});
      if (code?.family && !seen.some(s => s.code === code)) {
        seen.push({ code, match });
      }
    }
  }
  return seen;
}

function explanation(found: IFound, text: string, facts: IExplainFacts): IExplanation {
  const { family, match, status } = found;
  const context = contextFor(family.family, text, match, facts);
  const said = family.detail?.exec(text)?.[1]?.trim() ?? null;
  const values: Record<string, string> = {
    library: match.groups?.library ?? status?.libraryTitle ?? 'a CUDA library',
    library_title: status?.libraryTitle ?? 'A CUDA library',
    ...context.values
  };
  if (status) {
    values.status = status.string ? `${status.name}: ${status.string}` : status.name;
  }
  const texts = (context.withoutTorch && family.family.without_torch) || family.family;
  return {
    id: family.family.id,
    title: fill(texts.title, values),
    severity: family.family.severity,
    cause: fill(texts.cause, values),
    fix: fill(context.fix ?? texts.fix, values),
    detail: said ?? (status ? values.status : null),
    may: family.family.may === true,
    context,
    sources: sources(family.family.source),
    status
  };
}

/** A family's text with its {placeholders} filled; one without a value is left out with its brackets. */
function fill(text: string, values: Record<string, string>): string {
  return text
    .replace(/\s*\(\{(\w+)\}\)/g, (all, key: string) => (key in values ? ` (${values[key]})` : ''))
    .replace(/\{(\w+)\}/g, (all, key: string) => values[key] ?? all);
}

/** How one output format writes each part of an explanation (the parts' order is render's). */
interface IExplanationStyle {
  title(title: string, may: boolean): string;
  text(text: string): string;
  detail(detail: string): string;
  fix(fix: string): string;
  commands(commands: string[]): string[];
  sources(sources: IExplanation['sources']): string[];
}

const MAY = ' (may not apply: rests on unconfirmed reports)';

function render(e: IExplanation, style: IExplanationStyle): string {
  const lines = [style.title(e.title, e.may), '', style.text(e.cause)];
  if (e.detail) {
    lines.push('', `The message says: ${style.detail(e.detail)}`);
  }
  for (const fact of e.context.facts) {
    lines.push('', style.text(fact));
  }
  lines.push('', style.fix(e.fix));
  if (e.context.commands.length) {
    lines.push('', ...style.commands(e.context.commands));
  }
  for (const tip of e.context.tips) {
    lines.push('', `- ${style.text(tip)}`);
  }
  if (e.sources.length) {
    lines.push('', ...style.sources(e.sources));
  }
  return lines.join('\n');
}

/**
 * Markdown: the message's own words and what was read from them are data, escaped or
 * fenced, so a saved output cannot put markup (a remote image, a link) into the note.
 */
const MARKDOWN: IExplanationStyle = {
  title: (title, may) => `**${markdownText(title)}**${may ? MAY : ''}`,
  text: markdownText,
  detail: codeSpan,
  fix: fix => `**Fix:** ${markdownText(fix)}`,
  commands: commands => [codeBlock(commands)],
  sources: sources => [`Sources: ${sources.map(markdownSource).join('; ')}`]
};

/** Terminal text: no markup (the knowledge base's `code` spans keep their backticks). */
const TEXT: IExplanationStyle = {
  title: (title, may) => printable(title) + (may ? MAY : ''),
  text: printable,
  detail: detail => printable(detail).replace(/\s*\n\s*/g, ' '),
  fix: fix => `Fix: ${printable(fix)}`,
  commands: commands => commands.map(command => `    ${printable(command)}`),
  sources: sources => [
    'Sources:',
    ...sources.map(s => `  ${printable(s.title)}${s.url ? ` <${s.url}>` : ''}`)
  ]
};

/** An explanation as Markdown: for `gpuscope explain-error --markdown` and "Add to notebook". */
export function toMarkdown(e: IExplanation): string {
  return render(e, MARKDOWN);
}

/** The explanation as terminal text: the same parts as toMarkdown, without markup. */
export function toText(e: IExplanation): string {
  return render(e, TEXT);
}

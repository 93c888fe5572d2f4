/**
 * Recognise GPU failures in error text (a traceback, a stderr stream) by the signatures
 * in the knowledge base, and explain them with what is known about the kernel.
 */
import { errorSignatures, IErrorSignature, ISource, markdownSource, sources } from '../knowledge';
import { codeBlock, codeSpan, markdownText } from '../markdown';
import { contextFor, IContext, IExplainFacts } from './context';

export type { IExplainFacts } from './context';

export interface IExplanation {
  id: string;
  title: string;
  severity: 'error' | 'warning';
  cause: string;
  fix: string;
  /** What the message itself said that matters (an assertion, NCCL's last error). */
  detail: string | null;
  may: boolean;
  context: IContext;
  sources: ISource[];
}

/** Text beyond this is not searched: the head and the tail of longer text are. */
const MAX_TEXT = 256 * 1024;
/** Explanations shown at most for one output: the rest is rarely a separate cause. */
const MAX_EXPLANATIONS = 3;

interface ICompiled {
  signature: IErrorSignature;
  patterns: RegExp[];
  detail: RegExp | null;
}

let compiled: ICompiled[] | null = null;

function signatures(): ICompiled[] {
  compiled ??= errorSignatures().map(signature => ({
    signature,
    patterns: signature.patterns.map(p => new RegExp(spacesTolerant(p))),
    detail: signature.detail ? new RegExp(spacesTolerant(signature.detail)) : null
  }));
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

/** Every known GPU failure in the text, most specific first; [] for anything else. */
export function explainError(text: string, facts: IExplainFacts = {}): IExplanation[] {
  if (typeof text !== 'string' || !text) {
    return [];
  }
  const clean = cleanText(text);
  const found: IExplanation[] = [];
  for (const { signature, patterns, detail } of signatures()) {
    let match: RegExpExecArray | null = null;
    for (const pattern of patterns) {
      match = pattern.exec(clean);
      if (match) {
        break;
      }
    }
    if (!match) {
      continue;
    }
    const said = detail?.exec(clean)?.[1]?.trim() ?? null;
    const context = contextFor(signature, clean, match, facts);
    found.push({
      id: signature.id,
      title: signature.title,
      severity: signature.severity,
      cause: signature.cause,
      fix: context.fix ?? signature.fix,
      detail: said,
      may: signature.may === true,
      context,
      sources: sources(signature.source)
    });
  }
  const superseded = new Set(
    found.flatMap(e => errorSignatures().find(s => s.id === e.id)?.supersedes ?? [])
  );
  // Errors before warnings: the error is what stopped the cell.
  return found
    .filter(e => !superseded.has(e.id))
    .sort((a, b) => Number(a.severity === 'warning') - Number(b.severity === 'warning'))
    .slice(0, MAX_EXPLANATIONS);
}

/**
 * An explanation as Markdown: for the CLI and "Add to notebook". The message's own words
 * and what was read from them are data: they are escaped or fenced, so a saved output
 * cannot put markup (a remote image, a link) into the note.
 */
export function toMarkdown(e: IExplanation): string {
  const lines = [
    `**${markdownText(e.title)}**${e.may ? ' (may not apply: rests on unconfirmed reports)' : ''}`,
    '',
    markdownText(e.cause)
  ];
  if (e.detail) {
    lines.push('', `The message says: ${codeSpan(e.detail)}`);
  }
  for (const fact of e.context.facts) {
    lines.push('', markdownText(fact));
  }
  lines.push('', `**Fix:** ${markdownText(e.fix)}`);
  if (e.context.commands.length) {
    lines.push('', codeBlock(e.context.commands));
  }
  for (const tip of e.context.tips) {
    lines.push('', `- ${markdownText(tip)}`);
  }
  if (e.sources.length) {
    lines.push('', `Sources: ${e.sources.map(markdownSource).join('; ')}`);
  }
  return lines.join('\n');
}

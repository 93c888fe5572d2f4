/**
 * Markdown and terminal text made from data: error messages from cell outputs, facts from
 * kernels. Whatever the data holds, it reads as text, never as markup or as a terminal
 * command (the Python side, kernel/findings.py, applies the same rules to the report).
 */

/** C0 and C1 control characters (ESC, BEL, CSI, OSC...) and DEL, but not tab or newline. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
/** What Markdown or HTML would read as markup in running text. */
const MARKUP = /([\\*_[\]<>&!|~#`])/g;

/** Text without control characters (each becomes a space): safe to print to a terminal. */
export function printable(text: string): string {
  return text.replace(CONTROL, ' ');
}

/** Running text as Markdown that shows exactly that text, on one line. */
export function escapeMarkdown(text: string): string {
  return printable(text)
    .replace(/\s*\n\s*/g, ' ')
    .replace(MARKUP, '\\$1');
}

/** A Markdown code span holding `text` (on one line) whatever backticks it contains. */
export function codeSpan(text: string): string {
  const flat = printable(text).replace(/\s*\n\s*/g, ' ');
  const fence = '`'.repeat(longestRun(flat) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${flat}${pad}${fence}`;
}

/** A fenced Markdown code block of these lines, whatever they contain. */
export function codeBlock(lines: string[]): string {
  const body = lines.map(printable);
  const fence = '`'.repeat(Math.max(3, ...body.map(line => longestRun(line) + 1)));
  return [fence, ...body, fence].join('\n');
}

/**
 * Prose with `code` spans (the knowledge base's convention, which the cards render too) as
 * Markdown: each span a code span, the rest escaped.
 */
export function markdownText(text: string): string {
  return printable(text)
    .split('`')
    .map((part, i) => (i % 2 && part.trim() ? codeSpan(part) : escapeMarkdown(part)))
    .join('');
}

function longestRun(text: string): number {
  return Math.max(0, ...(text.match(/`+/g) ?? []).map(run => run.length));
}

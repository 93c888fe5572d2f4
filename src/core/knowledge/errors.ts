/**
 * The error explainer's knowledge: errors.json (families, how frameworks print CUDA
 * libraries' status codes, which family each code belongs to, the Xid catalogue) over
 * error-codes.json (every status code of the CUDA libraries, mined from NVIDIA's wheels by
 * scripts/mine_error_codes.py). The matcher reads nothing else.
 */
import codes from './error-codes.json';
import errors from './errors.json';

export interface IErrorFamily {
  id: string;
  title: string;
  severity: 'error' | 'warning';
  /**
   * Regular expressions (JavaScript syntax) any of which identifies the family; empty for
   * one reached only through a status code. Named groups fill the texts' {placeholders}.
   */
  patterns: string[];
  /** A regular expression whose first group is shown as what the message said. */
  detail?: string;
  /** Which kernel facts make the explanation specific: see explain/context.ts. */
  context?: string;
  cause: string;
  fix: string;
  /** Lines to copy into a cell as they are. */
  commands?: string[];
  /** Ids of more general families not to show when this one matches. */
  supersedes?: string[];
  /** Rests on unconfirmed facts: the card says "may". */
  may?: boolean;
  /** Texts for a message from a program without PyTorch (its own build chose the code). */
  without_torch?: { title: string; cause: string; fix: string; unless: string };
  /** A fix for when neither the kernel nor the server sees a GPU. */
  without_gpu?: { fix: string };
  source: string[];
}

/** How a framework prints a library's status: a pattern with a `name` or `string` group. */
export interface IStatusFormat {
  library: string;
  by: string;
  pattern: string;
  example: string;
  source: string[];
}

/** One status code of a CUDA library, as the library itself names and describes it. */
export interface IStatusCode {
  library: string;
  /** The library's title ("cuBLAS"). */
  libraryTitle: string;
  name: string;
  value: number;
  /** What the library's own string function returns; null where it has none. */
  string: string | null;
  /** The family that explains it; null for a code that is no error (…_SUCCESS). */
  family: string | null;
}

interface ICodeTable {
  title: string;
  codes: { name: string; value: number; string: string | null }[];
}

/** The families, most specific first. */
export function errorFamilies(): IErrorFamily[] {
  return errors.families as IErrorFamily[];
}

export function statusFormats(): IStatusFormat[] {
  return errors.statuses as IStatusFormat[];
}

/** Every code of every library, with its family. */
export function statusCodes(): IStatusCode[] {
  const tables = codes.libraries as Record<string, ICodeTable>;
  const families = errors.code_families as Record<
    string,
    { default: string; families: Record<string, string | null> }
  >;
  return Object.entries(tables).flatMap(([library, table]) =>
    table.codes.map(code => ({
      library,
      libraryTitle: table.title.replace(/\s*\(.*\)$/, ''),
      name: code.name,
      value: code.value,
      string: code.string,
      family:
        code.name in families[library].families
          ? families[library].families[code.name]
          : families[library].default
    }))
  );
}

let byLibrary: Map<string, IStatusCode[]> | null = null;

/**
 * The code a status format captured: by its name, or by the library's string for it
 * (the longest string the captured text starts with, case and spacing aside: frameworks
 * append their own words after it). Undefined when the library has no such code.
 */
export function findStatus(
  library: string,
  captured: { name?: string; string?: string }
): IStatusCode | undefined {
  if (!byLibrary) {
    byLibrary = new Map();
    for (const code of statusCodes()) {
      byLibrary.set(code.library, [...(byLibrary.get(code.library) ?? []), code]);
    }
  }
  const table = byLibrary.get(library) ?? [];
  if (captured.name) {
    return table.find(code => code.name === captured.name);
  }
  const text = normal(captured.string ?? '');
  let best: { code: IStatusCode; length: number } | undefined;
  for (const code of table) {
    for (const known of spellings(code.string)) {
      const next = text.charAt(known.length);
      const fits = text.startsWith(known) && (!next || !/[a-z0-9]/.test(next));
      if (fits && (!best || known.length > best.length)) {
        best = { code, length: known.length };
      }
    }
  }
  return best?.code;
}

/**
 * A string as libraries print it, and its core before an aside (" (run with NCCL_DEBUG=INFO
 * for details)", " - please report this issue"), which older releases printed alone.
 */
function spellings(string: string | null): string[] {
  if (!string) {
    return [];
  }
  const full = normal(string);
  const core = full.split(/ \(| - /)[0];
  return core && core !== full ? [full, core] : [full];
}

function normal(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, ' ');
}

/** What an Xid number means and what to do, from NVIDIA's catalogue. */
export function xidMeaning(xid: string): { meaning: string; fix: string } | undefined {
  return (errors.xids as Record<string, { meaning: string; fix: string }>)[xid];
}

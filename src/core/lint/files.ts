/**
 * Linting whole files (for the CLI): a .py file is one source; a notebook is its code
 * cells, with the imports of every cell known to all of them (as in the kernel).
 */
import { readNotebook } from '../notebook';
import {
  analyze,
  collectDeviceNames,
  collectLiterals,
  collectImports,
  IDeviceProfile,
  ILintFinding
} from './analyzer';

export interface IFileFinding extends ILintFinding {
  file: string;
  /** 1-based index among the notebook's cells (all cells), or null for a .py file. */
  cell: number | null;
}

export function lintFile(file: string, text: string, profile: IDeviceProfile): IFileFinding[] {
  if (!file.endsWith('.ipynb')) {
    return analyze(text, profile).map(f => ({ ...f, file, cell: null }));
  }
  const cells = readNotebook(text);
  // What one cell imports or binds to a device string, the others see (as in the kernel).
  const imports = new Map<string, string>();
  const deviceNames = new Map<string, string | null>();
  const literals = new Map<string, string>();
  for (const cell of cells) {
    if (cell.code) {
      importLines(cell.source).forEach((path, alias) => imports.set(alias, path));
      collectDeviceNames(cell.source).forEach((value, name) => deviceNames.set(name, value));
      collectLiterals(cell.source).forEach((value, name) => literals.set(name, value));
    }
  }
  const findings: IFileFinding[] = [];
  cells.forEach(cell => {
    if (cell.code) {
      findings.push(
        ...analyze(cell.source, profile, { imports, deviceNames, literals }).map(f => ({
          ...f,
          file,
          cell: cell.number
        }))
      );
    }
  });
  return findings;
}

/** The imports of a source, parsing only its import lines (cheap on large notebooks). */
export function importLines(source: string): Map<string, string> {
  const lines = source
    .split('\n')
    .filter(line => /^\s*(import|from)\s/.test(line))
    .join('\n');
  return lines ? collectImports(lines) : new Map();
}

/**
 * The TypeScript half of the `gpuscope` command (bundled into the Python package as
 * gpuscope-cli.js and run by `gpuscope lint` / `gpuscope explain-error` with Node; the
 * Python half, `gpuscope diagnose` / `explain`, needs no Node):
 *
 *   gpuscope lint FILES... --target GPU [--gpus N] [--torch VERSION] [--json]
 *                                          capability warnings for .py and .ipynb files
 *   gpuscope explain-error [FILE] [--json] explanations of the GPU errors in a traceback
 *                                          (standard input without FILE) or in a notebook's outputs
 *
 * Exit status: 0 nothing at error level, 1 an error-level warning (lint), 2 bad usage or
 * unreadable input, 3 the tool itself failed. explain-error: 0 when it recognised a GPU
 * error, 1 when it recognised none (as grep does), 2 and 3 as above.
 *
 * Inputs are read only when they are regular files (or standard input) of at most
 * MAX_INPUT_BYTES; what is printed has no terminal control characters (a log's escape
 * sequences could otherwise set the terminal's title or write its clipboard).
 */
import * as fs from 'fs';
import { parseArgs } from 'util';

import { explainError, IExplanation, toMarkdown, toText } from '../core/explain/matcher';
import { failureText } from '../core/explain/outputs';
import { readNotebook } from '../core/notebook';
import { IFileFinding, lintFile } from '../core/lint/files';
import { printable } from '../core/markdown';
import './parser';
import { profileForTarget } from '../core/profiles/targets';

const USAGE = `usage:
  gpuscope lint FILES... --target GPU [--gpus N] [--torch VERSION] [--json]
      capability warnings for .py and .ipynb files, for a GPU given by name ("T4",
      "A100") or compute capability ("7.5"), or "cpu" for a machine without a GPU;
      --torch 2.13.0+cpu checks against a CPU-only torch build
  gpuscope explain-error [FILE] [--json | --markdown]
      what a CUDA error means and how to fix it, for a traceback or log on standard
      input (or FILE), or for every cell output of a notebook (FILE.ipynb);
      --markdown writes it for pasting into an issue or a chat
  gpuscope diagnose | explain      (Python: see gpuscope --help)`;

export interface IOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const EXIT = { ok: 0, finding: 1, usage: 2, broken: 3 } as const;

/** The same limit as the Python CLI's: far more than any notebook or log worth reading. */
export const MAX_INPUT_BYTES = 16 * 2 ** 20;

export function main(argv: string[], output: IOutput = defaultOutput): number {
  const [command, ...rest] = argv;
  const io: IOutput = {
    out: text => output.out(printable(text)),
    err: text => output.err(printable(text))
  };
  try {
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(USAGE);
      return EXIT.ok;
    }
    if (command === 'lint') {
      return lint(rest, io);
    }
    if (command === 'explain-error') {
      return explainErrorCommand(rest, io);
    }
    io.err(command ? `gpuscope: unknown command "${command}"\n${USAGE}` : USAGE);
    return EXIT.usage;
  } catch (error) {
    io.err(`gpuscope ${command}: ${(error as Error).message}`);
    return (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ? EXIT.usage
      : EXIT.broken;
  }
}

function lint(args: string[], io: IOutput): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      target: { type: 'string' },
      gpus: { type: 'string', default: '1' },
      torch: { type: 'string', default: '' },
      json: { type: 'boolean', default: false }
    }
  });
  if (!values.target || !positionals.length) {
    io.err(`gpuscope lint: give files and --target\n${USAGE}`);
    return EXIT.usage;
  }
  const gpus = Number(values.gpus);
  if (!Number.isInteger(gpus) || gpus < 1) {
    io.err('gpuscope lint: --gpus must be a whole number of 1 or more');
    return EXIT.usage;
  }
  const profile = profileForTarget(values.target, gpus, values.torch);
  if (!profile) {
    io.err(
      `gpuscope lint: unknown GPU "${values.target}": give a name such as T4, A100, H100, or a compute capability such as 7.5`
    );
    return EXIT.usage;
  }
  const results: IFileFinding[] = [];
  let errors = 0;
  let unreadable = 0;
  for (const file of positionals) {
    let text: string;
    try {
      text = readInput(file);
    } catch (error) {
      io.err(`gpuscope lint: ${file}: ${(error as Error).message}`);
      unreadable++;
      continue;
    }
    try {
      for (const finding of lintFile(file, text, profile)) {
        results.push(finding); // one by one: spreading 100,000 findings overflows the stack
        errors += Number(finding.severity === 'error');
      }
    } catch (error) {
      io.err(`gpuscope lint: ${file}: ${(error as Error).message}`);
      unreadable++;
    }
  }
  if (values.json) {
    io.out(JSON.stringify({ target: profile, findings: results }, null, 1));
  } else {
    for (const f of results) {
      const where =
        f.cell !== null
          ? `${f.file}:cell ${f.cell}:${f.line}:${f.column}`
          : `${f.file}:${f.line}:${f.column}`;
      io.out(`${where}: ${f.severity} [${f.rule}] ${f.message}\n    fix: ${f.fix}`);
    }
    io.out(
      `${results.length} finding${results.length === 1 ? '' : 's'}, ${errors} error${errors === 1 ? '' : 's'} for ${profile.name ?? 'a machine without a GPU'}${profile.cc ? ` (${profile.cc})` : ''}`
    );
  }
  return unreadable ? EXIT.usage : errors ? EXIT.finding : EXIT.ok;
}

function explainErrorCommand(args: string[], io: IOutput): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false }
    }
  });
  if (positionals.length > 1) {
    io.err(`gpuscope explain-error: give at most one file\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.json && values.markdown) {
    io.err(`gpuscope explain-error: --json and --markdown exclude each other\n${USAGE}`);
    return EXIT.usage;
  }
  const render = values.markdown ? toMarkdown : toText;
  const asJson = values.json;
  const files = positionals;
  const file = files[0] ?? '-';
  let sections: { cell: number | null; text: string }[];
  try {
    const text = readInput(file);
    sections = file.endsWith('.ipynb') ? notebookSections(text) : [{ cell: null, text }];
  } catch (error) {
    io.err(`gpuscope explain-error: ${file}: ${(error as Error).message}`);
    return EXIT.usage;
  }
  const results: { cell: number | null; explanation: IExplanation }[] = [];
  for (const { cell, text } of sections) {
    for (const explanation of explainError(text)) {
      results.push({ cell, explanation });
    }
  }
  if (asJson) {
    io.out(JSON.stringify({ explanations: results }, null, 1));
  } else if (!results.length) {
    io.out('No known GPU error found.');
  } else {
    io.out(
      results
        .map(
          ({ cell, explanation }) =>
            (cell !== null ? `Cell ${cell}: ` : '') +
            render(explanation)
              .replace(/%pip /g, 'pip ')
              .replace(/%env (\w+)=/g, 'export $1=')
        )
        .join(values.markdown ? '\n\n---\n\n' : '\n\n' + '-'.repeat(72) + '\n\n')
    );
  }
  return results.length ? EXIT.ok : EXIT.finding;
}

/**
 * A regular file's text (standard input's for "-"), at most MAX_INPUT_BYTES: a device, a
 * FIFO or a huge file is refused before it is read.
 */
function readInput(file: string): string {
  const limit = `${MAX_INPUT_BYTES / 2 ** 20} MiB`;
  const fd = file === '-' ? 0 : fs.openSync(file, 'r');
  try {
    if (file !== '-') {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile()) {
        throw new Error(stat.isDirectory() ? 'a directory, not a file' : 'not a regular file');
      }
      if (stat.size > MAX_INPUT_BYTES) {
        throw new Error(`larger than ${limit}`);
      }
    }
    const buffer = Buffer.alloc(MAX_INPUT_BYTES + 1);
    let size = 0;
    for (;;) {
      const read = readSome(fd, buffer, size);
      if (!read) {
        break;
      }
      size += read;
      if (size > MAX_INPUT_BYTES) {
        throw new Error(`larger than ${limit}`);
      }
    }
    return buffer.toString('utf-8', 0, size);
  } finally {
    if (fd !== 0) {
      fs.closeSync(fd);
    }
  }
}

/** One read into `buffer` at `offset`; standard input may say "try again" (EAGAIN). */
function readSome(fd: number, buffer: Buffer, offset: number): number {
  for (;;) {
    try {
      return fs.readSync(fd, buffer, offset, buffer.length - offset, null);
    } catch (error) {
      if ((error as { code?: string }).code === 'EOF') {
        return 0;
      }
      if ((error as { code?: string }).code !== 'EAGAIN') {
        throw error;
      }
    }
  }
}

/** The failure text of each code cell with outputs. */
function notebookSections(text: string): { cell: number; text: string }[] {
  return readNotebook(text)
    .filter(cell => cell.outputs.length)
    .map(cell => ({ cell: cell.number, text: failureText(cell.outputs) }));
}

const defaultOutput: IOutput = {
  out: text => process.stdout.write(text + '\n'),
  err: text => process.stderr.write(text + '\n')
};

if (require.main === module) {
  // The bundled gpuscope-cli.js, run by the Python `gpuscope` command.
  process.exitCode = main(process.argv.slice(2));
}

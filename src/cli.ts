/**
 * `gpuscope`: the project's command line, for CI pipelines and pre-commit hooks.
 *
 *   gpuscope explain FACTS.json [--json]   findings for a facts file from the collector
 *                                          (python -m jupyterlab_gpuscope.diagnose --json)
 *   gpuscope lint FILES... --target GPU [--gpus N] [--torch VERSION] [--json]
 *                                          capability warnings for .py and .ipynb files
 *   gpuscope explain-error [FILE] [--json] explanations of the GPU errors in a traceback
 *                                          (standard input without FILE) or in a notebook's outputs
 *
 * Exit status: 0 when nothing failed, 1 when a finding is a failure (explain) or an
 * error-level warning exists (lint), 2 on bad usage or unreadable input. explain-error:
 * 0 when it recognised a GPU error, 1 when it recognised none.
 */
import * as fs from 'fs';

import { diagnose, IFinding, summarize } from './doctor/doctor';
import { factsProblem, IFacts } from './doctor/facts';
import { explainError, IExplanation, toMarkdown } from './explain/matcher';
import { failureText, IOutputJSON } from './explain/outputs';
import { lintFile } from './lint/files';
import './lint/node';
import { profileForTarget } from './lint/targets';

const USAGE = `usage:
  gpuscope explain FACTS.json [--json]
      the diagnostic's findings for a facts file made by
      python -m jupyterlab_gpuscope.diagnose --json > FACTS.json   (- reads standard input)
  gpuscope lint FILES... --target GPU [--gpus N] [--torch VERSION] [--json]
      capability warnings for .py and .ipynb files, for a GPU given by name ("T4",
      "A100") or compute capability ("7.5"), or "cpu" for a machine without a GPU;
      --torch 2.13.0+cpu checks against a CPU-only torch build
  gpuscope explain-error [FILE] [--json]
      what a CUDA error means and how to fix it, for a traceback or log on standard
      input (or FILE), or for every cell output of a notebook (FILE.ipynb)`;

export interface IOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

const SYMBOL = { fail: 'FAIL', warn: 'WARN', pass: 'PASS' };

export function main(argv: string[], io: IOutput = defaultOutput): number {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  if (command === 'lint') {
    return lint(rest, io);
  }
  if (command === 'explain-error') {
    return explainErrorCommand(rest, io);
  }
  if (command !== 'explain') {
    io.err(command ? `gpuscope: unknown command "${command}"\n${USAGE}` : USAGE);
    return 2;
  }
  const asJson = rest.includes('--json');
  const files = rest.filter(a => a !== '--json');
  if (files.length !== 1) {
    io.err(`gpuscope explain: give one facts file\n${USAGE}`);
    return 2;
  }
  let facts: IFacts;
  try {
    const text = files[0] === '-' ? fs.readFileSync(0, 'utf-8') : fs.readFileSync(files[0], 'utf-8');
    const parsed = JSON.parse(text);
    const problem = factsProblem(parsed);
    if (problem) {
      io.err(`gpuscope explain: ${files[0]}: ${problem}`);
      return 2;
    }
    facts = parsed;
  } catch (error) {
    io.err(`gpuscope explain: ${files[0]}: ${(error as Error).message}`);
    return 2;
  }
  const findings = diagnose(facts);
  if (asJson) {
    io.out(JSON.stringify({ summary: summarize(findings), findings }, null, 1));
  } else {
    io.out(`GPU diagnostic: ${summarize(findings)}\n`);
    for (const f of findings) {
      io.out(formatFinding(f));
    }
  }
  return findings.some(f => f.severity === 'fail') ? 1 : 0;
}

function lint(args: string[], io: IOutput): number {
  const files: string[] = [];
  let targetName: string | null = null;
  let gpus = 1;
  let torch = '';
  let asJson = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') {
      asJson = true;
    } else if (arg === '--target') {
      targetName = args[++i] ?? null;
    } else if (arg === '--torch') {
      torch = args[++i] ?? '';
    } else if (arg === '--gpus') {
      gpus = Number(args[++i]);
    } else if (arg.startsWith('--')) {
      io.err(`gpuscope lint: unknown option ${arg}\n${USAGE}`);
      return 2;
    } else {
      files.push(arg);
    }
  }
  if (!targetName || !files.length) {
    io.err(`gpuscope lint: give files and --target\n${USAGE}`);
    return 2;
  }
  if (!Number.isInteger(gpus) || gpus < 1) {
    io.err('gpuscope lint: --gpus must be a whole number of 1 or more');
    return 2;
  }
  const profile = profileForTarget(targetName, gpus, torch);
  if (!profile) {
    io.err(`gpuscope lint: unknown GPU "${targetName}": give a name such as T4, A100, H100, or a compute capability such as 7.5`);
    return 2;
  }
  const results = [];
  let errors = 0;
  let unreadable = 0;
  for (const file of files) {
    try {
      const findings = lintFile(file, fs.readFileSync(file, 'utf-8'), profile);
      results.push(...findings);
      errors += findings.filter(f => f.severity === 'error').length;
    } catch (error) {
      io.err(`gpuscope lint: ${file}: ${(error as Error).message}`);
      unreadable++;
    }
  }
  if (asJson) {
    io.out(JSON.stringify({ target: profile, findings: results }, null, 1));
  } else {
    for (const f of results) {
      const where = f.cell !== null ? `${f.file}:cell ${f.cell}:${f.line}:${f.column}` : `${f.file}:${f.line}:${f.column}`;
      io.out(`${where}: ${f.severity} [${f.rule}] ${f.message}\n    fix: ${f.fix}`);
    }
    io.out(`${results.length} finding(s), ${errors} error(s) for ${profile.name ?? 'a machine without a GPU'}${profile.cc ? ` (${profile.cc})` : ''}`);
  }
  return unreadable ? 2 : errors ? 1 : 0;
}

function explainErrorCommand(args: string[], io: IOutput): number {
  const asJson = args.includes('--json');
  const files = args.filter(a => a !== '--json');
  const unknown = files.find(a => a.startsWith('--'));
  if (unknown || files.length > 1) {
    io.err(`gpuscope explain-error: ${unknown ? `unknown option ${unknown}` : 'give at most one file'}\n${USAGE}`);
    return 2;
  }
  const file = files[0] ?? '-';
  let sections: { cell: number | null; text: string }[];
  try {
    const text = file === '-' ? fs.readFileSync(0, 'utf-8') : fs.readFileSync(file, 'utf-8');
    sections = file.endsWith('.ipynb') ? notebookSections(text) : [{ cell: null, text }];
  } catch (error) {
    io.err(`gpuscope explain-error: ${file}: ${(error as Error).message}`);
    return 2;
  }
  const results: { cell: number | null; explanation: IExplanation }[] = [];
  for (const { cell, text } of sections) {
    results.push(...explainError(text).map(explanation => ({ cell, explanation })));
  }
  if (asJson) {
    io.out(JSON.stringify({ explanations: results }, null, 1));
  } else if (!results.length) {
    io.out('No known GPU error found.');
  } else {
    io.out(
      results
        .map(({ cell, explanation }) => (cell !== null ? `Cell ${cell}: ` : '') + toMarkdown(explanation).replace(/%pip /g, 'pip ').replace(/%env (\w+)=/g, 'export $1='))
        .join('\n\n---\n\n')
    );
  }
  return results.length ? 0 : 1;
}

/** The failure text of each code cell with outputs (cells numbered from 1). */
function notebookSections(text: string): { cell: number; text: string }[] {
  const notebook = JSON.parse(text) as { cells?: unknown };
  if (!Array.isArray(notebook.cells)) {
    throw new Error('not a notebook: it has no "cells" list');
  }
  return notebook.cells.flatMap((cell: { outputs?: unknown }, i: number) =>
    Array.isArray(cell?.outputs) ? [{ cell: i + 1, text: failureText(cell.outputs as IOutputJSON[]) }] : []
  );
}

function formatFinding(f: IFinding): string {
  const lines = [`${SYMBOL[f.severity]}  ${f.title}`, `      ${f.cause}`];
  if (f.fix) {
    lines.push(`      fix: ${f.fix}`);
  }
  if (f.sources.length) {
    lines.push(`      sources: ${f.sources.map(s => s.key).join(', ')}`);
  }
  return lines.join('\n');
}

const defaultOutput: IOutput = {
  out: text => process.stdout.write(text + '\n'),
  err: text => process.stderr.write(text + '\n')
};

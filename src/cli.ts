/**
 * `gpuscope`: the project's command line, for CI pipelines and pre-commit hooks.
 *
 *   gpuscope explain FACTS.json [--json]   findings for a facts file from the collector
 *                                          (python -m jupyterlab_gpuscope.diagnose --json)
 *   gpuscope lint FILES... --target GPU [--gpus N] [--torch VERSION] [--json]
 *                                          capability warnings for .py and .ipynb files
 *
 * Exit status: 0 when nothing failed, 1 when a finding is a failure (explain) or an
 * error-level warning exists (lint), 2 on bad usage or unreadable input.
 */
import * as fs from 'fs';

import { diagnose, IFinding, summarize } from './doctor/doctor';
import { factsProblem, IFacts } from './doctor/facts';
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
      --torch 2.13.0+cpu checks against a CPU-only torch build`;

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

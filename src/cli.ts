/**
 * `gpuscope`: the project's command line, for CI pipelines and pre-commit hooks.
 *
 *   gpuscope explain FACTS.json [--json]   findings for a facts file from the collector
 *                                          (python -m jupyterlab_gpuscope.diagnose --json)
 *
 * Exit status: 0 when nothing failed, 1 when a finding is a failure, 2 on bad usage or
 * unreadable input.
 */
import * as fs from 'fs';

import { diagnose, IFinding, summarize } from './doctor/doctor';
import { factsProblem, IFacts } from './doctor/facts';

const USAGE = `usage: gpuscope explain FACTS.json [--json]
  Prints the diagnostic's findings for a facts file made by
  python -m jupyterlab_gpuscope.diagnose --json > FACTS.json   (use - to read standard input)`;

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

import '../../../cli/parser';
import fc from 'fast-check';

import { analyze, analyzeStrict, collectImports, IDeviceProfile } from '../analyzer';

const T4: IDeviceProfile = {
  source: 'target',
  hasGPU: true,
  cc: '7.5',
  name: 'T4',
  deviceCount: 1
};
const CPU: IDeviceProfile = {
  source: 'kernel',
  hasGPU: false,
  cc: null,
  name: null,
  deviceCount: 0
};

// Python-ish token soup: the input a user produces while typing, plus broken pieces.
const TOKENS = [
  'import torch',
  'import torch as t',
  'from torch import bfloat16',
  'torch',
  '.',
  'bfloat16',
  'cuda',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '=',
  '"cuda:3"',
  "'cuda'",
  '"""',
  "'",
  '"',
  '#',
  '# gpuscope: ignore[',
  '%',
  '%%',
  '!',
  '?',
  '\n',
  '    ',
  '\t',
  'def',
  'class',
  'with',
  'as',
  'lambda',
  'f"',
  '\\',
  '@',
  '**',
  'x',
  '.cuda()',
  '.to(',
  'device=',
  'dtype=',
  'torch.compile',
  'SDPBackend.FLASH_ATTENTION',
  '0',
  '1e9',
  '\u0000',
  '😀'
];
const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 200 }).map(parts => parts.join(' '));

function check(source: string) {
  for (const profile of [T4, CPU]) {
    // The inner function: analyze() itself catches everything, so it could never fail here.
    const findings = analyzeStrict(source, profile, {});
    expect(analyze(source, profile)).toEqual(findings);
    for (const f of findings) {
      // Positions stay inside the source and agree with line / column.
      expect(f.from).toBeGreaterThanOrEqual(0);
      expect(f.to).toBeLessThanOrEqual(source.length);
      const lines = source.slice(0, f.from).split('\n');
      expect(f.line).toBe(lines.length);
      expect(f.column).toBe(lines[lines.length - 1].length + 1);
    }
  }
  collectImports(source);
}

describe('the analyzer never throws', () => {
  it('on random unicode', () => {
    fc.assert(fc.property(fc.fullUnicodeString({ maxLength: 500 }), check), { numRuns: 300 });
  });

  it('on Python-like token soup', () => {
    fc.assert(fc.property(soup, check), { numRuns: 500 });
  });

  it('on binary junk', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), bytes =>
        check(String.fromCharCode(...bytes))
      ),
      { numRuns: 200 }
    );
  });

  it('on unterminated strings and brackets', () => {
    for (const source of [
      'x = "cuda',
      "x = '''torch.bfloat16",
      'f(torch.bfloat16, (',
      '"""\n'.repeat(1000),
      ')]}'.repeat(1000)
    ]) {
      check(source);
    }
  });

  it('on deep nesting, and still finds what is inside', () => {
    const depth = 20000;
    const source = '('.repeat(depth) + 'torch.bfloat16' + ')'.repeat(depth);
    check(source);
    expect(analyze(source, T4).map(f => f.rule)).toEqual(['bf16-unsupported']);
    const bracketed = '['.repeat(depth) + 'x' + ']'.repeat(depth);
    check(bracketed);
  });

  it('on a 10 MB cell, in bounded time', () => {
    const line = 'y = torch.zeros(8, dtype=torch.float16, device=dev)  # an ordinary line\n';
    const source = line.repeat(Math.ceil((10 * 2 ** 20) / line.length)) + 'z = torch.bfloat16\n';
    const started = Date.now();
    const findings = analyze(source, T4);
    // Not a speed target (see bench/): a guard against runaway work on huge input.
    expect(Date.now() - started).toBeLessThan(30000);
    expect(findings.map(f => f.rule)).toEqual(['bf16-unsupported']);
  });
});

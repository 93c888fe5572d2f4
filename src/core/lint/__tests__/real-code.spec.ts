/**
 * The linter on patterns from public training code: every finding a user should get
 * appears (recall); bench/lint_quality.js also counts what else is said (precision).
 */
import '../../../cli/parser';
import { analyze } from '../analyzer';
import { profileForTarget } from '../../profiles/targets';
import corpus from './fixtures/real-code.json';

describe('capability warnings on patterns from public training code', () => {
  for (const c of corpus.cases) {
    it(`${c.note} (${c.target}): ${c.source}`, () => {
      const profile = profileForTarget(c.target, c.gpus, c.torch)!;
      const found = analyze(c.code, profile).map(f => `${f.rule}@${f.line}`);
      expect(found).toEqual(expect.arrayContaining(c.expect.map(e => `${e.rule}@${e.line}`)));
    });
  }
});

/**
 * The explainer on error texts quoted in public issue threads: every one gets the right
 * explanation first, and ordinary output from the same threads stays quiet.
 */
import { explainError } from '../matcher';
import corpus from './fixtures/real-errors.json';

describe('real error texts from public issue threads', () => {
  for (const c of corpus.explained) {
    it(`${c.expect.join(' + ')}: ${c.source}`, () => {
      const ids = explainError(c.text).map(e => e.id);
      expect(ids[0]).toBe(c.expect[0]);
      expect(ids).toEqual(expect.arrayContaining(c.expect));
    });
  }

  for (const c of corpus.quiet) {
    it(`stays quiet: ${c.source}`, () => {
      expect(explainError(c.text).map(e => e.id)).toEqual([]);
    });
  }
});

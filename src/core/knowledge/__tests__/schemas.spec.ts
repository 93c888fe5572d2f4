/**
 * The knowledge base and the diagnostic's report are checked data: both validate against
 * their JSON Schemas (pytest holds the Python side to the same schemas).
 */
import Ajv2020 from 'ajv/dist/2020';

import codes from '../error-codes.json';
import inventory from '../error-inventory.json';
import inventorySchema from '../error-inventory.schema.json';
import codesSchema from '../error-codes.schema.json';
import errors from '../errors.json';
import errorsSchema from '../errors.schema.json';
import kb from '../kb.json';
import kbSchema from '../kb.schema.json';
import reportSchema from '../report.schema.json';
import h200Report from '../../../../python/jupyterlab_gpuscope/tests/facts/h200-report.json';

function validate(schema: object, data: unknown): string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const check = ajv.compile(schema);
  check(data);
  return (check.errors ?? []).map(e => `${e.instancePath} ${e.message}`);
}

describe('the knowledge base', () => {
  it('validates against kb.schema.json', () => {
    expect(validate(kbSchema, kb)).toEqual([]);
  });

  it('is refused when a version is written as prose', () => {
    const broken = JSON.parse(JSON.stringify(kb));
    broken.features.bf16.min_cc = '8.0 or newer';
    expect(validate(kbSchema, broken).join('\n')).toContain('/features/bf16/min_cc');
  });
});

describe("the error explainer's knowledge", () => {
  it('errors.json, error-codes.json and error-inventory.json validate against their schemas', () => {
    expect(validate(errorsSchema, errors)).toEqual([]);
    expect(validate(codesSchema, codes)).toEqual([]);
    expect(validate(inventorySchema, inventory)).toEqual([]);
  });

  it('every family, status format and message names sources the knowledge base has', () => {
    const known = new Set(Object.keys(kb.sources));
    const cited = [
      ...errors.families.flatMap(f => f.source),
      ...errors.statuses.flatMap(s => s.source),
      ...inventory.messages.map(m => m.source),
      ...inventory.quiet.map(q => q.source)
    ];
    expect(cited.filter(key => !known.has(key))).toEqual([]);
  });

  it('every family a code, a message or a supersedes list names exists, and ids are unique', () => {
    const ids = errors.families.map(f => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    const named = [
      ...Object.values(errors.code_families).flatMap(t => [
        t.default,
        ...Object.values(t.families as Record<string, string | null>)
      ]),
      ...inventory.messages.map(m => m.family),
      ...errors.families.flatMap(f => (f as { supersedes?: string[] }).supersedes ?? [])
    ].filter((id): id is string => id !== null);
    expect(named.filter(id => !ids.includes(id))).toEqual([]);
  });

  it('every mined code of every library has a family (or is no error)', () => {
    for (const [library, table] of Object.entries(codes.libraries)) {
      const families = (errors.code_families as Record<string, { families: object }>)[library];
      expect({
        library,
        missing: table.codes.map(c => c.name).filter(n => !(n in families.families))
      }).toEqual({
        library,
        missing: []
      });
    }
  });

  it('is refused with a status format that captures neither a name nor a string', () => {
    const broken = JSON.parse(JSON.stringify(errors));
    broken.statuses[0].pattern = 'CUDA error: (.+)';
    expect(validate(errorsSchema, broken).join('\n')).toContain('/statuses/0/pattern');
  });
});

describe('the diagnostic report the frontend renders', () => {
  it('validates against report.schema.json (a real H200 report)', () => {
    expect(validate(reportSchema, h200Report)).toEqual([]);
  });

  it('is refused with a severity the report cannot show', () => {
    const broken = JSON.parse(JSON.stringify(h200Report));
    broken.findings[0].severity = 'ok';
    expect(validate(reportSchema, broken).join('\n')).toContain('/findings/0/severity');
  });
});

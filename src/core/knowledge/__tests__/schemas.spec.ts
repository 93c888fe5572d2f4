/**
 * The knowledge base and the diagnostic's report are checked data: both validate against
 * their JSON Schemas (pytest holds the Python side to the same schemas).
 */
import Ajv2020 from 'ajv/dist/2020';

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

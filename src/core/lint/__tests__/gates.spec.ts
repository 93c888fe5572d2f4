/**
 * The gates the libraries check (knowledge/gates.json) against the lint rules: every gate
 * has a rule with the same condition, its example is flagged where the gate refuses, on
 * the setting itself, and nothing is said where the gate lets it through. Every rule about
 * what a GPU can do comes from a gate.
 */
import Ajv2020 from 'ajv/dist/2020';

import '../../../cli/parser';
import { analyze, IDeviceProfile } from '../analyzer';
import { capabilityRules, gateTargets } from '../gates';
import { lintRules } from '../../knowledge';
import kb from '../../knowledge/kb.json';
import gates from '../../knowledge/gates.json';
import gatesSchema from '../../knowledge/gates.schema.json';

const rule = (id: string) => lintRules().find(r => r.id === id);
const SEVERITIES: Record<string, string[]> = {
  raises: ['error', 'warning'],
  'falls-back': ['warning'],
  emulated: ['warning'],
  'no-effect': ['info']
};

describe('the gates inventory', () => {
  it('validates against gates.schema.json, with unique ids and sources the knowledge base has', () => {
    const check = new Ajv2020({ allErrors: true, strict: false }).compile(gatesSchema);
    expect(check(gates) ? [] : check.errors).toEqual([]);
    const ids = gates.gates.map(g => g.id);
    expect(new Set(ids).size).toBe(ids.length);
    const known = new Set(Object.keys(kb.sources));
    expect(gates.gates.flatMap(g => g.source).filter(key => !known.has(key))).toEqual([]);
  });

  it('each gate names a rule with the same condition and a severity that fits what the library does', () => {
    const wrong = gates.gates.filter(g => {
      const r = rule(g.rule);
      return (
        !r ||
        JSON.stringify(r.when) !== JSON.stringify(g.condition) ||
        !SEVERITIES[g.outcome].includes(r.severity)
      );
    });
    expect(wrong.map(g => g.id)).toEqual([]);
  });

  it('every rule about what a GPU can run comes from at least one gate', () => {
    const gated = new Set(gates.gates.map(g => g.rule));
    expect([...capabilityRules()].filter(id => !gated.has(id))).toEqual([]);
  });
});

describe('each gate, linted where it refuses and where it does not', () => {
  const findings = (code: string, profile: IDeviceProfile) => analyze(code, profile);
  const capability = capabilityRules();
  it.each(gates.gates.map(g => [g.id, g]))('%s', (_, gate) => {
    const { refused, allowed } = gateTargets(gate.condition);
    const said = findings(gate.example, refused).filter(f => f.rule === gate.rule);
    expect(said.map(f => gate.example.slice(f.from, f.to))).toEqual([gate.points_at]);
    // Where the gate lets it through no capability warning is left (advice may be).
    const left = findings(gate.example, allowed).filter(f => capability.has(f.rule));
    expect(left.map(f => f.rule)).toEqual([]);
  });
});

/**
 * The knowledge base's shared questions, answered by compat.ts as conformance.json says
 * (python/jupyterlab_gpuscope/tests/test_conformance.py holds knowledge.py to the same cases).
 */
import * as fs from 'fs';
import * as path from 'path';

import {
  archCovers,
  installCommand,
  jetson,
  lastDriverBranch,
  platformKey,
  visibleDevices,
  wheelAdvice
} from '../compat';

const CASES: Record<string, any[]> = JSON.parse(
  fs.readFileSync(
    path.join(__dirname, '../../../../python/jupyterlab_gpuscope/tests/conformance.json'),
    'utf-8'
  )
);

/** Every expected field equals the actual one; null stands for absent. */
function expectFields(
  actual: Record<string, unknown> | undefined,
  expected: Record<string, unknown>
): void {
  for (const [key, want] of Object.entries(expected)) {
    const got = actual?.[key] ?? null;
    if (want !== null && typeof want === 'object') {
      expect(typeof got).toBe('object');
      expectFields(got as Record<string, unknown>, want as Record<string, unknown>);
    } else {
      expect({ [key]: got }).toEqual({ [key]: want });
    }
  }
}

describe('the knowledge base answers as the Python side does', () => {
  for (const c of CASES.wheel_advice) {
    it(`wheel advice: ${c.name}`, () => {
      const { cc, platform, driver_version, driver_cuda } = c.args;
      const advice = wheelAdvice(cc, platform, driver_version, driver_cuda);
      expectFields(advice as unknown as Record<string, unknown>, c.expect);
      if (advice.kind !== 'none') {
        expect(advice.command).toBe(installCommand(advice.torch!, advice.variant!));
      }
    });
  }

  for (const c of CASES.install_command) {
    it(`install command: ${c.expect}`, () => {
      expect(installCommand(c.args.torch, c.args.variant)).toBe(c.expect);
    });
  }

  for (const c of CASES.arch_covers) {
    it(`arch list coverage of ${c.args.cc} by ${c.args.archs.join(' ')}`, () => {
      expect(archCovers(c.args.archs, c.args.cc)).toBe(c.expect);
    });
  }

  for (const c of CASES.driver_limits) {
    it(`driver limits: ${c.name}`, () => {
      expect(jetson(c.args.cc)).toBe(c.expect.jetson);
      expect(lastDriverBranch(c.args.cc)?.branch ?? null).toBe(c.expect.last_branch);
    });
  }

  for (const c of CASES.platform_key) {
    it(`platform ${c.expect}`, () => {
      expect(platformKey(c.args.system, c.args.machine)).toBe(c.expect);
    });
  }

  for (const c of CASES.visible_devices) {
    it(`CUDA_VISIBLE_DEVICES: ${c.name}`, () => {
      const seen = visibleDevices(c.args.value, c.args.devices);
      expect(seen.set).toBe(c.expect.set);
      expect(seen.visible.map(v => v.device)).toEqual(c.expect.devices);
      expect(seen.invalid).toBe(c.expect.invalid);
      if (c.expect.mig) {
        expect(seen.visible.map(v => v.mig)).toEqual(c.expect.mig);
      }
    });
  }
});

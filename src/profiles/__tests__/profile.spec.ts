import { collectorReply, FakeAPI, flush } from '../../__tests__/fakes';
import {
  answer,
  changeStatus,
  IAnswer,
  kernelOf,
  sessionWithKernel,
  setStatus
} from '../../__tests__/kernels';
import type { IDeviceProfile } from '../../core/lint/analyzer';
import { PROBE_MIME, profileFromProbe } from '../../core/profiles/probe';
import { profileForTarget } from '../../core/profiles/targets';
import { ProfileStore } from '../store';

const h200x2 = {
  available: true,
  error: null,
  devices: [
    { index: 0, name: 'NVIDIA H200', cc: '9.0' },
    { index: 1, name: 'NVIDIA H200', cc: '9.0' }
  ]
};

describe('device profiles', () => {
  it('from the kernel probe: visible GPUs after CUDA_VISIBLE_DEVICES', () => {
    expect(
      profileFromProbe({ driver: h200x2, cuda_visible_devices: null, torch: '2.11.0+cu130' })
    ).toMatchObject({
      source: 'kernel',
      hasGPU: true,
      cc: '9.0',
      name: 'NVIDIA H200',
      deviceCount: 2
    });
    expect(
      profileFromProbe({ driver: h200x2, cuda_visible_devices: '1', torch: '2.11.0' }).deviceCount
    ).toBe(1);
    // CUDA stops at the first index it cannot resolve.
    expect(
      profileFromProbe({ driver: h200x2, cuda_visible_devices: '0,7,1', torch: '2.11.0' })
        .deviceCount
    ).toBe(1);
  });

  it("from the kernel probe on a MIG slice: the parent's compute capability, the slice's memory", () => {
    // The facts collector's MIG devices, as on an H200 split into 3g.71gb and 1g.18gb.
    const mig = {
      available: true,
      error: null,
      devices: [
        {
          index: 0,
          name: 'NVIDIA H200',
          cc: '9.0',
          memory_total: 150754820096,
          mig: [
            { uuid: 'MIG-aaa', name: 'NVIDIA H200 MIG 3g.71gb', memory_total: 71424 * 2 ** 20 },
            { uuid: 'MIG-bbb', name: 'NVIDIA H200 MIG 1g.18gb', memory_total: 16384 * 2 ** 20 }
          ]
        }
      ]
    };
    expect(
      profileFromProbe({ driver: mig, cuda_visible_devices: 'MIG-bbb', torch: '2.11.0+cu130' })
    ).toMatchObject({
      hasGPU: true,
      cc: '9.0',
      name: 'NVIDIA H200 MIG 1g.18gb',
      memoryTotal: 16384 * 2 ** 20,
      mig: { uuid: 'MIG-bbb', name: 'NVIDIA H200 MIG 1g.18gb' },
      visibleDevices: 'MIG-bbb'
    });
    // The whole GPU: its own memory, no MIG instance.
    expect(
      profileFromProbe({ driver: mig, cuda_visible_devices: '0', torch: '2.11.0+cu130' })
    ).toMatchObject({ memoryTotal: 150754820096, mig: null });
  });

  it('from the kernel probe: no usable GPU, and why', () => {
    expect(
      profileFromProbe({ driver: h200x2, cuda_visible_devices: '', torch: '2.11.0' })
    ).toMatchObject({
      hasGPU: false,
      noGPUReason: 'CUDA_VISIBLE_DEVICES="" hides every GPU'
    });
    expect(
      profileFromProbe({ driver: h200x2, cuda_visible_devices: null, torch: '2.13.0+cpu' })
        .noGPUReason
    ).toBe('torch 2.13.0+cpu is a CPU-only build');
    expect(
      profileFromProbe({
        driver: { available: false, error: 'x', devices: [] },
        cuda_visible_devices: null,
        torch: null
      }).noGPUReason
    ).toBe('no NVIDIA driver is visible to the kernel');
  });

  it("from the kernel probe: torch's build read from torch/version.py, whatever its version string says", () => {
    const build = (cuda: string | null) => ({ cuda, hip: null });
    // PyPI's CUDA wheel: no "+cu130" in the version, a CUDA build all the same.
    expect(
      profileFromProbe({
        driver: h200x2,
        cuda_visible_devices: null,
        torch: '2.11.0',
        torch_build: build('13.0'),
        platform: { system: 'Linux', machine: 'x86_64' }
      })
    ).toMatchObject({
      hasGPU: true,
      torchCuda: '13.0',
      platform: 'linux-x86_64'
    });
    // A CPU build without the "+cpu" suffix is still a CPU build.
    expect(
      profileFromProbe({
        driver: h200x2,
        cuda_visible_devices: null,
        torch: '2.11.0',
        torch_build: build(null)
      }).noGPUReason
    ).toBe('torch 2.11.0 is a CPU-only build');
    expect(
      profileFromProbe({
        driver: h200x2,
        cuda_visible_devices: null,
        torch: '2.11.0',
        torch_build: { cuda: null, hip: '6.4' }
      }).hasGPU
    ).toBe(true);
  });

  it('GPU and MIG UUIDs in CUDA_VISIBLE_DEVICES select those devices', () => {
    const withUuids = {
      ...h200x2,
      devices: [
        { index: 0, name: 'NVIDIA H200', cc: '9.0', uuid: 'GPU-aaaa', mig: [] },
        { index: 1, name: 'NVIDIA H100', cc: '9.0', uuid: 'GPU-bbbb', mig: [{ uuid: 'MIG-cccc' }] }
      ]
    };
    expect(
      profileFromProbe({ driver: withUuids, cuda_visible_devices: 'GPU-bbbb', torch: '2.11.0' })
    ).toMatchObject({ deviceCount: 1, name: 'NVIDIA H100' });
    expect(
      profileFromProbe({ driver: withUuids, cuda_visible_devices: 'MIG-cccc', torch: '2.11.0' })
        .name
    ).toBe('NVIDIA H100');
    expect(
      profileFromProbe({ driver: withUuids, cuda_visible_devices: 'MIG-none', torch: '2.11.0' })
        .hasGPU
    ).toBe(false);
  });

  it("an A100 + T4 machine with the T4's uuid is profiled as the T4; an unknown uuid as no GPU", () => {
    const mixed = {
      ...h200x2,
      devices: [
        { index: 0, name: 'NVIDIA A100-SXM4-80GB', cc: '8.0', uuid: 'GPU-a100', mig: [] },
        { index: 1, name: 'Tesla T4', cc: '7.5', uuid: 'GPU-7e4', mig: [] }
      ]
    };
    expect(
      profileFromProbe({ driver: mixed, cuda_visible_devices: 'GPU-7e4', torch: '2.11.0' })
    ).toMatchObject({ hasGPU: true, cc: '7.5', name: 'Tesla T4', deviceCount: 1 });
    const unknown = profileFromProbe({
      driver: mixed,
      cuda_visible_devices: 'GPU-ffff',
      torch: '2.11.0'
    });
    expect(unknown).toMatchObject({ hasGPU: false, deviceCount: 0 });
    expect(unknown.noGPUReason).toContain('GPU-ffff');
  });

  it('from a target setting', () => {
    expect(profileForTarget('T4', 2)).toMatchObject({
      source: 'target',
      hasGPU: true,
      cc: '7.5',
      deviceCount: 2
    });
    expect(profileForTarget('cpu', 1)).toMatchObject({ hasGPU: false, deviceCount: 0 });
    expect(profileForTarget('Voodoo', 1)).toBeNull();
    expect(profileForTarget('A100', 1, '2.13.0+cpu')).toMatchObject({
      hasGPU: false,
      noGPUReason: 'torch 2.13.0+cpu is a CPU-only build'
    });
  });
});

/** What the probe displays in a kernel with one T4 and this torch. */
function probeReply(torch: string): IAnswer {
  return {
    iopub: [
      {
        msgType: 'display_data',
        content: {
          metadata: {},
          data: {
            [PROBE_MIME]: {
              driver: {
                available: true,
                error: null,
                devices: [{ index: 0, name: 'Tesla T4', cc: '7.5' }]
              },
              cuda_visible_devices: null,
              torch
            }
          }
        }
      }
    ]
  };
}

/** A profile store whose server serves the collector. */
function probingStore(): ProfileStore {
  const api = new FakeAPI();
  api.collectorReply = collectorReply();
  return new ProfileStore(api);
}

describe('kernel probes', () => {
  it('probe again after a restart: a torch installed before restarting is seen', async () => {
    const session = sessionWithKernel();
    const kernel = kernelOf(session);
    const probes = answer(kernel, probeReply('2.13.0+cpu'));
    const store = probingStore();
    await store.probe(session);
    expect(store.kernelProfile(session)).toMatchObject({ hasGPU: false, torch: '2.13.0+cpu' });
    await store.probe(session);
    expect(probes).toHaveBeenCalledTimes(1); // once per kernel start

    answer(kernel, probeReply('2.11.0+cu130'));
    changeStatus(kernel, 'restarting');
    changeStatus(kernel, 'idle');
    await flush();
    await flush();
    expect(probes).toHaveBeenCalledTimes(2);
    expect(store.kernelProfile(session)).toMatchObject({
      hasGPU: true,
      cc: '7.5',
      torch: '2.11.0+cu130'
    });
  });
});

describe('kernel probes, when the kernel is not ready', () => {
  it('a kernel still starting is probed once it is idle, not lost', async () => {
    const session = sessionWithKernel();
    const kernel = kernelOf(session);
    setStatus(kernel, 'starting');
    const probes = answer(kernel, probeReply('2.11.0+cu130'));
    const store = probingStore();
    await store.probe(session);
    expect(probes).not.toHaveBeenCalled();
    changeStatus(kernel, 'idle');
    await flush();
    await flush();
    expect(probes).toHaveBeenCalledTimes(1);
    expect(store.kernelProfile(session)).toMatchObject({ hasGPU: true, cc: '7.5' });
  });

  it('a probe that gets no answer is asked again at the next idle, three times at most', async () => {
    const session = sessionWithKernel();
    const kernel = kernelOf(session);
    const probes = answer(kernel, {}); // the run finishes without the probe's display
    const store = probingStore();
    await store.probe(session);
    for (let i = 0; i < 5; i++) {
      changeStatus(kernel, 'idle');
      await flush();
      await flush();
    }
    expect(probes).toHaveBeenCalledTimes(3);
    expect(store.kernelProfile(session)).toBeNull();
  });
});

describe('which profile a notebook is linted for', () => {
  const H200: IDeviceProfile = {
    source: 'server',
    hasGPU: true,
    cc: '9.0',
    name: 'NVIDIA H200',
    deviceCount: 1
  };

  it("the server's GPUs stand in for a kernel not yet probed, but a recording never does", () => {
    const store = new ProfileStore(new FakeAPI());
    store.setServerProfile(H200);
    expect(store.profileFor(null)).toEqual(H200);
    store.setServerProfile({ ...H200, source: 'server (a recording)', recorded: true });
    expect(store.profileFor(null)).toBeNull();
  });

  it('an unknown lint target is a problem that stops linting, not a silent fallback', () => {
    const store = new ProfileStore(new FakeAPI());
    store.setServerProfile(H200);
    store.setTarget(null, 'GPU lint target "T5" is not a GPU gpuscope knows');
    expect(store.profileFor(null)).toBeNull();
    expect(store.targetProblem).toContain('"T5"');
    store.setTarget(null);
    expect(store.profileFor(null)).toEqual(H200);
  });
});

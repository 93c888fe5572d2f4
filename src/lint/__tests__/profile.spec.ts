import { profileForTarget, profileFromProbe } from '../profile';

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
    expect(profileFromProbe({ driver: h200x2, cuda_visible_devices: null, torch: '2.11.0+cu130' })).toMatchObject({
      source: 'kernel',
      hasGpu: true,
      cc: '9.0',
      name: 'NVIDIA H200',
      deviceCount: 2
    });
    expect(profileFromProbe({ driver: h200x2, cuda_visible_devices: '1', torch: '2.11.0' }).deviceCount).toBe(1);
    // CUDA stops at the first index it cannot resolve.
    expect(profileFromProbe({ driver: h200x2, cuda_visible_devices: '0,7,1', torch: '2.11.0' }).deviceCount).toBe(1);
  });

  it('from the kernel probe: no usable GPU, and why', () => {
    expect(profileFromProbe({ driver: h200x2, cuda_visible_devices: '', torch: '2.11.0' })).toMatchObject({
      hasGpu: false,
      noGpuReason: 'CUDA_VISIBLE_DEVICES="" hides every GPU'
    });
    expect(profileFromProbe({ driver: h200x2, cuda_visible_devices: null, torch: '2.13.0+cpu' }).noGpuReason).toBe(
      'torch 2.13.0+cpu is a CPU-only build'
    );
    expect(
      profileFromProbe({ driver: { available: false, error: 'x', devices: [] }, cuda_visible_devices: null, torch: null })
        .noGpuReason
    ).toBe('no NVIDIA driver is visible to the kernel');
  });

  it('from a target setting', () => {
    expect(profileForTarget('T4', 2)).toMatchObject({ source: 'target', hasGpu: true, cc: '7.5', deviceCount: 2 });
    expect(profileForTarget('cpu', 1)).toMatchObject({ hasGpu: false, deviceCount: 0 });
    expect(profileForTarget('Voodoo', 1)).toBeNull();
    expect(profileForTarget('A100', 1, '2.13.0+cpu')).toMatchObject({
      hasGpu: false,
      noGpuReason: 'torch 2.13.0+cpu is a CPU-only build'
    });
  });
});

describe('kernel probes', () => {
  const { Signal } = require('@lumino/signaling');
  const { ProfileStore } = require('../profile');
  const { flush } = require('../../monitor/__tests__/fakes');

  it('probe again after a restart: a torch installed before restarting is seen', async () => {
    let torch = '2.13.0+cpu';
    let probes = 0;
    const kernel = {
      id: 'k1',
      statusChanged: new Signal({}),
      info: Promise.resolve({ language_info: { name: 'python' } }),
      requestExecute() {
        probes++;
        const future: { onIOPub?: (msg: unknown) => void; done?: Promise<void> } = {};
        const data = {
          'application/vnd.gpuscope.probe+json': {
            driver: { available: true, error: null, devices: [{ index: 0, name: 'Tesla T4', cc: '7.5' }] },
            cuda_visible_devices: null,
            torch
          }
        };
        future.done = Promise.resolve().then(() => future.onIOPub?.({ header: { msg_type: 'display_data' }, content: { data } }));
        return future;
      }
    };
    const session = { session: { kernel } };
    const store = new ProfileStore({ collector: async () => ({ source: '' }) });
    await store.probe(session);
    expect(store.kernelProfile(session)).toMatchObject({ hasGpu: false, torch: '2.13.0+cpu' });
    await store.probe(session);
    expect(probes).toBe(1); // once per kernel start

    torch = '2.11.0+cu130';
    kernel.statusChanged.emit('restarting');
    kernel.statusChanged.emit('idle');
    await flush();
    await flush();
    expect(probes).toBe(2);
    expect(store.kernelProfile(session)).toMatchObject({ hasGpu: true, cc: '7.5', torch: '2.11.0+cu130' });
  });
});

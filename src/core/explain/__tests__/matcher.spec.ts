import { marked } from 'marked';

import { inventoryMessages, ordinaryMessages } from '../../knowledge/inventory';
import { explainError, spacesTolerant, toMarkdown } from '../matcher';
import { parseOom } from '../oom';
import compat from './fixtures/compat-texts.json';
import h100 from './fixtures/observed-h100.json';
import h200 from './fixtures/observed-h200.json';
import recorded from './fixtures/gpu-error-texts.json';
import type { IDeviceProfile } from '../../lint/analyzer';

const ids = (text: string) => explainError(text).map(e => e.id);

const T4: IDeviceProfile = {
  source: 'kernel',
  hasGPU: true,
  cc: '7.5',
  name: 'Tesla T4',
  deviceCount: 1,
  torch: '2.11.0+cu130'
};
const P100: IDeviceProfile = {
  source: 'kernel',
  hasGPU: true,
  cc: '6.0',
  name: 'Tesla P100-PCIE-16GB',
  deviceCount: 1,
  torch: '2.11.0+cu130'
};
const H200x2: IDeviceProfile = {
  source: 'server',
  hasGPU: true,
  cc: '9.0',
  name: 'NVIDIA H200',
  deviceCount: 2
};

describe('the exact texts of the reference (compat.json error_signatures)', () => {
  it.each(compat.cases.map(c => [c.reference_id, c.text, c.expect]))('%s', (_, text, expected) => {
    expect(ids(text)[0]).toBe(expected);
  });
});

describe('errors torch, CuPy, JAX, Numba and a thrust program printed on a real H100 (scripts/record_error_texts.py)', () => {
  const text = (name: keyof typeof recorded.cases) => recorded.cases[name].stderr;

  it.each([
    ['torch_different_devices', 'tensors-on-different-devices'],
    ['torch_index_different_devices', 'tensors-on-different-devices'],
    ['torch_load_cuda_checkpoint_without_gpu', 'checkpoint-device-missing'],
    ['torch_oom_held_by_own_process', 'cuda-oom'],
    ['torch_invalid_ordinal', 'invalid-device-ordinal'],
    ['cupy_oom', 'cupy-oom'],
    ['cupy_illegal_address', 'illegal-memory-access'],
    ['cupy_invalid_device', 'invalid-device-ordinal'],
    ['jax_oom', 'jax-oom'],
    ['numba_oom', 'gpu-oom'],
    ['nvcc_thrust_no_kernel_image', 'no-kernel-image']
  ] as const)('%s is explained as %s', (name, family) => {
    expect(ids(text(name))[0]).toBe(family);
  });

  it("a checkpoint's CUDA tensors on a machine without CUDA: the fix is map_location", () => {
    const [e] = explainError(text('torch_load_cuda_checkpoint_without_gpu'));
    expect(e.fix).toContain('map_location');
  });

  it('memory held by the failing kernel itself: free it there, not in other processes', () => {
    const [e] = explainError(text('torch_oom_held_by_own_process'));
    expect(toMarkdown(e)).toContain('This process (the kernel that failed) holds 71.30 GiB');
    expect(e.fix).toMatch(/^Free memory this kernel holds/);
  });

  it("torch's own one-line message without the word torch is still torch's (its 'CUDA error:' prefix)", () => {
    const [e] = explainError(
      'RuntimeError: CUDA error: no kernel image is available for execution on the device'
    );
    expect(e.title).toBe('This PyTorch build has no code for this GPU');
  });

  it('a thrust program built without code for the GPU is about its own build, not a torch wheel', () => {
    const [e] = explainError(text('nvcc_thrust_no_kernel_image'));
    expect(e.title).toBe('This program has no code for this GPU');
    expect(e.fix).toContain('CMAKE_CUDA_ARCHITECTURES');
    expect(toMarkdown(e)).not.toMatch(/pip install|torch wheel/);
  });
});

describe('texts real failures printed on an H200 and an H100 (torch 2.11.0+cu130)', () => {
  it('CUDA_VISIBLE_DEVICES empty, -1 or invalid: no GPUs', () => {
    for (const key of ['cvd_empty', 'cvd_minus1', 'cvd_invalid'] as const) {
      expect(ids(h200[key].stderr)).toEqual(['no-cuda-gpus']);
    }
  });

  it('a device index beyond the count, from a tensor or from set_device', () => {
    expect(ids(h200.device_index_out_of_range.stderr)).toEqual(['invalid-device-ordinal']);
    expect(ids(h100.set_device_out_of_range.stderr)).toEqual(['invalid-device-ordinal']);
  });

  it('a device-side assert, with the failed assertion quoted and CUDA_LAUNCH_BLOCKING advised', () => {
    const [e] = explainError(h200.device_assert.stderr);
    expect(e.id).toBe('device-side-assert');
    expect(e.detail).toBe(
      'Assertion `-sizes[i] <= index && index < sizes[i] && "index out of bounds"` failed'
    );
    expect(e.context.commands).toContain('%env CUDA_LAUNCH_BLOCKING=1');
  });

  it('as Markdown, what the message says stays text: no image, link or HTML from an output', () => {
    const hostile =
      h200.device_assert.stderr.replace(
        '"index out of bounds"',
        '"x"` ![t](https://attacker.example/t.png) <img src=x onerror=alert(1)> [a](javascript:x) `'
      ) + '\n\x1b]0;owned\x07';
    const [e] = explainError(hostile);
    expect(e.detail).toContain('attacker.example');
    const html = marked.parse(toMarkdown(e), { async: false });
    expect(html).not.toMatch(/<img|<a href="(javascript|https:\/\/attacker)/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;'); // shown, as text
    // eslint-disable-next-line no-control-regex
    expect(toMarkdown(e)).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  it('CUDA in a forked subprocess', () => {
    expect(ids(h200.fork_reinit.stderr)).toEqual(['fork-reinit']);
  });

  it('two NCCL ranks on one GPU: the specific explanation replaces the general NCCL one', () => {
    const [e, ...rest] = explainError(h100.nccl_duplicate_gpu.stderr);
    expect(e.id).toBe('nccl-duplicate-gpu');
    expect(rest).toEqual([]);
    expect(e.fix).toContain('torch.cuda.set_device(local_rank)');
  });

  it('another NCCL failure gets the general explanation with its last error', () => {
    const text = h100.nccl_duplicate_gpu.stderr.replace(
      /Duplicate GPU detected[^\n]*/,
      'Cuda failure 217 peer access is not supported'
    );
    const [e] = explainError(text);
    expect(e.id).toBe('nccl-error');
    expect(e.detail).toBe('Cuda failure 217 peer access is not supported');
  });

  it('SDPA with no kernel left quotes the reason from the warnings above it', () => {
    const [e] = explainError(h100.sdpa_no_kernel.stderr);
    expect(e.id).toBe('sdpa-no-kernel');
    expect(e.detail).toMatch(
      /^Expected query, key and value to all be of dtype: \{Half, BFloat16\}/
    );
  });

  it('out of memory: the numbers of the message', () => {
    expect(parseOom(h100.oom_realistic.stderr)).toEqual({
      gpu: 0,
      requested: 90 * 2 ** 30,
      total: Math.round(79.18 * 2 ** 30),
      free: Math.round(30.66 * 2 ** 30),
      reservedUnallocated: 0,
      processUsed: Math.round(48.51 * 2 ** 30)
    });
    const [e] = explainError(h100.oom_realistic.stderr);
    expect(e.id).toBe('cuda-oom');
    expect(e.context.facts[0]).toBe(
      'The cell asked for 90.00 GiB on GPU 0, which has 79.18 GiB in all and had 30.66 GiB free.'
    );
  });

  it('out of memory larger than the whole GPU: freeing is not suggested', () => {
    const [e] = explainError(h200.oom.stderr);
    expect(e.fix).toMatch(/larger than the whole GPU, so freeing memory will not help/);
    expect(e.context.tips).toEqual([]);
  });

  it('a successful run and the facts output match nothing', () => {
    expect(ids(h200.scaled_mm_ok.stdout)).toEqual([]);
    expect(ids(h200.facts.stdout)).toEqual([]);
  });
});

describe('wordings of other torch versions', () => {
  it('torch 1.x out of memory, with fragmentation worth a tip', () => {
    const text =
      'RuntimeError: CUDA out of memory. Tried to allocate 98.00 MiB (GPU 1; 15.90 GiB total capacity; 12.96 GiB already allocated; 33.75 MiB free; 15.16 GiB reserved in total by PyTorch) If reserved memory is >> allocated memory try setting max_split_size_mb to avoid fragmentation.  See documentation for Memory Management and PYTORCH_CUDA_ALLOC_CONF';
    const oom = parseOom(text);
    expect(oom.gpu).toBe(1);
    expect(oom.free).toBe(Math.round(33.75 * 2 ** 20));
    expect(oom.reservedUnallocated).toBe(Math.round(15.16 * 2 ** 30) - Math.round(12.96 * 2 ** 30));
    const [e] = explainError(text);
    expect(e.id).toBe('cuda-oom');
    expect(e.context.tips.join(' ')).toMatch(/2\.20 GiB is reserved by PyTorch but unallocated/);
    expect(e.context.commands).toContain('%env PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True');
  });

  it('torch 2.1 out of memory ("capacty") with other processes listed', () => {
    const text =
      'torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 224.00 MiB. GPU 0 has a total capacty of 14.75 GiB of which 11.06 MiB is free. Process 3258 has 14.73 GiB memory in use. Of the allocated memory 14.04 GiB is allocated by PyTorch, and 509.85 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting max_split_size_mb to avoid fragmentation.';
    const oom = parseOom(text);
    expect(oom.total).toBe(Math.round(14.75 * 2 ** 30));
    expect(oom.free).toBe(Math.round(11.06 * 2 ** 20));
    expect(oom.reservedUnallocated).toBe(Math.round(509.85 * 2 ** 20));
    // Under 1 GiB held back: fragmentation is not the problem here.
    expect(explainError(text)[0].context.commands).toEqual([]);
  });

  it('"no kernel image" as RuntimeError (before torch.AcceleratorError)', () => {
    expect(
      ids(
        'RuntimeError: CUDA error: no kernel image is available for execution on the device\nCUDA kernel errors might be asynchronously reported'
      )
    ).toEqual(['no-kernel-image']);
  });

  it('an IPython traceback with colour codes', () => {
    const text =
      '\u001b[0;31mOutOfMemoryError\u001b[0m: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 14.58 GiB of which 1.00 GiB is free.';
    expect(ids(text)).toEqual(['cuda-oom']);
  });
});

describe('the inventory: every message as the code that prints it writes it', () => {
  const wrong = (cases: { family: string; text: string }[]) =>
    cases
      .map(c => ({
        want: c.family,
        got: explainError(c.text)[0]?.id ?? null,
        text: c.text.slice(0, 100)
      }))
      .filter(c => c.got !== c.want);

  it('each status code of each CUDA library, as each framework prints it, gets its family', () => {
    const generated = inventoryMessages().filter(m => m.library.includes(' via '));
    expect(generated.length).toBeGreaterThan(1000);
    expect(wrong(generated)).toEqual([]);
  });

  it('each message collected from the frameworks and libraries gets its family', () => {
    expect(wrong(inventoryMessages().filter(m => !m.library.includes(' via ')))).toEqual([]);
  });

  it('ordinary errors from the same code bases get no explanation', () => {
    expect(ordinaryMessages().filter(m => explainError(m.text).length)).toEqual([]);
  });
});

describe('families that read the message', () => {
  it('tensors on two devices: the devices it names', () => {
    const [e] = explainError(
      'RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu! (when checking argument for argument mat1 in method wrapper_CUDA_addmm)'
    );
    expect(e.id).toBe('tensors-on-different-devices');
    expect(e.context.facts).toEqual(['The operation got tensors on cuda:0 and on cpu.']);
  });

  it("a status code any framework prints gets its family, with the library's own words", () => {
    for (const text of [
      'RuntimeError: CUDA error: misaligned address\nCUDA kernel errors might be asynchronously reported',
      'cupy_backends.cuda.api.runtime.CUDARuntimeError: cudaErrorMisalignedAddress: misaligned address'
    ]) {
      const [e] = explainError(text);
      expect(e.id).toBe('gpu-kernel-fault');
      expect(e.detail).toBe('cudaErrorMisalignedAddress: misaligned address');
      expect(e.cause).toContain('(cudaErrorMisalignedAddress: misaligned address)');
    }
  });

  it('out of memory held by the failing kernel itself: free it there first', () => {
    const [e] = explainError(
      'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 39.49 GiB of which 1.05 GiB is free. Including non-PyTorch memory, this process has 37.46 GiB memory in use. Of the allocated memory 36.90 GiB is allocated by PyTorch, and 100.00 MiB is reserved by PyTorch but unallocated.'
    );
    expect(e.id).toBe('cuda-oom');
    expect(e.context.facts.join(' ')).toContain('holds 37.46 GiB of the GPU');
    expect(e.fix).toMatch(/^Free memory this kernel holds/);
    expect(e.fix).not.toContain('shut down idle kernels');
  });

  it('no kernel image from a program built without PyTorch: its build architectures', () => {
    const [e] = explainError(
      'CUDA error at /src/kernels.cu:88 code=209(cudaErrorNoKernelImageForDevice) "cudaGetLastError()"'
    );
    expect(e.id).toBe('no-kernel-image');
    expect(e.fix).toContain('CMAKE_CUDA_ARCHITECTURES');
  });

  it('an NVSwitch (NVLS) failure is not a peer-to-peer problem', () => {
    const ids = explainError(
      "NCCL error in: ProcessGroupNCCL.cpp:3690, unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5\nncclUnhandledCudaError: Call to CUDA function failed.\nLast error:\nCuda failure 'invalid argument' at transport/nvls.cc:146"
    ).map(e => e.id);
    expect(ids[0]).toBe('nccl-nvls');
    expect(ids).not.toContain('p2p-unsupported');
  });

  it('a missing CUDA library: the file it names, and the package that ships it', () => {
    const [e] = explainError(
      'OSError: libcudart.so.12: cannot open shared object file: No such file or directory'
    );
    expect(e.id).toBe('cuda-library-missing');
    expect(e.cause).toContain('could not find libcudart.so.12');
    expect(e.context.facts).toEqual([
      '`libcudart.so.12` comes with the `nvidia-cuda-runtime-cu12` package on PyPI.'
    ]);
  });

  it('an Xid line: what its number means', () => {
    const [e] = explainError(
      'NVRM: Xid (PCI:0000:3b:00): 79, pid=1921, name=python, GPU has fallen off the bus.'
    );
    expect(e.id).toBe('xid-error');
    expect(e.cause).toContain('Xid 79 means the GPU has fallen off the bus');
  });

  it("MPS and ROCm errors get their platform's advice, never a CUDA command", () => {
    for (const text of [
      'RuntimeError: MPS backend out of memory (MPS allocated: 17.60 GB, other allocations: 33.68 MB, max allowed: 18.13 GB). Tried to allocate 256.00 MB on private pool.',
      'torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.98 GiB of which 1.20 GiB is free.',
      'RuntimeError: HIP error: invalid device function\nHIP kernel errors might be asynchronously reported'
    ]) {
      const found = explainError(text);
      expect(found.map(e => e.id).some(id => /cuda|nvidia/.test(id))).toBe(false);
      expect(found[0].id).toMatch(/^(mps|rocm)-/);
      expect(found[0].context.commands.join(' ')).not.toMatch(/CUDA_|nvidia/);
    }
  });
});

describe('ordinary, non-GPU failures match nothing', () => {
  const ordinary = [
    'Traceback (most recent call last):\n  File "<ipython-input-1>", line 1, in <module>\nZeroDivisionError: division by zero',
    "KeyError: 'cuda'",
    "ModuleNotFoundError: No module named 'torch'",
    'MemoryError: Unable to allocate 7.45 GiB for an array with shape (1000000000,) and data type float64',
    'numpy.core._exceptions._ArrayMemoryError: Unable to allocate 2.00 GiB for an array',
    'RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x128 and 256x10)',
    "FileNotFoundError: [Errno 2] No such file or directory: 'kernel_image.png'",
    "ValueError: invalid literal for int() with base 10: 'device ordinal'",
    'AssertionError: assert model.training',
    'OSError: [Errno 28] No space left on device',
    "ImportError: cannot import name 'flash_attn_func' from 'flash_attn'",
    '  File "/usr/lib/python3.12/site-packages/torch/cuda/__init__.py", line 478, in _lazy_init\nTypeError: unsupported operand',
    'UserWarning: TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage class.'
  ];
  it.each(ordinary)('%s', text => {
    expect(ids(text)).toEqual([]);
  });

  it('junk, empty and huge input', () => {
    expect(explainError('')).toEqual([]);
    expect(explainError(undefined as unknown as string)).toEqual([]);
    expect(explainError('\u0000\uffff'.repeat(1000))).toEqual([]);
    const huge = 'x'.repeat(5_000_000) + '\nRuntimeError: No CUDA GPUs are available';
    expect(ids(huge)).toEqual(['no-cuda-gpus']);
  });
});

describe('what the kernel facts add', () => {
  it('no kernel image on a Pascal GPU with a cu130 wheel: the arch list and the wheel that covers it', () => {
    const [e] = explainError(
      h200.device_assert.stderr.replace(
        'device-side assert triggered',
        'no kernel image is available for execution on the device'
      ),
      {
        kernel: P100
      }
    );
    expect(e.context.facts).toEqual([
      'Your GPU is Tesla P100-PCIE-16GB (compute capability 6.0).',
      'torch 2.11.0+cu130 is built for sm_75, sm_80, sm_86, sm_90, sm_100, sm_120: none of them runs on 6.0.'
    ]);
    expect(e.context.commands).toEqual([
      '%pip install --force-reinstall "torch==2.14.*" --index-url https://download.pytorch.org/whl/cu126'
    ]);
  });

  it('no kernel image on an RTX 5090 whose driver (570) runs no cu13x wheel: the newest cu128 build, as the diagnostic advises', () => {
    const rtx5090: IDeviceProfile = {
      source: 'kernel',
      hasGPU: true,
      cc: '12.0',
      name: 'NVIDIA GeForce RTX 5090',
      deviceCount: 1,
      torch: '2.6.0+cu126',
      driverVersion: '570.86.15',
      driverCuda: '12.8',
      platform: 'linux-x86_64'
    };
    const [e] = explainError(
      'CUDA error: no kernel image is available for execution on the device',
      { kernel: rtx5090 }
    );
    expect(e.context.facts[1]).toBe(
      'torch 2.6.0+cu126 (linux-x86_64) is built for sm_50, sm_60, sm_70, sm_75, sm_80, sm_86, sm_90: none of them runs on 12.0.'
    );
    expect(e.context.commands).toEqual([
      '%pip install --force-reinstall "torch==2.11.*" --index-url https://download.pytorch.org/whl/cu128'
    ]);
  });

  it('no kernel image on an aarch64 T4G: says no published wheel covers it instead of offering an x86_64 one', () => {
    const t4g: IDeviceProfile = {
      source: 'kernel',
      hasGPU: true,
      cc: '7.5',
      name: 'NVIDIA T4G',
      deviceCount: 1,
      torch: '2.14.0',
      driverCuda: '13.0',
      platform: 'linux-aarch64'
    };
    const [e] = explainError(
      'CUDA error: no kernel image is available for execution on the device',
      { kernel: t4g }
    );
    expect(e.context.facts).toContain(
      'No published torch wheel for Linux aarch64 (SBSA: Grace, GH200, GB10) has code for compute capability 7.5.'
    );
    expect(e.context.commands).toEqual([]);
  });

  it('no kernel image on a T4 whose wheel covers it points at an extension instead', () => {
    const [e] = explainError(
      'CUDA error: no kernel image is available for execution on the device',
      { kernel: T4 }
    );
    expect(e.context.facts[1]).toMatch(/which covers 7\.5: .* separately compiled extension/);
    expect(e.context.commands).toEqual([]);
  });

  it('driver too old: the CUDA version the driver supports and a wheel for it', () => {
    const [e] = explainError(compat.cases.find(c => c.reference_id === 'driver_too_old')!.text, {
      kernel: T4
    });
    expect(e.context.facts[0]).toBe(
      'The driver supports CUDA up to 12.4; torch 2.11.0+cu130 needs a newer one.'
    );
    expect(e.context.commands).toEqual([
      '%pip install --force-reinstall "torch==2.14.*" --index-url https://download.pytorch.org/whl/cu126'
    ]);
  });

  it('a CPU-only build on a server with GPUs: the CUDA wheel for the GPU', () => {
    const kernel: IDeviceProfile = {
      source: 'kernel',
      hasGPU: false,
      noGPUReason: 'torch 2.13.0+cpu is a CPU-only build',
      cc: '9.0',
      name: 'NVIDIA H200',
      deviceCount: 0,
      torch: '2.13.0+cpu'
    };
    const [e] = explainError('AssertionError: Torch not compiled with CUDA enabled', {
      kernel,
      server: H200x2
    });
    expect(e.context.facts).toEqual([
      'This kernel has torch 2.13.0+cpu.',
      'The server sees NVIDIA H200 (compute capability 9.0).'
    ]);
    expect(e.context.commands[0]).toMatch(
      /^%pip install --force-reinstall "torch==2\.15\.\*" --index-url https:\/\/download\.pytorch\.org\/whl\/cu132$/
    );
  });

  it('a CPU-only build on a laptop without an NVIDIA GPU: no CUDA wheel is advised, the CPU is', () => {
    const kernel: IDeviceProfile = {
      source: 'kernel',
      hasGPU: false,
      noGPUReason: 'torch 2.13.0+cpu is a CPU-only build',
      cc: null,
      name: null,
      deviceCount: 0,
      torch: '2.13.0+cpu'
    };
    const server: IDeviceProfile = {
      source: 'server',
      hasGPU: false,
      cc: null,
      name: null,
      deviceCount: 0
    };
    const [e] = explainError('AssertionError: Torch not compiled with CUDA enabled', {
      kernel,
      server
    });
    expect(e.id).toBe('not-compiled-with-cuda');
    expect(e.context.commands).toEqual([]);
    expect(e.fix).toContain('would not help here');
    expect(e.fix).not.toMatch(/Install a CUDA build/);
  });

  it('no GPUs in the kernel although the server has two', () => {
    const kernel: IDeviceProfile = {
      source: 'kernel',
      hasGPU: false,
      noGPUReason: 'CUDA_VISIBLE_DEVICES="" hides every GPU',
      cc: null,
      name: null,
      deviceCount: 0
    };
    const [e] = explainError(h200.cvd_empty.stderr, { kernel, server: H200x2 });
    expect(e.context.facts).toEqual([
      'The kernel\'s probe found that CUDA_VISIBLE_DEVICES="" hides every GPU.',
      'The Jupyter server sees 2 GPUs (NVIDIA H200), so the GPU exists but this kernel cannot use it.'
    ]);
  });

  it('a device index on a two-GPU machine', () => {
    const [e] = explainError(h200.device_index_out_of_range.stderr, { server: H200x2 });
    expect(e.context.facts).toEqual(['This kernel sees 2 GPUs: valid indices are 0 to 1.']);
  });

  it('FlashAttention on a T4 says what the GPU is and what it needs', () => {
    const [e] = explainError('RuntimeError: FlashAttention only supports Ampere GPUs or newer.', {
      kernel: T4
    });
    expect(e.context.facts).toEqual([
      'Your GPU is Tesla T4 (compute capability 7.5); this needs 8.0 or newer.'
    ]);
  });

  it('unconfirmed signatures say so, in the card text too', () => {
    const [e] = explainError(compat.cases.find(c => c.reference_id === 'cudnn_incompat')!.text);
    expect(e.may).toBe(true);
    expect(toMarkdown(e)).toMatch(/may not apply/);
  });

  it('a stderr warning and the error it leads to: the error comes first', () => {
    const text =
      compat.cases.find(c => c.reference_id === 'cubin_incompatible_warn')!.text +
      '\nRuntimeError: CUDA error: no kernel image is available for execution on the device';
    expect(ids(text)).toEqual(['no-kernel-image', 'wheel-arch-warning']);
  });
});

describe('messages as torch really prints them', () => {
  it('spaces in a signature match any run of whitespace, inside character classes they stay', () => {
    expect(spacesTolerant('compiled against')).toBe('compiled\\s+against');
    expect(spacesTolerant('a  b')).toBe('a\\s+b');
    expect(spacesTolerant('\\[sm80, sm\\d+\\]')).toBe('\\[sm80,\\s+sm\\d+\\]');
    expect(spacesTolerant('[ ]x')).toBe('[ ]x');
    expect(
      ids(
        'cuDNN version incompatibility: PyTorch was compiled  against (9, 20, 0) but found runtime version (9, 16, 0).'
      )
    ).toEqual(['cudnn-incompatible']);
    // A logger wrapped the line.
    expect(ids('FlashAttention only supports Ampere\n    GPUs or newer.')).toEqual([
      'flash-attn-ampere'
    ]);
  });

  it("Blackwell's warning gets the wheel the diagnostic would give for sm_120, never the cu126 wheels", () => {
    const text =
      'NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90.';
    const [e] = explainError(text, {
      kernel: {
        source: 'kernel',
        hasGPU: true,
        cc: '12.0',
        name: 'NVIDIA GeForce RTX 5090',
        deviceCount: 1,
        torch: '2.6.0+cu126',
        driverVersion: '570.86.15',
        driverCuda: '12.8',
        platform: 'linux-x86_64'
      }
    });
    expect(e.id).toBe('wheel-arch-warning');
    expect(e.context.facts[0]).toBe(
      'Your GPU is NVIDIA GeForce RTX 5090 (compute capability 12.0).'
    );
    expect(e.context.commands).toEqual([
      '%pip install --force-reinstall "torch==2.11.*" --index-url https://download.pytorch.org/whl/cu128'
    ]);
    expect(e.fix).not.toContain('cu126');
    // Without a probe, the GPU named in the message decides, and the driver is not guessed.
    const [bare] = explainError(text);
    expect(bare.context.facts[0]).toBe(
      'Your GPU is NVIDIA GeForce RTX 5090 (compute capability 12.0).'
    );
    expect(bare.context.commands).toEqual([
      '%pip install --force-reinstall "torch==2.15.*" --index-url https://download.pytorch.org/whl/cu132'
    ]);
  });

  it("transformers' tf32 refusal names the GPU and the flag to turn off", () => {
    const [e] = explainError(
      'ValueError: --tf32 requires Ampere or a newer GPU arch, cuda>=11 and torch>=1.7',
      { kernel: T4 }
    );
    expect(e.id).toBe('transformers-tf32');
    expect(e.fix).toContain('`tf32=False`');
    expect(e.context.facts[0]).toBe(
      'Your GPU is Tesla T4 (compute capability 7.5); this needs 8.0 or newer.'
    );
  });

  it('cuBLAS status errors: bf16 on an old GPU is told apart from other NOT_SUPPORTED causes', () => {
    expect(
      ids(
        'CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmStridedBatchedEx(handle, opa, opb, (int)m, (int)n, (int)k, (void*)&falpha, a, CUDA_R_16BF, (int)lda'
      )
    ).toEqual(['cublas-not-supported-bf16']);
    expect(
      ids(
        'CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasSgemmStridedBatched( handle, opa'
      )
    ).toEqual(['cublas-not-supported']);
    const [alloc] = explainError(
      'RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`'
    );
    expect(alloc.id).toBe('cublas-alloc-failed');
    expect(alloc.may).toBe(true);
    expect(
      explainError('CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasGemmEx(')[0].context.commands
    ).toEqual(['%env CUDA_LAUNCH_BLOCKING=1']);
  });
});

describe('what the probe read of the build, and recordings', () => {
  it("a PyPI wheel's version has no +cuXYZ: the build's CUDA, read from torch/version.py, picks its arch list and is shown", () => {
    const kernel: IDeviceProfile = {
      source: 'kernel',
      hasGPU: true,
      cc: '7.0',
      name: 'Tesla V100-SXM2-16GB',
      deviceCount: 1,
      torch: '2.11.0',
      torchCuda: '13.0',
      driverVersion: '580.95.05',
      driverCuda: '13.0',
      platform: 'linux-x86_64'
    };
    const [e] = explainError(
      'CUDA error: no kernel image is available for execution on the device',
      { kernel }
    );
    expect(e.context.facts[1]).toBe(
      'torch 2.11.0 (a CUDA 13.0 build, linux-x86_64) is built for sm_75, sm_80, sm_86, sm_90, sm_100, sm_120: none of them runs on 7.0.'
    );
    expect(e.context.commands).toEqual([
      '%pip install --force-reinstall "torch==2.14.*" --index-url https://download.pytorch.org/whl/cu126'
    ]);
  });

  it('a recorded server GPU is labelled as a recording and never becomes an install command', () => {
    const replay: IDeviceProfile = { ...H200x2, source: 'server (a recording)', recorded: true };
    const kernel: IDeviceProfile = {
      source: 'kernel',
      hasGPU: false,
      noGPUReason: 'torch 2.13.0+cpu is a CPU-only build',
      cc: null,
      name: null,
      deviceCount: 0,
      torch: '2.13.0+cpu',
      torchCuda: null,
      platform: 'linux-x86_64'
    };
    const [e] = explainError('AssertionError: Torch not compiled with CUDA enabled', {
      kernel,
      server: replay
    });
    expect(e.context.facts).toEqual([
      'This kernel has torch 2.13.0+cpu (linux-x86_64).',
      "The server shows NVIDIA H200 (compute capability 9.0) from a recording (replay), not this machine's GPU, so no install command is derived from it."
    ]);
    expect(e.context.commands).toEqual([]);
    const [noGPU] = explainError('RuntimeError: No CUDA GPUs are available', {
      kernel,
      server: replay
    });
    expect(noGPU.context.facts.join(' ')).toContain(
      "The server's GPU data is a recording (replay of NVIDIA H200), not this machine's."
    );
    // Nor does a recording stand in for the kernel's GPU.
    const [arch] = explainError(
      'CUDA error: no kernel image is available for execution on the device',
      { server: replay }
    );
    expect(arch.context.commands).toEqual([]);
  });
});

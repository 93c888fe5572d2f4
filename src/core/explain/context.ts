/**
 * What the kernel's facts add to an explanation: "your GPU is 7.5, this wheel has sm_80
 * and up", the exact install command for this GPU, the OOM tips that apply. Everything
 * comes from the knowledge base and the profiles; nothing here names a GPU or a version.
 */
import type { IDeviceProfile } from '../lint/analyzer';
import { feature, supports } from '../knowledge';
import { IErrorFamily, xidMeaning } from '../knowledge/errors';
import { archCovers, wheelAdvice, wheelFor } from '../knowledge/compat';
import { formatSize } from '../memory';
import { IOomFacts, parseOom } from './oom';

/** What is known about the kernel whose output failed. */
export interface IExplainFacts {
  /** From the kernel's own probe; null when it was not probed. */
  kernel?: IDeviceProfile | null;
  /** The GPUs the server sees. */
  server?: IDeviceProfile | null;
}

export interface IContext {
  /** Sentences about this kernel and GPU. */
  facts: string[];
  /** Lines to run in a cell, exactly as they are. */
  commands: string[];
  /** Out of memory only: extra advice that applies to these numbers. */
  tips: string[];
  /** A fix that replaces the family's, when the facts rule the usual one out. */
  fix: string | null;
  /** The message comes from a program without PyTorch: the family's without_torch texts. */
  withoutTorch: boolean;
  oom: IOomFacts | null;
  /** What the message said that fills the family's {placeholders} (an Xid's meaning). */
  values: Record<string, string>;
}

type FeatureId = Parameters<typeof supports>[0];

/** The kernel's profile when probed, else the server's (never a recording's): where the code ran. */
function gpuOf(facts: IExplainFacts): IDeviceProfile | null {
  return facts.kernel ?? (facts.server?.recorded ? null : facts.server) ?? null;
}

/** "torch 2.11.0 (a CUDA 13.0 build, linux-x86_64)": what the probe read of the kernel's torch. */
function describeTorch(torch: string, profile: IDeviceProfile | null | undefined): string {
  const build = profile?.torchCuda ? `a CUDA ${profile.torchCuda} build` : null;
  const extra = [build, profile?.platform ?? null].filter(Boolean).join(', ');
  return extra ? `torch ${torch} (${extra})` : `torch ${torch}`;
}

function describe(profile: IDeviceProfile): string {
  return profile.name
    ? `${profile.name} (compute capability ${profile.cc})`
    : `compute capability ${profile.cc}`;
}

/**
 * The wheel to install for a GPU, as the diagnostic's findings advise it: a fact when the
 * driver must be upgraded first or no wheel exists, and the command to run.
 */
function addInstallAdvice(
  out: IContext,
  cc: string,
  profile: IDeviceProfile | null,
  driverCuda: string | null = null
): void {
  const driver = driverCuda ?? profile?.driverCuda ?? null;
  const advice = wheelAdvice(
    cc,
    profile?.platform ?? 'linux-x86_64',
    profile?.driverVersion ?? null,
    driver
  );
  if (advice.kind === 'none') {
    out.facts.push(advice.why!);
    return;
  }
  // With the driver unknown (an older probe, the server's view), only the wheel is said.
  if (advice.kind === 'upgrade-driver' && driver) {
    out.facts.push(
      `No torch build with code for ${cc} runs on this driver: upgrade the NVIDIA driver to ≥ ${advice.driver ?? 'a newer release'} first.`
    );
  }
  out.commands.push(`%${advice.command!}`);
}

export function contextFor(
  signature: IErrorFamily,
  text: string,
  match: RegExpExecArray,
  facts: IExplainFacts
): IContext {
  const out: IContext = {
    facts: [],
    commands: [...(signature.commands ?? [])],
    tips: [],
    fix: null,
    withoutTorch: false,
    oom: null,
    values: {}
  };
  const gpu = gpuOf(facts);
  const torch = facts.kernel?.torch ?? null;
  const kind = signature.context ?? '';

  // torch's own warning names the GPU it refused: "NVIDIA GeForce RTX 5090 with CUDA capability sm_120".
  const named =
    kind === 'arch' ? /([^\n]*?)\s+with CUDA capability sm_(\d+)(\d)\b/.exec(text) : null;
  const archGPU: IDeviceProfile | null = named
    ? {
        ...(gpu ?? { source: 'message', hasGPU: true, deviceCount: 1 }),
        name: named[1].trim() || null,
        cc: `${named[2]}.${named[3]}`
      }
    : gpu;
  // A program of its own (CMake, a CUDA sample): its build chose the architectures.
  const program = signature.without_torch;
  out.withoutTorch =
    !!program && !new RegExp(program.unless, 'i').test(text) && !facts.kernel?.torch;
  if (kind === 'arch' && archGPU?.cc) {
    out.facts.push(`Your GPU is ${describe(archGPU)}.`);
    const wheel = torch
      ? wheelFor(torch, archGPU.platform ?? 'linux-x86_64', facts.kernel?.torchCuda ?? null)
      : null;
    const covered = wheel ? archCovers(wheel.archs, archGPU.cc) !== null : null;
    if (wheel) {
      out.facts.push(
        covered
          ? `${describeTorch(torch!, facts.kernel)} is built for ${wheel.archs.join(', ')}, which covers ${archGPU.cc}: the code without a kernel for this GPU is more likely a separately compiled extension.`
          : `${describeTorch(torch!, facts.kernel)} is built for ${wheel.archs.join(', ')}: none of them runs on ${archGPU.cc}.`
      );
    }
    if (!covered) {
      addInstallAdvice(out, archGPU.cc, facts.kernel ?? null);
    }
  } else if (kind === 'driver') {
    const found = Number(match[1]);
    if (Number.isFinite(found) && found > 0) {
      const driverCuda = `${Math.floor(found / 1000)}.${Math.floor((found % 1000) / 10)}`;
      out.facts.push(
        `The driver supports CUDA up to ${driverCuda}${torch ? `; ${describeTorch(torch, facts.kernel)} needs a newer one` : ''}.`
      );
      if (gpu?.cc) {
        addInstallAdvice(out, gpu.cc, facts.kernel ?? null, driverCuda);
      }
    }
  } else if (kind === 'cpu_build') {
    if (torch) {
      out.facts.push(`This kernel has ${describeTorch(torch, facts.kernel)}.`);
    }
    // The GPU the server sees: a CPU-only kernel's own probe may not name one. A
    // recording is mentioned as such and never turned into an install command.
    if (facts.server?.cc && facts.server.recorded) {
      out.facts.push(
        `The server shows ${describe(facts.server)} from a recording (replay), not this machine's GPU, so no install command is derived from it.`
      );
    } else {
      const seen = facts.server?.cc ? facts.server : gpu;
      if (seen?.cc) {
        out.facts.push(`The server sees ${describe(seen)}.`);
        addInstallAdvice(out, seen.cc, facts.kernel ?? null);
      } else if (facts.kernel && !facts.kernel.hasGPU && facts.server && !facts.server.hasGPU) {
        // A laptop without an NVIDIA GPU: a CUDA wheel cannot help.
        out.fix = signature.without_gpu?.fix ?? null;
      }
    }
  } else if (kind === 'no_gpu') {
    if (facts.kernel && !facts.kernel.hasGPU && facts.kernel.noGPUReason) {
      out.facts.push(`The kernel's probe found that ${facts.kernel.noGPUReason}.`);
    }
    if (facts.server?.hasGPU && facts.server.recorded) {
      out.facts.push(
        `The server's GPU data is a recording (replay of ${facts.server.name ?? 'a GPU'}), not this machine's.`
      );
    } else if (facts.server?.hasGPU) {
      out.facts.push(
        `The Jupyter server sees ${gpus(facts.server.deviceCount)} (${facts.server.name ?? 'NVIDIA'}), so the GPU exists but this kernel cannot use it.`
      );
    }
  } else if (kind === 'device_count' && gpu) {
    out.facts.push(
      gpu.deviceCount > 0
        ? `This kernel sees ${gpus(gpu.deviceCount)}: valid indices are 0 to ${gpu.deviceCount - 1}.`
        : 'This kernel sees no GPU.'
    );
  } else if (kind.startsWith('feature:') && gpu?.cc) {
    const id = kind.slice('feature:'.length) as FeatureId;
    const needs = feature(id);
    if (needs.min_cc) {
      out.facts.push(
        supports(id, gpu.cc)
          ? `Your GPU is ${describe(gpu)}, which meets the ${needs.min_cc} minimum: check which device the failing code ran on.`
          : `Your GPU is ${describe(gpu)}; this needs ${needs.min_cc} or newer.`
      );
    }
  } else if (kind === 'torch' && torch) {
    out.facts.push(`This kernel has ${describeTorch(torch, facts.kernel)}.`);
  } else if (kind === 'oom') {
    out.oom = parseOom(text);
    addOomAdvice(out, out.oom);
  } else if (kind === 'devices') {
    const named =
      /found at least two devices, (\S+) and (\S+?)!|got (\w+) is on (\S+), different from other tensors on (\S+?)[ (]/.exec(
        text
      );
    if (named?.[1]) {
      out.facts.push(`The operation got tensors on ${named[1]} and on ${named[2]}.`);
    } else if (named?.[3]) {
      out.facts.push(
        `The argument \`${named[3]}\` is on ${named[4]}, the other tensors on ${named[5]}: move it (or them) so all are on one device.`
      );
    }
  } else if (kind === 'checkpoint') {
    const device = /on CUDA device (\d+) but torch\.cuda\.device_count\(\) is (\d+)/.exec(text);
    if (device) {
      out.facts.push(
        `The checkpoint has tensors on GPU ${device[1]}, and this kernel sees ${gpus(Number(device[2]))}: \`map_location="cuda:0"\` puts them on the first.`
      );
    } else if (gpuOf(facts)?.hasGPU === false || /is_available\(\) is False/.test(text)) {
      out.commands.push('state = torch.load(path, map_location="cpu")');
    }
  } else if (kind === 'library') {
    const library = match.groups?.library ?? '';
    const wheels = libraryWheels(library).map(name => `\`${name}\``);
    if (wheels.length) {
      out.facts.push(`\`${library}\` comes with the ${wheels.join(' or ')} package on PyPI.`);
    }
  } else if (kind === 'xid') {
    const xid = match.groups?.xid ?? '';
    const known = xidMeaning(xid);
    out.values = {
      xid,
      meaning: known?.meaning ?? 'an error this gpuscope does not know the meaning of',
      xid_fix:
        known?.fix ??
        "Look the number up in NVIDIA's Xid catalogue (its sources below) and check `nvidia-smi` and the system log around that time."
    };
  }
  return out;
}

/**
 * The PyPI packages that ship a CUDA library, where its file name says which: the runtime,
 * cuBLAS, NVRTC, nvJitLink and CUPTI carry CUDA's major version in their file names
 * ("libcudart.so.12" -> nvidia-cuda-runtime-cu12); cuDNN and NCCL carry their own.
 */
function libraryWheels(file: string): string[] {
  const found = /^lib(cudart|cublas(?:Lt)?|nvrtc|nvJitLink|cupti|cudnn\w*|nccl)\.so\.(\d+)/.exec(
    file
  );
  if (!found) {
    return [];
  }
  const [, name, major] = found;
  if (name.startsWith('cudnn') || name === 'nccl') {
    const stem = name === 'nccl' ? 'nccl' : 'cudnn';
    return [`nvidia-${stem}-cu12`, `nvidia-${stem}-cu13`];
  }
  const stem =
    { cudart: 'cuda-runtime', nvrtc: 'cuda-nvrtc', cupti: 'cuda-cupti' }[name] ??
    (name.startsWith('cublas') ? 'cublas' : name.toLowerCase());
  return [`nvidia-${stem}-cu${major}`];
}

/** 1 GiB: below this, memory held back by fragmentation is not worth a tip. */
const FRAGMENTATION_WORTH_A_TIP = 2 ** 30;

function addOomAdvice(out: IContext, oom: IOomFacts): void {
  if (oom.requested !== null && oom.total !== null) {
    out.facts.push(
      `The cell asked for ${formatSize(oom.requested)} on GPU ${oom.gpu ?? '?'}, which has ${formatSize(oom.total)} in all` +
        (oom.free !== null ? ` and had ${formatSize(oom.free)} free.` : '.')
    );
  }
  // "Including non-PyTorch memory, this process has 38.43 GiB memory in use": when the
  // failing process itself holds most of the GPU, the memory to free is in this kernel.
  const ownShare =
    oom.processUsed !== null && oom.total !== null ? oom.processUsed / oom.total : null;
  if (ownShare !== null && ownShare >= 0.5) {
    out.facts.push(
      `This process (the kernel that failed) holds ${formatSize(oom.processUsed!)} of the GPU's ${formatSize(oom.total!)} itself: the memory to free is in this kernel, not in other processes.`
    );
    out.fix =
      'Free memory this kernel holds: `del` the tensors, models and optimizers you no longer need (and outputs kept in `Out`), then `import gc; gc.collect(); torch.cuda.empty_cache()`; or make the work smaller (batch size, sequence length, precision). Restarting the kernel frees everything.';
  }
  if (oom.requested !== null && oom.total !== null && oom.requested > oom.total) {
    out.fix =
      'This one allocation is larger than the whole GPU, so freeing memory will not help: check the shape of the tensor being created (a wrong dimension is the usual cause), or split the work into pieces.';
    return;
  }
  out.tips.push(
    'Make the work smaller: a smaller batch size (with gradient accumulation to keep the effective batch), shorter sequences, or fp16/bf16 weights.'
  );
  out.tips.push(
    '`torch.cuda.empty_cache()` only returns memory PyTorch has cached but no tensor uses; tensors you still reference stay. `del` them first; IPython also keeps displayed results in `Out` and `_` (clear with `%reset -f out`).'
  );
  if (oom.reservedUnallocated !== null && oom.reservedUnallocated >= FRAGMENTATION_WORTH_A_TIP) {
    out.tips.push(
      `${formatSize(oom.reservedUnallocated)} is reserved by PyTorch but unallocated (fragmentation): set \`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True\` in the first cell, before CUDA starts, and restart the kernel.`
    );
    out.commands.push('%env PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True');
  }
}

/** "1 GPU", "2 GPUs" (the explanations are English, as the knowledge base is). */
function gpus(count: number): string {
  return `${count} GPU${count === 1 ? '' : 's'}`;
}

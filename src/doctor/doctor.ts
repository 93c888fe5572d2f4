/**
 * The doctor: facts in, findings out (pass / warn / fail, each with its cause, the exact
 * fix and its sources). Pure functions over the knowledge base: used by the report in
 * JupyterLab and by `gpuscope explain`.
 */
import {
  archCovers,
  bestVariantForDriver,
  BINARY_COMPAT_SOURCE,
  capability,
  compareVersions,
  driverMinimum,
  failureSource,
  feature,
  ISource,
  sources,
  supports,
  wheelIndex,
  wheelsCovering
} from '../knowledge';
import type { IFacts } from './facts';

export type Severity = 'pass' | 'warn' | 'fail';

export interface IFinding {
  id: string;
  severity: Severity;
  title: string;
  cause: string;
  /** The exact fix: commands or code where there are any. */
  fix: string | null;
  sources: ISource[];
  device?: number;
}

const INSTALL = (variant: string) =>
  `pip install --force-reinstall torch --index-url ${wheelIndex(variant)}`;

/** Fixes are Markdown-like: prose, with every command or code in `backticks`. */
const code = (text: string) => `\`${text}\``;

/** Every finding for a facts document, worst first. */
export function diagnose(facts: IFacts): IFinding[] {
  const findings: IFinding[] = [];
  const add = (f: IFinding) => findings.push(f);
  const driver = facts.driver;
  const torch = facts.torch;
  const hasDriver = !!driver?.available;

  for (const timeout of facts.timeouts) {
    add({
      id: 'timeout',
      severity: 'fail',
      title: 'Part of the diagnostic hung',
      cause: timeout,
      fix: 'A CUDA call that hangs usually means a wedged GPU or driver: restart the kernel; if it persists, ask the administrator to check `nvidia-smi` and the driver logs.',
      sources: []
    });
  }

  // ---- the driver and the container ------------------------------------------------
  if (!hasDriver) {
    const inContainer = facts.container.dockerenv;
    const noDevices = facts.container.dev_nvidia.length === 0;
    add({
      id: inContainer && noDevices ? 'no-gpu-in-container' : 'no-driver',
      severity: torch?.cuda_built ? 'fail' : 'warn',
      title:
        inContainer && noDevices
          ? 'No GPU was passed into this container'
          : 'No NVIDIA driver is visible',
      cause: `${sentence(driver?.error ?? 'The driver could not be read')}${
        noDevices ? ' There are no /dev/nvidia* device files.' : ''
      }`,
      fix:
        inContainer && noDevices
          ? 'Start the container with the GPU: `docker run --gpus all ...` (NVIDIA Container Toolkit), or on Kubernetes request `nvidia.com/gpu` in the pod.'
          : 'Install the NVIDIA driver on this machine (or run on a machine that has a GPU).',
      sources: sources(failureSource('no_gpu_in_container'))
    });
  } else {
    add({
      id: 'driver',
      severity: 'pass',
      title: `NVIDIA driver ${driver!.version} (supports CUDA up to ${driver!.cuda_version})`,
      cause: `${driver!.devices.length} GPU(s): ${driver!.devices.map(d => `${d.name} (${d.cc})`).join(', ')}`,
      fix: null,
      sources: []
    });
    for (const device of driver!.devices) {
      if (device.mig_mode?.current) {
        add({
          id: 'mig-enabled',
          severity: 'warn',
          title: `MIG is enabled on GPU ${device.index}`,
          cause: 'The GPU is split into MIG instances: a CUDA process sees one instance, with a fraction of the memory and SMs.',
          fix: 'Pick the instance explicitly: `CUDA_VISIBLE_DEVICES=MIG-<uuid>` (list them with `nvidia-smi -L`), or ask the administrator to disable MIG (`nvidia-smi -i N -mig 0`).',
          sources: sources(feature('mig').source),
          device: device.index
        });
      }
    }
  }

  // ---- PyTorch ------------------------------------------------------------------------
  if (!torch) {
    add({
      id: 'no-torch',
      severity: 'warn',
      title: 'PyTorch is not installed in this kernel',
      cause: `Nothing to check beyond the driver (Python ${facts.python.version} at ${facts.python.executable}).`,
      fix: code(
        hasDriver && driver!.cuda_version
          ? INSTALL(bestVariantForDriver(driver!.cuda_version) ?? 'cu126').replace(' --force-reinstall', '')
          : 'pip install torch'
      ),
      sources: []
    });
    return ordered(findings);
  }

  if (!torch.cuda_built) {
    const variant = hasDriver && driver!.cuda_version ? bestVariantForDriver(driver!.cuda_version) : null;
    add({
      id: 'cpu-only-wheel',
      severity: hasDriver ? 'fail' : 'warn',
      title: 'No CUDA in this torch build',
      cause: `torch ${torch.version} is a CPU-only build (torch.version.cuda is None)${
        hasDriver ? ', so it cannot use the GPU this machine has.' : '.'
      }`,
      fix: variant
        ? `${code(INSTALL(variant))} (the build for this driver, CUDA ${driver!.cuda_version}), then restart the kernel.`
        : `Install a CUDA build on a machine with an NVIDIA GPU: ${code(INSTALL('cu126'))}`,
      sources: sources(failureSource('cpu_only_wheel'))
    });
    return ordered(findings);
  }

  // The wheel's CUDA against the driver.
  if (hasDriver && torch.cuda && driver!.version && driver!.cuda_version) {
    const wheelMajor = Number(torch.cuda.split('.')[0]);
    const driverMajor = Number(driver!.cuda_version.split('.')[0]);
    const minimum = driverMinimum(wheelMajor);
    if (wheelMajor > driverMajor || (minimum && compareVersions(driver!.version, minimum.driver) < 0)) {
      const variant = bestVariantForDriver(driver!.cuda_version);
      add({
        id: 'driver-too-old',
        severity: 'fail',
        title: `The driver is too old for this torch build (CUDA ${torch.cuda})`,
        cause: `The driver ${driver!.version} supports CUDA up to ${driver!.cuda_version}; torch ${torch.version} needs a CUDA ${wheelMajor}.x driver${
          minimum ? ` (at least ${minimum.driver})` : ''
        }.`,
        fix: `Upgrade the NVIDIA driver to ${minimum?.driver ?? 'a newer release'} or later, or install a wheel for this driver: ${
          variant ? code(INSTALL(variant)) : 'none of the published wheels supports it'
        }`,
        sources: sources([...(minimum?.source ?? []), ...failureSource('driver_too_old')])
      });
    }
  }

  // CUDA_VISIBLE_DEVICES.
  const cvd = facts.env.CUDA_VISIBLE_DEVICES;
  if (cvd !== null && cvd !== undefined) {
    const entries = cvd.split(',').map(s => s.trim());
    const driverCount = driver?.devices.length ?? 0;
    const valid = (e: string) =>
      /^\d+$/.test(e) ? Number(e) < driverCount : /^(GPU|MIG)-/.test(e);
    const firstInvalid = entries.findIndex(e => !valid(e));
    if (cvd.trim() === '' || cvd.trim() === '-1') {
      add({
        id: 'cuda-visible-devices',
        severity: 'fail',
        title: `CUDA_VISIBLE_DEVICES="${cvd}" hides every GPU`,
        cause: 'CUDA sees no device, so torch reports "No CUDA GPUs are available".',
        fix: 'Unset it before the kernel starts (`del os.environ["CUDA_VISIBLE_DEVICES"]` only helps before CUDA initialises: restart the kernel), or set it to the GPUs to use, e.g. `CUDA_VISIBLE_DEVICES=0`.',
        sources: sources(failureSource('cuda_visible_devices'))
      });
    } else if (firstInvalid >= 0) {
      add({
        id: 'cuda-visible-devices',
        severity: 'fail',
        title: `CUDA_VISIBLE_DEVICES="${cvd}" names a GPU that does not exist`,
        cause: `This machine has ${driverCount} GPU(s) (indices 0–${Math.max(driverCount - 1, 0)}); "${
          entries[firstInvalid]
        }" is not one of them, and CUDA hides it and every entry after it.`,
        fix: `Use existing indices or UUIDs (\`nvidia-smi -L\`), e.g. \`CUDA_VISIBLE_DEVICES=${
          driverCount ? Array.from({ length: driverCount }, (_, i) => i).join(',') : '0'
        }\`, and restart the kernel.`,
        sources: sources(failureSource('cuda_visible_devices'))
      });
    }
  }

  if (torch.init_error && !findings.some(f => f.severity === 'fail')) {
    add({
      id: 'cuda-init-failed',
      severity: 'fail',
      title: 'CUDA failed to start in torch',
      cause: torch.init_error,
      fix: 'Restart the kernel; if it persists, check `nvidia-smi` in a terminal and that no other process holds the GPU in exclusive mode.',
      sources: []
    });
  }

  if (torch.cuda_available && torch.device_count > 0) {
    add({
      id: 'cuda-available',
      severity: 'pass',
      title: `torch ${torch.version} sees ${torch.device_count} GPU(s) with CUDA ${torch.cuda}`,
      cause: torch.devices.map(d => `GPU ${d.index}: ${d.name}, compute capability ${d.cc}`).join('; '),
      fix: null,
      sources: []
    });
  }

  // ---- per device ---------------------------------------------------------------------
  for (const device of torch.devices) {
    const covered = archCovers(torch.arch_list, device.cc);
    if (!covered.covered) {
      const wheels = wheelsCovering(device.cc).slice(0, 3);
      add({
        id: 'arch-not-covered',
        severity: 'fail',
        title: `This torch build has no code for GPU ${device.index} (${device.name}, compute capability ${device.cc})`,
        cause: `Its arch list is ${torch.arch_list.join(' ')}: no sm_${device.cc.replace('.', '')}-compatible code and no older PTX, so kernels fail with "no kernel image is available for execution on the device".`,
        fix: wheels.length
          ? `Install a wheel that covers ${device.cc}: ${wheels
              .map(w => `torch ${w.torch} ${w.variant}: ${code(`pip install --force-reinstall "torch==${w.torch}.*" --index-url ${wheelIndex(w.variant)}`)}`)
              .join('; ')}`
          : `No published torch wheel covers compute capability ${device.cc}: build torch from source with ${code(`TORCH_CUDA_ARCH_LIST="${device.cc}"`)}.`,
        sources: sources([...BINARY_COMPAT_SOURCE, ...failureSource('wheel_lacks_arch')]),
        device: device.index
      });
    }
    const bf16Emulated =
      !supports('bf16', device.cc) && (torch.bf16_supported === true || torch.bf16_native === false);
    if (bf16Emulated) {
      add({
        id: 'bf16-emulated',
        severity: 'warn',
        title: `bf16 is only emulated on GPU ${device.index} (${device.cc})`,
        cause: `Native bf16 needs compute capability ${feature('bf16').min_cc} or newer; torch.cuda.is_bf16_supported() may still say True, but bf16 runs slower than fp32 here.`,
        fix: 'Use fp16 with a GradScaler (`torch.autocast("cuda", dtype=torch.float16)`) or fp32 on this GPU.',
        sources: sources([...feature('bf16').source, ...failureSource('bf16_emulated')]),
        device: device.index
      });
    }
    if (supports('tf32', device.cc) && !torch.tf32.matmul) {
      add({
        id: 'tf32-off',
        severity: 'warn',
        title: `TF32 matmuls are off on GPU ${device.index}, which has TF32 tensor cores`,
        cause: 'fp32 matrix products run at full fp32 speed; TF32 is several times faster with ~10-bit mantissa products (usually fine for training).',
        fix: `${code("torch.set_float32_matmul_precision('high')")} (or ${code('torch.backends.cuda.matmul.allow_tf32 = True')})`,
        sources: sources(feature('tf32').source),
        device: device.index
      });
    }
    const flashHere = supports('sdpa_flash', device.cc);
    if (!flashHere || !torch.sdpa.flash) {
      const range = feature('sdpa_flash');
      add({
        id: 'flash-attention-unavailable',
        severity: 'warn',
        title: `Flash attention is unavailable on GPU ${device.index}`,
        cause: !flashHere
          ? `scaled_dot_product_attention's flash backend needs compute capability ${range.min_cc}–${range.max_cc}; ${device.name} is ${device.cc}${
              capability(device.cc) ? ` (${capability(device.cc)!.arch})` : ''
            }. SDPA falls back to the memory-efficient or math kernels.`
          : 'The flash SDPA backend is disabled in this kernel (torch.backends.cuda.enable_flash_sdp(False)).',
        fix: !flashHere
          ? 'Nothing to fix for correctness; for speed use a GPU of compute capability 8.0 or newer, and keep fp16 inputs so the memory-efficient kernel applies.'
          : code('torch.backends.cuda.enable_flash_sdp(True)'),
        sources: sources(range.source),
        device: device.index
      });
    }
  }

  for (const smoke of torch.smoke) {
    if (smoke.ok) {
      add({
        id: 'smoke-test',
        severity: 'pass',
        title: `Matrix multiplication on GPU ${smoke.device} is correct`,
        cause: `256×256 fp32 product: largest difference from the CPU ${smoke.max_error?.toExponential(1)}, ${smoke.ms} ms (first launch included).`,
        fix: null,
        sources: [],
        device: smoke.device
      });
    } else {
      add({
        id: 'smoke-test',
        severity: 'fail',
        title: `Matrix multiplication on GPU ${smoke.device} ${smoke.error ? 'failed' : 'gave a wrong result'}`,
        cause: smoke.error ?? `The largest difference from the CPU result is ${smoke.max_error}, far above rounding error.`,
        fix: smoke.error?.includes('no kernel image')
          ? 'This torch build lacks code for the GPU: see the arch-list finding above.'
          : 'Restart the kernel and run the diagnostic again; a wrong result that persists points at faulty hardware or an overclock: report it with `nvidia-smi -q` output.',
        sources: [],
        device: smoke.device
      });
    }
  }
  return ordered(findings);
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

const RANK: Record<Severity, number> = { fail: 0, warn: 1, pass: 2 };

function ordered(findings: IFinding[]): IFinding[] {
  return findings.sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}

/** "2 problems, 1 warning, 3 checks passed". */
export function summarize(findings: IFinding[]): string {
  const count = (s: Severity) => findings.filter(f => f.severity === s).length;
  const fails = count('fail');
  const warns = count('warn');
  const parts = [
    fails ? `${fails} problem${fails > 1 ? 's' : ''}` : 'no problems',
    `${warns} warning${warns === 1 ? '' : 's'}`,
    `${count('pass')} check${count('pass') === 1 ? '' : 's'} passed`
  ];
  return parts.join(', ');
}

/** The report as Markdown (for "copy as Markdown" and the CLI). */
export function toMarkdown(findings: IFinding[], facts: IFacts): string {
  const icon: Record<Severity, string> = { fail: '❌', warn: '⚠️', pass: '✅' };
  const lines = [`## GPU diagnostic: ${summarize(findings)}`, ''];
  for (const f of findings) {
    lines.push(`- ${icon[f.severity]} **${f.title}** — ${f.cause}`);
    if (f.fix) {
      lines.push(`  - Fix: ${f.fix}`);
    }
  }
  lines.push(
    '',
    `<sub>Python ${facts.python.version}, torch ${facts.torch?.version ?? 'not installed'}, driver ${
      facts.driver?.version ?? 'none'
    }; collected ${facts.collected_at} in ${facts.duration_s} s by jupyterlab-gpuscope.</sub>`
  );
  return lines.join('\n');
}

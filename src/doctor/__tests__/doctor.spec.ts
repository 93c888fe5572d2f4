import { diagnose, IFinding, summarize, toMarkdown } from '../doctor';
import { factsProblem, IFacts } from '../facts';
import { main } from '../../cli';

// Recorded with the collector on a real H100 (device machine), and variants of it that
// change only what each case needs.
import h100 from './facts/h100.json';
import cvdEmpty from './facts/h100-cvd-empty.json';
import cvdInvalid from './facts/h100-cvd-invalid.json';

function facts(change: (f: IFacts) => void = () => undefined): IFacts {
  const copy = JSON.parse(JSON.stringify(h100)) as IFacts;
  change(copy);
  return copy;
}

const byId = (findings: IFinding[], id: string) => findings.filter(f => f.id === id);
const fails = (findings: IFinding[]) => findings.filter(f => f.severity === 'fail');

function asGpu(f: IFacts, name: string, cc: string) {
  f.driver!.devices[0].name = name;
  f.driver!.devices[0].cc = cc;
  f.torch!.devices[0].name = name;
  f.torch!.devices[0].cc = cc;
}

describe('doctor', () => {
  it('finds nothing wrong on the recorded H100, and says TF32 is off', () => {
    const findings = diagnose(facts());
    expect(fails(findings)).toEqual([]);
    expect(findings.map(f => `${f.severity} ${f.id}`)).toEqual([
      'warn tf32-off',
      'pass driver',
      'pass cuda-available',
      'pass smoke-test'
    ]);
    expect(byId(findings, 'tf32-off')[0].fix).toContain("set_float32_matmul_precision('high')");
    expect(summarize(findings)).toBe('no problems, 1 warning, 3 checks passed');
  });

  it('CUDA_VISIBLE_DEVICES="" (recorded): every GPU hidden', () => {
    const [finding] = fails(diagnose(cvdEmpty as IFacts));
    expect(finding.id).toBe('cuda-visible-devices');
    expect(finding.title).toBe('CUDA_VISIBLE_DEVICES="" hides every GPU');
    expect(finding.sources.map(s => s.key)).toContain('nv_cvd_envvar');
  });

  it('CUDA_VISIBLE_DEVICES=7 on a one-GPU machine (recorded): names a missing GPU', () => {
    const [finding] = fails(diagnose(cvdInvalid as IFacts));
    expect(finding.id).toBe('cuda-visible-devices');
    expect(finding.cause).toContain('"7" is not one of them');
    expect(finding.fix).toContain('CUDA_VISIBLE_DEVICES=0');
  });

  it('a CPU-only wheel on a GPU machine fails with the install line for the driver', () => {
    const findings = diagnose(
      facts(f => {
        Object.assign(f.torch!, { version: '2.13.0+cpu', cuda: null, cuda_built: false, devices: [], smoke: [] });
      })
    );
    const [finding] = fails(findings);
    expect(finding.id).toBe('cpu-only-wheel');
    expect(finding.title).toBe('No CUDA in this torch build');
    expect(finding.fix).toContain(
      'pip install --force-reinstall torch --index-url https://download.pytorch.org/whl/cu130'
    );
  });

  it('a CPU-only wheel with no GPU at all is a warning, not a failure', () => {
    const findings = diagnose(
      facts(f => {
        Object.assign(f.torch!, { version: '2.13.0+cpu', cuda: null, cuda_built: false, devices: [], smoke: [] });
        f.driver = { available: false, error: 'libnvidia-ml.so.1 cannot be loaded', version: null, cuda_version: null, devices: [] };
        f.container = { dockerenv: false, dev_nvidia: [] };
      })
    );
    expect(fails(findings)).toEqual([]);
    expect(byId(findings, 'cpu-only-wheel')[0].severity).toBe('warn');
    expect(byId(findings, 'no-driver')[0].severity).toBe('warn');
  });

  it('no GPU passed into a container', () => {
    const findings = diagnose(
      facts(f => {
        f.driver = { available: false, error: 'libnvidia-ml.so.1 cannot be loaded', version: null, cuda_version: null, devices: [] };
        f.container = { dockerenv: true, dev_nvidia: [] };
        Object.assign(f.torch!, { cuda_available: false, init_error: 'RuntimeError: Found no NVIDIA driver on your system.', device_count: 0, devices: [], smoke: [] });
      })
    );
    const first = fails(findings)[0];
    expect(first.id).toBe('no-gpu-in-container');
    expect(first.fix).toContain('docker run --gpus all');
  });

  it('a driver too old for the wheel: upgrade, or the wheel for this driver', () => {
    const [finding] = fails(
      diagnose(
        facts(f => {
          f.driver!.version = '550.54.14';
          f.driver!.cuda_version = '12.4';
          Object.assign(f.torch!, {
            cuda_available: false,
            init_error: 'RuntimeError: The NVIDIA driver on your system is too old (found version 12040).',
            device_count: 0,
            devices: [],
            smoke: []
          });
        })
      )
    );
    expect(finding.id).toBe('driver-too-old');
    expect(finding.cause).toContain('supports CUDA up to 12.4');
    expect(finding.fix).toContain('580.65.06');
    expect(finding.fix).toContain('https://download.pytorch.org/whl/cu126');
  });

  it('a wheel without code for the GPU ("no kernel image"): names wheels that cover it', () => {
    const findings = diagnose(facts(f => asGpu(f, 'Tesla V100-SXM2-16GB', '7.0')));
    const [finding] = fails(findings);
    expect(finding.id).toBe('arch-not-covered');
    expect(finding.cause).toContain('no kernel image is available');
    expect(finding.fix).toContain(
      'torch 2.14 cu126: `pip install --force-reinstall "torch==2.14.*" --index-url https://download.pytorch.org/whl/cu126`'
    );
    expect(finding.sources.map(s => s.key)).toContain('llvm_cubin_rule');
  });

  it('PTX and same-major cubins count as coverage', () => {
    expect(fails(diagnose(facts(f => asGpu(f, 'NVIDIA GB10', '12.1'))))).toEqual([]);
    expect(
      fails(
        diagnose(
          facts(f => {
            asGpu(f, 'future GPU', '13.0');
            f.torch!.arch_list = ['sm_90', 'compute_90'];
          })
        )
      )
    ).toEqual([]);
  });

  it('a T4: bf16 only emulated, no TF32 warning, no flash attention', () => {
    const findings = diagnose(
      facts(f => {
        asGpu(f, 'Tesla T4', '7.5');
        f.torch!.bf16_supported = true;
        f.torch!.bf16_native = false;
      })
    );
    expect(byId(findings, 'bf16-emulated')).toHaveLength(1);
    expect(byId(findings, 'tf32-off')).toHaveLength(0);
    expect(byId(findings, 'flash-attention-unavailable')[0].cause).toContain('compute capability 8.0–12.1');
    expect(fails(findings)).toEqual([]);
  });

  it('flash attention turned off in the kernel', () => {
    const findings = diagnose(facts(f => (f.torch!.sdpa.flash = false)));
    expect(byId(findings, 'flash-attention-unavailable')[0].fix).toBe('`torch.backends.cuda.enable_flash_sdp(True)`');
  });

  it('MIG enabled', () => {
    const findings = diagnose(facts(f => (f.driver!.devices[0].mig_mode = { current: true, pending: true })));
    expect(byId(findings, 'mig-enabled')[0].fix).toContain('CUDA_VISIBLE_DEVICES=MIG-<uuid>');
  });

  it('a failed or wrong smoke test', () => {
    const failed = diagnose(
      facts(f => (f.torch!.smoke[0] = { device: 0, ok: false, max_error: null, ms: null, error: 'RuntimeError: CUDA error: no kernel image is available for execution on the device' }))
    );
    expect(byId(failed, 'smoke-test')[0].title).toBe('Matrix multiplication on GPU 0 failed');
    const wrong = diagnose(facts(f => (f.torch!.smoke[0] = { device: 0, ok: false, max_error: 12.5, ms: 1, error: null })));
    expect(byId(wrong, 'smoke-test')[0].title).toBe('Matrix multiplication on GPU 0 gave a wrong result');
  });

  it('no torch, and a hung CUDA init', () => {
    const findings = diagnose(
      facts(f => {
        f.torch = null;
        f.timeouts = ['torch did not finish within 30 s (a hung CUDA call?)'];
      })
    );
    expect(findings[0].id).toBe('timeout');
    expect(byId(findings, 'no-torch')[0].fix).toBe('`pip install torch --index-url https://download.pytorch.org/whl/cu130`');
  });

  it('renders Markdown for bug reports', () => {
    const md = toMarkdown(diagnose(facts()), facts());
    expect(md).toContain('## GPU diagnostic: no problems, 1 warning, 3 checks passed');
    expect(md).toContain("⚠️ **TF32 matmuls are off on GPU 0");
    expect(md).toContain('torch 2.11.0+cu130, driver 580.159.04');
  });

  it('rejects documents that are not facts', () => {
    expect(factsProblem([])).toBe('the facts must be a JSON object');
    expect(factsProblem({ schema: 'x' })).toContain('unknown facts schema');
    expect(factsProblem(h100)).toBeNull();
  });
});

describe('gpuscope explain', () => {
  const run = (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = main(argv, { out: t => out.push(t), err: t => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const dir = `${__dirname}/facts`;

  it('prints findings and exits 0 when nothing failed', () => {
    const { code, out } = run(['explain', `${dir}/h100.json`]);
    expect(code).toBe(0);
    expect(out).toContain('GPU diagnostic: no problems, 1 warning, 3 checks passed');
    expect(out).toContain('WARN  TF32 matmuls are off');
  });

  it('exits 1 on a failure, and gives JSON with --json', () => {
    const { code, out } = run(['explain', `${dir}/h100-cvd-empty.json`, '--json']);
    expect(code).toBe(1);
    const body = JSON.parse(out);
    expect(body.findings[0].id).toBe('cuda-visible-devices');
  });

  it('exits 2 with a clear message on bad input', () => {
    expect(run(['explain', `${dir}/missing.json`]).err).toContain('no such file');
    expect(run(['explain']).code).toBe(2);
    expect(run(['frobnicate']).err).toContain('unknown command "frobnicate"');
    expect(run(['explain', `${__dirname}/doctor.spec.ts`]).err).toMatch(/Unexpected token|not valid JSON/);
  });
});

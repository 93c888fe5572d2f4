import '../node';
import { analyze, collectImports, IDeviceProfile } from '../analyzer';
import { resolveTarget } from '../../knowledge';

function target(name: string, deviceCount = 1): IDeviceProfile {
  const t = resolveTarget(name)!;
  return { source: 'target', hasGpu: true, cc: t.cc, name: t.name, deviceCount };
}
const CPU: IDeviceProfile = { source: 'kernel', hasGpu: false, noGpuReason: 'torch is a CPU-only build', cc: null, name: null, deviceCount: 0 };

const rules = (source: string, profile: IDeviceProfile, imports?: Map<string, string>) =>
  analyze(source, profile, { imports }).map(f => f.rule);

const TRAINING_LOOP = `
import torch
from torch import nn

device = torch.device("cuda")
model = nn.Linear(512, 512).cuda()
model = torch.compile(model)
opt = torch.optim.AdamW(model.parameters())
scaler = torch.cuda.amp.GradScaler()
torch.backends.cuda.matmul.allow_tf32 = True
for x, y in loader:
    x, y = x.to("cuda"), y.to(device)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
`;

const HF_FINETUNE = `
from transformers import AutoModelForCausalLM, TrainingArguments
import bitsandbytes
model = AutoModelForCausalLM.from_pretrained(
    "meta-llama/Llama-3.1-8B", load_in_8bit=True, device_map="cuda:0",
    attn_implementation="flash_attention_2")
args = TrainingArguments(output_dir="out", bf16=True)
`;

const ATTENTION = `
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
from flash_attn import flash_attn_func
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    out = F.scaled_dot_product_attention(q, k, v)
out2 = flash_attn_func(q, k, v, causal=True)
`;

const MULTI_GPU = `
import torch
import torch.distributed as dist
dist.init_process_group("nccl")
torch.cuda.set_device(3)
x = torch.zeros(4, device="cuda:1")
model = torch.nn.DataParallel(model)
`;

describe('capability linter: a corpus of realistic code', () => {
  it('training loop on a CPU-only kernel: every CUDA use, nothing about capabilities', () => {
    expect(rules(TRAINING_LOOP, CPU)).toEqual([
      'cuda-without-gpu', // torch.device("cuda")
      'cuda-without-gpu', // .cuda()
      'amp-deprecated',
      'cuda-without-gpu' // .to("cuda")
    ]);
  });

  it('training loop on a Pascal P100 (6.0)', () => {
    expect(rules(TRAINING_LOOP, target('P100'))).toEqual([
      'compile-unsupported',
      'amp-deprecated',
      'tf32-no-effect',
      'bf16-unsupported'
    ]);
  });

  it('training loop on a T4 (7.5): bf16 and TF32, torch.compile is fine', () => {
    expect(rules(TRAINING_LOOP, target('T4'))).toEqual(['amp-deprecated', 'tf32-no-effect', 'bf16-unsupported']);
  });

  it('training loop on an A100 and an H100: only the deprecation', () => {
    expect(rules(TRAINING_LOOP, target('A100'))).toEqual(['amp-deprecated']);
    expect(rules(TRAINING_LOOP, target('H100'))).toEqual(['amp-deprecated']);
  });

  it('Hugging Face fine-tuning on a V100 and a T4', () => {
    expect(rules(HF_FINETUNE, target('V100'))).toEqual(['bnb-8bit-slow', 'bnb-8bit-slow']);
    expect(rules(HF_FINETUNE, target('T4'))).toEqual([]);
  });

  it('attention code on a T4, an L4 and an H100', () => {
    expect(rules(ATTENTION, target('T4'))).toEqual(['flash-attn-unsupported', 'sdpa-flash-unsupported']);
    expect(rules(ATTENTION, target('L4'))).toEqual([]);
    expect(rules(ATTENTION, target('H100'))).toEqual([]);
  });

  it('multi-GPU code on one GPU and on two', () => {
    expect(rules(MULTI_GPU, target('A100', 1))).toEqual([
      'nccl-single-gpu',
      'device-index-out-of-range', // set_device(3)
      'device-index-out-of-range', // "cuda:1"
      'dataparallel-single-gpu'
    ]);
    expect(rules(MULTI_GPU, target('A100', 2))).toEqual(['device-index-out-of-range', 'dataparallel-use-ddp']);
  });

  it('FP8 and Transformer Engine below 8.9, fine on 8.9', () => {
    const fp8 = `
import torch
import transformer_engine.pytorch as te
a = torch.randn(16, 16, device="cuda").to(torch.float8_e4m3fn)
y = torch._scaled_mm(a, b, out_dtype=torch.bfloat16, scale_a=s, scale_b=s)
with te.fp8_autocast(enabled=True):
    out = layer(x)
`;
    expect(rules(fp8, target('A100'))).toEqual(['fp8-dtype-unsupported', 'scaled-mm-unsupported', 'te-fp8-unsupported']);
    expect(rules(fp8, target('L4'))).toEqual([]);
    expect(rules('import flash_attn_interface', target('A100'))).toEqual(['flash-attn3-unsupported']);
  });
});

describe('alias resolution and positions', () => {
  it('follows import aliases, from-imports and the notebook imports', () => {
    expect(rules('import torch as t\nx = t.zeros(2, dtype=t.bfloat16)', target('T4'))).toEqual(['bf16-unsupported']);
    expect(rules('from torch import bfloat16 as bf\ny = bf', target('T4'))).toEqual(['bf16-unsupported']);
    const notebook = collectImports('import torch as th');
    expect(rules('z = th.cuda.amp.autocast()', target('A100'), notebook)).toEqual(['amp-deprecated']);
    // An unrelated name is not torch.
    expect(rules('import numpy as np\nnp.bfloat16', target('T4'))).toEqual([]);
  });

  it('reports exact positions', () => {
    const source = 'import torch\n\nx = torch.zeros(2,\n    dtype=torch.bfloat16)';
    const [finding] = analyze(source, target('T4'));
    expect(source.slice(finding.from, finding.to)).toBe('torch.bfloat16');
    expect([finding.line, finding.column]).toEqual([4, 11]);
    expect(finding.message).toBe('bf16 needs compute capability 8.0 or newer; T4 is 7.5, where bf16 is emulated (slow) or fails.');
    expect(finding.sources.length).toBeGreaterThan(0);
  });

  it('skips magics and shell lines, keeping positions', () => {
    const source = '%matplotlib inline\n!nvidia-smi\nx = torch.ones(1).cuda()';
    const [finding] = analyze(source, CPU);
    expect(finding.line).toBe(3);
    expect(source.slice(finding.from, finding.to)).toBe('cuda()');
    expect(analyze('%%bash\necho torch.bfloat16 .cuda()', CPU)).toEqual([]);
    expect(rules('%%time\nx = torch.ones(1).cuda()', CPU)).toEqual(['cuda-without-gpu']);
  });

  it('honours ignore comments, per rule or for all', () => {
    const code = 'x = torch.zeros(1, dtype=torch.bfloat16).cuda()';
    expect(rules(code, { ...CPU })).toEqual(['cuda-without-gpu']);
    expect(rules(code + '  # gpuscope: ignore[cuda-without-gpu]', CPU)).toEqual([]);
    expect(rules(code + '  # gpuscope: ignore[bf16-unsupported]', CPU)).toEqual(['cuda-without-gpu']);
    expect(rules(code + '  # gpuscope: ignore', CPU)).toEqual([]);
  });

  it('rules can be disabled', () => {
    expect(analyze('x = torch.ones(1).cuda()', CPU, { disabled: new Set(['cuda-without-gpu']) })).toEqual([]);
  });

  it('tolerates code being typed', () => {
    expect(rules('x = torch.zeros(2, dtype=torch.bfloat16', target('T4'))).toEqual(['bf16-unsupported']);
    expect(rules('with torch.autocast("cuda", dtype=torch.bf', target('T4'))).toEqual([]);
  });

  it('knows GPUs by name or compute capability', () => {
    expect(resolveTarget('T4')?.cc).toBe('7.5');
    expect(resolveTarget('Tesla T4')?.cc).toBe('7.5');
    expect(resolveTarget('RTX 4090')?.cc).toBe('8.9');
    expect(resolveTarget('8.6')?.cc).toBe('8.6');
    expect(resolveTarget('H100')?.cc).toBe('9.0');
    expect(resolveTarget('no such gpu')).toBeNull();
  });
});

import '../../../cli/parser';
import { analyze, collectDeviceNames, collectImports, IDeviceProfile } from '../analyzer';
import { resolveTarget } from '../../knowledge';

function target(name: string, deviceCount = 1): IDeviceProfile {
  const t = resolveTarget(name)!;
  return { source: 'target', hasGPU: true, cc: t.cc, name: t.name, deviceCount };
}
const CPU: IDeviceProfile = {
  source: 'kernel',
  hasGPU: false,
  noGPUReason: 'torch is a CPU-only build',
  cc: null,
  name: null,
  deviceCount: 0
};

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
      'cuda-without-gpu', // .to("cuda")
      'cuda-without-gpu' // .to(device): the name holds torch.device("cuda")
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
    expect(rules(TRAINING_LOOP, target('T4'))).toEqual([
      'amp-deprecated',
      'tf32-no-effect',
      'bf16-unsupported'
    ]);
  });

  it('training loop on an A100 and an H100: only the deprecation', () => {
    expect(rules(TRAINING_LOOP, target('A100'))).toEqual(['amp-deprecated']);
    expect(rules(TRAINING_LOOP, target('H100'))).toEqual(['amp-deprecated']);
  });

  it('Hugging Face fine-tuning on a V100, a T4 and an A100: FlashAttention-2 and bf16 through their arguments', () => {
    // `import bitsandbytes` uses nothing: the finding is on load_in_8bit=True.
    expect(rules(HF_FINETUNE, target('V100'))).toEqual([
      'bnb-8bit-slow',
      'hf-flash-attn2-unsupported',
      'bf16-training-unsupported'
    ]);
    expect(rules(HF_FINETUNE, target('T4'))).toEqual([
      'hf-flash-attn2-unsupported',
      'bf16-training-unsupported'
    ]);
    expect(rules(HF_FINETUNE, target('A100'))).toEqual([]);
  });

  it('attention code on a T4, an L4 and an H100', () => {
    expect(rules(ATTENTION, target('T4'))).toEqual([
      'flash-attn-unsupported',
      'sdpa-flash-unsupported'
    ]);
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
    expect(rules(MULTI_GPU, target('A100', 2))).toEqual([
      'device-index-out-of-range',
      'dataparallel-use-ddp'
    ]);
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
    // FP8 as storage (the cast) runs anywhere; FP8 matrix multiplication needs 8.9.
    expect(rules(fp8, target('A100'))).toEqual(['scaled-mm-unsupported', 'te-fp8-unsupported']);
    expect(
      rules(
        'import torch\nscale = torch.finfo(torch.float8_e4m3fn).max\nw8 = w.to(torch.float8_e4m3fn)',
        target('T4')
      )
    ).toEqual([]);
    expect(rules(fp8, target('L4'))).toEqual([]);
    expect(rules('import flash_attn_interface', target('A100'))).toEqual([
      'flash-attn3-unsupported'
    ]);
  });
});

describe('alias resolution and positions', () => {
  it('follows import aliases, from-imports and the notebook imports', () => {
    expect(rules('import torch as t\nx = t.zeros(2, dtype=t.bfloat16)', target('T4'))).toEqual([
      'bf16-unsupported'
    ]);
    expect(rules('from torch import bfloat16 as bf\ny = bf', target('T4'))).toEqual([
      'bf16-unsupported'
    ]);
    const notebook = collectImports('import torch as th');
    expect(rules('z = th.cuda.amp.autocast()', target('A100'), notebook)).toEqual([
      'amp-deprecated'
    ]);
    // An unrelated name is not torch.
    expect(rules('import numpy as np\nnp.bfloat16', target('T4'))).toEqual([]);
  });

  it('reports exact positions', () => {
    const source = 'import torch\n\nx = torch.zeros(2,\n    dtype=torch.bfloat16)';
    const [finding] = analyze(source, target('T4'));
    expect(source.slice(finding.from, finding.to)).toBe('torch.bfloat16');
    expect([finding.line, finding.column]).toEqual([4, 11]);
    expect(finding.message).toBe(
      'bf16 needs compute capability 8.0 or newer; T4 is 7.5, where bf16 is emulated (slow) or fails.'
    );
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
    expect(rules(code + '  # gpuscope: ignore[bf16-unsupported]', CPU)).toEqual([
      'cuda-without-gpu'
    ]);
    expect(rules(code + '  # gpuscope: ignore', CPU)).toEqual([]);
  });

  it('rules can be disabled', () => {
    expect(
      analyze('x = torch.ones(1).cuda()', CPU, { disabled: new Set(['cuda-without-gpu']) })
    ).toEqual([]);
  });

  it('tolerates code being typed', () => {
    expect(rules('x = torch.zeros(2, dtype=torch.bfloat16', target('T4'))).toEqual([
      'bf16-unsupported'
    ]);
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

  it('knows each model of a listed family by its own name (RTX 3070, GTX 1660 Super, L20)', () => {
    const cc = (name: string) => resolveTarget(name)?.cc;
    expect(
      ['RTX 3070', 'RTX 3080 Ti', 'GTX 1660 Super', 'GTX 970', 'Quadro P4000', 'RTX 6000 Ada'].map(
        cc
      )
    ).toEqual(['8.6', '8.6', '7.5', '5.2', '6.1', '8.9']);
    expect(['L20', 'A10G', 'H800', 'A800', 'B100', 'RTX 5070 Ti'].map(cc)).toEqual([
      '8.9',
      '8.6',
      '9.0',
      '8.0',
      '10.0',
      '12.0'
    ]);
    // A list's model is not confused with another family's number.
    expect(cc('GTX 3070')).toBeUndefined();
  });
});

const T4 = () => target('T4');
const at = (source: string, profile: IDeviceProfile) =>
  analyze(source, profile).map(f => `${f.rule}@${f.line}`);

describe('the frameworks people train with, by their own spellings', () => {
  it('transformers: tf32=True is refused below 8.0, bf16=True is emulated, FlashAttention-2 and -3 by attn_implementation', () => {
    const code = `from transformers import TrainingArguments, AutoModelForCausalLM
args = TrainingArguments(output_dir="o", bf16=True, tf32=True)
m = AutoModelForCausalLM.from_pretrained("x", attn_implementation="flash_attention_2", torch_dtype="auto")
old = AutoModelForCausalLM.from_pretrained("x", use_flash_attention_2=True)
fa3 = AutoModelForCausalLM.from_pretrained("x", attn_implementation="flash_attention_3")`;
    expect(at(code, T4())).toEqual([
      'bf16-training-unsupported@2',
      'hf-tf32-unsupported@2',
      'hf-flash-attn2-unsupported@3',
      'hf-flash-attn2-unsupported@4',
      'hf-flash-attn3-unsupported@5'
    ]);
    const [tf32] = analyze(code, T4()).filter(f => f.rule === 'hf-tf32-unsupported');
    expect(tf32.severity).toBe('error');
    expect(tf32.message).toContain(
      'transformers raises "--tf32 requires Ampere or a newer GPU arch"'
    );
    expect(at(code, target('A100'))).toEqual(['hf-flash-attn3-unsupported@5']);
    expect(at(code, target('H100'))).toEqual([]);
    // Off is fine, and so is sdpa.
    expect(
      at(
        'from transformers import TrainingArguments\nTrainingArguments(output_dir="o", bf16=False, tf32=False, fp16=True)',
        T4()
      )
    ).toEqual([]);
  });

  it('TRL, sentence-transformers and Seq2Seq configs are TrainingArguments too', () => {
    expect(
      at('from trl import SFTConfig\ncfg = SFTConfig(output_dir="o", bf16=True)', T4())
    ).toEqual(['bf16-training-unsupported@2']);
    expect(
      at('import transformers\na = transformers.Seq2SeqTrainingArguments("o", tf32=True)', T4())
    ).toEqual(['hf-tf32-unsupported@2']);
  });

  it('Lightning precision strings, accelerate mixed_precision, DeepSpeed configs and torchao float8', () => {
    const code = `import lightning as L
import pytorch_lightning as pl
from accelerate import Accelerator
from torchao.float8 import convert_to_float8_training
t1 = L.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed")
t2 = pl.Trainer(precision='bf16')
t3 = L.Trainer(precision="16-mixed")
acc = Accelerator(mixed_precision="bf16")
fp8 = Accelerator(mixed_precision="fp8")
te = L.Trainer(precision="transformer-engine")
ds_config = {"train_micro_batch_size_per_gpu": 4, "bf16": {"enabled": True}, "zero_optimization": {"stage": 2}}
convert_to_float8_training(model)`;
    expect(at(code, T4())).toEqual([
      'bf16-training-unsupported@5',
      'bf16-training-unsupported@6',
      'bf16-training-unsupported@8',
      'accelerate-fp8-fallback@9',
      'fp8-training-unsupported@10',
      'bf16-training-unsupported@11',
      'fp8-training-unsupported@12'
    ]);
    // An A100 has bf16 but not FP8; an L4 (8.9) has both.
    expect(at(code, target('A100'))).toEqual([
      'accelerate-fp8-fallback@9',
      'fp8-training-unsupported@10',
      'fp8-training-unsupported@12'
    ]);
    expect(at(code, target('L4'))).toEqual([]);
    expect(at('cfg = {"bf16": {"enabled": False}, "fp16": {"enabled": True}}', T4())).toEqual([]);
  });
});

describe('values that reach a call through a name', () => {
  it('a setting held by a name bound to a literal is read as that literal; the finding sits where it is written and says where it is used', () => {
    const code = `from transformers import TrainingArguments
BF16 = True
TF32 = True
args = TrainingArguments(output_dir="o", bf16=BF16, tf32=TF32)`;
    const found = analyze(code, T4());
    expect(found.map(f => f.rule).sort()).toEqual([
      'bf16-training-unsupported',
      'hf-tf32-unsupported'
    ]);
    const tf32 = found.find(f => f.rule === 'hf-tf32-unsupported')!;
    expect(code.slice(tf32.from, tf32.to)).toBe('TF32 = True');
    expect([tf32.line, tf32.column]).toEqual([3, 1]);
    expect(tf32.message).toMatch(/ Used on line 4\.$/);
    // Bound in another cell, the name's finding stays on the argument.
    const later = analyze('args = TrainingArguments(output_dir="o", tf32=TF32)', T4(), {
      imports: new Map([['TrainingArguments', 'transformers.TrainingArguments']]),
      literals: new Map([['TF32', 'True']])
    });
    expect(later.map(f => `${f.rule}:${f.column}`)).toEqual(['hf-tf32-unsupported:42']);
    expect(later[0].message).not.toContain('Used on line');
    // A name bound to something else is not guessed at.
    expect(
      analyze(code.replace('TF32 = True', 'TF32 = args_from_cli.tf32'), T4()).map(f => f.rule)
    ).toEqual(['bf16-training-unsupported']);
  });

  it('settings gathered in a dict and passed with ** are checked where they are written', () => {
    const code = `from transformers import AutoModelForCausalLM, TrainingArguments
model_kwargs = dict(torch_dtype="auto")
model_kwargs["attn_implementation"] = "flash_attention_2"
model = AutoModelForCausalLM.from_pretrained("x", **model_kwargs)
cfg = {"bf16": True, "output_dir": "o"}
args = TrainingArguments(**cfg)
other = TrainingArguments(**{"tf32": True})`;
    const found = analyze(code, T4());
    expect(found.map(f => `${f.rule}@${f.line}`)).toEqual([
      'hf-flash-attn2-unsupported@3',
      'bf16-training-unsupported@5',
      'hf-tf32-unsupported@7'
    ]);
    const bf16 = found.find(f => f.rule === 'bf16-training-unsupported')!;
    expect(code.slice(bf16.from, bf16.to)).toBe('"bf16": True');
    expect(at(code, target('A100'))).toEqual([]);
  });

  it('.cuda(1) names a GPU by its index, checked against the GPUs there are', () => {
    const code = `import torch
model = model.cuda(1)`;
    expect(at(code, T4())).toEqual(['device-index-out-of-range@2']);
    expect(at(code, target('T4', 2))).toEqual([]);
    const [found] = analyze(code, T4());
    expect(code.slice(found.from, found.to)).toBe('1');
  });

  it('a device string or torch.device held by a name is a CUDA use, and its index is checked', () => {
    const code = `import torch
device = "cuda"
x = torch.randn(3, device=device)
dev = "cuda:1"
y = x.to(dev)
args = ("cuda:1",) + args
z = x.to(*args)
gpu = torch.device("cuda", 0)
w = x.to(gpu)`;
    // Without a GPU, "no GPU" says it all; with one, the index is checked.
    expect(at(code, CPU)).toEqual([
      'cuda-without-gpu@3',
      'cuda-without-gpu@5',
      'cuda-without-gpu@7',
      'cuda-without-gpu@8',
      'cuda-without-gpu@9'
    ]);
    expect(at(code, T4())).toEqual(['device-index-out-of-range@5', 'device-index-out-of-range@7']);
    expect(at(code, target('T4', 2))).toEqual([]);
  });

  it('the conditional the linter recommends is a guard: following the name flags nothing', () => {
    const code = `import torch
device = "cuda" if torch.cuda.is_available() else "cpu"
model = model.to(device)
x = torch.zeros(2, device=device)`;
    expect(at(code, CPU)).toEqual([]);
  });

  it('across cells: a device name bound in one cell is followed in another, and rebinding clears it', () => {
    const first = collectDeviceNames(
      'import torch\ndevice = "cuda:1"\nother = "cpu"\nif x:\n    gpu = "cuda"'
    );
    expect([...first]).toEqual([
      ['device', 'cuda:1'],
      ['other', null]
    ]);
    const later = (names: Map<string, string | null>) =>
      analyze('model = model.to(device)', T4(), { deviceNames: names }).map(f => f.rule);
    expect(later(first)).toEqual(['device-index-out-of-range']);
    expect(
      later(collectDeviceNames('device = "cuda" if torch.cuda.is_available() else "cpu"'))
    ).toEqual([]);
  });

  it('a name bound again to something computed is no longer a CUDA string', () => {
    expect(at('device = "cuda"\ndevice = pick()\nx = t.to(device)', CPU)).toEqual([]);
  });
});

describe('settings carried by simple config objects', () => {
  it("a class's defaults reach a call through an instance, and the finding sits on the default", () => {
    const code = `from transformers import TrainingArguments
class Config:
    output_dir = "out"
    bf16: bool = True
    tf32 = False
cfg = Config()
args = TrainingArguments(output_dir=cfg.output_dir, bf16=cfg.bf16, tf32=cfg.tf32)`;
    const found = analyze(code, T4());
    expect(found.map(f => `${f.rule}@${f.line}`)).toEqual(['bf16-training-unsupported@4']);
    expect(code.slice(found[0].from, found[0].to)).toBe('bf16: bool = True');
    expect(found[0].message).toMatch(/Used on line 7\.$/);
    // A dataclass instance made with other values uses those.
    expect(at(code.replace('cfg = Config()', 'cfg = Config(bf16=False)'), T4())).toEqual([]);
    expect(at(code, target('A100'))).toEqual([]);
  });

  it('namespaces, OmegaConf dicts and attributes set later are followed', () => {
    const code = `from types import SimpleNamespace
from omegaconf import OmegaConf
from vllm import LLM
import lightning as L
ns = SimpleNamespace(dtype="bfloat16")
llm = LLM("m", dtype=ns.dtype)
conf = OmegaConf.create({"accelerator": "gpu", "devices": 2})
trainer = L.Trainer(accelerator=conf.accelerator, devices=conf["devices"])
ns.dtype = "half"
again = LLM("m", dtype=ns.dtype)`;
    expect(at(code, T4())).toEqual(['vllm-bf16-unsupported@5', 'lightning-devices-beyond-count@7']);
    expect(at(code, target('T4', 2))).toEqual(['vllm-bf16-unsupported@5']);
    expect(at(code, CPU)).toEqual(['lightning-gpu-without-gpu@7']);
  });

  it("argparse defaults are what parse_args returns in a notebook; a flag's store_true default is not", () => {
    const code = `import argparse
from transformers import TrainingArguments
parser = argparse.ArgumentParser()
parser.add_argument("--use-bf16", type=bool, default=True)
parser.add_argument("--tf32", action="store_true")
args, _ = parser.parse_known_args()
ta = TrainingArguments(output_dir="o", bf16=args.use_bf16, tf32=args.tf32)`;
    const found = analyze(code, T4());
    expect(found.map(f => `${f.rule}@${f.line}`)).toEqual(['bf16-training-unsupported@4']);
    expect(code.slice(found[0].from, found[0].to)).toBe('default=True');
  });

  it('a dtype given as a storage format is not computed in: only the compute dtype is flagged', () => {
    const code = `import torch
from transformers import BitsAndBytesConfig
cfg = BitsAndBytesConfig(
    load_in_4bit=True,
    bnb_4bit_compute_dtype=torch.bfloat16,
    bnb_4bit_quant_storage=torch.bfloat16,
)`;
    expect(at(code, T4())).toEqual(['bf16-unsupported@5']);
  });

  it('use_cpu=True is how transformers trains bf16 without a GPU: only then is bf16 allowed there', () => {
    const code = `from transformers import TrainingArguments
a = TrainingArguments(output_dir="o", bf16=True)
b = TrainingArguments(output_dir="o", bf16=True, use_cpu=True)
c = TrainingArguments(output_dir="o", tf32=True)`;
    expect(at(code, CPU)).toEqual(['hf-bf16-without-gpu@2', 'hf-tf32-without-gpu@4']);
  });
});

describe('guards spelt other ways, and uses that use nothing', () => {
  it('a capability read into names by tuple unpacking guards what its condition covers', () => {
    const code = `import torch
major, _ = torch.cuda.get_device_capability()
if major >= 8:
    x = torch.zeros(2, dtype=torch.bfloat16)
y = torch.zeros(2, dtype=torch.bfloat16)`;
    expect(at(code, T4())).toEqual(['bf16-unsupported@5']);
  });

  it("a branch picked by the user's own bf16 setting is their choice; an XPU branch is not CUDA", () => {
    const code = `import torch
compute_dtype = torch.float16 if args.fp16 else (torch.bfloat16 if args.bf16 else torch.float32)
if args.bf16:
    module = module.to(torch.bfloat16)
if torch.xpu.is_available():
    compute_dtype = torch.bfloat16
if args.fp16:
    w = w.to(torch.bfloat16)
x = torch.zeros(2, dtype=torch.bfloat16)`;
    // Quiet where the choice is the user's or the device is Intel's; the branch chosen by
    // another setting, and the unconditional use, are still found.
    expect(at(code, T4())).toEqual(['bf16-unsupported@8', 'bf16-unsupported@9']);
  });

  it('NCCL under `if world_size > 1:` is for several GPUs: quiet on one', () => {
    const code = `import torch.distributed as dist
if world_size > 1:
    dist.init_process_group("nccl")`;
    expect(at(code, T4())).toEqual([]);
    expect(at('import torch.distributed as dist\ndist.init_process_group("nccl")', T4())).toEqual([
      'nccl-single-gpu@2'
    ]);
  });

  it('an early return or an assert guards the rest of its block', () => {
    const early = `import torch
def run():
    if not torch.cuda.is_available():
        return
    x = torch.zeros(2, device="cuda")`;
    expect(at(early, CPU)).toEqual([]);
    const asserted = `import torch
assert torch.cuda.get_device_capability()[0] >= 8
x = torch.zeros(2, dtype=torch.bfloat16)`;
    expect(at(asserted, T4())).toEqual([]);
  });

  it('a dtype table indexed at run time uses none of its entries; a fixed key uses one', () => {
    const table = (key: string) =>
      `import torch\nptdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[${key}]`;
    expect(at(table('dtype'), T4())).toEqual([]);
    expect(at(table('"bfloat16"'), T4())).toEqual(['bf16-unsupported@2']);
  });

  it('isinstance(model, DataParallel) and import bitsandbytes use nothing', () => {
    const code = `import torch
import bitsandbytes
assert not isinstance(model, torch.nn.DataParallel)`;
    expect(at(code, target('V100'))).toEqual([]);
    expect(at('import torch\nm = torch.nn.DataParallel(model)', T4())).toEqual([
      'dataparallel-single-gpu@2'
    ]);
  });

  it('without a GPU: an f-string CUDA device, set_device(local_rank) and an NCCL group are errors', () => {
    const code = `import torch
import torch.distributed as dist
dist.init_process_group(backend="nccl")
torch.cuda.set_device(local_rank)
x = batch.to(f"cuda:{local_rank}")`;
    expect(at(code, CPU)).toEqual([
      'nccl-without-gpu@3',
      'cuda-without-gpu@4',
      'cuda-without-gpu@5'
    ]);
    expect(at(code, target('A100', 8))).toEqual([]);
  });
});

describe('guarded code does what its guard says', () => {
  it('availability guards: is_available(), a use_cuda flag, device.type == "cuda", elif and else', () => {
    const code = `import torch
if torch.cuda.is_available():
    model.cuda()
if use_cuda:
    device = torch.device("cuda")
model.to(device)
if device.type == "cpu":
    pass
elif device.type == "cuda":
    model.cuda()
if not torch.cuda.is_available():
    print("no GPU")
else:
    x = x.to("cuda:0")
if torch.cuda.device_count() > 1:
    y = y.to("cuda:1")`;
    expect(at(code, CPU)).toEqual([]);
    expect(at(code, T4())).toEqual([]);
  });

  it('an unguarded use next to guarded ones is still flagged', () => {
    expect(
      at('import torch\nif torch.cuda.is_available():\n    model.cuda()\nother.cuda()', CPU)
    ).toEqual(['cuda-without-gpu@4']);
  });

  it('capability guards cover feature rules; a mere availability check does not', () => {
    const code = `import torch
dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
if torch.cuda.get_device_capability() >= (8, 0):
    x = x.to(torch.bfloat16)
if torch.cuda.is_available():
    y = y.to(torch.bfloat16)`;
    expect(at(code, T4())).toEqual(['bf16-unsupported@6']);
  });
});

describe('the newest generation: Blackwell data-center (10.x) and workstation (12.x) told apart', () => {
  const code = `import torch
from transformer_engine.common.recipe import MXFP8BlockScaling, NVFP4BlockScaling, Float8BlockScaling
r = MXFP8BlockScaling()
n = NVFP4BlockScaling()
b = Float8BlockScaling()
q = torch.empty(8, dtype=torch.float4_e2m1fn_x2)
from flash_attn.cute import flash_attn_func`;

  it('a B200 runs all of it', () => {
    expect(at(code, target('B200'))).toEqual([]);
  });

  it('an RTX 5090: no MXFP8, NVFP4 only partly (a "may")', () => {
    const findings = analyze(code, target('RTX 5090'));
    expect(findings.map(f => `${f.rule}@${f.line}`)).toEqual([
      'te-mxfp8-unsupported@3',
      'te-nvfp4-partial@4'
    ]);
    expect(findings[1].severity).toBe('warning');
    expect(findings[1].message).toContain('may be only partly supported');
  });

  it('an H100 has FP8 block scaling and FlashAttention-4 but no FP4 or MX formats', () => {
    expect(at(code, target('H100'))).toEqual(['te-mxfp8-unsupported@3', 'te-nvfp4-unsupported@4']);
  });

  it('an L4 (8.9) has none of the block-scaled formats nor FlashAttention-4', () => {
    expect(at(code, target('L4'))).toEqual([
      'te-mxfp8-unsupported@3',
      'te-nvfp4-unsupported@4',
      'te-fp8-block-unsupported@5',
      'flash-attn4-unsupported@7'
    ]);
  });
});

import * as fs from 'fs';
import * as os from 'os';

import recorded from '../../core/explain/__tests__/fixtures/gpu-error-texts.json';
import { explainError } from '../../core/explain/matcher';
import { failureText } from '../../core/explain/outputs';
import { inventoryMessages } from '../../core/knowledge/inventory';
import { main, MAX_INPUT_BYTES } from '../index';

const dir = `${__dirname}/files`;

/** A new temporary folder, and a function that writes a file there and returns its path. */
function scratch(prefix: string) {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/${prefix}-`);
  const write = (name: string, text: string) => {
    fs.writeFileSync(`${dir}/${name}`, text);
    return `${dir}/${name}`;
  };
  return { dir, write };
}

function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(argv, { out: t => out.push(t), err: t => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('gpuscope lint', () => {
  it('lints a notebook with imports from earlier cells, by cell, line and column', () => {
    const { code, out } = run(['lint', `${dir}/finetune.ipynb`, '--target', 'T4']);
    expect(code).toBe(1); // device index 1 on a single T4 is an error
    expect(out).toContain(
      `${dir}/finetune.ipynb:cell 3:2:18: error [device-index-out-of-range] GPU 1 does not exist`
    );
    expect(out).toContain('cell 3:3:18: warning [sdpa-flash-unsupported]');
    expect(out).toContain('cell 3:4:32: warning [bf16-unsupported]');
    expect(out).not.toContain('cell 1'); // Markdown is not code
  });

  it('is quiet for a GPU that can run it, and two GPUs make index 1 valid', () => {
    const { code, out } = run(['lint', `${dir}/finetune.ipynb`, '--target', 'H100', '--gpus', '2']);
    expect(code).toBe(0);
    expect(out).toBe('0 findings, 0 errors for H100 (9.0)');
  });

  it('a CPU-only torch build: every CUDA use is an error', () => {
    const { code, out } = run([
      'lint',
      `${dir}/finetune.ipynb`,
      '--target',
      'H100',
      '--torch',
      '2.13.0+cpu'
    ]);
    expect(code).toBe(1);
    expect(out).toContain(
      'error [cuda-without-gpu] This puts work on CUDA, but the kernel has no usable GPU (torch 2.13.0+cpu is a CPU-only build)'
    );
  });

  it('gives JSON', () => {
    const { out } = run(['lint', `${dir}/finetune.ipynb`, '--target', '7.5', '--json']);
    const body = JSON.parse(out);
    expect(body.target.cc).toBe('7.5');
    expect(body.findings.map((f: { rule: string }) => f.rule)).toContain('bf16-unsupported');
  });

  it('explains bad input and exits 2', () => {
    expect(run(['lint', `${dir}/broken.ipynb`, '--target', 'T4'])).toMatchObject({ code: 2 });
    expect(run(['lint', `${dir}/broken.ipynb`, '--target', 'T4']).err).toContain(
      'has no "cells" list'
    );
    expect(run(['lint', `${dir}/finetune.ipynb`, '--target', 'Voodoo 2']).err).toContain(
      'unknown GPU "Voodoo 2"'
    );
    expect(run(['lint', `${dir}/finetune.ipynb`]).code).toBe(2);
    expect(run(['lint', `${dir}/finetune.ipynb`, '--target', 'T4', '--gpus', '0']).code).toBe(2);
  });
});

describe('gpuscope lint on framework code, guards and names', () => {
  const { dir: tmp } = scratch('gpuscope-lint');

  it('transformers arguments on a T4: tf32 is an error (exit 1), bf16 and FlashAttention-2 are named', () => {
    const file = `${tmp}/train.py`;
    fs.writeFileSync(
      file,
      'from transformers import TrainingArguments, AutoModel\nargs = TrainingArguments("o", bf16=True, tf32=True)\nm = AutoModel.from_pretrained("x", attn_implementation="flash_attention_2")\n'
    );
    const { code, out } = run(['lint', file, '--target', 'T4']);
    expect(code).toBe(1);
    // Each finding points at the argument to change, not at the call.
    expect(out).toContain(`${file}:2:42: error [hf-tf32-unsupported]`);
    expect(out).toContain(`${file}:2:31: warning [bf16-training-unsupported]`);
    expect(out).toContain(`${file}:3:36: error [hf-flash-attn2-unsupported]`);
  });

  it("a config object's default is where the finding points, and the message names the line that uses it", () => {
    const file = `${tmp}/config.py`;
    fs.writeFileSync(
      file,
      'from transformers import TrainingArguments\nclass Config:\n    bf16: bool = True\ncfg = Config()\nargs = TrainingArguments(output_dir="o", bf16=cfg.bf16)\n'
    );
    const onT4 = run(['lint', file, '--target', 'T4']);
    expect(onT4.code).toBe(0); // a warning: bf16 runs, emulated
    expect(onT4.out).toContain(`${file}:3:5: warning [bf16-training-unsupported]`);
    expect(onT4.out).toContain('Used on line 5.');
    const noGPU = run(['lint', file, '--target', 'cpu']);
    expect(noGPU.code).toBe(1);
    expect(noGPU.out).toContain(`${file}:3:5: error [hf-bf16-without-gpu]`);
  });

  it('in a notebook, a device name bound in one cell is followed into another', () => {
    const file = `${tmp}/names.ipynb`;
    const cell = (source: string) => ({ cell_type: 'code', source, outputs: [] });
    fs.writeFileSync(
      file,
      JSON.stringify({
        cells: [cell('import torch\ndevice = "cuda:1"'), cell('model = model.to(device)')]
      })
    );
    const { code, out } = run(['lint', file, '--target', 'T4']);
    expect(code).toBe(1);
    expect(out).toContain(`${file}:cell 2:1:18: error [device-index-out-of-range]`);
  });

  it('in a notebook, a setting bound in one cell is followed into another', () => {
    const file = `${tmp}/literals.ipynb`;
    const cell = (source: string) => ({ cell_type: 'code', source, metadata: {}, outputs: [] });
    fs.writeFileSync(
      file,
      JSON.stringify({
        cells: [
          cell('BF16 = True'),
          cell(
            'from transformers import TrainingArguments\nargs = TrainingArguments("o", bf16=BF16)'
          )
        ],
        metadata: {},
        nbformat: 4,
        nbformat_minor: 5
      })
    );
    const { out } = run(['lint', file, '--target', 'T4']);
    expect(out).toContain(`${file}:cell 2:2:31: warning [bf16-training-unsupported]`);
  });

  it('guarded code and a guarded device name pass on a machine without a GPU (exit 0)', () => {
    const file = `${tmp}/guarded.py`;
    fs.writeFileSync(
      file,
      'import torch\ndevice = "cuda" if torch.cuda.is_available() else "cpu"\nmodel.to(device)\nif torch.cuda.is_available():\n    model.cuda()\n'
    );
    expect(run(['lint', file, '--target', 'cpu'])).toMatchObject({
      code: 0,
      out: '0 findings, 0 errors for a machine without a GPU'
    });
    fs.writeFileSync(file, 'import torch\ndevice = "cuda"\nmodel.to(device)\n');
    expect(run(['lint', file, '--target', 'cpu']).code).toBe(1);
  });
});

describe('gpuscope explain-error', () => {
  const { dir: tmp, write } = scratch('gpuscope-cli');

  it('explains a traceback, with shell commands instead of IPython magics', () => {
    const file = write(
      'assert.txt',
      'torch.AcceleratorError: CUDA error: device-side assert triggered\n'
    );
    const { code, out } = run(['explain-error', file]);
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe(
      'A GPU kernel hit an assertion (usually an index out of range)'
    );
    expect(out).toContain('\n    export CUDA_LAUNCH_BLOCKING=1');
    expect(out).not.toContain('%env');
  });

  it('writes plain text for a terminal, and Markdown only when asked', () => {
    const file = write('oom.txt', 'RuntimeError: No CUDA GPUs are available\n');
    const text = run(['explain-error', file]).out;
    expect(text).toMatch(/^Fix: /m);
    expect(text).not.toMatch(/\*\*|```|\]\(/);
    const markdown = run(['explain-error', file, '--markdown']).out;
    expect(markdown).toMatch(/^\*\*Fix:\*\* /m);
    expect(run(['explain-error', file, '--markdown', '--json'])).toMatchObject({ code: 2 });
  });

  it("recognises torch's cuDNN message with its two spaces, and a cuBLAS bf16 refusal", () => {
    const cudnn = write(
      'cudnn.txt',
      'RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (8, 5, 0) but found runtime version (8, 3, 3).\n'
    );
    expect(run(['explain-error', cudnn]).out).toContain(
      'Another cuDNN is loaded than the one PyTorch was built with'
    );
    const cublas = write(
      'cublas.txt',
      'RuntimeError: CUDA error: CUBLAS_STATUS_NOT_SUPPORTED when calling `cublasGemmStridedBatchedEx(handle, opa, opb, (int)m, (int)n, (int)k, (void*)&falpha, a, CUDA_R_16BF, (int)lda`\n'
    );
    expect(run(['explain-error', cublas]).out).toContain(
      'cuBLAS has no bf16 matrix product for this GPU'
    );
  });

  it('exits 1 when it recognises nothing', () => {
    const { code, out } = run([
      'explain-error',
      write('plain.txt', 'ZeroDivisionError: division by zero')
    ]);
    expect(code).toBe(1);
    expect(out).toBe('No known GPU error found.');
  });

  it('reads every cell output of a notebook, by cell, as JSON', () => {
    const notebook = {
      cells: [
        { cell_type: 'markdown', source: 'CUDA out of memory. Tried to allocate 1 GiB' },
        {
          cell_type: 'code',
          source: '',
          outputs: [
            {
              output_type: 'error',
              ename: 'RuntimeError',
              evalue: 'No CUDA GPUs are available',
              traceback: []
            }
          ]
        },
        {
          cell_type: 'code',
          source: '',
          outputs: [{ output_type: 'stream', name: 'stdout', text: 'ok' }]
        }
      ]
    };
    const { code, out } = run([
      'explain-error',
      write('nb.ipynb', JSON.stringify(notebook)),
      '--json'
    ]);
    expect(code).toBe(0);
    const body = JSON.parse(out);
    expect(
      body.explanations.map((e: { cell: number; explanation: { id: string } }) => [
        e.cell,
        e.explanation.id
      ])
    ).toEqual([[2, 'no-cuda-gpus']]);
  });

  it('a malformed notebook, a missing file or a bad option: exit 2 with the reason', () => {
    expect(run(['explain-error', write('bad.ipynb', '{"cells": 3}')])).toMatchObject({
      code: 2,
      err: expect.stringContaining('not a notebook')
    });
    expect(run(['explain-error', write('broken.ipynb', '{')])).toMatchObject({ code: 2 });
    expect(run(['explain-error', `${tmp}/missing.txt`])).toMatchObject({
      code: 2,
      err: expect.stringContaining('ENOENT')
    });
    expect(run(['explain-error', '--verbose'])).toMatchObject({
      code: 2,
      err: expect.stringContaining("Unknown option '--verbose'")
    });
  });
});

describe('gpuscope CLI and hostile input', () => {
  const { dir: tmp, write } = scratch('gpuscope-hostile');

  it('refuses devices, directories and inputs over the limit in one line with exit 2', () => {
    const big = `${tmp}/big.log`;
    fs.writeFileSync(big, Buffer.alloc(MAX_INPUT_BYTES + 1, 0x20));
    for (const [file, says] of [
      ['/dev/zero', 'not a regular file'],
      [tmp, 'a directory'],
      [big, 'larger than 16 MiB']
    ]) {
      for (const argv of [
        ['explain-error', file],
        ['lint', file, '--target', 'T4']
      ]) {
        const { code, err } = run(argv);
        expect({ argv, code }).toEqual({ argv, code: 2 });
        expect(err).toContain(says);
        expect(err.split('\n')).toHaveLength(1);
      }
    }
  });

  it('prints no terminal control sequences from a log', () => {
    const log = write(
      'evil.log',
      'RuntimeError: No CUDA GPUs are available \x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b1A\n'
    );
    const { code, out } = run(['explain-error', log]);
    expect(code).toBe(0);
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  it('lints a file with 150,000 findings without overflowing the stack', () => {
    const file = write('many.py', 'import torch\n' + 'torch.zeros(1).cuda()\n'.repeat(150_000));
    const { code, out } = run(['lint', file, '--target', 'cpu', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(out).findings.length).toBeGreaterThanOrEqual(150_000);
  });

  it('explain-error on deeply nested JSON: exit 2 with one line', () => {
    const deep = write('deep.ipynb', '['.repeat(200_000) + ']'.repeat(200_000));
    const { code, err } = run(['explain-error', deep]);
    expect(code).toBe(2);
    expect(err.split('\n')).toHaveLength(1);
  });
});

describe('gpuscope explain-error and the card under a cell', () => {
  it('give the same explanations for the same outputs, for every family the inventory covers', () => {
    const seen = new Set<string>();
    const texts = inventoryMessages()
      .filter(m => !seen.has(m.family) && seen.add(m.family))
      .map(m => m.text);
    // And what real software printed on an H100, whole (tracebacks, thrust's terminate line).
    const real = Object.values(recorded.cases).map(c => c.stderr);
    const cells = [...texts, ...real].map(text => ({
      cell_type: 'code',
      source: 'x',
      metadata: {},
      execution_count: 1,
      outputs: [{ output_type: 'error', ename: 'RuntimeError', evalue: text, traceback: [text] }]
    }));
    const file = scratch('gpuscope-agree').write(
      'all.ipynb',
      JSON.stringify({ cells, metadata: {}, nbformat: 4, nbformat_minor: 5 })
    );
    const { code, out } = run(['explain-error', file, '--json']);
    expect(code).toBe(0);
    const byCell = new Map<number, string[]>();
    for (const { cell, explanation } of JSON.parse(out).explanations) {
      byCell.set(cell, [...(byCell.get(cell) ?? []), explanation.id]);
    }
    cells.forEach((cell, i) => {
      // The card reads the same failure text of the same outputs with the same matcher.
      const card = explainError(failureText(cell.outputs)).map(e => e.id);
      expect({ cell: i + 1, ids: byCell.get(i + 1) ?? [] }).toEqual({ cell: i + 1, ids: card });
    });
    expect(byCell.size).toBe(seen.size + real.length);
  });
});

"""Record the exact texts real CUDA / NCCL failures print on this machine, as JSON.

Run on a GPU machine (the device tool); the explainer's tests use what it printed
(src/core/explain/__tests__/fixtures/observed-h100.json). Each case runs in its own process,
because several of them leave CUDA unusable.

    python scripts/gpu_nccl_sdpa_errors.py > observed.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = {
    # Two ranks on one GPU: NCCL refuses at the first collective.
    "nccl_duplicate_gpu": """
import os, torch, torch.distributed as dist, torch.multiprocessing as mp
def run(rank):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29533")
    torch.cuda.set_device(0)
    dist.init_process_group("nccl", rank=rank, world_size=2)
    t = torch.ones(1, device="cuda")
    dist.all_reduce(t)
    torch.cuda.synchronize()
if __name__ == "__main__":
    mp.spawn(run, nprocs=2)
""",
    # Flash attention forced on float32 inputs: SDPA has no kernel left.
    "sdpa_no_kernel": """
import torch
from torch.nn.attention import sdpa_kernel, SDPBackend
q = torch.randn(1, 2, 16, 64, device="cuda", dtype=torch.float32)
with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
    torch.nn.functional.scaled_dot_product_attention(q, q, q)
""",
    "set_device_out_of_range": """
import torch
torch.cuda.set_device(7)
torch.zeros(1, device="cuda")
""",
    "oom_realistic": """
import torch
keep = [torch.empty(8 * 2**30, dtype=torch.uint8, device="cuda") for _ in range(6)]
x = torch.empty(90 * 2**30, dtype=torch.uint8, device="cuda")
""",
}


def main() -> None:
    results = {}
    for name, code in CASES.items():
        # A file, not -c: multiprocessing's spawn re-imports __main__ from it.
        script = Path(tempfile.mkdtemp()) / f"{name}.py"
        script.write_text(code)
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
        results[name] = {"rc": done.returncode, "stdout": done.stdout[-4000:], "stderr": done.stderr[-8000:]}
    import torch

    results["versions"] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "nccl": list(torch.cuda.nccl.version()),
    }
    json.dump(results, sys.stdout, indent=1)


if __name__ == "__main__":
    main()

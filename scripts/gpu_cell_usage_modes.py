"""On a real GPU: the per-cell extension's two modes against torch's own peak statistics.

    python scripts/gpu_cell_usage_modes.py      (torch with CUDA; prints JSON)

Three cells each: allocate 1 GiB (a new high-water mark), free it and allocate 256 MiB
(below the earlier high), then read torch.cuda.max_memory_allocated() as a user would.
"change" must leave the user's peak at >= 1 GiB and report no peak for the second cell;
"peak" reports both cells' own peaks, and the user's reading covers one cell only.
"""

import json
import sys
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from jupyterlab_gpuscope.kernel import cell_usage  # noqa: E402

MiB = 2**20


class Shell:
    kernel = None  # records are kept, not sent


def cell(usage, action):
    usage.pre_run_cell()
    action()
    usage.post_run_cell(types.SimpleNamespace(execution_count=len(usage.records) + 1))
    return usage.records[-1]["devices"][0]


held = {}


def free_then_allocate():
    del held["a"]  # freed before the next allocation: the cell stays below the first's high
    held["b"] = torch.empty(256 * MiB, dtype=torch.uint8, device="cuda")


torch.empty(1, device="cuda")  # CUDA up before the first measured cell
results = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}
for mode, reset in (("change", False), ("peak", True)):
    held.clear()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()  # the user's own baseline
    usage = cell_usage.CellGPUUsage(Shell(), reset_peaks=reset)
    first = cell(usage, lambda: held.update(a=torch.empty(1024 * MiB, dtype=torch.uint8, device="cuda")))
    second = cell(usage, free_then_allocate)
    user = {}
    cell(usage, lambda user=user: user.update(max_allocated=torch.cuda.max_memory_allocated(0)))
    results[mode] = {
        "first_peak_mib": None if first["peak_allocated"] is None else first["peak_allocated"] / MiB,
        "second_peak_mib": None if second["peak_allocated"] is None else second["peak_allocated"] / MiB,
        "second_allocated_mib": [second["allocated_before"] / MiB, second["allocated_after"] / MiB],
        "user_max_allocated_mib": user["max_allocated"] / MiB,
    }
print(json.dumps(results, indent=1))

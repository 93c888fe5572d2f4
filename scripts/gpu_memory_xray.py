"""The memory X-ray in a real notebook kernel on a real GPU: does the breakdown add up, and
does each action free what it says?

Run on a machine with an NVIDIA GPU, with torch, ipykernel and jupyter_client importable
and the package on PYTHONPATH. A kernel trains a model with Adam (gradients kept), leaves a
4 GiB tensor in its output history, and fails with an out-of-memory error inside a
function that holds 6 GiB of activations. Then it asks the kernel for the breakdown and runs
each action, reading NVML's figure for the kernel's process from this script too (not
only the kernel's own report). Writes OUT/memory-xray.json:

    python scripts/gpu_memory_xray.py OUT
"""

from __future__ import annotations

import ast
import json
import platform
import sys
import time
from pathlib import Path

import pynvml
from jupyter_client.manager import start_new_kernel

GiB = 2**30

CELLS = [
    # 0: the per-cell extension with the out-of-memory flight recorder, as JupyterLab loads
    # it with the setting on (recording starts with the cell after CUDA starts).
    """from jupyterlab_gpuscope.kernel import cell_usage
cell_usage.load_ipython_extension(get_ipython(), history_entries=100_000)""",
    # 1: a model trained with Adam; the gradients are kept (set_to_none=False).
    """import torch
import jupyterlab_gpuscope.memory as gpu_memory
model = torch.nn.Sequential(*[torch.nn.Linear(8192, 8192) for _ in range(8)]).cuda()
opt = torch.optim.Adam(model.parameters())
for _ in range(3):
    batch = torch.randn(512, 8192, device="cuda")
    loss = model(batch).square().mean()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=False)
torch.cuda.synchronize()""",
    # 2: an output kept in Out.
    """torch.ones(1024, 1024, 1024, device="cuda")""",
    # 3: out of memory inside a function that holds activations.
    """def evaluate(n):
    activations = [torch.empty(GiB, dtype=torch.uint8, device="cuda") for _ in range(n)]
    return torch.empty(10 * 2**40, dtype=torch.uint8, device="cuda")
GiB = 2**30
evaluate(6)""",
]


def ask(client, expression: str):
    reply = client.execute_interactive("", user_expressions={"v": expression}, timeout=300)
    value = reply["content"]["user_expressions"]["v"]
    if value["status"] != "ok":
        raise RuntimeError(f"{expression}: {value}")
    return ast.literal_eval(value["data"]["text/plain"])  # the repr of a str or an int


def nvml_of(pid: int, handle) -> int | None:
    for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
        if proc.pid == pid:
            return int(proc.usedGpuMemory)
    return None


def recorder_cost() -> dict:
    """What the flight recorder costs: per allocation (allocate and free 1 MiB, 20,000
    times) and per cell (a training step of a small model: 100 allocations or so), without
    and with torch's history recording (python stacks, as the recorder records)."""
    import torch

    def per_allocation() -> float:
        torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(20_000):
            x = torch.empty(2**20, dtype=torch.uint8, device="cuda")
            del x
        torch.cuda.synchronize()
        return (time.perf_counter() - started) / 20_000 * 1e6

    model = torch.nn.Sequential(*[torch.nn.Linear(1024, 1024) for _ in range(8)]).cuda()
    opt = torch.optim.Adam(model.parameters())

    def per_cell() -> float:
        times = []
        for _ in range(50):
            torch.cuda.synchronize()
            started = time.perf_counter()
            loss = model(torch.randn(64, 1024, device="cuda")).square().mean()
            loss.backward()
            opt.step()
            opt.zero_grad()
            torch.cuda.synchronize()
            times.append((time.perf_counter() - started) * 1000)
        return sorted(times)[len(times) // 2]

    per_allocation(), per_cell()  # warm up
    off = {"allocation_us": per_allocation(), "training_step_ms": per_cell()}
    torch.cuda.memory._record_memory_history(stacks="python", max_entries=100_000)
    on = {"allocation_us": per_allocation(), "training_step_ms": per_cell()}
    torch.cuda.memory._record_memory_history(enabled=None)
    return {
        "off": {k: round(v, 2) for k, v in off.items()},
        "on": {k: round(v, 2) for k, v in on.items()},
        "added_per_allocation_us": round(on["allocation_us"] - off["allocation_us"], 2),
        "added_per_training_step_ms": round(on["training_step_ms"] - off["training_step_ms"], 3),
    }


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    manager, client = start_new_kernel(kernel_name="python3")
    record: dict = {
        "gpu": pynvml.nvmlDeviceGetName(handle),
        "driver": pynvml.nvmlSystemGetDriverVersion(),
        "python": platform.python_version(),
    }
    try:
        pid = ask(client, "__import__('os').getpid()")
        outputs = []
        for code in CELLS:
            msgs = []
            client.execute_interactive(code, timeout=600, output_hook=msgs.append)
            outputs.append(
                [
                    {k: m["content"].get(k) for k in ("name", "text", "ename", "evalue", "data")}
                    for m in msgs
                    if m["msg_type"] in ("stream", "error", "execute_result")
                ]
            )
        record["torch"] = ask(client, "torch.__version__")
        record["error"] = {"ename": outputs[-1][-1]["ename"], "evalue": outputs[-1][-1]["evalue"]}
        started = time.perf_counter()
        breakdown = json.loads(ask(client, "__import__('json').dumps(gpu_memory.breakdown())"))
        record["breakdown_wall_ms"] = round((time.perf_counter() - started) * 1000, 1)
        record["breakdown"] = breakdown
        record["report_text"] = ask(
            client,
            "__import__('jupyterlab_gpuscope.kernel.memory_xray', fromlist=['x']).Report(gpu_memory.breakdown())"
            "._repr_mimebundle_()['text/plain']",
        )
        device = breakdown["devices"][0]
        record["check"] = {
            "allocated": device["allocated"],
            "named_holders": device["reached"],
            "unreached": device["unreached"],
            "named_share_of_allocated": round(device["reached"] / device["allocated"], 5),
            "nvml_process_by_kernel": device["nvml_process"],
            "nvml_process_by_script": nvml_of(pid, handle),
        }
        holders = {h["name"]: h["bytes"] for h in device["holders"]}
        expected = {
            "free_cache": device["cache"],
            "drop_last_error": holders.get("the last error's frames"),
            "clear_output_history": sum(
                v for k, v in holders.items() if k.startswith("Out[") or k in ("_", "__", "___")
            ),
            # The optimizer holds the model's parameters too: deleting the model frees its
            # gradients only; deleting the optimizer then frees the parameters and its state.
            "delete model": None,
            "delete opt": None,
        }
        steps = [
            ("free_cache", "gpu_memory.free_cache()"),
            ("drop_last_error", "gpu_memory.drop_last_error()"),
            ("clear_output_history", "gpu_memory.clear_output_history()"),
            ("delete model", "gpu_memory.delete('model')"),
            ("delete opt", "gpu_memory.delete('opt')"),
        ]
        record["actions"] = []
        for name, call in steps:
            before = nvml_of(pid, handle)
            report = json.loads(ask(client, f"__import__('json').dumps({call})"))
            after = nvml_of(pid, handle)
            record["actions"].append(
                {
                    "action": name,
                    "report": report,
                    "expected_from_breakdown": expected[name],
                    "nvml_freed_by_script": (before - after) if before is not None and after is not None else None,
                }
            )
        record["after_all"] = json.loads(ask(client, "__import__('json').dumps(gpu_memory.breakdown())"))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
        pynvml.nvmlShutdown()
    record["flight_recorder_cost"] = recorder_cost()
    (out / "memory-xray.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: record[k] for k in ("gpu", "torch", "check", "breakdown_wall_ms")}, indent=1))
    for a in record["actions"]:
        print(
            a["action"],
            "ok" if a["report"]["ok"] else a["report"]["message"],
            "kernel says NVML freed",
            [f["nvml"] for f in a["report"]["freed"]][:1],
            "script saw",
            a["nvml_freed_by_script"],
            "expected",
            a["expected_from_breakdown"],
        )
    print(record["report_text"])
    print(json.dumps(record["flight_recorder_cost"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per-cell overhead of the per-cell GPU usage extension, and of the kernel's live view
running beside it, in a real kernel.

Runs the same cells with the extension unloaded, loaded, and loaded with the live view
(jupyterlab_gpuscope.live.show(), updating every second from its thread) in alternating
batches, so drift hits all alike, and compares the median round trip of an execute
request: an empty cell, and a cell of 1,000 small CUDA operations (on a GPU machine;
skipped without CUDA). Target: under 1 ms per cell for each.

    python bench/cell_overhead.py [--cells 200]

The live view needs jupyterlab_gpuscope importable in the kernel (PYTHONPATH).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

SOURCE = (
    Path(__file__).resolve().parent.parent / "python" / "jupyterlab_gpuscope" / "kernel" / "cell_usage.py"
).read_text()
LOAD = f"""
_ns = {{"__name__": "gpuscope_cell_usage"}}
exec(compile({json.dumps(SOURCE)}, "<gpuscope-cell-usage>", "exec"), _ns)
_ns["load_ipython_extension"](get_ipython()); del _ns
"""
UNLOAD = f"""
_ns = {{"__name__": "gpuscope_cell_usage"}}
exec(compile({json.dumps(SOURCE)}, "<gpuscope-cell-usage>", "exec"), _ns)
_ns["unload_ipython_extension"](get_ipython()); del _ns
"""
LIVE_ON = "import jupyterlab_gpuscope.live as _gpu_live\n_gpu_live.show(interval=1.0)"
LIVE_OFF = "_gpu_live.stop()"
SETUP = """
import torch
cuda = torch.cuda.is_available()
if cuda:
    x = torch.zeros(256, device="cuda")
    torch.cuda.synchronize()
"""
CELLS = {
    "empty cell": "pass",
    "1,000 small CUDA operations": "for _ in range(1000):\n    x.add_(1)\ntorch.cuda.synchronize()",
}


def round_trip(client, code: str) -> float:
    started = time.perf_counter()
    reply = client.execute_interactive(code, timeout=120, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=200)
    args = parser.parse_args()
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        round_trip(client, SETUP)
        has_cuda = (
            client.execute_interactive("", user_expressions={"c": "cuda"})["content"]["user_expressions"]["c"]["data"][
                "text/plain"
            ]
            == "True"
        )
        rows = []
        for name, code in CELLS.items():
            if "CUDA" in name and not has_cuda:
                rows.append((name, None, None, None))
                continue
            times = {"off": [], "on": [], "live": []}
            batch = 20
            for _ in range(0, args.cells, batch):
                for state in ("off", "on", "live"):
                    round_trip(client, UNLOAD if state == "off" else LOAD)
                    if state == "live":
                        round_trip(client, LIVE_ON)
                    times[state] += [round_trip(client, code) for _ in range(batch)]
                    if state == "live":
                        round_trip(client, LIVE_OFF)
            rows.append((name, *(statistics.median(times[state]) * 1e3 for state in ("off", "on", "live"))))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    print(f"\nPer-cell overhead of the GPU usage extension and the live view ({args.cells} cells each, median)\n")
    print(
        f"| {'cell':<30} | {'off ms':>8} | {'on ms':>8} | {'+ live ms':>9} | {'extension':>9} | {'live view':>9} | target ms |"
    )
    print(f"|{'-' * 32}|{'-' * 10}|{'-' * 10}|{'-' * 11}|{'-' * 11}|{'-' * 11}|-----------|")
    for name, off, on, live in rows:
        if off is None:
            print(f"| {name:<30} | {'no CUDA here':>67} |         1 |")
        else:
            print(
                f"| {name:<30} | {off:>8.3f} | {on:>8.3f} | {live:>9.3f} | {on - off:>9.3f} | {live - on:>9.3f} |         1 |"
            )


if __name__ == "__main__":
    main()

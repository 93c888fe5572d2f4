"""The memory X-ray's breakdown in a kernel with 100,000 live objects and 1,000 tensors,
beside the common recipe people use instead (every object gc tracks, filtered to tensors:
it finds tensors but not which name holds them).

    python bench/memory_breakdown.py [--objects 100000] [--tensors 1000] [--device cpu|cuda]

On a machine without a GPU the tensors are CPU tensors and the breakdown walks them the
same way (its device type is a parameter); with --device cuda they are CUDA tensors and
the allocator and NVML figures are read too. Target: under 250 ms. The X-ray adds no hook
to cells: its per-cell cost is nil (checked: the shell's events list no new callback).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import torch  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from jupyterlab_gpuscope.kernel import memory_xray  # noqa: E402


def populate(shell, objects: int, tensors: int, device: str) -> None:
    """A notebook's namespace: a model, an optimizer, lists and dicts of plain objects,
    records holding tensors, and an output history."""
    ns = shell.user_ns
    ns["model"] = torch.nn.Sequential(*[torch.nn.Linear(64, 64) for _ in range(50)]).to(device)
    ns["opt"] = torch.optim.Adam(ns["model"].parameters())
    ns["model"](torch.randn(8, 64, device=device)).sum().backward()
    ns["opt"].step()
    made = sum(1 for _ in ns["model"].parameters()) * 4  # params, grads, two moments

    class Record:
        def __init__(self, i, tensor):
            self.i = i
            self.label = f"row {i}"
            self.tensor = tensor

    ns["records"] = [Record(i, torch.ones(16, device=device)) for i in range(tensors - made)]
    ns["rows"] = [{"id": i, "name": f"n{i}", "values": (i, i + 1)} for i in range(objects // 4)]
    ns["plain"] = [object() for _ in range(objects // 4)]
    shell.run_cell("records[0].tensor * 2", store_history=True)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def gc_recipe() -> int:
    return sum(1 for obj in gc.get_objects() if torch.is_tensor(obj))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--tensors", type=int, default=1_000)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    shell = InteractiveShell.instance()
    callbacks = {name: len(fns) for name, fns in shell.events.callbacks.items()}
    populate(shell, args.objects, args.tensors, args.device)
    live = len(gc.get_objects())
    data = memory_xray.breakdown(args.device)
    found = sum(h["tensors"] for d in data["devices"] for h in d["holders"])
    ours = median_ms(lambda: memory_xray.breakdown(args.device), args.repeat)
    peer = median_ms(gc_recipe, args.repeat)
    hooks_added = {name: len(fns) - callbacks[name] for name, fns in shell.events.callbacks.items()}
    print(f"torch {torch.__version__}, Python {sys.version.split()[0]}, device {args.device}")
    print(f"{live:,} objects tracked by gc; {args.tensors:,} tensors made; median of {args.repeat} runs\n")
    print("| | median ms | finds which name holds each tensor | ratio to ours |")
    print("|---|---:|---|---:|")
    print(f"| gpuscope breakdown() | {ours:.1f} | yes ({found:,} tensor references) | 1.00 |")
    print(f"| gc.get_objects() + torch.is_tensor | {peer:.1f} | no (counts tensors) | {peer / ours:.2f} |")
    print(f"\nthe walk stopped at a bound: {', '.join(data['truncated']) or 'nowhere'}")
    print(f"target under 250 ms: {'met' if ours < 250 else 'NOT met'}")
    print(f"per-cell hooks added by the X-ray: {sum(hooks_added.values())} (its per-cell cost is nil)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

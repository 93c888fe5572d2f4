"""Wall time of the gpuscope collector against the usual alternatives, in fresh processes.

- the five-line "is CUDA available + matmul" script people paste into notebooks
- `python -m torch.utils.collect_env`
- `gpuscope diagnose --json` (python -m jupyterlab_gpuscope.cli): facts and findings
- the self-contained diagnostic cell (what a kernel without the package runs), as a script

Target: within 0.5 s of the five-line script and faster than collect_env, while
reporting more (the facts it collects and the findings are counted in the last column).

    python bench/diagnostic_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

FIVE_LINES = """
import torch
print(torch.cuda.is_available())
print(torch.cuda.device_count())
print(torch.cuda.get_device_name(0))
x = torch.rand(1000, 1000, device="cuda"); print((x @ x).sum().item())
"""

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
from jupyterlab_gpuscope import diagnostic_cell  # noqa: E402


def leaf_count(value) -> int:
    if isinstance(value, dict):
        return sum(leaf_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(leaf_count(v) for v in value) or 1
    return 1


def timed(command: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    cases = [
        ("five-line script", [python, "-c", FIVE_LINES]),
        ("torch.utils.collect_env", [python, "-m", "torch.utils.collect_env"]),
        ("gpuscope diagnose --json", [python, "-m", "jupyterlab_gpuscope.cli", "diagnose", "--json"]),
        ("self-contained cell", [python, "-c", diagnostic_cell.self_contained()]),
    ]
    rows = []
    for name, command in cases:
        times, last = [], None
        for _ in range(args.runs):
            seconds, last = timed(command)
            times.append(seconds)
        facts = "n/a"
        if name.startswith("gpuscope") and last.returncode in (0, 1):
            document = json.loads(last.stdout)
            facts = f"{leaf_count(document['facts'])} + {len(document['findings'])}"
        elif last.returncode == 0:
            facts = f"{len(last.stdout.splitlines())} lines"
        rows.append((name, statistics.median(times), min(times), last.returncode, facts))
    base = rows[0][1]
    print(f"\nDiagnostic wall time, {args.runs} fresh processes each ({python})\n")
    print(
        f"| {'command':<28} | {'median s':>8} | {'min s':>6} | {'vs five-line':>12} | {'exit':>4} | {'reports':>10} |"
    )
    print(f"|{'-' * 30}|{'-' * 10}|{'-' * 8}|{'-' * 14}|{'-' * 6}|{'-' * 12}|")
    for name, median, fastest, code, facts in rows:
        print(f"| {name:<28} | {median:>8.2f} | {fastest:>6.2f} | {median - base:>+11.2f}s | {code:>4} | {facts:>10} |")
    print("\n('reports': output lines, or for gpuscope the facts in its JSON + its findings.)")


if __name__ == "__main__":
    main()

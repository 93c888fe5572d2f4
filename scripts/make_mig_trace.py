"""Builds the synthetic MIG replay trace, python/jupyterlab_gpuscope/traces/h200-mig-synthetic.jsonl.

    python scripts/make_mig_trace.py

No MIG hardware was at hand (and the H200's MIG settings must not be changed), so this
trace is synthesised, and says so in its header (`synthetic`), which the replay shows in
every label. What is real: the MIG profiles (names, memory sizes, SM counts) are those the
H200's NVML reported (scripts/records/h200-mig-probe.json, driver 580.159.04), and the
parent GPU's power, temperature and clocks are replayed from the real H200 recording
(h200-workload.jsonl). What is made up: the split (3g.71gb + 2g.35gb + 2x 1g.18gb, a valid
H200 placement of 7 slices), the instance ids and UUIDs, the workloads, and the instances'
memory and GPM activity. Deterministic: running it again gives the same file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "python" / "jupyterlab_gpuscope" / "traces"
MiB, GiB = 2**20, 2**30

# (profile, GPU instance id, workload): the ids follow the placement NVML gives on the
# A100/H100 family (3g at 2, 2g at 5, 1g at 13 and 14).
LAYOUT = [
    ("3g.71gb", 2, "training"),
    ("2g.35gb", 5, "notebook"),
    ("1g.18gb", 13, "idle_kernel"),
    ("1g.18gb", 14, "empty"),
]
SECONDS, RATE = 60, 2


def profiles() -> dict[str, dict]:
    probe = json.loads((ROOT / "scripts" / "records" / "h200-mig-probe.json").read_text())
    found = {}
    for answer in probe["devices"][0]["profiles"].values():
        if "value" in answer:
            found[answer["value"]["name"].removeprefix("MIG ")] = answer["value"]
    return found


def workload(kind: str, t: float) -> tuple[int, float, float, float, int | None]:
    """(memory used, SM %, tensor %, DRAM %, process memory or None) at time t."""
    if kind == "training":
        used = min(50 * GiB, int(2 * GiB + t * 2 * GiB))
        busy = 85 + 8 * math.sin(t / 3)
        return used, round(busy, 2), round(busy * 0.8, 2), round(35 + 10 * math.sin(t / 5), 2), used - 500 * MiB
    if kind == "notebook":
        burst = 1.0 if int(t) % 12 < 4 else 0.0
        return 6 * GiB, round(60 * burst, 2), round(40 * burst, 2), round(15 * burst, 2), 6 * GiB - 500 * MiB
    if kind == "idle_kernel":
        return 3 * GiB, 0.0, 0.0, 0.0, 3 * GiB - 500 * MiB
    return 0, 0.0, 0.0, 0.0, None


def main() -> None:
    table = profiles()
    recorded = [json.loads(line) for line in (TRACES / "h200-workload.jsonl").read_text().splitlines() if line]
    header = recorded[0]
    real_samples = [r for r in recorded if r["type"] == "sample"]
    parent = dict(header["devices"][0])
    parent.update(
        uuid="GPU-00000000-0000-4000-8000-000000000000",
        mig_mode=[1, 1],
        mig_instances=[
            {
                "uuid": f"MIG-00000000-0000-4000-8000-0000000000{gi:02d}",
                "name": f"NVIDIA H200 MIG {profile}",
                "gpu_instance_id": gi,
                "compute_instance_id": 0,
                "memory_total": table[profile]["memorySizeMB"] * MiB,
                "multiprocessor_count": table[profile]["multiprocessorCount"],
            }
            for profile, gi, _ in LAYOUT
        ],
    )
    lines = [
        {
            "type": "devices",
            "synthetic": "an H200 split into MIG instances, built by scripts/make_mig_trace.py from the real "
            "H200's MIG profiles; the workloads are made up",
            "driver": header["driver"],
            "cuda_driver": header["cuda_driver"],
            "nvml": header["nvml"],
            "devices": [parent],
        }
    ]
    for step in range(SECONDS * RATE):
        t = step / RATE
        real = real_samples[step % len(real_samples)]["gpus"][0]
        instances, processes = [], []
        for (_, gi, kind), device in zip(LAYOUT, parent["mig_instances"]):
            used, sm, tensor, dram, process = workload(kind, t)
            instances.append(
                {
                    "uuid": device["uuid"],
                    "gpu_instance_id": gi,
                    "memory_used": used,
                    "memory_total": device["memory_total"],
                    "sm_util": sm,
                    "tensor_util": tensor,
                    "dram_util": dram,
                }
            )
            if process is not None:
                processes.append(
                    {"pid": 5000 + gi, "used_memory": process, "gpu_instance_id": gi, "compute_instance_id": 0}
                )
        gpu = {key: real[key] for key in ("temp_c", "power_mw", "sm_clock", "mem_clock", "pstate", "throttle", "fan")}
        gpu.update(
            index=0,
            memory_used=sum(i["memory_used"] for i in instances),
            memory_total=parent["memory_total"],
            # What NVML answers for a GPU in MIG mode.
            util_gpu={"error": "NVMLError_NotSupported"},
            util_mem={"error": "NVMLError_NotSupported"},
            pcie_tx_kbs=real["pcie_tx_kbs"],
            pcie_rx_kbs=real["pcie_rx_kbs"],
            ecc_uncorrected=0,
            mig=instances,
            processes=processes,
        )
        lines.append({"type": "sample", "t": t, "phase": "mig_classroom", "gpus": [gpu]})
    out = TRACES / "h200-mig-synthetic.jsonl"
    out.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
    print(f"wrote {out.relative_to(ROOT)}: {len(lines)} lines")


if __name__ == "__main__":
    main()

"""On a real GPU: would gpuscope name its kernels if the driver gave host PIDs?

    python scripts/gpu_host_pid_attribution.py OUT_DIR     (torch with CUDA; jupyter_client,
                                                   ipykernel, nvidia-ml-py, psutil installed)

The H200's driver (580) it was checked on gives this namespace's own PIDs, so host PIDs are made up
here: every PID NVML lists is moved by an offset no process has, as an older driver in a
container would show it. Everything else is real: the sampler reads NVML, two kernels
(8 and 3 GiB; the second also runs a matmul, for cuBLAS's workspace) run the per-cell
extension as the frontend loads it and write their evidence, and a process that is no
kernel holds 2.5 GiB from before they start. The script then asks describe() who holds
what with the offset PIDs, and compares with the true owners.

Writes OUT_DIR/host-pids.json.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import KernelManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from jupyterlab_gpuscope.monitor.attribution import evidence_path  # noqa: E402
from jupyterlab_gpuscope.monitor.backends import NvmlBackend  # noqa: E402
from jupyterlab_gpuscope.monitor.processes import KernelInfo, describe  # noqa: E402
from jupyterlab_gpuscope.monitor.sampler import Sampler  # noqa: E402
from jupyterlab_gpuscope.routes import cell_usage_loader  # noqa: E402

GiB = 2**30
OFFSET = 3_000_000
HOLD = "import torch, time; x = torch.empty({n}, dtype=torch.uint8, device='cuda'); print('ready', flush=True); time.sleep(600)"


def start_kernel(folder: Path, name: str):
    manager = KernelManager(kernel_name="python3", connection_file=str(folder / f"kernel-{name}.json"))
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=120)
    reply = client.execute_interactive(cell_usage_loader(), silent=True, timeout=120)
    assert reply["content"]["status"] == "ok", reply["content"]
    return manager, client


def run(client, code: str) -> dict:
    started = time.time()
    reply = client.execute_interactive(code, timeout=300)
    return {"status": reply["content"]["status"], "start": started, "end": time.time()}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    sampler = Sampler(NvmlBackend(), configured="nvml", interval=0.5, history_seconds=600)
    sampler.start()
    outside = subprocess.Popen([sys.executable, "-c", HOLD.format(n=int(2.5 * GiB))], stdout=subprocess.PIPE, text=True)
    outside.stdout.readline()
    folder = Path(tempfile.mkdtemp())
    kernels, cells = {}, {}
    try:
        for name, size, extra in (
            ("train", 8 * GiB, ""),
            ("eval", 3 * GiB, "\ny = torch.ones(4096, 4096, device='cuda') @ torch.ones(4096, 4096, device='cuda')"),
        ):
            manager, client = start_kernel(folder, name)
            kernels[name] = (manager, client)
            time.sleep(2)
            cells[name] = run(client, f"import torch\nx = torch.empty({size}, dtype=torch.uint8, device='cuda'){extra}")
            time.sleep(2)
        time.sleep(2)
        info = {
            name: KernelInfo(
                name,
                "python3",
                manager.provisioner.pid,
                "idle",
                f"{name}.ipynb",
                connection_file=manager.connection_file,
            )
            for name, (manager, _) in kernels.items()
        }
        truth = {k.pid: name for name, k in info.items()}
        evidence = {name: json.loads(Path(evidence_path(k.connection_file)).read_text()) for name, k in info.items()}
        real = {i: list(procs) for i, procs in sampler.processes.items()}
        moved = {i: [{**p, "pid": p["pid"] + OFFSET} for p in procs] for i, procs in real.items()}
        appeared = {i: {pid + OFFSET: w for pid, w in by_pid.items()} for i, by_pid in sampler.appeared.items()}
        uuids = {d["index"]: d["uuid"] for d in sampler.status()["devices"]}
        kernels_list = list(info.values())
        host = describe(
            moved, kernels_list, show_other_users=True, uses_gpu=lambda pid: False, appeared=appeared, gpu_uuids=uuids
        )
        translated = describe(real, kernels_list, show_other_users=True)
        rows = []
        for index, gpu in enumerate(host["gpus"]):
            for entry in gpu["processes"]:
                pid = entry["pid"] - OFFSET
                owner = truth.get(pid, "not a kernel")
                held = None
                if owner in evidence:
                    held = sum(sum(d["held"].values()) for d in evidence[owner]["devices"])
                rows.append(
                    {
                        "gpu": index,
                        "pid": pid,
                        "true_owner": owner,
                        "attributed_to": (entry["kernel"] or {}).get("id"),
                        "attribution": entry["attribution"],
                        "nvml_used_mib": entry["used_memory"] / 2**20 if entry["used_memory"] is not None else None,
                        "allocators_hold_mib": held / 2**20 if held is not None else None,
                        "appeared": appeared[index][entry["pid"]],
                    }
                )
        result = {
            "cells": cells,
            "evidence": evidence,
            "rows": rows,
            "host_body": host,
            "translated_names": {
                p["pid"]: (p["kernel"] or {}).get("id") for g in translated["gpus"] for p in g["processes"]
            },
            "outside_pid": outside.pid,
        }
        (out / "host-pids.json").write_text(json.dumps(result, indent=1))
        for row in rows:
            print(json.dumps({k: v for k, v in row.items() if k != "attribution"}))
            print("   ", row["attribution"])
        print(
            "evidence windows:",
            {n: [(d["context_after"], d["context_by"]) for d in e["devices"]] for n, e in evidence.items()},
        )
        print("cells:", cells)
        right = all(
            r["attributed_to"] == (r["true_owner"] if r["true_owner"] != "not a kernel" else None) for r in rows
        )
        print("every process attributed to its true owner (or to none):", right)
    finally:
        outside.kill()
        for manager, client in kernels.values():
            client.stop_channels()
            manager.shutdown_kernel(now=True)
        sampler.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""The kernel's live view on a real GPU, against nvidia-smi: a kernel shows the view and
trains a model while this script polls nvidia-smi; each update's figures are compared
with nvidia-smi's readings taken within one update interval of it.

Run on a machine with an NVIDIA GPU, nvidia-smi, torch, ipykernel and jupyter_client,
with this package on PYTHONPATH (the kernel inherits it):

    python scripts/gpu_live_view.py OUT

Writes OUT/live-view.json: every update, nvidia-smi's readings and the comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel
from nvidia_smi import query as nvidia_smi_query  # scripts/, beside this file

INTERVAL = 1.0
MiB = 2**20
TRAIN = """
import torch, time
model = torch.nn.Sequential(*[torch.nn.Linear(8192, 8192) for _ in range(6)]).cuda()
opt = torch.optim.Adam(model.parameters())
grown = []
started = time.time()
while time.time() - started < 12:
    loss = model(torch.randn(1024, 8192, device="cuda")).square().mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
    if len(grown) < 6 and time.time() - started > 2 * (len(grown) + 1):
        grown.append(torch.empty(2**30, dtype=torch.uint8, device="cuda"))  # memory that moves
torch.cuda.synchronize()
"""


def smi(pid: int) -> dict:
    kernel = sum(int(used) for p, used in nvidia_smi_query("compute-apps", "pid,used_memory") if int(p) == pid)
    used, util = (int(v) for v in nvidia_smi_query("gpu", "memory.used,utilization.gpu")[0])
    return {"at": time.time(), "kernel_mib": kernel, "used_mib": used, "util": util}


def judge(compared: list[dict], readings: list[dict]) -> None:
    """An update agrees with nvidia-smi when a reading within one interval shows the same
    figure, or when it lies between the readings just before and just after it (memory
    moved between two polls: the update caught a moment nvidia-smi did not)."""
    for c in compared:
        near = [r for r in readings if abs(r["at"] - c["at"]) <= INTERVAL]
        before = [r["kernel_mib"] for r in near if r["at"] <= c["at"]]
        after = [r["kernel_mib"] for r in near if r["at"] > c["at"]]
        c["nvidia_smi_kernel_mib"] = sorted({r["kernel_mib"] for r in near})
        c["equal"] = any(abs(r["kernel_mib"] - c["this_kernel_mib"]) < 1 for r in near)
        bracket = bool(before and after) and min(before[-1], after[0]) <= c["this_kernel_mib"] <= max(
            before[-1], after[0]
        )
        c["agrees"] = c["equal"] or bracket


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manager, client = start_new_kernel(kernel_name="python3")
    pid = int(
        client.execute_interactive("import os", user_expressions={"p": "os.getpid()"})["content"]["user_expressions"][
            "p"
        ]["data"]["text/plain"]
    )
    readings: list[dict] = []
    polling = threading.Event()

    def poll():
        while not polling.is_set():
            readings.append(smi(pid))
            time.sleep(0.25)

    poller = threading.Thread(target=poll, daemon=True)
    updates: list[dict] = []

    def keep(msg):
        if msg["msg_type"] in ("display_data", "update_display_data"):
            state = msg["content"]["data"].get("application/vnd.gpuscope.live+json")
            if state and state["devices"]:
                updates.append({"received": time.time(), **state})

    try:
        client.execute_interactive("import torch; torch.zeros(1, device='cuda')", timeout=120)
        poller.start()
        client.execute_interactive(
            f"import jupyterlab_gpuscope.live as gpu_live\nview = gpu_live.show(interval={INTERVAL})",
            output_hook=keep,
            timeout=60,
        )
        # The training cell: the view's updates arrive meanwhile, filed under the show()
        # cell (execute_interactive would pass on only the training cell's own messages).
        train_id = client.execute(TRAIN)
        deadline = time.time() + 300
        done_at = None
        while time.time() < deadline and (done_at is None or time.time() < done_at + 2 * INTERVAL):
            try:
                msg = client.get_iopub_msg(timeout=0.5)
            except Exception:
                continue
            keep(msg)
            if msg["parent_header"].get("msg_id") == train_id and msg["msg_type"] == "status":
                if msg["content"]["execution_state"] == "idle":
                    done_at = time.time()
        client.execute_interactive("gpu_live.stop()", timeout=60, output_hook=keep)
    finally:
        polling.set()
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    compared = []
    for update in updates:
        device = update["devices"][0]
        compared.append(
            {
                "at": update["at"],
                "this_kernel_mib": device["this_kernel"] / MiB,
                "memory_used_mib": device["memory_used"] / MiB,
                "util": device["util_gpu"],
                "sm_util": device["sm_util"],
                "tensor_util": device["tensor_util"],
            }
        )
    judge(compared, readings)
    agreed = sum(c["agrees"] for c in compared)
    record = {"interval": INTERVAL, "updates": compared, "nvidia_smi": readings, "agreed": agreed}
    (args.out / "live-view.json").write_text(json.dumps(record, indent=1))
    equal = sum(c["equal"] for c in compared)
    print(f"{agreed} of {len(compared)} updates agree with nvidia-smi within one update ({equal} equal to a reading)")
    for c in compared:
        print(
            json.dumps(
                {k: c[k] for k in ("this_kernel_mib", "nvidia_smi_kernel_mib", "util", "sm_util", "equal", "agrees")}
            )
        )
    return 0 if compared and agreed == len(compared) else 1


if __name__ == "__main__":
    sys.exit(main())

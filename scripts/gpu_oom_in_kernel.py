"""An out-of-memory error in a real notebook kernel, and what the server says holds the GPU.

Run on a machine with an NVIDIA GPU. Starts `jupyter server` with the NVML backend and two notebook
kernels through the sessions API: `holder.ipynb` keeps 30 GiB and goes idle, `train.ipynb`
keeps 20 GiB and then asks for more than is left. Writes, for the explainer's checks:

- train.ipynb: the notebook with the real error output, as the kernel sent it;
- processes.json: /gpuscope/api/processes read right after the error;
- kernels.json: which kernel id belongs to which notebook.

    python scripts/gpu_oom_in_kernel.py OUTDIR
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gpu_monitor_vs_nvidia_smi import api, start_server  # noqa: E402

ALLOCATE = "import torch\nheld = torch.empty({gib} * 2**30, dtype=torch.uint8, device='cuda')\ntorch.cuda.synchronize()"


def kernel(work: Path, path: str):
    from jupyter_client import BlockingKernelClient

    session = api("api/sessions", "POST", {"path": path, "type": "notebook", "kernel": {"name": "python3"}})
    # A client's heartbeat can call a kernel dead while it is still starting: try again.
    for _attempt in range(5):
        time.sleep(2)
        client = BlockingKernelClient(connection_file=str(work / "runtime" / f"kernel-{session['kernel']['id']}.json"))
        client.load_connection_file()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            return session["kernel"]["id"], client
        except RuntimeError:
            client.stop_channels()
    raise RuntimeError(f"kernel of {path} did not answer")


def run(client, code: str) -> list[dict]:
    """Execute code; the outputs as nbformat output dicts."""
    outputs: list[dict] = []

    def hook(msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            outputs.append({"output_type": "stream", "name": content["name"], "text": content["text"]})
        elif kind == "error":
            outputs.append(
                {
                    "output_type": "error",
                    "ename": content["ename"],
                    "evalue": content["evalue"],
                    "traceback": content["traceback"],
                }
            )

    client.execute_interactive(code, timeout=120, output_hook=hook)
    return outputs


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gpuscope-oom-"))
    server = start_server(work)
    try:
        holder_id, holder = kernel(work, "holder.ipynb")
        run(holder, ALLOCATE.format(gib=30))
        train_id, train = kernel(work, "train.ipynb")
        run(train, ALLOCATE.format(gib=20))
        cells = [
            {
                "cell_type": "code",
                "source": ALLOCATE.format(gib=20),
                "outputs": [],
                "metadata": {},
                "execution_count": 1,
            },
            {
                "cell_type": "code",
                "source": "more = torch.empty(60 * 2**30, dtype=torch.uint8, device='cuda')",
                "outputs": run(train, "more = torch.empty(60 * 2**30, dtype=torch.uint8, device='cuda')"),
                "metadata": {},
                "execution_count": 2,
            },
        ]
        time.sleep(1.5)  # a sample or two after the error
        processes = api("gpuscope/api/processes")
        (out / "train.ipynb").write_text(
            json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}, indent=1)
        )
        (out / "processes.json").write_text(json.dumps(processes, indent=1))
        (out / "kernels.json").write_text(json.dumps({"holder.ipynb": holder_id, "train.ipynb": train_id}))
        error = cells[1]["outputs"][-1]
        print(error.get("ename"), error.get("evalue", "")[:300])
        for gpu in processes["gpus"]:
            for p in gpu["processes"]:
                kernel_info = p.get("kernel") or {}
                print(
                    f"GPU {gpu['index']}: pid {p['pid']} {p['used_memory'] / 2**30:.2f} GiB "
                    f"{kernel_info.get('notebook_path')} {kernel_info.get('execution_state')}"
                )
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())

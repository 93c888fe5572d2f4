"""Shared-GPU features on a real GPU (run on a machine with an NVIDIA GPU).

Starts `jupyter server` (NVML backend) with a 12 GiB soft limit, nudges after 6 s idle and
shut-down 9 s later, and per-kernel metrics. A notebook kernel holds 10 GiB; a process of
a second OS user holds 3 GiB. Prints, next to nvidia-smi: `usage` (mine, others, limit
state), `/metrics`, what any route says about the other user, the nudge, Keep, and the
automatic shut-down with the memory it freed, and the server's log lines.

    python scripts/gpu_shared_gpu_policy.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gpu_monitor_vs_nvidia_smi import BASE, TOKEN, api, smi, start_server  # noqa: E402
from gpu_oom_in_kernel import ALLOCATE, kernel, run  # noqa: E402

GiB = 1024**3
CONFIG = (
    f"c.GPUScope.user_memory_limit_bytes = {12 * GiB}\n"
    "c.GPUScope.user_memory_warn_fraction = 0.75\n"
    "c.GPUScope.idle_kernel_minutes = 0.1\n"
    "c.GPUScope.idle_kernel_shutdown_minutes = 0.15\n"
    "c.GPUScope.check_seconds = 1.0\n"
    "c.GPUScope.metrics_per_kernel = True\n"
)
OTHER = "gpuscope-student2"
OTHER_CODE = "import torch, time; x = torch.empty(3 * 2**30, dtype=torch.uint8, device='cuda'); time.sleep(300)"


def metrics() -> str:
    request = urllib.request.Request(f"{BASE}/metrics", headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def other_user_process() -> subprocess.Popen | None:
    try:
        subprocess.run(["useradd", "--no-create-home", OTHER], check=True, capture_output=True)
        return subprocess.Popen([sys.executable, "-c", OTHER_CODE], user=OTHER, env=dict(os.environ, HOME="/tmp"))
    except (OSError, subprocess.CalledProcessError) as error:
        print("no second OS user:", error)
        return None


def gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="gpuscope-class-"))
    os.chmod(work, 0o755)
    server = start_server(work, CONFIG)
    other = other_user_process()
    try:
        kernel_id, client = kernel(work, "student.ipynb")
        run(client, ALLOCATE.format(gib=10))
        time.sleep(3)  # the sampler and the watcher see both processes
        usage = api("gpuscope/api/shared-gpus")
        apps = smi("pid,used_memory", "compute-apps")
        print("nvidia-smi compute apps (pid, MiB):", apps)
        for gpu in usage["gpus"][:1]:
            print(
                f"usage GPU {gpu['index']}: mine {gib(gpu['mine'])}, others {gib(gpu['others'])} "
                f"({gpu['others_count']} processes), limit {gib(gpu['limit'])}, state {gpu['state']}"
            )
        print("usage kernels:", [(k["notebook_path"], gib(k["used_memory"])) for k in usage["kernels"]])
        text = metrics()
        print("metrics:")
        for line in text.splitlines():
            if line.startswith("gpuscope_") and ('gpu="0"' in line or "{" not in line or "backend_live" in line):
                print("  ", line)
        print("nvidia-smi memory.used MiB:", smi("index,memory.used")[0])
        if other is not None:
            bodies = {
                r: json.dumps(api(f"gpuscope/api/{r}"))
                for r in ("devices", "processes", "shared-gpus", "policy", "stats")
            }
            bodies["metrics"] = text
            leaks = [r for r, body in bodies.items() if OTHER in body or f'"pid": {other.pid},' in body]
            print(f"other user's pid {other.pid} / name in any route: {leaks or 'none'}")

        # Idle: the kernel ran its cell; now it waits.
        deadline = time.time() + 30
        while time.time() < deadline and not api("gpuscope/api/shared-gpus")["idle"]:
            time.sleep(0.5)
        idle = api("gpuscope/api/shared-gpus")["idle"]
        print(
            "idle:",
            [(i["notebook_path"], gib(i["used_memory"]), round(i["shutdown_at"] - i["idle_since"], 1)) for i in idle],
        )
        keep = urllib.request.Request(
            f"{BASE}/gpuscope/api/keep",
            method="POST",
            data=json.dumps({"kernel_id": kernel_id}).encode(),
            headers={"Authorization": f"token {TOKEN}"},
        )
        print("Keep:", urllib.request.urlopen(keep, timeout=10).status)
        print("after Keep, idle:", api("gpuscope/api/shared-gpus")["idle"])
        deadline = time.time() + 60
        while time.time() < deadline and not api("gpuscope/api/shared-gpus")["shut_down"]:
            time.sleep(0.5)
        print("shut_down:", api("gpuscope/api/shared-gpus")["shut_down"])
        kernels = [k["id"] for k in api("api/kernels")]
        time.sleep(2)
        print(
            f"kernel still running: {kernel_id in kernels}; nvidia-smi compute apps now:",
            smi("pid,used_memory", "compute-apps"),
        )
        print("server log:")
        for line in (work / "server.log").read_text().splitlines():
            if "gpuscope:" in line:
                print("  ", line[:220])
        return 0
    finally:
        if other is not None:
            other.kill()
            subprocess.run(["userdel", OTHER], capture_output=True)
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())

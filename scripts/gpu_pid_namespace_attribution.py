"""On a real GPU: the server in a PID namespace of its own (as in a container) with two
kernels holding 8 and 3 GiB, and a GPU process outside it holding 2.5 GiB.

    python scripts/gpu_pid_namespace_attribution.py OUT_DIR     (root; torch with CUDA; jupyter_server,
                                                    ipykernel, nvidia-ml-py installed)

Writes OUT_DIR/shared-gpu.json: gpuscope's processes, usage and devices replies next to
nvidia-smi's view, taken while all three hold their memory.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from jupyter_client import BlockingKernelClient
from jupyter_core.paths import jupyter_runtime_dir

ROOT = Path(__file__).resolve().parents[1]
PORT = 8899
TOKEN = "gpuscope-device-check"
GiB = 2**30
HOLD = "import torch, time; x = torch.empty({n}, dtype=torch.uint8, device='cuda'); print('ready', flush=True); time.sleep(600)"


def api(path, method="GET", body=None):
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def run_in_kernel(kernel_id, code):
    client = BlockingKernelClient(connection_file=str(Path(jupyter_runtime_dir()) / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    reply = client.execute_interactive(code, timeout=120)
    client.stop_channels()
    return reply["content"]["status"]


def nvidia_smi():
    apps = subprocess.run(
        ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
    ).stdout
    memory = subprocess.run(
        ["nvidia-smi", "--query-gpu=memory.used,memory.reserved,memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
    ).stdout
    return {"compute_apps_mib": apps.strip().splitlines(), "memory_used_reserved_total_mib": memory.strip()}


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    outside = subprocess.Popen([sys.executable, "-c", HOLD.format(n=int(2.5 * GiB))], stdout=subprocess.PIPE, text=True)
    outside.stdout.readline()
    outside.stdout.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    server = subprocess.Popen(
        [
            "unshare", "--pid", "--fork", "--mount-proc",
            sys.executable, "-m", "jupyter_server",
            f"--port={PORT}", "--ServerApp.port_retries=0", "--allow-root", "--no-browser",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tempfile.mkdtemp()}",
            '--ServerApp.jpserver_extensions={"jupyterlab_gpuscope": True}',
            "--GPUScope.backend=nvml", "--GPUScope.interval_seconds=0.5",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(out / "server.log", "w"),
        start_new_session=True,  # so that the whole namespace can be stopped at the end
    )  # fmt: skip
    try:
        for _ in range(60):
            try:
                api("api/status")
                break
            except OSError:
                time.sleep(1)
        kernels = {}
        for path, size in (("train.ipynb", 8 * GiB), ("eval.ipynb", 3 * GiB)):
            session = api("api/sessions", "POST", {"path": path, "type": "notebook", "kernel": {"name": "python3"}})
            kernel_id = session["kernel"]["id"]
            time.sleep(3)
            status = run_in_kernel(
                kernel_id, f"import torch\nx = torch.empty({size}, dtype=torch.uint8, device='cuda')"
            )
            kernels[path] = {"id": kernel_id, "bytes": size, "status": status}
        time.sleep(3)
        result = {
            "kernels": kernels,
            "outside_process": {"host_pid": outside.pid, "bytes": int(2.5 * GiB)},
            "processes": api("gpuscope/api/processes"),
            "usage": api("gpuscope/api/shared-gpus"),
            "devices": api("gpuscope/api/devices"),
            "nvidia_smi": nvidia_smi(),
        }
        (out / "shared-gpu.json").write_text(json.dumps(result, indent=1))
        print(json.dumps({k: result[k] for k in ("kernels", "nvidia_smi")}, indent=1), flush=True)
        gpu = result["processes"]["gpus"][0]
        print(
            "processes:",
            [(p["pid"], p["used_memory"] // 2**20, (p["kernel"] or {}).get("notebook_path")) for p in gpu["processes"]],
        )
        print("others:", gpu["others"], "outside:", gpu["outside"])
        print("usage:", result["usage"]["gpus"][0])
        print("environment:", result["devices"].get("environment"))
    finally:
        outside.kill()
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Check the server extension against nvidia-smi on a real GPU (run on a machine with an NVIDIA GPU).

Starts `jupyter server` with the NVML backend, a notebook kernel through the server's
sessions API that allocates GPU memory, and a second torch process that keeps the GPU
busy; then reads the API and `nvidia-smi` at the same moments and prints both side by side.

    python scripts/gpu_monitor_vs_nvidia_smi.py [--out report.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOKEN = "gpuscope-device-check"
PORT = 8899
BASE = f"http://127.0.0.1:{PORT}"
GiB = 1024**3

BUSY_WORKLOAD = """
import time, torch
hold = torch.empty(4 * 2**30, dtype=torch.uint8, device="cuda")
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
end = time.time() + float(__import__("sys").argv[1])
while time.time() < end:
    for _ in range(20):
        a @ a
    torch.cuda.synchronize()
"""


def api(path: str, method: str = "GET", body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{BASE}/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def smi(query: str, kind: str = "gpu") -> list[list[str]]:
    out = subprocess.run(
        ["nvidia-smi", f"--query-{kind}={query}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [[cell.strip() for cell in line.split(",")] for line in out.strip().splitlines() if line.strip()]


def latest_sample() -> dict:
    body = api("gpuscope/api/samples?since=0")
    return body["samples"][-1]


def start_server(work: Path, extra_config: str = "") -> subprocess.Popen:
    """`jupyter server` with this extension on the NVML backend, in a scratch folder;
    `extra_config`: more lines for its config file."""
    (work / "nb").mkdir()
    config = work / "config.py"
    config.write_text(
        "c.ServerApp.jpserver_extensions = {'jupyterlab_gpuscope': True}\n"
        f"c.IdentityProvider.token = {TOKEN!r}\n"
        f"c.ServerApp.port = {PORT}\n"
        "c.ServerApp.port_retries = 0\n"
        "c.ServerApp.allow_root = True\n"
        "c.ServerApp.open_browser = False\n"
        f"c.ServerApp.root_dir = {str(work / 'nb')!r}\n"
        "c.GPUScope.backend = 'nvml'\n"
        "c.GPUScope.interval_seconds = 0.5\n" + extra_config
    )
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(work / "runtime"), JUPYTER_CONFIG_DIR=str(work))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={config}"],
        env=env,
        stdout=open(work / "server.log", "w"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(120):
        try:
            api("api/status")
            return server
        except OSError:
            time.sleep(0.25)
    raise RuntimeError("the server did not start")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gpuscope-check-"))
    server = start_server(work)
    busy = None
    report: dict = {}
    try:
        devices = api("gpuscope/api/devices")
        report["devices"] = devices
        print(
            f"backend={devices['backend']} live={devices['live']} status={devices['status']} "
            f"driver={devices['driver_version']} cuda={devices['cuda_driver_version']}"
        )
        for d in devices["devices"]:
            print(
                f"  GPU {d['index']}: {d['name']} cc={d['compute_capability']} "
                f"mem={d['memory_total'] / GiB:.1f} GiB power_limit={d['power_limit_mw']} mW "
                f"pcie=gen{d['pcie_max_gen']}x{d['pcie_max_width']} unavailable={d['unavailable']}"
            )

        # A notebook kernel, started by the server, that holds 8 GiB.
        session = api(
            "api/sessions", "POST", {"path": "gpu-check.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
        )
        kernel_id = session["kernel"]["id"]
        from jupyter_client import BlockingKernelClient

        client = BlockingKernelClient(connection_file=str(work / "runtime" / f"kernel-{kernel_id}.json"))
        client.load_connection_file()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive(
            "import torch, os\n"
            "held = torch.empty(8 * 2**30, dtype=torch.uint8, device='cuda')\n"
            "torch.cuda.synchronize(); print('kernel pid', os.getpid(), 'allocated', torch.cuda.memory_allocated())",
            timeout=120,
        )
        report["kernel_exec_status"] = reply["content"]["status"]

        busy = subprocess.Popen([sys.executable, "-c", BUSY_WORKLOAD, "25"])
        time.sleep(6)  # CUDA init, allocation, the matmul loop running

        rows = []
        for _ in range(6):
            sample = latest_sample()
            smi_rows = smi(
                "index,memory.used,memory.total,utilization.gpu,utilization.memory,temperature.gpu,power.draw"
            )
            for gpu, row in zip(sample["gpus"], smi_rows):
                rows.append(
                    {
                        "gpu": gpu["index"],
                        "api_mem_mib": round(gpu["memory_used"] / 2**20),
                        "smi_mem_mib": int(row[1]),
                        "api_total_mib": round(gpu["memory_total"] / 2**20),
                        "smi_total_mib": int(row[2]),
                        "api_util": gpu["util_gpu"],
                        "smi_util": int(row[3]),
                        "api_temp": gpu["temp_c"],
                        "smi_temp": int(row[5]),
                        "api_power_w": round(gpu["power_mw"] / 1000, 1) if gpu["power_mw"] is not None else None,
                        "smi_power_w": float(row[6]),
                        "unavailable": gpu["unavailable"],
                    }
                )
            time.sleep(1.0)
        report["comparison"] = rows
        print(
            "\n gpu | mem MiB api / smi | total MiB api / smi | util % api / smi | temp C api / smi | power W api / smi"
        )
        for r in rows:
            print(
                f"  {r['gpu']}  | {r['api_mem_mib']:>7} / {r['smi_mem_mib']:<7} | {r['api_total_mib']} / {r['smi_total_mib']} "
                f"| {r['api_util']:>3} / {r['smi_util']:<3} | {r['api_temp']} / {r['smi_temp']} | {r['api_power_w']} / {r['smi_power_w']}"
            )
        print("  fields NVML refused:", rows[-1]["unavailable"])

        processes = api("gpuscope/api/processes")
        report["processes"] = processes
        report["smi_apps"] = smi("pid,used_memory", kind="compute-apps")
        print("\nnvidia-smi compute apps (pid, MiB):", report["smi_apps"])
        print("gpuscope processes:")
        for gpu in processes["gpus"]:
            for p in gpu["processes"]:
                kernel = p["kernel"]
                owner = (
                    f"kernel {kernel['name']} {kernel['id'][:8]} notebook={kernel['notebook_path']}"
                    if kernel
                    else p["name"]
                )
                print(
                    f"  GPU {gpu['index']} pid {p['pid']} {p['used_memory'] / 2**20 if p['used_memory'] else None} MiB owner={p['owner']} {owner}"
                )
            print(f"  GPU {gpu['index']} others: {gpu['others']}")
        print("pid namespace:", processes["pid_namespace"])
        stats = api("gpuscope/api/stats")
        report["stats"] = stats
        print("\nstats:", json.dumps(stats))
        client.stop_channels()
    finally:
        if busy is not None:
            busy.kill()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        report["server_log_tail"] = (work / "server.log").read_text()[-3000:]
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The class view on a real GPU: two students' servers (two OS accounts) on one NVIDIA GPU,
each with a kernel holding memory, scraped by Prometheus; the view the gpuscope Hub
service computes from it, against nvidia-smi.

Run as root on a machine with an NVIDIA GPU, nvidia-smi, torch, a `prometheus` binary and
jupyter_server, ipykernel and this package importable (PYTHONPATH is handed to the
servers). No JupyterHub here: the Hub's part (OAuth, roles, discovery, the proxy) is tested
on any machine by `make test-hub`; this checks what only a GPU can: that the figures are
right.

    python scripts/gpu_class_view.py OUT [--prometheus /path/to/prometheus]

Writes OUT/class-view.json: the view, nvidia-smi's figures, and each comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.request import Request, urlopen

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from jupyterlab_gpuscope.hub.classview import QUERIES, class_view  # noqa: E402
from jupyterlab_gpuscope.hub.prometheus import Prometheus, PrometheusError  # noqa: E402
from nvidia_smi import query as nvidia_smi_query  # noqa: E402  (scripts/, beside this file)

MiB = 2**20
#: Each student's kernel allocates this many GiB on the GPU.
STUDENTS = {"gs-gpu-a": 3, "gs-gpu-b": 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(check, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, PrometheusError):  # not up yet
            pass
        time.sleep(0.5)
    raise TimeoutError(what)


def ensure_traversable(path: Path) -> None:
    for folder in [path, *path.parents]:
        if folder.is_dir() and not folder.stat().st_mode & 0o001:
            folder.chmod(folder.stat().st_mode | 0o001)


def get(url: str, token: str, method: str = "GET", body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    with urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


async def run_cell(port: int, token: str, kernel_id: str, code: str) -> None:
    request = HTTPRequest(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={token}")
    ws = await websocket_connect(request)
    msg_id = uuid.uuid4().hex
    header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "", "session": msg_id, "version": "5.3"}
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
    message = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
    await ws.write_message(json.dumps(message))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.read_message(), 180))
        if reply.get("msg_type") == "error":
            raise RuntimeError("".join(reply["content"]["traceback"]))
        if reply.get("msg_type") == "execute_reply" and reply["parent_header"].get("msg_id") == msg_id:
            ws.close()
            return


def nvidia_smi() -> dict:
    by_user: dict[str, int] = {}
    for pid, used in nvidia_smi_query("compute-apps", "pid,used_memory"):
        owner = subprocess.run(["ps", "-o", "user=", "-p", pid], capture_output=True, text=True).stdout.strip()
        by_user[owner] = by_user.get(owner, 0) + int(used) * MiB
    index, gpu_uuid, used, total_mib = nvidia_smi_query("gpu", "index,uuid,memory.used,memory.total")[0]
    return {
        "by_user": by_user,
        "gpu_uuid": gpu_uuid,
        "memory_used": int(used) * MiB,
        "memory_total": int(total_mib) * MiB,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "prometheus")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="gpuscope-gpu-class-"))
    folder.chmod(0o755)
    # The students' servers run this Python with this PYTHONPATH: let them traverse to it.
    for path in [
        Path(os.path.realpath(sys.executable)),
        *map(Path, filter(None, os.environ.get("PYTHONPATH", "").split(":"))),
    ]:
        ensure_traversable(path.resolve())
    processes: list[subprocess.Popen] = []
    servers = {}
    token = secrets.token_hex(16)  # both servers' (one Prometheus job sends one token)
    try:
        for name in STUDENTS:
            if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
                subprocess.run(["useradd", "--create-home", name], check=True)
            port = free_port()
            runtime = folder / f"runtime-{name}"
            runtime.mkdir(mode=0o700)
            shutil.chown(runtime, user=name)
            env = {
                "PATH": os.environ["PATH"],
                "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                "HOME": f"/home/{name}",
                "JUPYTER_RUNTIME_DIR": str(runtime),
            }
            command = [
                sys.executable,
                "-m",
                "jupyter_server",
                f"--port={port}",
                "--ip=127.0.0.1",
                f"--IdentityProvider.token={token}",
                "--ServerApp.jpserver_extensions={'jupyterlab_gpuscope': True}",
                "--GPUScope.node_name=gpu-node",
                "--GPUScope.check_seconds=1",
                f"--ServerApp.root_dir=/home/{name}",
            ]
            log = open(args.out / f"server-{name}.log", "w")
            processes.append(
                subprocess.Popen(["runuser", "-u", name, "--", *command], env=env, stdout=log, stderr=subprocess.STDOUT)
            )
            servers[name] = (port, token)
        for name, (port, token) in servers.items():
            wait(lambda p=port, t=token: get(f"http://127.0.0.1:{p}/api/status", t), f"{name}'s server")
            kernel = get(f"http://127.0.0.1:{port}/api/kernels", token, "POST", {"name": "python3"})
            code = f"import torch\nheld = torch.empty({STUDENTS[name]} * 2**30, dtype=torch.uint8, device='cuda')"
            asyncio.run(run_cell(port, token, kernel["id"], code))
        targets = ", ".join(
            f'{{targets: ["127.0.0.1:{port}"], labels: {{user: "{name}"}}}}' for name, (port, _) in servers.items()
        )
        config = f"""scrape_configs:
  - job_name: gpuscope
    scrape_interval: 1s
    metrics_path: /gpuscope/metrics
    authorization: {{type: token, credentials: "{token}"}}
    static_configs: [{targets}]
"""
        (folder / "prometheus.yml").write_text(config)
        prometheus_port = free_port()
        processes.append(
            subprocess.Popen(
                [
                    args.prometheus,
                    f"--config.file={folder / 'prometheus.yml'}",
                    f"--storage.tsdb.path={folder / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                stdout=open(args.out / "prometheus.log", "w"),
                stderr=subprocess.STDOUT,
            )
        )
        client = Prometheus(f"http://127.0.0.1:{prometheus_port}", password="")

        async def results() -> dict:
            names = list(QUERIES)
            query = [
                QUERIES[n].replace("{window}", "1h").replace("{peak_source}", "gpuscope_user_gpu_memory_bytes")
                for n in names
            ]
            return dict(zip(names, await asyncio.gather(*(client.query(q) for q in query))))

        users = [{"name": name, "servers": {"": {"ready": True}}, "roles": ["student"]} for name in STUDENTS]

        def complete():
            found = asyncio.run(results())
            return found if {s.get("user") for s in found["kernel_memory"]} == set(STUDENTS) else None

        found = wait(complete, "Prometheus scraping both servers", 120)
        time.sleep(3)  # two more scrapes and checks
        found = asyncio.run(results())
        smi = nvidia_smi()
        view = class_view(users, found, window="1h", configured_sizes={})
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for name in STUDENTS:
            subprocess.run(["pkill", "-u", name], capture_output=True)
    comparisons = []
    for student in view["students"]:
        expected = smi["by_user"].get(student["user"], 0)
        comparisons.append(
            # nvidia-smi prints MiB: equal within its rounding.
            {
                "user": student["user"],
                "view": student["memory"],
                "nvidia_smi": expected,
                "equal": abs(student["memory"] - expected) < MiB,
            }
        )
    [gpu] = view["gpus"]
    comparisons.append(
        {
            "gpu": gpu["gpu_uuid"],
            "view_memory_used": gpu["memory_used"],
            "nvidia_smi_memory_used": smi["memory_used"],
            "difference_mib": (gpu["memory_used"] - smi["memory_used"]) / MiB,
            "same_uuid": gpu["gpu_uuid"] == smi["gpu_uuid"],
        }
    )
    (args.out / "class-view.json").write_text(
        json.dumps({"view": view, "nvidia_smi": smi, "comparisons": comparisons}, indent=1)
    )
    for line in comparisons:
        print(json.dumps(line))
    return 0 if all(c.get("equal", True) and c.get("same_uuid", True) for c in comparisons) else 1


if __name__ == "__main__":
    sys.exit(main())

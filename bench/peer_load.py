"""gpuscope against jupyterlab-nvdashboard on a real GPU: server cost per viewer, side by side.

For 0, 1, 10, 50 and 100 viewers, one server at a time, each for a window of --seconds:
- a bare jupyter_server (no extension), idle: the floor;
- gpuscope (NVML backend, 1 s, its default): a viewer is what the panel opens, the stream
  plus the pushed process list;
- nvdashboard 0.15.0's two bar charts (GPU utilisation and memory: one websocket each),
  at its frontend's default 100 ms and at 1 s.
It prints, per row: the server's CPU (% of one core), NVML calls per second (every pynvml
function wrapped, bench/nvml_count/sitecustomize.py), messages per viewer per second, and
`GET /api/status` latency p50/p99 (a probe of the event loop, every 100 ms), and the CPU above
the bare server's (the probe is most of that floor, and every server pays it).

    python bench/peer_load.py [--seconds 15] [--viewers 0,1,10,50,100]

Needs a GPU, jupyter_server, nvidia-ml-py, psutil, jupyterlab_gpuscope and
jupyterlab_nvdashboard (0.15.0) importable by the Python running it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from tornado.httpclient import AsyncHTTPClient
from tornado.websocket import websocket_connect

TOKEN = "peer-bench"
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str, port: int, workdir: Path, counts: Path) -> subprocess.Popen:
    extensions = {
        "bare": {},
        "gpuscope": {"jupyterlab_gpuscope": True},
        "nvdashboard": {"jupyterlab_nvdashboard": True},
    }
    config = workdir / f"{kind}_config.py"
    config.write_text(
        f"c.ServerApp.jpserver_extensions = {extensions[kind]!r}\n"
        f"c.IdentityProvider.token = {TOKEN!r}\nc.ServerApp.port = {port}\nc.ServerApp.port_retries = 0\n"
        f"c.ServerApp.allow_root = True\nc.ServerApp.open_browser = False\nc.ServerApp.root_dir = {str(workdir)!r}\n"
        "c.GPUScope.backend = 'nvml'\nc.GPUScope.interval_seconds = 1.0\n"
    )
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(workdir / kind),
        JUPYTER_RUNTIME_DIR=str(workdir / f"rt-{kind}"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(HERE / "nvml_count"), os.environ.get("PYTHONPATH")])),
        NVML_COUNT_FILE=str(counts),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={config}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def nvml_calls(counts: Path) -> int:
    try:
        return int(counts.read_text() or 0)
    except (OSError, ValueError):
        return 0


async def viewer(kind: str, port: int, frequency_ms: int, received: list[int], stop: asyncio.Event) -> None:
    headers = {"Authorization": f"token {TOKEN}"}
    if kind == "gpuscope":
        urls = [f"ws://127.0.0.1:{port}/gpuscope/api/stream"]
    else:
        urls = [f"ws://127.0.0.1:{port}/nvdashboard/{name}" for name in ("gpu_utilization", "gpu_usage")]
    sockets = []
    for url in urls:
        from tornado.httpclient import HTTPRequest

        ws = await websocket_connect(HTTPRequest(url, headers=headers))
        if kind == "gpuscope":
            ws.write_message(json.dumps({"action": "processes", "on": True}))
        else:
            ws.write_message(json.dumps({"updateFrequency": frequency_ms, "isPaused": False}))
        sockets.append(ws)

    async def drain(ws) -> None:
        while not stop.is_set():
            message = await ws.read_message()
            if message is None:
                return
            received[0] += 1

    await asyncio.gather(*(drain(ws) for ws in sockets))
    for ws in sockets:
        ws.close()


async def measure(kind: str, frequency_ms: int, viewers: int, seconds: float, workdir: Path) -> dict:
    port = free_port()
    counts = workdir / f"count-{kind}-{viewers}-{frequency_ms}"
    server = start(kind, port, workdir, counts)
    client = AsyncHTTPClient(max_clients=50)
    status_url = f"http://127.0.0.1:{port}/api/status"
    headers = {"Authorization": f"token {TOKEN}"}
    try:
        for _ in range(100):
            try:
                await client.fetch(status_url, headers=headers)
                break
            except Exception:
                await asyncio.sleep(0.2)
        stop = asyncio.Event()
        received = [0]
        tasks = []
        if kind != "bare":
            tasks = [asyncio.ensure_future(viewer(kind, port, frequency_ms, received, stop)) for _ in range(viewers)]
        await asyncio.sleep(3)  # connect and settle
        process = psutil.Process(server.pid)
        cpu0, calls0, messages0, t0 = sum(process.cpu_times()[:2]), nvml_calls(counts), received[0], time.monotonic()
        latencies = []
        while time.monotonic() - t0 < seconds:
            started = time.perf_counter()
            await client.fetch(status_url, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - t0
        cpu = sum(process.cpu_times()[:2]) - cpu0
        calls = nvml_calls(counts) - calls0
        messages = received[0] - messages0
        stop.set()
        for task in tasks:
            task.cancel()
        latencies.sort()
        return {
            "cpu_percent": 100 * cpu / elapsed,
            "nvml_per_s": calls / elapsed,
            "messages_per_viewer_s": messages / elapsed / viewers if viewers else 0.0,
            "status_p50_ms": statistics.median(latencies),
            "status_p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--viewers", default="0,1,10,50,100")
    args = parser.parse_args()
    counts = [int(v) for v in args.viewers.split(",")]
    columns = [("bare", 0), ("gpuscope", 1000), ("nvdashboard", 100), ("nvdashboard", 1000)]
    names = {
        ("bare", 0): "bare jupyter_server",
        ("gpuscope", 1000): "gpuscope 1 s (stream + processes)",
        ("nvdashboard", 100): "nvdashboard bars 100 ms (default)",
        ("nvdashboard", 1000): "nvdashboard bars 1 s",
    }
    results: dict[tuple, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        for viewers in counts:
            for kind, frequency in columns:
                if kind == "bare" and viewers:
                    continue
                results[(kind, frequency, viewers)] = asyncio.run(
                    measure(kind, frequency, viewers, args.seconds, workdir)
                )
                r = results[(kind, frequency, viewers)]
                print(f"  measured {names[(kind, frequency)]}, {viewers} viewers: {r}", flush=True)
    print(f"\nServer cost per viewer, {args.seconds:g} s windows, one server at a time\n")
    # The bare server's cost is mostly the latency probe itself, paid by every server alike;
    # what each extension adds is its CPU above that floor.
    bare = results.get(("bare", 0, 0))
    floor = bare["cpu_percent"] if bare else 0.0

    def added(r: dict) -> float:
        return max(r["cpu_percent"] - floor, 0.0)

    print(
        "| viewers | server | CPU % of a core | above bare | NVML calls/s | msgs/viewer/s | status p50 ms | status p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (kind, frequency, viewers), r in results.items():
        print(
            f"| {viewers} | {names[(kind, frequency)]} | {r['cpu_percent']:.2f} | {added(r):.2f} | {r['nvml_per_s']:.0f} | "
            f"{r['messages_per_viewer_s']:.2f} | {r['status_p50_ms']:.1f} | {r['status_p99_ms']:.1f} |"
        )
    g = {v: results.get(("gpuscope", 1000, v)) for v in counts}
    if g.get(1) and g.get(100):
        print(
            f"\ngpuscope 100 viewers / 1 viewer CPU: {g[100]['cpu_percent'] / max(g[1]['cpu_percent'], 1e-9):.2f}x (target <= 1.5x)"
        )
        for frequency in (1000, 100):
            n = results.get(("nvdashboard", frequency, 100))
            if n:
                print(
                    f"nvdashboard bars {frequency} ms / gpuscope at 100 viewers: "
                    f"{n['cpu_percent'] / max(g[100]['cpu_percent'], 1e-9):.1f}x; "
                    f"above the bare server: {added(n) / max(added(g[100]), 1e-9):.1f}x"
                )
        print(f"gpuscope status p99 at 100 viewers: {g[100]['status_p99_ms']:.1f} ms (target < 10 ms)")
    idle = g.get(0)
    if bare and idle:
        print(
            f"gpuscope idle minus bare server: {idle['cpu_percent'] - bare['cpu_percent']:.2f} % of a core (target <= 0.25)"
        )


if __name__ == "__main__":
    main()

"""Server cost per viewer, and memory over a simulated day.

1. Starts `jupyter server` with the replay backend at 1 Hz and measures, for 0, 1, 10 and
   100 stream subscribers and for 100 clients polling `samples?since=` once a second: the
   server's CPU time per second (percent of one core) and backend (NVML) calls per second.
   The target: calls per second stay flat as viewers grow; 100 subscribers cost < 2 %.
2. Runs a sampler over a synthetic 8-GPU replay (the two-H200 recording, four times over)
   for 24 simulated hours at 1 Hz and prints resident memory along the way.

    python bench/server_load.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

TOKEN = "gpuscope-bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workdir: Path) -> subprocess.Popen:
    config = workdir / "bench_config.py"
    config.write_text(
        "c.ServerApp.jpserver_extensions = {'jupyterlab_gpuscope': True}\n"
        f"c.IdentityProvider.token = {TOKEN!r}\n"
        f"c.ServerApp.port = {port}\nc.ServerApp.port_retries = 0\n"
        "c.ServerApp.allow_root = True\nc.ServerApp.open_browser = False\n"
        f"c.ServerApp.root_dir = {str(workdir)!r}\n"
        "c.GPUScope.backend = 'replay'\nc.GPUScope.interval_seconds = 1.0\n"
    )
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(workdir), JUPYTER_RUNTIME_DIR=str(workdir / "rt"))
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--config={config}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def get_json(client: AsyncHTTPClient, port: int, path: str) -> dict:
    response = await client.fetch(
        f"http://127.0.0.1:{port}/gpuscope/api/{path}", headers={"Authorization": f"token {TOKEN}"}
    )
    return json.loads(response.body)


async def wait_ready(client: AsyncHTTPClient, port: int) -> None:
    for _ in range(200):
        try:
            if (await get_json(client, port, "samples"))["samples"]:
                return
        except Exception:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


@contextlib.asynccontextmanager
async def running_server(max_clients: int):
    """A bench server on a free port, ready: (HTTP client, port, the server's process)."""
    AsyncHTTPClient.configure(None, max_clients=max_clients)
    client = AsyncHTTPClient()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(port, Path(tmp))
        try:
            await wait_ready(client, port)
            yield client, port, psutil.Process(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


async def measure(server: psutil.Process, client: AsyncHTTPClient, port: int, seconds: float) -> tuple[float, float]:
    """(server CPU % of one core, backend calls per second) over `seconds`."""
    before_stats = await get_json(client, port, "stats")
    before_cpu = sum(server.cpu_times()[:2])
    started = time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu = sum(server.cpu_times()[:2]) - before_cpu
    after_stats = await get_json(client, port, "stats")
    # This measurement itself costs two `stats` requests: negligible next to a second of samples.
    calls = after_stats["backend_calls"] - before_stats["backend_calls"]
    return 100 * cpu / elapsed, calls / elapsed


async def subscribers_scenario(count: int, port: int, seconds: float, server, client) -> tuple:
    sockets = []
    received = [0]

    def on_message(message):
        if message is not None:
            received[0] += 1

    for _ in range(count):
        request = HTTPRequest(f"ws://127.0.0.1:{port}/gpuscope/api/stream", headers={"Authorization": f"token {TOKEN}"})
        sockets.append(await websocket_connect(request, on_message_callback=on_message))
    await asyncio.sleep(1.5)  # let connection set-up settle out of the measurement
    received[0] = 0
    cpu, calls = await measure(server, client, port, seconds)
    for ws in sockets:
        ws.close()
    await asyncio.sleep(0.5)
    return cpu, calls, received[0] / seconds


async def polling_scenario(count: int, port: int, seconds: float, server, client) -> tuple:
    stop = asyncio.Event()
    answered = [0]

    async def poller(offset: float):
        since = (await get_json(client, port, "samples"))["last_seq"]
        await asyncio.sleep(offset)
        while not stop.is_set():
            body = await get_json(client, port, f"samples?since={since}")
            since = body["last_seq"]
            answered[0] += 1
            await asyncio.sleep(1.0)

    tasks = [asyncio.create_task(poller(i / count)) for i in range(count)]
    await asyncio.sleep(1.5)
    answered[0] = 0
    cpu, calls = await measure(server, client, port, seconds)
    rate = answered[0] / seconds
    stop.set()
    await asyncio.gather(*tasks)
    return cpu, calls, rate


async def load_table(seconds: float) -> None:
    async with running_server(max_clients=200) as (client, port, server):
        rows = []
        for count in (0, 1, 10, 100):
            rows.append(
                (f"{count} stream subscribers", *await subscribers_scenario(count, port, seconds, server, client))
            )
        rows.append(
            ("100 clients polling samples at 1 Hz", *await polling_scenario(100, port, seconds, server, client))
        )
    base_calls = rows[0][2]
    print(f"\nServer cost per viewer (replay backend, 1 Hz, {seconds:g} s each, {os.cpu_count()} cores)")
    print("(the replay makes one backend call per tick; NVML makes about 13 per GPU per tick, as flat)\n")
    print(
        f"| {'viewers':<38} | {'server CPU % of a core':>22} | {'backend calls/s':>15} | {'calls/s vs none':>15} | {'messages/s delivered':>20} |"
    )
    print(f"|{'-' * 40}|{'-' * 24}|{'-' * 17}|{'-' * 17}|{'-' * 22}|")
    for name, cpu, calls, delivered in rows:
        ratio = calls / base_calls if base_calls else float("nan")
        print(f"| {name:<38} | {cpu:>22.2f} | {calls:>15.2f} | {ratio:>14.2f}x | {delivered:>20.1f} |")


def memory_table(gpus: int = 8, hours: int = 24) -> None:
    from jupyterlab_gpuscope.monitor.backends import ReplayBackend
    from jupyterlab_gpuscope.monitor.backends.replay import bundled_trace
    from jupyterlab_gpuscope.monitor.sampler import Sampler

    # An 8-GPU trace: the two-H200 recording's GPUs repeated with new indices.
    lines = [json.loads(line) for line in bundled_trace("h200x2-workload.jsonl").read_text().splitlines()]
    copies = gpus // 2
    for record in lines:
        key = "devices" if record["type"] == "devices" else "gpus" if record["type"] == "sample" else None
        if key:
            record[key] = [dict(g, index=g["index"] + 2 * k) for k in range(copies) for g in record[key]]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as trace:
        trace.write("\n".join(json.dumps(r) for r in lines))
    print(f"\nResident memory, {gpus} GPUs at 1 Hz for {hours} simulated hours (sampler ticks driven directly)\n")
    print(
        f"| {'history kept':<22} | {'RSS at start MiB':>16} | {'after 1 h':>10} | {'after 12 h':>10} | {'after 24 h':>10} | {'samples held':>12} |"
    )
    print(f"|{'-' * 24}|{'-' * 18}|{'-' * 12}|{'-' * 12}|{'-' * 12}|{'-' * 14}|")
    process = psutil.Process()
    for history in (3600, 6 * 3600):
        now = [0.0]
        backend = ReplayBackend(trace.name, clock=lambda now=now: now[0])
        sampler = Sampler(
            backend, configured="replay", interval=1.0, history_seconds=history, clock=lambda now=now: now[0]
        )
        gc.collect()
        start = process.memory_info().rss / 2**20
        marks = {}
        for second in range(hours * 3600):
            now[0] = float(second)
            sampler.tick()
            if second + 1 in (3600, 12 * 3600, hours * 3600):
                gc.collect()
                marks[second + 1] = process.memory_info().rss / 2**20
        label = f"{history // 3600} h (default)" if history == 3600 else f"{history // 3600} h"
        print(
            f"| {label:<22} | {start:>16.1f} | {marks[3600]:>10.1f} | {marks[12 * 3600]:>10.1f} | {marks[hours * 3600]:>10.1f} | {len(sampler.buffer):>12} |"
        )
        sampler.stop()
        del sampler, backend
    os.unlink(trace.name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement time per scenario")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    asyncio.run(load_table(args.seconds))
    if not args.skip_memory:
        memory_table()


if __name__ == "__main__":
    main()

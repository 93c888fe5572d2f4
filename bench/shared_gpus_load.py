"""A classroom's load on one server: 200 concurrent clients on loopback for 60 s.

Half hold a stream open; half poll as a frontend without streams would: `samples?since=`
every second and `usage` every 5 s. Reports errors, the latency of `samples` and `usage`
(p50 / p99 / max), the server's CPU and its resident memory over the run (flat means no
growth per client or per request). Targets: no errors, p99 of `samples` under 50 ms,
RSS flat.

    python bench/shared_gpus_load.py [--clients 200] [--seconds 60]

The clients share this process's event loop, so their own scheduling delay is part of
the latency measured: the figures are an upper bound for the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

sys.path.insert(0, str(Path(__file__).parent))
from server_load import TOKEN, get_json, running_server  # noqa: E402

HEADERS = {"Authorization": f"token {TOKEN}"}


class Tally:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {"samples": [], "shared-gpus": []}
        self.errors: list[str] = []
        self.stream_messages = 0


async def timed_get(client: AsyncHTTPClient, port: int, path: str, tally: Tally, kind: str) -> dict | None:
    started = time.perf_counter()
    try:
        response = await client.fetch(f"http://127.0.0.1:{port}/gpuscope/api/{path}", headers=HEADERS)
    except Exception as error:  # every failure is counted, none stops the run
        tally.errors.append(f"{kind}: {error}")
        return None
    tally.latencies[kind].append(1000 * (time.perf_counter() - started))
    return json.loads(response.body)


async def poller(client, port: int, stop: asyncio.Event, tally: Tally, offset: float) -> None:
    await asyncio.sleep(offset)
    since, tick = 0, 0
    while not stop.is_set():
        body = await timed_get(client, port, f"samples?since={since}", tally, "samples")
        if body is not None:
            since = body["last_seq"]
        if tick % 5 == 0:
            await timed_get(client, port, "shared-gpus", tally, "shared-gpus")
        tick += 1
        await asyncio.sleep(1.0)


async def streamer(port: int, stop: asyncio.Event, tally: Tally) -> None:
    def on_message(message) -> None:
        if message is None:
            if not stop.is_set():
                tally.errors.append("stream: closed by the server")
        else:
            tally.stream_messages += 1

    request = HTTPRequest(f"ws://127.0.0.1:{port}/gpuscope/api/stream", headers=HEADERS)
    try:
        ws = await websocket_connect(request, on_message_callback=on_message)
    except Exception as error:
        tally.errors.append(f"stream: {error}")
        return
    await stop.wait()
    ws.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def run(clients: int, seconds: float) -> None:
    async with running_server(max_clients=clients) as (client, port, server):
        await get_json(client, port, "shared-gpus")
        tally, stop = Tally(), asyncio.Event()
        streams = clients // 2
        pollers = clients - streams
        tasks = [asyncio.create_task(streamer(port, stop, tally)) for _ in range(streams)]
        tasks += [asyncio.create_task(poller(client, port, stop, tally, i / pollers)) for i in range(pollers)]
        await asyncio.sleep(2)  # connections set up
        rss: list[tuple[float, float]] = []
        cpu_before = sum(server.cpu_times()[:2])
        started = time.monotonic()
        tally.latencies = {"samples": [], "shared-gpus": []}
        tally.stream_messages = 0
        while (elapsed := time.monotonic() - started) < seconds:
            rss.append((elapsed, server.memory_info().rss / 2**20))
            await asyncio.sleep(min(10.0, seconds - elapsed))
        rss.append((time.monotonic() - started, server.memory_info().rss / 2**20))
        cpu = 100 * (sum(server.cpu_times()[:2]) - cpu_before) / (time.monotonic() - started)
        stop.set()
        await asyncio.gather(*tasks)

    print(
        f"\n{clients} clients ({streams} streams, {pollers} polling samples at 1 Hz and usage every 5 s), "
        f"{seconds:g} s on loopback, replay backend at 1 Hz, {os.cpu_count()} cores\n"
    )
    print(f"| {'route':<8} | {'requests':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} |")
    print(f"|{'-' * 10}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 9}|")
    for kind, values in tally.latencies.items():
        print(
            f"| {kind:<8} | {len(values):>8} | {statistics.median(values):>7.1f} | "
            f"{percentile(values, 99):>7.1f} | {max(values):>7.1f} |"
        )
    print(
        f"\nstream messages delivered: {tally.stream_messages} "
        f"({tally.stream_messages / seconds / max(1, streams):.2f} per stream per second)"
    )
    print(f"errors: {len(tally.errors)}" + (f" (first: {tally.errors[0]})" if tally.errors else ""))
    print(f"server CPU: {cpu:.1f} % of one core")
    print("server RSS MiB over the run: " + ", ".join(f"{t:.0f} s {m:.1f}" for t, m in rss))
    print(f"RSS growth first to last: {rss[-1][1] - rss[0][1]:+.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    asyncio.run(run(args.clients, args.seconds))


if __name__ == "__main__":
    main()

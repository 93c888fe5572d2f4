"""A class of 20 students on one machine: the class hub of the tests (JupyterHub,
configurable-http-proxy, one real server per OS account with the replay backend and a
kernel holding memory, Debian's Prometheus scraping every 15 s), measured.

    python bench/hub_scale.py [--students 20] [--scrapes 200]

Prints one table: how fast the instructor's view answers (target: under 1 s), what one
scrape costs a student's server in CPU (gpuscope's scrape route beside jupyter_server's own
/metrics, the peer a Prometheus set-up scrapes without gpuscope), and the series
Prometheus keeps. Needs root, like `make test-hub` (it creates the accounts gs-bench01...).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from urllib.request import Request, urlopen

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from jupyterlab_gpuscope.tests.class_hub import INSTRUCTOR, ClassHub, api, missing_requirements  # noqa: E402


def timed(call, times: int) -> list[float]:
    seconds = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return seconds


def server_process(student: str) -> psutil.Process:
    for process in psutil.process_iter(["username", "cmdline"]):
        if process.info["username"] == student and "jupyterhub-singleuser" in " ".join(process.info["cmdline"] or []):
            return process
    raise LookupError(f"{student}'s server is not running")


def cpu_per_request(process: psutil.Process, url: str, token: str, count: int) -> float:
    """CPU seconds the server spends per request of `url`, less what it spends meanwhile
    when left alone (its sampler and checks)."""

    def cpu() -> float:
        times = process.cpu_times()
        return times.user + times.system

    start, began = cpu(), time.perf_counter()
    for _ in range(count):
        with urlopen(Request(url, headers={"Authorization": f"token {token}"}), timeout=30) as response:
            response.read()
    busy, wall = cpu() - start, time.perf_counter() - began
    start = cpu()
    time.sleep(wall)
    idle = cpu() - start
    return max(busy - idle, 0.0) / count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--scrapes", type=int, default=200, help="requests per route for the CPU figures")
    args = parser.parse_args()
    missing = missing_requirements()
    if missing:
        print("This benchmark needs: " + "; ".join(missing), file=sys.stderr)
        return 3
    students = [f"gs-bench{i:02d}" for i in range(1, args.students + 1)]
    hub = ClassHub(students=students, scrape_interval="15s", policy=False)
    started = time.perf_counter()
    try:
        hub.start()
        start_seconds = time.perf_counter() - started
        token = hub.token_for(INSTRUCTOR)
        view_url = f"{hub.url}/services/gpuscope/api/class"
        view = api(view_url, token)
        assert len(view["students"]) == len(students), "every student in the view"
        answers = timed(lambda: api(view_url, token), 20)
        scraper = (hub.folder / "scrape-token").read_text().strip()
        process = server_process(students[0])
        base = f"{hub.url}/user/{students[0]}"
        ours = cpu_per_request(process, f"{base}/gpuscope/metrics", scraper, args.scrapes)
        # jupyter_server's /metrics needs the server's own access: the tests' service token.
        peer = cpu_per_request(process, f"{base}/metrics", hub.test_token, args.scrapes)
        ours_text = urlopen(Request(f"{base}/gpuscope/metrics", headers={"Authorization": f"token {scraper}"})).read()
        peer_text = urlopen(Request(f"{base}/metrics", headers={"Authorization": f"token {hub.test_token}"})).read()

        def samples(text: bytes) -> int:
            return sum(1 for line in text.decode().splitlines() if line and not line.startswith("#"))

        series = float(hub.query('count({job="gpuscope"})')[0]["value"][1])
        head = hub.prometheus("status/tsdb")["headStats"]["numSeries"]
    finally:
        hub.stop()

    rows = [
        ("students' servers (one kernel each)", f"{len(students)}", ""),
        ("class hub up, every server scraped", f"{start_seconds:.0f} s", ""),
        ("instructor's view, median", f"{statistics.median(answers) * 1000:.0f} ms", "target < 1000 ms"),
        ("instructor's view, slowest of 20", f"{max(answers) * 1000:.0f} ms", ""),
        ("CPU per scrape: gpuscope/metrics", f"{ours * 1000:.2f} ms", f"{ours / peer:.2f} x the peer" if peer else ""),
        ("CPU per scrape: /metrics (jupyter_server, the peer)", f"{peer * 1000:.2f} ms", "1.00 x"),
        (
            "samples per scrape: gpuscope/metrics",
            f"{samples(ours_text)}",
            f"{samples(ours_text) / samples(peer_text):.2f} x the peer",
        ),
        ("samples per scrape: /metrics (the peer)", f"{samples(peer_text)}", "1.00 x"),
        ("series of the class in Prometheus", f"{series:.0f}", f"{series / len(students):.1f} per server"),
        ("Prometheus's head series in all", f"{head}", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'value':>10}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>10}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

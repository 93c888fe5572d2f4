"""On a real GPU: where the idle sampler's CPU goes (no viewer), tick by tick.

    python scripts/gpu_sampler_cost.py       (nvidia-ml-py)

Runs the sampler at 1 s over the NVML backend for 20 s on its own thread, as the server
does, then profiles 20 ticks of the backend's read; prints process CPU per second, the
sampler thread's, and the top functions by own time.
"""

import cProfile
import pstats
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from jupyterlab_gpuscope.monitor.backends import NvmlBackend  # noqa: E402
from jupyterlab_gpuscope.monitor.sampler import Sampler  # noqa: E402


def main() -> None:
    process = psutil.Process()
    sampler = Sampler(NvmlBackend(), configured="nvml", interval=1.0, history_seconds=3600)
    sampler.start()
    time.sleep(3)
    cpu0, t0, thread0 = sum(process.cpu_times()[:2]), time.monotonic(), sampler.thread_cpu_seconds
    time.sleep(20)
    elapsed = time.monotonic() - t0
    print(f"process CPU: {100 * (sum(process.cpu_times()[:2]) - cpu0) / elapsed:.2f} % of a core")
    print(f"sampler thread CPU: {100 * (sampler.thread_cpu_seconds - thread0) / elapsed:.2f} %")
    print("last sample cost (s):", sampler.last_cost_seconds, "ticks", sampler.ticks)
    sampler.stop()
    backend = NvmlBackend()
    backend.interval = 1.0
    backend.open()
    profile = cProfile.Profile()
    started = time.thread_time()
    profile.enable()
    for _ in range(20):
        backend.read()
    profile.disable()
    print(f"backend.read CPU per tick: {(time.thread_time() - started) / 20 * 1000:.2f} ms")
    pstats.Stats(profile).sort_stats("tottime").print_stats(12)
    backend.close()


if __name__ == "__main__":
    main()

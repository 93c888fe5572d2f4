"""On a real GPU: GPM beside the classic utilisation, NVLink, the topology, and what the slow
fields cost on the sampler's thread.

    python scripts/gpu_activity_and_topology.py OUT_DIR     (nvidia-ml-py; torch with CUDA)

Runs the NVML backend's sampler at 1 s while, in turn, nothing runs, a bf16 matmul loop runs,
and a loop of one tiny kernel at a time runs (classic utilisation calls that busy; GPM shows
how few SMs work). Writes OUT_DIR/monitor-check.json and prints a table.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import pynvml  # noqa: E402
from jupyterlab_gpuscope.monitor.backends import NvmlBackend  # noqa: E402

LOADS = {
    "idle": None,
    "bf16 matmul": "a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)\nwhile True: a @ a",
    "one tiny kernel at a time": "a = torch.ones(1, device='cuda')\nwhile True:\n    a.add_(1); torch.cuda.synchronize()",
}


def timed(fn, *args, repeat=20):
    start = time.perf_counter()
    for _ in range(repeat):
        try:
            fn(*args)
        except pynvml.NVMLError:
            pass
    return (time.perf_counter() - start) / repeat * 1000


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    backend = NvmlBackend()
    backend.interval = 1.0
    system = backend.open()
    result = {"devices": system.devices, "topology": system.topology, "loads": {}, "costs_ms": {}}
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    costs = result["costs_ms"]
    costs["pcie (2 calls)"] = timed(pynvml.nvmlDeviceGetPcieThroughput, handle, 0, repeat=10) + timed(
        pynvml.nvmlDeviceGetPcieThroughput, handle, 1, repeat=10
    )
    costs["nvlink field values"] = timed(
        pynvml.nvmlDeviceGetFieldValues, handle, [(138, 0xFFFFFFFF), (139, 0xFFFFFFFF)]
    )
    sample = pynvml.nvmlGpmSampleAlloc()
    costs["gpm sample"] = timed(pynvml.nvmlGpmSampleGet, handle, sample)
    pynvml.nvmlGpmSampleFree(sample)
    costs["utilization (classic)"] = timed(pynvml.nvmlDeviceGetUtilizationRates, handle)
    started = time.perf_counter()
    backend.read()
    costs["one whole read (slow fields due)"] = (time.perf_counter() - started) * 1000
    for name, code in LOADS.items():
        load = None
        if code:
            load = subprocess.Popen([sys.executable, "-c", "import torch\n" + code])
            time.sleep(6)
        readings = []
        for _ in range(4):
            started = time.perf_counter()
            gpu = backend.read().gpus[0]
            cost = (time.perf_counter() - started) * 1000
            readings.append({k: gpu[k] for k in ("util_gpu", "sm_util", "tensor_util", "dram_util", "nvlink_rx_kbs")})
            readings[-1]["read_ms"] = round(cost, 1)
            readings[-1]["why_no_nvlink"] = gpu["unavailable"].get("nvlink_rx_kbs")
            time.sleep(1)
        result["loads"][name] = readings
        if load:
            load.kill()
            load.wait()
    result["cadence_period_ticks"] = backend._cadence.period
    backend.close()
    (out / "monitor-check.json").write_text(json.dumps(result, indent=1, default=str))
    print("devices[0]: nvlink_links", system.devices[0]["nvlink_links"], "gpm", system.devices[0]["gpm_supported"])
    print("topology:", json.dumps(system.topology))
    print("costs (ms):", {k: round(v, 2) for k, v in costs.items()}, "period", result["cadence_period_ticks"])
    print("| load | classic util % | SM active % (GPM) | tensor % | DRAM % | read ms |")
    print("|---|---|---|---|---|---|")
    for name, readings in result["loads"].items():
        last = readings[-1]
        print(
            f"| {name} | {last['util_gpu']} | {last['sm_util']} | {last['tensor_util']} | {last['dram_util']} | {last['read_ms']} |"
        )
    print("NVLink:", result["loads"]["idle"][-1]["why_no_nvlink"])


if __name__ == "__main__":
    main(Path(sys.argv[1]))

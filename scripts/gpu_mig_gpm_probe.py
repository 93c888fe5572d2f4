"""On a real GPU, read-only: what NVML says of MIG and GPM, for the synthetic MIG trace
and the MIG backend. Changes nothing (MIG mode and instances stay as they are).

    python scripts/gpu_mig_gpm_probe.py OUT_DIR      (nvidia-ml-py installed)

Writes OUT_DIR/mig-probe.json: MIG mode, the MIG device slots, the GPU instance profiles
the driver offers (name, slices, memory), process fields, and GPM support with one
whole-GPU GPM reading (SM, tensor and DRAM activity over one second of a matmul loop
when torch is present, else idle).
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pynvml


def attempt(fn, *args):
    try:
        return {"value": fn(*args)}
    except pynvml.NVMLError as error:
        return {"error": str(error), "code": error.value}
    except Exception as error:  # a binding without the function, say
        return {"error": f"{type(error).__name__}: {error}"}


def plain(value):
    """ctypes structures as dicts, bytes as text."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if hasattr(value, "_fields_"):
        return {name: plain(getattr(value, name)) for name, *_ in value._fields_}
    if hasattr(value, "value") and type(value).__module__ == "ctypes":
        return value.value
    if hasattr(value, "__dict__") and not callable(value):  # pynvml's nvmlFriendlyObject
        return {key: plain(item) for key, item in vars(value).items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (int, float, str)) or value is None:
        return value
    return repr(value)


GPM_METRICS = {
    "sm_util": pynvml.NVML_GPM_METRIC_SM_UTIL,
    "sm_occupancy": pynvml.NVML_GPM_METRIC_SM_OCCUPANCY,
    "any_tensor_util": pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL,
    "dram_bw_util": pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL,
    "graphics_util": pynvml.NVML_GPM_METRIC_GRAPHICS_UTIL,
}


def gpm_reading(handle, seconds=1.0):
    first, second = pynvml.nvmlGpmSampleAlloc(), pynvml.nvmlGpmSampleAlloc()
    try:
        pynvml.nvmlGpmSampleGet(handle, first)
        time.sleep(seconds)
        pynvml.nvmlGpmSampleGet(handle, second)
        request = pynvml.c_nvmlGpmMetricsGet_t()
        request.version = pynvml.NVML_GPM_METRICS_GET_VERSION
        request.numMetrics = len(GPM_METRICS)
        request.sample1, request.sample2 = first, second
        for i, metric in enumerate(GPM_METRICS.values()):
            request.metrics[i].metricId = metric
        pynvml.nvmlGpmMetricsGet(request)
        return {
            name: {"value": request.metrics[i].value, "nvml_return": request.metrics[i].nvmlReturn}
            for i, name in enumerate(GPM_METRICS)
        }
    finally:
        pynvml.nvmlGpmSampleFree(first)
        pynvml.nvmlGpmSampleFree(second)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pynvml.nvmlInit()
    result = {"driver": pynvml.nvmlSystemGetDriverVersion(), "devices": []}
    for index in range(pynvml.nvmlDeviceGetCount()):
        h = pynvml.nvmlDeviceGetHandleByIndex(index)
        device = {
            "index": index,
            "name": plain(pynvml.nvmlDeviceGetName(h)),
            "uuid": plain(pynvml.nvmlDeviceGetUUID(h)),
            "mig_mode": plain(attempt(pynvml.nvmlDeviceGetMigMode, h)),
            "max_mig_devices": plain(attempt(pynvml.nvmlDeviceGetMaxMigDeviceCount, h)),
            "is_mig_handle": plain(attempt(pynvml.nvmlDeviceIsMigDeviceHandle, h)),
            "mig_slot_0": plain(attempt(pynvml.nvmlDeviceGetMigDeviceHandleByIndex, h, 0)),
            "gpu_instance_id_of_parent": plain(attempt(pynvml.nvmlDeviceGetGpuInstanceId, h)),
            "memory_v2": plain(attempt(pynvml.nvmlDeviceGetMemoryInfo, h, pynvml.nvmlMemory_v2)),
            "profiles": {},
            "gpm_support": plain(attempt(pynvml.nvmlGpmQueryDeviceSupport, h)),
            "gpm_mig_sample_gi0": None,
        }
        for name in dir(pynvml):
            if name.startswith("NVML_GPU_INSTANCE_PROFILE_") and name != "NVML_GPU_INSTANCE_PROFILE_COUNT":
                device["profiles"][name] = plain(
                    attempt(pynvml.nvmlDeviceGetGpuInstanceProfileInfo, h, getattr(pynvml, name))
                )
        sample = pynvml.nvmlGpmSampleAlloc()
        device["gpm_mig_sample_gi0"] = plain(attempt(pynvml.nvmlGpmMigSampleGet, h, 0, sample))
        pynvml.nvmlGpmSampleFree(sample)
        device["gpm_idle"] = plain(attempt(gpm_reading, h))
        load = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import torch, time\na = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)\n"
                "print('ready', flush=True)\nend = time.time() + 6\nwhile time.time() < end: a @ a",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        if load.stdout.readline().strip() == "ready":
            time.sleep(1)
            device["gpm_matmul"] = plain(attempt(gpm_reading, h))
            device["classic_util_matmul"] = plain(attempt(pynvml.nvmlDeviceGetUtilizationRates, h))
            procs = attempt(pynvml.nvmlDeviceGetComputeRunningProcesses, h)
            device["process_fields"] = plain(procs)
        load.kill()
        result["devices"].append(device)
    pynvml.nvmlShutdown()
    (out / "mig-probe.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1)[:6000])


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""A fault-injecting stand-in for the `pynvml` module.

It answers the functions NvmlBackend calls with H200-like values, and can make any
function raise an NVML error (for one device or all), lose a GPU, fail nvmlInit, or
hang until released, so tests drive the real backend code through every failure.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pynvml

GiB = 1024**3


class _GpmMetric:
    def __init__(self) -> None:
        self.metricId = 0
        self.nvmlReturn = 0
        self.value = 0.0


class _GpmMetricsGet:
    """The fields of pynvml.c_nvmlGpmMetricsGet_t that NvmlBackend sets and reads."""

    def __init__(self) -> None:
        self.version = 0
        self.numMetrics = 0
        self.sample1 = self.sample2 = None
        self.metrics = [_GpmMetric() for _ in range(8)]


class FakeNVML:
    c_nvmlGpmMetricsGet_t = _GpmMetricsGet
    NVML_GPM_METRICS_GET_VERSION = pynvml.NVML_GPM_METRICS_GET_VERSION

    def __init__(self, gpus: int = 1) -> None:
        self.count = gpus
        self.memory_used = [1 * GiB] * gpus
        self.util = [0] * gpus
        self.processes: dict[int, list[tuple[int, int]]] = {i: [] for i in range(gpus)}
        #: What nvmlDeviceGetProcessUtilization answers, per device: (pid, sm %). Some
        #: drivers give host PIDs here while the process lists are translated (HAMi-core #112).
        self.utilisation: dict[int, list[tuple[int, int]]] = {i: [] for i in range(gpus)}
        #: MIG devices per GPU (a GPU listed here is in MIG mode): dicts with gi, ci,
        #: profile, memory_total, memory_used, sms and gpm ({"sm_util": %, ...}).
        self.mig: dict[int, list[dict[str, Any]]] = {}
        #: False: a GPU without GPM (A100, A30), as nvmlGpmQueryDeviceSupport says.
        self.gpm_supported = True
        #: Whole-GPU GPM activity per device ({"sm_util": %, "tensor_util": %, "dram_util": %}).
        self.gpm: dict[int, dict[str, float]] = {
            i: {"sm_util": 0.0, "tensor_util": 0.0, "dram_util": 0.0} for i in range(gpus)
        }
        #: NVLink per device: {"links": how many, "down": numbers of those that are down
        #: (optional), "tx_kib": n, "rx_kib": n} (cumulative counters, as NVML keeps them);
        #: a device not here has no NVLink.
        self.nvlink: dict[int, dict[str, Any]] = {}
        #: NVML's field-value clock (µs): one second passes between two reads.
        self.field_clock_us = 0
        self.faults: dict[tuple[str, int | None], int] = {}
        self.hangs: dict[str, threading.Event] = {}
        self.lost: set[int] = set()
        self.init_error: int | None = None
        self.initialised = False
        self.calls = 0
        self.has_memory_v2 = True
        #: What nvmlDeviceGetCudaComputeCapability answers (12.1: a GB10, whose GPU uses
        #: the system's memory).
        self.cc = (9, 0)
        self.calls_by_name: dict[str, int] = {}

    # ---- fault controls ------------------------------------------------------------

    def fail(self, function: str, code: int, device: int | None = None) -> None:
        self.faults[(function, device)] = code

    def hang(self, function: str) -> threading.Event:
        """Make `function` block until the returned event is set."""
        self.hangs[function] = release = threading.Event()
        return release

    # ---- the pynvml surface ----------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        answer = _ANSWERS.get(name)
        if answer is None:
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            self.calls += 1
            self.calls_by_name[name] = self.calls_by_name.get(name, 0) + 1
            if name in self.hangs:
                self.hangs[name].wait()
            if name == "nvmlInit":
                if self.init_error is not None:
                    raise pynvml.NVMLError(self.init_error)
                self.initialised = True
                return None
            if name == "nvmlShutdown":
                self.initialised = False
                return None
            if name == "nvmlDeviceGetMemoryInfo" and len(args) > 1 and args[1] and not self.has_memory_v2:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
            if not self.initialised:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
            device = args[0].index if args and isinstance(args[0], SimpleNamespace) else None
            if device in self.lost:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
            code = self.faults.get((name, device), self.faults.get((name, None)))
            if code is not None:
                raise pynvml.NVMLError(code)
            return answer(self, *args)

        return call


RESERVED = 512 * 1024**2  # what the driver keeps for itself


def _memory(fake: FakeNVML, h: SimpleNamespace, version: int | None = None) -> SimpleNamespace:
    """v2 reports `used` without the driver's reserve, as nvidia-smi does; v1 includes it."""
    if getattr(h, "mig", None) is not None:
        slot = _slot(fake, h)
        return SimpleNamespace(
            total=slot["memory_total"], used=slot["memory_used"], free=slot["memory_total"] - slot["memory_used"]
        )
    total = 141 * GiB
    used = fake.memory_used[h.index]
    if version == pynvml.nvmlMemory_v2:
        return SimpleNamespace(total=total, reserved=RESERVED, used=used, free=total - used - RESERVED)
    if version is not None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
    return SimpleNamespace(total=total, used=used + RESERVED, free=total - used - RESERVED)


def _slot(fake: FakeNVML, h: SimpleNamespace) -> dict[str, Any]:
    return fake.mig[h.index][h.mig]


def _mig_handle(fake: FakeNVML, h: SimpleNamespace, slot: int) -> SimpleNamespace:
    if slot >= len(fake.mig.get(h.index, [])):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)
    return SimpleNamespace(index=h.index, mig=slot)


def _utilisation(fake: FakeNVML, h: SimpleNamespace) -> SimpleNamespace:
    if fake.mig.get(h.index):  # as on a real GPU in MIG mode
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    return SimpleNamespace(gpu=fake.util[h.index], memory=fake.util[h.index] // 2)


def _nvlink_state(fake: FakeNVML, h: SimpleNamespace, link: int) -> int:
    links = fake.nvlink.get(h.index)
    if links is None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
    if link >= links["links"]:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
    return 0 if link in links.get("down", ()) else 1


def _nvlink_remote(fake: FakeNVML, h: SimpleNamespace, link: int) -> SimpleNamespace:
    """GPUs whose NVLinks are listed reach each other over all of them; a link that is down
    has no remote end."""
    if link in fake.nvlink.get(h.index, {}).get("down", ()):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
    return SimpleNamespace(busId=f"00000000:00:0{6 + (1 - h.index if fake.count == 2 else h.index)}.0")


def _field_values(fake: FakeNVML, h: SimpleNamespace, fields: list) -> list[SimpleNamespace]:
    fake.field_clock_us += 1_000_000
    counters = {
        pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX: "tx_kib",
        pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX: "rx_kib",
    }
    answer = []
    for field in fields:
        field_id = field[0] if isinstance(field, tuple) else field
        links = fake.nvlink.get(h.index)
        key = counters.get(field_id)
        ok = links is not None and key is not None
        answer.append(
            SimpleNamespace(
                fieldId=field_id,
                nvmlReturn=pynvml.NVML_SUCCESS if ok else pynvml.NVML_ERROR_NOT_SUPPORTED,
                valueType=3,
                value=SimpleNamespace(ullVal=links[key] if ok else 0),
                timestamp=fake.field_clock_us,
            )
        )
    return answer


def _gpm_gpu_sample(fake: FakeNVML, h: SimpleNamespace, sample: dict) -> None:
    sample["values"] = dict(fake.gpm.get(h.index, {}))


def _gpm_sample(fake: FakeNVML, h: SimpleNamespace, gpu_instance_id: int, sample: dict) -> None:
    [slot] = [m for m in fake.mig.get(h.index, []) if m["gi"] == gpu_instance_id] or [None]
    if slot is None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
    sample["values"] = dict(slot.get("gpm", {}))


_GPM_NAMES = {pynvml.NVML_GPM_METRIC_SM_UTIL: "sm_util", pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL: "tensor_util"}
_GPM_NAMES[pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL] = "dram_util"


def _gpm_metrics(fake: FakeNVML, request: _GpmMetricsGet) -> _GpmMetricsGet:
    """The second sample's values stand for the activity between the two."""
    if not (request.sample1 and request.sample2):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
    for metric in request.metrics[: request.numMetrics]:
        value = request.sample2["values"].get(_GPM_NAMES.get(metric.metricId))
        metric.nvmlReturn = pynvml.NVML_SUCCESS if value is not None else pynvml.NVML_ERROR_NOT_SUPPORTED
        metric.value = value or 0.0
    return request


_ANSWERS = {
    "nvmlInit": lambda f: None,
    "nvmlShutdown": lambda f: None,
    "nvmlDeviceGetCount": lambda f: f.count,
    "nvmlDeviceGetHandleByIndex": lambda f, i: SimpleNamespace(index=i),
    "nvmlSystemGetDriverVersion": lambda f: "580.159.04",
    "nvmlSystemGetCudaDriverVersion": lambda f: 13000,
    "nvmlSystemGetNVMLVersion": lambda f: "13.580.159.04",
    "nvmlDeviceGetName": lambda f, h: (
        f"NVIDIA H200 MIG {_slot(f, h)['profile']}" if getattr(h, "mig", None) is not None else "NVIDIA H200"
    ),
    "nvmlDeviceGetUUID": lambda f, h: (
        f"MIG-fake-{h.index}-{_slot(f, h)['gi']}" if getattr(h, "mig", None) is not None else f"GPU-fake-{h.index}"
    ),
    "nvmlDeviceGetCudaComputeCapability": lambda f, h: f.cc,
    "nvmlDeviceGetMemoryInfo": _memory,
    "nvmlDeviceGetEnforcedPowerLimit": lambda f, h: 700000,
    "nvmlDeviceGetMigMode": lambda f, h: [1, 1] if f.mig.get(h.index) else [0, 0],
    "nvmlDeviceGetMaxMigDeviceCount": lambda f, h: 7 if f.mig.get(h.index) else 0,
    "nvmlDeviceGetMigDeviceHandleByIndex": _mig_handle,
    "nvmlDeviceGetGpuInstanceId": lambda f, h: _slot(f, h)["gi"],
    "nvmlDeviceGetComputeInstanceId": lambda f, h: _slot(f, h)["ci"],
    "nvmlDeviceGetAttributes": lambda f, h: SimpleNamespace(multiprocessorCount=_slot(f, h)["sms"]),
    "nvmlGpmQueryDeviceSupport": lambda f, h: SimpleNamespace(isSupportedDevice=int(f.gpm_supported)),
    "nvmlGpmSampleAlloc": lambda f: {"values": None},
    "nvmlGpmSampleFree": lambda f, sample: None,
    "nvmlGpmMigSampleGet": _gpm_sample,
    "nvmlGpmSampleGet": _gpm_gpu_sample,
    "nvmlDeviceGetNvLinkState": _nvlink_state,
    "nvmlDeviceGetFieldValues": _field_values,
    "nvmlDeviceGetNvLinkRemotePciInfo": _nvlink_remote,
    "nvmlDeviceGetTopologyCommonAncestor": lambda f, h1, h2: pynvml.NVML_TOPOLOGY_NODE,
    "nvmlDeviceGetP2PStatus": lambda f, h1, h2, caps: pynvml.NVML_P2P_STATUS_OK,
    "nvmlDeviceGetCpuAffinity": lambda f, h, words: [0xFFFF << (16 * h.index)] + [0] * (words - 1),
    "nvmlDeviceGetNumaNodeId": lambda f, h: h.index,
    "nvmlGpmMetricsGet": _gpm_metrics,
    "nvmlDeviceGetMaxPcieLinkGeneration": lambda f, h: 5,
    "nvmlDeviceGetMaxPcieLinkWidth": lambda f, h: 16,
    "nvmlDeviceGetMaxClockInfo": lambda f, h, clock: 1980 if clock == pynvml.NVML_CLOCK_SM else 3201,
    "nvmlDeviceGetPciInfo": lambda f, h: SimpleNamespace(busId=f"00000000:00:0{6 + h.index}.0"),
    "nvmlDeviceGetUtilizationRates": _utilisation,
    "nvmlDeviceGetTemperature": lambda f, h, sensor: 41,
    "nvmlDeviceGetPowerUsage": lambda f, h: 123456,
    "nvmlDeviceGetClockInfo": lambda f, h, clock: 1755 if clock == pynvml.NVML_CLOCK_SM else 3201,
    "nvmlDeviceGetPerformanceState": lambda f, h: 0,
    "nvmlDeviceGetPcieThroughput": lambda f, h, counter: 1000 + counter,
    "nvmlDeviceGetCurrentClocksEventReasons": lambda f, h: 0x4 | 0x20,
    "nvmlDeviceGetFanSpeed": lambda f, h: 30,
    "nvmlDeviceGetTotalEccErrors": lambda f, h, kind, counter: 0,
    "nvmlDeviceGetProcessUtilization": lambda f, h, since: [
        SimpleNamespace(pid=pid, smUtil=sm, memUtil=sm // 2, encUtil=0, decUtil=0, timeStamp=since + 1)
        for pid, sm in f.utilisation.get(h.index, [])
    ],
    # (pid, memory) or, on a GPU in MIG mode, (pid, memory, gpu instance, compute instance)
    "nvmlDeviceGetComputeRunningProcesses": lambda f, h: [
        SimpleNamespace(
            pid=entry[0],
            usedGpuMemory=entry[1],
            gpuInstanceId=entry[2] if len(entry) > 2 else 0xFFFFFFFF,
            computeInstanceId=entry[3] if len(entry) > 3 else 0xFFFFFFFF,
        )
        for entry in f.processes.get(h.index, [])
    ],
}

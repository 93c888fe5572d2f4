"""The NVML backend: live readings through nvidia-ml-py (`pynvml`).

Every query goes through `_query`, so one field's NotSupported, NoPermission or
GPU-is-lost becomes a null with a reason instead of an exception (the pattern of
nvitop's `nvmlQuery(..., default=NA)`). Fields a device reports as NotSupported are
not asked again until the backend reopens.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable

import pynvml

from ..readings import device_entry, gpu_entry, mig_entry, mig_instance, unreadable_gpu
from .base import Backend, BackendLost, BackendUnavailable, Reading, SystemInfo

# Errors that mean the whole library or driver is gone, not one field.
_FATAL = {
    pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
    pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
}

# Plain words for the errors users meet; others fall back to NVML's own string.
_REASONS = {
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND: "libnvidia-ml.so was not found: no NVIDIA driver is installed here",
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED: "the NVIDIA driver is not loaded",
    pynvml.NVML_ERROR_UNINITIALIZED: "NVML is not initialised (the driver went away)",
    pynvml.NVML_ERROR_NOT_SUPPORTED: "not supported on this GPU",
    pynvml.NVML_ERROR_NO_PERMISSION: "no permission to read it",
    pynvml.NVML_ERROR_GPU_IS_LOST: "the GPU is lost (it fell off the bus or needs a reset)",
    pynvml.NVML_ERROR_TIMEOUT: "NVML timed out",
    pynvml.NVML_ERROR_FUNCTION_NOT_FOUND: "this driver's NVML lacks the function",
}


def nvml_reason(error: BaseException) -> str:
    """A user-facing reason for an NVML error (or any other exception)."""
    if isinstance(error, pynvml.NVMLError):
        if error.value in _REASONS:
            return _REASONS[error.value]
        try:
            return str(error)
        except Exception:  # nvmlErrorString itself can fail when the library is gone
            return f"NVML error {error.value}"
    return f"{type(error).__name__}: {error}"


class _GpuLost(Exception):
    pass


#: NVML's "no instance" id in a process's gpuInstanceId / computeInstanceId (not in MIG mode).
NO_INSTANCE = 0xFFFFFFFF

#: GPM metrics read per MIG instance, by the sample field they fill (nvml.h nvmlGpmMetricId_t).
GPM_FIELDS = {
    "sm_util": pynvml.NVML_GPM_METRIC_SM_UTIL,
    "tensor_util": pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL,
    "dram_util": pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL,
}
GPM_NEEDS_HOPPER = (
    "n/a: NVML gives no utilisation per MIG instance on this GPU; per-instance activity comes from "
    "GPM metrics, which need Hopper or newer (A100 and A30 have none)"
)


class _MigDevice:
    """One MIG device of a GPU in MIG mode: its handle, ids, and the last GPM sample."""

    def __init__(self, handle: Any, uuid: str | None, gpu_instance_id: int | None) -> None:
        self.handle = handle
        self.uuid = uuid
        self.gpu_instance_id = gpu_instance_id
        self.gpm_sample: Any = None


class NvmlBackend(Backend):
    name = "nvml"
    live = True

    def __init__(self, nvml: ModuleType | Any = pynvml) -> None:
        super().__init__()
        # Tests pass a fault-injecting fake with the same functions.
        self._nvml = nvml
        self._handles: list[Any] = []
        self._unsupported: list[set[str]] = []
        self._open = False
        # nvmlMemory_v2 when the driver has it: its `used` leaves out the memory the
        # driver reserves, as nvidia-smi does (v1 counts it as used).
        self._memory_version: int | None = None
        # Device index -> its MIG devices (GPUs in MIG mode only), and whether GPM works there.
        self._mig: dict[int, list[_MigDevice]] = {}
        self._gpm: dict[int, str | None] = {}

    # ---- lifecycle -------------------------------------------------------------

    def open(self) -> SystemInfo:
        nv = self._nvml
        try:
            self._call(nv.nvmlInit)
            self._open = True
            count = self._call(nv.nvmlDeviceGetCount)
            self._handles = [self._call(nv.nvmlDeviceGetHandleByIndex, i) for i in range(count)]
        except pynvml.NVMLError as error:
            self.close()
            raise BackendUnavailable(f"NVML could not start: {nvml_reason(error)}") from error
        except OSError as error:  # a broken libnvidia-ml that fails to load
            self.close()
            raise BackendUnavailable(f"NVML could not start: {error}") from error
        self._unsupported = [set() for _ in self._handles]
        self._memory_version = self._probe_memory_v2()
        self.memory_excludes_reserve = self._memory_version is not None
        system: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        self._field(system, reasons, "driver_version", nv.nvmlSystemGetDriverVersion, index=None)
        self._field(system, reasons, "cuda_driver_version", nv.nvmlSystemGetCudaDriverVersion, index=None)
        self._field(system, reasons, "nvml_version", nv.nvmlSystemGetNVMLVersion, index=None)
        cuda = system.get("cuda_driver_version")
        return SystemInfo(
            driver_version=_text(system.get("driver_version")),
            cuda_driver_version=f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None,
            nvml_version=_text(system.get("nvml_version")),
            devices=[self._static(i, h) for i, h in enumerate(self._handles)],
        )

    def _probe_memory_v2(self) -> int | None:
        if not self._handles:
            return None
        try:
            self._call(self._nvml.nvmlDeviceGetMemoryInfo, self._handles[0], pynvml.nvmlMemory_v2)
        except Exception:  # an older driver: fall back to v1
            return None
        return pynvml.nvmlMemory_v2

    def close(self) -> None:
        for devices in self._mig.values():
            for mig in devices:
                self._free_gpm(mig)
        self._mig, self._gpm = {}, {}
        if self._open:
            self._open = False
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # shutting down a driver that is gone must not raise
                pass
        self._handles = []

    # ---- readings ----------------------------------------------------------------

    def read(self) -> Reading:
        gpus = []
        processes: dict[int, list[dict[str, Any]]] = {}
        process_errors: dict[int, str] = {}
        for index, handle in enumerate(self._handles):
            try:
                gpu, procs, procs_error = self._read_device(index, handle)
            except _GpuLost as lost:
                gpus.append(unreadable_gpu(index, "lost", str(lost)))
                continue
            gpus.append(gpu)
            processes[index] = procs
            if procs_error:
                process_errors[index] = procs_error
        return Reading(gpus=gpus, processes=processes, process_errors=process_errors)

    def _read_device(self, index: int, handle: Any) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
        nv = self._nvml
        values: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        field = self._field
        memory = field(values, reasons, "memory", nv.nvmlDeviceGetMemoryInfo, handle, self._memory_version, index=index)
        if memory is not None:
            values["memory_used"], values["memory_total"] = memory.used, memory.total
        else:
            reasons["memory_used"] = reasons["memory_total"] = reasons.pop("memory")
        util = field(values, reasons, "util", nv.nvmlDeviceGetUtilizationRates, handle, index=index)
        if util is not None:
            values["util_gpu"], values["util_mem"] = util.gpu, util.memory
        else:
            reasons["util_gpu"] = reasons["util_mem"] = reasons.pop("util")
        field(values, reasons, "temp_c", nv.nvmlDeviceGetTemperature, handle, pynvml.NVML_TEMPERATURE_GPU, index=index)
        field(values, reasons, "power_mw", nv.nvmlDeviceGetPowerUsage, handle, index=index)
        field(values, reasons, "sm_clock", nv.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_SM, index=index)
        field(values, reasons, "mem_clock", nv.nvmlDeviceGetClockInfo, handle, pynvml.NVML_CLOCK_MEM, index=index)
        field(values, reasons, "pstate", nv.nvmlDeviceGetPerformanceState, handle, index=index)
        field(
            values,
            reasons,
            "pcie_tx_kbs",
            nv.nvmlDeviceGetPcieThroughput,
            handle,
            pynvml.NVML_PCIE_UTIL_TX_BYTES,
            index=index,
        )
        field(
            values,
            reasons,
            "pcie_rx_kbs",
            nv.nvmlDeviceGetPcieThroughput,
            handle,
            pynvml.NVML_PCIE_UTIL_RX_BYTES,
            index=index,
        )
        field(values, reasons, "throttle", nv.nvmlDeviceGetCurrentClocksEventReasons, handle, index=index)
        field(values, reasons, "fan", nv.nvmlDeviceGetFanSpeed, handle, index=index)
        field(
            values,
            reasons,
            "ecc_uncorrected",
            nv.nvmlDeviceGetTotalEccErrors,
            handle,
            pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
            pynvml.NVML_VOLATILE_ECC,
            index=index,
        )
        procs_reason: dict[str, str] = {}
        procs = field({}, procs_reason, "processes", nv.nvmlDeviceGetComputeRunningProcesses, handle, index=index)
        listed = [
            {
                "pid": p.pid,
                "used_memory": p.usedGpuMemory,
                "gpu_instance_id": _instance_id(getattr(p, "gpuInstanceId", None)),
                "compute_instance_id": _instance_id(getattr(p, "computeInstanceId", None)),
            }
            for p in procs or []
        ]
        mig = [self._read_mig(index, handle, m) for m in self._mig[index]] if index in self._mig else None
        return gpu_entry(index, values, reasons, mig), listed, procs_reason.get("processes")

    def _read_mig(self, index: int, parent: Any, mig: _MigDevice) -> dict[str, Any]:
        """One MIG instance: its memory, and its activity from two GPM samples (the last
        tick's and this one's), where the GPU has GPM."""
        nv = self._nvml
        values: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        name = f"mig{mig.gpu_instance_id}"
        # v1 for MIG devices: the v2 struct is documented for whole GPUs.
        memory = self._field(values, reasons, name, nv.nvmlDeviceGetMemoryInfo, mig.handle, index=index)
        if memory is not None:
            values["memory_used"], values["memory_total"] = memory.used, memory.total
        else:
            reasons["memory_used"] = reasons["memory_total"] = reasons.pop(name)
        why_not = self._gpm.get(index)
        if why_not is None:
            why_not = self._read_gpm(index, parent, mig, values)
        if why_not is not None:
            for field in GPM_FIELDS:
                reasons[field] = why_not
        return mig_entry(mig.uuid, mig.gpu_instance_id, values, reasons)

    def _read_gpm(self, index: int, parent: Any, mig: _MigDevice, values: dict[str, Any]) -> str | None:
        nv = self._nvml
        try:
            sample = self._call(nv.nvmlGpmSampleAlloc)
            try:
                self._call(nv.nvmlGpmMigSampleGet, parent, mig.gpu_instance_id, sample)
            except Exception:
                self._call(nv.nvmlGpmSampleFree, sample)
                raise
        except pynvml.NVMLError as error:
            if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                raise _GpuLost(nvml_reason(error)) from error
            return f"GPM could not be read: {nvml_reason(error)}"
        previous, mig.gpm_sample = mig.gpm_sample, sample
        if previous is None:
            return "activity needs two GPM readings: shown from the next sample"
        try:
            request = nv.c_nvmlGpmMetricsGet_t()
            request.version = nv.NVML_GPM_METRICS_GET_VERSION
            request.numMetrics = len(GPM_FIELDS)
            request.sample1, request.sample2 = previous, sample
            for slot, metric in enumerate(GPM_FIELDS.values()):
                request.metrics[slot].metricId = metric
            self._call(nv.nvmlGpmMetricsGet, request)
        except pynvml.NVMLError as error:
            return f"GPM could not be read: {nvml_reason(error)}"
        finally:
            self._call(nv.nvmlGpmSampleFree, previous)
        for slot, field in enumerate(GPM_FIELDS):
            if request.metrics[slot].nvmlReturn == pynvml.NVML_SUCCESS:
                values[field] = round(float(request.metrics[slot].value), 2)
        return None

    def _free_gpm(self, mig: _MigDevice) -> None:
        if mig.gpm_sample is not None:
            try:
                self._nvml.nvmlGpmSampleFree(mig.gpm_sample)
            except Exception:  # the driver may be gone already
                pass
            mig.gpm_sample = None

    def _static(self, index: int, handle: Any) -> dict[str, Any]:
        nv = self._nvml
        values: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        try:
            self._field(values, reasons, "name", nv.nvmlDeviceGetName, handle, index=index)
            self._field(values, reasons, "uuid", nv.nvmlDeviceGetUUID, handle, index=index)
            cc = self._field(values, reasons, "cc", nv.nvmlDeviceGetCudaComputeCapability, handle, index=index)
            memory = self._field(
                values, reasons, "memory", nv.nvmlDeviceGetMemoryInfo, handle, self._memory_version, index=index
            )
            self._field(values, reasons, "power_limit_mw", nv.nvmlDeviceGetEnforcedPowerLimit, handle, index=index)
            mig = self._field(values, reasons, "mig", nv.nvmlDeviceGetMigMode, handle, index=index)
            self._field(values, reasons, "pcie_max_gen", nv.nvmlDeviceGetMaxPcieLinkGeneration, handle, index=index)
            self._field(values, reasons, "pcie_max_width", nv.nvmlDeviceGetMaxPcieLinkWidth, handle, index=index)
            self._field(
                values, reasons, "max_sm_clock", nv.nvmlDeviceGetMaxClockInfo, handle, pynvml.NVML_CLOCK_SM, index=index
            )
            self._field(
                values,
                reasons,
                "max_mem_clock",
                nv.nvmlDeviceGetMaxClockInfo,
                handle,
                pynvml.NVML_CLOCK_MEM,
                index=index,
            )
            pci = self._field(values, reasons, "pci", nv.nvmlDeviceGetPciInfo, handle, index=index)
            instances = self._open_mig(index, handle) if mig and mig[0] else []
        except _GpuLost as lost:
            return {"index": index, "status": "lost", "reason": str(lost), "unavailable": {}}
        rename = {"cc": "compute_capability", "memory": "memory_total", "mig": "mig_mode", "pci": "bus_id"}
        for old, new in rename.items():
            if old in reasons:
                reasons[new] = reasons.pop(old)
        return device_entry(
            index,
            name=_text(values.get("name")),
            uuid=_text(values.get("uuid")),
            cc=cc,
            memory_total=memory.total if memory is not None else None,
            power_limit_mw=values.get("power_limit_mw"),
            mig_mode=mig,
            pcie_max_gen=values.get("pcie_max_gen"),
            pcie_max_width=values.get("pcie_max_width"),
            max_sm_clock=values.get("max_sm_clock"),
            max_mem_clock=values.get("max_mem_clock"),
            bus_id=_text(pci.busId) if pci is not None else None,
            unavailable=reasons,
            mig_instances=instances,
        )

    def _open_mig(self, index: int, handle: Any) -> list[dict[str, Any]]:
        """The MIG devices of a GPU in MIG mode (their `devices` entries); keeps their
        handles for the readings, and whether GPM can measure them."""
        nv = self._nvml
        values: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        slots = self._field(values, reasons, "mig_slots", nv.nvmlDeviceGetMaxMigDeviceCount, handle, index=index)
        support = self._field(values, reasons, "gpm", nv.nvmlGpmQueryDeviceSupport, handle, index=index)
        self._gpm[index] = None if support is not None and support.isSupportedDevice else GPM_NEEDS_HOPPER
        devices, entries = [], []
        for slot in range(slots or 0):
            try:
                mig = self._call(nv.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
            except pynvml.NVMLError as error:
                if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                    raise _GpuLost(nvml_reason(error)) from error
                continue  # an empty slot (NotFound)
            info: dict[str, Any] = {}
            self._field(info, reasons, "mig_name", nv.nvmlDeviceGetName, mig, index=index)
            self._field(info, reasons, "mig_uuid", nv.nvmlDeviceGetUUID, mig, index=index)
            self._field(info, reasons, "gi", nv.nvmlDeviceGetGpuInstanceId, mig, index=index)
            self._field(info, reasons, "ci", nv.nvmlDeviceGetComputeInstanceId, mig, index=index)
            self._field(info, reasons, "sms", nv.nvmlDeviceGetAttributes, mig, index=index)
            memory = self._field(info, reasons, "mig_memory", nv.nvmlDeviceGetMemoryInfo, mig, index=index)
            uuid = _text(info.get("mig_uuid"))
            devices.append(_MigDevice(mig, uuid, info.get("gi")))
            attributes = info.get("sms")
            entries.append(
                mig_instance(
                    uuid=uuid,
                    name=_text(info.get("mig_name")),
                    gpu_instance_id=info.get("gi"),
                    compute_instance_id=info.get("ci"),
                    memory_total=memory.total if memory is not None else None,
                    multiprocessor_count=getattr(attributes, "multiprocessorCount", None),
                )
            )
        self._mig[index] = devices
        return entries

    # ---- the one place NVML is called ----------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        self.calls += 1
        return fn(*args)

    def _field(
        self, values: dict, reasons: dict, name: str, fn: Callable[..., Any], *args: Any, index: int | None
    ) -> Any:
        """Call fn; store its value in values[name] or a reason in reasons[name].

        Raises _GpuLost for GPU-is-lost, BackendLost when the driver is gone.
        """
        skip = self._unsupported[index] if index is not None else set()
        if name in skip:
            reasons[name] = _REASONS[pynvml.NVML_ERROR_NOT_SUPPORTED]
            return None
        try:
            value = self._call(fn, *args)
        except pynvml.NVMLError as error:
            if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                raise _GpuLost(nvml_reason(error)) from error
            if error.value in _FATAL:
                raise BackendLost(f"NVML stopped working: {nvml_reason(error)}") from error
            if error.value == pynvml.NVML_ERROR_NOT_SUPPORTED:
                skip.add(name)
            reasons[name] = nvml_reason(error)
            return None
        except Exception as error:  # a binding bug or odd driver must cost one field only
            reasons[name] = nvml_reason(error)
            return None
        values[name] = value
        return value


def _instance_id(value: Any) -> int | None:
    return value if isinstance(value, int) and value != NO_INSTANCE else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value

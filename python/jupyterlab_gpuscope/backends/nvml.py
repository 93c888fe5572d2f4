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

from ..readings import device_entry, gpu_entry, unreadable_gpu
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
        listed = [{"pid": p.pid, "used_memory": p.usedGpuMemory} for p in procs or []]
        return gpu_entry(index, values, reasons), listed, procs_reason.get("processes")

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
        )

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


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value

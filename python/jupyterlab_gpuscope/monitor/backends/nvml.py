"""The NVML backend: live readings through nvidia-ml-py (`pynvml`).

Every query goes through `_query`, so one field's NotSupported, NoPermission or
GPU-is-lost becomes a null with a reason instead of an exception (the pattern of
nvitop's `nvmlQuery(..., default=NA)`). Fields a device reports as NotSupported are
not asked again until the backend reopens.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any, Callable

import psutil
import pynvml

from ...kernel import knowledge
from ..readings import device_entry, gpu_entry, mig_entry, mig_instance, unreadable_gpu
from .base import Backend, BackendLost, BackendUnavailable, GpuLost, Reading, SystemInfo
from .cadence import SlowFieldCadence
from .gpm import GPM_FIELDS, GPM_WINDOW, NEEDS_HOPPER, GpmReader
from .topology import read_topology

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


#: NVML's "no instance" id in a process's gpuInstanceId / computeInstanceId (not in MIG mode).
NO_INSTANCE = 0xFFFFFFFF

#: NVLink data throughput counters (cumulative KiB, all links: scope UINT_MAX), as nvitop
#: and nvdashboard read them.
NVLINK_ALL_LINKS = 0xFFFFFFFF
NVLINK_FIELDS = {
    "nvlink_tx_kbs": pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
    "nvlink_rx_kbs": pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX,
}
NO_NVLINK = "n/a: this GPU has no active NVLink (it talks over PCIe only)"
_VALUE_ATTRIBUTE = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal"}


class _MigDevice:
    """One MIG device of a GPU in MIG mode: its handle and ids."""

    def __init__(self, handle: Any, uuid: str | None, gpu_instance_id: int | None) -> None:
        self.handle = handle
        self.uuid = uuid
        self.gpu_instance_id = gpu_instance_id


class _Slow:
    """One GPU's slow fields (cadence.py): the last values read, and NVLink's last counters."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.reasons: dict[str, str] = {}
        self.nvlink: tuple[int, dict[str, int]] | None = None  # (timestamp µs, KiB per field)


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
        #: GPUs that use the system's memory (Jetson, GB10): NVML reports none for them.
        self._shared_memory: set[int] = set()
        # Device index -> its MIG devices (GPUs in MIG mode only); why GPM cannot measure it
        # (None: it can); its active NVLinks (their link numbers); its slow fields as last read.
        self._mig: dict[int, list[_MigDevice]] = {}
        self._gpm_missing: dict[int, str | None] = {}
        self._nvlinks: dict[int, list[int]] = {}
        self._slow: dict[int, _Slow] = {}
        self._gpm_reader = GpmReader(nvml, self._call)
        self._cadence = SlowFieldCadence(self.interval)
        self._ticks = 0
        #: Device index -> the newest per-process utilisation sample's time (µs) read so far.
        self._process_util_since: dict[int, int] = {}

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
        devices = [self._static(i, h) for i, h in enumerate(self._handles)]
        return SystemInfo(
            driver_version=_text(system.get("driver_version")),
            cuda_driver_version=f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None,
            nvml_version=_text(system.get("nvml_version")),
            devices=devices,
            topology=self._topology(devices),
        )

    def _topology(self, devices: list[dict[str, Any]]) -> dict[str, Any] | None:
        try:
            return read_topology(
                self._nvml,
                self._call,
                self._handles,
                [d.get("bus_id") for d in devices],
                [self._nvlinks.get(i, []) for i in range(len(self._handles))],
            )
        except Exception:  # the links are a help; a driver that refuses them must not stop the sampler
            return None

    def _probe_memory_v2(self) -> int | None:
        if not self._handles:
            return None
        try:
            self._call(self._nvml.nvmlDeviceGetMemoryInfo, self._handles[0], pynvml.nvmlMemory_v2)
        except Exception:  # an older driver: fall back to v1
            return None
        return pynvml.nvmlMemory_v2

    def close(self) -> None:
        self._gpm_reader.close()
        self._mig, self._gpm_missing, self._nvlinks, self._slow = {}, {}, {}, {}
        if self._open:
            self._open = False
            try:
                self._nvml.nvmlShutdown()
            except Exception:  # shutting down a driver that is gone must not raise
                pass
        self._handles = []

    # ---- readings ----------------------------------------------------------------

    def read(self) -> Reading:
        self._ticks += 1
        self._cadence.interval = self.interval
        gpus = []
        processes: dict[int, list[dict[str, Any]]] = {}
        process_errors: dict[int, str] = {}
        for index, handle in enumerate(self._handles):
            try:
                gpu, procs, procs_error = self._read_device(index, handle)
            except GpuLost as lost:
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
        elif index in self._shared_memory:
            # NVML has no memory of its own for this GPU: it uses the system's.
            reasons.pop("memory")
            system = psutil.virtual_memory()
            values["memory_used"], values["memory_total"] = system.total - system.available, system.total
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
        self._slow_fields(index, handle, values, reasons)
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
        if listed:
            self._add_process_utilisation(index, handle, listed)
        mig = [self._read_mig(index, handle, m) for m in self._mig[index]] if index in self._mig else None
        return gpu_entry(index, values, reasons, mig), listed, procs_reason.get("processes")

    def _add_process_utilisation(self, index: int, handle: Any, listed: list[dict[str, Any]]) -> None:
        """Each process's SM percentage since the last read (NVML's per-process samples), as
        `sm_util`; None where NVML has no sample for it or cannot tell."""
        since = self._process_util_since.get(index, 0)
        util = self._nvml.nvmlDeviceGetProcessUtilization
        samples = self._field({}, {}, "process_util", util, handle, since, index=index)
        by_pid: dict[int, int] = {}
        for sample in samples or []:
            by_pid[sample.pid] = max(by_pid.get(sample.pid, 0), sample.smUtil)
            since = max(since, sample.timeStamp)
        self._process_util_since[index] = since
        for proc in listed:
            proc["sm_util"] = by_pid.get(proc["pid"])

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
        why_not = self._gpm_missing.get(index)
        if why_not is None:
            why_not = self._gpm_reader.read(index, parent, mig.gpu_instance_id, values)
        if why_not is not None:
            for name in (*GPM_FIELDS, GPM_WINDOW):
                reasons[name] = why_not
        return mig_entry(mig.uuid, mig.gpu_instance_id, values, reasons)

    def _slow_fields(self, index: int, handle: Any, values: dict[str, Any], reasons: dict[str, str]) -> None:
        """PCIe and NVLink throughput, and GPM activity: read when cadence.py says this GPU
        is due, otherwise the values last read."""
        slow = self._slow.setdefault(index, _Slow())
        if self._cadence.due(self._ticks, index, self.watched):
            started = time.perf_counter()
            slow.values, slow.reasons = {}, {}
            nv = self._nvml
            for name, counter in (
                ("pcie_tx_kbs", pynvml.NVML_PCIE_UTIL_TX_BYTES),
                ("pcie_rx_kbs", pynvml.NVML_PCIE_UTIL_RX_BYTES),
            ):
                self._field(
                    slow.values, slow.reasons, name, nv.nvmlDeviceGetPcieThroughput, handle, counter, index=index
                )
            self._read_nvlink(index, handle, slow)
            if index in self._mig:
                why_not = "in MIG mode: GPM activity is shown per MIG instance"
            else:
                why_not = self._gpm_missing.get(index, NEEDS_HOPPER)
                if why_not is None:
                    why_not = self._gpm_reader.read(index, handle, None, slow.values)
            if why_not is not None:
                for name in (*GPM_FIELDS, GPM_WINDOW):
                    slow.reasons[name] = why_not
            self._cadence.measured(index, time.perf_counter() - started)
        values.update(slow.values)
        reasons.update(slow.reasons)

    def _read_nvlink(self, index: int, handle: Any, slow: _Slow) -> None:
        """NVLink rx/tx (KiB/s) from NVML's cumulative counters, between two reads."""
        if not self._nvlinks.get(index):
            for name in NVLINK_FIELDS:
                slow.reasons[name] = NO_NVLINK
            return
        try:
            answer = self._call(
                self._nvml.nvmlDeviceGetFieldValues, handle, [(f, NVLINK_ALL_LINKS) for f in NVLINK_FIELDS.values()]
            )
        except pynvml.NVMLError as error:
            if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                raise GpuLost(nvml_reason(error)) from error
            for name in NVLINK_FIELDS:
                slow.reasons[name] = nvml_reason(error)
            return
        counters, stamp = {}, None
        for name, value in zip(NVLINK_FIELDS, answer):
            if value.nvmlReturn != pynvml.NVML_SUCCESS:
                slow.reasons[name] = nvml_reason(pynvml.NVMLError(value.nvmlReturn))
                continue
            counters[name] = getattr(value.value, _VALUE_ATTRIBUTE.get(value.valueType, "ullVal"))
            stamp = value.timestamp
        previous, slow.nvlink = slow.nvlink, (stamp, counters) if stamp is not None else None
        for name, count in counters.items():
            if previous is None or name not in previous[1] or stamp <= previous[0]:
                slow.reasons[name] = "throughput needs two readings: shown from the next one"
            else:
                slow.values[name] = round((count - previous[1][name]) * 1e6 / (stamp - previous[0]))

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
            self._gpm_missing[index] = None if self._gpm_reader.supported(handle) else NEEDS_HOPPER
            self._nvlinks[index] = self._active_nvlinks(index, handle)
        except GpuLost as lost:
            return {"index": index, "status": "lost", "reason": str(lost), "unavailable": {}}
        shared = memory is None and cc is not None and knowledge.unified_memory(f"{cc[0]}.{cc[1]}")
        if shared:
            self._shared_memory.add(index)
            reasons.pop("memory", None)
        rename = {"cc": "compute_capability", "memory": "memory_total", "mig": "mig_mode", "pci": "bus_id"}
        for old, new in rename.items():
            if old in reasons:
                reasons[new] = reasons.pop(old)
        return device_entry(
            index,
            name=_text(values.get("name")),
            uuid=_text(values.get("uuid")),
            cc=cc,
            memory_total=memory.total if memory is not None else psutil.virtual_memory().total if shared else None,
            power_limit_mw=values.get("power_limit_mw"),
            mig_mode=mig,
            pcie_max_gen=values.get("pcie_max_gen"),
            pcie_max_width=values.get("pcie_max_width"),
            max_sm_clock=values.get("max_sm_clock"),
            max_mem_clock=values.get("max_mem_clock"),
            bus_id=_text(pci.busId) if pci is not None else None,
            unavailable=reasons,
            mig_instances=instances,
            memory_shared=bool(shared),
            nvlink_links=len(self._nvlinks[index]) if index in self._nvlinks else None,
            gpm_supported=self._gpm_missing.get(index) is None,
        )

    def _active_nvlinks(self, index: int, handle: Any) -> list[int]:
        """The numbers of the GPU's NVLinks that are up (none on a GPU without NVLink): a
        link down between two up ones is skipped, not the end of the list."""
        active = []
        for link in range(pynvml.NVML_NVLINK_MAX_LINKS):
            try:
                state = self._call(self._nvml.nvmlDeviceGetNvLinkState, handle, link)
            except pynvml.NVMLError as error:
                if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                    raise GpuLost(nvml_reason(error)) from error
                break  # NotSupported (no NVLink) or InvalidArgument (past the last link)
            except Exception:  # a binding without the function
                break
            if state:
                active.append(link)
        return active

    def _open_mig(self, index: int, handle: Any) -> list[dict[str, Any]]:
        """The MIG devices of a GPU in MIG mode (their `devices` entries); keeps their
        handles for the readings, and whether GPM can measure them."""
        nv = self._nvml
        values: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        slots = self._field(values, reasons, "mig_slots", nv.nvmlDeviceGetMaxMigDeviceCount, handle, index=index)
        devices, entries = [], []
        for slot in range(slots or 0):
            try:
                mig = self._call(nv.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
            except pynvml.NVMLError as error:
                if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                    raise GpuLost(nvml_reason(error)) from error
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

        Raises GpuLost for GPU-is-lost, BackendLost when the driver is gone.
        """
        skip = self._unsupported[index] if index is not None else set()
        if name in skip:
            reasons[name] = _REASONS[pynvml.NVML_ERROR_NOT_SUPPORTED]
            return None
        try:
            value = self._call(fn, *args)
        except pynvml.NVMLError as error:
            if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                raise GpuLost(nvml_reason(error)) from error
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

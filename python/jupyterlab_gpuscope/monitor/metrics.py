"""GPU gauges in jupyter_server's Prometheus `/metrics` endpoint.

Read at scrape time from the sampler's latest reading and the shared-GPU watcher's last
check: a scrape never calls the GPU backend. Every series carries the backend's name,
so readings from a replay are never mistaken for a live GPU. Per-kernel and per-user
series exist only when the admin turns them on (`c.GPUScope.metrics_per_kernel`), and
they name the user and the kernels only when the admin allows that too
(`c.GPUScope.metrics_names`): /metrics is readable by anyone the server lets in, and by
anyone at all where jupyter_server's `authenticate_prometheus` is off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from ..shared_gpus.watcher import SharedGPUsWatcher
    from .sampler import Sampler

#: (metric name, help, sample field, scale to the metric's unit)
DEVICE_GAUGES = (
    ("gpuscope_gpu_memory_used_bytes", "GPU memory in use, in bytes.", "memory_used", 1),
    ("gpuscope_gpu_memory_total_bytes", "GPU memory in all, in bytes.", "memory_total", 1),
    ("gpuscope_gpu_utilization_ratio", "Fraction of time a kernel ran on the GPU (0 to 1).", "util_gpu", 0.01),
    ("gpuscope_gpu_power_watts", "GPU power draw, in watts.", "power_mw", 0.001),
    ("gpuscope_gpu_temperature_celsius", "GPU temperature, in degrees Celsius.", "temp_c", 1),
    ("gpuscope_gpu_sm_activity_ratio", "Fraction of the SMs busy (NVML GPM; Hopper and newer).", "sm_util", 0.01),
    ("gpuscope_gpu_tensor_activity_ratio", "Fraction of time a tensor pipe was busy (GPM).", "tensor_util", 0.01),
    (
        "gpuscope_gpu_activity_window_seconds",
        "Seconds the GPM activity ratios average over (10 s while no viewer is open).",
        "gpm_window_s",
        1,
    ),
    ("gpuscope_gpu_dram_bandwidth_ratio", "Fraction of DRAM bandwidth used (GPM).", "dram_util", 0.01),
    ("gpuscope_gpu_nvlink_rx_bytes_per_second", "NVLink receive throughput, all links.", "nvlink_rx_kbs", 1024),
    ("gpuscope_gpu_nvlink_tx_bytes_per_second", "NVLink transmit throughput, all links.", "nvlink_tx_kbs", 1024),
)


#: The labels that name a GPU on every series about one.
GPU_LABELS = ["gpu", "gpu_uuid", "node"]


class GPUScopeCollector(Collector):
    def __init__(
        self,
        sampler: Sampler,
        watcher: SharedGPUsWatcher,
        *,
        per_kernel: bool,
        user: str,
        names: bool = False,
        node: str = "",
    ) -> None:
        self.sampler = sampler
        self.watcher = watcher
        self.per_kernel = per_kernel
        self.user = user
        #: Whether series may carry the user's name and kernel ids, names and notebooks.
        self.names = names
        #: The machine this server runs on, as the class's view names it.
        self.node = node

    def collect(self) -> Iterator[Metric]:
        backend = self.sampler.backend.name
        live = GaugeMetricFamily(
            "gpuscope_backend_live",
            "1 when readings come from a live GPU, 0 for a replay or when no GPU can be read.",
            labels=["backend"],
        )
        live.add_metric([backend], 1.0 if self.sampler.status()["live"] else 0.0)
        yield live
        devices = {d["index"]: d for d in self.sampler.status()["devices"]}
        yield from self._device_gauges(backend, devices)
        shutdowns = CounterMetricFamily(
            "gpuscope_idle_kernel_shutdowns",
            "Kernels holding GPU memory that gpuscope shut down (the idle policy or an instructor).",
        )
        shutdowns.add_metric([], self.watcher.shutdown_count)
        yield shutdowns
        if self.per_kernel:
            yield from self._user_gauges(backend, devices)

    def _gpu_labels(self, index: int, devices: dict[int, dict[str, Any]]) -> list[str]:
        """gpu, gpu_uuid and node: a GPU named the same way by every server on its node."""
        return [str(index), (devices.get(index) or {}).get("uuid") or "", self.node]

    def _device_gauges(self, backend: str, devices: dict[int, dict[str, Any]]) -> Iterator[Metric]:
        latest = self.sampler.latest
        gpus = latest["gpus"] if latest and self.sampler.status()["status"] == "ok" else []
        for metric, text, field, scale in DEVICE_GAUGES:
            family = GaugeMetricFamily(metric, text, labels=[*GPU_LABELS, "name", "backend"])
            for gpu in gpus:
                value = gpu.get(field)
                if value is not None:  # an unreadable field has no series, not a zero
                    name = (devices.get(gpu["index"]) or {}).get("name") or ""
                    family.add_metric([*self._gpu_labels(gpu["index"], devices), name, backend], value * scale)
            yield family
        instance_labels = [*GPU_LABELS, "mig_instance", "mig_profile", "backend"]
        used = GaugeMetricFamily(
            "gpuscope_mig_memory_used_bytes",
            "GPU memory in use on each MIG instance, in bytes.",
            labels=instance_labels,
        )
        total = GaugeMetricFamily(
            "gpuscope_mig_memory_total_bytes", "GPU memory of each MIG instance, in bytes.", labels=instance_labels
        )
        for gpu in gpus:
            instances = {i["uuid"]: i for i in (devices.get(gpu["index"]) or {}).get("mig_instances") or []}
            for reading in gpu.get("mig") or []:
                profile = (instances.get(reading["uuid"]) or {}).get("profile") or ""
                labels = [*self._gpu_labels(gpu["index"], devices), reading["uuid"] or "", profile, backend]
                if reading.get("memory_used") is not None:
                    used.add_metric(labels, reading["memory_used"])
                if reading.get("memory_total") is not None:
                    total.add_metric(labels, reading["memory_total"])
        yield used
        yield total

    def _instance(self, index: int, gpu_instance_id: int | None, devices: dict[int, dict[str, Any]]) -> list[str]:
        """mig_instance and mig_profile of a GPU instance; empty on a GPU not in MIG mode."""
        for instance in (devices.get(index) or {}).get("mig_instances") or []:
            if gpu_instance_id is not None and instance["gpu_instance_id"] == gpu_instance_id:
                return [instance["uuid"] or "", instance["profile"] or ""]
        return ["", ""]

    def _user_gauges(self, backend: str, devices: dict[int, dict[str, Any]]) -> Iterator[Metric]:
        """Kernels are told apart by `kernel`, a digest of the id that cannot be used to
        reach the kernel; `kernel_id`, `kernel_name`, `notebook` and `user` only with names
        allowed."""
        named = ["kernel_id", "kernel_name", "notebook", "user"] if self.names else []
        labels = [*GPU_LABELS, "mig_instance", "mig_profile", "kernel", *named, "backend"]
        memory = GaugeMetricFamily(
            "gpuscope_kernel_gpu_memory_bytes",
            "GPU memory held by each kernel of this server, in bytes.",
            labels=labels,
        )
        busy = GaugeMetricFamily(
            "gpuscope_kernel_sm_utilization_ratio",
            "Fraction of the GPU's SMs each kernel's processes used since the last sample (NVML).",
            labels=labels,
        )
        idle = GaugeMetricFamily(
            "gpuscope_kernel_idle_seconds",
            "Seconds each kernel holding GPU memory has been idle (0 while it runs).",
            labels=labels,
        )
        for entry in self.watcher.kernel_usage:
            kernel = entry["kernel"]
            identity = [kernel.id, kernel.name, kernel.notebook_path or "", self.user] if self.names else []
            series = [
                *self._gpu_labels(entry["gpu"], devices),
                *self._instance(entry["gpu"], entry["gpu_instance_id"], devices),
                kernel.digest,
                *identity,
                backend,
            ]
            memory.add_metric(series, entry["used_memory"])
            idle.add_metric(series, entry["idle_seconds"])
            if entry["sm_util"] is not None:
                busy.add_metric(series, min(entry["sm_util"], 100) / 100)
        yield memory
        yield busy
        yield idle
        user_labels = [*GPU_LABELS, "mig_instance", "mig_profile", *(["user"] if self.names else []), "backend"]
        user = GaugeMetricFamily(
            "gpuscope_user_gpu_memory_bytes",
            "GPU memory held by this server's user (all their processes), in bytes.",
            labels=user_labels,
        )
        limit = GaugeMetricFamily(
            "gpuscope_user_gpu_memory_limit_bytes",
            "The soft limit on this user's GPU memory, in bytes (per MIG instance on a GPU in MIG mode).",
            labels=user_labels,
        )
        who = [self.user] if self.names else []
        for gpu in (self.watcher.latest or {}).get("gpus", []):
            places = [(i["uuid"] or "", i["profile"] or "", i["mine"], i["limit"]) for i in gpu["instances"]]
            for instance, profile, mine, cap in places or [("", "", gpu["mine"], gpu["limit"])]:
                series = [*self._gpu_labels(gpu["index"], devices), instance, profile, *who, backend]
                user.add_metric(series, mine)
                if cap is not None:
                    limit.add_metric(series, cap)
        yield user
        yield limit


_registered: GPUScopeCollector | None = None


def register(collector: GPUScopeCollector) -> None:
    """Serve `collector` in /metrics, replacing the previous server's (tests start many)."""
    global _registered
    unregister()
    REGISTRY.register(collector)
    _registered = collector


def unregister() -> None:
    global _registered
    if _registered is not None:
        REGISTRY.unregister(_registered)
        _registered = None

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

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

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


class GPUScopeCollector(Collector):
    def __init__(
        self, sampler: Sampler, watcher: SharedGPUsWatcher, *, per_kernel: bool, user: str, names: bool = False
    ) -> None:
        self.sampler = sampler
        self.watcher = watcher
        self.per_kernel = per_kernel
        self.user = user
        #: Whether series may carry the user's name and kernel ids and names.
        self.names = names

    def collect(self) -> Iterator[Metric]:
        backend = self.sampler.backend.name
        live = GaugeMetricFamily(
            "gpuscope_backend_live",
            "1 when readings come from a live GPU, 0 for a replay or when no GPU can be read.",
            labels=["backend"],
        )
        live.add_metric([backend], 1.0 if self.sampler.status()["live"] else 0.0)
        yield live
        yield from self._device_gauges(backend)
        shutdowns = CounterMetricFamily(
            "gpuscope_idle_kernel_shutdowns", "Idle kernels holding GPU memory that gpuscope shut down."
        )
        shutdowns.add_metric([], self.watcher.shutdown_count)
        yield shutdowns
        if self.per_kernel:
            yield from self._user_gauges(backend)

    def _device_gauges(self, backend: str) -> Iterator[Metric]:
        latest = self.sampler.latest
        names = {d["index"]: d.get("name") or "" for d in self.sampler.status()["devices"]}
        gpus = latest["gpus"] if latest and self.sampler.status()["status"] == "ok" else []
        for metric, text, field, scale in DEVICE_GAUGES:
            family = GaugeMetricFamily(metric, text, labels=["gpu", "name", "backend"])
            for gpu in gpus:
                value = gpu.get(field)
                if value is not None:  # an unreadable field has no series, not a zero
                    family.add_metric([str(gpu["index"]), names.get(gpu["index"], ""), backend], value * scale)
            yield family

    def _user_gauges(self, backend: str) -> Iterator[Metric]:
        """Kernels are told apart by `kernel`, a digest of the id that cannot be used to
        reach the kernel; `kernel_id`, `kernel_name` and `user` only with names allowed."""
        named = ["kernel_id", "kernel_name", "user"] if self.names else []
        kernels = GaugeMetricFamily(
            "gpuscope_kernel_gpu_memory_bytes",
            "GPU memory held by each kernel of this server, in bytes.",
            labels=["gpu", "kernel", *named, "backend"],
        )
        names = {k.id: k.name for k in self.watcher.kernels}
        for kernel_id, per_gpu in self.watcher.kernel_memory.items():
            identity = [kernel_id, names.get(kernel_id, ""), self.user] if self.names else []
            for gpu, size in per_gpu.items():
                kernels.add_metric([str(gpu), kernel_digest(kernel_id), *identity, backend], size)
        yield kernels
        user = GaugeMetricFamily(
            "gpuscope_user_gpu_memory_bytes",
            "GPU memory held by this server's user (all their processes), in bytes.",
            labels=["gpu", *(["user"] if self.names else []), "backend"],
        )
        for gpu in (self.watcher.latest or {}).get("gpus", []):
            user.add_metric([str(gpu["index"]), *([self.user] if self.names else []), backend], gpu["mine"])
        yield user


def kernel_digest(kernel_id: str) -> str:
    """A short stable label for a kernel that does not reveal its id."""
    return hashlib.sha256(kernel_id.encode()).hexdigest()[:12]


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

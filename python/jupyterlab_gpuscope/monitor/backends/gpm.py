"""NVML's GPU Performance Monitoring (GPM) metrics: what the GPU is really doing.

NVML's classic utilisation says only that some kernel ran during the sample period (one
small kernel reads as 100 %). GPM (Hopper and newer, no DCGM needed) gives the fraction of
SMs busy, of time a tensor pipe was busy, and of DRAM bandwidth used, between two samples.
`GpmReader` keeps the last sample per GPU (or per MIG GPU instance) and turns each new one
into those three figures. Called only from the sampler's thread.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pynvml

from .base import GpuLost

#: The sample fields GPM fills, by nvml.h's nvmlGpmMetricId_t.
GPM_FIELDS = {
    "sm_util": pynvml.NVML_GPM_METRIC_SM_UTIL,
    "tensor_util": pynvml.NVML_GPM_METRIC_ANY_TENSOR_UTIL,
    "dram_util": pynvml.NVML_GPM_METRIC_DRAM_BW_UTIL,
}
#: The seconds between the two GPM readings the figures average over: the sampler's
#: interval while someone watches, longer (10 s) while no one does, so a reader must know it.
GPM_WINDOW = "gpm_window_s"
NEEDS_HOPPER = (
    "n/a: GPM metrics (SM, tensor and DRAM activity) need a Hopper or newer GPU; NVML's classic "
    "utilisation is all this GPU gives"
)
FIRST_SAMPLE = "activity needs two GPM readings: shown from the next one"


class GpmReader:
    def __init__(self, nvml: Any, call: Callable[..., Any]) -> None:
        self._nvml = nvml
        self._call = call  # the backend's counted call
        self._samples: dict[tuple[int, int | None], Any] = {}
        self._stamps: dict[tuple[int, int | None], float] = {}

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def supported(self, handle: Any) -> bool:
        try:
            return bool(self._call(self._nvml.nvmlGpmQueryDeviceSupport, handle).isSupportedDevice)
        except Exception:  # an older driver without GPM, or a GPU without it
            return False

    def read(self, index: int, handle: Any, gpu_instance_id: int | None, values: dict[str, Any]) -> str | None:
        """Fill `values` with the GPM fields since the last read of this GPU (or MIG
        instance); return why they are missing, or None."""
        nv = self._nvml
        try:
            sample = self._call(nv.nvmlGpmSampleAlloc)
            try:
                if gpu_instance_id is None:
                    self._call(nv.nvmlGpmSampleGet, handle, sample)
                else:
                    self._call(nv.nvmlGpmMigSampleGet, handle, gpu_instance_id, sample)
            except Exception:
                self._call(nv.nvmlGpmSampleFree, sample)
                raise
        except pynvml.NVMLError as error:
            if error.value == pynvml.NVML_ERROR_GPU_IS_LOST:
                raise GpuLost(str(error)) from error
            return f"GPM could not be read: {error}"
        key = (index, gpu_instance_id)
        previous, self._samples[key] = self._samples.get(key), sample
        started, self._stamps[key] = self._stamps.get(key), self._now()
        if previous is None:
            return FIRST_SAMPLE
        try:
            request = nv.c_nvmlGpmMetricsGet_t()
            request.version = nv.NVML_GPM_METRICS_GET_VERSION
            request.numMetrics = len(GPM_FIELDS)
            request.sample1, request.sample2 = previous, sample
            for slot, metric in enumerate(GPM_FIELDS.values()):
                request.metrics[slot].metricId = metric
            self._call(nv.nvmlGpmMetricsGet, request)
        except pynvml.NVMLError as error:
            return f"GPM could not be read: {error}"
        finally:
            self._call(nv.nvmlGpmSampleFree, previous)
        for slot, name in enumerate(GPM_FIELDS):
            if request.metrics[slot].nvmlReturn == pynvml.NVML_SUCCESS:
                values[name] = round(float(request.metrics[slot].value), 2)
        if started is not None:
            values[GPM_WINDOW] = round(self._stamps[key] - started, 2)
        return None

    def close(self) -> None:
        for sample in self._samples.values():
            try:
                self._nvml.nvmlGpmSampleFree(sample)
            except Exception:  # the driver may be gone already
                pass
        self._samples = {}

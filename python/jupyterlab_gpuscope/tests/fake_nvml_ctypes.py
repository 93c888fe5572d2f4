"""A stand-in for libnvidia-ml as ctypes calls it (for kernel/live.py): one H100 whose
figures move with each read, this kernel's process and one other holding memory, GPM.

In a test kernel: `from jupyterlab_gpuscope.tests.fake_nvml_ctypes import install;
install(kernel_bytes=...)` makes the live view read it instead of the driver."""

from __future__ import annotations

import os

GiB = 2**30
NAME = b"NVIDIA H100 80GB HBM3"
UUID = b"GPU-031b88b1-b0a8-7d8e-14fb-cfbbef6fc8e6"
TOTAL = 80 * GiB


class FakeCtypesNVML:
    def __init__(self, kernel_bytes: int = 3 * GiB, other_bytes: int = 5 * GiB, kernel_pid: int | None = None) -> None:
        """kernel_pid: the PID listed as the kernel's (default: this process's)."""
        self.kernel_pid = kernel_pid
        self.kernel_bytes = kernel_bytes
        self.other_bytes = other_bytes
        self.reads = 0
        self.samples_alive: set[int] = set()
        self._next_sample = 1
        self.initialised = 0

    def nvmlInit_v2(self):
        self.initialised += 1
        return 0

    def nvmlShutdown(self):
        self.initialised -= 1
        return 0

    def nvmlDeviceGetCount_v2(self, ref):
        ref._obj.value = 1
        return 0

    def nvmlDeviceGetHandleByIndex_v2(self, index, ref):
        ref._obj.value = index + 1
        return 0

    def nvmlDeviceGetName(self, handle, buffer, size):
        buffer.value = NAME
        return 0

    def nvmlDeviceGetUUID(self, handle, buffer, size):
        buffer.value = UUID
        return 0

    def nvmlDeviceGetMemoryInfo(self, handle, memory):
        self.reads += 1
        used = self.kernel_bytes + self.other_bytes + 512 * 2**20
        memory[0], memory[1], memory[2] = TOTAL, TOTAL - used, used
        return 0

    def nvmlDeviceGetUtilizationRates(self, handle, ref):
        ref._obj.gpu, ref._obj.memory = min(10 * self.reads, 100), 20
        return 0

    def nvmlDeviceGetTemperature(self, handle, sensor, ref):
        ref._obj.value = 41
        return 0

    def nvmlDeviceGetPowerUsage(self, handle, ref):
        ref._obj.value = 312_000
        return 0

    def nvmlDeviceGetComputeRunningProcesses_v3(self, handle, count_ref, infos):
        processes = [(self.kernel_pid or os.getpid(), self.kernel_bytes), (1, self.other_bytes)]
        if count_ref._obj.value < len(processes):
            count_ref._obj.value = len(processes)
            return 7  # NVML_ERROR_INSUFFICIENT_SIZE
        for i, (pid, used) in enumerate(processes):
            infos[i].pid, infos[i].usedGpuMemory = pid, used
        count_ref._obj.value = len(processes)
        return 0

    def nvmlGpmQueryDeviceSupport(self, handle, ref):
        ref._obj.isSupportedDevice = 1
        return 0

    def nvmlGpmSampleAlloc(self, ref):
        ref._obj.value = self._next_sample
        self.samples_alive.add(self._next_sample)
        self._next_sample += 1
        return 0

    def nvmlGpmSampleGet(self, handle, sample):
        return 0

    def nvmlGpmSampleFree(self, sample):
        self.samples_alive.discard(sample if isinstance(sample, int) else sample.value)
        return 0

    def nvmlGpmMetricsGet(self, ref):
        request = ref._obj
        for i in range(request.numMetrics):
            request.metrics[i].value = {2: 64.0, 5: 37.5}[request.metrics[i].metricId]
            request.metrics[i].nvmlReturn = 0
        return 0


def install(**options) -> FakeCtypesNVML:
    """The live view reads this fake from now on (in this process)."""
    from jupyterlab_gpuscope.kernel import live

    fake = FakeCtypesNVML(**options)
    live.load_nvml = lambda: fake
    return fake

"""A backend for the end-to-end tests: the bundled H200 replay, with every kernel this
server started reported as holding 2 GiB on GPU 0 (as NVML would list a real one).

Readings stay labelled as a replay (live = False)."""

import psutil
from jupyterlab_gpuscope.monitor.backends import ReplayBackend

GiB = 1024**3


def _kernels():
    kernels = []
    for child in psutil.Process().children():
        try:
            if "ipykernel_launcher" in " ".join(child.cmdline()):
                kernels.append({"pid": child.pid, "used_memory": 2 * GiB})
        except psutil.Error:  # a kernel that just exited (zombie)
            continue
    return kernels


class KernelsOnReplayBackend(ReplayBackend):
    def read(self):
        reading = super().read()
        # Only the kernels: the recording's own PIDs belong to the machine it was made on.
        reading.processes[0] = _kernels()
        return reading


class KernelsOnMigReplayBackend(ReplayBackend):
    """The synthetic MIG trace (labelled synthetic), with every kernel of this server reported
    on its 1g.18gb instance (GPU instance 13) holding 2 GiB, as NVML lists processes there."""

    def __init__(self, trace="h200-mig-synthetic.jsonl", **options):
        super().__init__(trace, **options)

    def read(self):
        reading = super().read()
        reading.processes[0] = [{**kernel, "gpu_instance_id": 13, "compute_instance_id": 0} for kernel in _kernels()]
        return reading

"""A backend for the end-to-end tests: the bundled H200 replay, with every kernel this
server started reported as holding 2 GiB on GPU 0 (as NVML would list a real one).

Readings stay labelled as a replay (live = False)."""

import psutil
from jupyterlab_gpuscope.backends import ReplayBackend

GiB = 1024**3


class KernelsOnReplayBackend(ReplayBackend):
    def read(self):
        reading = super().read()
        kernels = []
        for child in psutil.Process().children():
            try:
                if "ipykernel_launcher" in " ".join(child.cmdline()):
                    kernels.append({"pid": child.pid, "used_memory": 2 * GiB})
            except psutil.Error:  # a kernel that just exited (zombie)
                continue
        # Only the kernels: the recording's own PIDs belong to the machine it was made on.
        reading.processes[0] = kernels
        return reading

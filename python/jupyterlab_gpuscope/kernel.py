"""Per-cell GPU memory, measured in the kernel: an IPython extension.

    %load_ext jupyterlab_gpuscope.kernel

JupyterLab loads it by itself (a silent execution of this file's source, so the kernel's
environment needs nothing installed). For every cell that runs while torch has CUDA
initialised, it resets torch's peak memory statistics before the cell and reads them
after, and sends one record to the frontend on the "gpuscope.cells" comm:

    {"execution_count": 12, "start": 1763800000.1, "end": 1763800002.4,
     "devices": [{"index": 0, "uuid": "...", "peak_allocated": ..., "peak_reserved": ...,
                  "allocated_before": ..., "allocated_after": ...}]}

It never imports torch, never initialises CUDA and never synchronises the device: it only
reads the caching allocator's counters, which live on the host. Without torch, or before
CUDA is initialised, a cell costs a dictionary lookup. Standard library only.
"""

from __future__ import annotations

import sys
import time

COMM_TARGET = "gpuscope.cells"
# Records kept in the kernel (the latest), also where no frontend listens.
KEEP = 100


class CellGPUUsage:
    """The pre/post cell hooks and where their records go."""

    def __init__(self, shell) -> None:
        self.shell = shell
        self.records: list[dict] = []
        self._comm = None
        self._before: dict | None = None

    # -- hooks -------------------------------------------------------------------------

    def pre_run_cell(self, info=None) -> None:
        self._before = None
        cuda = _initialised_cuda()
        if cuda is None:
            return
        devices = _devices_in_use(cuda)
        for index in devices:
            cuda.reset_peak_memory_stats(index)
        self._before = {
            "start": time.time(),
            "allocated": {index: cuda.memory_allocated(index) for index in devices},
        }

    def post_run_cell(self, result=None) -> None:
        cuda = _initialised_cuda()
        if cuda is None:
            return  # no torch, or CUDA never started: nothing to say
        before = self._before or {"start": None, "allocated": {}}
        self._before = None
        devices = sorted(set(before["allocated"]) | set(_devices_in_use(cuda)))
        record = {
            "execution_count": getattr(result, "execution_count", None),
            "start": before["start"],
            "end": time.time(),
            "devices": [
                {
                    "index": index,
                    "uuid": _uuid(cuda, index),
                    # Without a reset before the cell (CUDA started in it), the peak is
                    # since CUDA started: this cell.
                    "peak_allocated": cuda.max_memory_allocated(index),
                    "peak_reserved": cuda.max_memory_reserved(index),
                    "allocated_before": before["allocated"].get(index, 0),
                    "allocated_after": cuda.memory_allocated(index),
                }
                for index in devices
            ],
        }
        self._send(record)

    # -- delivery ------------------------------------------------------------------------

    def _send(self, record: dict) -> None:
        self.records = (self.records + [record])[-KEEP:]
        comm = self._open_comm()
        if comm is not None:
            comm.send(record)

    def _open_comm(self):
        if self._comm is None and getattr(self.shell, "kernel", None) is not None:
            try:
                from comm import create_comm
            except ImportError:  # ipykernel < 6.22
                try:
                    from ipykernel.comm import Comm as create_comm
                except ImportError:
                    return None
            self._comm = create_comm(target_name=COMM_TARGET, data={"version": 1})
        return self._comm


def _initialised_cuda():
    """torch.cuda when torch is imported and CUDA initialised; never imports or starts it."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    try:
        return cuda if cuda is not None and cuda.is_initialized() else None
    except Exception:
        return None


def _devices_in_use(cuda) -> list[int]:
    """The current device and every device the allocator holds memory on."""
    used = {cuda.current_device()}
    for index in range(cuda.device_count()):
        if cuda.memory_reserved(index) > 0:
            used.add(index)
    return sorted(used)


def _uuid(cuda, index: int) -> str | None:
    try:
        return str(cuda.get_device_properties(index).uuid)
    except Exception:
        return None


# The active instance lives on the shell, not in this module: JupyterLab loads this file
# by executing its source, so a reload (or %load_ext after it) gets a fresh module, and
# must still find and replace the hooks registered before.
_ATTRIBUTE = "_gpuscope_cell_usage"


def load_ipython_extension(shell) -> None:
    """Register the hooks (loading again replaces them, never doubles them)."""
    unload_ipython_extension(shell)
    usage = CellGPUUsage(shell)
    setattr(shell, _ATTRIBUTE, usage)
    shell.events.register("pre_run_cell", usage.pre_run_cell)
    shell.events.register("post_run_cell", usage.post_run_cell)


def unload_ipython_extension(shell) -> None:
    usage = getattr(shell, _ATTRIBUTE, None)
    if usage is None:
        return
    for event, hook in (("pre_run_cell", usage.pre_run_cell), ("post_run_cell", usage.post_run_cell)):
        try:
            shell.events.unregister(event, hook)
        except ValueError:
            pass
    setattr(shell, _ATTRIBUTE, None)

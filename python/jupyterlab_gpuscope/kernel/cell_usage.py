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
        self._uuids: dict[int, str | None] = {}

    # -- hooks -------------------------------------------------------------------------

    def pre_run_cell(self, info=None) -> None:
        self._before = None
        cuda = _initialised_cuda()
        if cuda is None:
            return
        stats = _devices_in_use(cuda)
        for index in stats:
            cuda.reset_peak_memory_stats(index)
        self._before = {"start": time.time(), "allocated": {index: s[0] for index, s in stats.items()}}

    def post_run_cell(self, result=None) -> None:
        cuda = _initialised_cuda()
        if cuda is None:
            return  # no torch, or CUDA never started: nothing to say
        before = self._before or {"start": None, "allocated": {}}
        self._before = None
        stats = _devices_in_use(cuda)
        for index in before["allocated"]:
            if index not in stats:
                stats[index] = _stats(cuda, index)
        record = {
            "execution_count": getattr(result, "execution_count", None),
            "start": before["start"],
            "end": time.time(),
            "devices": [
                {
                    "index": index,
                    "uuid": self._uuid(cuda, index),
                    # Without a reset before the cell (CUDA started in it), the peak is
                    # since CUDA started: this cell.
                    "peak_allocated": peak_allocated,
                    "peak_reserved": peak_reserved,
                    "allocated_before": before["allocated"].get(index, 0),
                    "allocated_after": allocated,
                }
                for index, (allocated, peak_allocated, _, peak_reserved) in sorted(stats.items())
            ],
        }
        self._send(record)

    def _uuid(self, cuda, index: int) -> str | None:
        if index not in self._uuids:
            try:
                self._uuids[index] = str(cuda.get_device_properties(index).uuid)
            except Exception:
                self._uuids[index] = None
        return self._uuids[index]

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


def _stats(cuda, index: int) -> tuple[int, int, int, int]:
    """(allocated, peak allocated, reserved, peak reserved) of one device, in one call:
    the nested statistics come straight from the allocator, while memory_allocated() and
    its siblings each build and flatten the whole statistics dictionary."""
    nested = getattr(cuda, "memory_stats_as_nested_dict", None)
    if nested is None:  # not torch.cuda (a test's stand-in)
        return (
            cuda.memory_allocated(index),
            cuda.max_memory_allocated(index),
            cuda.memory_reserved(index),
            cuda.max_memory_reserved(index),
        )
    stats = nested(index)
    allocated, reserved = stats["allocated_bytes"]["all"], stats["reserved_bytes"]["all"]
    return allocated["current"], allocated["peak"], reserved["current"], reserved["peak"]


def _devices_in_use(cuda) -> dict[int, tuple[int, int, int, int]]:
    """Statistics of the current device and of every device the allocator holds memory on."""
    current = cuda.current_device()
    used = {}
    for index in range(cuda.device_count()):
        stats = _stats(cuda, index)
        if index == current or stats[2] > 0:
            used[index] = stats
    return used


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

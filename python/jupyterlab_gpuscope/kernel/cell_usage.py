"""Per-cell GPU memory, measured in the kernel: an IPython extension.

    %load_ext jupyterlab_gpuscope.kernel

JupyterLab loads it by itself (a silent execution of this file's source, so the kernel's
environment needs nothing installed). For every cell that runs while torch has CUDA
initialised, it reads torch's caching-allocator counters before and after the cell and
sends one record to the frontend on the "gpuscope.cells" comm:

    {"execution_count": 12, "start": 1763800000.1, "end": 1763800002.4, "mode": "change",
     "devices": [{"index": 0, "uuid": "...", "peak_allocated": ..., "peak_reserved": ...,
                  "allocated_before": ..., "allocated_after": ...,
                  "reserved_before": ..., "reserved_after": ...}]}

Two modes, because torch has no public way to read a peak without resetting it:

- "change" (the default) only reads. The peak is reported when the cell set a new
  high-water mark (then torch's peak is this cell's); otherwise it is null, and the
  change in allocated and reserved memory says what the cell left behind. Your own
  torch.cuda.max_memory_allocated() keeps its meaning.
- "peak" calls torch.cuda.reset_peak_memory_stats() before every cell, so every cell's
  peak is exact, and torch's peak statistics then cover one cell at a time: a
  max_memory_allocated() of your own no longer spans several cells.

It never imports torch, never initialises CUDA and never synchronises the device: the
counters live on the host. Without torch, or before CUDA is initialised, a cell costs a
dictionary lookup. Standard library only.
"""

from __future__ import annotations

import sys
import time

COMM_TARGET = "gpuscope.cells"
# Records kept in the kernel (the latest), also where no frontend listens.
KEEP = 100


class CellGPUUsage:
    """The pre/post cell hooks and where their records go."""

    def __init__(self, shell, reset_peaks: bool = False) -> None:
        self.shell = shell
        #: The "peak" mode: reset torch's peak statistics before each cell.
        self.reset_peaks = reset_peaks
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
        if self.reset_peaks:
            for index in stats:
                cuda.reset_peak_memory_stats(index)
        # (allocated, peak allocated, reserved, peak reserved) as the cell starts; after a
        # reset the peaks equal the current values.
        self._before = {
            "start": time.time(),
            "stats": {index: (s[0], s[0], s[2], s[2]) if self.reset_peaks else s for index, s in stats.items()},
        }

    def post_run_cell(self, result=None) -> None:
        cuda = _initialised_cuda()
        if cuda is None:
            return  # no torch, or CUDA never started: nothing to say
        before = self._before or {"start": None, "stats": {}}
        self._before = None
        stats = _devices_in_use(cuda)
        for index in before["stats"]:
            if index not in stats:
                stats[index] = _stats(cuda, index)
        devices = []
        for index, (allocated, peak_allocated, reserved, peak_reserved) in sorted(stats.items()):
            start = before["stats"].get(index)
            if start is None:
                # CUDA started in this cell (or the device was first used): the counters
                # began with it, so their peaks are this cell's.
                start = (0, -1, 0, -1)
            devices.append(
                {
                    "index": index,
                    "uuid": self._uuid(cuda, index),
                    # A peak above the one the cell started with was reached in the cell;
                    # otherwise the cell's own peak is unknown without a reset.
                    "peak_allocated": peak_allocated if peak_allocated > start[1] or self.reset_peaks else None,
                    "peak_reserved": peak_reserved if peak_reserved > start[3] or self.reset_peaks else None,
                    "allocated_before": start[0],
                    "allocated_after": allocated,
                    "reserved_before": start[2],
                    "reserved_after": reserved,
                }
            )
        record = {
            "execution_count": getattr(result, "execution_count", None),
            "start": before["start"],
            "end": time.time(),
            "mode": "peak" if self.reset_peaks else "change",
            "devices": devices,
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


def load_ipython_extension(shell, reset_peaks: bool = False) -> None:
    """Register the hooks (loading again replaces them, never doubles them). reset_peaks:
    the "peak" mode (see the module's docstring); %load_ext gets the "change" mode."""
    unload_ipython_extension(shell)
    usage = CellGPUUsage(shell, reset_peaks=reset_peaks)
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

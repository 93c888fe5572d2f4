"""Per-cell GPU memory, measured in the kernel, and the kernel's evidence of its own GPU
memory for the server: an IPython extension.

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

The evidence (ContextEvidence) is for the server on older drivers in containers, where
NVML gives host PIDs the server cannot look up: it says when this kernel's CUDA context
appeared on each device and what its allocators (torch, CuPy, JAX) hold there, in a
file beside the kernel's connection file. The server matches NVML's processes to its
kernels by it (attribution.py).

It never imports torch, never initialises CUDA and never synchronises the device: the
counters live on the host. Without a GPU library, or before CUDA is initialised, a cell
costs a few dictionary lookups. Standard library only.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import tempfile
import time

COMM_TARGET = "gpuscope.cells"
# Records kept in the kernel (the latest), also where no frontend listens.
KEEP = 100
#: The evidence file is the connection file's name with this prefix (not "kernel-*.json",
#: which jupyter_client's find_connection_file would take for a kernel).
EVIDENCE_PREFIX = "gpuscope-"


class CellGPUUsage:
    """The pre/post cell hooks and where their records go."""

    def __init__(
        self,
        shell,
        reset_peaks: bool = False,
        evidence: ContextEvidence | None = None,
        history_entries: int = 0,
        show_lines: bool = False,
    ) -> None:
        self.shell = shell
        #: Print each record as a line under its cell (frontends without gpuscope's plugin).
        self.show_lines = show_lines
        #: The out-of-memory flight recorder: once CUDA has started, torch records this
        #: many allocation events with their stacks (0: off). The memory X-ray reads them.
        self.history_entries = history_entries
        self._recording = False
        #: The "peak" mode: reset torch's peak statistics before each cell.
        self.reset_peaks = reset_peaks
        self.records: list[dict] = []
        self.evidence = evidence if evidence is not None else ContextEvidence(_evidence_path())
        self._comm = None
        self._before: dict | None = None
        self._cell_start: float | None = None
        self._uuids: dict[int, str | None] = {}

    # -- hooks -------------------------------------------------------------------------

    def pre_run_cell(self, info=None) -> None:
        self._before = None
        self._cell_start = time.time()
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
        stats = _devices_in_use(cuda) if cuda is not None else {}
        held = self.holdings(cuda, stats)
        if held:
            self.evidence.update(self._cell_start, time.time(), held)
        if cuda is None:
            return  # no torch, or CUDA never started: no record
        if self.history_entries and not self._recording:
            self._start_recording(cuda)
        before = self._before or {"start": None, "stats": {}}
        self._before = None
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
        if self.show_lines:
            _show_line(record)

    def _start_recording(self, cuda) -> None:
        """From the cell after the one that started CUDA on: torch's own allocation history
        (python stacks), for the out-of-memory card's largest allocations."""
        self._recording = True
        try:
            cuda.memory._record_memory_history(stacks="python", max_entries=self.history_entries)
        except Exception:
            pass  # a torch without the history API: the card lists no allocations

    def holdings(self, cuda, torch_stats: dict[int, tuple[int, int, int, int]]) -> dict[int, dict]:
        """Per CUDA ordinal in use: its UUID and the bytes each loaded library's allocator
        holds there (torch's from its statistics, read once per hook by the caller).
        Libraries that have not started CUDA are not asked."""
        held: dict[int, dict] = {}

        def add(index: int, library: str, size: int, uuid: str | None = None) -> None:
            device = held.setdefault(index, {"uuid": None, "bytes": {}})
            device["uuid"] = device["uuid"] or uuid
            device["bytes"][library] = size

        for index, stats in torch_stats.items():
            add(index, "torch", stats[2], self._uuid(cuda, index))
        for index, size, uuid in _cupy_holdings():
            add(index, "cupy", size, uuid)
        for index, size in _jax_holdings():
            add(index, "jax", size)
        return held

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


class ContextEvidence:
    """When this kernel's CUDA context appeared on each device, and what its allocators hold
    there: kept per CUDA ordinal and written (when it changes) for the server.

    A context appears on a device between the start of the cell after which the device was
    first seen in use (`context_after`) and the end of the first cell after which memory
    was held there (`context_by`). Devices already in use when the extension loaded have no
    `context_after`: their context appeared at some unknown earlier time."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.devices: dict[int, dict] = {}
        self._written: str | None = None

    def update(self, cell_start: float | None, cell_end: float, held: dict[int, dict]) -> None:
        for index, device in held.items():
            known = self.devices.get(index)
            if known is None:
                known = self.devices[index] = {
                    "ordinal": index,
                    "uuid": None,
                    "context_after": cell_start,
                    "context_by": None,
                    "held": {},
                }
            known["uuid"] = known["uuid"] or device["uuid"]
            known["held"] = device["bytes"]
            if known["context_by"] is None and sum(device["bytes"].values()) > 0:
                known["context_by"] = cell_end
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        text = json.dumps({"version": 1, "pid": os.getpid(), "devices": sorted(self.devices.values(), key=_ordinal)})
        if text == self._written:
            return
        if not _write_atomically(self.path, text):
            return  # evidence is a help for the server, never a failure of the user's cell
        if self._written is None:
            atexit.register(_remove, self.path)
        self._written = text


def summary(record: dict) -> str | None:
    """A record as one line ("GPU 0: peak 2.10 GiB, allocated +1.00 GiB (now 3.00 GiB), 1.2 s"),
    or None when the cell left every device as it was and set no new peak."""
    parts = []
    for device in record["devices"]:
        change = device["allocated_after"] - device["allocated_before"]
        if device["peak_allocated"] is None and change == 0 and device["reserved_after"] == device["reserved_before"]:
            continue
        words = [f"peak {_size(device['peak_allocated'])}"] if device["peak_allocated"] is not None else []
        sign = "+" if change >= 0 else "-"
        words.append(f"allocated {sign}{_size(abs(change))} (now {_size(device['allocated_after'])})")
        parts.append(f"GPU {device['index']}: " + ", ".join(words))
    if not parts:
        return None
    took = f", {record['end'] - record['start']:.1f} s" if record["start"] is not None else ""
    return "; ".join(parts) + took


def _show_line(record: dict) -> None:
    line = summary(record)
    if line is None:
        return
    from html import escape

    from IPython.display import display

    display(
        {
            "text/plain": f"GPU memory: {line}",
            "text/html": f'<div style="font-size:0.85em;opacity:0.75">GPU memory: {escape(line)}</div>',
        },
        raw=True,
    )


def _size(n: int) -> str:
    for unit, divisor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= divisor:
            return f"{n / divisor:.2f} {unit}"
    return f"{n} bytes"


def _write_atomically(path: str, text: str) -> bool:
    """Write through a new file of a random name in the same folder (created exclusively,
    so a link planted there is never followed), then rename it over `path` (a rename
    replaces a link at `path` rather than writing through it): the server never reads
    half a file, and nothing else of this user's is overwritten."""
    folder, name = os.path.split(path)
    try:
        fd, partial = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=folder or ".")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(partial, path)
        return True
    except OSError:
        _remove(partial)
        return False


def _ordinal(device: dict) -> int:
    return device["ordinal"]


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _evidence_path() -> str | None:
    """Where this kernel's evidence goes: beside its connection file, where the server
    finds it from the kernel's connection file. None outside a running ipykernel."""
    try:
        from ipykernel.connect import get_connection_file

        connection_file = get_connection_file()
    except Exception:  # not in an ipykernel, or one without a connection file
        return None
    folder, name = os.path.split(connection_file)
    return os.path.join(folder, EVIDENCE_PREFIX + name)


def _cupy_holdings() -> list[tuple[int, int, str | None]]:
    """(ordinal, bytes, uuid) of CuPy's default memory pool on its current device, when it
    holds memory (so a CUDA context exists and asking starts nothing)."""
    cupy = sys.modules.get("cupy")
    if cupy is None:
        return []
    try:
        size = int(cupy.get_default_memory_pool().total_bytes())
        if size <= 0:
            return []
        index = int(cupy.cuda.runtime.getDevice())
        uuid = cupy.cuda.runtime.getDeviceProperties(index).get("uuid")
    except Exception:
        return []
    return [(index, size, _uuid_text(uuid))]


def _jax_holdings() -> list[tuple[int, int]]:
    """(ordinal, bytes) of every GPU device of JAX, once its backends are initialised (JAX
    gives no device UUID: the ordinal is the CUDA one, named by torch or CuPy if loaded)."""
    bridge = sys.modules.get("jax._src.xla_bridge")
    jax = sys.modules.get("jax")
    if bridge is None or jax is None:
        return []
    try:
        started = bridge.backends_are_initialized() if hasattr(bridge, "backends_are_initialized") else bridge._backends
        if not started:
            return []
        found = []
        for device in jax.local_devices():
            if device.platform != "gpu":
                continue
            stats = device.memory_stats() or {}
            size = stats.get("pool_bytes") or stats.get("bytes_reserved") or stats.get("bytes_in_use") or 0
            found.append((int(device.local_hardware_id), int(size)))
        return found
    except Exception:
        return []


def _uuid_text(uuid) -> str | None:
    """A CUDA device UUID as text: CuPy gives the 16 raw bytes of cudaUUID_t."""
    if isinstance(uuid, (bytes, bytearray)) and len(uuid) == 16:
        h = uuid.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return uuid if isinstance(uuid, str) else None


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


def load_ipython_extension(
    shell, reset_peaks: bool = False, history_entries: int = 0, show_lines: bool = False
) -> None:
    """Register the hooks (loading again replaces them, never doubles them). reset_peaks:
    the "peak" mode (see the module's docstring); %load_ext gets the "change" mode.
    history_entries: the out-of-memory flight recorder (0: off; a reload that turns it off
    stops torch's recording). show_lines: a line under each cell that used the GPU, for
    frontends without gpuscope's plugin (jupyterlab_gpuscope.live.cell_lines())."""
    previous = getattr(shell, _ATTRIBUTE, None)
    unload_ipython_extension(shell)
    if previous is not None and previous._recording and not history_entries:
        try:
            _initialised_cuda().memory._record_memory_history(enabled=None)
        except Exception:
            pass
    # A reload keeps what is known of when the contexts appeared.
    usage = CellGPUUsage(
        shell,
        reset_peaks=reset_peaks,
        evidence=previous.evidence if previous else None,
        history_entries=history_entries,
        show_lines=show_lines,
    )
    usage._recording = bool(previous and previous._recording and history_entries)
    cuda = _initialised_cuda()
    held = usage.holdings(cuda, _devices_in_use(cuda) if cuda is not None else {})
    if held:  # devices already in use: their contexts appeared before now
        usage.evidence.update(None, time.time(), held)
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

"""A live view of the GPUs this kernel uses, for any notebook frontend (VS Code, Colab,
JupyterLab, Notebook, nbconvert): one output that updates in place.

    import jupyterlab_gpuscope.live as gpu_live
    gpu_live.show()        # memory (this kernel's and others'), utilisation, SM and tensor
                           # activity (Hopper and newer), temperature, power; every 2 s
    gpu_live.stop()

It reads NVML from the kernel with ctypes (standard library only, like the diagnostic's
collector), in a daemon thread: cells keep running while it updates. Each update is an
`update_display_data` with `text/plain` and `text/html` (theme-neutral), and a JSON
rendering gpuscope's JupyterLab plugin shows with a link to the GPU Monitor instead of a
second monitor. It stops when asked, when `show()` is called again (the earlier view
stops), when `clear_output()` runs in the kernel, or with the kernel. A frontend's own
"Clear output" does not reach the kernel: call `stop()`.

Which GPUs: those where NVML lists this kernel's process; before it has a CUDA context,
those `CUDA_VISIBLE_DEVICES` names, else all (the view says which).
"""

from __future__ import annotations

import ctypes
import html
import os
import threading
import time

from .facts import load_nvml, read_memory

MIME = "application/vnd.gpuscope.live+json"
NVML_SUCCESS = 0
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_TEMPERATURE_GPU = 0
#: GPM metric ids (nvml.h): percent of SMs busy, percent of time any tensor pipe was busy.
GPM_SM_UTIL, GPM_ANY_TENSOR_UTIL = 2, 5
GPM_METRICS_GET_VERSION = GPM_SUPPORT_VERSION = 1
#: Pause between updates unless show() is told otherwise; NVML's utilisation is itself an
#: average over the last second or so.
INTERVAL_SECONDS = 2.0
MIN_INTERVAL_SECONDS = 0.2


class _Utilization(ctypes.Structure):  # nvmlUtilization_t
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


class _ProcessInfo(ctypes.Structure):  # nvmlProcessInfo_t (v2 and v3 share its layout)
    _fields_ = [
        ("pid", ctypes.c_uint),
        ("usedGpuMemory", ctypes.c_ulonglong),
        ("gpuInstanceId", ctypes.c_uint),
        ("computeInstanceId", ctypes.c_uint),
    ]


class _GpmSupport(ctypes.Structure):  # nvmlGpmSupport_t
    _fields_ = [("version", ctypes.c_uint), ("isSupportedDevice", ctypes.c_uint)]


class _GpmMetricInfo(ctypes.Structure):
    _fields_ = [("shortName", ctypes.c_char_p), ("longName", ctypes.c_char_p), ("unit", ctypes.c_char_p)]


class _GpmMetric(ctypes.Structure):  # nvmlGpmMetric_t
    _fields_ = [
        ("metricId", ctypes.c_uint),
        ("nvmlReturn", ctypes.c_int),
        ("value", ctypes.c_double),
        ("metricInfo", _GpmMetricInfo),
    ]


class _GpmMetricsGet(ctypes.Structure):  # nvmlGpmMetricsGet_t, with room for the two asked
    _fields_ = [
        ("version", ctypes.c_uint),
        ("numMetrics", ctypes.c_uint),
        ("sample1", ctypes.c_void_p),
        ("sample2", ctypes.c_void_p),
        ("metrics", _GpmMetric * 8),
    ]


class Reader:
    """NVML, opened once for a view: each read() is one update's figures."""

    def __init__(self, nvml=None) -> None:
        self.nvml = nvml
        self.reason: str | None = None
        self.handles: list[tuple[int, object]] = []
        self._gpm: dict[int, ctypes.c_void_p] = {}  # device index -> its previous GPM sample
        self._opened = False

    def open(self) -> bool:
        """False, with `reason` in words, where no GPU can be read."""
        try:
            self.nvml = self.nvml if self.nvml is not None else load_nvml()
        except OSError as error:
            self.reason = f"no NVIDIA driver is visible to this kernel ({error})"
            return False
        status = self.nvml.nvmlInit_v2()
        if status != NVML_SUCCESS:
            self.reason = f"NVML could not start (NVML error {status})"
            return False
        self._opened = True
        count = ctypes.c_uint()
        if self.nvml.nvmlDeviceGetCount_v2(ctypes.byref(count)) != NVML_SUCCESS or count.value == 0:
            self.reason = "NVML sees no GPU"
            return False
        for index in range(count.value):
            handle = ctypes.c_void_p()
            if self.nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) == NVML_SUCCESS:
                self.handles.append((index, handle))
        return True

    def close(self) -> None:
        for sample in self._gpm.values():
            self.nvml.nvmlGpmSampleFree(sample)
        self._gpm.clear()
        if self._opened:
            self.nvml.nvmlShutdown()
            self._opened = False

    def read(self) -> dict:
        devices = [self._device(index, handle) for index, handle in self.handles]
        pid = os.getpid()
        mine = [d for d in devices if any(p["pid"] == pid for p in d["processes"])]
        if mine:
            shown, which = mine, "the GPUs this kernel uses"
        else:
            visible = _visible(devices)
            shown = visible
            which = (
                "the GPUs CUDA_VISIBLE_DEVICES names (this kernel has no CUDA context yet)"
                if len(visible) < len(devices)
                else "every GPU (this kernel has no CUDA context yet)"
            )
        if not shown:
            reason = "CUDA_VISIBLE_DEVICES names no GPU that NVML sees"
            return {"at": time.time(), "which": "", "devices": [], "reason": reason}
        for device in shown:
            device["this_kernel"] = sum(p["used_memory"] for p in device["processes"] if p["pid"] == pid)
            device["others"] = sum(p["used_memory"] for p in device["processes"] if p["pid"] != pid)
            del device["processes"]
        return {"at": time.time(), "which": which, "devices": shown, "reason": None}

    def _device(self, index: int, handle) -> dict:
        nvml = self.nvml
        device: dict = {"index": index, "name": _text(nvml.nvmlDeviceGetName, handle), "uuid": None}
        device["uuid"] = _text(nvml.nvmlDeviceGetUUID, handle)
        memory = read_memory(nvml, handle)
        device["memory_total"], device["memory_used"] = (memory[0], memory[2]) if memory else (None, None)
        util = _Utilization()
        device["util_gpu"] = util.gpu if nvml.nvmlDeviceGetUtilizationRates(handle, ctypes.byref(util)) == 0 else None
        number = ctypes.c_uint()
        ok = nvml.nvmlDeviceGetTemperature(handle, NVML_TEMPERATURE_GPU, ctypes.byref(number)) == 0
        device["temp_c"] = number.value if ok else None
        ok = nvml.nvmlDeviceGetPowerUsage(handle, ctypes.byref(number)) == 0
        device["power_w"] = number.value / 1000 if ok else None
        device["processes"] = self._processes(handle)
        device["sm_util"], device["tensor_util"] = self._activity(index, handle)
        return device

    def _processes(self, handle) -> list[dict]:
        count = ctypes.c_uint(0)
        infos = (_ProcessInfo * 1)()
        status = self.nvml.nvmlDeviceGetComputeRunningProcesses_v3(handle, ctypes.byref(count), infos)
        if status == NVML_ERROR_INSUFFICIENT_SIZE:
            count = ctypes.c_uint(count.value + 8)  # processes may start meanwhile
            infos = (_ProcessInfo * count.value)()
            status = self.nvml.nvmlDeviceGetComputeRunningProcesses_v3(handle, ctypes.byref(count), infos)
        if status != NVML_SUCCESS:
            return []
        return [{"pid": infos[i].pid, "used_memory": infos[i].usedGpuMemory} for i in range(count.value)]

    def _activity(self, index: int, handle) -> tuple[float | None, float | None]:
        """GPM's SM and tensor activity since the previous update (Hopper and newer)."""
        nvml = self.nvml
        if index not in self._gpm:
            support = _GpmSupport(version=GPM_SUPPORT_VERSION)
            if nvml.nvmlGpmQueryDeviceSupport(handle, ctypes.byref(support)) != 0 or not support.isSupportedDevice:
                self._gpm[index] = None
                return None, None
            sample = ctypes.c_void_p()
            if nvml.nvmlGpmSampleAlloc(ctypes.byref(sample)) != 0 or nvml.nvmlGpmSampleGet(handle, sample) != 0:
                self._gpm[index] = None
                return None, None
            self._gpm[index] = sample
            return None, None  # two samples make a measurement: from the next update
        previous = self._gpm[index]
        if previous is None:
            return None, None
        current = ctypes.c_void_p()
        if nvml.nvmlGpmSampleAlloc(ctypes.byref(current)) != 0:
            return None, None
        if nvml.nvmlGpmSampleGet(handle, current) != 0:
            nvml.nvmlGpmSampleFree(current)
            return None, None
        request = _GpmMetricsGet(version=GPM_METRICS_GET_VERSION, numMetrics=2, sample1=previous, sample2=current)
        request.metrics[0].metricId, request.metrics[1].metricId = GPM_SM_UTIL, GPM_ANY_TENSOR_UTIL
        ok = nvml.nvmlGpmMetricsGet(ctypes.byref(request)) == 0
        nvml.nvmlGpmSampleFree(previous)
        self._gpm[index] = current
        if not ok:
            return None, None
        return tuple(m.value if m.nvmlReturn == 0 else None for m in request.metrics[:2])


def _text(function, handle) -> str | None:
    buffer = ctypes.create_string_buffer(96)
    return buffer.value.decode(errors="replace") if function(handle, buffer, 96) == 0 else None


def _visible(devices: list[dict]) -> list[dict]:
    """The devices CUDA_VISIBLE_DEVICES names (by index or UUID prefix), in its order."""
    names = os.environ.get("CUDA_VISIBLE_DEVICES")
    if names is None:
        return devices
    chosen = []
    for name in (n.strip() for n in names.split(",")):
        match = [d for d in devices if str(d["index"]) == name or (d["uuid"] or "").startswith(name)]
        if not match:
            break  # CUDA stops at the first name it cannot use
        chosen.append(match[0])
    return chosen


# -- showing it ---------------------------------------------------------------------------


def _size(n: int | None) -> str:
    if n is None:
        return "n/a"
    for unit, divisor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= divisor:
            return f"{n / divisor:.2f} {unit}"
    return f"{n} bytes"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} %"


def device_lines(device: dict) -> list[str]:
    """One device's figures in words: what text/plain shows, and text/html row by row."""
    memory = f"{_size(device['memory_used'])} of {_size(device['memory_total'])} in use"
    held = f"this kernel {_size(device['this_kernel'])}, other processes {_size(device['others'])}"
    activity = f"utilisation {_percent(device['util_gpu'])}"
    if device["sm_util"] is not None or device["tensor_util"] is not None:
        activity += f", SM {_percent(device['sm_util'])}, tensor {_percent(device['tensor_util'])}"
    power = "n/a" if device["power_w"] is None else f"{device['power_w']:.0f} W"
    temp = "n/a" if device["temp_c"] is None else f"{device['temp_c']} °C"
    return [
        f"GPU {device['index']} {device['name'] or ''}".rstrip(),
        f"  memory: {memory} ({held})",
        f"  {activity}; {temp}; {power}",
    ]


def text(state: dict) -> str:
    clock = time.strftime("%H:%M:%S", time.localtime(state["at"]))
    if state["reason"]:
        head = f"GPU live view: {state['reason']}."
        return head if state.get("stopped") else f"{head} ({clock})"
    status = f"stopped at {clock}" if state.get("stopped") else f"updated {clock}"
    out = [f"GPU live view, {state['which']} ({status}; gpu_live.stop() stops it)"]
    for device in state["devices"]:
        out += device_lines(device)
    return "\n".join(out)


def _html(state: dict) -> str:
    """Theme-neutral: inherits the frontend's text colour, draws bars in a mid-tone that
    reads on light and dark backgrounds."""
    lines = text(state).split("\n")
    rows = []
    for device in state["devices"]:
        total = device["memory_total"] or 0
        parts = [(device["this_kernel"], "#3a7bd5"), (device["others"], "#9e9e9e")]
        bar = "".join(
            f'<span style="display:inline-block;height:0.6em;width:{100 * size / total:.1f}%;'
            f'background:{color}"></span>'
            for size, color in parts
            if total and size
        )
        rows.append(
            f'<div style="margin:0.3em 0"><b>{html.escape(device_lines(device)[0])}</b>'
            f'<div role="img" aria-label="memory: this kernel (blue), other processes (grey)" '
            f'style="border:1px solid #9e9e9e;width:20em;height:0.6em;line-height:0">{bar}</div>'
            + "".join(f"<div>{html.escape(line.strip())}</div>" for line in device_lines(device)[1:])
            + "</div>"
        )
    return f'<div style="font-family:monospace;font-size:0.9em"><div>{html.escape(lines[0])}</div>{"".join(rows)}</div>'


def bundle(state: dict) -> dict:
    return {"text/plain": text(state), "text/html": _html(state), MIME: state}


class LiveView:
    """One view: a display that a thread updates every `interval` seconds until stopped."""

    def __init__(self, interval: float, reader: Reader | None = None) -> None:
        self.interval = max(float(interval), MIN_INTERVAL_SECONDS)
        self.reader = reader or Reader()
        self.updates = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle = None
        self._update = None
        self._state: dict | None = None

    def start(self) -> None:
        from IPython.display import display

        if not self.reader.open():
            state = {"at": time.time(), "which": "", "devices": [], "reason": self.reader.reason, "stopped": True}
            self.reader.close()
            display(bundle(state), raw=True)
            return
        self._state = self.reader.read()
        self._handle = display(bundle(self._state), raw=True, display_id=True)
        self._update = _updater(self._handle)
        self._thread = threading.Thread(target=self._run, name="gpuscope-live", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._state = self.reader.read()
                self._update(bundle(self._state))
                self.updates += 1
        finally:
            self.reader.close()

    def stop(self) -> None:
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=10)
        if self._state is not None:
            # Also as the cell that stopped it: nbclient and nbconvert keep only the updates
            # of the cell they run, and a saved notebook should show the view stopped.
            self._update(bundle({**self._state, "stopped": True}), also_current=True)


def _updater(handle):
    """How the thread updates the display: as a message whose parent is the cell that
    called show(), so the frontend files it under that cell's output whatever runs now
    (JupyterLab routes by parent; ipykernel before 7 would give a thread the running
    cell's). Outside a Jupyter kernel, IPython's own update."""
    try:
        publisher = __import__("IPython").get_ipython().display_pub
        session, socket, parent = publisher.session, publisher.pub_socket, dict(publisher.parent_header)
    except Exception:
        return lambda data, also_current=False: handle.update(data, raw=True)
    topic = getattr(publisher, "topic", None)

    def update(data: dict, also_current: bool = False) -> None:
        content = {"data": data, "metadata": {}, "transient": {"display_id": handle.display_id}}
        session.send(socket, "update_display_data", content, parent=parent, ident=topic)
        current = dict(publisher.parent_header)
        if also_current and current.get("msg_id") not in (None, parent.get("msg_id")):
            session.send(socket, "update_display_data", content, parent=current, ident=topic)

    return update


_current: LiveView | None = None
_lock = threading.Lock()


def show(interval: float = INTERVAL_SECONDS) -> LiveView:
    """Show the live view under this cell, updated every `interval` seconds (at least 0.2)."""
    global _current
    with _lock:
        if _current is not None:
            _current.stop()
        _current = LiveView(interval)
        _watch_clear_output()
        _current.start()
        return _current


def stop() -> None:
    """Stop the live view; its output stays, marked as stopped."""
    global _current
    with _lock:
        if _current is not None:
            _current.stop()
            _current = None


def _watch_clear_output() -> None:
    """clear_output() in the kernel stops the view (its output is gone)."""
    try:
        shell = __import__("IPython").get_ipython()
        publisher = shell.display_pub
    except Exception:
        return
    if getattr(publisher, "_gpuscope_live_watched", False):
        return
    original = publisher.clear_output

    def clear_output(*args, **kwargs):
        view = _current
        if view is not None and threading.current_thread() is not view._thread:
            threading.Thread(target=stop, daemon=True).start()  # not under the publisher's lock
        return original(*args, **kwargs)

    publisher.clear_output = clear_output
    publisher._gpuscope_live_watched = True

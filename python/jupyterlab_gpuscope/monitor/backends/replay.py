"""The replay backend: plays a recorded NVML trace (JSON lines), looping, in real time.

The trace format is documented in traces/README.md. Readings from a replay are never
live: `live` is False and SystemInfo.source names the recording, so every view can
label them.
"""

from __future__ import annotations

import bisect
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from ..readings import MIG_SAMPLE_FIELDS, SAMPLE_FIELDS, device_entry, gpu_entry, mig_entry, mig_instance
from .base import Backend, BackendUnavailable, Reading, SystemInfo

DEFAULT_TRACE = "h200-workload.jsonl"


def bundled_trace(name: str) -> Path:
    """The path of a trace shipped inside the package."""
    return Path(str(resources.files("jupyterlab_gpuscope") / "traces" / name))


def _trace_path(trace: str) -> Path:
    """A path as given, or a bundled trace's name when no such file exists here."""
    given = Path(trace)
    if not given.exists() and given.name == trace and bundled_trace(trace).is_file():
        return bundled_trace(trace)
    return given


class ReplayBackend(Backend):
    name = "replay"
    live = False

    def __init__(self, trace: str | Path = "", clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.path = _trace_path(str(trace)) if trace else bundled_trace(DEFAULT_TRACE)
        self._clock = clock
        self._times: list[float] = []
        self._frames: list[dict[str, Any]] = []
        self._duration = 0.0
        self._start = 0.0

    def open(self) -> SystemInfo:
        try:
            lines = self.path.read_text().splitlines()
        except OSError as error:
            raise BackendUnavailable(f"the replay trace {self.path} cannot be read: {error.strerror}") from error
        try:
            records = [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as error:
            raise BackendUnavailable(f"the replay trace {self.path} is not JSON lines: {error}") from error
        header = next((r for r in records if r.get("type") == "devices"), None)
        samples = [r for r in records if r.get("type") == "sample"]
        if header is None or not samples:
            raise BackendUnavailable(
                f"the replay trace {self.path} needs a 'devices' line and at least one 'sample' line"
            )
        self._frames = samples
        self._times = [float(s["t"]) for s in samples]
        # Loop with the gap between the last and first sample equal to the mean gap.
        mean_gap = self._times[-1] / max(len(samples) - 1, 1)
        self._duration = self._times[-1] + (mean_gap or 1.0)
        self._start = self._clock()
        cuda = header.get("cuda_driver")
        gpus = header.get("devices", [])
        synthetic = header.get("synthetic")
        description = (
            f"Replay of a synthetic trace ({synthetic}), not a recording and not a live GPU"
            if synthetic
            else f"Replay of a recording from {len(gpus)}× {_names(gpus)}, not a live GPU"
        )
        return SystemInfo(
            driver_version=header.get("driver"),
            cuda_driver_version=f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None,
            nvml_version=header.get("nvml"),
            devices=[_device(d) for d in gpus],
            # Written into a trace from the machine's `nvidia-smi topo -m` where NVML's was not
            # recorded: its `source` says so.
            topology=_topology(header.get("topology"), len(gpus)),
            source={
                "kind": "replay",
                "trace": self.path.name,
                "description": description,
                "synthetic": bool(synthetic),
                "duration_seconds": round(self._duration, 3),
            },
        )

    def read(self) -> Reading:
        self.calls += 1
        position = (self._clock() - self._start) % self._duration
        frame = self._frames[max(bisect.bisect_right(self._times, position) - 1, 0)]
        gpus = []
        processes = {}
        for recorded in frame.get("gpus", []):
            index = recorded["index"]
            values, reasons = _fields(recorded, SAMPLE_FIELDS)
            mig = recorded.get("mig")
            if mig is not None:
                mig = [mig_entry(m.get("uuid"), m.get("gpu_instance_id"), *_fields(m, MIG_SAMPLE_FIELDS)) for m in mig]
            gpus.append(gpu_entry(index, values, reasons, mig))
            processes[index] = [
                {
                    "pid": p.get("pid"),
                    "used_memory": p.get("used_memory"),
                    "gpu_instance_id": p.get("gpu_instance_id"),
                    "compute_instance_id": p.get("compute_instance_id"),
                }
                for p in recorded.get("processes", [])
            ]
        return Reading(gpus=gpus, processes=processes)

    @property
    def phase(self) -> str | None:
        """The recorded workload phase now playing (for labels and tests)."""
        position = (self._clock() - self._start) % self._duration
        return self._frames[max(bisect.bisect_right(self._times, position) - 1, 0)].get("phase")


def _topology(recorded: Any, count: int) -> dict[str, Any] | None:
    """A trace's topology, if it is one for its GPUs (a square of that size), else None."""
    if not isinstance(recorded, dict):
        return None
    links = recorded.get("links")
    if not isinstance(links, list) or len(links) != count or any(len(row) != count for row in links):
        return None
    return recorded


def _fields(recorded: dict[str, Any], names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values and reasons of one recorded entry; an error recorded for a field is its reason."""
    values, reasons = {}, {}
    for name in names:
        value = recorded.get(name)
        if name not in recorded:
            reasons[name] = "not in this recording"
        elif isinstance(value, dict) and "error" in value:
            reasons[name] = f"{_error_words(value['error'])} (as recorded)"
        elif isinstance(value, dict) and "unavailable" in value:
            reasons[name] = f"{value['unavailable']} (as recorded)"
        else:
            values[name] = value
    return values, reasons


def _device(recorded: dict[str, Any]) -> dict[str, Any]:
    return device_entry(
        recorded["index"],
        name=recorded.get("name"),
        uuid=recorded.get("uuid"),
        cc=recorded.get("cc"),
        memory_total=recorded.get("memory_total"),
        power_limit_mw=recorded.get("power_limit_mw"),
        mig_mode=recorded.get("mig_mode"),
        pcie_max_gen=recorded.get("pcie_max_gen"),
        pcie_max_width=recorded.get("pcie_max_width"),
        max_sm_clock=recorded.get("max_sm_clock"),
        max_mem_clock=recorded.get("max_mem_clock"),
        bus_id=recorded.get("bus_id"),
        unavailable={},
        mig_instances=[
            mig_instance(
                uuid=m.get("uuid"),
                name=m.get("name"),
                gpu_instance_id=m.get("gpu_instance_id"),
                compute_instance_id=m.get("compute_instance_id"),
                memory_total=m.get("memory_total"),
                multiprocessor_count=m.get("multiprocessor_count"),
            )
            for m in recorded.get("mig_instances", [])
        ],
    )


def _names(devices: list[dict[str, Any]]) -> str:
    return ", ".join(sorted({d.get("name") or "unknown GPU" for d in devices})) or "no GPU"


def _error_words(error: str) -> str:
    # "NVMLError_NotSupported" -> "not supported"
    words = error.removeprefix("NVMLError_")
    return "".join(" " + c.lower() if c.isupper() else c for c in words).strip()

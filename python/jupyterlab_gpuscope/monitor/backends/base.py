"""The interface every GPU backend implements, and the shapes it returns.

A backend is only ever called from the sampler's thread: it may block.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class BackendUnavailable(Exception):
    """The backend cannot produce readings now; the message says why, for users."""


class BackendLost(BackendUnavailable):
    """A backend that was open lost its source (driver unloaded, library gone)."""


class GpuLost(Exception):
    """One GPU fell off the bus (or needs a reset) while it was read: that GPU's reading is
    lost, not the backend. Raised and caught inside a backend's read."""


@dataclass
class SystemInfo:
    """Static facts, read once when a backend opens."""

    driver_version: str | None
    cuda_driver_version: str | None
    nvml_version: str | None
    # One dict per device: index, uuid, name, compute_capability, memory_total, ...
    # plus "unavailable": {field: reason} for every static field that could not be read.
    devices: list[dict[str, Any]]
    # Where the readings come from when they are not a live GPU (a replay), else None.
    source: dict[str, Any] | None = None
    # How the GPUs are linked (backends/topology.py), or None when unknown.
    topology: dict[str, Any] | None = None


@dataclass
class Reading:
    """One tick's values from every device."""

    # One dict per device, in the API's sample format (see sampler.py).
    gpus: list[dict[str, Any]]
    # Device index -> [{"pid": int, "used_memory": int | None}]
    processes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Device index -> why its process list could not be read (no permission, say): an
    # empty list there means "unknown", not "no process".
    process_errors: dict[int, str] = field(default_factory=dict)


class Backend:
    """Base class: subclasses set `name`, `live`, and implement open/read/close."""

    name = "base"
    #: True when the readings come from a real GPU at this moment.
    live = True
    #: False when retrying `open` can never succeed (the `none` backend).
    retry_open = True
    #: True when the memory in use it reports leaves out the driver's own reserve (NVML's
    #: memory v2): then used memory minus the listed processes is held by others.
    memory_excludes_reserve = False
    #: Seconds between reads (the sampler sets it): backends pace their slow fields by it.
    interval = 1.0
    #: Whether anyone watches the readings now (a stream is open; the sampler sets it).
    watched = True

    def __init__(self) -> None:
        #: How many calls to the GPU library this backend has made (for `stats`).
        self.calls = 0

    def open(self) -> SystemInfo:
        """Connect to the source; raise BackendUnavailable with a reason when it cannot."""
        raise NotImplementedError

    def read(self) -> Reading:
        """Read every device once. Field failures become nulls; raise BackendLost
        only when the whole source has gone."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the source; safe to call more than once."""

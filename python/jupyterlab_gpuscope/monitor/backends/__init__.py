"""GPU backends: where readings come from (`nvml`, `replay` or `none`)."""

from .base import Backend, BackendLost, BackendUnavailable, Reading, SystemInfo
from .none import NoneBackend
from .nvml import NvmlBackend
from .replay import ReplayBackend

__all__ = [
    "Backend",
    "BackendLost",
    "BackendUnavailable",
    "NoneBackend",
    "NvmlBackend",
    "Reading",
    "ReplayBackend",
    "SystemInfo",
]

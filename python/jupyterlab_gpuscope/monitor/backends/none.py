"""The `none` backend: monitoring turned off, or nothing to monitor."""

from __future__ import annotations

from .base import Backend, BackendUnavailable, Reading, SystemInfo


class NoneBackend(Backend):
    name = "none"
    live = False
    retry_open = False

    def __init__(self, reason: str = "GPU monitoring is turned off (c.GPUScope.backend = 'none').") -> None:
        super().__init__()
        self.reason = reason

    def open(self) -> SystemInfo:
        raise BackendUnavailable(self.reason)

    def read(self) -> Reading:
        raise BackendUnavailable(self.reason)

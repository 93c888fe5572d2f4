"""Idle kernels that hold GPU memory: when to nudge their owner, when to shut them down.

Pure policy over the kernels' activity times and a clock, so it is tested without
waiting. A kernel is idle when its execution state is "idle"; its idle time runs from
its last message, or from the owner's last "Keep", whichever is later. So "Keep"
restarts the count: a kernel kept is nudged again (and, with automatic shut-down on,
shut down) only after another full idle period.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from ..monitor.processes import KernelInfo


@dataclass(frozen=True)
class IdleKernel:
    kernel: KernelInfo
    #: Bytes per GPU index.
    memory: dict[int, int]
    idle_since: float
    #: When it will be shut down; None when automatic shut-down is off.
    shutdown_at: float | None

    @property
    def nudge_id(self) -> str:
        """Names one idle period of one kernel: the frontend shows each once."""
        return f"{self.kernel.id}@{self.idle_since:.3f}"


class IdlePolicy:
    def __init__(
        self, idle_seconds: float, shutdown_grace_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        """idle_seconds <= 0: no nudges. shutdown_grace_seconds <= 0: never shut down."""
        self.idle_seconds = idle_seconds
        self.grace_seconds = shutdown_grace_seconds
        self.clock = clock
        self._kept_at: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        return self.idle_seconds > 0

    def keep(self, kernel_id: str) -> None:
        self._kept_at[kernel_id] = self.clock()

    def idle_kernels(self, kernels: list[KernelInfo], memory: dict[str, dict[int, int]]) -> list[IdleKernel]:
        """The kernels idle past the threshold that hold GPU memory."""
        if not self.enabled:
            return []
        now = self.clock()
        live = {k.id for k in kernels}
        self._kept_at = {k: t for k, t in self._kept_at.items() if k in live}
        found = []
        for kernel in kernels:
            held = {gpu: size for gpu, size in memory.get(kernel.id, {}).items() if size > 0}
            since = self.idle_since(kernel)
            if not held or since is None or now - since < self.idle_seconds:
                continue
            shutdown_at = since + self.idle_seconds + self.grace_seconds if self.grace_seconds > 0 else None
            found.append(IdleKernel(kernel, held, since, shutdown_at))
        return found

    def idle_since(self, kernel: KernelInfo) -> float | None:
        """When the kernel's idle time began (its last message or its owner's last "Keep");
        None while it runs or when the server cannot tell."""
        if kernel.execution_state != "idle" or kernel.last_activity is None:
            return None
        return max(kernel.last_activity, self._kept_at.get(kernel.id, kernel.last_activity))

    def due_for_shutdown(self, idle: list[IdleKernel]) -> list[IdleKernel]:
        now = self.clock()
        return [k for k in idle if k.shutdown_at is not None and now >= k.shutdown_at]

"""Shared GPUs: this user's memory against the soft limit, and idle kernels holding memory.

Every `check_seconds` the watcher joins the sampler's latest GPU processes with this
server's kernels (off the IOLoop), then keeps one snapshot that the `usage` route and
the Prometheus metrics read. It never calls the GPU backend itself. When the admin turns
it on, it shuts down kernels that stayed idle past the grace period, and logs each one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

from tornado.ioloop import PeriodicCallback

from ..monitor.processes import ALL_GRANTED, KernelInfo, ReadGrants, for_viewer
from .idle import IdleKernel, IdlePolicy
from .limits import MemoryLimit, gpu_usage, kernel_memory, kernel_placements

if TYPE_CHECKING:
    from ..monitor.process_feed import ProcessFeed
    from ..monitor.sampler import Sampler

GiB = 1024**3


def _gib(size: int) -> str:
    return f"{size / GiB:.2f} GiB"


def usage_for_viewer(snapshot: dict[str, Any], grants: ReadGrants) -> dict[str, Any]:
    """The `usage` body as a viewer may read it: the kernels, idle kernels and shut-downs
    name kernels (left out without `kernels`) and notebooks (without `sessions`, the
    paths are left out). The per-GPU totals name no one."""
    if grants == ALL_GRANTED:
        return snapshot
    if not grants.kernels:
        return {**snapshot, "kernels": [], "idle": [], "shut_down": [], "notices": []}
    return {
        **snapshot,
        **{
            key: [{**entry, "notebook_path": None} for entry in snapshot[key]]
            for key in ("kernels", "idle", "shut_down", "notices")
        },
    }


class SharedGPUsWatcher:
    def __init__(
        self,
        sampler: Sampler,
        join: ProcessFeed,
        kernel_manager: Any,
        *,
        limit: MemoryLimit,
        idle: IdlePolicy,
        check_seconds: float,
        log: logging.Logger,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sampler = sampler
        self.join = join
        self.kernel_manager = kernel_manager
        self.limit = limit
        self.idle = idle
        self.check_seconds = check_seconds
        self.log = log
        self.clock = clock
        #: Kernel id -> GPU index -> bytes, from the last check (the metrics read it).
        self.kernel_memory: dict[str, dict[int, int]] = {}
        self.kernels: list[KernelInfo] = []
        #: Per kernel, GPU and MIG instance: bytes, SM use and idle seconds (the metrics read it).
        self.kernel_usage: list[dict[str, Any]] = []
        self.shutdowns: collections.deque[dict[str, Any]] = collections.deque(maxlen=20)
        self.shutdown_count = 0
        #: Notes from the class's instructor (through the gpuscope Hub service), newest last.
        self.notices: collections.deque[dict[str, Any]] = collections.deque(maxlen=20)
        self._snapshot: dict[str, Any] | None = None
        self._nudged: set[str] = set()
        self._callback: PeriodicCallback | None = None
        self._lock: asyncio.Lock | None = None
        self._stopped = False

    def start(self) -> None:
        self._callback = PeriodicCallback(self._check_safely, self.check_seconds * 1000)
        self._callback.start()

    def stop(self) -> None:
        self._stopped = True
        if self._callback is not None:
            self._callback.stop()

    @property
    def latest(self) -> dict[str, Any] | None:
        """The last check, or None before the first one."""
        return self._snapshot

    async def snapshot(self) -> dict[str, Any]:
        """The latest check; the first caller before any check runs one."""
        if self._snapshot is None:
            await self.check()
        assert self._snapshot is not None
        return self._snapshot

    def keep(self, kernel_id: str) -> bool:
        """The owner keeps an idle kernel: its idle time starts again. False: no such kernel."""
        if kernel_id not in self.kernel_manager:
            return False
        self.idle.keep(kernel_id)
        self.log.info("gpuscope: the owner kept idle kernel %s; its idle time starts again", kernel_id)
        self._snapshot = None  # the next read shows it is no longer idle
        return True

    def kernel_by_digest(self, digest: str) -> KernelInfo | None:
        """The kernel the metrics label with `digest`, from the last check."""
        return next((k for k in self.kernels if k.digest == digest), None)

    def nudge(self, kernel: KernelInfo, by: str, note: str) -> None:
        """The instructor asks the owner to free the kernel's GPU memory: the owner's
        JupyterLab shows it once, with the note."""
        at = round(self.clock(), 3)
        held = sum(self.kernel_memory.get(kernel.id, {}).values())
        self.log.info("gpuscope: %s nudged the owner of kernel %s (%s)", by, kernel.id, _gib(held))
        self.notices.append(
            {
                "id": f"{kernel.id}@{at}",
                "by": by,
                "note": note,
                "kernel_id": kernel.id,
                "notebook_path": kernel.notebook_path,
                "used_memory": held,
                "at": at,
            }
        )
        self._snapshot = None

    async def shut_down_for(self, kernel: KernelInfo, by: str) -> bool:
        """The instructor shuts the kernel down; its owner is told who did. False: it failed."""
        held = self.kernel_memory.get(kernel.id, {})
        self.log.warning("gpuscope: %s shuts down kernel %s holding %s", by, kernel.id, _gib(sum(held.values())))
        idle_since = self.idle.idle_since(kernel)
        minutes = 0.0 if idle_since is None else (self.clock() - idle_since) / 60
        async with self._round_lock():  # not while a check may shut it down too
            if kernel.id not in self.kernel_manager:
                return True  # gone meanwhile: its memory is free
            return await self._shut_down(
                IdleKernel(kernel, held, idle_since or self.clock(), None), by=by, minutes=minutes
            )

    async def _check_safely(self) -> None:
        try:
            await self.check()
        except Exception:  # the periodic check must survive one bad round
            if self._stopped:
                # A round still running while the server shuts down finds its sessions
                # database or executor closed: nothing an admin needs a traceback for.
                self.log.debug("gpuscope: a shared-GPU check ended by the shutdown", exc_info=True)
                return
            self.log.exception("gpuscope: the shared-GPU check failed")

    async def check(self) -> None:
        """One round. Rounds never overlap (a route and the timer may both start one), so a
        kernel is shut down once."""
        async with self._round_lock():
            await self._check()

    def _round_lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()  # made here: it belongs to the running loop
        return self._lock

    async def _check(self) -> None:
        joined = await self.join.latest()  # shared with every other reader of this sample
        kernels = joined.kernels
        # Never with other users' details: only this user's processes are listed.
        body = for_viewer(joined.body, show_other_users=False)
        held = kernel_memory(body)
        idle = self.idle.idle_kernels(kernels, held)
        self._log_new_nudges(idle)
        for kernel in self.idle.due_for_shutdown(idle):
            await self._shut_down_idle(kernel)
        gone = {entry["kernel_id"] for entry in self.shutdowns}
        kernels = [k for k in kernels if k.id not in gone]
        held = {kernel_id: memory for kernel_id, memory in held.items() if kernel_id not in gone}
        self.kernels, self.kernel_memory = kernels, held
        self.kernel_usage = self._kernel_usage(body, kernels)
        self._snapshot = {
            "checked_at": round(self.clock(), 3),
            "gpus": gpu_usage(body, self._memory_totals(), self.limit, self._mig_instances()),
            "kernels": [
                {
                    "id": k.id,
                    "name": k.name,
                    "notebook_path": k.notebook_path,
                    "execution_state": k.execution_state,
                    "used_memory": sum(held[k.id].values()),
                    "gpus": sorted(held[k.id]),
                }
                for k in kernels
                if k.id in held
            ],
            "idle": [self._idle_entry(k) for k in idle if k.kernel.id not in gone],
            "shut_down": list(self.shutdowns),
            "notices": list(self.notices),
        }

    def _kernel_usage(self, body: dict[str, Any], kernels: list[KernelInfo]) -> list[dict[str, Any]]:
        sm_util = {
            index: {p["pid"]: p.get("sm_util") for p in procs} for index, procs in self.sampler.processes.items()
        }
        now = self.clock()
        by_id = {k.id: k for k in kernels}
        usage = []
        for entry in kernel_placements(body, sm_util):
            kernel = by_id.get(entry["kernel_id"])
            if kernel is None:
                continue
            since = self.idle.idle_since(kernel)
            usage.append({**entry, "idle_seconds": 0.0 if since is None else max(0.0, now - since), "kernel": kernel})
        return usage

    def _memory_totals(self) -> dict[int, int | None]:
        latest = self.sampler.latest
        if latest:
            return {gpu["index"]: gpu.get("memory_total") for gpu in latest["gpus"]}
        return {d["index"]: d.get("memory_total") for d in self.sampler.status()["devices"]}

    def _mig_instances(self) -> dict[int, list[dict[str, Any]]]:
        return {d["index"]: d.get("mig_instances") or [] for d in self.sampler.status()["devices"]}

    def _idle_entry(self, idle: IdleKernel) -> dict[str, Any]:
        return {
            "nudge_id": idle.nudge_id,
            "kernel_id": idle.kernel.id,
            "kernel_name": idle.kernel.name,
            "notebook_path": idle.kernel.notebook_path,
            "used_memory": sum(idle.memory.values()),
            "gpus": sorted(idle.memory),
            "idle_since": round(idle.idle_since, 3),
            "shutdown_at": None if idle.shutdown_at is None else round(idle.shutdown_at, 3),
        }

    def _log_new_nudges(self, idle: list[IdleKernel]) -> None:
        current = {k.nudge_id for k in idle}
        for kernel in idle:
            if kernel.nudge_id not in self._nudged:
                self.log.info(
                    "gpuscope: kernel %s (%s) is idle and holds %s of GPU memory; its owner is asked to shut it down",
                    kernel.kernel.id,
                    kernel.kernel.notebook_path or "no notebook",
                    _gib(sum(kernel.memory.values())),
                )
        self._nudged = current

    async def _shut_down_idle(self, idle: IdleKernel) -> None:
        minutes = (self.clock() - idle.idle_since) / 60
        self.log.warning(
            "gpuscope: shutting down kernel %s (%s): idle %.1f min holding %s of GPU memory on GPU %s "
            "(c.GPUScope.idle_kernel_shutdown_minutes)",
            idle.kernel.id,
            idle.kernel.notebook_path or "no notebook",
            minutes,
            _gib(sum(idle.memory.values())),
            ", ".join(str(i) for i in sorted(idle.memory)),
        )
        await self._shut_down(idle, by=None, minutes=minutes)

    async def _shut_down(self, idle: IdleKernel, *, by: str | None, minutes: float) -> bool:
        """Shut the kernel down and remember it for its owner's notification (`by`: the
        instructor who asked; None: the server's idle policy)."""
        kernel = idle.kernel
        try:
            await self.kernel_manager.shutdown_kernel(kernel.id)
        except Exception:
            self.log.exception("gpuscope: shutting down kernel %s failed", kernel.id)
            return False
        self.shutdown_count += 1
        self._snapshot = None
        self.shutdowns.append(
            {
                "kernel_id": kernel.id,
                "notebook_path": kernel.notebook_path,
                "used_memory": sum(idle.memory.values()),
                "idle_minutes": round(minutes, 1),
                "at": round(self.clock(), 3),
                "by": by,
            }
        )
        return True

"""The join of NVML's processes with this server's kernels, made at most once per sample and
shared by every reader: `GET processes`, the shared-GPU check and the stream's process
subscribers. Its cost does not grow with the number of viewers.

The join (psutil and /proc, processes.py) runs off the IOLoop, only when someone needs it:
a reader of a sample not joined yet, or a subscriber when a new sample arrives. It is made
with every process described; each reader gets the view the admin allows
(`processes.for_viewer`), serialised once per sample.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from .processes import ALL_GRANTED, KernelInfo, ReadGrants, for_viewer, processes_body, running_kernels

#: Called with each new join; it serialises the view its viewer may read (viewer_json).
Subscriber = Callable[["Joined"], None]


@dataclass
class Joined:
    """One sample's join: the kernels it was made with, the full body, and the viewers'
    serialised view (made on first use)."""

    key: tuple[Any, ...]
    kernels: list[KernelInfo]
    body: dict[str, Any]
    _views: dict[tuple[bool, ReadGrants], bytes] = field(default_factory=dict, repr=False)


class ProcessFeed:
    def __init__(
        self,
        sampler: Any,
        kernel_manager: Any,
        session_manager: Any,
        *,
        policy: dict[str, Any],
        log: logging.Logger | None = None,
    ) -> None:
        self.sampler = sampler
        self.kernel_manager = kernel_manager
        self.session_manager = session_manager
        #: The admin's policy, as the routes read it: its `show_other_users` sets the view.
        self.policy = policy
        self.log = log or logging.getLogger(__name__)
        #: Joins made so far (for `stats` and the tests).
        self.joins = 0
        self._key: tuple[Any, ...] | None = None
        self._task: asyncio.Future[Joined] | None = None
        self._subscribers: set[Subscriber] = set()
        self._pushing = False
        self._last_pushed: bytes | None = None

    async def latest(self) -> Joined:
        """The join of the latest sample and of the kernels as they are now (their list is
        cheap, on the IOLoop): made if it is not made or being made. A kernel started, shut
        down or changing state makes a new join, not a stale list until the next sample."""
        kernels = await running_kernels(self.kernel_manager, self.session_manager)
        key = (
            self.sampler.run_id,
            self.sampler.buffer.last_seq,
            tuple((k.id, k.pid, k.execution_state, k.notebook_path) for k in kernels),
        )
        task = self._task
        if key != self._key or task is None or (task.done() and task.exception() is not None):
            self._key = key
            task = self._task = asyncio.ensure_future(self._join(key, kernels))
        return await asyncio.shield(task)

    async def _join(self, key: tuple[Any, ...], kernels: list[KernelInfo]) -> Joined:
        loop = asyncio.get_running_loop()
        self.joins += 1
        body = await loop.run_in_executor(None, lambda: processes_body(self.sampler, kernels, show_other_users=True))
        return Joined(key, kernels, body)

    def viewer_json(self, joined: Joined, grants: ReadGrants = ALL_GRANTED) -> bytes:
        """The view of a viewer with these grants (as the policy allows), serialised once
        per sample and kind of viewer."""
        key = (bool(self.policy.get("show_other_users")), grants)
        if key not in joined._views:
            joined._views[key] = json.dumps(for_viewer(joined.body, *key), separators=(",", ":")).encode()
        return joined._views[key]

    # ---- pushed to stream subscribers --------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        """`callback` gets the join after each sample whose join differs from the last one
        pushed, and the current one at once."""
        if not self._subscribers:
            self.sampler.subscribe(self._on_sample)  # samples matter only while someone listens
        self._subscribers.add(callback)
        self._last_pushed = None  # the newcomer needs the current list
        self._schedule_push()

    def unsubscribe(self, callback: Subscriber) -> None:
        if callback in self._subscribers:
            self._subscribers.discard(callback)
            if not self._subscribers:
                self.sampler.unsubscribe(self._on_sample)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def _on_sample(self, payload: bytes) -> None:
        if payload.startswith(b'{"type":"sample"'):
            self._schedule_push()

    def _schedule_push(self) -> None:
        if not self._pushing:  # one push at a time; a slow join skips samples, never piles up
            self._pushing = True
            asyncio.ensure_future(self._push())

    async def _push(self) -> None:
        try:
            joined = await self.latest()
            body = self.viewer_json(joined)  # every narrower view changes only when this does
            if body == self._last_pushed:
                return
            self._last_pushed = body
            for callback in list(self._subscribers):
                try:
                    callback(joined)
                except Exception:  # one broken viewer must not starve the others
                    self.log.exception("gpuscope: a process subscriber failed")
        except Exception:
            self.log.exception("gpuscope: the process join failed")
        finally:
            self._pushing = False

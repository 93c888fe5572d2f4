"""The one sampler per server: reads the backend on a background thread at a fixed
interval, keeps a bounded history, and hands each new sample to the IOLoop for every
subscriber. Nothing else in the server calls the backend.

Every backend call runs on a worker thread with a deadline, so a call that hangs
costs one sample (marked with the reason), never the sampler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Callable

from .backends import Backend, BackendUnavailable, Reading, SystemInfo
from .readings import unreadable_gpu
from .ringbuffer import RingBuffer

Subscriber = Callable[[bytes], None]


class _Hung(Exception):
    pass


class Sampler:
    def __init__(
        self,
        backend: Backend,
        *,
        configured: str,
        interval: float,
        history_seconds: float,
        call_timeout: float = 5.0,
        reopen_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
        log: logging.Logger | None = None,
    ) -> None:
        self.backend = backend
        backend.interval = interval
        self.configured = configured
        self.interval = interval
        self.call_timeout = call_timeout
        self.reopen_seconds = reopen_seconds
        self.buffer = RingBuffer(max(1, math.ceil(history_seconds / interval)))
        #: Identifies this run of the sampler: sequence numbers restart with it.
        self.run_id = uuid.uuid4().hex[:12]
        self._clock = clock
        self._log = log or logging.getLogger(__name__)

        self._system: SystemInfo | None = None
        self._status = "starting"
        self._reason: str | None = "the first reading has not been taken yet"
        self._next_open = 0.0
        self._reopen_at: float | None = None
        self._latest: dict[str, Any] | None = None
        self._processes: dict[int, list[dict[str, Any]]] = {}
        self._process_errors: dict[int, str] = {}
        # Device index -> PID -> (the last reading it was absent from, the first it was
        # in): when each GPU process appeared, for attribution.py.
        self._appeared: dict[int, dict[int, tuple[float | None, float]]] = {}
        self._listed_at: dict[int, float] = {}

        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpuscope-nvml")
        self._pending: Future | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[Subscriber] = set()

        self.ticks = 0
        self.hung_calls = 0
        self.last_cost_seconds: float | None = None
        self.thread_cpu_seconds = 0.0

    # ---- lifecycle (called on the IOLoop) ---------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="gpuscope-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.call_timeout + self.interval + 1)
        self._worker.shutdown(wait=False, cancel_futures=True)
        self._close_backend()

    # ---- what the routes read ------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Backend, status and static device facts, for `devices`."""
        system = self._system
        available = self._status == "ok"
        # With `auto`, a failed NVML means no backend at all.
        backend = self.backend.name if available or self.configured != "auto" else "none"
        return {
            "backend": backend,
            "configured_backend": self.configured,
            "live": bool(self.backend.live and available),
            "source": system.source if system else None,
            "status": self._status,
            "reason": self._reason,
            "driver_version": system.driver_version if system else None,
            "cuda_driver_version": system.cuda_driver_version if system else None,
            "nvml_version": system.nvml_version if system else None,
            "interval_seconds": self.interval,
            "run_id": self.run_id,
            "devices": system.devices if system else [],
            "topology": system.topology if system else None,
        }

    def summary(self) -> dict[str, Any]:
        """Which backend, whether live, its status: the head of every reply."""
        status = self.status()
        keys = ("backend", "live", "source", "status", "reason", "run_id", "interval_seconds")
        return {key: status[key] for key in keys}

    def samples_since(self, seq: int) -> list[bytes]:
        return self.buffer.since(seq)

    @property
    def latest(self) -> dict[str, Any] | None:
        return self._latest

    @property
    def processes(self) -> dict[int, list[dict[str, Any]]]:
        """Device index -> GPU processes, from the latest sample."""
        return self._processes

    @property
    def appeared(self) -> dict[int, dict[int, tuple[float | None, float]]]:
        """Device index -> PID -> when it appeared in NVML's list: after the first time
        (None: before the first reading) and by the second (epoch seconds)."""
        return self._appeared

    @property
    def process_errors(self) -> dict[int, str]:
        """Device index -> why its process list could not be read, from the latest sample."""
        return self._process_errors

    def stats(self) -> dict[str, Any]:
        return {
            "backend": self.backend.name,
            "run_id": self.run_id,
            "interval_seconds": self.interval,
            "ticks": self.ticks,
            "samples": self.buffer.last_seq,
            "samples_held": len(self.buffer),
            "capacity": self.buffer.capacity,
            "backend_calls": self.backend.calls,
            "hung_calls": self.hung_calls,
            "subscribers": len(self._subscribers),
            "last_sample_cost_seconds": self.last_cost_seconds,
            "sampler_cpu_seconds": round(self.thread_cpu_seconds, 6),
        }

    # ---- subscribers (IOLoop thread only) ----------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        self._subscribers.add(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        self._subscribers.discard(callback)

    def _publish(self, payload: bytes) -> None:
        for callback in list(self._subscribers):
            try:
                callback(payload)
            except Exception:  # one broken viewer must not starve the others
                self._log.exception("gpuscope: a stream subscriber failed")

    def _notify(self, payload: bytes) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._publish, payload)

    # ---- the sampler thread -------------------------------------------------------------------

    def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the loop itself must never die
                self._log.exception("gpuscope: sampler tick failed")
            self.thread_cpu_seconds = time.thread_time()
            next_tick += self.interval
            delay = next_tick - time.monotonic()
            if delay < 0:  # fell behind (a hung call): start afresh instead of bursting
                next_tick, delay = time.monotonic(), 0
            self._stop.wait(delay)

    def tick(self) -> None:
        """Take one reading (public so tests can drive the sampler without a thread)."""
        self.ticks += 1
        now = time.monotonic()
        if self._reopen_at is not None and now >= self._reopen_at:
            # A GPU was lost: reinitialise to see whether it came back.
            self._reopen_at = None
            self._close_backend()
        if self._system is None:
            if now < self._next_open or not self._open_backend():
                return
        system = self._system
        assert system is not None
        self.backend.watched = bool(self._subscribers)  # read across threads: a hint, not a contract
        started = time.perf_counter()
        try:
            reading = self._call(self.backend.read)
        except _Hung:
            reason = f"the GPU driver did not answer within {self.call_timeout:g} s"
            reading = Reading(gpus=[unreadable_gpu(d["index"], "unavailable", reason) for d in system.devices])
        except BackendUnavailable as error:
            self._close_backend()
            self._set_unavailable(str(error), retry=True)
            return
        except Exception as error:
            self._log.exception("gpuscope: backend read failed")
            self._close_backend()
            self._set_unavailable(f"reading the GPUs failed: {error}", retry=True)
            return
        self.last_cost_seconds = round(time.perf_counter() - started, 6)
        self._store(reading)
        if self._reopen_at is None and any(g["status"] == "lost" for g in reading.gpus):
            self._reopen_at = time.monotonic() + self.reopen_seconds

    def _open_backend(self) -> bool:
        try:
            system = self._call(self.backend.open)
        except _Hung:
            self._set_unavailable(
                f"the GPU driver did not answer within {self.call_timeout:g} s while starting", retry=True
            )
            return False
        except BackendUnavailable as error:
            self._set_unavailable(str(error), retry=self.backend.retry_open)
            return False
        except Exception as error:
            self._log.exception("gpuscope: backend open failed")
            self._set_unavailable(f"starting the GPU backend failed: {error}", retry=True)
            return False
        self._system = system
        self._set_status("ok", None)
        return True

    def _close_backend(self) -> None:
        self._system = None
        try:
            self.backend.close()
        except Exception:
            self._log.exception("gpuscope: closing the backend failed")

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the worker thread; raise _Hung if it does not return in time."""
        if self._pending is not None and not self._pending.done():
            # The previous call still hangs; queueing more behind it would pile up.
            raise _Hung()
        self._pending = self._worker.submit(fn)
        try:
            return self._pending.result(timeout=self.call_timeout)
        except FutureTimeout:
            self.hung_calls += 1
            raise _Hung() from None

    def _set_unavailable(self, reason: str, *, retry: bool) -> None:
        self._next_open = time.monotonic() + self.reopen_seconds if retry else math.inf
        if retry and self.backend.retry_open:
            reason = f"{reason} (retrying every {self.reopen_seconds:g} s)"
        self._processes = {}
        self._process_errors = {}
        self._set_status("unavailable", reason)

    def _set_status(self, status: str, reason: str | None) -> None:
        changed = (status, reason) != (self._status, self._reason)
        self._status, self._reason = status, reason
        if changed:
            if status != "ok":
                self._log.warning("gpuscope: no GPU readings: %s", reason)
            self._notify(json.dumps({"type": "status", "status": status, "reason": reason}).encode())

    def _store(self, reading: Reading) -> None:
        now = round(self._clock(), 3)
        payload: list[bytes] = []

        def serialise(seq: int) -> bytes:
            self._latest = {"type": "sample", "seq": seq, "time": now, "gpus": reading.gpus}
            payload.append(json.dumps(self._latest, separators=(",", ":")).encode())
            return payload[0]

        self.buffer.append(serialise)
        self._processes = reading.processes
        self._process_errors = reading.process_errors
        self._note_appearances(reading, now)
        self._notify(payload[0])

    def _note_appearances(self, reading: Reading, now: float) -> None:
        for index, procs in reading.processes.items():
            if index in reading.process_errors:
                continue  # an unread list says nothing of who came or went
            before = self._appeared.get(index, {})
            last = self._listed_at.get(index)
            self._appeared[index] = {
                p["pid"]: before.get(p["pid"], (last, now)) for p in procs if p.get("pid") is not None
            }
            self._listed_at[index] = now

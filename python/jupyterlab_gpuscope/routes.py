"""HTTP and websocket routes under {base_url}/gpuscope/api/.

Every verb is authenticated and authorized against the `gpuscope` resource; the
websocket is authenticated before the upgrade. What a reply says of this server's kernels
is asked of the authorizer too, as jupyter_server's own routes ask it: kernel ids and
states need `kernels`, notebook paths `sessions`; keeping a kernel needs to change
`kernels`. Handlers only read what the sampler already has: none of them calls NVML,
and blocking work goes to an executor.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web, websocket

from . import diagnostic_cell
from .kernel import facts
from .monitor.environment import environment
from .monitor.processes import ReadGrants
from .shared_gpus.watcher import usage_for_viewer

if TYPE_CHECKING:
    from .monitor.process_feed import Joined, ProcessFeed
    from .monitor.sampler import Sampler
    from .shared_gpus.watcher import SharedGPUsWatcher

AUTH_RESOURCE = "gpuscope"
API = "gpuscope/api"
_SEQ = re.compile(r"[0-9]{1,18}")
#: Query parameters jupyter_server's own authentication reads (`?token=`, and the XSRF
#: value a form may send): accepted on every route and left to the server.
SERVER_AUTH_PARAMS = ("token", "_xsrf")
#: A kernel id as jupyter_server makes them (a UUID); anything else names no kernel.
_KERNEL_ID = re.compile(r"[0-9a-fA-F-]{1,64}")
#: `keep` and stream messages are a few dozen bytes; a larger body is refused unread.
MAX_MESSAGE_BYTES = 4096


class _GPUScopeMixin:
    """Shared by every route: what it reads (the sampler, the shared-GPU watcher, the
    admin's policy, nothing else of the extension) and, in prepare(), the query check."""

    #: Query parameters this route accepts; any other is a 400.
    query_params: tuple[str, ...] = ()

    @property
    def sampler(self) -> Sampler:
        return self.settings["gpuscope_sampler"]  # type: ignore[attr-defined]

    @property
    def watcher(self) -> SharedGPUsWatcher:
        return self.settings["gpuscope_watcher"]  # type: ignore[attr-defined]

    @property
    def policy(self) -> dict[str, Any]:
        return self.settings["gpuscope_policy"]  # type: ignore[attr-defined]

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        await super().prepare(*args, **kwargs)  # type: ignore[misc]
        # Only for a known user: a stranger gets the 403 of the verb's decorators.
        if self.current_user:  # type: ignore[attr-defined]
            self.check_query()

    def check_query(self) -> None:
        args = self.request.query_arguments  # type: ignore[attr-defined]
        for name, values in args.items():
            if name.isdigit() and values == [b""]:
                continue  # JupyterLab's ServerConnection appends "?<timestamp>" to defeat caches
            if name in SERVER_AUTH_PARAMS:
                continue
            if name not in self.query_params:
                accepted = (
                    "accepts " + ", ".join(f"'{p}'" for p in self.query_params)
                    if self.query_params
                    else "takes no query parameters"
                )
                raise web.HTTPError(400, f"Unknown query parameter '{name}': this route {accepted}.")
            if len(values) > 1:
                raise web.HTTPError(400, f"Query parameter '{name}' was given {len(values)} times; give it once.")

    @property
    def join(self) -> ProcessFeed:
        return self.settings["gpuscope_join"]  # type: ignore[attr-defined]

    def backend_summary(self) -> dict[str, Any]:
        return self.sampler.summary()

    async def may(self, action: str, resource: str) -> bool:
        """Whether the authorizer lets this user `action` ("read", "write") `resource`."""
        handler: Any = self
        return bool(
            await ensure_async(handler.authorizer.is_authorized(handler, handler.current_user, action, resource))
        )

    def json_fields(self, usage: str, *required: str) -> dict[str, Any]:
        """The request's JSON object, with the `required` keys: 413 over MAX_MESSAGE_BYTES,
        else 400 saying `usage` for anything but such an object."""
        body = self.request.body  # type: ignore[attr-defined]
        if len(body) > MAX_MESSAGE_BYTES:
            raise web.HTTPError(413, f"The request body is over {MAX_MESSAGE_BYTES} bytes.")
        try:
            fields = json.loads(body or b"null")
        except (ValueError, RecursionError):
            raise web.HTTPError(400, usage) from None
        if not isinstance(fields, dict) or any(name not in fields for name in required):
            raise web.HTTPError(400, usage)
        return fields

    async def read_grants(self) -> ReadGrants:
        return ReadGrants(kernels=await self.may("read", "kernels"), sessions=await self.may("read", "sessions"))


class DevicesHandler(_GPUScopeMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        body = self.sampler.status()
        loop = asyncio.get_running_loop()
        body["environment"] = await loop.run_in_executor(
            None, lambda: environment(self.sampler.processes, recorded=not self.sampler.backend.live)
        )
        self.finish(json.dumps(body))


class SamplesHandler(_GPUScopeMixin, APIHandler):
    auth_resource = AUTH_RESOURCE
    query_params = ("since",)

    @web.authenticated
    @authorized
    def get(self) -> None:
        raw = self.get_query_argument("since", "0").strip()
        if not _SEQ.fullmatch(raw):
            raise web.HTTPError(
                400, f"'since' must be a sample sequence number (a whole number 0 or more), not {raw!r}."
            )
        buffer = self.sampler.buffer
        head = self.backend_summary()
        head.update(first_seq=buffer.first_seq, last_seq=buffer.last_seq)
        samples = self.sampler.samples_since(int(raw))
        # The samples are stored serialised: splice them in rather than re-encoding each.
        self.set_header("Content-Type", "application/json")
        self.finish(_spliced(head, b'{"samples":[' + b",".join(samples) + b"]}"))


class ProcessesHandler(_GPUScopeMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        # The join of this sample, made once for every reader, and its view serialised once.
        body = self.join.viewer_json(await self.join.latest(), await self.read_grants())
        self.set_header("Content-Type", "application/json")
        self.finish(_spliced(self.backend_summary(), body))


class StatsHandler(_GPUScopeMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def get(self) -> None:
        join = self.join
        self.finish(
            json.dumps({**self.sampler.stats(), "process_joins": join.joins, "process_subscribers": join.subscribers})
        )


class SharedGPUsHandler(_GPUScopeMixin, APIHandler):
    """This user's GPU memory per GPU against the soft limit, their kernels holding memory,
    idle ones to nudge, and what gpuscope shut down. Others appear only as totals."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self) -> None:
        body = self.backend_summary()
        body.update(usage_for_viewer(await self.watcher.snapshot(), await self.read_grants()))
        body["policy"] = self.policy
        self.finish(json.dumps(body))


class PolicyHandler(_GPUScopeMixin, APIHandler):
    """What the admin set for everyone on this server (limits, idle kernels, lint target)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.finish(json.dumps(self.policy))


class KeepHandler(_GPUScopeMixin, APIHandler):
    """POST {"kernel_id": ...}: the owner keeps an idle kernel that holds GPU memory."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def post(self) -> None:
        kernel_id = self.json_fields('Send a JSON object {"kernel_id": "<id>"}.', "kernel_id")["kernel_id"]
        if not isinstance(kernel_id, str) or not _KERNEL_ID.fullmatch(kernel_id):
            raise web.HTTPError(400, "kernel_id must be a kernel id (a string of hex digits and dashes).")
        if not await self.may("write", "kernels"):
            raise web.HTTPError(403, "Keeping a kernel needs permission to change kernels.")
        if not self.watcher.keep(kernel_id):
            raise web.HTTPError(404, "No kernel with that id runs on this server.")
        self.set_status(204)
        self.finish()


class CollectorHandler(_GPUScopeMixin, APIHandler):
    """The kernel-side code, for the frontend to run in a kernel (the kernel's environment
    need not have this package): the kernel probe (with the collector's driver reader),
    the diagnostic cell in its short and self-contained forms, and the per-cell GPU
    usage extension, and the memory X-ray's loader. ?include_private=true: cells that keep home paths and user names;
    ?cell_usage=peak: the per-cell extension in its peak mode; ?memory_history=100000: with
    the out-of-memory flight recorder on."""

    auth_resource = AUTH_RESOURCE
    query_params = ("include_private", "cell_usage", "memory_history")

    @web.authenticated
    @authorized
    def get(self) -> None:
        flag = self.get_query_argument("include_private", "false")
        if flag not in ("true", "false"):
            raise web.HTTPError(400, f"include_private must be true or false, not {flag!r}.")
        include_private = flag == "true"
        mode = self.get_query_argument("cell_usage", "change")
        if mode not in CELL_USAGE_MODES:
            raise web.HTTPError(400, f"cell_usage must be change or peak, not {mode!r}.")
        history = self.get_query_argument("memory_history", "0")
        if history not in MEMORY_HISTORY_CHOICES:
            raise web.HTTPError(
                400, f"memory_history must be one of {', '.join(MEMORY_HISTORY_CHOICES)}, not {history!r}."
            )
        self.finish(
            json.dumps(
                {
                    "probe": probe_code(),
                    "mime": facts.MIME,
                    "cell_usage_loader": cell_usage_loader(mode, int(history)),
                    "memory_loader": memory_loader(),
                    "cells": {
                        "short": diagnostic_cell.short(include_private),
                        "self_contained": _self_contained_cell(include_private),
                    },
                }
            )
        )


@functools.lru_cache(maxsize=2)
def _self_contained_cell(include_private: bool) -> str:
    return diagnostic_cell.self_contained(include_private)


CELL_USAGE_MODES = ("change", "peak")
#: The flight recorder's sizes the frontend may ask for (events torch keeps; "0": off).
MEMORY_HISTORY_CHOICES = ("0", "100000")


@functools.lru_cache(maxsize=4)
def cell_usage_loader(mode: str = "change", history_entries: int = 0) -> str:
    """What the frontend runs silently in each Python kernel: the per-cell extension's
    source, loaded as a private module (the kernel's environment need not have this
    package) and registered with the kernel's IPython in the given mode ("peak" resets
    torch's peak memory statistics before each cell; see kernel/cell_usage.py), with the
    out-of-memory flight recorder keeping `history_entries` allocation events (0: off)."""
    return f"""def _gpuscope_load_cell_usage(source):
    namespace = {{"__name__": "gpuscope_cell_usage"}}
    exec(compile(source, "<gpuscope-cell-usage>", "exec"), namespace)
    namespace["load_ipython_extension"](get_ipython(), reset_peaks={mode == "peak"}, history_entries={int(history_entries)})
_gpuscope_load_cell_usage({json.dumps(_source("cell_usage.py"))})
del _gpuscope_load_cell_usage
"""


MEMORY_MODULE = "gpuscope_memory_xray"


@functools.lru_cache(maxsize=1)
def memory_loader() -> str:
    """What the frontend runs silently before it asks a kernel what holds its GPU memory:
    kernel/memory_xray.py loaded as the module gpuscope_memory_xray, once per kernel (the
    kernel's environment need not have this package)."""
    return f"""def _gpuscope_load_memory(source):
    import sys, types
    if "{MEMORY_MODULE}" not in sys.modules:
        module = types.ModuleType("{MEMORY_MODULE}")
        exec(compile(source, "<gpuscope memory_xray.py>", "exec"), module.__dict__)
        sys.modules["{MEMORY_MODULE}"] = module
_gpuscope_load_memory({json.dumps(_source("memory_xray.py"))})
del _gpuscope_load_memory
"""


@functools.lru_cache(maxsize=1)
def probe_code() -> str:
    """What the frontend runs silently at kernel start: kernel/probe.py with the
    collector's driver reader (kernel/facts.py), each loaded as a private module (the
    kernel's environment need not have this package)."""
    return f"""def _gpuscope_probe(facts_source, probe_source):
    facts = {{"__name__": "gpuscope_probe_facts"}}
    exec(compile(facts_source, "<gpuscope facts.py>", "exec"), facts)
    probe = {{"__name__": "gpuscope_probe"}}
    exec(compile(probe_source, "<gpuscope probe.py>", "exec"), probe)
    probe["show"](facts["_driver_facts"])
_gpuscope_probe({json.dumps(_source("facts.py"))}, {json.dumps(_source("probe.py"))})
del _gpuscope_probe
"""


@functools.lru_cache(maxsize=4)
def _source(name: str) -> str:
    return (Path(__file__).parent / "kernel" / name).read_text()


class StreamHandler(_GPUScopeMixin, JupyterHandler, websocket.WebSocketHandler):
    """Pushes every new sample, and backend status changes, to the client.

    Client messages (JSON): {"action": "pause"}, {"action": "resume"},
    {"action": "throttle", "min_interval_seconds": N} (at most one sample per N s),
    {"action": "processes", "on": true|false}: also push {"type": "processes", "reply": ...}
    (the `processes` reply) whenever the process list changes.
    """

    auth_resource = AUTH_RESOURCE

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        # An API endpoint: refuse a stranger with 403 rather than a login-page redirect.
        await super().prepare(_redirect_to_login=False)

    #: Written but not yet sent to a slow client, past which samples are skipped (it
    #: catches up from `samples?since`, by the sequence numbers it missed).
    max_pending_bytes = 4 * 2**20

    @property
    def ping_interval(self) -> float:
        # Dead connections are found and closed even where the server sets no ping.
        return self.settings.get("websocket_ping_interval") or 30.0

    @property
    def max_message_size(self) -> int:
        return MAX_MESSAGE_BYTES

    @ws_authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        self._grants = await self.read_grants()
        result = super().get(*args, **kwargs)
        if result is not None:
            await result

    def open(self, *args: Any, **kwargs: Any) -> None:
        self._paused = False
        self._min_interval = 0.0
        self._last_sent = 0.0
        self._pending = 0
        self.sampler.subscribe(self._on_payload)
        hello = self.backend_summary()
        hello.update(type="hello", last_seq=self.sampler.buffer.last_seq)
        self.write_message(json.dumps(hello))

    def on_message(self, message: str | bytes) -> None:
        try:
            request = json.loads(message)
            action = request["action"]
        except (ValueError, TypeError, KeyError, RecursionError):
            self._send_error('Messages must be JSON objects with an "action".')
            return
        if action == "pause":
            self._paused = True
        elif action == "resume":
            self._paused = False
        elif action == "processes":
            on = request.get("on")
            if not isinstance(on, bool):
                self._send_error('"processes" needs "on": true or false.')
                return
            if on:
                self.join.subscribe(self._on_processes)
            else:
                self.join.unsubscribe(self._on_processes)
        elif action == "throttle":
            value = request.get("min_interval_seconds")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 3600:
                self._send_error("min_interval_seconds must be a number of seconds from 0 to 3600.")
                return
            self._min_interval = float(value)
        else:
            self._send_error("Unknown action: use pause, resume, throttle or processes.")
            return
        self.write_message(json.dumps({"type": "ack", "action": action}))

    def on_close(self) -> None:
        self.sampler.unsubscribe(self._on_payload)
        self.join.unsubscribe(self._on_processes)

    def _on_processes(self, joined: Joined) -> None:
        """A new process list (process_feed.py), in the view this viewer may read; the
        summary is spliced in here, as it is this moment's."""
        if self._paused:
            return
        reply = self.join.viewer_json(joined, self._grants)
        self._send(b'{"type":"processes","reply":' + _spliced(self.backend_summary(), reply) + b"}")

    def _on_payload(self, payload: bytes) -> None:
        if self._paused:
            return
        is_sample = payload.startswith(b'{"type":"sample"')
        now = asyncio.get_running_loop().time()
        if is_sample:
            if now - self._last_sent < self._min_interval:
                return
            self._last_sent = now
        self._send(payload)

    def _send(self, payload: bytes) -> None:
        """Write unless the client is too far behind to take more (then this one is
        skipped); a closed connection unsubscribes."""
        if self._pending + len(payload) > self.max_pending_bytes:
            return
        try:
            written = self.write_message(payload)
        except websocket.WebSocketClosedError:
            self.on_close()
            return
        self._pending += len(payload)
        written.add_done_callback(functools.partial(self._sent, len(payload)))

    def _sent(self, size: int, written: asyncio.Future[None]) -> None:
        self._pending -= size
        if not written.cancelled():
            written.exception()  # a write to a connection closed meanwhile: nothing to do

    def _send_error(self, message: str) -> None:
        self.write_message(json.dumps({"type": "error", "message": message}))


def _spliced(head: dict[str, Any], body: bytes) -> bytes:
    """A JSON object of head's keys and body's (a serialised object), without re-encoding body."""
    start = json.dumps(head)[:-1].encode()
    return start + (b"," + body[1:] if body != b"{}" else b"}")


def route_handlers() -> list[tuple[str, type]]:
    """Every route of the extension (the auth test enumerates these)."""
    return [
        (rf"/{API}/devices", DevicesHandler),
        (rf"/{API}/samples", SamplesHandler),
        (rf"/{API}/processes", ProcessesHandler),
        (rf"/{API}/stats", StatsHandler),
        (rf"/{API}/collector", CollectorHandler),
        (rf"/{API}/shared-gpus", SharedGPUsHandler),
        (rf"/{API}/policy", PolicyHandler),
        (rf"/{API}/keep", KeepHandler),
        (rf"/{API}/stream", StreamHandler),
    ]

"""The gpuscope Hub service: the instructor's view of the class, its actions, the targets
Prometheus scrapes, and the class's idle policy.

Run by JupyterHub as a service (see docs/hub.md); every setting is a `GPUScopeHub`
option, given on the command line (`--GPUScopeHub.peak_window=6h`) or as a JSON object in
$GPUSCOPE_HUB_SETTINGS (what jupyterhub_config.py passes). Who may do
what is JupyterHub's: the view and the actions need the scope `custom:gpuscope:instructor`,
the targets `custom:gpuscope:scrape`. Every action is confirmed in the page and logged,
with who asked it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from traitlets import Dict, Float, TraitError, Unicode, validate
from traitlets.config import Application, Config

from .classview import QUERIES, class_view
from .hubapi import HubAPI, HubError
from .prometheus import Prometheus, PrometheusError
from .reclaim import IdleRule, ReclaimPolicy
from .targets import scrape_targets

INSTRUCTOR_SCOPE = "custom:gpuscope:instructor"
SCRAPE_SCOPE = "custom:gpuscope:scrape"
#: The scopes to define in the Hub's configuration (c.JupyterHub.custom_scopes).
CUSTOM_SCOPES = {
    INSTRUCTOR_SCOPE: {
        "description": "See every student's GPU use in the gpuscope class view; nudge them, shut down "
        "their idle kernels and stop their servers."
    },
    SCRAPE_SCOPE: {"description": "Read the gpuscope metrics of every running server (for Prometheus)."},
}
STATIC = Path(__file__).with_name("static")
_NAME = re.compile(r"[^/\x00-\x1f]{1,255}")
_DIGEST = re.compile(r"[0-9a-f]{12}")
ACTIONS = ("nudge", "shut_down_kernel", "stop_server")


class GPUScopeHub(Application):
    name = "gpuscope-hub"
    description = "The gpuscope service for a class on JupyterHub."

    prometheus_url = Unicode("http://127.0.0.1:9090", config=True, help="Prometheus's address.")
    prometheus_password_file = Unicode(
        config=True, help="The file holding the password of Prometheus's `gpuscope` user (see web.yml)."
    )
    proxy_url = Unicode(
        "http://127.0.0.1:8000",
        config=True,
        help="""The Hub's proxy as the service reaches it: students' servers are acted on
        through it, and Prometheus is told to scrape them there.""",
    )
    peak_window = Unicode("12h", config=True, help='How far back "peak" looks (a Prometheus duration).')
    peak_source = Unicode(
        "gpuscope_user_gpu_memory_bytes",
        config=True,
        help="""The series "peak" is the maximum of: the gauge itself, or for a large class a
        recording rule's 5-minute maximum of it (docs/hub.md, Scale), which keeps its labels.""",
    )
    slice_sizes = Dict(
        value_trait=Float(),
        config=True,
        help="""Sizes to weigh the class's peaks against, besides the MIG profiles and GPUs the
        class runs on: a name and bytes, e.g. {"a 1g.18gb slice": 16.5 * 2**30}.""",
    )
    idle_rules = Dict(
        config=True,
        help="""The class's idle policy per JupyterHub role, for kernels holding GPU memory:
        {"student": {"nudge_minutes": 20, "shutdown_minutes": 45}}. The student is nudged
        first (as their own server's nudges do); shutdown_minutes 0 or absent: never. Roles
        not listed are left alone. Empty (the default): no policy.""",
    )
    reclaim_seconds = Float(60.0, min=1.0, config=True, help="Seconds between applications of the idle policy.")
    action_log = Unicode(config=True, help="A file to append every action to (JSON lines); empty: the log only.")

    @validate("peak_window")
    def _valid_window(self, proposal):
        if not re.fullmatch(r"[0-9]+[smhdwy]", proposal["value"]):
            raise TraitError(f"peak_window must be a Prometheus duration such as 12h, not {proposal['value']!r}")
        return proposal["value"]

    @validate("peak_source")
    def _valid_source(self, proposal):
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", proposal["value"]):
            raise TraitError(f"peak_source must be a metric name, not {proposal['value']!r}")
        return proposal["value"]

    def initialize(self, argv: list[str] | None = None) -> None:
        try:
            settings = json.loads(os.environ.get("GPUSCOPE_HUB_SETTINGS") or "{}")
        except json.JSONDecodeError as error:
            raise ValueError(f"GPUSCOPE_HUB_SETTINGS is not JSON: {error}") from None
        if not isinstance(settings, dict):
            raise ValueError("GPUSCOPE_HUB_SETTINGS must be a JSON object of GPUScopeHub settings")
        unknown = sorted(set(settings) - set(self.class_own_traits(config=True)))
        if unknown:
            raise ValueError(f"GPUSCOPE_HUB_SETTINGS: no such GPUScopeHub settings: {', '.join(unknown)}")
        self.update_config(Config({"GPUScopeHub": settings}))
        super().initialize(argv)  # the command line wins over the environment
        self.rules = {role: IdleRule.parse(role, value) for role, value in self.idle_rules.items()}
        password = Path(self.prometheus_password_file).read_text().strip() if self.prometheus_password_file else ""
        self.prometheus = Prometheus(self.prometheus_url, password)
        self.hub = HubAPI(os.environ["JUPYTERHUB_API_URL"], self.proxy_url, os.environ["JUPYTERHUB_API_TOKEN"])
        self.policy = ReclaimPolicy(self.rules)
        self.actions: deque[dict[str, Any]] = deque(maxlen=200)

    async def class_view(self) -> dict[str, Any]:
        users = await self.hub.users()
        names = list(QUERIES)
        answers = await asyncio.gather(*(self.prometheus.query(self._query(QUERIES[n])) for n in names))
        view = class_view(
            users, dict(zip(names, answers)), window=self.peak_window, configured_sizes=dict(self.slice_sizes)
        )
        view["idle_rules"] = {role: vars(rule) for role, rule in self.rules.items()}
        view["actions"] = list(self.actions)[-20:]
        view["generated_at"] = time.time()
        return view

    def _query(self, template: str) -> str:
        return template.replace("{window}", self.peak_window).replace("{peak_source}", self.peak_source)

    async def act(self, by: str, action: str, user: str, server: str, kernel: str = "", note: str = "") -> str:
        """Carry out one action; returns what was done, in words. Logged whether it worked or not."""
        entry = {"at": time.time(), "by": by, "action": action, "user": user, "server": server, "kernel": kernel}
        try:
            model = await self.hub.user(user)
            running = (model.get("servers") or {}).get(server)
            if not running or not running.get("url"):
                raise HubError(f"{user} has no running server named {server!r}")
            if action == "stop_server":
                await self.hub.stop_server(user, server)
                done = f"stopped {user}'s server"
            else:
                await self.hub.class_action(
                    running["url"], "nudge" if action == "nudge" else "shut_down", kernel, by, note
                )
                done = f"nudged {user}" if action == "nudge" else f"shut down a kernel of {user}"
        except HubError as error:
            entry.update(outcome="failed", detail=str(error))
            self._record(entry)
            raise
        entry.update(outcome="done", detail=done)
        self._record(entry)
        return done

    def _record(self, entry: dict[str, Any]) -> None:
        self.actions.append(entry)
        self.log.warning("gpuscope action: %s", json.dumps(entry))
        if self.action_log:
            with open(self.action_log, "a") as file:
                file.write(json.dumps(entry) + "\n")

    async def reclaim(self) -> None:
        """One round of the class's idle policy."""
        if not self.rules:
            return
        try:
            view = await self.class_view()
        except (HubError, PrometheusError) as error:
            self.log.warning("gpuscope: the idle policy skipped a round: %s", error)
            return
        roles = {s["user"]: s["roles"] for s in view["students"]}
        kernels = [k for s in view["students"] for k in s["kernels"]]
        for decision in self.policy.decide(kernels, roles):
            kernel = decision.kernel
            minutes = (kernel["idle_seconds"] or 0) / 60
            note = f"Idle {minutes:.0f} min holding GPU memory."
            if decision.action == "nudge" and decision.rule.shutdown_minutes:
                left = decision.rule.shutdown_minutes - minutes
                note += f" It will be shut down in about {max(left, 0):.0f} min unless it runs again."
            action = "nudge" if decision.action == "nudge" else "shut_down_kernel"
            try:
                await self.act(
                    "the class's idle policy", action, kernel["user"], kernel["server"], kernel["kernel"], note
                )
            except HubError:
                continue  # logged; tried again next round if still idle

    def make_app(self) -> web.Application:
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/gpuscope/")
        settings = {
            "gpuscope": self,
            "cookie_secret": secrets.token_bytes(32),
            # No tornado XSRF pre-check: HubOAuth checks the XSRF token of every
            # cookie-authenticated request that changes something (a token in a header
            # needs none), and refuses the cookie without it.
            "static_path": str(STATIC),
            "static_url_prefix": url_path_join(prefix, "static/"),
            "template_path": str(STATIC),
            "log_function": _log_request,
        }
        return web.Application(
            [
                (prefix, ClassPageHandler),
                (url_path_join(prefix, "api/class"), ClassViewHandler),
                (url_path_join(prefix, "api/actions"), ActionsHandler),
                (url_path_join(prefix, "targets"), TargetsHandler),
                (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
                (r".*", NotFoundHandler),
            ],
            **settings,
        )

    def start(self) -> None:
        logging.basicConfig(level=logging.INFO, format="[gpuscope-hub %(asctime)s] %(message)s")
        self.log.setLevel(logging.INFO)
        asyncio.run(self.serve())

    async def serve(self) -> None:
        url = urlsplit(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
        HTTPServer(self.make_app(), xheaders=True).listen(url.port or 80, url.hostname or "127.0.0.1")
        if self.rules:
            PeriodicCallback(self.reclaim, self.reclaim_seconds * 1000).start()
        self.log.info("gpuscope-hub: listening on %s; Prometheus at %s", url.geturl(), self.prometheus_url)
        await asyncio.Event().wait()  # until JupyterHub stops the service


def _log_request(handler: web.RequestHandler) -> None:
    """Tornado's access log, without query strings (a token may ride in one)."""
    request = handler.request
    logging.getLogger("tornado.access").info(
        "%d %s %s %.1fms", handler.get_status(), request.method, request.path, 1000 * request.request_time()
    )


class _ServiceHandler(HubOAuthenticated, web.RequestHandler):
    """Authenticated by the Hub (OAuth cookie or token); only users with `hub_scopes` get in."""

    hub_scopes = {INSTRUCTOR_SCOPE}

    @property
    def gpuscope(self) -> GPUScopeHub:
        return self.settings["gpuscope"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        error = kwargs.get("exc_info", (None, None))[1]
        if isinstance(error, web.HTTPError) and error.log_message:
            reason = error.log_message % error.args if error.args else error.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "message": reason}))

    def require_user(self) -> dict[str, Any]:
        """The API's check: 403 with a reason, never a redirect to the login page."""
        if not self.current_user:
            raise web.HTTPError(
                403, f"This needs a JupyterHub login or token with the scope {next(iter(self.hub_scopes))}."
            )
        return self.current_user


class ClassPageHandler(_ServiceHandler):
    @web.authenticated
    def get(self) -> None:
        self.render("index.html", user=self.current_user["name"], xsrf=self.xsrf_token.decode())


class ClassViewHandler(_ServiceHandler):
    async def get(self) -> None:
        self.require_user()
        try:
            view = await self.gpuscope.class_view()
        except (HubError, PrometheusError) as error:
            raise web.HTTPError(503, "The class view is unavailable: %s", error) from error
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(view))


class ActionsHandler(_ServiceHandler):
    async def post(self) -> None:
        user = self.require_user()
        try:
            body = json.loads(self.request.body or b"null")
            action, student, server = body["action"], body["user"], body.get("server", "")
        except (ValueError, TypeError, KeyError, RecursionError):
            raise web.HTTPError(400, 'Send {"action": ..., "user": ..., "server": ..., "kernel": ...}.') from None
        kernel, note = body.get("kernel", ""), body.get("note", "")
        if action not in ACTIONS:
            raise web.HTTPError(400, "action must be one of %s, not %r.", ", ".join(ACTIONS), action)
        if not isinstance(student, str) or not _NAME.fullmatch(student):
            raise web.HTTPError(400, "user must be a Hub user's name.")
        if not isinstance(server, str) or (server and not _NAME.fullmatch(server)):
            raise web.HTTPError(400, "server must be a server's name ('' for the default server).")
        if action != "stop_server" and (not isinstance(kernel, str) or not _DIGEST.fullmatch(kernel)):
            raise web.HTTPError(400, "kernel must be the kernel's 12-digit digest from the class view.")
        if not isinstance(note, str) or len(note) > 500:
            raise web.HTTPError(400, "note must be a string of at most 500 characters.")
        try:
            done = await self.gpuscope.act(user["name"], action, student, server, kernel, note)
        except HubError as error:
            raise web.HTTPError(502, "%s", error) from error
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"done": done}))


class TargetsHandler(_ServiceHandler):
    """Prometheus's HTTP service discovery (only for a token with the scrape scope)."""

    hub_scopes = {SCRAPE_SCOPE}

    async def get(self) -> None:
        self.require_user()
        try:
            users = await self.gpuscope.hub.users()
        except HubError as error:
            raise web.HTTPError(503, "The Hub could not list the running servers: %s", error) from error
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(scrape_targets(users, self.gpuscope.proxy_url)))


class NotFoundHandler(_ServiceHandler):
    def prepare(self) -> None:
        raise web.HTTPError(404, "No such page in the gpuscope service.")


def main(argv: list[str] | None = None) -> None:
    app = GPUScopeHub()
    app.initialize(sys.argv[1:] if argv is None else argv)
    app.start()


if __name__ == "__main__":
    main()

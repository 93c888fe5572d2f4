"""The two routes a class on JupyterHub uses in each student's server.

- `GET {base_url}/gpuscope/metrics`: gpuscope's gauges alone (not the server's whole
  /metrics), per kernel, for Prometheus. It answers the server's own user, and a JupyterHub
  token that carries the scope `custom:gpuscope:scrape` and nothing else is needed: the
  Hub is asked what the token may do (cached for a minute), so the scraper's token opens
  no notebook, file or kernel.
- `POST {base_url}/gpuscope/api/class-action`: what the gpuscope Hub service does for an
  instructor: nudge the owner of a kernel (a notification in their JupyterLab) or shut the
  kernel down. The kernel is named by the digest the metrics carry, never by its id. It
  needs the permission to change kernels here, which the Hub gives the service (and the
  server's own user).
"""

from __future__ import annotations

import os
import re
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated, authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from tornado import web

from .routes import API, AUTH_RESOURCE, _GPUScopeMixin

SCRAPE_SCOPE = "custom:gpuscope:scrape"
_TOKEN = re.compile(r"(?:token|bearer)\s+(\S+)\s*$", re.IGNORECASE)
_DIGEST = re.compile(r"[0-9a-f]{12}")
#: What an instructor's note may say: one short paragraph.
MAX_NOTE_CHARS = 500


class ClassMetricsHandler(_GPUScopeMixin, JupyterHandler):
    auth_resource = AUTH_RESOURCE

    @allow_unauthenticated  # checked below: this server's user, or the Hub's scrape scope
    async def get(self) -> None:
        if not (self.current_user and await self.may("read", AUTH_RESOURCE)) and not await self._scraper():
            raise web.HTTPError(
                403, f"Reading gpuscope's metrics needs this server's user or the {SCRAPE_SCOPE} scope."
            )
        registry: CollectorRegistry = self.settings["gpuscope_class_registry"]
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(registry))

    async def _scraper(self) -> bool:
        """Whether the request carries a Hub token with the scrape scope."""
        match = _TOKEN.match(self.request.headers.get("Authorization", ""))
        hub_auth = _hub_auth(self.settings)
        if match is None or hub_auth is None:
            return False
        try:
            model = await hub_auth.user_for_token(match.group(1), sync=False)
        except Exception:  # the Hub down or refusing: no scraper can be recognised
            self.log.warning("gpuscope: the Hub could not check a scraper's token", exc_info=True)
            return False
        return bool(model) and SCRAPE_SCOPE in (model.get("scopes") or [])

    def check_xsrf_cookie(self) -> None:
        """A GET that changes nothing: Prometheus sends no XSRF cookie."""


def _hub_auth(settings: dict[str, Any]) -> Any:
    """JupyterHub's client for checking tokens, made once; None outside a Hub."""
    if "gpuscope_hub_auth" not in settings:
        hub_auth = None
        if os.environ.get("JUPYTERHUB_API_URL") and os.environ.get("JUPYTERHUB_API_TOKEN"):
            from jupyterhub.services.auth import HubAuth  # present wherever a Hub spawned the server

            hub_auth = HubAuth(cache_max_age=60)
        settings["gpuscope_hub_auth"] = hub_auth
    return settings["gpuscope_hub_auth"]


class ClassActionHandler(_GPUScopeMixin, APIHandler):
    """POST {"action": "nudge" | "shut_down", "kernel": digest, "by": name, "note": text}."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def post(self) -> None:
        usage = 'Send {"action": "nudge" or "shut_down", "kernel": "<digest>"}.'
        body = self.json_fields(usage, "action", "kernel")
        action, digest = body["action"], body["kernel"]
        by, note = body.get("by") or "your instructor", body.get("note") or ""
        if action not in ("nudge", "shut_down"):
            raise web.HTTPError(400, f"action must be nudge or shut_down, not {action!r}.")
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            raise web.HTTPError(400, "kernel must be the 12-digit digest gpuscope's metrics label a kernel with.")
        if not isinstance(by, str) or not isinstance(note, str) or len(by) > 100 or len(note) > MAX_NOTE_CHARS:
            raise web.HTTPError(400, f"by and note must be strings (at most 100 and {MAX_NOTE_CHARS} characters).")
        if not await self.may("write", "kernels"):
            raise web.HTTPError(403, "Acting on a kernel needs permission to change kernels.")
        kernel = self.watcher.kernel_by_digest(digest)
        if kernel is None:
            raise web.HTTPError(404, "No kernel of this server has that digest.")
        if action == "nudge":
            self.watcher.nudge(kernel, by, note)
        elif not await self.watcher.shut_down_for(kernel, by):
            raise web.HTTPError(500, "The kernel could not be shut down; the server's log says why.")
        self.set_status(204)
        self.finish()


def class_route_handlers() -> list[tuple[str, type]]:
    return [(r"/gpuscope/metrics", ClassMetricsHandler), (rf"/{API}/class-action", ClassActionHandler)]

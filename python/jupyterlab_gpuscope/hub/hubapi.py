"""What the service asks of and does through JupyterHub, with its own token: the users with
running servers (and their roles), stopping a server, and the class actions of a student's
server (through the proxy, as any client reaches it)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

PAGINATION_MEDIA_TYPE = "application/jupyterhub-pagination+json"


class HubError(Exception):
    """The Hub or a server refused or could not be reached; the message says which."""


class HubAPI:
    def __init__(self, api_url: str, proxy_url: str, token: str, timeout: float = 20.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.proxy_url = proxy_url.rstrip("/")
        self._headers = {"Authorization": f"token {token}"}
        self.timeout = timeout

    async def _fetch(self, url: str, method: str = "GET", body: Any = None, accept: str = "application/json") -> Any:
        request = HTTPRequest(
            url,
            method=method,
            headers={**self._headers, "Content-Type": "application/json", "Accept": accept},
            body=None if body is None else json.dumps(body),
            allow_nonstandard_methods=True,
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        try:
            response = await AsyncHTTPClient().fetch(request)
        except HTTPClientError as error:
            detail = ""
            if error.response is not None and error.response.body:
                try:
                    detail = json.loads(error.response.body).get("message") or ""
                except ValueError:
                    detail = ""
            raise HubError(f"{method} {url} answered {error.code}{': ' + detail if detail else ''}") from error
        except OSError as error:
            raise HubError(f"{url} cannot be reached: {error}") from error
        return json.loads(response.body) if response.body else None

    async def users(self) -> list[dict[str, Any]]:
        """Users with a running server, with their servers and roles: every page of them
        (the Hub gives 50 a page unless asked, 200 at most)."""
        users: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = await self._fetch(
                f"{self.api_url}/users?state=active&limit=200&offset={offset}", accept=PAGINATION_MEDIA_TYPE
            )
            users.extend(page["items"])
            following = page["_pagination"]["next"]
            offset = following["offset"] if following else None
        return users

    async def user(self, name: str) -> dict[str, Any]:
        return await self._fetch(f"{self.api_url}/users/{quote(name, safe='')}")

    async def stop_server(self, user: str, server: str) -> None:
        path = (
            f"/users/{quote(user, safe='')}/servers/{quote(server, safe='')}"
            if server
            else f"/users/{quote(user, safe='')}/server"
        )
        await self._fetch(self.api_url + path, method="DELETE")

    async def class_action(self, server_url: str, action: str, kernel: str, by: str, note: str = "") -> None:
        """`server_url`: the server's path from the Hub (/user/alice/)."""
        url = f"{self.proxy_url}{server_url.rstrip('/')}/gpuscope/api/class-action"
        await self._fetch(url, method="POST", body={"action": action, "kernel": kernel, "by": by, "note": note})

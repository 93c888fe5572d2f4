"""Every route of the extension refuses requests without credentials or permission."""

from __future__ import annotations

import re

import pytest
from tornado.httpclient import HTTPClientError
from tornado.routing import Router

from .wire import stream_message


def gpuscope_paths(web_app) -> list[str]:
    """Every URL path the running server routes to this extension (found, not listed by hand)."""
    paths: list[str] = []

    def walk(router: Router) -> None:
        for rule in getattr(router, "rules", []):
            if isinstance(rule.target, Router):
                walk(rule.target)
                continue
            module = getattr(rule.target, "__module__", "") or ""
            pattern = getattr(rule.matcher, "regex", None)
            if module.startswith("jupyterlab_gpuscope") and pattern is not None:
                paths.append(re.sub(r"\$$", "", pattern.pattern))

    walk(web_app.default_router)
    return paths


def test_the_enumeration_finds_every_route(jp_serverapp):
    paths = gpuscope_paths(jp_serverapp.web_app)
    names = sorted(p.rsplit("/", 1)[-1] for p in paths)
    assert names == [
        "class-action",
        "collector",
        "devices",
        "keep",
        "metrics",
        "policy",
        "processes",
        "samples",
        "shared-gpus",
        "stats",
        "stream",
    ]


def request_for(parts: list[str]) -> dict:
    """The method each route answers: `keep` and `class-action` take a POST, every other route a GET."""
    return {"method": "POST", "body": "{}"} if parts[-1] in ("keep", "class-action") else {}


def route_parts(web_app, base_url: str) -> list[list[str]]:
    return [path[len(base_url) :].split("/") for path in gpuscope_paths(web_app)]


@pytest.mark.parametrize("authorization", ["", "token not-the-token"], ids=["no-token", "wrong-token"])
async def test_every_route_refuses_requests_without_a_valid_token(jp_serverapp, jp_fetch, jp_ws_fetch, authorization):
    routes = route_parts(jp_serverapp.web_app, jp_serverapp.base_url)
    assert routes
    headers = {"Authorization": authorization}
    for parts in routes:
        with pytest.raises(HTTPClientError) as error:
            await jp_fetch(*parts, headers=headers, follow_redirects=False, **request_for(parts))
        assert error.value.code in (401, 403), parts
        # And the same path as a websocket upgrade: refused before the upgrade.
        with pytest.raises(HTTPClientError) as error:
            await jp_ws_fetch(*parts, headers=headers)
        assert error.value.code in (401, 403), parts


async def test_every_route_and_the_stream_accept_the_token_in_the_query(jp_serverapp, jp_fetch, jp_ws_fetch):
    """jupyter_server's standard `?token=` authentication (JupyterLab puts it in socket URLs
    when `appendToken` is on): accepted everywhere, as the server's own routes accept it."""
    token = jp_serverapp.identity_provider.token
    no_header = {"Authorization": ""}
    for parts in route_parts(jp_serverapp.web_app, jp_serverapp.base_url):
        if parts[-1] == "stream":
            ws = await jp_ws_fetch(*parts, headers=no_header, params={"token": token})
            assert (await stream_message(ws))["type"] == "hello"
            ws.close()
        elif parts[-1] in ("keep", "class-action"):
            with pytest.raises(HTTPClientError) as error:  # authenticated: the body is what is wrong
                await jp_fetch(*parts, headers=no_header, params={"token": token}, method="POST", body="{}")
            assert error.value.code == 400, parts
        else:
            response = await jp_fetch(*parts, headers=no_header, params={"token": token})
            assert response.code == 200, parts
    # A wrong token in the query is still refused.
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("gpuscope", "api", "devices", headers=no_header, params={"token": "not-it"})
    assert error.value.code == 403

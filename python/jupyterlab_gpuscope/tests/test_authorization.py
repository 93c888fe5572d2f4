"""An authenticated user whom the authorizer denies the `gpuscope` resource gets 403 everywhere."""

from __future__ import annotations

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError

from .test_auth import gpuscope_paths, request_for


class DenyGPUScope(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return resource != "gpuscope"


@pytest.fixture
def jp_server_config(gpuscope_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyterlab_gpuscope": True},
            "allow_unauthenticated_access": False,
            "authorizer_class": DenyGPUScope,
        },
        "GPUScope": gpuscope_config,
    }


async def test_every_route_is_authorized_against_the_gpuscope_resource(jp_serverapp, jp_fetch, jp_ws_fetch):
    base = jp_serverapp.base_url
    for path in gpuscope_paths(jp_serverapp.web_app):
        parts = path[len(base) :].split("/")
        if parts[-1] == "stream":
            with pytest.raises(HTTPClientError) as error:
                await jp_ws_fetch(*parts)
        else:
            with pytest.raises(HTTPClientError) as error:
                await jp_fetch(*parts, **request_for(parts))
        assert error.value.code == 403, path
    # The same user still reaches the server's own API: only gpuscope is denied.
    response = await jp_fetch("api", "status")
    assert response.code == 200

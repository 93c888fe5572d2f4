"""Authorization: the `gpuscope` resource for every route, and for what a reply says of the
server's kernels, the resources jupyter_server's own routes ask for (kernel ids and states:
`kernels`; notebook paths: `sessions`; keeping a kernel: changing `kernels`)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError

from .fake_nvml import GiB
from .test_auth import gpuscope_paths, request_for
from .wire import stream_message

NOTEBOOK = "course/week1-secret-project.ipynb"


class Denying(Authorizer):
    """Allows everything but the (action, resource) pairs in `denied`."""

    denied: frozenset[tuple[str, str]] = frozenset()

    def is_authorized(self, handler, user, action, resource):
        return (action, resource) not in self.denied and ("*", resource) not in self.denied


@pytest.fixture
def gpuscope_config():
    return {"backend": "nvml", "interval_seconds": 0.25, "check_seconds": 0.25}


@pytest.fixture
def jp_server_config(gpuscope_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyterlab_gpuscope": True},
            "allow_unauthenticated_access": False,
            "authorizer_class": Denying,
        },
        "GPUScope": gpuscope_config,
    }


@pytest.fixture
def deny(monkeypatch):
    def set_denied(*pairs: tuple[str, str]) -> None:
        monkeypatch.setattr(Denying, "denied", frozenset(pairs))

    return set_denied


@pytest.fixture
def kernel_on_gpu(fake_nvml, jp_serverapp, jp_asyncio_loop):
    """A notebook's kernel, started by the server itself (no route asked), whose process
    the fake NVML lists on GPU 0 with 3 GiB: (kernel id, PID)."""
    session = jp_asyncio_loop.run_until_complete(
        jp_serverapp.session_manager.create_session(path=NOTEBOOK, type="notebook", kernel_name="python3")
    )
    kernel_id = session["kernel"]["id"]
    pid = jp_serverapp.kernel_manager.get_kernel(kernel_id).provisioner.pid
    fake_nvml.processes[0] = [(pid, 3 * GiB)]
    return kernel_id, pid


async def settled(get_json, route: str, timeout: float = 15.0) -> tuple[dict, str]:
    """The route's reply once it lists the kernel's process (and, for usage, its memory)."""
    deadline = time.monotonic() + timeout
    while True:
        body = await get_json(route)
        ready = bool(body["gpus"]) and (
            any(p["used_memory"] == 3 * GiB for p in body["gpus"][0]["processes"])
            if route == "processes"
            else body["gpus"][0]["mine"] == 3 * GiB
        )
        if ready:
            return body, json.dumps(body)
        assert time.monotonic() < deadline, f"{route} never listed the kernel: {json.dumps(body)[:2000]}"
        await asyncio.sleep(0.1)


async def pushed_processes(jp_ws_fetch) -> str:
    """The stream's process push, once it lists the kernel's process."""
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    try:
        ws.write_message(json.dumps({"action": "processes", "on": True}))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            message = await stream_message(ws, 15)
            if message["type"] == "processes" and message["reply"]["gpus"][0]["processes"]:
                return json.dumps(message)
        raise AssertionError("no process list with the kernel's process was pushed")
    finally:
        ws.close()


async def test_every_route_is_authorized_against_the_gpuscope_resource(deny, jp_serverapp, jp_fetch, jp_ws_fetch):
    deny(("*", "gpuscope"), ("read", "gpuscope"), ("write", "gpuscope"), ("execute", "gpuscope"))
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


async def test_a_user_allowed_everything_sees_the_kernel_and_its_notebook(deny, kernel_on_gpu, get_json, jp_ws_fetch):
    deny()
    kernel_id, _ = kernel_on_gpu
    for route in ("processes", "shared-gpus"):
        _, text = await settled(get_json, route)
        assert kernel_id in text and NOTEBOOK in text, route
    pushed = await pushed_processes(jp_ws_fetch)
    assert kernel_id in pushed and NOTEBOOK in pushed


async def test_a_user_who_may_not_read_kernels_is_told_no_kernel_id_anywhere(
    deny, kernel_on_gpu, get_json, jp_ws_fetch
):
    deny(("read", "kernels"))
    kernel_id, pid = kernel_on_gpu
    body, text = await settled(get_json, "processes")
    [process] = body["gpus"][0]["processes"]
    # The process and its memory are still this user's; which kernel it is, is not said
    # (nor its command line, which names the kernel's connection file).
    assert process["pid"] == pid and process["owner"] == "self"
    assert process["kernel"] is None and process["cmdline"] is None
    assert kernel_id not in text and NOTEBOOK not in text
    usage, text = await settled(get_json, "shared-gpus")
    assert usage["gpus"][0]["mine"] == 3 * GiB
    assert usage["kernels"] == [] and usage["idle"] == []
    assert kernel_id not in text and NOTEBOOK not in text
    pushed = await pushed_processes(jp_ws_fetch)
    assert kernel_id not in pushed and NOTEBOOK not in pushed


async def test_a_user_who_may_not_read_sessions_is_told_no_notebook_path(deny, kernel_on_gpu, get_json, jp_ws_fetch):
    deny(("read", "sessions"))
    kernel_id, _ = kernel_on_gpu
    body, text = await settled(get_json, "processes")
    assert body["gpus"][0]["processes"][0]["kernel"] == {
        "id": kernel_id,
        "name": "python3",
        "execution_state": body["gpus"][0]["processes"][0]["kernel"]["execution_state"],
        "notebook_path": None,
    }
    assert NOTEBOOK not in text
    usage, text = await settled(get_json, "shared-gpus")
    assert [k["id"] for k in usage["kernels"]] == [kernel_id]
    assert NOTEBOOK not in text
    pushed = await pushed_processes(jp_ws_fetch)
    assert kernel_id in pushed and NOTEBOOK not in pushed


async def test_keeping_a_kernel_needs_permission_to_change_kernels(deny, kernel_on_gpu, jp_fetch):
    kernel_id, _ = kernel_on_gpu
    keep = {"method": "POST", "body": json.dumps({"kernel_id": kernel_id})}
    deny(("write", "kernels"))
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("gpuscope", "api", "keep", **keep)
    assert error.value.code == 403
    assert "permission to change kernels" in json.loads(error.value.response.body)["message"]
    deny()
    response = await jp_fetch("gpuscope", "api", "keep", **keep)
    assert response.code == 204

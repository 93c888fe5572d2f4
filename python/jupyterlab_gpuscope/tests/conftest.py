from __future__ import annotations

import asyncio
import json

import pytest

from jupyterlab_gpuscope.extension import GPUScope
from jupyterlab_gpuscope.monitor.backends import NvmlBackend

from .fake_nvml import FakeNVML
from .wire import ROUTE_REPLIES, assert_matches

pytest_plugins = ("pytest_jupyter.jupyter_server",)


def pytest_collection_modifyitems(items):
    """Tests that build or install the release wheel are marked `wheel`: they take minutes,
    so `make test-fast` leaves them to `make test`."""
    for item in items:
        if {"release_wheel", "installed_wheel"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.wheel)


@pytest.fixture
def gpuscope_config() -> dict:
    """Override in a test module (or with `indirect`) to change c.GPUScope."""
    return {"backend": "replay", "interval_seconds": 0.25}


@pytest.fixture
def jp_server_config(gpuscope_config):
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyterlab_gpuscope": True},
            "allow_unauthenticated_access": False,
        },
        "GPUScope": gpuscope_config,
    }


@pytest.fixture
def jp_serverapp(jp_serverapp, jp_asyncio_loop):
    """The server with its extensions started: a real server starts them (the sampler,
    the watcher) in ServerApp.start(), which pytest-jupyter's fixture does not call."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp


@pytest.fixture
def fake_nvml(monkeypatch) -> FakeNVML:
    """Serve the NVML backend over a fault-injecting fake (c.GPUScope.backend = 'nvml')."""
    fake = FakeNVML(gpus=2)
    monkeypatch.setattr(GPUScope, "make_backend", lambda self: NvmlBackend(nvml=fake))
    return fake


@pytest.fixture
def get_json(jp_fetch):
    async def get(*path: str, **params) -> dict:
        response = await jp_fetch("gpuscope", "api", *path, params=params or None)
        assert response.code == 200
        body = json.loads(response.body)
        assert_matches(ROUTE_REPLIES[path[0]], body)
        return body

    return get


@pytest.fixture
def start_notebook(jp_fetch, jp_serverapp):
    """Starts a notebook session's kernel as JupyterLab does: (kernel id, its PID). The
    server fixture shuts its kernels down at the end of the test."""

    async def start(path: str) -> tuple[str, int]:
        response = await jp_fetch(
            "api",
            "sessions",
            method="POST",
            body=json.dumps({"path": path, "type": "notebook", "kernel": {"name": "python3"}}),
        )
        kernel_id = json.loads(response.body)["kernel"]["id"]
        return kernel_id, jp_serverapp.kernel_manager.get_kernel(kernel_id).provisioner.pid

    return start


@pytest.fixture
def wait_for_samples(get_json):
    async def wait(count: int = 1, timeout: float = 10.0) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            body = await get_json("samples")
            if len(body["samples"]) >= count:
                return body
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {count} samples within {timeout}s: {body}")
            await asyncio.sleep(0.1)

    return wait


@pytest.fixture
def kernel():
    """A real python3 kernel and a client connected to it."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)

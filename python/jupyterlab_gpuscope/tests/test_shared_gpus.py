"""Shared GPUs on a running server: soft limits, idle kernels (fake clock), metrics, and
privacy against processes of a second OS user created in the test."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from jupyterlab_gpuscope.monitor import metrics
from jupyterlab_gpuscope.monitor.processes import KernelInfo

from .fake_nvml import GiB
from .test_shared_gpus_policy import MINUTE, FakeClock

NOTEBOOK = "class/week1.ipynb"


@pytest.fixture
def gpuscope_config():
    return {
        "backend": "nvml",
        "interval_seconds": 0.25,
        "check_seconds": 0.25,
        "user_memory_limit_bytes": 4 * GiB,
        "idle_kernel_minutes": 30,
        "idle_kernel_shutdown_minutes": 10,
    }


@pytest.fixture
def gpuscope(jp_serverapp):
    return jp_serverapp.extension_manager.extension_points["jupyterlab_gpuscope"].app


@pytest.fixture
def start_session(start_notebook):
    """Starts a kernel of the class notebook: (kernel id, its PID)."""
    return lambda: start_notebook(NOTEBOOK)


async def usage_when(get_json, condition, timeout: float = 10.0, check=None) -> dict:
    """The `usage` body once `condition` holds. With `check` (a stopped watcher's own
    round), a round is run before each read: a stopped watcher's snapshot never changes."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if check is not None:
            await check()
        body = await get_json("shared-gpus")
        if condition(body):
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"usage never matched: {body}")
        await asyncio.sleep(0.1)


async def test_the_users_memory_is_shown_against_the_limit(fake_nvml, start_session, get_json):
    kernel_id, pid = await start_session()
    fake_nvml.processes[0] = [(pid, int(3.8 * GiB))]
    body = await usage_when(get_json, lambda b: b["gpus"] and b["gpus"][0]["mine"] > 0)
    gpu = body["gpus"][0]
    assert gpu["mine"] == int(3.8 * GiB) and gpu["limit"] == 4 * GiB and gpu["state"] == "near"
    assert body["gpus"][1]["state"] == "ok"
    [held] = body["kernels"]
    assert held["id"] == kernel_id and held["notebook_path"] == NOTEBOOK and held["gpus"] == [0]
    assert body["policy"]["user_memory_limit_bytes"] == 4 * GiB
    assert body["policy"]["memory_warning_percent"] is None  # not set: each user's own
    fake_nvml.processes[0] = [(pid, 5 * GiB)]
    body = await usage_when(get_json, lambda b: b["gpus"][0]["state"] == "over")
    assert body["live"] is True and body["backend"] == "nvml"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def connect_until_idle(jp_serverapp, jp_ws_fetch, kernel_id: str):
    """Connect to the kernel as the notebook page does; the server then tracks its state."""
    channels = await jp_ws_fetch("api", "kernels", kernel_id, "channels")
    for _ in range(150):
        if jp_serverapp.kernel_manager.get_kernel(kernel_id).execution_state == "idle":
            return channels
        await asyncio.sleep(0.1)
    raise AssertionError("the kernel never became idle")


async def test_an_idle_kernel_is_nudged_kept_then_shut_down_with_every_action_logged(
    fake_nvml, start_session, gpuscope, jp_serverapp, jp_fetch, jp_ws_fetch, get_json
):
    kernel_id, pid = await start_session()
    fake_nvml.processes[1] = [(pid, 2 * GiB)]
    channels = await connect_until_idle(jp_serverapp, jp_ws_fetch, kernel_id)
    watcher = gpuscope.shared_gpus
    watcher.stop()  # the test drives the checks itself
    clock = FakeClock(jp_serverapp.kernel_manager.get_kernel(kernel_id).last_activity.timestamp())
    watcher.clock = watcher.idle.clock = clock
    records = Records()
    gpuscope.log.addHandler(records)
    try:
        # The watcher is stopped: its last round may have come before the sampler saw the
        # process, so the test runs the rounds until one has.
        await usage_when(get_json, lambda b: b["kernels"], check=watcher.check)
        clock.now += 31 * MINUTE
        await watcher.check()
        [idle] = (await get_json("shared-gpus"))["idle"]
        assert idle["kernel_id"] == kernel_id and idle["notebook_path"] == NOTEBOOK
        assert idle["used_memory"] == 2 * GiB and idle["gpus"] == [1]
        assert idle["shutdown_at"] == pytest.approx(clock.now - MINUTE + 10 * MINUTE)

        response = await jp_fetch("gpuscope", "api", "keep", method="POST", body=json.dumps({"kernel_id": kernel_id}))
        assert response.code == 204
        assert (await get_json("shared-gpus"))["idle"] == []

        clock.now += 31 * MINUTE
        await watcher.check()
        [again] = (await get_json("shared-gpus"))["idle"]
        assert again["nudge_id"] != idle["nudge_id"]
        clock.now += 10 * MINUTE
        await watcher.check()
        assert kernel_id not in jp_serverapp.kernel_manager
        body = await get_json("shared-gpus")
        [shut] = body["shut_down"]
        assert shut["kernel_id"] == kernel_id and shut["notebook_path"] == NOTEBOOK and shut["used_memory"] == 2 * GiB
        assert body["idle"] == []
    finally:
        gpuscope.log.removeHandler(records)
        channels.close()
    logged = "\n".join(records.messages)
    assert "idle and holds 2.00 GiB" in logged
    assert "kept idle kernel" in logged
    assert f"shutting down kernel {kernel_id} ({NOTEBOOK})" in logged


async def test_keep_refuses_bad_requests(jp_fetch):
    for body, code in (
        ("not json", 400),
        ("{}", 400),
        ('{"kernel_id": 5}', 400),
        ('{"kernel_id": "nope"}', 400),
        ('{"kernel_id": "0123abcd"}', 404),
    ):
        with pytest.raises(HTTPClientError) as error:
            await jp_fetch("gpuscope", "api", "keep", method="POST", body=body)
        assert error.value.code == code, body


async def test_metrics_serve_the_samplers_reading_and_kernel_series_only_when_enabled(
    fake_nvml, start_session, jp_fetch, jp_ws_fetch, get_json
):
    kernel_id, pid = await start_session()
    fake_nvml.processes[0] = [(pid, 3 * GiB)]
    # A viewer: the slow fields (GPM among them) are then read every sample, not every 10 s.
    stream = await jp_ws_fetch("gpuscope", "api", "stream")
    for _ in range(3):
        await stream.read_message()  # the hello, then two samples: GPM needs two readings
    await usage_when(get_json, lambda b: b["kernels"])
    text = (await jp_fetch("metrics")).body.decode()
    stream.close()
    assert 'gpuscope_backend_live{backend="nvml"} 1.0' in text
    used = [line for line in text.splitlines() if line.startswith("gpuscope_gpu_memory_used_bytes{")]
    assert len(used) == 2 and 'gpu="0"' in used[0] and 'backend="nvml"' in used[0]
    assert "gpuscope_gpu_utilization_ratio{" in text and "gpuscope_gpu_power_watts{" in text
    # GPM (the fake H200 has it, idle: 0 %) beside the classic figure; no NVLink: no series.
    assert [line for line in text.splitlines() if line.startswith("gpuscope_gpu_sm_activity_ratio{")]
    assert "gpuscope_gpu_nvlink_rx_bytes_per_second{" not in text
    assert "gpuscope_kernel_gpu_memory_bytes{" not in text and kernel_id not in text

    metrics._registered.per_kernel = True  # as with c.GPUScope.metrics_per_kernel = True
    text = (await jp_fetch("metrics")).body.decode()
    [series] = [line for line in text.splitlines() if line.startswith("gpuscope_kernel_gpu_memory_bytes{")]
    # Per kernel, but neither the kernel's id nor the user's name unless the admin allows names.
    assert (
        f'kernel="{KernelInfo(kernel_id, "", None, None, None).digest}"' in series
        and float(series.rsplit(" ", 1)[1]) == 3 * GiB
    )
    assert kernel_id not in text and 'user="' not in text
    metrics._registered.names = True  # as with c.GPUScope.metrics_names = True
    text = (await jp_fetch("metrics")).body.decode()
    [series] = [line for line in text.splitlines() if line.startswith("gpuscope_kernel_gpu_memory_bytes{")]
    assert f'kernel_id="{kernel_id}"' in series and 'user="' in series

    # Every metric the documented Grafana dashboard queries exists.
    dashboard = json.loads((Path(__file__).parents[3] / "docs" / "grafana-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for t in panel["targets"]
        for name in re.findall(r"gpuscope_\w+", t["expr"])
    }
    exported = set(re.findall(r"^(gpuscope_\w+)(?:\{| )", text, re.MULTILINE))
    assert queried and queried <= exported, queried - exported


# ---- privacy: processes of a second OS user ------------------------------------------------------

MARKER = "61.2345"  # the other user's command line: `sleep 61.2345`


@pytest.fixture
def other_user_process():
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("creating a second OS user needs root and useradd (CI runs as root)")
    name = f"gs{uuid.uuid4().hex[:10]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    child = subprocess.Popen(["sleep", MARKER], user=name)
    try:
        yield name, child.pid
    finally:
        child.kill()
        child.wait()
        subprocess.run(["userdel", name], check=False)


def pids_in(value) -> set[int]:
    """Every number under a "pid" key, anywhere in a JSON body."""
    found: set[int] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "pid" and isinstance(item, int):
                found.add(item)
            found |= pids_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= pids_in(item)
    return found


async def test_no_endpoint_reveals_another_users_processes(
    fake_nvml, start_session, other_user_process, gpuscope, jp_serverapp, jp_fetch, jp_ws_fetch, get_json
):
    other_name, other_pid = other_user_process
    kernel_id, pid = await start_session()
    fake_nvml.processes[0] = [(pid, GiB), (other_pid, 5 * GiB)]
    gpuscope.metrics_per_kernel = True
    metrics._registered.per_kernel = True
    await usage_when(get_json, lambda b: b["kernels"] and b["gpus"][0]["others"] == 5 * GiB)

    bodies = {}
    for route in ("devices", "samples", "processes", "stats", "shared-gpus", "policy"):
        bodies[route] = (await jp_fetch("gpuscope", "api", route)).body.decode()
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    bodies["stream"] = "\n".join([await ws.read_message() for _ in range(3)])
    ws.close()
    bodies["metrics"] = (await jp_fetch("metrics")).body.decode()
    for route, text in bodies.items():
        assert other_name not in text and MARKER not in text, route
        if route != "metrics":
            for line in text.splitlines():
                assert other_pid not in pids_in(json.loads(line)), route

    processes = json.loads(bodies["processes"])
    assert processes["gpus"][0]["others"] == {"count": 1, "used_memory": 5 * GiB, "by_instance": {}}
    [own] = processes["gpus"][0]["processes"]
    assert own["pid"] == pid and own["kernel"]["id"] == kernel_id
    usage = json.loads(bodies["shared-gpus"])
    assert usage["gpus"][0]["mine"] == GiB and usage["gpus"][0]["others_count"] == 1

    # The check above can fail: when the admin allows it, the same process is described.
    jp_serverapp.web_app.settings["gpuscope_policy"]["show_other_users"] = True  # as configured
    allowed = json.loads((await jp_fetch("gpuscope", "api", "processes")).body)
    [other] = [p for p in allowed["gpus"][0]["processes"] if p["owner"] == "other"]
    assert other["pid"] == other_pid and other["username"] == other_name and MARKER in other["cmdline"]

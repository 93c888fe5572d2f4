"""The process join is made at most once per sample, whoever asks: 50 stream subscribers and
50 pollers of `processes` cost what one does."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from .fake_nvml import GiB
from .wire import stream_message


@pytest.fixture
def gpuscope_config():
    return {"backend": "nvml", "interval_seconds": 0.25}


async def test_fifty_subscribers_and_fifty_pollers_share_one_join_per_sample(
    fake_nvml, jp_ws_fetch, get_json, start_notebook
):
    kernel_id, pid = await start_notebook("a.ipynb")
    fake_nvml.processes[0] = [(pid, 3 * GiB)]
    for _ in range(100):
        if (await get_json("processes"))["gpus"][0]["processes"]:
            break
        await asyncio.sleep(0.05)

    sockets = [await jp_ws_fetch("gpuscope", "api", "stream") for _ in range(50)]
    for ws in sockets:
        await ws.read_message()  # hello
        ws.write_message(json.dumps({"action": "processes", "on": True}))
    before = await get_json("stats")
    deadline = time.monotonic() + 3

    async def poll() -> int:
        answered = 0
        while time.monotonic() < deadline:
            body = await get_json("processes")
            assert body["gpus"][0]["processes"][0]["kernel"]["id"] == kernel_id
            answered += 1
            await asyncio.sleep(0.05)
        return answered

    polls = await asyncio.gather(*(poll() for _ in range(50)))
    after = await get_json("stats")
    joins = after["process_joins"] - before["process_joins"]
    samples = after["samples"] - before["samples"]
    assert sum(polls) > 500  # many more requests than samples
    assert 1 <= joins <= samples + 1, (joins, samples)
    assert after["process_subscribers"] == 50

    # Every subscriber got the list pushed, with the kernel named, and the backend summary.
    for ws in sockets:
        while True:
            message = await stream_message(ws, 5)
            if message["type"] == "processes":
                break
        reply = message["reply"]
        assert reply["backend"] == "nvml" and reply["gpus"][0]["processes"][0]["kernel"]["id"] == kernel_id
    for ws in sockets:
        ws.close()
    await asyncio.sleep(0.2)
    assert (await get_json("stats"))["process_subscribers"] == 0


async def test_a_subscriber_gets_the_list_again_only_when_it_changes(fake_nvml, jp_ws_fetch, get_json):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    await ws.read_message()
    ws.write_message(json.dumps({"action": "processes", "on": True}))

    async def next_processes(timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                message = await stream_message(ws, end - time.monotonic())
            except asyncio.TimeoutError:
                return None
            if message["type"] == "processes":
                return message["reply"]
        return None

    first = await next_processes(5)
    # On a loaded machine the subscription can come before the sampler's first reading:
    # that list has no GPUs yet, and the one with them follows when it changes.
    while first is not None and not first["gpus"]:
        first = await next_processes(5)
    assert first is not None and first["gpus"][0]["processes"] == []
    assert await next_processes(1.0) is None  # several samples, nothing changed: nothing sent
    fake_nvml.processes[0] = [(4_190_001, GiB)]
    changed = await next_processes(5)
    assert changed is not None and changed["gpus"][0]["others"]["count"] == 1
    ws.write_message(json.dumps({"action": "processes", "on": "yes"}))
    error = await stream_message(ws)
    while error["type"] != "error":
        error = await stream_message(ws)
    assert '"on": true or false' in error["message"]
    ws.close()


async def test_a_kernel_shut_down_is_not_listed_from_a_join_made_before_it():
    """Within one sample the join is shared, but not across a change of kernels: after a
    shut-down (the OOM card reloads right after one) or a change of state (idle nudges read
    it), the next reader gets a new join."""
    from types import SimpleNamespace

    from jupyterlab_gpuscope.monitor.process_feed import ProcessFeed

    sampler = SimpleNamespace(
        run_id="r",
        buffer=SimpleNamespace(last_seq=7),
        processes={0: []},
        process_errors={},
        latest=None,
        appeared={},
        backend=SimpleNamespace(live=True, memory_excludes_reserve=True),
        status=lambda: {"devices": []},
    )
    kernels = {"k1": SimpleNamespace(kernel_name="python3", provisioner=None, execution_state="idle")}

    class Kernels:
        def list_kernel_ids(self):
            return list(kernels)

        def get_kernel(self, kernel_id):
            return kernels[kernel_id]

    class Sessions:
        async def list_sessions(self):
            return []

    join = ProcessFeed(sampler, Kernels(), Sessions(), policy={})
    first = await join.latest()
    assert [k.id for k in first.kernels] == ["k1"]
    assert await join.latest() is first and join.joins == 1  # same sample, same kernels
    kernels["k1"].execution_state = "busy"
    busy = await join.latest()
    assert busy is not first and busy.kernels[0].execution_state == "busy" and join.joins == 2
    del kernels["k1"]
    again = await join.latest()
    assert again is not first and again.kernels == [] and join.joins == 3
    sampler.buffer.last_seq = 8
    assert await join.latest() is not again and join.joins == 4  # a new sample

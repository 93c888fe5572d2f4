"""Every route's reply, and the stream's messages, against src/api.schema.json: the one
description of the wire format, from which the frontend's types are generated. (Every
other test that reads a reply through `get_json` checks it too.)"""

from __future__ import annotations

import copy
import json

import pytest

from .wire import ROUTE_REPLIES, SCHEMA_PATH, problems, stream_message


@pytest.fixture(params=["replay", "nvml"])
def backend(request, monkeypatch):
    if request.param == "nvml":
        request.getfixturevalue("fake_nvml")
    return request.param


@pytest.fixture
def gpuscope_config(backend):
    return {"backend": backend, "interval_seconds": 0.25}


async def test_every_route_answers_what_the_schema_says(backend, get_json, wait_for_samples):
    await wait_for_samples(2)
    for route in ROUTE_REPLIES:
        await get_json(route)  # get_json checks each reply against the schema


async def test_the_streams_hello_samples_and_process_pushes_match_the_schema(backend, jp_ws_fetch):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    seen = {(await stream_message(ws))["type"]}
    ws.write_message(json.dumps({"action": "processes", "on": True}))
    while not {"hello", "sample", "ack", "processes"} <= seen:
        seen.add((await stream_message(ws, 10))["type"])
    ws.close()


async def test_a_reply_that_disagrees_with_the_schema_is_caught_where_it_does(get_json, wait_for_samples):
    await wait_for_samples()
    devices = await get_json("devices")
    extra = copy.deepcopy(devices)
    extra["devices"][0]["fan_curve"] = [1, 2]
    missing = copy.deepcopy(devices)
    del missing["devices"][0]["memory_total"]
    wrong = copy.deepcopy(devices)
    wrong["devices"][0]["memory_total"] = "141 GB"
    assert problems("IDevicesReply", devices) == []
    assert problems("IDevicesReply", extra) == [
        "devices/0: Additional properties are not allowed ('fan_curve' was unexpected)"
    ]
    assert problems("IDevicesReply", missing) == ["devices/0: 'memory_total' is a required property"]
    assert problems("IDevicesReply", wrong) == ["devices/0/memory_total: '141 GB' is not of type 'number', 'null'"]


def test_the_schema_describes_every_route_the_server_serves():
    from jupyterlab_gpuscope.routes import route_handlers

    served = {pattern.rsplit("/", 1)[1] for pattern, _ in route_handlers()}
    # keep answers 204 with no body; the stream's messages are StreamMessage.
    assert served - {"keep", "stream"} == set(ROUTE_REPLIES)
    defs = json.loads(SCHEMA_PATH.read_text())["$defs"]
    assert set(ROUTE_REPLIES.values()) | {"StreamMessage"} <= set(defs)

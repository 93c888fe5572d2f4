"""The stream pushes each sample from the one sampler; a client can pause, resume, throttle."""

from __future__ import annotations

import asyncio
import json

from .wire import stream_message


async def next_message(ws, timeout: float = 5.0) -> dict:
    return await stream_message(ws, timeout)


async def next_of_type(ws, kind: str, timeout: float = 5.0) -> dict:
    while True:
        message = await next_message(ws, timeout)
        if message["type"] == kind:
            return message


async def test_stream_hello_then_samples(jp_ws_fetch, get_json):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    hello = await next_message(ws)
    assert hello["type"] == "hello"
    assert hello["backend"] == "replay" and hello["live"] is False
    first = await next_of_type(ws, "sample")
    second = await next_of_type(ws, "sample")
    assert second["seq"] == first["seq"] + 1
    assert second["gpus"][0]["memory_total"] == 150754820096
    assert (await get_json("stats"))["subscribers"] == 1
    ws.close()


async def test_many_subscribers_share_one_sampler(jp_ws_fetch, get_json):
    sockets = [await jp_ws_fetch("gpuscope", "api", "stream") for _ in range(5)]
    received = [await next_of_type(ws, "sample") for ws in sockets]
    stats = await get_json("stats")
    assert stats["subscribers"] == 5
    # Five viewers, still one backend read per tick.
    assert stats["backend_calls"] == stats["ticks"]
    assert len({m["seq"] for m in received}) <= 2
    for ws in sockets:
        ws.close()


async def test_pause_and_resume(jp_ws_fetch):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    await next_of_type(ws, "sample")
    ws.write_message(json.dumps({"action": "pause"}))
    assert (await next_of_type(ws, "ack"))["action"] == "pause"
    # Paused: nothing for well over two sampling intervals (0.25 s).
    try:
        message = await asyncio.wait_for(ws.read_message(), 0.8)
        raise AssertionError(f"got {message} while paused")
    except asyncio.TimeoutError:
        pass
    ws.write_message(json.dumps({"action": "resume"}))
    assert (await next_of_type(ws, "ack"))["action"] == "resume"
    assert (await next_of_type(ws, "sample"))["type"] == "sample"
    ws.close()


async def test_throttle_limits_the_rate(jp_ws_fetch):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    ws.write_message(json.dumps({"action": "throttle", "min_interval_seconds": 1}))
    await next_of_type(ws, "ack")
    first = await next_of_type(ws, "sample")
    second = await next_of_type(ws, "sample")
    # Sampling every 0.25 s, but this client asked for one a second at most.
    assert second["seq"] - first["seq"] >= 3
    ws.close()


async def test_bad_messages_get_an_error_not_a_disconnect(jp_ws_fetch):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    for bad, words in [
        ("not json", "JSON objects"),
        (json.dumps({"action": "explode"}), "Unknown action: use pause"),
        (json.dumps({"action": "throttle", "min_interval_seconds": "fast"}), "min_interval_seconds"),
        (json.dumps([1, 2]), "JSON objects"),
    ]:
        ws.write_message(bad)
        assert words in (await next_of_type(ws, "error"))["message"]
    assert (await next_of_type(ws, "sample"))["type"] == "sample"
    ws.close()

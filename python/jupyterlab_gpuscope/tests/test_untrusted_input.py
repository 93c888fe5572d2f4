"""Requests, messages and settings built to hurt: a clear refusal, never a crash or a hang."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError
from traitlets import TraitError

from jupyterlab_gpuscope.extension import GPUScope

from .wire import stream_message

DEEP = "[" * 100_000 + "]" * 100_000


async def test_keep_refuses_deeply_nested_or_huge_bodies_with_a_400_and_never_echoes_the_id(jp_fetch, caplog):
    cases = [
        (json.dumps({"kernel_id": "x"})[:-1] + ', "deep": ' + DEEP[:20_000] + DEEP[-20_000:] + "}", 413),
        ('{"kernel_id": ' + "[" * 1000 + "]" * 1000 + "}", 400),
        (json.dumps({"kernel_id": "<script>" + "A" * 3000}), 400),
        (json.dumps({"kernel_id": "0f0f0f0f-dead-beef-0000-000000000000"}), 404),
    ]
    for body, status in cases:
        with pytest.raises(HTTPClientError) as error:
            await jp_fetch("gpuscope", "api", "keep", method="POST", body=body)
        assert error.value.code == status, body[:80]
        message = json.loads(error.value.response.body)["message"]
        assert "<script>" not in message and "dead-beef" not in message and len(message) < 200
    assert "Traceback" not in caplog.text and "<script>" not in caplog.text


async def test_a_deeply_nested_stream_message_gets_an_error_and_the_stream_goes_on(jp_ws_fetch):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    assert (await stream_message(ws))["type"] == "hello"
    ws.write_message("[" * 1500 + "]" * 1500)
    while (message := await stream_message(ws, 5))["type"] != "error":
        pass
    assert "JSON objects" in message["message"]
    ws.write_message(json.dumps({"action": "pause"}))
    while (message := await stream_message(ws, 5))["type"] != "ack":
        pass
    assert message["action"] == "pause"
    ws.close()


async def test_a_stream_message_over_the_size_limit_closes_that_connection_only(jp_ws_fetch, get_json):
    ws = await jp_ws_fetch("gpuscope", "api", "stream")
    await ws.read_message()
    ws.write_message(json.dumps({"action": "pause", "padding": "x" * 100_000}))
    for _ in range(20):
        if await asyncio.wait_for(ws.read_message(), 5) is None:
            break
    else:
        raise AssertionError("the connection stayed open")
    assert (await get_json("devices"))["backend"] == "replay"  # the server is fine


def test_a_slow_client_is_skipped_rather_than_buffered_without_bound():
    from jupyterlab_gpuscope.routes import StreamHandler

    class Pending:
        def add_done_callback(self, callback):
            self.callback = callback

    written: list[bytes] = []

    class Slow(StreamHandler):
        max_pending_bytes = 1000

        def __init__(self):  # no connection: only the buffering is under test
            self._pending = 0
            self.futures: list[Pending] = []

        def write_message(self, message, binary=False):
            written.append(message)
            self.futures.append(Pending())
            return self.futures[-1]

    slow = Slow()
    for _ in range(10):
        slow._send(b"x" * 300)
    assert len(written) == 3  # 900 bytes unsent: a fourth would pass the limit
    for future in slow.futures:  # the client catches up
        done = asyncio.get_event_loop_policy().new_event_loop().create_future()
        done.set_result(None)
        future.callback(done)
    slow._send(b"x" * 300)
    assert len(written) == 4


@pytest.mark.parametrize("name", ["interval_seconds", "history_seconds", "idle_kernel_minutes", "check_seconds"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_settings_refuse_nan_and_infinity_with_the_settings_name(name, value):
    with pytest.raises(TraitError, match=name):
        GPUScope(**{name: value})


def test_history_is_bounded_to_a_day():
    with pytest.raises(TraitError):
        GPUScope(history_seconds=10 * 86400)
    assert GPUScope(history_seconds=86400).history_seconds == 86400


def test_the_stream_pings_even_where_the_server_sets_no_ping_interval(jp_serverapp):
    from jupyterlab_gpuscope.routes import StreamHandler

    settings = dict(jp_serverapp.web_app.settings)
    settings.pop("websocket_ping_interval", None)
    handler = StreamHandler.__new__(StreamHandler)
    handler.application = type("App", (), {"settings": settings})()
    assert 0 < handler.ping_interval <= 60

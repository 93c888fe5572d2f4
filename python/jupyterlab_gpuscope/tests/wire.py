"""The server's replies checked against the one schema of the wire format
(src/api.schema.json, from which the frontend's types are generated). Every reply the
tests read through `get_json`, and every stream message `stream_message` reads, is checked,
so the schema is held to what the server really sends, on every backend the tests use."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "src" / "api.schema.json"

# What each route answers: the schema's name for it.
ROUTE_REPLIES = {
    "devices": "IDevicesReply",
    "samples": "ISamplesReply",
    "processes": "IProcessesReply",
    "stats": "IStats",
    "collector": "ICollectorReply",
    "shared-gpus": "ISharedGPUsReply",
    "policy": "IPolicy",
}


@functools.cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    # The definition in the context of the whole schema, so that its $refs resolve.
    view = {key: value for key, value in schema.items() if key != "anyOf"}
    view["$ref"] = f"#/$defs/{name}"
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(view, format_checker=cls.FORMAT_CHECKER)


def problems(name: str, body: object) -> list[str]:
    """Where `body` disagrees with the schema's `name`, one line each (empty: it agrees)."""
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(_validator(name).iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    ]


def assert_matches(name: str, body: object) -> None:
    found = problems(name, body)
    assert not found, f"the reply disagrees with src/api.schema.json's {name}:\n" + "\n".join(found[:20])


async def stream_message(ws, timeout: float = 5.0) -> dict:
    """The stream's next message, checked against the schema's StreamMessage."""
    message = json.loads(await asyncio.wait_for(ws.read_message(), timeout))
    assert_matches("StreamMessage", message)
    return message

"""A student's server's side of the class: the scrape route (this server's user, or a Hub
token with the scrape scope) and the instructor's actions (a nudge the student sees, a
shut-down they are told of)."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyterlab_gpuscope.class_routes import SCRAPE_SCOPE
from jupyterlab_gpuscope.monitor.processes import KernelInfo

from .fake_nvml import GiB
from .test_mig import SLICES
from .test_shared_gpus import usage_when

NOTEBOOK = "class/week2.ipynb"


@pytest.fixture
def gpuscope_config():
    return {"backend": "nvml", "interval_seconds": 0.25, "check_seconds": 0.25, "node_name": "node-7"}


class FakeHubAuth:
    """Answers what JupyterHub's HubAuth.user_for_token would: the token's owner and scopes."""

    def __init__(self, tokens: dict[str, list[str]]) -> None:
        self.tokens = tokens

    async def user_for_token(self, token: str, sync: bool = True):
        scopes = self.tokens.get(token)
        return None if scopes is None else {"name": "gpuscope-prometheus", "kind": "service", "scopes": scopes}


async def holding_kernel(fake_nvml, start_notebook, get_json) -> str:
    kernel_id, pid = await start_notebook(NOTEBOOK)
    fake_nvml.processes[0] = [(pid, 3 * GiB)]
    await usage_when(get_json, lambda b: b["kernels"])
    return kernel_id


async def scrape(jp_fetch, authorization: str) -> str:
    response = await jp_fetch("gpuscope", "metrics", headers={"Authorization": authorization})
    return response.body.decode()


async def test_the_scrape_route_serves_the_kernel_series_to_a_token_with_the_scrape_scope(
    fake_nvml, jp_serverapp, jp_fetch, start_notebook, get_json
):
    kernel_id = await holding_kernel(fake_nvml, start_notebook, get_json)
    jp_serverapp.web_app.settings["gpuscope_hub_auth"] = FakeHubAuth(
        {"scraper": [SCRAPE_SCOPE], "student": ["self", "access:servers!user=someone"]}
    )
    activity = jp_serverapp.web_app.settings.get("api_last_activity")
    text = await scrape(jp_fetch, "Bearer scraper")
    digest = KernelInfo(kernel_id, "", None, None, None).digest
    [memory] = [line for line in text.splitlines() if line.startswith("gpuscope_kernel_gpu_memory_bytes{")]
    assert f'kernel="{digest}"' in memory and 'node="node-7"' in memory and 'gpu_uuid="GPU-' in memory
    assert float(memory.rsplit(" ", 1)[1]) == 3 * GiB
    assert "gpuscope_kernel_idle_seconds{" in text and "gpuscope_user_gpu_memory_bytes{" in text
    assert kernel_id not in text and NOTEBOOK not in text  # names only when the admin allows them
    # Only gpuscope's gauges, not the whole server's /metrics.
    assert "http_request_duration_seconds" not in text
    # A scrape is not the user's activity: an idle server can still be culled.
    assert jp_serverapp.web_app.settings.get("api_last_activity") == activity
    for refused in ("Bearer student", "Bearer unknown", "", "Basic c2NyYXBlcjp4"):
        with pytest.raises(HTTPClientError) as error:
            await scrape(jp_fetch, refused)
        assert error.value.code == 403, refused


async def test_the_servers_own_user_can_read_the_scrape_route(fake_nvml, jp_fetch, start_notebook, get_json):
    await holding_kernel(fake_nvml, start_notebook, get_json)
    response = await jp_fetch("gpuscope", "metrics")  # jp_fetch sends the server's token
    assert b"gpuscope_kernel_gpu_memory_bytes{" in response.body


async def test_an_instructors_nudge_reaches_the_student_once_with_the_note(
    fake_nvml, jp_fetch, start_notebook, get_json
):
    kernel_id = await holding_kernel(fake_nvml, start_notebook, get_json)
    digest = KernelInfo(kernel_id, "", None, None, None).digest
    body = {"action": "nudge", "kernel": digest, "by": "ms-lovelace", "note": "Free the GPU before lunch."}
    response = await jp_fetch("gpuscope", "api", "class-action", method="POST", body=json.dumps(body))
    assert response.code == 204
    notices = (await usage_when(get_json, lambda b: b["notices"]))["notices"]
    assert [(n["by"], n["note"], n["kernel_id"], n["notebook_path"], n["used_memory"]) for n in notices] == [
        ("ms-lovelace", "Free the GPU before lunch.", kernel_id, NOTEBOOK, 3 * GiB)
    ]


async def test_an_instructors_shut_down_frees_the_kernel_and_says_who(fake_nvml, jp_fetch, start_notebook, get_json):
    kernel_id = await holding_kernel(fake_nvml, start_notebook, get_json)
    digest = KernelInfo(kernel_id, "", None, None, None).digest
    body = {"action": "shut_down", "kernel": digest, "by": "ms-lovelace"}
    await jp_fetch("gpuscope", "api", "class-action", method="POST", body=json.dumps(body))
    kernels = json.loads((await jp_fetch("api", "kernels")).body)
    assert kernel_id not in [k["id"] for k in kernels]
    [shut] = (await usage_when(get_json, lambda b: b["shut_down"]))["shut_down"]
    assert shut["by"] == "ms-lovelace" and shut["kernel_id"] == kernel_id and shut["used_memory"] == 3 * GiB


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ("not json", 400, "Send {"),
        ({"action": "explode", "kernel": "0123456789ab"}, 400, "action must be nudge or shut_down"),
        ({"action": "nudge", "kernel": "../../etc"}, 400, "12-digit digest"),
        ({"action": "nudge", "kernel": "0123456789ab", "note": "x" * 501}, 400, "at most 100 and 500"),
        ({"action": "nudge", "kernel": "0123456789ab"}, 404, "No kernel of this server has that digest"),
    ],
)
async def test_a_bad_class_action_gets_a_clear_message(jp_fetch, body, code, message):
    raw = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("gpuscope", "api", "class-action", method="POST", body=raw)
    assert error.value.code == code
    assert message in json.loads(error.value.response.body)["message"]


@pytest.fixture
def mig_nvml(fake_nvml):
    """GPU 0 split as in test_mig.py, set before the server starts (MIG devices are found
    when NVML opens)."""
    fake_nvml.mig[0] = [dict(s, gpm={"sm_util": 40.0, "tensor_util": 30.0, "dram_util": 10.0}) for s in SLICES]
    return fake_nvml


async def test_a_kernel_on_a_mig_slice_is_labelled_with_its_instance_and_sm_use(
    mig_nvml, jp_fetch, start_notebook, get_json
):
    kernel_id, pid = await start_notebook(NOTEBOOK)
    mig_nvml.processes[0] = [(pid, 5 * GiB, 13, 0)]  # on the 1g.18gb instance
    mig_nvml.utilisation[0] = [(pid, 55)]
    await usage_when(get_json, lambda b: b["kernels"])

    def series(text: str, name: str) -> list[str]:
        return [line for line in text.splitlines() if line.startswith(name + "{")]

    async def scraped(name: str) -> list[str]:
        for _ in range(50):
            found = series((await jp_fetch("gpuscope", "metrics")).body.decode(), name)
            if found:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {name} series")

    [memory] = await scraped("gpuscope_kernel_gpu_memory_bytes")
    assert 'mig_instance="MIG-fake-0-13"' in memory and 'mig_profile="1g.18gb"' in memory
    [busy] = await scraped("gpuscope_kernel_sm_utilization_ratio")
    assert float(busy.rsplit(" ", 1)[1]) == 0.55
    instances = await scraped("gpuscope_mig_memory_total_bytes")
    assert [line.split('mig_profile="')[1].split('"')[0] for line in instances] == ["3g.71gb", "2g.35gb", "1g.18gb"]

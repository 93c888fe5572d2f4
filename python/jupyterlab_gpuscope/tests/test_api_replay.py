"""The API on the replay backend serves the recorded H200 values, labelled as a replay."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyterlab_gpuscope.monitor.backends.replay import bundled_trace


def recorded_values(field: str) -> set:
    values = set()
    for line in bundled_trace("h200-workload.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["type"] == "sample":
            values.add(record["gpus"][0][field])
    return values


async def test_devices_are_the_recorded_h200_and_marked_replay(get_json, wait_for_samples):
    await wait_for_samples()
    body = await get_json("devices")
    assert body["backend"] == "replay"
    assert body["live"] is False
    assert body["source"]["kind"] == "replay"
    assert "not a live GPU" in body["source"]["description"]
    assert body["status"] == "ok"
    assert body["driver_version"] == "580.159.04"
    assert body["cuda_driver_version"] == "13.0"
    [device] = body["devices"]
    assert device["name"] == "NVIDIA H200"
    assert device["uuid"] == "GPU-18434795-4290-5cfb-9a9f-474f7fa60eff"
    assert device["compute_capability"] == "9.0"
    assert device["memory_total"] == 150754820096
    assert device["power_limit_mw"] == 700000
    assert device["mig_mode"] == {"current": False, "pending": False}
    assert (device["pcie_max_gen"], device["pcie_max_width"]) == (5, 16)
    assert (device["max_sm_clock"], device["max_mem_clock"]) == (1980, 3201)


async def test_samples_carry_recorded_values(wait_for_samples):
    body = await wait_for_samples(2)
    assert body["live"] is False and body["backend"] == "replay"
    gpu = body["samples"][-1]["gpus"][0]
    assert gpu["memory_used"] in recorded_values("memory_used")
    assert gpu["power_mw"] in recorded_values("power_mw")
    assert gpu["sm_clock"] in recorded_values("sm_clock")
    assert gpu["memory_total"] == 150754820096
    # The H200 has no fan reading: a null with the recorded reason, not a crash or a zero.
    assert gpu["fan"] is None
    assert gpu["unavailable"]["fan"] == "not supported (as recorded)"
    assert isinstance(gpu["throttle_reasons"], list)
    seqs = [s["seq"] for s in body["samples"]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_since_returns_only_newer_samples(get_json, wait_for_samples):
    body = await wait_for_samples(3)
    last = body["last_seq"]
    newer = await get_json("samples", since=str(last - 1))
    assert [s["seq"] for s in newer["samples"]][0] == last
    assert all(s["seq"] > last - 1 for s in newer["samples"])
    future = await get_json("samples", since=str(last + 1000))
    assert future["samples"] == []
    assert future["run_id"] == body["run_id"]


async def test_processes_from_a_replay_are_not_attributed_locally(get_json, wait_for_samples):
    await wait_for_samples()
    body = await get_json("processes")
    assert body["live"] is False
    assert len(body["gpus"]) == 1
    # Any recorded PID belongs to the recording machine: never shown as a local owner.
    for proc in body["gpus"][0]["processes"]:
        assert proc["kernel"] is None


def test_recorded_processes_are_labelled_as_the_recordings():
    from jupyterlab_gpuscope.monitor.processes import RECORDED, describe

    body = describe({0: [{"pid": 4_194_000, "used_memory": 1}]}, [], show_other_users=True, recorded=True)
    assert body["pid_namespace"]["note"].startswith("These processes were recorded on another machine")
    assert body["gpus"][0]["processes"][0]["note"] == RECORDED


def test_a_replay_lists_its_processes_as_the_recordings_not_as_other_users():
    from jupyterlab_gpuscope.monitor.processes import RECORDED, describe

    body = describe({0: [{"pid": 4_194_000, "used_memory": 1}]}, [], show_other_users=False, recorded=True)
    gpu = body["gpus"][0]
    assert [p["note"] for p in gpu["processes"]] == [RECORDED]
    assert gpu["others"]["count"] == 0


async def test_stats_count_ticks_and_calls(get_json, wait_for_samples):
    await wait_for_samples(2)
    stats = await get_json("stats")
    assert stats["backend"] == "replay"
    assert stats["ticks"] >= 2 and stats["backend_calls"] >= 2
    assert stats["capacity"] == 3600 / 0.25
    assert stats["subscribers"] == 0


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("samples", {"since": "abc"}, "'since' must be a sample sequence number"),
        ("samples", {"since": "-1"}, "'since' must be a sample sequence number"),
        ("samples", {"since": "1.5"}, "'since' must be a sample sequence number"),
        ("samples", {"since": "9" * 40}, "'since' must be a sample sequence number"),
        ("samples", {"sinse": "3"}, "Unknown query parameter 'sinse': this route accepts 'since'"),
        ("devices", {"verbose": "1"}, "Unknown query parameter 'verbose': this route takes no query parameters"),
        ("processes", {"all": "1"}, "Unknown query parameter 'all'"),
        ("stats", {"x": ""}, "Unknown query parameter 'x'"),
    ],
)
async def test_bad_query_parameters_are_400_with_a_reason(jp_fetch, path, params, message):
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("gpuscope", "api", path, params=params)
    assert error.value.code == 400
    assert message in json.loads(error.value.response.body)["message"]


async def test_jupyterlab_cache_buster_is_accepted(jp_fetch):
    # ServerConnection.makeRequest adds "?<milliseconds>" to every GET.
    response = await jp_fetch("gpuscope", "api", "devices", params={"1763781234567": ""})
    assert response.code == 200


async def test_repeated_parameter_is_400(jp_fetch):
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch("gpuscope", "api", "samples", params=[("since", "1"), ("since", "2")])
    assert error.value.code == 400
    assert "given 2 times" in json.loads(error.value.response.body)["message"]


def test_the_two_gpu_replay_has_the_topology_written_from_nvidia_smi_labelled_as_such():
    from jupyterlab_gpuscope.monitor.backends import ReplayBackend
    from jupyterlab_gpuscope.monitor.backends.replay import bundled_trace

    backend = ReplayBackend(bundled_trace("h200x2-workload.jsonl"))
    system = backend.open()
    assert system.topology["links"] == [["X", "NV18"], ["NV18", "X"]]
    assert "not recorded through NVML" in system.topology["source"]
    gpu = backend.read().gpus[0]
    assert gpu["nvlink_rx_kbs"] is None and gpu["unavailable"]["nvlink_rx_kbs"] == "not in this recording"

"""MIG: each instance a device under its parent GPU, with its memory, processes and (on
Hopper and newer) activity from GPM; through the real NVML backend over a fake NVML, and
through the synthetic MIG replay trace."""

from __future__ import annotations

import asyncio
import json

import pytest

from jupyterlab_gpuscope.monitor.backends import NvmlBackend, ReplayBackend
from jupyterlab_gpuscope.monitor.backends.replay import bundled_trace

from .fake_nvml import FakeNVML, GiB

MIG_TRACE = "h200-mig-synthetic.jsonl"

# An H200 split as 3g.71gb + 2g.35gb + 1g.18gb (MIG profile sizes from a real H200's NVML:
# scripts/records/h200-mig-probe.json).
SLICES = [
    {"gi": 2, "ci": 0, "profile": "3g.71gb", "memory_total": 71424 * 2**20, "memory_used": 20 * GiB, "sms": 60},
    {"gi": 5, "ci": 0, "profile": "2g.35gb", "memory_total": 33280 * 2**20, "memory_used": 3 * GiB, "sms": 32},
    {"gi": 13, "ci": 0, "profile": "1g.18gb", "memory_total": 16384 * 2**20, "memory_used": 0, "sms": 16},
]


def mig_fake(gpm: bool = True) -> FakeNVML:
    fake = FakeNVML(gpus=1)
    fake.mig[0] = [
        dict(s, gpm={"sm_util": 40.0 + i, "tensor_util": 30.0, "dram_util": 10.0}) for i, s in enumerate(SLICES)
    ]
    fake.gpm_supported = gpm
    fake.processes[0] = [(4242, 19 * GiB, 2, 0), (4343, 2 * GiB, 5, 0)]
    return fake


def test_each_mig_instance_is_a_device_under_its_gpu_with_its_profile_and_memory():
    backend = NvmlBackend(nvml=mig_fake())
    [device] = backend.open().devices
    assert device["mig_mode"] == {"current": True, "pending": True}
    assert [
        (m["profile"], m["uuid"], m["gpu_instance_id"], m["compute_instance_id"]) for m in device["mig_instances"]
    ] == [
        ("3g.71gb", "MIG-fake-0-2", 2, 0),
        ("2g.35gb", "MIG-fake-0-5", 5, 0),
        ("1g.18gb", "MIG-fake-0-13", 13, 0),
    ]
    assert device["mig_instances"][0]["memory_total"] == 71424 * 2**20
    assert device["mig_instances"][2]["multiprocessor_count"] == 16

    reading = backend.read()
    [gpu] = reading.gpus
    # NVML gives no whole-GPU utilisation in MIG mode: null with the reason, not 0.
    assert gpu["util_gpu"] is None and "not supported" in gpu["unavailable"]["util_gpu"]
    assert [(m["uuid"], m["memory_used"]) for m in gpu["mig"]] == [
        ("MIG-fake-0-2", 20 * GiB),
        ("MIG-fake-0-5", 3 * GiB),
        ("MIG-fake-0-13", 0),
    ]
    # GPM needs two samples: the first reading says so.
    assert gpu["mig"][0]["sm_util"] is None and "two GPM readings" in gpu["mig"][0]["unavailable"]["sm_util"]
    # Processes carry the instance they run on.
    assert [(p["pid"], p["gpu_instance_id"], p["compute_instance_id"]) for p in reading.processes[0]] == [
        (4242, 2, 0),
        (4343, 5, 0),
    ]

    second = backend.read().gpus[0]["mig"]
    assert [(m["sm_util"], m["tensor_util"], m["dram_util"]) for m in second] == [
        (40.0, 30.0, 10.0),
        (41.0, 30.0, 10.0),
        (42.0, 30.0, 10.0),
    ]
    backend.close()


def test_on_a_gpu_without_gpm_instance_activity_is_na_with_the_reason():
    """A100 and A30: MIG, but no GPM, so no utilisation per instance at all."""
    backend = NvmlBackend(nvml=mig_fake(gpm=False))
    backend.open()
    backend.read()
    [instance, *_] = backend.read().gpus[0]["mig"]
    assert instance["memory_used"] == 20 * GiB
    assert instance["sm_util"] is None and "Hopper" in instance["unavailable"]["sm_util"]


def test_a_gpu_not_in_mig_mode_has_no_instances():
    backend = NvmlBackend(nvml=FakeNVML(gpus=1))
    [device] = backend.open().devices
    assert device["mig_instances"] == []
    reading = backend.read()
    assert reading.gpus[0]["mig"] is None
    assert reading.processes[0] == []


@pytest.fixture
def gpuscope_config():
    return {"backend": "nvml", "interval_seconds": 0.25, "user_memory_limit_fraction": 0.25}


@pytest.fixture
def mig_nvml(monkeypatch):
    from jupyterlab_gpuscope.extension import GPUScope

    fake = mig_fake()
    monkeypatch.setattr(GPUScope, "make_backend", lambda self: NvmlBackend(nvml=fake))
    return fake


async def test_the_routes_serve_instances_processes_per_instance_and_limits_per_instance(
    mig_nvml, get_json, start_notebook
):
    kernel_id, pid = await start_notebook("slice.ipynb")
    # The kernel runs on the 1g.18gb slice and holds 5 GiB: over a 25 % limit of that slice.
    mig_nvml.processes[0] = [(pid, 5 * GiB, 13, 0)]
    devices = await get_json("devices")
    assert [m["profile"] for m in devices["devices"][0]["mig_instances"]] == ["3g.71gb", "2g.35gb", "1g.18gb"]
    for _ in range(100):
        usage = await get_json("shared-gpus")
        if usage["gpus"] and usage["gpus"][0]["instances"] and usage["gpus"][0]["mine"]:
            break
        await asyncio.sleep(0.1)
    [gpu] = usage["gpus"]
    small = gpu["instances"][2]
    assert (small["profile"], small["mine"], small["state"]) == ("1g.18gb", 5 * GiB, "over")
    assert gpu["state"] == "over"
    processes = await get_json("processes")
    [proc] = processes["gpus"][0]["processes"]
    assert proc["kernel"]["id"] == kernel_id and proc["gpu_instance_id"] == 13


def test_the_synthetic_mig_trace_is_labelled_and_plays_instances_and_their_processes():
    backend = ReplayBackend(bundled_trace(MIG_TRACE))
    system = backend.open()
    assert system.source["synthetic"] is True and "synthetic" in system.source["description"]
    [device] = system.devices
    profiles = [m["profile"] for m in device["mig_instances"]]
    assert profiles == ["3g.71gb", "2g.35gb", "1g.18gb", "1g.18gb"]
    # Slice sizes are the real H200's (NVML's profile table, scripts/records/h200-mig-probe.json).
    probe = json.loads((bundled_trace(MIG_TRACE).parents[3] / "scripts/records/h200-mig-probe.json").read_text())
    sizes = {
        p["value"]["name"].removeprefix("MIG "): p["value"]["memorySizeMB"] * 2**20
        for p in probe["devices"][0]["profiles"].values()
        if "value" in p
    }
    assert all(m["memory_total"] <= sizes[m["profile"]] for m in device["mig_instances"])
    reading = backend.read()
    mig = reading.gpus[0]["mig"]
    assert [m["uuid"] for m in mig] == [m["uuid"] for m in device["mig_instances"]]
    assert all(m["memory_used"] <= m["memory_total"] for m in mig)
    instance_ids = {m["gpu_instance_id"] for m in device["mig_instances"]}
    assert {p["gpu_instance_id"] for p in reading.processes[0]} <= instance_ids

"""Soft limits and idle kernels, as pure policy over a fake clock."""

from __future__ import annotations

import types

from jupyterlab_gpuscope.monitor.processes import KernelInfo
from jupyterlab_gpuscope.shared_gpus.idle import IdlePolicy
from jupyterlab_gpuscope.shared_gpus.limits import MemoryLimit, gpu_usage, kernel_memory

from .fake_nvml import GiB

MINUTE = 60.0


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def kernel(kernel_id: str = "k1", state: str = "idle", last_activity: float = 1_000_000.0) -> KernelInfo:
    return KernelInfo(
        id=kernel_id,
        name="python3",
        pid=None,
        execution_state=state,
        notebook_path=f"{kernel_id}.ipynb",
        last_activity=last_activity,
    )


def test_an_idle_kernel_holding_memory_is_nudged_only_after_the_idle_time():
    clock = FakeClock()
    policy = IdlePolicy(30 * MINUTE, 0, clock)
    kernels, memory = [kernel()], {"k1": {0: 2 * GiB}}
    clock.now += 29 * MINUTE
    assert policy.idle_kernels(kernels, memory) == []
    clock.now += 2 * MINUTE
    [idle] = policy.idle_kernels(kernels, memory)
    assert idle.kernel.id == "k1" and idle.memory == {0: 2 * GiB}
    assert idle.shutdown_at is None  # automatic shut-down is off by default
    # The same idle period keeps the same id, so the owner is notified once.
    clock.now += 10 * MINUTE
    assert policy.idle_kernels(kernels, memory)[0].nudge_id == idle.nudge_id


def test_busy_kernels_and_kernels_without_gpu_memory_are_left_alone():
    clock = FakeClock()
    policy = IdlePolicy(MINUTE, 0, clock)
    clock.now += 60 * MINUTE
    kernels = [kernel("busy", state="busy"), kernel("cpu"), kernel("freed")]
    memory = {"busy": {0: GiB}, "freed": {0: 0}}
    assert policy.idle_kernels(kernels, memory) == []


def test_keep_restarts_the_idle_time_and_gives_a_new_nudge_later():
    clock = FakeClock()
    policy = IdlePolicy(30 * MINUTE, 0, clock)
    kernels, memory = [kernel()], {"k1": {1: GiB}}
    clock.now += 31 * MINUTE
    [first] = policy.idle_kernels(kernels, memory)
    policy.keep("k1")
    assert policy.idle_kernels(kernels, memory) == []
    clock.now += 29 * MINUTE
    assert policy.idle_kernels(kernels, memory) == []
    clock.now += 2 * MINUTE
    [second] = policy.idle_kernels(kernels, memory)
    assert second.nudge_id != first.nudge_id


def test_activity_after_a_keep_counts_from_the_activity():
    clock = FakeClock()
    policy = IdlePolicy(30 * MINUTE, 0, clock)
    clock.now += 31 * MINUTE
    policy.keep("k1")
    clock.now += 10 * MINUTE
    ran_a_cell = kernel(last_activity=clock.now)
    clock.now += 25 * MINUTE  # 35 min after the keep, 25 after the cell
    assert policy.idle_kernels([ran_a_cell], {"k1": {0: GiB}}) == []


def test_shutdown_comes_after_the_grace_period_and_a_keep_postpones_it():
    clock = FakeClock()
    policy = IdlePolicy(30 * MINUTE, 10 * MINUTE, clock)
    kernels, memory = [kernel()], {"k1": {0: GiB}}
    clock.now += 31 * MINUTE
    idle = policy.idle_kernels(kernels, memory)
    assert idle[0].shutdown_at == 1_000_000.0 + 40 * MINUTE
    assert policy.due_for_shutdown(idle) == []
    clock.now += 10 * MINUTE
    assert [k.kernel.id for k in policy.due_for_shutdown(policy.idle_kernels(kernels, memory))] == ["k1"]
    policy.keep("k1")
    assert policy.due_for_shutdown(policy.idle_kernels(kernels, memory)) == []


def test_zero_idle_minutes_turns_nudges_off():
    clock = FakeClock()
    policy = IdlePolicy(0, 10 * MINUTE, clock)
    clock.now += 1000 * MINUTE
    assert policy.idle_kernels([kernel()], {"k1": {0: GiB}}) == []


def test_the_limit_is_the_smaller_of_bytes_and_fraction_and_warns_before_it():
    limit = MemoryLimit(limit_bytes=20 * GiB, limit_fraction=0.25, warn_fraction=0.9)
    assert limit.for_gpu(80 * GiB) == 20 * GiB
    assert limit.for_gpu(40 * GiB) == 10 * GiB
    assert limit.for_gpu(None) == 20 * GiB
    assert MemoryLimit().for_gpu(80 * GiB) is None
    assert limit.state(17 * GiB, 20 * GiB) == "ok"
    assert limit.state(18 * GiB, 20 * GiB) == "near"
    assert limit.state(20 * GiB + 1, 20 * GiB) == "over"
    assert limit.state(100 * GiB, None) == "ok"


def processes_body() -> dict:
    mine = {"pid": 10, "used_memory": 3 * GiB, "owner": "self", "kernel": {"id": "k1"}}
    script = {"pid": 11, "used_memory": GiB, "owner": "self", "kernel": None}
    return {
        "gpus": [
            {"index": 0, "processes": [mine, script], "others": {"count": 2, "used_memory": 23 * GiB}},
            {"index": 1, "processes": [], "others": {"count": 0, "used_memory": 0}},
        ]
    }


def test_usage_says_why_memory_held_outside_cannot_be_told():
    body = processes_body()
    body["gpus"][0]["outside"] = {"used_memory": None, "includes_driver_reserve": True, "reason": "a recording"}
    usage = gpu_usage(body, {0: 80 * GiB, 1: 80 * GiB}, MemoryLimit(limit_bytes=4 * GiB))
    assert (usage[0]["outside"], usage[0]["outside_reason"]) == (None, "a recording")


def test_usage_adds_this_users_processes_and_only_totals_others():
    usage = gpu_usage(processes_body(), {0: 80 * GiB, 1: 80 * GiB}, MemoryLimit(limit_bytes=4 * GiB))
    assert usage[0] == {
        "index": 0,
        "mine": 4 * GiB,
        "others": 23 * GiB,
        "others_count": 2,
        "memory_total": 80 * GiB,
        "outside": None,  # this body says nothing of memory held outside the view
        "outside_reason": None,
        "limit": 4 * GiB,
        "state": "near",
        "instances": [],  # not in MIG mode
    }
    assert usage[1]["mine"] == 0 and usage[1]["state"] == "ok"
    assert kernel_memory(processes_body()) == {"k1": {0: 3 * GiB}}


def test_the_server_refuses_nonsense_classroom_settings():
    import pytest
    from traitlets import TraitError

    from jupyterlab_gpuscope.extension import GPUScope

    for name, value in (
        ("user_memory_limit_fraction", 1.5),
        ("user_memory_limit_bytes", -1),
        ("idle_kernel_minutes", -3.0),
        ("memory_warning_percent", 120.0),
    ):
        with pytest.raises(TraitError, match=name):
            GPUScope(**{name: value})


class _ClosedSessions:
    """A session manager whose database is gone, as during a server shutdown."""

    async def list_sessions(self):
        raise RuntimeError("Cannot operate on a closed database.")


async def test_a_failed_check_is_logged_with_its_traceback_but_not_once_the_server_stops(caplog):
    import logging

    from jupyterlab_gpuscope.shared_gpus.watcher import SharedGPUsWatcher

    log = logging.getLogger("gpuscope-test")
    from jupyterlab_gpuscope.monitor.process_feed import ProcessFeed

    sampler = types.SimpleNamespace(run_id="r", buffer=types.SimpleNamespace(last_seq=1))
    watcher = SharedGPUsWatcher(
        sampler=sampler,
        join=ProcessFeed(sampler, None, _ClosedSessions(), policy={}),
        kernel_manager=None,
        limit=MemoryLimit(),
        idle=IdlePolicy(0, 0),
        check_seconds=5,
        log=log,
    )
    with caplog.at_level(logging.DEBUG, logger="gpuscope-test"):
        await watcher._check_safely()
        watcher.stop()
        await watcher._check_safely()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["gpuscope: the shared-GPU check failed"]
    assert "closed database" in caplog.text  # the traceback is there for the first one
    assert caplog.records[-1].levelno == logging.DEBUG


def test_on_a_gpu_in_mig_mode_the_limit_applies_to_each_instance_and_its_memory():
    """A 25 % limit on an H200 in MIG mode: 17.4 GiB of a 3g.71gb slice, 4.4 GiB of a
    1g.18gb one. 5 GiB on the small slice is over its limit though far under the GPU's."""
    mine = {"pid": 10, "used_memory": 5 * GiB, "owner": "self", "kernel": {"id": "k1"}, "gpu_instance_id": 13}
    body = {
        "gpus": [
            {
                "index": 0,
                "processes": [mine],
                "others": {
                    "count": 1,
                    "used_memory": 30 * GiB,
                    "by_instance": {"1": {"count": 1, "used_memory": 30 * GiB}},
                },
            }
        ]
    }
    instances = {
        0: [
            {"uuid": "MIG-a", "profile": "3g.71gb", "gpu_instance_id": 1, "memory_total": 70 * GiB},
            {"uuid": "MIG-b", "profile": "1g.18gb", "gpu_instance_id": 13, "memory_total": 16 * GiB},
        ]
    }
    [gpu] = gpu_usage(body, {0: 141 * GiB}, MemoryLimit(limit_fraction=0.25), instances)
    big, small = gpu["instances"]
    assert (big["mine"], big["others"], big["others_count"], big["state"]) == (0, 30 * GiB, 1, "ok")
    assert (small["mine"], small["limit"], small["state"]) == (5 * GiB, 4 * GiB, "over")
    assert gpu["state"] == "over" and gpu["limit"] is None  # per instance, not per GPU

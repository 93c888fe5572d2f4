"""GPU processes joined with this server's kernels; other users and other PID namespaces."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from jupyterlab_gpuscope.monitor.processes import (
    ENDED,
    NOT_IN_NAMESPACE,
    UNVERIFIED,
    KernelInfo,
    describe,
    held_outside,
)

from .fake_nvml import GiB


@pytest.fixture
def gpuscope_config():
    return {"backend": "nvml", "interval_seconds": 0.25}


async def test_a_real_kernel_reported_by_nvml_is_shown_with_its_notebook(fake_nvml, jp_fetch, start_notebook, get_json):
    kernel_id, pid = await start_notebook("train/gpu.ipynb")
    try:
        fake_nvml.processes[1] = [(pid, 3 * GiB)]
        for _ in range(50):
            body = await get_json("processes")
            listed = body["gpus"][1]["processes"] if len(body["gpus"]) > 1 else []
            if listed:
                break
            await asyncio.sleep(0.1)
        assert body["live"] is True and body["backend"] == "nvml"
        [proc] = body["gpus"][1]["processes"]
        assert proc["pid"] == pid
        assert proc["used_memory"] == 3 * GiB
        assert proc["owner"] == "self"
        assert proc["kernel"]["id"] == kernel_id
        assert proc["kernel"]["name"] == "python3"
        assert proc["kernel"]["notebook_path"] == "train/gpu.ipynb"
        assert body["gpus"][0]["processes"] == []
        assert body["pid_namespace"]["shared"] is True
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_a_process_list_nvml_refuses_says_why_instead_of_passing_for_empty(fake_nvml, get_json):
    import pynvml

    fake_nvml.fail("nvmlDeviceGetComputeRunningProcesses", pynvml.NVML_ERROR_NO_PERMISSION, device=0)
    for _ in range(50):
        body = await get_json("processes")
        if body["gpus"] and body["gpus"][0]["unavailable"]:
            break
        await asyncio.sleep(0.1)
    assert body["gpus"][0]["processes"] == []
    assert "permission" in body["gpus"][0]["unavailable"].lower()
    assert body["gpus"][1]["unavailable"] is None


@pytest.fixture
def child_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    # Under load the new process's /proc entry can still be empty for a moment after
    # Popen returns (seen once in CI): wait, bounded, until it shows its command line.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "time.sleep(30)" not in " ".join(psutil.Process(child.pid).cmdline()):
        time.sleep(0.05)
    yield child
    child.kill()
    child.wait()


def kernel_of_this_test() -> KernelInfo:
    return KernelInfo(id="k1", name="python3", pid=os.getpid(), execution_state="idle", notebook_path="a.ipynb")


def test_a_descendant_of_a_kernel_belongs_to_that_kernel(child_process):
    body = describe(
        {0: [{"pid": child_process.pid, "used_memory": GiB}]},
        [kernel_of_this_test()],
        show_other_users=False,
    )
    [proc] = body["gpus"][0]["processes"]
    assert proc["kernel"]["id"] == "k1" and proc["kernel"]["notebook_path"] == "a.ipynb"
    assert proc["name"].startswith("python")


def test_other_users_are_counted_but_not_described(child_process):
    gpu_processes = {0: [{"pid": child_process.pid, "used_memory": 2 * GiB}, {"pid": os.getpid(), "used_memory": GiB}]}
    someone_else = os.getuid() + 1  # as if the server ran as another user
    body = describe(gpu_processes, [kernel_of_this_test()], show_other_users=False, own_uid=someone_else)
    gpu = body["gpus"][0]
    assert gpu["processes"] == []
    assert gpu["others"] == {"count": 2, "used_memory": 3 * GiB, "by_instance": {}}
    text = json.dumps(body)
    assert str(child_process.pid) not in text and "sleep" not in text


def test_admin_may_allow_seeing_other_users(child_process):
    body = describe(
        {0: [{"pid": child_process.pid, "used_memory": GiB}]},
        [],
        show_other_users=True,
        own_uid=os.getuid() + 1,
    )
    [proc] = body["gpus"][0]["processes"]
    assert proc["owner"] == "other"
    assert proc["pid"] == child_process.pid
    assert "time.sleep(30)" in " ".join(proc["cmdline"])
    assert proc["kernel"] is None  # never attributed to our kernels


def test_pids_from_another_namespace_are_not_given_wrong_owners(child_process):
    absent = 4_194_000  # above the usual pid_max: no such local process
    gpu_processes = {0: [{"pid": absent, "used_memory": GiB}, {"pid": child_process.pid, "used_memory": GiB}]}
    body = describe(
        gpu_processes, [kernel_of_this_test()], show_other_users=True, uses_gpu=lambda pid: False, own_namespace=True
    )
    assert body["pid_namespace"]["shared"] is False
    assert "container" in body["pid_namespace"]["note"]
    first, second = body["gpus"][0]["processes"]
    assert first["owner"] == "unknown" and first["note"] == NOT_IN_NAMESPACE
    # A local process with the same number, but no GPU open: not claimed as the kernel's.
    assert second["owner"] == "unknown" and second["note"] == UNVERIFIED and second["kernel"] is None
    verified = describe(
        gpu_processes, [kernel_of_this_test()], show_other_users=True, uses_gpu=lambda pid: True, own_namespace=True
    )
    assert verified["gpus"][0]["processes"][1]["kernel"]["id"] == "k1"


def test_outside_a_container_a_vanished_pid_is_only_a_process_that_ended(child_process):
    """NVML listed a process that has exited since: on a server in the host's PID namespace
    that says nothing of containers, and the kernel beside it is still named directly."""
    ended = 4_194_000
    gpu_processes = {0: [{"pid": ended, "used_memory": GiB}, {"pid": child_process.pid, "used_memory": GiB}]}
    body = describe(gpu_processes, [kernel_of_this_test()], show_other_users=True, own_namespace=False)
    assert body["pid_namespace"]["shared"] is True and body["pid_namespace"]["note"] is None
    first, second = body["gpus"][0]["processes"]
    assert first["owner"] == "unknown" and first["note"] == ENDED and first["attribution"] is None
    assert second["kernel"]["id"] == "k1" and second["attribution"] is None


async def test_a_kernel_still_starting_is_listed_without_its_unset_traits():
    from jupyterlab_gpuscope.monitor.processes import running_kernels

    class Starting:
        kernel_name = "python3"
        provisioner = None

        @property
        def last_activity(self):
            raise KeyError("last_activity")  # traitlets, before the trait is set

        @property
        def execution_state(self):
            raise KeyError("execution_state")

    class Kernels:
        def list_kernel_ids(self):
            return ["k1"]

        def get_kernel(self, kernel_id):
            return Starting()

    class Sessions:
        async def list_sessions(self):
            return [{"kernel": {"id": "k1"}, "path": "a.ipynb"}]

    [kernel] = await running_kernels(Kernels(), Sessions())
    assert (kernel.id, kernel.notebook_path, kernel.last_activity, kernel.execution_state, kernel.pid) == (
        "k1",
        "a.ipynb",
        None,
        None,
        None,
    )


# ---- memory held outside this server's view ---------------------------------------------


def test_memory_no_listed_process_holds_is_reported_as_held_outside():
    listed = [{"pid": 1, "used_memory": 3 * GiB}, {"pid": 2, "used_memory": GiB}]
    outside = held_outside(6.5 * GiB, listed, reserve_apart=True, unreadable=None)
    assert outside == {"used_memory": 2.5 * GiB, "includes_driver_reserve": False, "reason": None}
    # A CUDA context's few MiB that NVML's per-process figures leave out are not "outside".
    assert held_outside(4 * GiB + 9 * 2**20, listed, reserve_apart=True, unreadable=None)["used_memory"] == 0
    # Without NVML's memory v2 the driver's reserve is in "used": said, not hidden.
    assert held_outside(6.5 * GiB, listed, reserve_apart=False, unreadable=None)["includes_driver_reserve"] is True


def test_held_outside_is_unknown_rather_than_guessed():
    listed = [{"pid": 1, "used_memory": None}]
    assert held_outside(8 * GiB, listed, reserve_apart=True, unreadable=None)["used_memory"] is None
    assert "no memory figure" in held_outside(8 * GiB, listed, reserve_apart=True, unreadable=None)["reason"]
    refused = held_outside(8 * GiB, [], reserve_apart=True, unreadable="Insufficient Permissions")
    assert refused["used_memory"] is None and "could not be read" in refused["reason"]
    assert held_outside(None, [], reserve_apart=True, unreadable=None)["used_memory"] is None
    # A replay's memory and processes are not one machine's moment: never "outside".
    assert held_outside(8 * GiB, [], reserve_apart=True, unreadable=None, recorded=True)["used_memory"] is None


async def test_the_processes_and_usage_routes_count_memory_held_outside(fake_nvml, get_json):
    import os

    # NVML lists one process of this server (3 GiB) while the GPU has 5.5 GiB in use, as
    # when another container's process (hidden by the driver) holds 2.5 GiB.
    fake_nvml.processes[0] = [(os.getpid(), 3 * GiB)]
    fake_nvml.memory_used[0] = int(5.5 * GiB)
    for _ in range(50):
        body = await get_json("processes")
        if body["gpus"] and body["gpus"][0]["processes"] and body["gpus"][0]["outside"]["used_memory"] != GiB:
            break
        await asyncio.sleep(0.1)
    outside = body["gpus"][0]["outside"]
    assert outside == {"used_memory": int(2.5 * GiB), "includes_driver_reserve": False, "reason": None}
    assert body["gpus"][1]["outside"]["used_memory"] == GiB  # 1 GiB in use, nothing listed
    usage = await get_json("shared-gpus")
    assert usage["gpus"][0]["outside"] == int(2.5 * GiB)


# ---- a real PID namespace (as in a container), made with unshare --------------------------

NAMESPACE_PROBE = r"""
import json, os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from jupyterlab_gpuscope.monitor.environment import environment
from jupyterlab_gpuscope.monitor.processes import KernelInfo, describe
GiB = 2**30
kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
time.sleep(0.3)
info = KernelInfo(id="k1", name="python3", pid=kernel.pid, execution_state="idle", notebook_path="a.ipynb")
modes = {
    # driver 580 (seen on an H200): PIDs translated, processes of other namespaces hidden
    "translated": {0: [{"pid": kernel.pid, "used_memory": 3 * GiB}]},
    # older drivers: host PIDs, which do not exist in this namespace
    "host": {0: [{"pid": 4_000_000 + kernel.pid, "used_memory": 3 * GiB}]},
}
out = {}
for mode, listed in modes.items():
    body = describe(listed, [info], show_other_users=False, memory_used={0: int(5.5 * GiB)}, reserve_apart=True)
    body["environment"] = environment(listed)
    out[mode] = body
kernel.kill()
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
def test_in_a_real_pid_namespace_kernels_are_named_and_outside_memory_counted():
    package_parent = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", NAMESPACE_PROBE, package_parent],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    translated, host = out["translated"], out["host"]
    # Translated PIDs: the kernel is named; the hidden 2.5 GiB is held outside the view.
    assert translated["pid_namespace"]["own"] is True and translated["pid_namespace"]["shared"] is True
    [proc] = translated["gpus"][0]["processes"]
    assert proc["kernel"]["id"] == "k1" and proc["owner"] == "self"
    assert translated["gpus"][0]["outside"]["used_memory"] == int(2.5 * GiB)
    assert translated["environment"]["own_pid_namespace"] is True
    assert translated["environment"]["gpu_pids"] == "translated"
    # Host PIDs: nothing here has that PID, so it is never given to the kernel (no guess).
    assert host["pid_namespace"]["shared"] is False and "not visible" in host["pid_namespace"]["note"]
    assert host["environment"]["gpu_pids"] == "host"
    assert all(p["kernel"] is None for p in host["gpus"][0]["processes"])
    assert host["gpus"][0]["others"]["count"] + len(host["gpus"][0]["processes"]) == 1


async def test_devices_say_where_the_server_runs(fake_nvml, jp_fetch):
    body = json.loads((await jp_fetch("gpuscope", "api", "devices")).body)
    env = body["environment"]
    assert set(env) == {"container", "own_pid_namespace", "gpu_pids"}
    assert env["container"] in (None, "docker", "podman", "kubernetes", "wsl")
    # No GPU process yet: nothing to tell the PIDs by (or the host's own namespace).
    assert env["gpu_pids"] in ("unknown", "shared")


async def test_a_kernel_shut_down_while_being_listed_is_skipped_not_an_error():
    from types import SimpleNamespace

    from jupyterlab_gpuscope.monitor.processes import running_kernels

    class Kernels:
        def list_kernel_ids(self):
            return ["gone", "k2"]

        def get_kernel(self, kernel_id):
            if kernel_id == "gone":
                raise KeyError(kernel_id)  # as MultiKernelManager does for a removed kernel
            return SimpleNamespace(kernel_name="python3", provisioner=SimpleNamespace(pid=42), execution_state="idle")

    class Sessions:
        async def list_sessions(self):
            return [{"kernel": {"id": "k2"}, "path": "b.ipynb"}]

    [kernel] = await running_kernels(Kernels(), Sessions())
    assert (kernel.id, kernel.pid, kernel.notebook_path) == ("k2", 42, "b.ipynb")

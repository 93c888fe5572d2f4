"""GPU processes on drivers that give host PIDs (older drivers in containers), translated
PIDs (driver 580) and mixed ones: who holds what, told from the kernels' own evidence.

The end-to-end test runs two real kernels of notebooks, each with the per-cell extension
loaded as the frontend loads it and a stand-in for torch whose allocator holds memory;
the fake NVML lists their processes the way each kind of driver does, with a process of
another container beside them."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from jupyterlab_gpuscope.monitor import metrics, processes
from jupyterlab_gpuscope.monitor.attribution import (
    CONTEXT_ALLOWANCE,
    EVIDENCE_READ_SECONDS,
    MAX_EVIDENCE_BYTES,
    evidence_path,
    read_evidence,
)
from jupyterlab_gpuscope.monitor.processes import NOT_IN_NAMESPACE, KernelInfo, describe
from jupyterlab_gpuscope.routes import cell_usage_loader

from .fake_nvml import GiB
from .test_cell_usage import FAKE_TORCH
from .test_shared_gpus_policy import MINUTE, FakeClock

MiB = 2**20
CONTEXT = 500 * MiB  # what NVML counts per process above the allocator: the CUDA context
HOST_PID_OFFSET = 4_000_000  # host PIDs: numbers no process here has
OTHER_CONTAINER = (4_190_000, int(2.5 * GiB))
GPU_UUID = "GPU-fake-0"  # what the fake NVML calls GPU 0; the kernels' torch says the same


@pytest.fixture
def gpuscope_config():
    return {"backend": "nvml", "interval_seconds": 0.25, "check_seconds": 60, "idle_kernel_minutes": 30}


@pytest.fixture
def gpuscope(jp_serverapp):
    return jp_serverapp.extension_manager.extension_points["jupyterlab_gpuscope"].app


# torch's stand-in names GPU 0 by the UUID the fake NVML gives it (without NVML's prefix,
# as CUDA prints it).
TORCH = FAKE_TORCH.replace("bcc1dfc1-2d22-b7fe-0cb8-970918da4ec7", "fake-0")


async def start_with_extension(start_notebook, jp_serverapp, path: str):
    """A notebook's kernel with the per-cell extension and the torch stand-in loaded:
    (kernel id, PID, a client of it)."""
    kernel_id, pid = await start_notebook(path)
    client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    for code in (cell_usage_loader(), TORCH):  # loaded at start, as the frontend does
        reply = await client.execute_interactive(code, silent=True, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
    return kernel_id, pid, client


async def allocate(client, size: int) -> None:
    """A cell that makes torch's allocator hold `size` bytes (the kernel's context appears)."""
    code = f"torch = __import__('sys').modules['torch']\ntorch.cuda.allocate({size})"
    reply = await client.execute_interactive(code, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]


async def body_when(get_json, route: str, condition, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = await get_json(route)
        if condition(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{route} never matched: {json.dumps(body)[:3000]}")
        await asyncio.sleep(0.1)


def by_notebook(body: dict) -> dict[str, dict]:
    return {p["kernel"]["notebook_path"]: p for p in body["gpus"][0]["processes"] if p["kernel"]}


@pytest.mark.parametrize("mode", ["translated", "host", "mixed"])
async def test_each_driver_kind_names_the_kernels_counts_the_others_and_nudges_the_idle(
    mode, fake_nvml, gpuscope, jp_fetch, jp_serverapp, get_json, start_notebook, monkeypatch
):
    """translated: PIDs are this namespace's, other containers' processes hidden (driver 580 on
    an H200). host: every PID is the host's. mixed: process lists translated, per-process
    utilisation in host PIDs. Two kernels (8 and 3 GiB) and another container's 2.5 GiB.
    The server is taken to run in a PID namespace of its own (a container), as it must be
    for the driver to give PIDs that are not its own."""
    monkeypatch.setattr(processes, "in_own_pid_namespace", lambda: True)
    gpu_pid = (lambda pid: pid + HOST_PID_OFFSET) if mode == "host" else (lambda pid: pid)
    listed: list[tuple[int, int]] = []
    if mode == "host":
        listed.append(OTHER_CONTAINER)  # there from the start: before any kernel's context

    def show(processes: list[tuple[int, int]]) -> None:
        fake_nvml.processes[0] = list(processes)
        # The driver's figure counts every process, listed or hidden.
        fake_nvml.memory_used[0] = sum(m for _, m in processes) + (OTHER_CONTAINER[1] if mode != "host" else 0)
        if mode == "mixed":
            fake_nvml.utilisation[0] = [(pid + HOST_PID_OFFSET, 40) for pid, _ in processes]

    show(listed)
    clients = []
    try:
        train, train_pid, client = await start_with_extension(start_notebook, jp_serverapp, "train.ipynb")
        clients.append(client)
        evaluate, eval_pid, client2 = await start_with_extension(start_notebook, jp_serverapp, "eval.ipynb")
        clients.append(client2)
        await allocate(client, 8 * GiB)
        listed.append((gpu_pid(train_pid), 8 * GiB + CONTEXT))  # its context appears in NVML
        show(listed)
        await asyncio.sleep(0.5)
        await allocate(client2, 3 * GiB)
        listed.append((gpu_pid(eval_pid), 3 * GiB + CONTEXT))
        show(listed)

        body = await body_when(get_json, "processes", lambda b: len(by_notebook(b)) == 2)
        named = by_notebook(body)
        assert named["train.ipynb"]["kernel"]["id"] == train and named["eval.ipynb"]["kernel"]["id"] == evaluate
        assert named["train.ipynb"]["used_memory"] == 8 * GiB + CONTEXT
        assert all(p["owner"] == "self" for p in named.values())
        gpu = body["gpus"][0]
        if mode == "host":
            # Matched from the kernels' evidence, and said to be probable, with how.
            assert all(p["attribution"]["probable"] is True for p in named.values())
            assert "appeared" in named["train.ipynb"]["attribution"]["how"]
            assert body["pid_namespace"]["shared"] is False
            # The other container's process is counted, never given to a kernel.
            assert gpu["others"] == {"count": 1, "used_memory": OTHER_CONTAINER[1], "by_instance": {}}
            assert gpu["outside"]["used_memory"] == 0
        else:
            assert all(p["attribution"] is None for p in named.values())  # looked up directly
            assert gpu["others"]["count"] == 0
            assert gpu["outside"]["used_memory"] == OTHER_CONTAINER[1]

        usage = await body_when(get_json, "shared-gpus", lambda b: len(b["kernels"]) == 2)
        [gpu_usage] = [g for g in usage["gpus"] if g["index"] == 0]
        assert gpu_usage["mine"] == 11 * GiB + 2 * CONTEXT
        assert gpu_usage["others"] + (gpu_usage["outside"] or 0) == OTHER_CONTAINER[1]

        metrics._registered.per_kernel = True
        try:
            text = (await jp_fetch("metrics")).body.decode()
        finally:
            metrics._registered.per_kernel = False
        series = [line for line in text.splitlines() if line.startswith("gpuscope_kernel_gpu_memory_bytes{")]
        assert {float(line.rsplit(" ", 1)[1]) for line in series} == {8 * GiB + CONTEXT, 3 * GiB + CONTEXT}

        # Idle past the threshold: both kernels are nudged with what they hold.
        watcher = gpuscope.shared_gpus
        watcher.stop()
        for kernel_id in (train, evaluate):
            for _ in range(100):
                if jp_serverapp.kernel_manager.get_kernel(kernel_id).execution_state == "idle":
                    break
                await asyncio.sleep(0.1)
        clock = FakeClock(time.time())
        watcher.clock = watcher.idle.clock = clock
        clock.now += 31 * MINUTE
        await watcher.check()
        idle = {i["notebook_path"]: i for i in (await get_json("shared-gpus"))["idle"]}
        assert set(idle) == {"train.ipynb", "eval.ipynb"}
        assert idle["eval.ipynb"]["used_memory"] == 3 * GiB + CONTEXT
    finally:
        for client in clients:
            client.stop_channels()


async def test_with_host_pids_a_kernel_without_evidence_is_not_guessed(
    fake_nvml, start_notebook, get_json, monkeypatch
):
    """The per-cell extension is off in the kernel: nothing to match by, so its process is
    not given to it, and the server says it cannot tell (in a container)."""
    monkeypatch.setattr(processes, "in_own_pid_namespace", lambda: True)
    kernel_id, pid = await start_notebook("plain.ipynb")
    fake_nvml.processes[0] = [(pid + HOST_PID_OFFSET, 3 * GiB)]
    body = await body_when(
        get_json, "processes", lambda b: b["gpus"] and b["gpus"][0]["others"]["count"] + len(b["gpus"][0]["processes"])
    )
    assert body["pid_namespace"]["kernels_without_evidence"] == [kernel_id]
    assert "cannot be told" in body["pid_namespace"]["note"]
    assert (await get_json("shared-gpus"))["kernels"] == []


# ---- the matching rules, on given evidence ----------------------------------------------------


def kernel(kernel_id: str, pid: int = 100) -> KernelInfo:
    return KernelInfo(kernel_id, "python3", pid, "idle", f"{kernel_id}.ipynb", connection_file=None)


def evidence(*entries):
    """evidence_of for describe: kernel id -> [(context_after, context_by, held)] on GPU 0."""
    from jupyterlab_gpuscope.monitor.attribution import DeviceEvidence

    given = {k: [DeviceEvidence(k, "fake-0", a, b, held) for a, b, held in v] for k, v in entries}
    return lambda info: given.get(info.id)


def host_body(processes, appeared, kernels, evidence_of):
    return describe(
        {0: [{"pid": pid, "used_memory": mem} for pid, mem in processes]},
        kernels,
        show_other_users=True,
        appeared={0: appeared},
        gpu_uuids={0: GPU_UUID},
        evidence_of=evidence_of,
        now=lambda: 1000.0,
        own_namespace=True,
    )


def test_two_processes_appearing_with_one_kernels_context_are_not_guessed():
    # Kernel a's context appeared between 100 and 102; two host PIDs appeared then, both
    # with memory that fits: one of them is another container's, and nothing says which.
    body = host_body(
        [(4_100_001, 4 * GiB + CONTEXT), (4_100_002, 4 * GiB + 2 * CONTEXT)],
        {4_100_001: (99.9, 101.0), 4_100_002: (100.5, 101.5)},
        [kernel("a")],
        evidence(("a", [(100.0, 102.0, 4 * GiB)])),
    )
    entries = body["gpus"][0]["processes"]
    assert all(p["kernel"] is None and p["attribution"]["probable"] is False for p in entries)
    assert "not guessed" in entries[0]["attribution"]["why_not"]


def test_a_process_whose_memory_or_time_does_not_fit_is_not_the_kernels():
    evidence_of = evidence(("a", [(100.0, 102.0, 4 * GiB)]))
    # Appeared at the right time, but holds less than the kernel's allocator does.
    small = host_body([(4_100_001, 3 * GiB)], {4_100_001: (100.0, 101.0)}, [kernel("a")], evidence_of)
    # Holds the right amount, but was there long before the kernel's context.
    early = host_body([(4_100_001, 4 * GiB + CONTEXT)], {4_100_001: (None, 50.0)}, [kernel("a")], evidence_of)
    # Far more than an allocator plus a context: not this kernel's.
    large = host_body(
        [(4_100_001, 4 * GiB + CONTEXT_ALLOWANCE + GiB)], {4_100_001: (100.0, 101.0)}, [kernel("a")], evidence_of
    )
    for body in (small, early, large):
        [entry] = body["gpus"][0]["processes"]
        assert entry["kernel"] is None and entry["note"] == NOT_IN_NAMESPACE
        assert "no kernel of this server fits it" in entry["attribution"]["why_not"]


def test_two_kernels_and_two_processes_are_matched_one_to_one_by_time():
    evidence_of = evidence(("a", [(100.0, 102.0, 4 * GiB)]), ("b", [(200.0, 203.0, 4 * GiB)]))
    body = host_body(
        [(4_100_001, 4 * GiB + CONTEXT), (4_100_002, 4 * GiB + CONTEXT)],
        {4_100_001: (101.0, 101.2), 4_100_002: (202.0, 202.2)},
        [kernel("a"), kernel("b")],
        evidence_of,
    )
    first, second = body["gpus"][0]["processes"]
    assert (first["kernel"]["id"], second["kernel"]["id"]) == ("a", "b")
    assert first["attribution"]["probable"] is True


def test_evidence_of_an_earlier_process_or_a_broken_file_is_ignored(tmp_path):
    connection = tmp_path / "kernel-abc.json"
    path = evidence_path(str(connection))
    assert os.path.basename(path) == "gpuscope-kernel-abc.json"  # not taken for a kernel's file
    device = {"ordinal": 0, "uuid": "fake-0", "context_after": 1.0, "context_by": 2.0, "held": {"torch": GiB}}
    with open(path, "w") as out:
        json.dump({"version": 1, "pid": 41, "devices": [device]}, out)
    [given] = read_evidence("k", 41, str(connection))
    assert (given.uuid, given.held, given.context_by) == ("fake-0", GiB, 2.0)
    assert read_evidence("k", 42, str(connection)) is None  # a restarted kernel's new process
    for broken in ("{", '{"version": 1, "pid": 41, "devices": [{"uuid": "x", "held": {"torch": "lots"}}]}', "[]"):
        with open(path, "w") as out:
            out.write(broken)
        assert read_evidence("k", 41, str(connection)) in (None, [])


def test_the_kernel_writes_its_evidence_beside_its_connection_file(kernel_with_evidence_dir):
    client, folder = kernel_with_evidence_dir
    for code in (cell_usage_loader(), TORCH):  # loaded at start, as the frontend does
        client.execute_interactive(code, silent=True, timeout=60)
    started = time.time()
    client.execute_interactive("torch = __import__('sys').modules['torch']\ntorch.cuda.allocate(2**30)", timeout=60)
    [written] = [n for n in os.listdir(folder) if n.startswith("gpuscope-")]
    report = json.loads((folder / written).read_text())
    [device] = report["devices"]
    assert device["uuid"] == "fake-0" and device["held"] == {"torch": GiB}
    assert started - 1 <= device["context_after"] <= device["context_by"] <= time.time()


@pytest.fixture
def kernel_with_evidence_dir(tmp_path):
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3", connection_file=str(tmp_path / "kernel-t.json"))
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield client, tmp_path
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def test_on_recorded_h200_readings_host_pids_go_to_the_right_kernels_and_no_other(tmp_path):
    """scripts/gpu_host_pid_attribution.py on a real H200: two kernels (8 GiB; 3 GiB and a matmul) and
    a process that is no kernel (2.5 GiB, from before them); NVML's PIDs moved to stand for
    host PIDs. The evidence files the kernels wrote are read back by the server's parser."""
    recorded = json.loads((Path(__file__).parent / "fixtures" / "h200-host-pids.json").read_text())
    offset = recorded["offset"]
    kernels = []
    for name, report in recorded["evidence"].items():
        connection = tmp_path / f"kernel-{name}.json"
        Path(evidence_path(str(connection))).write_text(json.dumps(report))
        kernels.append(
            KernelInfo(name, "python3", report["pid"], "idle", f"{name}.ipynb", connection_file=str(connection))
        )
    rows = recorded["rows"]
    body = describe(
        {0: [{"pid": r["pid"] + offset, "used_memory": int(r["nvml_used_mib"] * MiB)} for r in rows]},
        kernels,
        show_other_users=True,
        uses_gpu=lambda pid: False,
        appeared={0: {r["pid"] + offset: tuple(r["appeared"]) for r in rows}},
        gpu_uuids={0: recorded["gpu_uuid"]},
        now=lambda: max(r["appeared"][1] for r in rows) + 5,
        own_namespace=True,
    )
    attributed = {p["pid"] - offset: (p["kernel"] or {}).get("id") for p in body["gpus"][0]["processes"]}
    truth = {r["pid"]: (None if r["true_owner"] == "not a kernel" else r["true_owner"]) for r in rows}
    assert attributed == truth and sorted(filter(None, truth.values())) == ["eval", "train"]


# ---- evidence files in a runtime directory other users may write to ---------------------------


def planted_evidence(tmp_path, pid: int = 41) -> tuple[Path, str]:
    """A valid report for a kernel of PID `pid`: (its connection file, the report's text)."""
    device = {"ordinal": 0, "uuid": "fake-0", "context_after": 1.0, "context_by": 2.0, "held": {"torch": GiB}}
    return tmp_path / "kernel-abc.json", json.dumps({"version": 1, "pid": pid, "devices": [device]})


def test_evidence_written_by_another_user_is_ignored_with_one_log_line(tmp_path, caplog):
    connection, report = planted_evidence(tmp_path)
    path = Path(evidence_path(str(connection)))
    path.write_text(report)
    assert read_evidence("k", 41, str(connection))  # the kernels' own user's file counts
    os.chown(path, os.getuid() + 1000, -1)  # the same file, as another local user left it
    with caplog.at_level("WARNING"):
        assert read_evidence("k", 41, str(connection)) is None
        assert read_evidence("k", 41, str(connection)) is None
    [line] = [r.getMessage() for r in caplog.records if "evidence" in r.getMessage()]
    assert "belongs to user id" in line and str(path) in line


def test_a_fifo_link_or_huge_file_in_place_of_evidence_is_ignored_without_hanging(tmp_path):
    connection, report = planted_evidence(tmp_path)
    path = evidence_path(str(connection))
    os.mkfifo(path)  # nobody ever writes to it: reading it would block for good
    started = time.monotonic()
    assert read_evidence("k", 41, str(connection)) is None
    assert time.monotonic() - started < 0.5
    os.remove(path)
    os.symlink("/dev/zero", path)  # endless
    assert read_evidence("k", 41, str(connection)) is None
    os.remove(path)
    real = tmp_path / "elsewhere.json"
    real.write_text(report)
    os.symlink(real, path)  # even a valid report is not taken through a link
    assert read_evidence("k", 41, str(connection)) is None
    os.remove(path)
    Path(path).write_text(report[:-1] + " " * (MAX_EVIDENCE_BYTES + 1) + "}")
    assert read_evidence("k", 41, str(connection)) is None


def test_a_read_that_hangs_is_given_up_after_the_time_limit(tmp_path, monkeypatch):
    from jupyterlab_gpuscope.monitor import attribution

    connection, report = planted_evidence(tmp_path)
    Path(evidence_path(str(connection))).write_text(report)
    monkeypatch.setattr(attribution, "_read_trusted", lambda path, owner: time.sleep(3) or report)
    started = time.monotonic()
    assert read_evidence("k", 41, str(connection)) is None
    assert time.monotonic() - started < EVIDENCE_READ_SECONDS + 0.5


def test_the_kernel_never_writes_its_evidence_through_a_planted_link(tmp_path):
    from jupyterlab_gpuscope.kernel.cell_usage import ContextEvidence

    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    path = tmp_path / "gpuscope-kernel-t.json"
    os.symlink(victim, f"{path}.partial")  # the old fixed temporary name
    os.symlink(victim, path)  # and the evidence file's own name
    evidence = ContextEvidence(str(path))
    evidence.update(1.0, 2.0, {0: {"uuid": "fake-0", "bytes": {"torch": GiB}}})
    assert victim.read_text() == "the user's own file"
    assert not path.is_symlink() and json.loads(path.read_text())["devices"][0]["held"] == {"torch": GiB}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["victim.txt", "gpuscope-kernel-t.json", "gpuscope-kernel-t.json.partial"]
    )  # no temporary file left behind

"""The per-cell GPU usage extension (kernel/cell_usage.py) in a real kernel: loaded the way the
frontend loads it, with the CPU build of torch (records nothing) and with a fake CUDA
whose allocator counters the test drives (records what a cell allocated)."""

from __future__ import annotations

import contextlib
import json
import sys
import types
from pathlib import Path

from jupyterlab_gpuscope.kernel import cell_usage
from jupyterlab_gpuscope.routes import cell_usage_loader

SOURCE = Path(cell_usage.__file__).read_text()
TARGET = "gpuscope.cells"

# What the frontend runs in each kernel: the collector route's cell_usage_loader, in
# the default "change" mode and in the "peak" mode.
LOADER = cell_usage_loader()
PEAK_LOADER = cell_usage_loader("peak")

# A stand-in for torch with CUDA initialised: counters on the host, as torch's allocator
# keeps them, driven by `torch.cuda.allocate(n)` / `torch.cuda.free(n)`.
# The torch stand-in a test kernel runs first (the Galata tests run the same file).
FAKE_TORCH = (Path(__file__).parent / "fixtures" / "fake_torch_cell.py").read_text()
GiB = 2**30


@contextlib.contextmanager
def torch_module(cuda=None):
    """sys.modules["torch"] is a stand-in with this `cuda` (absent when None) for the block."""
    saved = sys.modules.pop("torch", None)
    if cuda is not None:
        fake = types.ModuleType("torch")
        fake.cuda = cuda
        sys.modules["torch"] = fake
    try:
        yield
    finally:
        sys.modules.pop("torch", None)
        if saved is not None:
            sys.modules["torch"] = saved


class Shell:
    """An IPython shell with no kernel: records are kept, not sent."""

    kernel = None


def execute(client, code: str, silent: bool = False) -> tuple[dict, list[dict]]:
    """Run code; the reply and the gpuscope comm messages it caused."""
    comms: list[dict] = []

    def hook(msg):
        if msg["msg_type"] == "comm_open" and msg["content"]["target_name"] == TARGET:
            comms.append({"open": msg["content"]["data"]})
        elif msg["msg_type"] == "comm_msg":
            comms.append(msg["content"]["data"])

    reply = client.execute_interactive(code, silent=silent, store_history=not silent, output_hook=hook, timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply["content"], comms


def test_cpu_torch_records_nothing_and_leaves_no_names(kernel):
    execute(kernel, LOADER, silent=True)
    _, comms = execute(kernel, "import torch\nx = torch.ones(1000) * 2\nx.sum()")
    assert comms == []  # CUDA never started: no record, no comm
    names = kernel.execute_interactive("", user_expressions={"n": "[n for n in dir() if 'gpuscope' in n]"})
    assert names["content"]["user_expressions"]["n"]["data"]["text/plain"] == "[]"
    # CUDA is still not initialised: the extension must never start it.
    check = kernel.execute_interactive("", user_expressions={"c": "torch.cuda.is_initialized()"})
    assert check["content"]["user_expressions"]["c"]["data"]["text/plain"] == "False"


def test_in_peak_mode_a_cell_that_allocates_is_measured_and_sent_on_the_comm(kernel):
    execute(kernel, FAKE_TORCH)
    execute(kernel, PEAK_LOADER, silent=True)
    reply, comms = execute(
        kernel, "torch = __import__('sys').modules['torch']\ntorch.cuda.allocate(3 * 2**30)\ntorch.cuda.free(2 * 2**30)"
    )
    assert comms[0] == {"open": {"version": 1}}
    record = comms[1]
    assert record["execution_count"] == reply["execution_count"]
    assert record["end"] >= record["start"] > 0
    assert record["devices"] == [
        {
            "index": 0,
            "uuid": "bcc1dfc1-2d22-b7fe-0cb8-970918da4ec7",
            "peak_allocated": 3 * GiB,
            "peak_reserved": 3 * GiB,
            "allocated_before": 0,
            "allocated_after": 1 * GiB,
            "reserved_before": 0,
            "reserved_after": 3 * GiB,
        }
    ]
    assert record["mode"] == "peak"
    # The next cell: the peak was reset to what was held, the comm is reused.
    reply, comms = execute(kernel, "torch.cuda.allocate(2**30)")
    assert [c.get("open") for c in comms] == [None]
    assert comms[0]["devices"][0]["allocated_before"] == GiB
    assert comms[0]["devices"][0]["peak_allocated"] == 2 * GiB


def max_allocated(kernel) -> int:
    """What a user's own cell reads from torch.cuda.max_memory_allocated()."""
    execute(kernel, "measured = torch.cuda.max_memory_allocated(0)")
    reply = kernel.execute_interactive("", user_expressions={"m": "measured"})
    return int(reply["content"]["user_expressions"]["m"]["data"]["text/plain"])


def test_by_default_torch_peak_statistics_are_left_as_the_user_set_them(kernel):
    execute(kernel, FAKE_TORCH)
    execute(kernel, LOADER, silent=True)
    _, comms = execute(kernel, "torch = __import__('sys').modules['torch']\ntorch.cuda.allocate(3 * 2**30)")
    [record] = [c for c in comms if "open" not in c]
    assert record["mode"] == "change"
    assert record["devices"][0]["peak_allocated"] == 3 * GiB  # a new high: the cell's own
    # A cell that stays below the earlier high has no peak of its own: null, not a guess.
    _, comms = execute(kernel, "torch.cuda.free(2 * 2**30)\ntorch.cuda.allocate(2**29)")
    device = comms[0]["devices"][0]
    assert device["peak_allocated"] is None
    assert (device["allocated_before"], device["allocated_after"]) == (3 * GiB, GiB + GiB // 2)
    # The user's own measurement across cells still spans both.
    assert max_allocated(kernel) == 3 * GiB


def test_the_peak_mode_resets_torch_peak_statistics_before_each_cell(kernel):
    execute(kernel, FAKE_TORCH)
    execute(kernel, PEAK_LOADER, silent=True)
    execute(kernel, "torch = __import__('sys').modules['torch']\ntorch.cuda.allocate(3 * 2**30)")
    execute(kernel, "torch.cuda.free(2 * 2**30)")
    assert max_allocated(kernel) == GiB  # what the setting's description warns of


def test_loading_twice_does_not_double_the_records(kernel):
    execute(kernel, FAKE_TORCH)
    execute(kernel, LOADER, silent=True)
    execute(kernel, LOADER, silent=True)
    _, comms = execute(kernel, "1 + 1")
    assert len([c for c in comms if "open" not in c]) == 1


def test_without_torch_the_hooks_do_nothing():
    usage = cell_usage.CellGPUUsage(Shell())
    with torch_module(None):
        usage.pre_run_cell()
        usage.post_run_cell()
    assert usage.records == []


class StartingCuda:
    """One GPU whose CUDA starts when a test sets `initialised` (1 GiB allocated, 2 GiB peak)."""

    initialised = False

    def is_initialized(self):
        return self.initialised

    def current_device(self):
        return 0

    def device_count(self):
        return 1

    def memory_reserved(self, i):
        return 2 * GiB

    def memory_allocated(self, i):
        return GiB

    def max_memory_allocated(self, i):
        return 2 * GiB

    def max_memory_reserved(self, i):
        return 2 * GiB

    def get_device_properties(self, i):
        raise RuntimeError("no properties")


def test_a_cell_that_starts_cuda_is_measured_from_zero():
    """CUDA initialised during the cell: no reset before it, the peak is since start."""

    cuda = StartingCuda()
    usage = cell_usage.CellGPUUsage(Shell())
    with torch_module(cuda):
        usage.pre_run_cell()
        cuda.initialised = True
        usage.post_run_cell(types.SimpleNamespace(execution_count=7))
    [record] = usage.records
    assert record["execution_count"] == 7 and record["start"] is None
    assert record["devices"] == [
        {
            "index": 0,
            "uuid": None,
            "peak_allocated": 2 * GiB,
            "peak_reserved": 2 * GiB,
            "allocated_before": 0,
            "allocated_after": GiB,
            "reserved_before": 0,
            "reserved_after": 2 * GiB,
        }
    ]


async def test_the_route_serves_the_extension_source(jp_fetch):
    response = await jp_fetch("gpuscope", "api", "collector")
    assert json.loads(response.body)["cell_usage_loader"] == LOADER and json.dumps(SOURCE) in LOADER


def test_torch_allocator_statistics_are_read_in_one_call_per_device():
    """The path taken with real torch: memory_stats_as_nested_dict, once per device and hook."""

    class Cuda:
        calls = 0
        current = {0: GiB, 1: 0}
        peak = {0: 3 * GiB, 1: 0}

        def is_initialized(self):
            return True

        def current_device(self):
            return 0

        def device_count(self):
            return 2

        def memory_stats_as_nested_dict(self, i):
            self.calls += 1
            return {
                "allocated_bytes": {"all": {"current": self.current[i], "peak": self.peak[i]}},
                "reserved_bytes": {"all": {"current": 2 * self.current[i], "peak": 4 * GiB if i == 0 else 0}},
            }

        def reset_peak_memory_stats(self, i):
            self.peak[i] = self.current[i]

        def get_device_properties(self, i):
            return types.SimpleNamespace(uuid="abc")

    cuda = Cuda()
    usage = cell_usage.CellGPUUsage(Shell(), reset_peaks=True)
    with torch_module(cuda):
        usage.pre_run_cell()
        cuda.current[0] = 2 * GiB
        cuda.peak[0] = 5 * GiB
        usage.post_run_cell(types.SimpleNamespace(execution_count=3))
    assert cuda.calls == 4  # two devices, before and after
    [record] = usage.records
    # Device 1 holds nothing and is not current: not reported.
    assert record["devices"] == [
        {
            "index": 0,
            "uuid": "abc",
            "peak_allocated": 5 * GiB,
            "peak_reserved": 4 * GiB,
            "allocated_before": GiB,
            "allocated_after": 2 * GiB,
            "reserved_before": 2 * GiB,
            "reserved_after": 4 * GiB,
        }
    ]


class EventsShell(Shell):
    """A shell with IPython's event registry, for load_ipython_extension."""

    def __init__(self) -> None:
        from IPython.core.events import EventManager, available_events

        self.events = EventManager(self, available_events)


def test_devices_already_in_use_when_the_extension_loads_have_no_known_context_start():
    """Loaded late (the setting turned on mid-session): the context appeared at some earlier,
    unknown time, so the evidence says so instead of naming the load time; a reload keeps
    what was known."""

    class Cuda:
        def is_initialized(self):
            return True

        def current_device(self):
            return 0

        def device_count(self):
            return 1

        def memory_reserved(self, i):
            return 2 * GiB

        memory_allocated = max_memory_allocated = max_memory_reserved = memory_reserved

        def get_device_properties(self, i):
            return types.SimpleNamespace(uuid="abc")

    shell = EventsShell()
    with torch_module(Cuda()):
        cell_usage.load_ipython_extension(shell)
        [device] = shell._gpuscope_cell_usage.evidence.devices.values()
        assert device["context_after"] is None and device["context_by"] is not None
        assert device["uuid"] == "abc" and device["held"] == {"torch": 2 * GiB}
        cell_usage.load_ipython_extension(shell)
        assert shell._gpuscope_cell_usage.evidence.devices[0] is device


def test_the_flight_recorder_starts_once_after_cuda_starts_and_only_when_asked():
    calls = []

    class Cuda(StartingCuda):
        memory = types.SimpleNamespace(_record_memory_history=lambda **kw: calls.append(kw))

    cuda = Cuda()
    off = cell_usage.CellGPUUsage(Shell())
    on = cell_usage.CellGPUUsage(Shell(), history_entries=100_000)
    with torch_module(cuda):
        for usage in (off, on):
            usage.pre_run_cell()
            usage.post_run_cell()  # CUDA not started: nothing recorded
        assert calls == []
        cuda.initialised = True
        for _ in range(3):
            for usage in (off, on):
                usage.pre_run_cell()
                usage.post_run_cell()
    assert calls == [{"stacks": "python", "max_entries": 100_000}]


async def test_the_collector_serves_the_flight_recorder_only_in_its_sizes(jp_fetch):
    import tornado

    reply = json.loads((await jp_fetch("gpuscope", "api", "collector", params={"memory_history": "100000"})).body)
    assert "history_entries=100000" in reply["cell_usage_loader"]
    default = json.loads((await jp_fetch("gpuscope", "api", "collector")).body)
    assert "history_entries=0" in default["cell_usage_loader"]
    try:
        await jp_fetch("gpuscope", "api", "collector", params={"memory_history": "1e9"})
    except tornado.httpclient.HTTPClientError as error:
        assert error.code == 400
    else:
        raise AssertionError("an unknown size was accepted")

"""The GPU in every frontend, from the kernel, in real kernels with a fake libnvidia-ml
(tests/fake_nvml_ctypes.py): the live view's updates on the wire and in a notebook run by
nbclient, the per-cell lines, and the out-of-memory explanation."""

from __future__ import annotations

import time

import nbformat
import pytest
from nbclient import NotebookClient

from jupyterlab_gpuscope.kernel import cell_usage, live

from .test_cell_usage import FAKE_TORCH, execute

GiB = 2**30
INSTALL = "from jupyterlab_gpuscope.tests.fake_nvml_ctypes import install\nfake = install(kernel_bytes=3 * 2**30)"
SHOW = "import jupyterlab_gpuscope.live as gpu_live\nview = gpu_live.show(interval=0.2)"


def collect(client, code: str, seconds: float = 0.0) -> tuple[str, list[dict]]:
    """Run `code`, then keep reading iopub for `seconds`: (its msg_id, every message)."""
    messages: list[dict] = []
    msg_id = client.execute(code)
    deadline = time.monotonic() + 60
    idle = False
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=0.5)
        except Exception:
            if idle:
                break
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["parent_header"].get("msg_id") == msg_id:
            idle = msg["content"]["execution_state"] == "idle"
            if idle:
                deadline = time.monotonic() + seconds
    return msg_id, messages


def test_the_live_view_updates_in_place_with_both_renderings_until_stopped(kernel):
    execute(kernel, INSTALL)
    show_id, messages = collect(kernel, SHOW, seconds=1.2)
    [shown] = [m for m in messages if m["msg_type"] == "display_data"]
    display_id = shown["content"]["transient"]["display_id"]
    # A busy cell meanwhile: the updates keep coming, filed under the show() cell.
    busy_id, busy = collect(kernel, "import time\ntime.sleep(1)")
    updates = [m for m in messages + busy if m["msg_type"] == "update_display_data"]
    assert len(updates) >= 5
    for update in updates:
        assert update["content"]["transient"]["display_id"] == display_id
        assert update["parent_header"]["msg_id"] == show_id
        data = update["content"]["data"]
        assert set(data) == {"text/plain", "text/html", live.MIME}
    during_busy = [m for m in busy if m["msg_type"] == "update_display_data"]
    assert during_busy, "updates while another cell runs"
    last = updates[-1]["content"]["data"]
    assert "GPU 0 NVIDIA H100 80GB HBM3" in last["text/plain"]
    assert "this kernel 3.00 GiB, other processes 5.00 GiB" in last["text/plain"]
    assert "SM 64 %, tensor 38 %" in last["text/plain"] and "41 °C; 312 W" in last["text/plain"]
    assert "the GPUs this kernel uses" in last["text/plain"]

    stop_id, stopping = collect(kernel, "gpu_live.stop()", seconds=1.0)
    final = [m for m in stopping if m["msg_type"] == "update_display_data"]
    # The stopped state, once as show()'s cell and once as stop()'s (for nbconvert), then nothing.
    assert [m["parent_header"]["msg_id"] for m in final] == [show_id, stop_id]
    assert all("stopped at" in m["content"]["data"]["text/plain"] for m in final)
    # NVML is shut down and every GPM sample freed.
    check = kernel.execute_interactive("", user_expressions={"f": "(fake.initialised, len(fake.samples_alive))"})
    assert check["content"]["user_expressions"]["f"]["data"]["text/plain"] == "(0, 0)"


def test_a_second_show_stops_the_first_and_clear_output_stops_the_view(kernel):
    execute(kernel, INSTALL)
    execute(kernel, SHOW + "\nfirst = view")
    execute(kernel, SHOW)
    state = kernel.execute_interactive("", user_expressions={"s": "(first._stop.is_set(), view._stop.is_set())"})
    assert state["content"]["user_expressions"]["s"]["data"]["text/plain"] == "(True, False)"
    execute(kernel, "from IPython.display import clear_output\nclear_output()\nimport time\ntime.sleep(0.5)")
    state = kernel.execute_interactive("", user_expressions={"s": "view._stop.is_set()"})
    assert state["content"]["user_expressions"]["s"]["data"]["text/plain"] == "True"


def test_without_a_driver_the_view_says_so_and_starts_no_thread(kernel):
    execute(
        kernel,
        "from jupyterlab_gpuscope.kernel import live\nlive.load_nvml = lambda: (_ for _ in ()).throw(OSError('libnvidia-ml.so.1: cannot open shared object file'))",
    )
    _, messages = collect(kernel, SHOW, seconds=0.5)
    [shown] = [m for m in messages if m["msg_type"] == "display_data"]
    assert shown["content"]["data"]["text/plain"].startswith(
        "GPU live view: no NVIDIA driver is visible to this kernel"
    )
    assert not [m for m in messages if m["msg_type"] == "update_display_data"]
    threads = kernel.execute_interactive("", user_expressions={"t": "view._thread is None"})
    assert threads["content"]["user_expressions"]["t"]["data"]["text/plain"] == "True"


def test_a_notebook_run_by_nbclient_keeps_the_views_last_state_in_both_renderings():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(INSTALL),
        nbformat.v4.new_code_cell(SHOW),
        nbformat.v4.new_code_cell("import time\ntime.sleep(1)\ngpu_live.stop()\nview.updates"),
    ]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    [output] = notebook.cells[1].outputs
    assert output["output_type"] == "display_data"
    assert "stopped at" in output["data"]["text/plain"] and "<div" in output["data"]["text/html"]
    updates = int(notebook.cells[2].outputs[0]["data"]["text/plain"])
    assert updates >= 3


def test_cell_lines_put_a_usage_line_under_each_cell_that_used_gpu_memory(kernel):
    execute(kernel, FAKE_TORCH)
    execute(kernel, "import jupyterlab_gpuscope.live as gpu_live\ngpu_live.cell_lines()")
    _, messages = collect(kernel, "torch = __import__('sys').modules['torch']\ntorch.cuda.allocate(3 * 2**30)")
    [line] = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
    assert line["text/plain"].startswith("GPU memory: GPU 0: peak 3.00 GiB, allocated +3.00 GiB (now 3.00 GiB), ")
    assert "GPU memory: GPU 0" in line["text/html"]
    # A cell that leaves the GPU as it was gets no line; turned off, none at all.
    _, messages = collect(kernel, "x = 1")
    assert not [m for m in messages if m["msg_type"] == "display_data"]
    execute(kernel, "gpu_live.cell_lines(False)")
    _, messages = collect(kernel, "torch.cuda.allocate(2**30)")
    assert not [m for m in messages if m["msg_type"] == "display_data"]


def test_the_line_says_what_a_cell_freed():
    record = {
        "start": 10.0,
        "end": 12.5,
        "devices": [
            {
                "index": 1,
                "peak_allocated": None,
                "allocated_before": 3 * GiB,
                "allocated_after": GiB,
                "reserved_before": 4 * GiB,
                "reserved_after": 4 * GiB,
            }
        ],
    }
    assert cell_usage.summary(record) == "GPU 1: allocated -2.00 GiB (now 1.00 GiB), 2.5 s"


OOM = """
class OutOfMemoryError(RuntimeError):
    pass
OutOfMemoryError.__module__ = "torch.cuda"
def evaluate():
    raise OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.18 GiB")
evaluate()
"""


@pytest.mark.parametrize("with_error", [True, False])
def test_explain_error_says_what_the_out_of_memory_error_means_and_what_frees_it(kernel, with_error):
    if with_error:
        kernel.execute_interactive(OOM, timeout=60)
    _, messages = collect(kernel, "import jupyterlab_gpuscope.memory as gpu_memory\ngpu_memory.explain_error()")
    [shown] = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
    if not with_error:
        assert shown["text/plain"] == "No cell has failed in this kernel yet."
        return
    markdown = shown["text/markdown"]
    assert markdown.startswith("**The GPU ran out of memory**")  # the knowledge base's title
    assert "`OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB." in markdown
    assert "**What to do**: Free what you no longer need" in markdown
    assert "**" not in shown["text/plain"]


def test_before_cuda_starts_the_view_shows_the_gpus_cuda_visible_devices_names(monkeypatch):
    from .fake_nvml_ctypes import FakeCtypesNVML

    fake = FakeCtypesNVML(kernel_pid=999_999)  # no process of this one on the GPU
    reader = live.Reader(fake)
    assert reader.open()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-031b88b1")
    state = reader.read()
    assert state["which"] == "every GPU (this kernel has no CUDA context yet)"
    assert state["devices"][0]["this_kernel"] == 0 and state["devices"][0]["others"] == 3 * GiB + 5 * GiB
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    assert reader.read()["reason"] == "CUDA_VISIBLE_DEVICES names no GPU that NVML sees"
    reader.close()
    assert fake.initialised == 0

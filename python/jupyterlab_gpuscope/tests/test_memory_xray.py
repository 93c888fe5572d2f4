"""The memory X-ray's accounting (kernel/memory_xray.py), in a real IPython shell with
torch's CPU tensors: the walk is the same for CUDA ones (the breakdown's device type is a
parameter for this), so what holds what is checked without a GPU."""

import json
import sys

import pytest

torch = pytest.importorskip("torch")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from jupyterlab_gpuscope.kernel import memory_xray  # noqa: E402
from jupyterlab_gpuscope.tests.wire import assert_matches as validate  # noqa: E402


@pytest.fixture
def shell():
    shell = InteractiveShell.instance()
    shell.reset(new_session=True)
    for name in ("last_exc", "last_value", "last_type", "last_traceback"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    shell.run_cell("import torch", store_history=True)
    yield shell
    shell.reset(new_session=True)


def run(shell, code):
    result = shell.run_cell(code, store_history=True)
    return result


def holders(shell=None):
    data = memory_xray.breakdown("cpu")
    assert data["available"], data
    json.dumps(data)  # plain data
    return {h["name"]: h for d in data["devices"] for h in d["holders"]}, data


def test_a_module_holds_its_parameters_and_grads_and_the_optimizer_its_state(shell):
    run(
        shell,
        "model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Linear(64, 8))\n"
        "opt = torch.optim.Adam(model.parameters())\n"
        "model(torch.randn(4, 64)).sum().backward(); opt.step()",
    )
    found, _ = holders()
    params = (64 * 64 + 64 * 8) * 4 + 2 * 512  # the two biases are one block each
    assert found["model"]["bytes"] == 2 * params  # parameters and their .grad
    # Adam's two moments per parameter and its step counters; the parameters are the
    # model's, and it says it shares them.
    assert found["opt"]["bytes"] == 2 * params + 4 * 512
    assert found["opt"]["shared_with"] == ["model"]


def test_a_storage_shared_by_several_names_is_counted_once_and_said_so(shell):
    run(shell, "x = torch.zeros(1000)\ny = x\nz = x[10:]\nw = x.view(10, 100)")
    found, data = holders()
    assert found["x"]["bytes"] == 4096
    for name in ("y", "z", "w"):
        assert found[name]["bytes"] == 0
        assert found[name]["shared_with"] == ["x"]
    assert data["devices"][0]["reached"] == 4096


def test_views_of_one_storage_inside_one_holder_count_once(shell):
    run(shell, "x = torch.zeros(1000)\npair = (x[:500], x[500:])\nbig = {i: x[i:] for i in range(3)}")
    found, _ = holders()
    assert found["pair"]["bytes"] == 0 and found["pair"]["shared_with"] == ["x"]
    run(shell, "del x")
    found, _ = holders()
    assert found["pair"]["bytes"] == 4096  # now pair's, once for its two views
    assert found["big"]["shared_with"] == ["pair"]


def test_a_huge_dict_is_read_to_a_bound_and_the_walk_says_so(shell):
    run(shell, f"table = {{i: i for i in range({memory_xray.MAX_ITEMS + 10})}}")
    _, data = holders()
    assert "items" in data["truncated"]


def test_sizes_are_rounded_to_the_allocators_512_byte_blocks(shell):
    run(shell, "a = torch.zeros(1, dtype=torch.uint8)\nb = torch.zeros(513, dtype=torch.uint8)")
    found, _ = holders()
    assert (found["a"]["bytes"], found["b"]["bytes"]) == (512, 1024)


def test_output_history_holds_what_a_cell_displayed(shell):
    run(shell, "torch.ones(2048)")
    found, _ = holders()
    out = [name for name in found if name.startswith("Out[")]
    assert len(out) == 1 and found[out[0]]["bytes"] == 8192
    # _ is the same tensor: shown as sharing it, not counted twice.
    assert found["_"]["shared_with"] == out


def test_the_last_errors_frames_hold_a_failed_functions_locals(shell):
    run(shell, "def step():\n    activations = torch.ones(4096)\n    raise MemoryError('out of memory')\nstep()")
    found, _ = holders()
    assert found["the last error's frames"]["bytes"] == 4096 * 4
    assert found["the last error's frames"]["kind"] == "error"


def test_cycles_end_and_their_tensors_are_found(shell):
    run(
        shell,
        "class Node:\n    pass\n"
        "a = Node(); b = Node(); a.other = b; b.other = a; b.t = torch.ones(256)\n"
        "loop = [torch.ones(128)]; loop.append(loop)",
    )
    found, _ = holders()
    assert found["a"]["bytes"] == 1024
    assert found["b"]["shared_with"] == ["a"]
    assert found["loop"]["bytes"] == 512


def test_a_tensor_deeper_than_the_walk_goes_is_left_out_and_the_walk_says_so(shell):
    depth = memory_xray.MAX_DEPTH + 3
    run(shell, f"deep = torch.ones(256)\nfor _ in range({depth}):\n    deep = [deep]")
    found, data = holders()
    assert "deep" not in found
    assert "depth" in data["truncated"]


def test_objects_that_raise_on_attribute_access_are_walked_without_running_their_code(shell):
    run(
        shell,
        "class Hostile:\n"
        "    def __getattr__(self, name):\n        raise RuntimeError('no')\n"
        "    @property\n    def boom(self):\n        raise RuntimeError('no')\n"
        "h = Hostile(); h.t = torch.ones(256)\n"
        "class Slotted:\n    __slots__ = ('t', 'missing')\n"
        "s = Slotted(); s.t = torch.ones(512)",
    )
    found, _ = holders()
    assert found["h"]["bytes"] == 1024
    assert found["s"]["bytes"] == 2048


def test_a_huge_container_is_read_to_a_bound_and_the_walk_says_so(shell):
    run(shell, "numbers = list(range(1_000_000))\nnumbers[5] = torch.ones(256)\nnumbers[-1] = torch.ones(512)")
    found, data = holders()
    assert found["numbers"]["bytes"] == 1024  # the first, not the one past the bound
    assert "items" in data["truncated"]


def test_delete_removes_the_variable_and_a_wrong_name_changes_nothing(shell):
    run(shell, "keep = torch.ones(10)\nmodel = torch.nn.Linear(4, 4)\nmodel(torch.ones(1, 4)).sum().backward()")
    failed = memory_xray.delete("nothing_by_this_name")
    assert failed["ok"] is False and "not a variable" in failed["message"]
    assert {"keep", "model"} <= set(shell.user_ns)
    assert memory_xray.delete("In")["ok"] is False  # IPython's own names are not variables
    grad = shell.user_ns["model"].weight
    done = memory_xray.delete("model")
    assert done["ok"] is True and "model" not in shell.user_ns
    assert grad.grad is None  # its gradients let go as well
    assert "keep" in shell.user_ns


def test_clearing_the_output_history_empties_out(shell):
    run(shell, "torch.ones(2048)")
    assert memory_xray.clear_output_history()["ok"] is True
    found, _ = holders()
    assert not [name for name in found if name.startswith("Out[") or name == "_"]


def test_dropping_the_last_error_lets_go_of_its_frames(shell):
    run(shell, "def step():\n    activations = torch.ones(4096)\n    raise MemoryError('oom')\nstep()")
    assert memory_xray.drop_last_error()["ok"] is True
    found, _ = holders()
    assert "the last error's frames" not in found
    again = memory_xray.drop_last_error()
    assert again["ok"] is False and again["message"] == "there is no last error in this kernel"


def test_without_cuda_the_breakdown_and_report_say_so_in_one_line(shell, capsys):
    data = memory_xray.breakdown()
    assert data["available"] is False
    assert data["reason"] == "torch has not used CUDA in this kernel"
    bundle = memory_xray.Report(data)._repr_mimebundle_()
    assert bundle["text/plain"] == "No GPU memory breakdown: torch has not used CUDA in this kernel."


def test_the_report_is_text_markdown_and_the_rich_view_of_the_same_data(shell):
    run(shell, "x = torch.zeros(1000)\ny = x")
    data = memory_xray.breakdown("cpu")
    bundle = memory_xray.Report(data)._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/markdown", memory_xray.MIME}
    assert "  x: 4.00 KiB" in bundle["text/plain"].splitlines()
    assert "- `y`: 0 bytes (shares storage with `x`)" in bundle["text/markdown"].splitlines()
    assert bundle[memory_xray.MIME] == data


def test_the_breakdown_and_actions_match_the_wire_schema(shell):
    run(shell, "x = torch.zeros(1000)\ntorch.ones(10)")
    validate("IMemoryBreakdown", memory_xray.breakdown("cpu"))
    validate("IMemoryBreakdown", memory_xray.breakdown())
    validate("IMemoryAction", memory_xray.delete("x"))
    validate("IMemoryAction", memory_xray.delete("x"))
    validate("IMemoryAction", memory_xray.run("no_such_action"))
    validate("IMemoryAction", memory_xray.run("delete"))  # a missing argument


def test_the_frontend_entry_runs_only_the_named_actions(shell):
    run(shell, "x = torch.zeros(10)")
    assert memory_xray.run("delete", "x")["ok"] is True
    assert memory_xray.run("__import__", "os")["ok"] is False


def test_the_collectors_loader_makes_the_breakdown_callable_in_a_real_kernel(kernel):
    from jupyterlab_gpuscope.routes import MEMORY_MODULE, memory_loader

    from .test_diagnostic import run_cell

    outputs, reply = run_cell(kernel, memory_loader() + f"\n__import__('{MEMORY_MODULE}').answer('breakdown')")
    assert reply["status"] == "ok", outputs
    [answer] = [o["content"]["data"][memory_xray.REPLY_MIME] for o in outputs if o["msg_type"] == "display_data"]
    validate("IMemoryBreakdown", answer)
    assert answer["available"] is False  # this kernel has not used CUDA
    names = kernel.execute_interactive("", user_expressions={"n": "[n for n in dir() if 'gpuscope' in n]"})
    assert names["content"]["user_expressions"]["n"]["data"]["text/plain"] == "[]"


def test_the_flight_recorders_largest_allocations_name_the_cell_and_line():
    from types import SimpleNamespace

    snapshot = {
        "segments": [
            {
                "device": 0,
                "blocks": [
                    {
                        "size": 2 * 2**30,
                        "state": "active_allocated",
                        "frames": [
                            {"filename": "/site/torch/nn/modules/linear.py", "line": 125, "name": "forward"},
                            {"filename": "/tmp/ipykernel_1/123.py", "line": 3, "name": "evaluate"},
                        ],
                    },
                    {"size": 2**31, "state": "inactive", "frames": [{"filename": "/a.py", "line": 1, "name": "f"}]},
                    {
                        "size": 512,
                        "state": "active_allocated",
                        "frames": [{"filename": "/lib/x.py", "line": 9, "name": "g"}],
                    },
                    {"size": 2**20, "state": "active_allocated", "frames": []},  # made before recording
                ],
            }
        ]
    }
    fake = SimpleNamespace(cuda=SimpleNamespace(memory=SimpleNamespace(_snapshot=lambda: snapshot)))
    shell = SimpleNamespace(compile=SimpleNamespace(_filename_map={"/tmp/ipykernel_1/123.py": 7}))
    found = memory_xray.largest_allocations(fake, shell)
    assert [(a["bytes"], a["execution_count"], a["line"], a["function"]) for a in found] == [
        (2 * 2**30, 7, 3, "evaluate"),
        (512, None, 9, "g"),
    ]
    for allocation in found:
        validate("IMemoryAllocation", allocation)


def test_a_loss_kept_as_a_tensor_holds_its_graphs_activations_and_reaches_the_parameters(shell):
    run(
        shell,
        "model = torch.nn.Sequential(*[torch.nn.Linear(256, 256) for _ in range(20)])\n"
        "loss = model(torch.ones(64, 256)).square().mean()",  # no backward(): the graph is kept
    )
    found, data = holders()
    # The activations the graph saved for backward, 20 layers deep (deeper than the walk's
    # bound on attributes), are the loss's; the parameters it reaches are the model's.
    assert found["loss"]["bytes"] >= 20 * 64 * 256 * 4
    assert found["loss"]["shared_with"] == ["model"]
    assert data["truncated"] == []
    run(shell, "loss.backward()")  # backward frees the saved activations
    found, _ = holders()
    assert found["loss"]["bytes"] == 512

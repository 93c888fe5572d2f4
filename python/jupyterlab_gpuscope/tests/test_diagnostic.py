"""The diagnostic as users run it: the inserted cells in a real kernel (one with this
package, one that cannot import it or JupyterLab, through `jupyter nbconvert --execute`),
the `gpuscope` command (from a wheel installed in a fresh venv too), its malformed-input
handling, and the route that serves the cells.

These run on whatever torch the machine installs: a CPU build here, the CUDA build from
PyPI elsewhere; what is expected follows what the installed torch itself reports.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from jupyterlab_gpuscope import diagnostic_cell
from jupyterlab_gpuscope.kernel import facts as kernel_facts
from jupyterlab_gpuscope.kernel import findings as kernel_findings
from jupyterlab_gpuscope.routes import probe_code

ROOT = Path(__file__).resolve().parents[3]
MIME = kernel_facts.MIME
GPUSCOPE = [sys.executable, "-m", "jupyterlab_gpuscope.cli"]


def run_cell(client, code: str) -> tuple[list[dict], dict]:
    outputs = []

    def hook(msg):
        if msg["msg_type"] in ("display_data", "error", "stream"):
            outputs.append(msg)

    reply = client.execute_interactive(code, output_hook=hook, timeout=120)
    return outputs, reply["content"]


def expected_torch_finding():
    """What this machine's torch should be told, by what it reports of itself."""
    import torch

    if torch.version.cuda is None:
        return "cpu-only-wheel"
    return None  # a CUDA build without a GPU: told about the missing driver instead


def test_the_short_cell_shows_the_kernels_findings_in_every_rendering(kernel):
    import torch

    outputs, reply = run_cell(kernel, diagnostic_cell.short())
    assert reply["status"] == "ok"
    [display] = [o for o in outputs if o["msg_type"] == "display_data"]
    data = display["content"]["data"]
    assert set(data) == {MIME, "text/markdown", "text/plain"}
    document = data[MIME]
    assert document["schema"] == kernel_findings.REPORT_SCHEMA and document["facts"]["schema"] == kernel_facts.SCHEMA
    assert document["facts"]["torch"]["version"] == torch.__version__
    assert document["facts"]["torch"]["cuda"] == torch.version.cuda
    ids = [f["id"] for f in document["findings"]]
    if expected_torch_finding():
        assert expected_torch_finding() in ids
    else:
        assert {"no-driver", "no-gpu-in-container", "no-driver-wsl"} & set(ids)
    for finding in document["findings"]:
        assert finding["title"] in data["text/plain"] and finding["title"] in data["text/markdown"]
        if finding["fix"]:
            assert finding["fix"] in data["text/plain"]
    assert data["text/plain"].startswith(f"GPU diagnostic: {document['headline']}")


def test_the_short_cell_adds_one_name_and_the_silent_run_none(kernel):
    names = "sorted(n for n in dir() if not n.startswith('_') and n not in ('In', 'Out', 'exit', 'quit', 'get_ipython', 'open'))"
    before = kernel.execute_interactive("", user_expressions={"n": names})["content"]["user_expressions"]["n"]["data"][
        "text/plain"
    ]
    # The silent run (Run GPU Diagnostic) executes the cell in a namespace of its own.
    code = f'exec(compile({json.dumps(diagnostic_cell.self_contained())}, "<gpuscope-diagnostic>", "exec"), {{"__name__": "__main__"}})'
    outputs, reply = run_cell(kernel, code)
    assert reply["status"] == "ok" and any(MIME in o["content"].get("data", {}) for o in outputs)
    after = kernel.execute_interactive("", user_expressions={"n": names})["content"]["user_expressions"]["n"]["data"][
        "text/plain"
    ]
    assert after == before
    run_cell(kernel, diagnostic_cell.short())
    added = kernel.execute_interactive("", user_expressions={"n": names})["content"]["user_expressions"]["n"]["data"][
        "text/plain"
    ]
    assert eval(added) == sorted(eval(before) + ["gpuscope_diagnose"])


@pytest.fixture
def bare_kernel(tmp_path):
    """A kernelspec whose kernel cannot import jupyterlab_gpuscope, JupyterLab or the
    server (as a kernel in another environment), for `jupyter nbconvert --execute`."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "HIDDEN = ('jupyterlab_gpuscope', 'jupyterlab', 'jupyter_server')\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in HIDDEN:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Hide())\n"
    )
    spec = tmp_path / "share" / "kernels" / "gpuscope-bare"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python without jupyterlab-gpuscope",
                "language": "python",
                "env": {"PYTHONPATH": str(hide)},
            }
        )
    )
    return {"JUPYTER_PATH": str(tmp_path / "share"), "name": "gpuscope-bare"}


def test_nbconvert_in_a_kernel_without_the_package_shows_findings_with_fixes(bare_kernel, tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import jupyterlab_gpuscope"),  # proves the kernel lacks it
        nbformat.v4.new_code_cell(diagnostic_cell.self_contained()),
        nbformat.v4.new_code_cell(diagnostic_cell.short()),
    ]
    path = tmp_path / "diagnostic.ipynb"
    nbformat.write(notebook, path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--allow-errors",
            "--inplace",
            f"--ExecutePreprocessor.kernel_name={bare_kernel['name']}",
            str(path),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "JUPYTER_PATH": bare_kernel["JUPYTER_PATH"]},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].outputs[0]["ename"] == "ModuleNotFoundError"
    [output] = [o for o in cells[1].outputs if o["output_type"] == "display_data"]
    document, text = output["data"][MIME], output["data"]["text/plain"]
    assert document["findings"], "the diagnostic judged nothing"
    assert text.startswith(f"GPU diagnostic: {document['headline']}")
    for finding in document["findings"]:
        assert f"{finding['severity'].upper()}  {finding['title']}" in text
        if finding["fix"]:
            assert f"fix: {finding['fix']}" in text
    # The short cell, carried to a kernel without the package, says how to get it there.
    [printed] = [o for o in cells[2].outputs if o["output_type"] == "stream" and o["name"] == "stdout"]
    assert "%pip install jupyterlab-gpuscope" in printed["text"]


def test_gpuscope_diagnose_prints_findings_and_exits_by_the_worst():
    done = subprocess.run([*GPUSCOPE, "diagnose"], capture_output=True, text=True)
    document = json.loads(subprocess.run([*GPUSCOPE, "diagnose", "--json"], capture_output=True, text=True).stdout)
    assert done.returncode == (1 if document["worst"] == "fail" else 0)
    assert done.stdout.startswith(f"GPU diagnostic: {document['headline']}")
    assert "knowledge base" in done.stdout.splitlines()[-1]
    # The public module name keeps working.
    again = subprocess.run([sys.executable, "-m", "jupyterlab_gpuscope.diagnose"], capture_output=True, text=True)
    assert again.stdout.startswith("GPU diagnostic: ")


def test_the_collector_never_writes_nan_a_non_finite_smoke_result_is_a_failure():
    import torch

    got = torch.tensor([[float("nan"), 1.0]])
    result = kernel_facts._compare(got, torch.tensor([[1.0, 1.0]], dtype=torch.float64), 1e-2)
    assert result == {"ok": False, "max_error": None, "non_finite": True}
    assert kernel_facts._finite(math.inf) is None and kernel_facts._finite(0.5) == 0.5


def test_collector_leaves_torch_settings_and_rng_as_they_were():
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    state = torch.get_rng_state().clone()
    facts = kernel_facts.collect()
    assert facts["torch"]["tf32"]["matmul"] is True
    assert torch.backends.cuda.matmul.allow_tf32 is True
    assert torch.equal(torch.get_rng_state(), state)
    torch.backends.cuda.matmul.allow_tf32 = False


def test_the_self_contained_cell_runs_in_a_bare_python_without_torch(tmp_path):
    script = tmp_path / "cell.py"
    script.write_text(diagnostic_cell.self_contained())
    done = subprocess.run([sys.executable, "-S", str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "WARN  PyTorch is not installed in this kernel" in done.stdout


def test_the_self_contained_cell_is_a_third_of_the_code_it_carries():
    carried = sum(
        len((ROOT / "python" / "jupyterlab_gpuscope" / "kernel" / f"{m}.py").read_text())
        for m in ("knowledge", "findings", "facts", "diagnostic")
    )
    carried += len(json.dumps(diagnostic_cell.needed_knowledge()))
    assert len(diagnostic_cell.self_contained()) < carried / 2.5


def test_a_cut_or_edited_self_contained_cell_is_refused_with_what_to_do(tmp_path):
    cell = diagnostic_cell.self_contained()
    start = cell.index('_GPUSCOPE = "') + len('_GPUSCOPE = "')
    for name, altered in (
        ("edited", cell[:start] + ("0" if cell[start] != "0" else "1") + cell[start + 1 :]),
        ("cut", cell[: start + 50] + cell[start + 55 :]),
    ):
        script = tmp_path / f"{name}.py"
        script.write_text(altered)
        done = subprocess.run([sys.executable, "-S", str(script)], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 1, name
        assert "cut or edited since it was inserted: insert it again" in done.stderr, done.stderr


def test_the_knowledge_the_self_contained_cell_carries_judges_every_recorded_machine():
    # The cell's knowledge is a part of kb.json: every key the kernel-side modules read must
    # be in it, or the cell fails on the machines whose facts reach that key (a driver).
    kernel_dir = ROOT / "python" / "jupyterlab_gpuscope" / "kernel"
    read = set()
    for module in ("knowledge.py", "findings.py", "facts.py", "diagnostic.py"):
        read |= set(re.findall(r"""data\(\)(?:\[|\.get\()["']([a-z_]+)["']""", (kernel_dir / module).read_text()))
    part = diagnostic_cell.needed_knowledge()
    assert read <= set(part), read - set(part)
    from jupyterlab_gpuscope.kernel import knowledge

    full = knowledge.data()
    try:
        knowledge.use_data(part)
        machines = [json.loads(path.read_text()) for path in sorted((Path(__file__).parent / "facts").glob("*.json"))]
        machines = [m.get("facts", m) for m in machines]
        machines = [m for m in machines if m.get("schema") == kernel_facts.SCHEMA]
        assert len(machines) >= 3
        for facts in machines:
            with_part = kernel_findings.report_document(copy.deepcopy(facts))
            knowledge.use_data(full)
            with_full = kernel_findings.report_document(copy.deepcopy(facts))
            knowledge.use_data(part)
            assert with_part["findings"] == with_full["findings"]
    finally:
        knowledge.use_data(full)


def test_the_self_contained_cell_carries_only_the_knowledge_the_findings_read():
    part = diagnostic_cell.needed_knowledge()
    assert "lint_rules" not in part and "error_signatures" not in part
    full = json.loads((ROOT / "src" / "core" / "knowledge" / "kb.json").read_text())
    assert len(json.dumps(part)) < len(json.dumps(full)) / 2
    cited = {
        s["key"]
        for f in kernel_findings.diagnose(json.loads((Path(__file__).parent / "facts" / "h200.json").read_text()))
        for s in f["sources"]
    }
    assert cited <= set(part["sources"])


@pytest.mark.parametrize(
    "content, says",
    [
        ("", "the file is empty"),
        ("{not json", "not valid JSON"),
        ('{"schema": "gpuscope.facts/2", "python": {', "not valid JSON"),  # truncated
        ('["a list"]', "the facts must be a JSON object"),
        ('{"schema": "something/else"}', "unknown facts schema 'something/else'"),
        ('{"schema": "gpuscope.facts/9"}', "is newer than this gpuscope reads"),
        (
            '{"schema": "gpuscope.facts/2", "python": {"version": "3.12"}, "platform": {}, "env": {}}',
            'the facts lack "container"',
        ),
        (
            '{"schema": "gpuscope.facts/2", "python": {"version": "3.12"}, "platform": {}, "env": {}, "container": {}, "driver": {"available": true, "devices": 3}, "torch": null}',
            '"driver" is malformed',
        ),
        (
            '{"schema": "gpuscope.facts/2", "python": {"version": "3.12"}, "platform": {}, "env": {}, "container": {}, "driver": null, "torch": {"version": "2.14.0", "cuda_built": true, "devices": 5}}',
            "the facts are malformed",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"schema": "gpuscope.facts/2", "duration_s": NaN}', "NaN is not a JSON number"),
        ('{"schema": "gpuscope.facts/2", "duration_s": -Infinity}', "-Infinity is not a JSON number"),
        ('{"schema": "gpuscope.facts/2", "duration_s": 1e999}', "1e999 is out of range"),
    ],
)
def test_gpuscope_explain_refuses_malformed_facts_in_one_line_with_exit_2(tmp_path, content, says):
    path = tmp_path / "facts.json"
    path.write_text(content)
    done = subprocess.run([*GPUSCOPE, "explain", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_gpuscope_explain_refuses_special_and_oversized_files_in_one_line_with_exit_2(tmp_path):
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (16 * 2**20 + 1))
    os.mkfifo(tmp_path / "fifo")
    for path, says in (
        ("/dev/zero", "not a regular file"),
        (str(tmp_path), "Is a directory"),
        (str(huge), "larger than 16 MiB"),
    ):
        done = subprocess.run([*GPUSCOPE, "explain", path], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, path
        assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_gpuscope_explain_prints_no_terminal_control_sequences_from_the_facts(tmp_path):
    facts = json.loads((Path(__file__).parent / "facts" / "h200-cvd-empty.json").read_text())
    # Sets the window title, writes the clipboard (OSC 52) and moves the cursor, in a terminal.
    facts["env"]["CUDA_VISIBLE_DEVICES"] = "\x1b]0;owned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b1A"
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    done = subprocess.run([*GPUSCOPE, "explain", str(path)], capture_output=True, text=True)
    assert "CUDA_VISIBLE_DEVICES=" in done.stdout
    assert not [c for c in done.stdout if ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F]


def test_gpuscope_explain_judges_saved_facts_and_reports_with_exit_1_on_a_failure(tmp_path):
    facts = json.loads((Path(__file__).parent / "facts" / "h200-cvd-empty.json").read_text())
    for name, document in (("facts", facts), ("report", kernel_findings.report_document(facts))):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document))
        done = subprocess.run([*GPUSCOPE, "explain", str(path)], capture_output=True, text=True)
        assert done.returncode == 1
        assert 'FAIL  CUDA_VISIBLE_DEVICES="" hides every GPU' in done.stdout
    piped = subprocess.run(
        [*GPUSCOPE, "explain", "-", "--json"], input=json.dumps(facts), capture_output=True, text=True
    )
    assert json.loads(piped.stdout)["worst"] == "fail"


def test_gpuscope_explain_on_a_notebook_judges_its_last_saved_diagnostic_again(tmp_path):
    facts = json.loads((Path(__file__).parent / "facts" / "h200-cvd-empty.json").read_text())
    older = json.loads((Path(__file__).parent / "facts" / "h200.json").read_text())

    def diagnostic_cell(document):
        data = {kernel_facts.MIME: document, "text/plain": "GPU diagnostic"}
        return {"cell_type": "code", "source": "", "outputs": [{"output_type": "display_data", "data": data}]}

    notebook = {
        "nbformat": 4,
        "cells": [
            diagnostic_cell(kernel_findings.report_document(older)),
            {"cell_type": "markdown", "source": "notes"},
            diagnostic_cell(kernel_findings.report_document(facts)),
        ],
    }
    path = tmp_path / "run.ipynb"
    path.write_text(json.dumps(notebook))
    done = subprocess.run([*GPUSCOPE, "explain", str(path)], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert 'FAIL  CUDA_VISIBLE_DEVICES="" hides every GPU' in done.stdout


def test_gpuscope_explain_on_a_notebook_without_a_diagnostic_says_what_to_run(tmp_path):
    path = tmp_path / "plain.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "1", "outputs": []}]}))
    done = subprocess.run([*GPUSCOPE, "explain", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert "no saved GPU diagnostic output" in done.stderr and "gpuscope explain-error" in done.stderr
    assert "schema" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_require_gpu_makes_a_report_without_a_usable_gpu_exit_1_for_ci(tmp_path):
    # A laptop without an NVIDIA driver and a CPU-only torch: only warnings, so exit 0 ...
    facts = json.loads((Path(__file__).parent / "facts" / "h200.json").read_text())
    facts["driver"] = {"available": False, "devices": [], "error": "NVML could not be loaded"}
    facts["torch"].update(cuda=None, cuda_built=False, cuda_available=False, device_count=0, devices=[], smoke=[])
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    plain = subprocess.run([*GPUSCOPE, "explain", str(path)], capture_output=True, text=True)
    assert plain.returncode == 0 and "no GPU is usable" in plain.stdout
    # ... which a CI runner that lost its GPU must not pass.
    strict = subprocess.run([*GPUSCOPE, "explain", str(path), "--require-gpu"], capture_output=True, text=True)
    assert strict.returncode == 1
    ready = tmp_path / "ready.json"
    ready.write_text((Path(__file__).parent / "facts" / "h200.json").read_text())
    assert subprocess.run([*GPUSCOPE, "explain", str(ready), "--require-gpu"], capture_output=True).returncode == 0


def test_gpuscope_usage_errors_exit_2():
    for args in (["bogus"], ["diagnose", "--nope"], ["explain"]):
        done = subprocess.run([*GPUSCOPE, *args], capture_output=True, text=True)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def release_wheel(tmp_path_factory):
    """The wheel a release gets (scripts/release_wheel.py: the production build)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import release_wheel as release
    finally:
        sys.path.pop(0)
    return release.build(tmp_path_factory.mktemp("wheel"))


def test_a_release_wheel_carries_the_production_build(release_wheel):
    names = zipfile.ZipFile(release_wheel).namelist()
    labextension = [n for n in names if "/share/jupyter/labextensions/jupyterlab-gpuscope/" in n]
    assert any("/static/remoteEntry." in n for n in labextension)
    assert any(n.endswith("production-build.txt") for n in labextension)
    assert not [n for n in labextension if n.endswith(".map") or n.endswith("build_log.json")]
    assert sum(zipfile.ZipFile(release_wheel).getinfo(n).file_size for n in labextension) < 1_000_000


@pytest.fixture(scope="module")
def installed_wheel(release_wheel, tmp_path_factory):
    """The release wheel installed in a fresh venv."""
    where = tmp_path_factory.mktemp("venv")
    wheel = release_wheel
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # No dependencies: the diagnostic and the CLI need none, and this proves it.
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True
    )
    return venv / "bin" / "gpuscope"


def test_a_pip_installed_wheel_gives_the_gpuscope_command_and_it_diagnoses(installed_wheel, tmp_path):
    done = subprocess.run([str(installed_wheel), "diagnose"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.startswith("GPU diagnostic: ")
    assert "PyTorch is not installed in this kernel" in done.stdout  # the fresh venv has no torch


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node on PATH")
def test_a_pip_installed_gpuscope_lint_runs_the_bundled_cli_with_node(installed_wheel, tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import torch\nx = torch.ones(2, dtype=torch.bfloat16, device='cuda:3')\n")
    done = subprocess.run([str(installed_wheel), "lint", str(script), "--target", "T4"], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr  # cuda:3 on one T4 is an error
    assert "error [device-index-out-of-range]" in done.stdout and "warning [bf16-unsupported]" in done.stdout
    explained = subprocess.run(
        [str(installed_wheel), "explain-error"],
        input="RuntimeError: No CUDA GPUs are available\n",
        capture_output=True,
        text=True,
    )
    assert explained.returncode == 0 and explained.stdout.startswith("The kernel sees no GPU\n")


def test_without_node_gpuscope_lint_says_what_to_install_and_exits_3(installed_wheel, tmp_path):
    env = {**os.environ, "PATH": str(installed_wheel.parent)}  # the venv's bin only: no node
    done = subprocess.run(
        [str(installed_wheel), "lint", "x.py", "--target", "T4"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 3
    assert (
        "Node.js (18.3 or newer), which is not on PATH" in done.stderr
        and "gpuscope diagnose and explain need no Node" in done.stderr
    )
    assert subprocess.run(
        [str(installed_wheel), "diagnose"], capture_output=True, text=True, env=env, cwd=tmp_path
    ).stdout.startswith("GPU diagnostic")


async def test_the_collector_route_serves_both_cells_and_refuses_odd_flags(jp_fetch):
    from tornado.httpclient import HTTPClientError

    body = json.loads((await jp_fetch("gpuscope", "api", "collector")).body)
    assert body["mime"] == MIME
    assert body["probe"] == probe_code()
    assert body["cells"]["short"] == diagnostic_cell.short()
    assert body["cells"]["self_contained"] == diagnostic_cell.self_contained()
    private = json.loads((await jp_fetch("gpuscope", "api", "collector", params={"include_private": "true"})).body)
    assert "report(include_private=True)" in private["cells"]["short"]
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("gpuscope", "api", "collector", params={"include_private": "yes please"})
    assert refused.value.code == 400
    assert "include_private must be true or false" in json.loads(refused.value.response.body)["message"]

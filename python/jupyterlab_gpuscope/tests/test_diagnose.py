"""The collector in a real kernel (CPU build of torch), without torch, and via the CLI;
its facts read by the doctor through the `gpuscope` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jupyterlab_gpuscope import diagnose

COLLECTOR = Path(diagnose.__file__)
ROOT = Path(__file__).resolve().parents[3]
MIME = "application/vnd.gpuscope.diagnostic+json"


def run_cell(client, code: str) -> tuple[list[dict], dict]:
    outputs = []

    def hook(msg):
        if msg["msg_type"] in ("display_data", "error", "stream"):
            outputs.append(msg)

    reply = client.execute_interactive(code, output_hook=hook, timeout=120)
    return outputs, reply["content"]


def explain(facts: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    return subprocess.run(
        ["node", str(ROOT / "bin" / "gpuscope.js"), "explain", str(path)], capture_output=True, text=True
    )


def test_inserted_cell_shows_facts_of_the_cpu_torch_build(kernel, tmp_path):
    import torch  # the test environment has the CPU build (make test installs it)

    outputs, reply = run_cell(kernel, COLLECTOR.read_text())
    assert reply["status"] == "ok"
    [display] = [o for o in outputs if o["msg_type"] == "display_data"]
    data = display["content"]["data"]
    assert set(data) == {MIME, "text/markdown", "text/plain"}
    facts = data[MIME]
    assert facts["schema"] == "gpuscope.facts/1"
    assert facts["torch"]["version"] == torch.__version__
    assert facts["torch"]["cuda"] is None and facts["torch"]["cuda_built"] is False
    assert facts["torch"]["cuda_available"] is False
    assert facts["driver"]["available"] is False
    assert "PyTorch " + torch.__version__ + ", built for CUDA none (CPU-only build)" in data["text/plain"]
    assert data["text/markdown"].startswith("```")

    result = explain(facts, tmp_path)
    assert result.returncode == 0, result.stderr  # no GPU here either: a warning, not a failure
    assert "WARN  No CUDA in this torch build" in result.stdout
    assert "is a CPU-only build" in result.stdout


def test_silent_run_leaves_the_users_namespace_alone(kernel):
    source = COLLECTOR.read_text()
    code = f'exec(compile({json.dumps(source)}, "<gpuscope-diagnostic>", "exec"), {{"__name__": "__main__"}})'
    outputs, reply = run_cell(kernel, code)
    assert reply["status"] == "ok"
    assert any(MIME in o["content"].get("data", {}) for o in outputs)
    reply = kernel.execute_interactive(
        "", user_expressions={"names": "sorted(n for n in dir() if 'torch' in n or n.startswith('_driver'))"}
    )
    assert reply["content"]["user_expressions"]["names"]["data"]["text/plain"] == "[]"


def test_collector_leaves_torch_settings_and_rng_as_they_were():
    import torch

    torch.backends.cuda.matmul.allow_tf32 = True
    state = torch.get_rng_state().clone()
    facts = diagnose.collect()
    assert facts["torch"]["tf32"]["matmul"] is True
    assert torch.backends.cuda.matmul.allow_tf32 is True
    assert torch.equal(torch.get_rng_state(), state)
    torch.backends.cuda.matmul.allow_tf32 = False


def test_collector_without_torch_in_a_bare_python(tmp_path):
    # -S: no site-packages, so no torch: the collector needs only the standard library.
    done = subprocess.run([sys.executable, "-S", str(COLLECTOR), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert facts["torch"] is None
    result = explain(facts, tmp_path)
    assert "PyTorch is not installed in this kernel" in result.stdout


def test_terminal_summary():
    done = subprocess.run(
        [sys.executable, "-m", "jupyterlab_gpuscope.diagnose"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("GPU diagnostic (jupyterlab-gpuscope)\nDriver: not found")


async def test_collector_route(jp_fetch):
    response = await jp_fetch("gpuscope", "api", "collector")
    body = json.loads(response.body)
    assert body["mime"] == MIME
    assert body["source"] == COLLECTOR.read_text()

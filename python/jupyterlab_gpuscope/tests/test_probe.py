"""The kernel probe (kernel/probe.py, served ready to run as the collector's `probe`): what
a kernel says of its driver, CUDA_VISIBLE_DEVICES, torch and platform, for its profile."""

from __future__ import annotations

import re
from pathlib import Path

from jupyterlab_gpuscope.kernel import probe
from jupyterlab_gpuscope.routes import probe_code

from .test_diagnostic import run_cell

ROOT = Path(__file__).resolve().parents[3]


def probe_reply(outputs: list[dict]) -> dict:
    [reply] = [o["content"]["data"][probe.MIME] for o in outputs if probe.MIME in o["content"].get("data", {})]
    return reply


def test_the_probe_answers_in_a_kernel_and_leaves_no_name_behind(kernel):
    run_cell(kernel, "import os; os.environ['CUDA_VISIBLE_DEVICES'] = 'GPU-probe-test'")
    outputs, reply = run_cell(kernel, probe_code())
    assert reply["status"] == "ok", outputs
    answer = probe_reply(outputs)
    assert answer["cuda_visible_devices"] == "GPU-probe-test"
    assert isinstance(answer["driver"]["available"], bool) and isinstance(answer["driver"]["devices"], list)
    assert answer["platform"]["system"] == __import__("platform").system()
    names = kernel.execute_interactive("", user_expressions={"n": "[n for n in dir() if 'gpuscope' in n]"})
    assert names["content"]["user_expressions"]["n"]["data"]["text/plain"] == "[]"


def test_the_probe_reads_torchs_version_and_build_without_importing_torch(kernel):
    import torch

    outputs, _ = run_cell(kernel, probe_code() + "\nimport sys; print('torch' in sys.modules)")
    answer = probe_reply(outputs)
    assert answer["torch"] == torch.__version__.split("+")[0] or answer["torch"] == torch.__version__
    assert answer["torch_build"]["cuda"] == torch.version.cuda
    assert [o["content"]["text"].strip() for o in outputs if o["msg_type"] == "stream"] == ["False"]


def test_without_torch_the_probe_says_none(monkeypatch):
    monkeypatch.setattr(
        probe.importlib.metadata,
        "version",
        lambda name: (_ for _ in ()).throw(probe.importlib.metadata.PackageNotFoundError),
    )
    monkeypatch.setattr(probe.importlib.util, "find_spec", lambda name: None)
    answer = probe.probe(lambda: {"available": False, "error": "no driver", "devices": []})
    assert answer["torch"] is None and answer["torch_build"] is None


def test_the_frontend_reads_the_probes_mime_type():
    frontend = (ROOT / "src" / "core" / "profiles" / "probe.ts").read_text()
    assert re.search(r"PROBE_MIME = '([^']+)'", frontend).group(1) == probe.MIME

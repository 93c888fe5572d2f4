"""The knowledge base and the diagnostic's report are checked data: each validates
against its JSON Schema (src/core/knowledge/*.schema.json, also checked by jest), and
the knowledge base holds no entry that nothing reads."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from jupyterlab_gpuscope.kernel import findings, knowledge

ROOT = Path(__file__).resolve().parents[3]
KNOWLEDGE = ROOT / "src" / "core" / "knowledge"
FACTS = Path(__file__).parent / "facts"


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((KNOWLEDGE / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(name: str, document) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator(name).iter_errors(document)]


def test_the_knowledge_base_validates_against_its_schema():
    assert errors("kb.schema.json", knowledge.data()) == []


def test_the_schema_refuses_a_compute_capability_written_as_prose():
    kb = copy.deepcopy(knowledge.data())
    kb["features"]["bf16"]["min_cc"] = "8.0 or newer"
    kb["wheels"]["rows"][0]["archs"].append("sm 90")
    problems = errors("kb.schema.json", kb)
    assert any("features', 'bf16', 'min_cc'" in p for p in problems)
    assert any("'archs'" in p for p in problems)


@pytest.mark.parametrize("facts_file", sorted(p.name for p in FACTS.glob("*.json") if "report" not in p.name))
def test_every_report_the_findings_write_validates(facts_file):
    facts = json.loads((FACTS / facts_file).read_text())
    for private in (False, True):
        assert errors("report.schema.json", findings.report_document(facts, include_private=private)) == []


def test_the_saved_h200_report_validates_and_a_bad_severity_does_not():
    report = json.loads((FACTS / "h200-report.json").read_text())
    assert errors("report.schema.json", report) == []
    report["findings"][0]["severity"] = "ok"
    assert errors("report.schema.json", report)


def test_every_source_and_failure_source_in_the_knowledge_base_is_read():
    kb = knowledge.data()
    code = "\n".join(
        path.read_text()
        for path in [*(ROOT / "python" / "jupyterlab_gpuscope").rglob("*.py"), *(ROOT / "src").rglob("*.ts")]
        if "tests" not in path.parts and "__tests__" not in path.parts and "labextension" not in path.parts
    )
    unread_failures = [key for key in kb["failure_sources"] if f'"{key}"' not in code]
    assert unread_failures == []

    cited = set(kb["binary_compat_source"])
    for values in kb["failure_sources"].values():
        cited.update(values)

    def walk(item):
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "source" and isinstance(value, list):
                    cited.update(value)
                elif key == "source" and isinstance(value, str):
                    cited.add(value)
                elif key != "sources":
                    walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(kb)
    # The error explainer's knowledge and its inventory cite the same sources.
    for name in ("errors.json", "error-inventory.json"):
        walk(json.loads((ROOT / "src" / "core" / "knowledge" / name).read_text()))
    unknown = sorted(cited - set(kb["sources"]))
    assert unknown == [], "cited but not in sources"
    uncited = [key for key in kb["sources"] if key not in cited and not re.search(rf"[\"']{key}[\"']", code)]
    assert uncited == []


def test_the_report_collected_here_validates():
    from jupyterlab_gpuscope.kernel import facts

    assert errors("report.schema.json", findings.report_document(facts.collect())) == []


def test_no_shortcut_of_gpuscope_takes_a_key_jupyterlab_already_binds():
    """Accel Shift G was JupyterLab's "find previous": in a notebook the panel never opened."""
    import sys

    def keys(folder: Path) -> dict[str, str]:
        bound = {}
        for schema in folder.rglob("*.json"):
            for shortcut in json.loads(schema.read_text()).get("jupyter.lab.shortcuts", []):
                for key in shortcut.get("keys", []):
                    bound[" ".join(sorted(key.split()))] = shortcut["command"]
        return bound

    jupyterlab = keys(Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas" / "@jupyterlab")
    ours = keys(ROOT / "schema")
    assert len(jupyterlab) > 50 and ours
    assert {key: (command, jupyterlab[key]) for key, command in ours.items() if key in jupyterlab} == {}

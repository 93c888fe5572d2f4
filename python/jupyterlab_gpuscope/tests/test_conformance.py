"""The knowledge base's shared questions, answered by knowledge.py as conformance.json
says (src/core/knowledge/__tests__/conformance.spec.ts holds compat.ts to the same cases)."""

import json
from pathlib import Path

import pytest

from jupyterlab_gpuscope.kernel import knowledge

CASES = json.loads((Path(__file__).parent / "conformance.json").read_text())


def matches(actual, expected):
    """Every expected field equals the actual one; None stands for absent."""
    for key, want in expected.items():
        got = actual.get(key)
        if isinstance(want, dict):
            assert isinstance(got, dict), f"{key}: expected an object, got {got!r}"
            matches(got, want)
        else:
            assert got == want, f"{key}: expected {want!r}, got {got!r}"


@pytest.mark.parametrize("case", CASES["wheel_advice"], ids=lambda c: c["name"])
def test_wheel_advice_gives_the_agreed_wheel(case):
    args = case["args"]
    advice = knowledge.wheel_advice(args["cc"], args["platform"], args["driver_version"], args["driver_cuda"])
    matches(advice, case["expect"])
    if advice["kind"] != "none":
        assert advice["command"] == knowledge.install_command(advice["torch"], advice["variant"])


@pytest.mark.parametrize("case", CASES["install_command"], ids=lambda c: c["expect"])
def test_install_command_is_the_agreed_line(case):
    assert knowledge.install_command(**case["args"]) == case["expect"]


@pytest.mark.parametrize("case", CASES["arch_covers"], ids=lambda c: f"{c['args']['cc']} in {c['args']['archs']}")
def test_arch_covers_picks_the_agreed_entry(case):
    assert knowledge.arch_covers(case["args"]["archs"], case["args"]["cc"]) == case["expect"]


@pytest.mark.parametrize("case", CASES["platform_key"], ids=lambda c: c["expect"])
def test_platform_key(case):
    assert knowledge.platform_key(**case["args"]) == case["expect"]


@pytest.mark.parametrize("case", CASES["visible_devices"], ids=lambda c: c["name"])
def test_cuda_visible_devices_leaves_the_agreed_gpus(case):
    seen = knowledge.visible_devices(case["args"]["value"], case["args"]["devices"])
    expect = case["expect"]
    assert seen["set"] == expect["set"]
    assert [v["device"] for v in seen["visible"]] == expect["devices"]
    assert seen["invalid"] == expect["invalid"]
    if "mig" in expect:
        assert [v["mig"] for v in seen["visible"]] == expect["mig"]


@pytest.mark.parametrize("case", CASES["driver_limits"], ids=lambda c: c["name"])
def test_jetson_and_the_last_driver_branch_are_the_agreed_ones(case):
    cc = case["args"]["cc"]
    last = knowledge.last_driver_branch(cc)
    assert knowledge.jetson(cc) == case["expect"]["jetson"]
    assert (last["branch"] if last else None) == case["expect"]["last_branch"]

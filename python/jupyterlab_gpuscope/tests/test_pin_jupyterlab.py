"""scripts/pin_jupyterlab.py: the JupyterLab version the development install pins, kept in
one place for the five files that write it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def load_script():
    spec = importlib.util.spec_from_file_location("pin_jupyterlab", ROOT / "scripts" / "pin_jupyterlab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pin = load_script()


def test_every_file_of_this_checkout_pins_the_installed_jupyterlab():
    assert pin.main(["--check"]) == 0


def test_a_stale_package_json_is_rewritten_with_the_releases_exact_versions():
    version, exact = pin.staging_versions()
    stale = json.dumps(
        {
            "devDependencies": {"@jupyterlab/testutils": "4.0.0"},
            "resolutions": {"@jupyterlab/notebook": "4.0.0", "@rspack/core": "2.1.7"},
        }
    )
    document = json.loads(pin.pinned_package_json(stale, version, exact, "resolutions"))
    assert document["resolutions"]["@jupyterlab/notebook"] == exact["@jupyterlab/notebook"] != "4.0.0"
    assert document["resolutions"]["@rspack/core"] == "2.1.7"  # not JupyterLab's: left alone
    assert document["devDependencies"]["@jupyterlab/testutils"] == version


def test_galata_follows_jupyterlab_with_major_five():
    document = json.loads(
        pin.pinned_package_json(
            json.dumps({"devDependencies": {"@jupyterlab/galata": "5.0.0"}, "overrides": {}}),
            "4.6.4",
            {"@jupyterlab/cells": "4.6.4"},
            "overrides",
        )
    )
    assert document["devDependencies"]["@jupyterlab/galata"] == "5.6.4"
    assert document["overrides"] == {"@jupyterlab/cells": "4.6.4"}


def test_requirements_and_build_requirement_take_the_version_and_its_minor_series():
    assert pin.pinned_requirements("jupyterlab==4.6.3\nhatchling==1\n", "4.6.4") == "jupyterlab==4.6.4\nhatchling==1\n"
    pyproject = '    "jupyterlab>=4.6.3,<4.7",\n    # Galata checks'
    assert pin.pinned_pyproject(pyproject, "4.7.0") == '    "jupyterlab>=4.7.0,<4.8",\n    # Galata checks'

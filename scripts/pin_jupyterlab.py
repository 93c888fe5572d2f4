"""Pin the development install to one JupyterLab release, in every file that names it.

The tests build and serve against one JupyterLab. Its version is written in five places
that must agree: requirements-dev.txt (the JupyterLab installed into .venv), pyproject.toml
(the wheel's build requirement), package.json (the @jupyterlab/* resolutions and
@jupyterlab/testutils), ui-tests/package.json (its overrides and @jupyterlab/galata). The
exact @jupyterlab/* versions come from that release's own staging/package.json, which the
jupyterlab wheel ships: npm has gaps between @jupyterlab patch releases, so they cannot be
derived from the version number.

To move to another JupyterLab:

    .venv/bin/pip install "jupyterlab==4.6.5"
    .venv/bin/python scripts/pin_jupyterlab.py      # rewrites the five files
    jlpm install && (cd ui-tests && jlpm install)    # refreshes the lock files

With --check it changes nothing and exits 1 when a file disagrees with the installed
JupyterLab (the lint gates run it). The oldest JupyterLab supported (pyproject.toml's `lab`
extra, tested by `make test-oldest`) is a separate decision and is not touched here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def staging_versions() -> tuple[str, dict[str, str]]:
    """The installed JupyterLab's version and the exact versions of its @jupyterlab/* packages."""
    import jupyterlab

    staging = json.loads((Path(jupyterlab.__file__).parent / "staging" / "package.json").read_text())
    exact = {}
    for table in ("dependencies", "resolutions"):
        for name, spec in staging.get(table, {}).items():
            if name.startswith("@jupyterlab/"):
                exact[name] = spec.lstrip("~^")
    return staging["version"], exact


def pinned_package_json(text: str, version: str, exact: dict[str, str], table: str) -> str:
    """package.json text with every @jupyterlab/* entry of `table` at the release's version."""
    document = json.loads(text)
    entries = document[table]
    for name in [n for n in entries if n.startswith("@jupyterlab/")]:
        if name not in exact:
            raise SystemExit(f"{name} is not in JupyterLab {version}'s staging/package.json: remove it first")
        entries[name] = exact[name]
    for name, spec in exact.items():
        entries.setdefault(name, spec)
    document[table] = dict(sorted(entries.items()))
    if table == "resolutions":
        document["devDependencies"]["@jupyterlab/testutils"] = version
    else:
        # Galata's version is JupyterLab's with major 5 (Galata 5.6.4 tests JupyterLab 4.6.4).
        document["devDependencies"]["@jupyterlab/galata"] = "5." + version.split(".", 1)[1]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def pinned_requirements(text: str, version: str) -> str:
    return re.sub(r"(?m)^jupyterlab==\S+$", f"jupyterlab=={version}", text)


def pinned_pyproject(text: str, version: str) -> str:
    major, minor = version.split(".")[:2]
    return re.sub(
        r'"jupyterlab>=[^,"]+,<[^"]+",(\n\s*# Galata)',
        f'"jupyterlab>={version},<{major}.{int(minor) + 1}",\\1',
        text,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file disagrees")
    options = parser.parse_args(argv)
    version, exact = staging_versions()
    rewrites = {
        "requirements-dev.txt": lambda t: pinned_requirements(t, version),
        "pyproject.toml": lambda t: pinned_pyproject(t, version),
        "package.json": lambda t: pinned_package_json(t, version, exact, "resolutions"),
        "ui-tests/package.json": lambda t: pinned_package_json(t, version, exact, "overrides"),
    }
    stale = []
    for name, rewrite in rewrites.items():
        path = ROOT / name
        text = path.read_text()
        wanted = rewrite(text)
        if wanted != text:
            stale.append(name)
            if not options.check:
                path.write_text(wanted)
    if options.check and stale:
        print(
            f"Not pinned to the installed JupyterLab {version}: {', '.join(stale)}. "
            "Run .venv/bin/python scripts/pin_jupyterlab.py (see its docstring).",
            file=sys.stderr,
        )
        return 1
    print(f"JupyterLab {version}: " + (f"rewrote {', '.join(stale)}" if stale else "every file agrees"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

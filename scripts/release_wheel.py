"""Build the wheel a release gets, from a copy of this tree, so that the checkout keeps its
development build (the build hook runs `jlpm build:prod` in the copy).

    python scripts/release_wheel.py OUT_DIR      prints the wheel's path
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = (".git", "node_modules", ".venv*", "lib", "__pycache__", "*.tsbuildinfo", "test-results", "playwright-report")


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gpuscope-release-") as scratch:
        tree = Path(scratch) / "tree"
        shutil.copytree(ROOT, tree, symlinks=True, ignore=shutil.ignore_patterns(*SKIP))
        (tree / "node_modules").symlink_to(ROOT / "node_modules")
        for old in out.glob("jupyterlab_gpuscope-*.whl"):
            old.unlink()
        built = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-build-isolation",
                str(tree),
                "-w",
                str(out),
            ],
            capture_output=True,
            text=True,
            # The build hook runs jlpm, which JupyterLab installs beside this interpreter:
            # found also when the environment is not activated (.venv/bin/python ...).
            env={**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])},
        )
        if built.returncode != 0:
            raise RuntimeError(f"the release wheel did not build:\n{built.stderr[-3000:]}")
    [wheel] = out.glob("jupyterlab_gpuscope-*.whl")
    return wheel


if __name__ == "__main__":
    print(build(Path(sys.argv[1]).resolve()))

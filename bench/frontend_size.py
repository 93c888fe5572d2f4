"""The JavaScript users download for the extension, gzipped, next to jupyterlab-nvdashboard's.

Builds the production labextension (the one the wheel ships), installs
jupyterlab-nvdashboard from PyPI into a separate virtual environment (for this comparison
only), and sums the gzipped size of every .js file each extension serves.

    python bench/frontend_size.py [--peer-venv /tmp/gpuscope-peer]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "python" / "jupyterlab_gpuscope" / "labextension" / "static"
PEER = "jupyterlab-nvdashboard"


def js_sizes(static: Path) -> tuple[int, int, int]:
    """(files, raw bytes, gzipped bytes) of the .js files under static/."""
    files = sorted(p for p in static.rglob("*.js") if p.is_file())
    raw = sum(p.stat().st_size for p in files)
    zipped = sum(len(gzip.compress(p.read_bytes(), compresslevel=9)) for p in files)
    return len(files), raw, zipped


def peer_static(venv: Path) -> Path:
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", PEER], check=True)
    return venv / "share" / "jupyter" / "labextensions" / PEER / "static"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-venv", default="/tmp/gpuscope-peer", type=Path)
    parser.add_argument("--no-build", action="store_true", help="measure the labextension already built")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["jlpm", "build:prod"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    ours = js_sizes(OURS)
    peer = js_sizes(peer_static(args.peer_venv))
    version = (
        subprocess.run([str(args.peer_venv / "bin" / "pip"), "show", PEER], capture_output=True, text=True)
        .stdout.split("Version: ")[1]
        .split()[0]
    )
    print("\nLabextension JavaScript (production build, every .js under static/)\n")
    print(
        f"| {'extension':<32} | {'files':>5} | {'raw KiB':>8} | {'gzipped KiB':>11} | {'gzipped vs nvdashboard':>22} |"
    )
    print(f"|{'-' * 34}|{'-' * 7}|{'-' * 10}|{'-' * 13}|{'-' * 24}|")
    for name, (files, raw, zipped) in (("jupyterlab-gpuscope", ours), (f"{PEER} {version}", peer)):
        print(f"| {name:<32} | {files:>5} | {raw / 1024:>8.1f} | {zipped / 1024:>11.1f} | {zipped / peer[2]:>21.2f}x |")


if __name__ == "__main__":
    main()

"""Which GPUs a torch wheel has code for, read from the wheel itself: the CUDA fat binaries
inside its libraries list every machine-code (SASS) architecture and every PTX version they
carry. No GPU, no CUDA toolkit, no cuobjdump: the container headers are read directly.

    python scripts/wheel_archs.py WHEEL_OR_LIBRARY [...] [--json]

For a wheel, its torch version and CUDA variant come from torch/version.py inside it, and the
row names the wheel's file name and SHA-256 as its source. For a library (a libtorch_cuda.so
already installed, for instance), only the architectures are printed.

A fat binary starts with a 16-byte header (magic 0xBA55ED50, version, header size, size of
what follows); each entry after it starts with its own header, which gives the entry's kind
(1: PTX, 2: ELF machine code), its header size, its payload size and, 28 bytes in, the
architecture as a number (90 for sm_90). Compressed payloads do not matter: only headers are
read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import struct
import sys
import tempfile
import zipfile
from pathlib import Path

MAGIC = struct.pack("<I", 0xBA55ED50)
KIND_PTX, KIND_ELF = 1, 2
# The libraries in a torch wheel whose GPU code decides what runs; the others carry none
# or only helpers.
TORCH_LIBRARIES = re.compile(r"^torch/lib/lib(torch_cuda|torch_cuda_linalg|c10_cuda)\.so$")


def fatbin_entries(data: bytes) -> list[tuple[int, int]]:
    """(kind, arch) of every entry of every fat binary found in the bytes."""
    entries = []
    start = data.find(MAGIC)
    while start != -1:
        found = _container(data, start)
        entries.extend(found)
        start = data.find(MAGIC, start + 4)
    return entries


def _container(data: bytes, start: int) -> list[tuple[int, int]]:
    """The entries of the fat binary at start, or none when the bytes there only look like one."""
    if start + 16 > len(data):
        return []
    _, version, header_size, size = struct.unpack_from("<IHHQ", data, start)
    end = start + header_size + size
    if version != 1 or header_size != 16 or end > len(data):
        return []
    entries = []
    offset = start + header_size
    while offset + 32 <= end:
        kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, offset)
        (arch,) = struct.unpack_from("<I", data, offset + 28)
        if kind not in (KIND_PTX, KIND_ELF) or entry_header < 32 or not 10 <= arch <= 1000:
            return []  # not a fat binary after all
        entries.append((kind, arch))
        offset += entry_header + payload
    return entries


def arch_list(entries: list[tuple[int, int]]) -> tuple[list[str], list[str]]:
    """The build's architectures in torch.cuda.get_arch_list()'s spelling (sm_XY for machine
    code, compute_XY for PTX), and the architectures that only a few special kernels carry.

    A build compiles every kernel for each architecture of its list, so those carry about
    as many entries as the most common one; a library may add a handful of kernels for
    other architectures (FP8 or family-specific ones), which do not make the library run
    there. Half the largest count separates the two."""
    counts: dict[tuple[int, int], int] = {}
    for entry in entries:
        counts[entry] = counts.get(entry, 0) + 1
    if not counts:
        return [], []
    threshold = max(counts.values()) / 2
    built, extra = [], []
    for (kind, arch), count in sorted(counts.items(), key=lambda item: (item[0][1], item[0][0])):
        name = f"sm_{arch}" if kind == KIND_ELF else f"compute_{arch}"
        (built if count >= threshold else extra).append(name)
    # PTX for an architecture that has machine code as well adds nothing to what runs.
    sass = {name[3:] for name in built if name.startswith("sm_")}
    built = [name for name in built if not (name.startswith("compute_") and name[8:] in sass)]
    return built, extra


def read_wheel(path: Path) -> dict:
    """The wheel's row: torch version, CUDA variant, platform, architectures, source."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    entries: list[tuple[int, int]] = []
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        version_file = next((n for n in names if n.endswith("torch/version.py")), None)
        if version_file is None:
            raise ValueError(f"{path.name} has no torch/version.py: not a torch wheel")
        version_text = wheel.read(version_file).decode()
        for name in names:
            if TORCH_LIBRARIES.match(name):
                # Large members are spooled to disk rather than held in memory twice.
                with tempfile.TemporaryFile() as spool, wheel.open(name) as member:
                    for block in iter(lambda: member.read(1 << 24), b""):
                        spool.write(block)
                    spool.seek(0)
                    entries.extend(fatbin_entries(spool.read()))
    release = re.search(r"__version__ = '([^']+)'", version_text)
    cuda = re.search(r"cuda: Optional\[str\] = '([\d.]+)'", version_text) or re.search(
        r"cuda = '([\d.]+)'", version_text
    )
    torch_version = release.group(1) if release else "unknown"
    built, extra = arch_list(entries)
    return {
        "torch": ".".join(torch_version.split("+")[0].split(".")[:2]),
        "release": torch_version,
        "variant": "cu" + cuda.group(1).replace(".", "") if cuda else None,
        "platform": _platform(path.name),
        "archs": built,
        "special_kernels_only": extra,
        "source": {"wheel": path.name, "sha256": digest.hexdigest()},
    }


def _platform(filename: str) -> str | None:
    if "x86_64" in filename:
        return "linux-x86_64" if "linux" in filename else None
    if "aarch64" in filename:
        return "linux-aarch64"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="torch wheels (.whl) or CUDA libraries (.so)")
    parser.add_argument("--json", action="store_true", help="one JSON document for all paths")
    args = parser.parse_args(argv)
    rows = []
    for path in args.paths:
        if not path.is_file():
            print(f"wheel_archs: {path}: no such file", file=sys.stderr)
            return 2
        if path.suffix == ".whl":
            rows.append(read_wheel(path))
        else:
            built, extra = arch_list(fatbin_entries(path.read_bytes()))
            rows.append({"library": path.name, "archs": built, "special_kernels_only": extra})
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for row in rows:
            what = (
                f"torch {row['release']} ({row['variant']}, {row['platform']})" if "release" in row else row["library"]
            )
            extra = (
                f" (a few kernels also for {' '.join(row['special_kernels_only'])})"
                if row["special_kernels_only"]
                else ""
            )
            print(f"{what}: {' '.join(row['archs']) or 'no GPU code'}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

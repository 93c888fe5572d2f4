"""scripts/wheel_archs.py reads a torch wheel's GPU architectures from its fat binaries."""

from __future__ import annotations

import hashlib
import importlib.util
import struct
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def reader():
    spec = importlib.util.spec_from_file_location("wheel_archs", ROOT / "scripts" / "wheel_archs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entry(kind: int, arch: int, payload: bytes = b"\0" * 24) -> bytes:
    """One fat-binary entry: a 64-byte header (kind, header size, payload size, arch at 28)."""
    header = struct.pack("<HHIQ", kind, 0x101, 64, len(payload)) + b"\0" * 12 + struct.pack("<I", arch)
    return header.ljust(64, b"\0") + payload


def fatbin(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body


def library() -> bytes:
    """A library's bytes: code around two fat binaries, and a stray magic number that only
    looks like one."""
    build = [entry(2, arch) for arch in (80, 90) for _ in range(4)] + [entry(1, 90)] * 4
    special = [entry(2, 89)]
    stray = struct.pack("<IHHQ", 0xBA55ED50, 7, 99, 12)
    return b"\x7fELF" + b"\x90" * 100 + fatbin(*build) + stray + b"\xcc" * 33 + fatbin(*special) + b"\0" * 50


def test_a_wheel_gives_its_release_variant_architectures_and_hash(tmp_path):
    wheel = tmp_path / "torch-9.9.0-cp312-cp312-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("torch/version.py", "__version__ = '9.9.0+cu130'\ncuda: Optional[str] = '13.0'\n")
        z.writestr("torch/lib/libtorch_cuda.so", library())
        z.writestr("torch/lib/libtorch_cpu.so", fatbin(entry(2, 50)))  # not read: no GPU code decides there
    row = reader().read_wheel(wheel)
    assert row["torch"] == "9.9" and row["release"] == "9.9.0+cu130"
    assert row["variant"] == "cu130" and row["platform"] == "linux-x86_64"
    # PTX for 9.0 adds nothing beside its machine code; one 8.9 kernel is not the build's.
    assert row["archs"] == ["sm_80", "sm_90"]
    assert row["special_kernels_only"] == ["sm_89"]
    assert row["source"] == {"wheel": wheel.name, "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}


def test_ptx_is_listed_where_no_machine_code_of_that_architecture_exists():
    module = reader()
    entries = module.fatbin_entries(fatbin(entry(2, 75), entry(2, 75), entry(1, 120), entry(1, 120)))
    assert module.arch_list(entries) == (["sm_75", "compute_120"], [])


def test_bytes_that_only_look_like_a_fat_binary_give_nothing():
    module = reader()
    truncated = fatbin(entry(2, 80))[:-10]
    bad_kind = fatbin(entry(9, 80))
    assert module.fatbin_entries(truncated) == []
    assert module.fatbin_entries(bad_kind + b"\0" * 8) == []


def test_a_file_that_is_not_there_is_said_so_with_exit_2(tmp_path, capsys):
    assert reader().main([str(tmp_path / "missing.whl")]) == 2
    assert "no such file" in capsys.readouterr().err

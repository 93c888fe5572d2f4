"""Read the status codes of the CUDA libraries from NVIDIA's own wheels on PyPI: each enum's
names and values from the wheel's header, and the text the library prints for each code from
the library itself (its *GetErrorString / *GetStatusString function, called through ctypes;
no GPU is needed for that). Writes src/core/knowledge/error-codes.json, which the error
explainer reads beside errors.json.

    python scripts/mine_error_codes.py [--wheels DIR] [--driver-strings FILE]

--wheels: where the wheels are, or are downloaded to (pip download, pinned versions below).
--driver-strings: the driver API's strings (cuGetErrorString lives in libcuda, which comes
with the driver, not a wheel), recorded on a machine with an NVIDIA GPU by
scripts/record_error_texts.py; without it the driver's codes keep their names only.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "core" / "knowledge" / "error-codes.json"

#: library id -> (title, [(wheel requirement, header in the wheel, enum pattern, library in the
#: wheel or None, its string function or None, libraries to load first)]). Two CUDA majors for
#: the runtime and the driver API: codes were added and removed between them.
LIBRARIES: dict[str, dict] = {
    "cudart": {
        "title": "CUDA runtime (cudaError_t)",
        "wheels": [
            (
                "nvidia-cuda-runtime-cu12==12.9.79",
                "nvidia/cuda_runtime/include/driver_types.h",
                "nvidia/cuda_runtime/lib/libcudart.so.12",
            ),
            ("nvidia-cuda-runtime==13.5.37", "nvidia/cu13/include/driver_types.h", "nvidia/cu13/lib/libcudart.so.13"),
        ],
        "pattern": r"\b(cudaError\w+)\s*=\s*(\w+)",
        "function": "cudaGetErrorString",
    },
    "driver": {
        "title": "CUDA driver API (CUresult)",
        "wheels": [
            ("nvidia-cuda-runtime-cu12==12.9.79", "nvidia/cuda_runtime/include/cuda.h", None),
            ("nvidia-cuda-runtime==13.5.37", "nvidia/cu13/include/cuda.h", None),
        ],
        "pattern": r"\b(CUDA_(?:SUCCESS|ERROR_\w+))\s*=\s*(\w+)",
        "function": None,
    },
    "cublas": {
        "title": "cuBLAS (cublasStatus_t)",
        "wheels": [
            (
                "nvidia-cublas-cu12==12.6.4.1",
                "nvidia/cublas/include/cublas_api.h",
                "nvidia/cublas/lib/libcublas.so.12",
                ["nvidia/cublas/lib/libcublasLt.so.12"],
            )
        ],
        "pattern": r"\b(CUBLAS_STATUS_\w+)\s*=\s*(\w+)",
        "function": "cublasGetStatusString",
    },
    "cudnn": {
        "title": "cuDNN (cudnnStatus_t)",
        "wheels": [
            (
                "nvidia-cudnn-cu12==9.28.0.42",
                "nvidia/cudnn/include/cudnn_graph.h",
                "nvidia/cudnn/lib/libcudnn.so.9",
                ["nvidia/cudnn/lib/libcudnn_graph.so.9"],  # the front library forwards to it
            )
        ],
        "pattern": r"\b(CUDNN_STATUS_\w+)\s*=\s*(\w+)",
        "function": "cudnnGetErrorString",
    },
    "nccl": {
        "title": "NCCL (ncclResult_t)",
        "wheels": [("nvidia-nccl-cu12==2.27.7", "nvidia/nccl/include/nccl.h", "nvidia/nccl/lib/libnccl.so.2")],
        "pattern": r"\b(nccl(?:Success|\w+Error|InvalidArgument|InvalidUsage|RemoteError|InProgress|NumResults))\s*=\s*(\w+)",
        "function": "ncclGetErrorString",
    },
    "cufft": {
        "title": "cuFFT (cufftResult)",
        "wheels": [("nvidia-cufft-cu12==11.4.1.4", "nvidia/cufft/include/cufft.h", None)],
        "pattern": r"\b(CUFFT_(?:SUCCESS|[A-Z_]*(?:ERROR|FAILED|INVALID|UNALIGNED|INCOMPLETE|NO_WORKSPACE|NOT_IMPLEMENTED|NOT_SUPPORTED|MISSING_DEPENDENCY|NVRTC_FAILURE|NVJITLINK_FAILURE|NVSHMEM_FAILURE)[A-Z_]*))\s*=\s*(\w+)",
        "function": None,
    },
    "cusolver": {
        "title": "cuSOLVER (cusolverStatus_t)",
        "wheels": [("nvidia-cusolver-cu12==11.7.5.82", "nvidia/cusolver/include/cusolver_common.h", None)],
        "pattern": r"\b(CUSOLVER_STATUS_\w+)\s*=\s*(\w+)",
        "function": None,
    },
    "cusparse": {
        "title": "cuSPARSE (cusparseStatus_t)",
        "wheels": [("nvidia-cusparse-cu12==12.5.10.65", "nvidia/cusparse/include/cusparse.h", None)],
        "pattern": r"\b(CUSPARSE_STATUS_\w+)\s*=\s*(\w+)",
        "function": None,
    },
}


def enum_codes(header: str, pattern: str) -> dict[str, int]:
    """name -> value of every enumerator the pattern finds (hex values too; names that
    alias an earlier name's value are kept, as the headers define them)."""
    found: dict[str, int] = {}
    for name, value in re.findall(pattern, header):
        try:
            found.setdefault(name, int(value, 0))
        except ValueError:
            continue  # an alias written as another enumerator's name
    return found


def library_strings(path: Path, function: str, values: list[int], preload: list[Path]) -> dict[int, str]:
    """value -> the text the library prints for it (what its string function returns)."""
    for extra in preload:
        ctypes.CDLL(str(extra), mode=ctypes.RTLD_GLOBAL)
    library = ctypes.CDLL(str(path))
    call = getattr(library, function)
    call.restype = ctypes.c_char_p
    call.argtypes = [ctypes.c_int]
    return {value: call(value).decode("utf-8", "replace") for value in values}


def wheel_file(requirement: str, folder: Path) -> Path:
    name, version = requirement.split("==")
    stem = name.replace("-", "_") + "-" + version + "-"
    found = [p for p in folder.glob("*.whl") if p.name.startswith(stem)]
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.11"]
            + [
                arg
                for platform in ("manylinux2014_x86_64", "manylinux_2_27_x86_64")
                for arg in ("--platform", platform)
            ]
            + ["-d", str(folder), requirement],
            check=True,
        )
        found = [p for p in folder.glob("*.whl") if p.name.startswith(stem)]
    return found[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def mine(folder: Path, driver_strings: dict[str, str]) -> dict:
    libraries = {}
    for library_id, spec in LIBRARIES.items():
        codes: dict[str, dict] = {}
        sources = []
        for entry in spec["wheels"]:
            requirement, header_path, library_path = entry[:3]
            preload = entry[3] if len(entry) > 3 else []
            wheel = wheel_file(requirement, folder)
            name, version = requirement.split("==")
            sources.append(
                {
                    "wheel": wheel.name,
                    "sha256": sha256(wheel),
                    "url": f"https://pypi.org/project/{name}/{version}/",
                }
            )
            with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as unpacked:
                header = archive.read(header_path).decode("utf-8", "replace")
                found = enum_codes(header, spec["pattern"])
                strings: dict[int, str] = {}
                if library_path and spec["function"]:
                    for member in [library_path, *preload]:
                        archive.extract(member, unpacked)
                    strings = library_strings(
                        Path(unpacked) / library_path,
                        spec["function"],
                        sorted(set(found.values())),
                        [Path(unpacked) / p for p in preload],
                    )
            for code_name, value in found.items():
                code = codes.setdefault(code_name, {"name": code_name, "value": value, "string": None, "in": []})
                code["in"].append(version)
                if strings.get(value):
                    code["string"] = strings[value]
                if library_id == "driver" and code_name in driver_strings:
                    code["string"] = driver_strings[code_name]
        libraries[library_id] = {
            "title": spec["title"],
            "sources": sources,
            "codes": sorted(codes.values(), key=lambda c: (c["value"], c["name"])),
        }
    return libraries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, default=Path(tempfile.gettempdir()) / "gpuscope-nvidia-wheels")
    parser.add_argument(
        "--driver-strings", type=Path, default=ROOT / "scripts" / "records" / "driver-error-strings.json"
    )
    args = parser.parse_args()
    args.wheels.mkdir(parents=True, exist_ok=True)
    recorded = json.loads(args.driver_strings.read_text()) if args.driver_strings.exists() else {}
    document = {
        "about": (
            "Generated by scripts/mine_error_codes.py from NVIDIA's wheels on PyPI (names and values "
            "from each wheel's header, strings from its library's string function; the driver API's "
            "strings recorded from libcuda, see driver_strings). Do not edit: run the script."
        ),
        "driver_strings": recorded.get("about"),
        "libraries": mine(args.wheels, recorded.get("strings", {})),
    }
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    counts = {k: len(v["codes"]) for k, v in document["libraries"].items()}
    print(f"wrote {OUT.relative_to(ROOT)}: {counts}")


if __name__ == "__main__":
    main()

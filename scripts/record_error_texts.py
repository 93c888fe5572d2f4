"""Produce real GPU errors with real torch, CuPy, JAX and Numba code on a machine with an
NVIDIA GPU, and record exactly what each printed; also record the driver's own text for
every CUresult (cuGetErrorName / cuGetErrorString in libcuda, which no wheel ships).

    python scripts/record_error_texts.py OUT_DIR

Writes OUT_DIR/gpu-error-texts.json (the explainer's fixture
src/core/explain/__tests__/fixtures/gpu-error-texts.json) and OUT_DIR/driver-error-strings.json
(scripts/records/, read by scripts/mine_error_codes.py). Each case runs in a process of its
own: several leave CUDA unusable. A library that is not installed is skipped, and said so.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = {
    # torch: the most common notebook error, a tensor left on the CPU.
    "torch_different_devices": (
        "torch",
        """
import torch
model = torch.nn.Linear(4, 2).cuda()
model(torch.ones(3, 4))
""",
    ),
    "torch_index_different_devices": (
        "torch",
        """
import torch
x = torch.ones(4, device="cuda")
x[torch.tensor([0, 1], device="cuda")] = torch.ones(2)  # fine
torch.ones(3).index_select(0, torch.tensor([0], device="cuda"))
""",
    ),
    # A checkpoint saved on the GPU, loaded where torch sees no GPU.
    "torch_load_cuda_checkpoint_without_gpu": (
        "torch",
        """
import os, subprocess, sys, tempfile, torch
path = os.path.join(tempfile.mkdtemp(), "model.pt")
torch.save({"w": torch.ones(2, device="cuda")}, path)
env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
done = subprocess.run([sys.executable, "-c", f"import torch; torch.load({path!r})"], env=env, capture_output=True, text=True)
sys.stderr.write(done.stderr)
sys.exit(done.returncode)
""",
    ),
    "torch_oom_held_by_own_process": (
        "torch",
        """
import torch
free, total = torch.cuda.mem_get_info()
keep = torch.empty(int(free * 0.9), dtype=torch.uint8, device="cuda")
more = torch.empty(int(free * 0.5), dtype=torch.uint8, device="cuda")
""",
    ),
    "torch_invalid_ordinal": ("torch", "import torch\ntorch.zeros(1, device='cuda:9')\n"),
    "cupy_oom": (
        "cupy",
        """
import cupy
free, total = cupy.cuda.runtime.memGetInfo()
cupy.empty(int(total * 2), dtype=cupy.uint8)
""",
    ),
    "cupy_illegal_address": (
        "cupy",
        """
import cupy
kernel = cupy.RawKernel(r'''
extern "C" __global__ void poke(float* p) { p[1ull << 40] = 1.0f; }
''', "poke")
x = cupy.zeros(1, dtype=cupy.float32)
kernel((1,), (1,), (x,))
cupy.cuda.runtime.deviceSynchronize()
""",
    ),
    "cupy_invalid_device": ("cupy", "import cupy\ncupy.cuda.Device(9).use()\ncupy.zeros(1)\n"),
    "jax_oom": (
        "jax",
        """
import jax, jax.numpy as jnp
total = jax.devices()[0].memory_stats()["bytes_limit"]
jnp.zeros(int(total * 2) // 4, dtype=jnp.float32).block_until_ready()
""",
    ),
    # A CUDA C++ program (thrust, no PyTorch) built for compute capability 8.0 only, with no
    # PTX: on any other major version it has no kernel image, and the fix is the build's
    # architecture list, not a wheel.
    "nvcc_thrust_no_kernel_image": (
        "nvcc",
        """
import os, subprocess, sys, tempfile
folder = tempfile.mkdtemp()
source = os.path.join(folder, "fill.cu")
with open(source, "w") as f:
    f.write('#include <thrust/device_vector.h>\\n#include <thrust/sequence.h>\\n'
            'int main() { thrust::device_vector<int> v(1 << 20); thrust::sequence(v.begin(), v.end()); return 0; }\\n')
program = os.path.join(folder, "fill")
subprocess.run(["nvcc", "-gencode", "arch=compute_80,code=sm_80", "-o", program, source], check=True)
done = subprocess.run([program], capture_output=True, text=True)
sys.stderr.write(done.stdout + done.stderr)
sys.exit(done.returncode)
""",
    ),
    "numba_oom": (
        "numba",
        """
from numba import cuda
free, total = cuda.current_context().get_memory_info()
cuda.device_array(int(total * 2), dtype="uint8")
""",
    ),
}


def run_case(library: str, code: str) -> dict:
    script = Path(tempfile.mkdtemp()) / "case.py"
    script.write_text(code)
    if library == "nvcc":
        if shutil.which("nvcc") is None:
            return {"skipped": "nvcc is not on PATH here"}
    elif importlib.util.find_spec(library) is None:
        return {"skipped": f"{library} is not installed here"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    return {"rc": done.returncode, "stderr": done.stderr[-6000:]}


def driver_strings() -> dict:
    """CUresult name -> the driver's text, for every value the driver names."""
    cuda = ctypes.CDLL("libcuda.so.1")
    name, text = ctypes.c_char_p(), ctypes.c_char_p()
    strings = {}
    for value in range(0, 1100):
        if cuda.cuGetErrorName(value, ctypes.byref(name)) == 0 and name.value:
            cuda.cuGetErrorString(value, ctypes.byref(text))
            strings[name.value.decode()] = text.value.decode() if text.value else None
    version = ctypes.c_int()
    cuda.cuDriverGetVersion(ctypes.byref(version))
    return {"driver_api_version": version.value, "strings": strings}


def versions() -> dict:
    found = {"python": platform.python_version()}
    for library in ("torch", "cupy", "jax", "numba"):
        try:
            found[library] = __import__(library).__version__
        except ImportError:
            found[library] = None
    smi = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"], capture_output=True, text=True
    )
    found["gpu"] = smi.stdout.strip()
    return found


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    seen = versions()
    cases = {name: {"library": library, **run_case(library, code)} for name, (library, code) in CASES.items()}
    (out / "gpu-error-texts.json").write_text(
        json.dumps({"about": "scripts/record_error_texts.py on a real GPU", "versions": seen, "cases": cases}, indent=1)
        + "\n"
    )
    recorded = driver_strings()
    recorded["about"] = (
        f"cuGetErrorName/cuGetErrorString of libcuda (driver API {recorded['driver_api_version']}, "
        f"{seen['gpu']}), recorded by scripts/record_error_texts.py"
    )
    (out / "driver-error-strings.json").write_text(json.dumps(recorded, indent=1) + "\n")
    for name, case in cases.items():
        print(name, case.get("rc", case.get("skipped")), (case.get("stderr") or "").strip().splitlines()[-1:])


if __name__ == "__main__":
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    main()

"""GPU environment diagnostic (jupyterlab-gpuscope).

Collects the facts that decide whether this Python can use the GPU: the NVIDIA driver
(read through libnvidia-ml with ctypes), the PyTorch build and what it sees, and a small
matrix multiplication on each GPU checked against the CPU. It only reads: it changes no
setting, and uses a few MB of GPU memory at most.

In a notebook it shows a report (JupyterLab with gpuscope turns the facts into findings
with fixes). In a terminal:  python -m jupyterlab_gpuscope.diagnose [--json]

It needs nothing but the standard library (and uses torch if it is installed), so it
runs in any kernel, and it never raises: whatever fails is recorded as a fact.
"""

import ctypes
import importlib.util
import json
import os
import platform
import sys
import threading
import time

_SCHEMA = "gpuscope.facts/1"
_MIME = "application/vnd.gpuscope.diagnostic+json"
_TIME_LIMIT_S = 30.0  # a hung CUDA initialisation is reported, not waited on
_ENV_VARS = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "CUDA_HOME", "PYTORCH_CUDA_ALLOC_CONF")


def _error_text(error):
    return f"{type(error).__name__}: {error}".strip()


# ---- the driver, through libnvidia-ml (no Python package needed) -------------------


def _driver_facts():
    facts = {"available": False, "error": None, "version": None, "cuda_version": None, "devices": []}
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError as error:
        facts["error"] = f"libnvidia-ml.so.1 cannot be loaded ({error}): no NVIDIA driver is visible here"
        return facts
    status = nvml.nvmlInit_v2()
    if status != 0:
        facts["error"] = f"nvmlInit failed with NVML error {status}"
        return facts
    try:
        text = ctypes.create_string_buffer(96)
        if nvml.nvmlSystemGetDriverVersion(text, 96) == 0:
            facts["version"] = text.value.decode()
        number = ctypes.c_int()
        if nvml.nvmlSystemGetCudaDriverVersion(ctypes.byref(number)) == 0:
            # 13000 -> "13.0": the newest CUDA this driver supports
            facts["cuda_version"] = f"{number.value // 1000}.{number.value % 1000 // 10}"
        count = ctypes.c_uint()
        nvml.nvmlDeviceGetCount_v2(ctypes.byref(count))
        for index in range(count.value):
            facts["devices"].append(_driver_device(nvml, index))
        facts["available"] = True
    finally:
        nvml.nvmlShutdown()
    return facts


def _driver_device(nvml, index):
    handle = ctypes.c_void_p()
    device = {"index": index, "name": None, "uuid": None, "cc": None, "memory_total": None, "mig_mode": None}
    if nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
        return device
    text = ctypes.create_string_buffer(96)
    if nvml.nvmlDeviceGetName(handle, text, 96) == 0:
        device["name"] = text.value.decode()
    if nvml.nvmlDeviceGetUUID(handle, text, 96) == 0:
        device["uuid"] = text.value.decode()
    major, minor = ctypes.c_int(), ctypes.c_int()
    if nvml.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major), ctypes.byref(minor)) == 0:
        device["cc"] = f"{major.value}.{minor.value}"
    memory = (ctypes.c_ulonglong * 3)()  # total, free, used
    if nvml.nvmlDeviceGetMemoryInfo(handle, memory) == 0:
        device["memory_total"] = memory[0]
    current, pending = ctypes.c_uint(), ctypes.c_uint()
    if nvml.nvmlDeviceGetMigMode(handle, ctypes.byref(current), ctypes.byref(pending)) == 0:
        device["mig_mode"] = {"current": bool(current.value), "pending": bool(pending.value)}
    return device


# ---- PyTorch ------------------------------------------------------------------------


def _torch_facts():
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    facts = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "hip": getattr(torch.version, "hip", None),
        "cuda_built": torch.backends.cuda.is_built(),
        "cudnn": None,
        "nccl": None,
        "cuda_available": False,
        "init_error": None,
        "device_count": 0,
        "arch_list": [],
        "devices": [],
        "bf16_supported": None,
        "bf16_native": None,
        "tf32": {
            "matmul": torch.backends.cuda.matmul.allow_tf32,
            "cudnn": torch.backends.cudnn.allow_tf32,
        },
        "sdpa": {
            "flash": torch.backends.cuda.flash_sdp_enabled(),
            "mem_efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
            "math": torch.backends.cuda.math_sdp_enabled(),
            "cudnn": getattr(torch.backends.cuda, "cudnn_sdp_enabled", lambda: None)(),
        },
        "peer_access": [],
        "smoke": [],
    }
    if not facts["cuda_built"]:
        return facts  # a CPU-only build: nothing more to ask
    try:
        facts["cudnn"] = torch.backends.cudnn.version()
    except Exception as error:
        facts["cudnn"] = _error_text(error)
    try:
        facts["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    except Exception:
        facts["nccl"] = None
    try:
        # The first real CUDA call: it raises with the exact reason when CUDA cannot start.
        torch.cuda.init()
        facts["cuda_available"] = torch.cuda.is_available()
        facts["device_count"] = torch.cuda.device_count()
    except Exception as error:
        facts["init_error"] = _error_text(error)
        return facts
    facts["arch_list"] = torch.cuda.get_arch_list()
    for index in range(facts["device_count"]):
        props = torch.cuda.get_device_properties(index)
        facts["devices"].append(
            {
                "index": index,
                "name": props.name,
                "cc": f"{props.major}.{props.minor}",
                "memory_total": props.total_memory,
                "multiprocessors": props.multi_processor_count,
            }
        )
    try:
        facts["bf16_supported"] = torch.cuda.is_bf16_supported()
        facts["bf16_native"] = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch before including_emulation existed
        facts["bf16_native"] = None
    except Exception as error:
        facts["bf16_supported"] = _error_text(error)
    count = facts["device_count"]
    for a in range(count):
        for b in range(count):
            if a != b:
                facts["peer_access"].append([a, b, torch.cuda.can_device_access_peer(a, b)])
    facts["smoke"] = [_smoke_test(torch, index) for index in range(count)]
    return facts


def _smoke_test(torch, index):
    """A 256x256 fp32 matmul on the GPU, compared with the same product on the CPU."""
    tf32 = bool(torch.backends.cuda.matmul.allow_tf32)
    result = {"device": index, "ok": False, "max_error": None, "ms": None, "error": None, "tf32": tf32}
    try:
        generator = torch.Generator().manual_seed(index)  # our own: the global RNG is untouched
        a = torch.rand(256, 256, generator=generator)
        b = torch.rand(256, 256, generator=generator)
        expected = a.double() @ b.double()
        device = torch.device("cuda", index)
        started = time.perf_counter()
        got = a.to(device) @ b.to(device)
        torch.cuda.synchronize(device)
        result["ms"] = round((time.perf_counter() - started) * 1000, 3)
        error = (got.cpu().double() - expected).abs().max().item()
        result["max_error"] = error
        # Entries are sums of 256 products in [0, 1]: fp32 is off by ~1e-5, TF32 (10-bit
        # mantissa, when the user turned it on) by up to ~0.05; anything larger is wrong.
        result["ok"] = error < (0.25 if tf32 else 1e-2)
        del a, b, got, expected
    except Exception as error:
        result["error"] = _error_text(error)
    return result


# ---- putting it together --------------------------------------------------------------------


def _installed_version(name):
    if importlib.util.find_spec(name) is None:
        return None
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "installed"


def _run_bounded(function, timeouts, name):
    """Run function in a thread; give up waiting after the time limit (recorded)."""
    box = {}

    def target():
        try:
            box["value"] = function()
        except Exception as error:  # recorded, never raised
            box["error"] = _error_text(error)

    worker = threading.Thread(target=target, name=f"gpuscope-{name}", daemon=True)
    worker.start()
    worker.join(_TIME_LIMIT_S)
    if worker.is_alive():
        timeouts.append(f"{name} did not finish within {_TIME_LIMIT_S:g} s (a hung CUDA call?)")
        return None, None
    return box.get("value"), box.get("error")


def collect():
    """Every fact, as a JSON-ready dict (schema gpuscope.facts/1)."""
    started = time.perf_counter()
    timeouts = []
    errors = {}
    driver, errors["driver"] = _run_bounded(_driver_facts, timeouts, "driver")
    torch_facts, errors["torch"] = _run_bounded(_torch_facts, timeouts, "torch")
    dev = "/dev"
    try:
        dev_nvidia = sorted(n for n in os.listdir(dev) if n.startswith("nvidia"))
    except OSError:
        dev_nvidia = []
    return {
        "schema": _SCHEMA,
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "platform": {"system": platform.system(), "machine": platform.machine(), "release": platform.release()},
        "env": dict(
            {name: os.environ.get(name) for name in _ENV_VARS},
            LD_LIBRARY_PATH="set" if os.environ.get("LD_LIBRARY_PATH") else None,
        ),
        "container": {"dockerenv": os.path.exists("/.dockerenv"), "dev_nvidia": dev_nvidia},
        "driver": driver,
        "torch": torch_facts,
        "others": {"jax": _installed_version("jax"), "cupy": _installed_version("cupy")},
        "errors": {k: v for k, v in errors.items() if v},
        "timeouts": timeouts,
        "duration_s": round(time.perf_counter() - started, 3),
    }


def summary(facts):
    """A short plain-text summary (the report's fallback outside JupyterLab)."""
    driver = facts.get("driver") or {}
    torch_facts = facts.get("torch")
    lines = ["GPU diagnostic (jupyterlab-gpuscope)"]
    if driver.get("available"):
        lines.append(f"Driver {driver['version']} (supports CUDA up to {driver['cuda_version']})")
        for d in driver["devices"]:
            lines.append(f"  GPU {d['index']}: {d['name']}, compute capability {d['cc']}")
    else:
        lines.append(f"Driver: not found ({driver.get('error')})")
    if torch_facts is None:
        lines.append("PyTorch: not installed")
    else:
        cuda = torch_facts["cuda"] or "none (CPU-only build)"
        lines.append(f"PyTorch {torch_facts['version']}, built for CUDA {cuda}")
        if torch_facts["init_error"]:
            lines.append(f"  CUDA failed to start: {torch_facts['init_error']}")
        elif torch_facts["cuda_built"]:
            lines.append(f"  CUDA available: {torch_facts['cuda_available']}, {torch_facts['device_count']} device(s)")
        for smoke in torch_facts["smoke"]:
            verdict = "ok" if smoke["ok"] else f"FAILED ({smoke['error'] or 'wrong result'})"
            lines.append(f"  matmul test on GPU {smoke['device']}: {verdict}")
    for timeout in facts.get("timeouts", []):
        lines.append(f"Timed out: {timeout}")
    lines.append(f"Collected in {facts['duration_s']} s.")
    return "\n".join(lines)


def _show_in_notebook(facts):
    from IPython.display import display

    text = summary(facts)
    markdown = (
        "```\n" + text + "\n```\n\nOpen this notebook in JupyterLab with jupyterlab-gpuscope for "
        "findings and fixes, or run `gpuscope explain` on the facts."
    )
    display({_MIME: facts, "text/markdown": markdown, "text/plain": text}, raw=True)


def _in_notebook():
    ipython = sys.modules.get("IPython")
    return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


def _main(argv=None):
    facts = collect()
    if _in_notebook():
        _show_in_notebook(facts)
        return 0
    args = sys.argv[1:] if argv is None else argv
    if "--json" in args:
        print(json.dumps(facts, indent=1))
    else:
        print(summary(facts))
    return 0


if __name__ == "__main__":
    _main()

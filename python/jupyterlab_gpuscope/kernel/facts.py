"""GPU environment diagnostic (jupyterlab-gpuscope): the collector.

Collects the facts that decide whether this Python can use the GPU: the NVIDIA driver
(read through NVML with ctypes), MIG instances, the container it runs in, the PyTorch
build and what it sees, and on each GPU a matrix product and an elementwise kernel
checked against the CPU. It only reads: it changes no setting, and uses a few MB of GPU
memory at most. findings.py turns the facts into findings with fixes; diagnostic.py
shows them.

Standard library only (torch is used when installed), so it runs in any kernel; it never
raises: whatever fails or hangs is recorded as a fact.
"""

import ctypes
import importlib.util
import math
import os
import platform
import sys
import threading
import time

SCHEMA = "gpuscope.facts/2"
MIME = "application/vnd.gpuscope.diagnostic+json"
TIME_LIMIT_S = 30.0  # a hung CUDA call is reported, not waited on
_ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "NVIDIA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "PYTORCH_CUDA_ALLOC_CONF",
)


def _error_text(error):
    return f"{type(error).__name__}: {error}".strip()


def _finite(value):
    """A float for JSON, or None when it is NaN or infinite (JSON has neither)."""
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


# ---- the driver, through NVML (no Python package needed) ----------------------------


def load_nvml():
    """NVML's library for this platform, or raise OSError saying why not."""
    system = platform.system()
    if system == "Darwin":
        raise OSError("macOS has no NVIDIA driver (CUDA does not exist on macOS)")
    if system == "Windows":
        candidates = [
            os.path.join(os.environ.get("WINDIR", "C:\\Windows"), "System32", "nvml.dll"),
            os.path.join(
                os.environ.get("ProgramFiles", "C:\\Program Files"), "NVIDIA Corporation", "NVSMI", "nvml.dll"
            ),
        ]
        for path in candidates:
            if os.path.exists(path):
                return ctypes.CDLL(path)
        raise OSError("nvml.dll was not found in System32 or the NVSMI folder")
    return ctypes.CDLL("libnvidia-ml.so.1")


def _driver_facts(progress=None):
    facts = {"available": False, "error": None, "version": None, "cuda_version": None, "devices": []}
    try:
        nvml = load_nvml()
    except OSError as error:
        facts["error"] = f"NVML cannot be loaded ({error}): no NVIDIA driver is visible here"
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
            if progress is not None:
                progress["step"] = f"reading GPU {index} through NVML"
            facts["devices"].append(_driver_device(nvml, index))
        if count.value > 1:
            if progress is not None:
                progress["step"] = "reading how the GPUs are linked"
            facts["links"] = _links(nvml, count.value)
        facts["available"] = True
    finally:
        nvml.nvmlShutdown()
    return facts


def read_memory(nvml, handle):
    """(total, free, used) bytes of a device or MIG instance, or None."""
    memory = (ctypes.c_ulonglong * 3)()  # nvmlMemory_t
    return (memory[0], memory[1], memory[2]) if nvml.nvmlDeviceGetMemoryInfo(handle, memory) == 0 else None


def _read_name_uuid_memory(nvml, handle, into):
    text = ctypes.create_string_buffer(96)
    if nvml.nvmlDeviceGetName(handle, text, 96) == 0:
        into["name"] = text.value.decode()
    if nvml.nvmlDeviceGetUUID(handle, text, 96) == 0:
        into["uuid"] = text.value.decode()
    memory = read_memory(nvml, handle)
    if memory is not None:
        into["memory_total"] = memory[0]


def _driver_device(nvml, index):
    handle = ctypes.c_void_p()
    device = {"index": index, "name": None, "uuid": None, "cc": None, "memory_total": None, "mig_mode": None, "mig": []}
    if nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle)) != 0:
        return device
    _read_name_uuid_memory(nvml, handle, device)
    major, minor = ctypes.c_int(), ctypes.c_int()
    if nvml.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major), ctypes.byref(minor)) == 0:
        device["cc"] = f"{major.value}.{minor.value}"
    current, pending = ctypes.c_uint(), ctypes.c_uint()
    if nvml.nvmlDeviceGetMigMode(handle, ctypes.byref(current), ctypes.byref(pending)) == 0:
        device["mig_mode"] = {"current": bool(current.value), "pending": bool(pending.value)}
        if current.value:
            device["mig"] = _mig_instances(nvml, handle)
    return device


class _PciInfo(ctypes.Structure):
    """nvmlPciInfo_t (nvml.h)."""

    _fields_ = [
        ("busIdLegacy", ctypes.c_char * 16),
        ("domain", ctypes.c_uint),
        ("bus", ctypes.c_uint),
        ("device", ctypes.c_uint),
        ("pciDeviceId", ctypes.c_uint),
        ("pciSubSystemId", ctypes.c_uint),
        ("busId", ctypes.c_char * 32),
    ]


# nvmlGpuTopologyLevel_t -> the words of `nvidia-smi topo -m`. INTERNAL (0: two GPUs on one
# board) has no word of its own there; such GPUs share the board's PCIe switch, as PIX says.
# The server's topology (backends/topology.py) names links with this table too.
TOPOLOGY_WORDS = {0: "PIX", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}


def pci_bus_key(bus_id):
    """A PCI bus id as one form, "0000:18:00.0" (sysfs's): NVML pads the domain to 8 digits
    in some fields and gives bytes or text."""
    text = bus_id.decode() if isinstance(bus_id, bytes) else str(bus_id)
    return text.strip().lower()[-12:]


_NVLINK_MAX_LINKS = 18  # NVML_NVLINK_MAX_LINKS of the drivers in use (H100/H200: 18)


def _links(nvml, count):
    """Per pair of GPUs (i < j): the link as `nvidia-smi topo -m` names it (NV# for # NVLinks,
    else PIX/PXB/PHB/NODE/SYS) and whether peer-to-peer reads work. Multi-GPU training
    problems (slow all-reduce, P2P hangs) often start here."""
    handles, buses = [], []
    for index in range(count):
        handle = ctypes.c_void_p()
        nvml.nvmlDeviceGetHandleByIndex_v2(index, ctypes.byref(handle))
        pci = _PciInfo()
        buses.append(pci_bus_key(pci.busId) if nvml.nvmlDeviceGetPciInfo_v3(handle, ctypes.byref(pci)) == 0 else None)
        handles.append(handle)
    nvlinks = {}
    for i, handle in enumerate(handles):
        for link in range(_NVLINK_MAX_LINKS):
            active = ctypes.c_int()
            if nvml.nvmlDeviceGetNvLinkState(handle, link, ctypes.byref(active)) != 0:
                break
            remote = _PciInfo()
            if active.value and nvml.nvmlDeviceGetNvLinkRemotePciInfo_v2(handle, link, ctypes.byref(remote)) == 0:
                peer = pci_bus_key(remote.busId)
                for j, bus in enumerate(buses):
                    if bus == peer:
                        nvlinks[(i, j)] = nvlinks.get((i, j), 0) + 1
    pairs = []
    for i in range(count):
        for j in range(i + 1, count):
            level, status = ctypes.c_int(), ctypes.c_int()
            word = None
            if nvlinks.get((i, j)):
                word = f"NV{nvlinks[(i, j)]}"
            elif nvml.nvmlDeviceGetTopologyCommonAncestor(handles[i], handles[j], ctypes.byref(level)) == 0:
                word = TOPOLOGY_WORDS.get(level.value)
            p2p = None
            if nvml.nvmlDeviceGetP2PStatus(handles[i], handles[j], 0, ctypes.byref(status)) == 0:
                p2p = status.value == 0  # NVML_P2P_STATUS_OK, for reads
            pairs.append({"gpus": [i, j], "link": word, "p2p_read": p2p})
    return pairs


def _mig_instances(nvml, handle):
    """The MIG devices (GPU instance + compute instance) created on a MIG-enabled GPU."""
    instances = []
    slots = ctypes.c_uint()
    if nvml.nvmlDeviceGetMaxMigDeviceCount(handle, ctypes.byref(slots)) != 0:
        return instances
    for slot in range(slots.value):
        mig = ctypes.c_void_p()
        if nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot, ctypes.byref(mig)) != 0:
            continue  # an empty slot
        instance = {"index": slot, "name": None, "uuid": None, "memory_total": None}
        _read_name_uuid_memory(nvml, mig, instance)
        instances.append(instance)
    return instances


# ---- the container ------------------------------------------------------------------------


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except OSError:
        return ""


def container_facts():
    """Signs of a container (Docker, Podman, Kubernetes, WSL) and the /dev/nvidia* nodes in it:
    the diagnostic reports them, and the server says where it runs (environment.py)."""
    cgroup = _read("/proc/self/cgroup")
    try:
        dev_nvidia = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
    except OSError:
        dev_nvidia = []
    return {
        "docker": os.path.exists("/.dockerenv") or "/docker" in cgroup,
        "podman": os.path.exists("/run/.containerenv") or "libpod" in cgroup,
        "kubernetes": "KUBERNETES_SERVICE_HOST" in os.environ
        or os.path.exists("/var/run/secrets/kubernetes.io/serviceaccount")
        or "kubepods" in cgroup,
        "dev_nvidia": dev_nvidia,
        "wsl": "microsoft" in platform.release().lower(),
    }


# ---- PyTorch ------------------------------------------------------------------------


def _torch_facts(progress):
    if importlib.util.find_spec("torch") is None:
        return None
    progress["step"] = "import torch"
    import torch

    mps = getattr(torch.backends, "mps", None)
    facts = {
        "version": torch.__version__,
        "cuda": torch.version.cuda,
        "hip": getattr(torch.version, "hip", None),
        "cuda_built": torch.backends.cuda.is_built(),
        "mps": {"built": bool(mps and mps.is_built()), "available": bool(mps and mps.is_available())},
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
        return facts  # a CPU-only (or MPS) build: nothing more to ask
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
        progress["step"] = "torch.cuda.init() (starting CUDA)"
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
    for index in range(count):
        progress["step"] = f"the smoke test on GPU {index}"
        facts["smoke"].append(_smoke_test(torch, index))
    return facts


def _compare(got, expected, tolerance):
    """Largest difference from the CPU result, and whether it is within tolerance (a
    NaN or infinity anywhere is a failure, never a number in the facts)."""
    error = (got.cpu().double() - expected).abs().max().item()
    finite = _finite(error)
    return {"ok": finite is not None and finite < tolerance, "max_error": finite, "non_finite": finite is None}


def _smoke_test(torch, index):
    """On the GPU: a 256x256 fp32 matmul (cuBLAS) and an elementwise kernel (PyTorch's own
    code, which fails with "no kernel image" when the wheel has no code for this GPU),
    each compared with the same work on the CPU."""
    tf32 = bool(torch.backends.cuda.matmul.allow_tf32)
    result = {"device": index, "ok": False, "tf32": tf32, "matmul": None, "elementwise": None}
    device = torch.device("cuda", index)
    generator = torch.Generator().manual_seed(index)  # our own: the global RNG is untouched
    a = torch.rand(256, 256, generator=generator)
    b = torch.rand(256, 256, generator=generator)
    try:
        started = time.perf_counter()
        got = a.to(device) @ b.to(device)
        torch.cuda.synchronize(device)
        ms = round((time.perf_counter() - started) * 1000, 3)
        # Entries are sums of 256 products in [0, 1]: fp32 is off by ~1e-5, TF32 (10-bit
        # mantissa, when the user turned it on) by up to ~0.05; anything larger is wrong.
        result["matmul"] = dict(_compare(got, a.double() @ b.double(), 0.25 if tf32 else 1e-2), ms=ms, error=None)
    except Exception as error:
        result["matmul"] = {
            "ok": False,
            "max_error": None,
            "non_finite": False,
            "ms": None,
            "error": _error_text(error),
        }
    try:
        got = torch.sin(a.to(device) * 3.0 + 1.0)
        torch.cuda.synchronize(device)
        result["elementwise"] = dict(_compare(got, torch.sin(a.double() * 3.0 + 1.0), 1e-4), error=None)
    except Exception as error:
        result["elementwise"] = {"ok": False, "max_error": None, "non_finite": False, "error": _error_text(error)}
    result["ok"] = result["matmul"]["ok"] and result["elementwise"]["ok"]
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


def _run_bounded(function, name, hung):
    """Run function(progress) in a thread; give up waiting after the time limit, and
    record what it was doing then."""
    box = {}
    progress = {"step": "starting"}

    def target():
        try:
            box["value"] = function(progress)
        except Exception as error:  # recorded, never raised
            box["error"] = _error_text(error)

    worker = threading.Thread(target=target, name=f"gpuscope-{name}", daemon=True)
    worker.start()
    worker.join(TIME_LIMIT_S)
    if worker.is_alive():
        hung.append({"part": name, "step": progress["step"], "seconds": TIME_LIMIT_S})
        return None, None
    return box.get("value"), box.get("error")


def _in_ipython():
    ipython = sys.modules.get("IPython")
    return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


def collect():
    """Every fact, as a JSON-ready dict (schema gpuscope.facts/2)."""
    started = time.perf_counter()
    hung = []
    errors = {}
    driver, errors["driver"] = _run_bounded(_driver_facts, "driver", hung)
    torch_facts, errors["torch"] = _run_bounded(_torch_facts, "torch", hung)
    return {
        "schema": SCHEMA,
        "collected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": {"version": platform.python_version(), "executable": sys.executable, "ipython": _in_ipython()},
        "platform": {"system": platform.system(), "machine": platform.machine(), "release": platform.release()},
        "env": dict(
            {name: os.environ.get(name) for name in _ENV_VARS},
            LD_LIBRARY_PATH="set" if os.environ.get("LD_LIBRARY_PATH") else None,
        ),
        "container": container_facts(),
        "driver": driver,
        "torch": torch_facts,
        "others": {"jax": _installed_version("jax"), "cupy": _installed_version("cupy")},
        "errors": {k: v for k, v in errors.items() if v},
        "hung": hung,
        "duration_s": round(time.perf_counter() - started, 3),
    }

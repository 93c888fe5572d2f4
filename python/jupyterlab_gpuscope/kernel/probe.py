"""The kernel probe, run silently at kernel start (routes.py's probe_code): the driver's
devices (through the collector's ctypes reader, without initialising CUDA),
CUDA_VISIBLE_DEVICES, the platform, and the installed torch's version and build. torch is
not imported: its metadata and torch/version.py are read as text, since PyPI's version
string lacks "+cuXYZ". Milliseconds. The frontend turns the reply into the kernel's device
profile (src/core/profiles/probe.ts)."""

import ast
import importlib.metadata
import importlib.util
import os
import platform

MIME = "application/vnd.gpuscope.probe+json"


def torch_build():
    """{"cuda": "13.0" or None, "hip": ... or None} from torch/version.py, or None."""
    try:
        spec = importlib.util.find_spec("torch")
        with open(os.path.join(os.path.dirname(spec.origin), "version.py"), encoding="utf-8") as file:
            tree = ast.parse(file.read())
    except Exception:  # no torch, a broken install, an unreadable file: the build is unknown
        return None
    build = {"cuda": None, "hip": None}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if getattr(target, "id", None) in build and isinstance(value, ast.Constant):
            build[target.id] = value.value
    return build


def probe(driver_facts):
    """The probe's reply; `driver_facts` is the collector's reader of the driver."""
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    return {
        "driver": driver_facts(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "torch": torch_version,
        "torch_build": torch_build(),
        "platform": {"system": platform.system(), "machine": platform.machine()},
    }


def show(driver_facts):
    """Display the reply as the output the frontend reads."""
    from IPython.display import display

    display({MIME: probe(driver_facts)}, raw=True)

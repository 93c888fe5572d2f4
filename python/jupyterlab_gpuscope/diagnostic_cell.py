"""The diagnostic cell that *Insert GPU Diagnostic Cell* puts into a notebook, in its two
forms:

- short: a few lines that import this package in the kernel (when the kernel's
  environment has it); in a kernel without it (the notebook opened later in Colab or
  VS Code), it says in one line how to get the diagnostic there;
- self-contained: the kernel-side modules (facts, findings, the report) and the part of the
  knowledge base they read, compressed, loaded as private modules, for a kernel whose
  environment lacks the package.

Both print the same report. The names a saved notebook carries (the short cell's import
of jupyterlab_gpuscope.diagnose and its report()) are public and stay.
"""

import base64
import hashlib
import json
import os
import zlib

from .kernel import findings, knowledge

MARKER = "# GPU diagnostic (jupyterlab-gpuscope)"
INSTALL = "%pip install jupyterlab-gpuscope"
_MODULES = ("knowledge", "findings", "facts", "diagnostic")  # in import order


def short(include_private=False):
    # One module name in the user's namespace, unlikely to be theirs (a bare `report` might be).
    call = "report(include_private=True)" if include_private else "report()"
    return f"""{MARKER}: the driver, CUDA, the PyTorch build and a checked test on each GPU.
try:
    import jupyterlab_gpuscope.diagnose as gpuscope_diagnose
except ImportError:
    print("This GPU diagnostic needs jupyterlab-gpuscope in this kernel's environment: run  {INSTALL}  and then this cell again.")
else:
    gpuscope_diagnose.{call}
"""


def needed_knowledge():
    """The part of the knowledge base kernel/findings.py reads (no lint rules, no error texts),
    with only the sources it can cite."""
    kb = knowledge.data()
    part = {
        key: kb[key]
        for key in (
            "version",
            "as_of",
            "features",
            "last_driver_branch",
            "driver_minimum_by_cuda_major",
            "cuda_toolkit_driver",
            "wheel_index",
            "wheels",
            "failure_sources",
            "binary_compat_source",
        )
    }
    part["capabilities"] = [{"cc": c["cc"], "arch": c["arch"]} for c in kb["capabilities"]]
    cited = set(findings.SOURCES_CITED) | set(part["binary_compat_source"])

    def walk(item):
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "source" and isinstance(value, list):
                    cited.update(value)
                else:
                    walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(part)
    for keys in part["failure_sources"].values():
        cited.update(keys)
    # A source's title and link are what a reader follows; its note is for maintainers.
    part["sources"] = {
        key: {"title": source["title"], "url": source["url"]} for key, source in kb["sources"].items() if key in cited
    }
    return part


def _payload():
    """The kernel-side modules and the knowledge they read, as compact JSON bytes."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel")
    sources = {}
    for name in _MODULES:
        with open(os.path.join(here, f"{name}.py"), encoding="utf-8") as file:
            sources[name] = file.read()
    document = {"modules": list(_MODULES), "sources": sources, "kb": needed_knowledge()}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def self_contained(include_private=False):
    # The code travels compressed (a third of its size: the cell is saved in the notebook
    # every time it is inserted), with its digest so that a cut or edited copy is refused.
    payload = _payload()
    blob = base64.b85encode(zlib.compress(payload, 9)).decode("ascii")
    digest = hashlib.sha256(payload).hexdigest()
    version = findings.version()
    return f"""{MARKER} {version}, knowledge base {knowledge.data().get("version")}: the driver, CUDA, the PyTorch build and a checked test on each GPU.
# Self-contained, because this kernel's environment lacks jupyterlab-gpuscope ({INSTALL} makes this cell a few lines).
# _GPUSCOPE is jupyterlab-gpuscope {version}'s kernel-side modules ({", ".join(_MODULES)}) and the knowledge they
# read: JSON, zlib-compressed, in base85 (SHA-256 {digest}). To read the code, define _GPUSCOPE and run
#   import base64, json, zlib; print(json.loads(zlib.decompress(base64.b85decode(_GPUSCOPE)))["sources"]["findings"])
_GPUSCOPE = "{blob}"
def _gpuscope_diagnostic(blob, digest, version, include_private):
    import base64, hashlib, json, sys, types, zlib
    try:
        payload = zlib.decompress(base64.b85decode(blob))
    except (ValueError, zlib.error):
        payload = b""
    if hashlib.sha256(payload).hexdigest() != digest:
        raise RuntimeError("This GPU diagnostic cell was cut or edited since it was inserted: insert it again (command: Insert GPU Diagnostic Cell), or run  {INSTALL}")
    data = json.loads(payload)
    package = types.ModuleType("_gpuscope_cell")
    package.__path__ = []
    sys.modules[package.__name__] = package
    for name in data["modules"]:
        module = types.ModuleType(package.__name__ + "." + name)
        module.__package__ = package.__name__
        module.GPUSCOPE_VERSION = version
        sys.modules[module.__name__] = module
        setattr(package, name, module)
        exec(compile(data["sources"][name], "<gpuscope " + name + ".py>", "exec"), module.__dict__)
    package.knowledge.use_data(data["kb"])
    package.diagnostic.report(include_private=include_private)
try:
    _gpuscope_diagnostic(_GPUSCOPE, {digest!r}, {version!r}, {include_private!r})
finally:
    del _gpuscope_diagnostic, _GPUSCOPE
"""

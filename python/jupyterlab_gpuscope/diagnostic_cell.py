"""The diagnostic cell that *Insert GPU Diagnostic Cell* puts into a notebook, in its two
forms:

- short: a few lines that import this package in the kernel (when the kernel's
  environment has it); in a kernel without it (the notebook opened later in Colab or
  VS Code), it says in one line how to get the diagnostic there;
- self-contained: the kernel-side modules (facts, findings, the report) and the part of the knowledge base they read,
  loaded as private modules, for a kernel whose environment lacks the package.

Both print the same report. The names a saved notebook carries (the short cell's import
of jupyterlab_gpuscope.diagnose and its report()) are public and stay.
"""

import json
import os

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
    """The part of the knowledge base the doctor reads (no lint rules, no error texts),
    with only the sources it can cite."""
    kb = knowledge.data()
    part = {
        key: kb[key]
        for key in (
            "version",
            "features",
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


def self_contained(include_private=False):
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel")
    sources = {}
    for name in _MODULES:
        with open(os.path.join(here, f"{name}.py"), encoding="utf-8") as file:
            sources[name] = file.read()
    version = findings.version()
    return f"""{MARKER} {version}, knowledge base {knowledge.data().get("version")}: the driver, CUDA, the PyTorch build and a checked test on each GPU.
# Self-contained, because this kernel's environment lacks jupyterlab-gpuscope ({INSTALL} makes this cell a few lines).
def _gpuscope_diagnostic(sources, kb, version, include_private):
    import sys, types
    package = types.ModuleType("_gpuscope_cell")
    package.__path__ = []
    sys.modules[package.__name__] = package
    for name, source in sources.items():
        module = types.ModuleType(package.__name__ + "." + name)
        module.__package__ = package.__name__
        module.GPUSCOPE_VERSION = version
        sys.modules[module.__name__] = module
        setattr(package, name, module)
        exec(compile(source, "<gpuscope " + name + ".py>", "exec"), module.__dict__)
    package.knowledge.use_data(kb)
    package.diagnostic.report(include_private=include_private)
_gpuscope_diagnostic({sources!r}, {json.loads(json.dumps(needed_knowledge()))!r}, {version!r}, {include_private!r})
del _gpuscope_diagnostic
"""

"""The Python package's layout holds: the kernel-side subpackage imports nothing from the
server side (the frontend runs its sources in kernels whose environment lacks the
package), and no module imports one that imports it back (type-only imports included)."""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PACKAGE = PACKAGE_DIR.name
# What kernel-side code may import besides the standard library and itself.
# pynvml (nvidia-ml-py): the memory X-ray reads NVML's figure for its process with it
# where the kernel's environment has it, and says so where not.
KERNEL_MAY_IMPORT = {"IPython", "ipykernel", "comm", "torch", "pynvml", f"{PACKAGE}._version"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in PACKAGE_DIR.rglob("*.py")
        if "tests" not in path.relative_to(PACKAGE_DIR).parts and "labextension" not in path.parts
    }


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module `name` imports, anywhere in the file (functions and TYPE_CHECKING too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
            found.add(target)
            # `from . import x` imports the module x when there is one.
            found.update(f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in known)
    return found


def test_kernel_side_code_imports_only_the_standard_library_and_itself():
    known = package_modules()
    offending = []
    for name, path in known.items():
        if not (name == f"{PACKAGE}.kernel" or name.startswith(f"{PACKAGE}.kernel.")):
            continue
        for target in imports_of(name, path, known):
            top = target.split(".")[0]
            inside = target == f"{PACKAGE}.kernel" or target.startswith(f"{PACKAGE}.kernel.")
            if not (
                inside or top in sys.stdlib_module_names or target in KERNEL_MAY_IMPORT or top in KERNEL_MAY_IMPORT
            ):
                offending.append(f"{name} imports {target}")
    assert not offending, offending


def test_no_module_of_the_package_imports_one_that_imports_it_back():
    known = package_modules()
    graph = {
        name: {target for target in imports_of(name, path, known) if target in known and target != name}
        for name, path in known.items()
    }
    # A package's __init__ re-exporting its modules is not a cycle of code: drop the edge
    # from a module to its own package.
    for name, targets in graph.items():
        targets.discard(name.rpartition(".")[0])
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the cycle

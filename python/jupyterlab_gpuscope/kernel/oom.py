"""What the last out-of-memory error means and what gives the memory back, as an output
every frontend renders (text/plain and text/markdown): what JupyterLab's card under the
failing cell says, for VS Code, Colab and the rest.

    import jupyterlab_gpuscope.memory as gpu_memory
    gpu_memory.explain_error()

The words come from the error knowledge base (errors.json, the explainer's: one source);
the figures from the memory X-ray's breakdown at the time of the call.
"""

from __future__ import annotations

import json
import sys
from importlib import resources

from . import memory_xray

#: The knowledge base's families for out-of-memory errors, by what raised them.
FAMILIES = {"torch": "cuda-oom", "cupy": "cupy-oom", "jax": "jax-oom"}


def _family(family_id: str) -> dict:
    errors = json.loads(resources.files(__package__).joinpath("errors.json").read_text())
    return next(f for f in errors["families"] if f["id"] == family_id)


def last_error():
    """The exception the last failing cell raised, or None."""
    return getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)


def library_of(error) -> str | None:
    """Which library's out-of-memory error it is, or None for any other error."""
    name, text = type(error).__name__, str(error)
    module = type(error).__module__ or ""
    if name == "OutOfMemoryError" and module.startswith("torch") or "CUDA out of memory" in text:
        return "torch"
    if name == "OutOfMemoryError" and module.startswith("cupy"):
        return "cupy"
    if "RESOURCE_EXHAUSTED" in text and "memory" in text.lower():
        return "jax"
    return None


def _give_back(data: dict) -> list[str]:
    """The actions that free memory here, largest first, with what each frees."""
    steps = []
    for device in data["devices"]:
        for holder in device["holders"]:
            if holder["kind"] == "error":
                steps.append((holder["bytes"], "gpu_memory.drop_last_error()", "the last error's frames"))
            elif holder["kind"] == "output":
                steps.append((holder["bytes"], "gpu_memory.clear_output_history()", f"{holder['name']}"))
            elif holder["kind"] == "variable" and holder["bytes"] >= 2**20:
                steps.append((holder["bytes"], f"del {holder['name']}", f"`{holder['name']}`"))
        if device.get("cache_returnable"):
            steps.append((device["cache_returnable"], "gpu_memory.free_cache()", "the allocator's cache"))
    seen, out = set(), []
    for size, call, what in sorted(steps, key=lambda s: -s[0]):
        if call not in seen:
            seen.add(call)
            out.append(f"`{call}` frees {memory_xray._size(size)} ({what})")
    return out


def explanation(error=None) -> dict:
    """The explanation as data: title, the error's first line, cause, fix, what holds
    memory (the breakdown's lines) and what gives it back."""
    error = last_error() if error is None else error
    if error is None:
        return {"kind": "none", "text": "No cell has failed in this kernel yet."}
    library = library_of(error)
    first_line = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if library is None:
        return {
            "kind": "other",
            "text": f"The last error is not an out-of-memory error ({first_line}). "
            "In JupyterLab, gpuscope explains it under the cell; in a terminal, `gpuscope explain-error`.",
        }
    family = _family(FAMILIES[library])
    data = memory_xray.breakdown()
    return {
        "kind": "oom",
        "title": family["title"],
        "error": first_line,
        "cause": family["cause"],
        "fix": family["fix"],
        "holders": memory_xray.lines(data),
        "give_back": _give_back(data) if data["available"] else [],
    }


class Explanation:
    def __init__(self, data: dict) -> None:
        self.data = data

    def _markdown(self) -> str:
        d = self.data
        if d["kind"] != "oom":
            return d["text"]
        parts = [f"**{d['title']}**", f"`{d['error']}`", d["cause"], "**What holds memory in this kernel**"]
        parts.append("\n".join(f"- {line.strip()}" if line.startswith("  ") else line for line in d["holders"]))
        if d["give_back"]:
            parts.append("**What gives it back, without a restart**")
            parts.append("\n".join(f"- {step}" for step in d["give_back"]))
        parts.append(f"**What to do**: {d['fix']}")
        return "\n\n".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None):
        markdown = self._markdown()
        return {"text/markdown": markdown, "text/plain": markdown.replace("**", "").replace("`", "")}


def explain_error(error=None) -> None:
    """Display the explanation of the last error (or of `error`) under this cell."""
    shown = Explanation(explanation(error))
    try:
        from IPython.display import display
    except ImportError:
        print(shown._repr_mimebundle_()["text/plain"])
    else:
        display(shown)

"""What in this kernel holds GPU memory, and giving it back without a restart.

    import jupyterlab_gpuscope.memory as gpu_memory
    gpu_memory.report()          # displays the breakdown (text, Markdown, JupyterLab's view)
    gpu_memory.breakdown()       # the same as plain, JSON-serialisable data

JupyterLab loads this file's source into kernels that do not have the package (like the
per-cell extension), so it uses the standard library, and torch, CuPy, JAX or nvidia-ml-py
only when the kernel already imported them. Nothing runs until asked.

The breakdown follows every user variable to the CUDA tensors it holds (modules'
parameters and buffers, optimizers' state, containers, tensors' .grad, objects'
attributes to a bounded depth), then IPython's output history, then the last error's
traceback frames. Each tensor storage is counted once, for the first holder that reaches
it, and later holders say whom they share it with. Sizes are rounded as PyTorch's caching
allocator rounds them (to 512 bytes), so the holders and "no name reaches it" add up to
torch.cuda.memory_allocated(); the allocator's cache is reserved minus allocated; NVML's
figure for this process, where it can be read, shows the CUDA context and libraries' own
memory as what remains.
"""

from __future__ import annotations

import collections
import gc
import itertools
import os
import re
import sys
import time
import traceback
import types
import warnings

#: The breakdown's format (the frontend checks it).
VERSION = 1
MIME = "application/vnd.gpuscope.memory+json"
#: How deep the walk follows objects' attributes and containers from a holder.
MAX_DEPTH = 12
#: Items looked at in one container: a huge list of numbers is not read to its end.
MAX_ITEMS = 100_000
#: Objects looked at in all (a bound on the time the breakdown takes).
MAX_OBJECTS = 2_000_000
#: PyTorch's caching allocator hands out blocks in multiples of this (c10 kMinBlockSize).
BLOCK = 512

_OUTPUT_NAME = re.compile(r"^_(\d+|_{0,2})$")
_HISTORY_NAME = re.compile(r"^_i(\d+|i{0,2})$|^_(ih|oh|dh)$|^(In|Out)$")
#: Leaves: never hold a tensor, not worth a look (exact types: a subclass is looked at).
_ATOMS = frozenset({str, bytes, bytearray, int, float, complex, bool, type(None), range, memoryview})
_SEQUENCES = (list, tuple, set, frozenset, collections.deque)
#: Saved values of autograd nodes that are not tensors (sizes, strides, flags).
_SCALARS = (int, float, bool, str, tuple, list, type(None))
#: Not followed: code and classes hold what their modules hold, not this kernel's data.
_OPAQUE = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
)


def _torch():
    """torch, when this kernel imported it and has initialised CUDA; else None."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    try:
        return torch if cuda is not None and cuda.is_initialized() else None
    except Exception:
        return None


def _rounded(nbytes: int) -> int:
    return max(BLOCK, -(-nbytes // BLOCK) * BLOCK) if nbytes else 0


class _Walk:
    """One pass over the holders: which storages each reaches, each counted once."""

    def __init__(self, torch, device_type: str) -> None:
        self.torch = torch
        self.device_type = device_type
        self.Tensor = torch.Tensor
        self.Module = getattr(getattr(torch, "nn", None), "Module", None)
        self.Optimizer = getattr(getattr(torch, "optim", None), "Optimizer", None)
        self.Node = getattr(getattr(getattr(torch, "autograd", None), "graph", None), "Node", None)
        #: Each autograd node type's saved-tensor attributes (_saved_self, _saved_mat2 ...).
        self._saved_names: dict[type, list[str]] = {}
        #: storage key -> the holder that reached it first
        self.owner: dict[tuple, str] = {}
        self.visited = 0
        self.truncated: set[str] = set()

    def holder(self, name: str, roots, skip_ids: frozenset = frozenset()) -> dict:
        """Walk from `roots`; the storages first reached here are this holder's."""
        found = {"name": name, "bytes": {}, "tensors": 0, "shared_with": set()}
        # Node -> itself: next_functions may hand out a new wrapper object for a node each
        # time (torch 2.11), and a freed wrapper's id can come back as another node's; kept
        # alive, an id names one node for the whole walk.
        self._nodes_seen: dict[int, object] = {}
        seen: set[int] = set(skip_ids)
        # Level by level (breadth first): the depth is the level, no pair per object.
        level = [root for root in roots if type(root) not in _ATOMS]
        for _level in range(MAX_DEPTH + 1):
            below = []
            for obj in level:
                if id(obj) in seen:
                    continue
                seen.add(id(obj))
                self.visited += 1
                try:
                    children = self._children(obj, found)
                except Exception:
                    # An object that raises on a look is skipped, not the breakdown.
                    continue
                if children:
                    below += [child for child in children if type(child) not in _ATOMS]
            if self.visited > MAX_OBJECTS:
                self.truncated.add("objects")
                break
            if not below:
                break
            level = below
        else:
            self.truncated.add("depth")
        found["shared_with"] = sorted(found["shared_with"])
        return found

    def _children(self, obj, found: dict):
        kind = type(obj)  # the common containers first, by exact type (the walk's hot path)
        if kind is dict:
            return self._items(obj.values())
        if kind is list or kind is tuple:
            return self._items(obj)
        if isinstance(obj, self.Tensor):
            self._tensor(obj, found)
            # Its gradient, and the autograd graph it heads: a loss kept as a tensor keeps
            # the graph's saved activations and, through AccumulateGrad, the parameters.
            return [c for c in (_quiet_getattr(obj, "_grad"), _quiet_getattr(obj, "grad_fn")) if c is not None]
        if self.Node is not None and isinstance(obj, self.Node):
            return self._graph_tensors(obj)
        if self.Module is not None and isinstance(obj, self.Module):
            # Its parameters, buffers and submodules, and its other attributes: tensors
            # kept on a module outside the registry (caches, for example).
            registries = (obj._parameters, obj._buffers, obj._modules)
            return [
                *obj._parameters.values(),
                *obj._buffers.values(),
                *obj._modules.values(),
                *(v for v in _attributes(obj) if all(v is not r for r in registries)),
            ]
        if self.Optimizer is not None and isinstance(obj, self.Optimizer):
            return [obj.state, obj.param_groups]
        if isinstance(obj, _OPAQUE):
            return []
        if isinstance(obj, dict):
            return self._items(obj.values())
        if isinstance(obj, _SEQUENCES):
            return self._items(obj)
        return _attributes(obj)

    def _graph_tensors(self, head) -> list:
        """The tensors an autograd graph keeps: saved activations and, through AccumulateGrad,
        the leaves. The whole graph is one step of the walk (a deep model's graph is deeper
        than the walk's bound); each node is read once per holder."""
        tensors, stack = [], [head]
        while stack:
            node = stack.pop()
            if id(node) in self._nodes_seen:
                continue
            self._nodes_seen[id(node)] = node
            names = self._saved_names.get(type(node))
            if names is None:
                names = self._saved_names[type(node)] = [a for a in dir(node) if a.startswith("_saved_")]
            for name in ("variable", *names):
                # Saved tensors freed by backward() raise on access: nothing held there.
                value = _quiet_getattr(node, name)
                if value is not None and not isinstance(value, _SCALARS):
                    tensors.append(value)
            stack.extend(n for n, _ in _quiet_getattr(node, "next_functions") or () if n is not None)
        return tensors

    def _items(self, container):
        items = _first(container)
        if len(container) > MAX_ITEMS:
            self.truncated.add("items")
        return items

    def _tensor(self, tensor, found: dict) -> None:
        device = tensor.device
        if device.type != self.device_type:
            return
        try:
            storage = tensor.untyped_storage()
            key = (device.index, storage.data_ptr())
            size = _rounded(storage.nbytes())
        except Exception:
            # Sparse and other layouts without one storage: their elements, once per tensor.
            key = (device.index, "tensor", id(tensor))
            size = _rounded(tensor.element_size() * tensor.nelement())
        found["tensors"] += 1
        first = self.owner.get(key)
        if first is None:
            self.owner[key] = found["name"]
            index = device.index if device.index is not None else 0
            found["bytes"][index] = found["bytes"].get(index, 0) + size
        elif first != found["name"]:
            found["shared_with"].add(first)


def _first(items) -> list:
    return list(itertools.islice(items, MAX_ITEMS))


def _quiet_getattr(obj, name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return getattr(obj, name, None)
        except Exception:
            return None


def _attributes(obj) -> list:
    """An object's own attributes, read without running its code (no properties, no
    __getattr__): its __dict__ and __slots__."""
    out = []
    try:
        namespace = object.__getattribute__(obj, "__dict__")
        if isinstance(namespace, dict):
            out.extend(_first(namespace.values()))
    except Exception:
        pass
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            try:
                out.append(object.__getattribute__(obj, slot))
            except Exception:
                pass
    return out


def _shell():
    try:
        return get_ipython()  # type: ignore[name-defined]  # noqa: F821
    except NameError:
        ipython = sys.modules.get("IPython")
        return ipython.get_ipython() if ipython is not None else None


def _namespace(shell) -> dict:
    if shell is not None:
        return shell.user_ns
    return vars(sys.modules["__main__"])


def _variables(shell) -> list[tuple[str, object]]:
    """The user's names, in the order they were made, without IPython's own."""
    namespace = _namespace(shell)
    hidden = getattr(shell, "user_ns_hidden", {}) if shell is not None else {}
    return [
        (name, value)
        for name, value in list(namespace.items())
        if not name.startswith("__")
        and not _OUTPUT_NAME.match(name)
        and not _HISTORY_NAME.match(name)
        and not (name in hidden and hidden[name] is value)
        and not isinstance(value, types.ModuleType)
    ]


def _outputs(shell) -> list[tuple[str, object]]:
    """IPython's output history, Out[N] first, then _, __ and ___."""
    if shell is None:
        return []
    namespace = shell.user_ns
    out = [(f"Out[{n}]", value) for n, value in sorted(dict(namespace.get("Out", {})).items())]
    out += [(name, namespace[name]) for name in ("_", "__", "___") if name in namespace]
    return out


def _last_error_tracebacks() -> list:
    """The last error's tracebacks: its own and those of the exceptions it chained."""
    error = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    tracebacks, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if error.__traceback__ is not None:
            tracebacks.append(error.__traceback__)
        error = error.__cause__ or error.__context__
    last = getattr(sys, "last_traceback", None)
    if last is not None and all(last is not tb for tb in tracebacks):
        tracebacks.append(last)
    return tracebacks


def _error_frames_locals(user_ns: dict) -> list:
    """The locals of the functions' frames the last error keeps alive: from the cell's
    frame on (the frames above it are IPython's own), where there is one. A module-level
    frame's locals are its module's globals (the cell's are the variables): not these."""
    roots = []
    for tb in _last_error_tracebacks():
        frames = []
        while tb is not None:
            frames.append(tb.tb_frame)
            tb = tb.tb_next
        cells = [i for i, frame in enumerate(frames) if frame.f_globals is user_ns]
        for frame in frames[cells[0] if cells else 0 :]:
            if frame.f_code.co_name != "<module>":
                roots.append(dict(frame.f_locals))
    return roots


def _nvml_process_memory(uuids: dict[int, str | None]) -> tuple[dict[int, int], str | None]:
    """NVML's figure for this process on each device (by UUID), or why there is none."""
    pynvml = sys.modules.get("pynvml")
    if pynvml is None:
        try:
            import pynvml  # nvidia-ml-py, when the kernel's environment has it
        except Exception:
            return {}, "nvidia-ml-py is not installed in this kernel's environment"
    try:
        pynvml.nvmlInit()
    except Exception as error:
        return {}, f"NVML could not start: {error}"
    pid, out = os.getpid(), {}
    try:
        for index, uuid in uuids.items():
            if not uuid:
                continue
            handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)
            for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid and proc.usedGpuMemory is not None:
                    out[index] = int(proc.usedGpuMemory)
    except Exception as error:
        return out, f"NVML could not list this process: {error}"
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass
    if uuids and not out:
        return out, "NVML does not list this process (a container shows NVML other PIDs)"
    return out, None


def _uuid(torch, index: int) -> str | None:
    try:
        uuid = str(torch.cuda.get_device_properties(index).uuid)
    except Exception:
        return None
    return uuid if uuid.startswith("GPU-") or uuid.startswith("MIG-") else f"GPU-{uuid}"


def _pools() -> list[dict]:
    """Other libraries' GPU memory pools, as totals, where the kernel imported them."""
    pools = []
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        try:
            pool = cupy.get_default_memory_pool()
            pools.append({"library": "CuPy", "device": None, "used": pool.used_bytes(), "held": pool.total_bytes()})
        except Exception:
            pass
    jax = sys.modules.get("jax")
    if jax is not None:
        try:
            for device in jax.devices():
                stats = device.memory_stats() or {}
                if device.platform == "gpu" and "bytes_in_use" in stats:
                    pools.append(
                        {
                            "library": "JAX",
                            "device": device.id,
                            "used": int(stats["bytes_in_use"]),
                            "held": int(stats.get("bytes_reserved", stats.get("pool_bytes", stats["bytes_in_use"]))),
                        }
                    )
        except Exception:
            pass
    return pools


def _cell_of(shell):
    """A function from a frame's file name to the cell it is (its execution count)."""
    names = getattr(getattr(shell, "compile", None), "_filename_map", None) or {}
    return names.get


def largest_allocations(torch, shell, count: int = 8) -> list[dict]:
    """The largest live allocations with where they were made (the cell and line, else the
    innermost Python frame outside torch), from the history torch records while the
    out-of-memory flight recorder is on. Empty while it is off."""
    try:
        snapshot = torch.cuda.memory._snapshot()
    except Exception:
        return []
    cell_of = _cell_of(shell)
    found = []
    for segment in snapshot.get("segments", []):
        for block in segment.get("blocks", []):
            frames = block.get("frames") or []
            if block.get("state") != "active_allocated" or not frames:
                continue
            where = next((f for f in frames if cell_of(f.get("filename")) is not None), None)
            where = where or next((f for f in frames if "/torch/" not in f.get("filename", "")), frames[0])
            found.append(
                {
                    "device": int(segment.get("device", 0)),
                    "bytes": int(block.get("size", 0)),
                    "execution_count": cell_of(where.get("filename")),
                    "line": where.get("line"),
                    "file": where.get("filename"),
                    "function": where.get("name"),
                }
            )
    found.sort(key=lambda a: -a["bytes"])
    return found[:count]


def breakdown(_device_type: str = "cuda") -> dict:
    """What holds GPU memory in this kernel, as plain data (JSON-serialisable).

    Without torch, or before it has used CUDA, says so in `reason` (and lists other
    libraries' pools where present). `_device_type` is for tests and benchmarks on a
    machine without a GPU ("cpu" walks CPU tensors the same way; no allocator figures)."""
    started = time.perf_counter()
    torch = _torch() if _device_type == "cuda" else sys.modules.get("torch")
    result = {
        "version": VERSION,
        "available": False,
        "reason": None,
        "devices": [],
        "pools": _pools(),
        "nvml_reason": None,
        "allocations": [],
        "truncated": [],
        "elapsed_ms": 0.0,
    }
    if torch is None:
        result["reason"] = (
            "torch has not used CUDA in this kernel"
            if "torch" in sys.modules
            else "torch is not imported in this kernel"
        )
        result["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return result
    shell = _shell()
    walk = _Walk(torch, _device_type)
    namespace = _namespace(shell)
    # The namespace and the shell are not holders: skipping them keeps a holder's walk
    # from reaching every other name (through a function's globals, or IPython's state).
    skip = frozenset({id(namespace), id(shell)})
    holders = []
    for name, value in _variables(shell):
        holders.append(("variable", walk.holder(name, [value], skip)))
    for name, value in _outputs(shell):
        holders.append(("output", walk.holder(name, [value], skip)))
    frames = _error_frames_locals(namespace)
    if frames:
        holders.append(("error", walk.holder("the last error's frames", frames, skip)))
    indices = sorted({i for _, h in holders for i in h["bytes"]})
    if _device_type == "cuda":
        indices = sorted(set(indices) | set(range(torch.cuda.device_count())))
    uuids = {i: _uuid(torch, i) for i in indices} if _device_type == "cuda" else {}
    nvml, result["nvml_reason"] = _nvml_process_memory(uuids) if _device_type == "cuda" else ({}, None)
    for index in indices:
        rows = [
            {
                "kind": kind,
                "name": h["name"],
                "bytes": h["bytes"].get(index, 0),
                "tensors": h["tensors"],
                "shared_with": h["shared_with"],
            }
            for kind, h in holders
            if h["bytes"].get(index, 0) or (h["shared_with"] and h["tensors"])
        ]
        rows.sort(key=lambda r: -r["bytes"])
        reached = sum(r["bytes"] for r in rows)
        device = {"index": index, "uuid": uuids.get(index), "holders": rows, "reached": reached}
        if _device_type == "cuda":
            allocated = int(torch.cuda.memory_allocated(index))
            reserved = int(torch.cuda.memory_reserved(index))
            if not allocated and not reserved and not rows:
                continue
            # Free blocks inside segments still partly in use cannot be given back.
            stuck = int(torch.cuda.memory_stats(index).get("inactive_split_bytes.all.current", 0))
            device.update(
                allocated=allocated,
                reserved=reserved,
                cache=reserved - allocated,
                cache_returnable=max(reserved - allocated - stuck, 0),
                unreached=allocated - reached,
                nvml_process=nvml.get(index),
            )
        else:
            device.update(
                allocated=None, reserved=None, cache=None, cache_returnable=None, unreached=None, nvml_process=None
            )
        result["devices"].append(device)
    result["available"] = True
    if _device_type == "cuda":
        result["allocations"] = largest_allocations(torch, shell)
    result["truncated"] = sorted(walk.truncated)
    result["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


# -- giving it back -----------------------------------------------------------------------


def _measure():
    """Per device: NVML's figure for this process and torch's reserved memory."""
    torch = _torch()
    if torch is None:
        return {}, "torch has not used CUDA in this kernel"
    indices = range(torch.cuda.device_count())
    nvml, reason = _nvml_process_memory({i: _uuid(torch, i) for i in indices})
    figures = {i: {"nvml": nvml.get(i), "reserved": int(torch.cuda.memory_reserved(i))} for i in indices}
    return figures, reason


def _act(action: str, change) -> dict:
    """Run `change` (which returns what it did, or raises ValueError before changing
    anything), then gc and empty_cache, and report what NVML shows freed."""
    before, reason = _measure()
    try:
        did = change()
    except ValueError as error:
        return {"action": action, "ok": False, "message": str(error), "freed": []}
    gc.collect()
    torch = _torch()
    if torch is not None:
        torch.cuda.empty_cache()
    after, _ = _measure()
    freed = [
        {
            "index": i,
            "nvml": (
                before[i]["nvml"] - after[i]["nvml"]
                if before[i]["nvml"] is not None and after.get(i, {}).get("nvml") is not None
                else None
            ),
            "reserved": before[i]["reserved"] - after.get(i, {}).get("reserved", 0),
        }
        for i in before
    ]
    return {"action": action, "ok": True, "message": did, "freed": freed, "nvml_reason": reason}


def free_cache() -> dict:
    """Give the allocator's cache (reserved but not allocated) back to the GPU."""
    return _act("free_cache", lambda: "freed the allocator's cache")


def drop_last_error() -> dict:
    """Let go of the last error's traceback and the frames it keeps alive."""

    def change():
        tracebacks = _last_error_tracebacks()
        if not tracebacks:
            raise ValueError("there is no last error in this kernel")
        for tb in tracebacks:
            traceback.clear_frames(tb)
        for name in ("last_exc", "last_value", "last_type", "last_traceback"):
            if hasattr(sys, name):
                setattr(sys, name, None)
        # IPython's traceback printer keeps the last traceback it printed.
        printer = getattr(_shell(), "InteractiveTB", None)
        if printer is not None and any(getattr(printer, "tb", None) is tb for tb in tracebacks):
            printer.tb = None
        return "dropped the last error's frames"

    return _act("drop_last_error", change)


def clear_output_history() -> dict:
    """Clear IPython's output history (Out, _, __, ___), as %reset -f out does."""

    def change():
        shell = _shell()
        if shell is None:
            raise ValueError("this kernel has no IPython output history")
        shell.run_line_magic("reset", "-f out")
        return "cleared the output history"

    return _act("clear_output_history", change)


def delete(name: str) -> dict:
    """`del` a variable, and let go of the gradients it holds (modules', tensors')."""

    def change():
        shell = _shell()
        if not isinstance(name, str) or name not in dict(_variables(shell)):
            raise ValueError(f"{name!r} is not a variable of this kernel")
        namespace = _namespace(shell)
        value = namespace[name]
        torch = sys.modules.get("torch")
        module = getattr(getattr(torch, "nn", None), "Module", None)
        del namespace[name]
        if module is not None and isinstance(value, module):
            value.zero_grad(set_to_none=True)
        elif torch is not None and isinstance(value, torch.Tensor) and value.is_leaf:
            value.grad = None
        del value
        return f"deleted {name}"

    return _act("delete", change)


ACTIONS = {
    "free_cache": free_cache,
    "drop_last_error": drop_last_error,
    "clear_output_history": clear_output_history,
    "delete": delete,
}


#: What answer() displays: the frontend reads it from the silent run's display data.
REPLY_MIME = "application/vnd.gpuscope.memory-reply+json"


def run(action: str, *args) -> dict:
    """The breakdown or an action's report, by name (an unknown name is a failed action)."""
    if action == "breakdown":
        return breakdown()
    if action not in ACTIONS:
        return {"action": action, "ok": False, "message": f"no action {action!r}", "freed": []}
    try:
        return ACTIONS[action](*args)
    except TypeError as error:  # wrong arguments: nothing ran
        return {"action": action, "ok": False, "message": str(error), "freed": []}


def answer(action: str, *args) -> None:
    """For the frontend: run() shown as display data (a silent run has no other reply)."""
    from IPython.display import display

    display({REPLY_MIME: run(action, *args)}, raw=True)


# -- showing it ---------------------------------------------------------------------------


def _size(n: int | None) -> str:
    if n is None:
        return "n/a"
    for unit, divisor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= divisor:
            return f"{n / divisor:.2f} {unit}"
    return f"{n} bytes"


def lines(data: dict, name=str) -> list[str]:
    """The breakdown in words, one line each: what text/plain and text/markdown show
    (`name` writes a holder's name: as code in Markdown)."""
    if not data["available"]:
        out = [f"No GPU memory breakdown: {data['reason']}."]
    else:
        out = []
        for device in data["devices"]:
            out.append(f"GPU {device['index']} (as this kernel numbers it):")
            for h in device["holders"]:
                shared = f" (shares storage with {', '.join(map(name, h['shared_with']))})" if h["shared_with"] else ""
                out.append(f"  {name(h['name']) if h['kind'] != 'error' else h['name']}: {_size(h['bytes'])}{shared}")
            if device["allocated"] is not None:
                out.append(f"  allocated, no name reaches it: {_size(max(device['unreached'], 0))}")
                out.append(
                    f"  the allocator's cache: {_size(device['cache'])} "
                    f"(empty_cache() returns {_size(device['cache_returnable'])} of it)"
                )
                out.append(f"  torch's allocated: {_size(device['allocated'])}, reserved: {_size(device['reserved'])}")
                if device["nvml_process"] is not None:
                    rest = device["nvml_process"] - device["reserved"]
                    out.append(
                        f"  NVML, this process: {_size(device['nvml_process'])} "
                        f"(CUDA context and libraries' own memory: {_size(rest)})"
                    )
        if data["nvml_reason"]:
            out.append(f"NVML's figure for this process is not shown: {data['nvml_reason']}.")
    for a in data.get("allocations", []):
        where = (
            f"In [{a['execution_count']}], line {a['line']}"
            if a["execution_count"] is not None
            else f"{a['file']}:{a['line']}"
        )
        out.append(f"Live allocation of {_size(a['bytes'])} on GPU {a['device']}, made at {where} ({a['function']})")
    for pool in data["pools"]:
        where = f" on device {pool['device']}" if pool["device"] is not None else ""
        out.append(f"{pool['library']} pool{where}: {_size(pool['used'])} used of {_size(pool['held'])} held")
    if data["truncated"]:
        out.append("The walk stopped early (" + ", ".join(data["truncated"]) + "): some holders may be missing.")
    return out


class Report:
    """The breakdown as a display: plain text, Markdown and JupyterLab's own view."""

    def __init__(self, data: dict) -> None:
        self.data = data

    def _repr_mimebundle_(self, include=None, exclude=None):
        markdown = [
            f"- {line.strip()}" if line.startswith("  ") else f"{line}\n"
            for line in lines(self.data, name=lambda n: f"`{n}`")
        ]
        return {
            "text/plain": "\n".join(lines(self.data)),
            "text/markdown": "\n".join(markdown),
            MIME: self.data,
        }


def report() -> None:
    """Display the breakdown (in any frontend; as text where nothing renders displays)."""
    shown = Report(breakdown())
    try:
        from IPython.display import display
    except ImportError:
        print(shown._repr_mimebundle_()["text/plain"])
    else:
        display(shown)

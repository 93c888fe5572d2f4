"""This user's GPU memory against the soft limit, from the `processes` body.

The body already hides other users' processes (unless the admin allows them): this
module only adds up what it lists, so it cannot reveal more than `processes` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MemoryLimit:
    """The soft limit on one user's GPU memory, per GPU: bytes, a fraction of the GPU, or both
    (the smaller applies). Zero means no limit."""

    limit_bytes: int = 0
    limit_fraction: float = 0.0
    #: Warn when the user's memory passes this fraction of the limit.
    warn_fraction: float = 0.9

    def for_gpu(self, memory_total: int | None) -> int | None:
        limits = []
        if self.limit_bytes > 0:
            limits.append(self.limit_bytes)
        if self.limit_fraction > 0 and memory_total:
            limits.append(int(self.limit_fraction * memory_total))
        return min(limits) if limits else None

    def state(self, used: int, limit: int | None) -> str:
        """'ok', 'near' (past the warning fraction) or 'over' (past the limit)."""
        if limit is None:
            return "ok"
        if used > limit:
            return "over"
        return "near" if used >= self.warn_fraction * limit else "ok"


_STATES = ("ok", "near", "over")


def _shares(processes: list[dict[str, Any]], hidden: dict[str, int]) -> tuple[int, int, int]:
    """(mine, others' memory, others' count): listed processes that are not this user's
    (shown because the admin allows it) count as others, with the hidden ones."""
    mine = sum(p["used_memory"] or 0 for p in processes if p["owner"] == "self")
    others = hidden["used_memory"] + sum(p["used_memory"] or 0 for p in processes if p["owner"] != "self")
    count = hidden["count"] + sum(1 for p in processes if p["owner"] != "self")
    return mine, others, count


def gpu_usage(
    processes_body: dict[str, Any],
    totals: dict[int, int | None],
    limit: MemoryLimit,
    mig_instances: dict[int, list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """Per GPU: this user's memory, the others' total, the limit and its state. On a GPU in
    MIG mode (`mig_instances`: its `devices` entries) the limit applies per instance, to
    the instance's memory: the GPU's state is its worst instance's."""
    usage = []
    for gpu in processes_body["gpus"]:
        mine, others, others_count = _shares(gpu["processes"], gpu["others"])
        total = totals.get(gpu["index"])
        gpu_limit = limit.for_gpu(total)
        state = limit.state(mine, gpu_limit)
        instances = []
        for instance in (mig_instances or {}).get(gpu["index"], []):
            gi = instance["gpu_instance_id"]
            hidden = gpu["others"].get("by_instance", {}).get(str(gi), {"count": 0, "used_memory": 0})
            on_it = [p for p in gpu["processes"] if p.get("gpu_instance_id") == gi]
            i_mine, i_others, i_count = _shares(on_it, hidden)
            i_limit = limit.for_gpu(instance["memory_total"])
            instances.append(
                {
                    "uuid": instance["uuid"],
                    "profile": instance["profile"],
                    "gpu_instance_id": gi,
                    "mine": i_mine,
                    "others": i_others,
                    "others_count": i_count,
                    "memory_total": instance["memory_total"],
                    "limit": i_limit,
                    "state": limit.state(i_mine, i_limit),
                }
            )
        if instances:
            gpu_limit = None  # per instance, not per GPU
            state = max((i["state"] for i in instances), key=_STATES.index)
        usage.append(
            {
                "index": gpu["index"],
                "mine": mine,
                "others": others,
                "others_count": others_count,
                "memory_total": total,
                # Memory no process visible here holds (another container's, say): null
                # when it cannot be told.
                "outside": (gpu.get("outside") or {}).get("used_memory"),
                # Why it cannot be told (a recording, an unreadable list): the parts shown
                # then do not add up to the memory in use, and the panel says why.
                "outside_reason": (gpu.get("outside") or {}).get("reason"),
                "limit": gpu_limit,
                "state": state,
                "instances": instances,
            }
        )
    return usage


def kernel_memory(processes_body: dict[str, Any]) -> dict[str, dict[int, int]]:
    """Kernel id -> GPU index -> bytes its processes hold (this user's kernels only)."""
    held: dict[str, dict[int, int]] = {}
    for gpu in processes_body["gpus"]:
        for proc in gpu["processes"]:
            kernel = proc.get("kernel")
            if kernel and proc["owner"] == "self":
                per_gpu = held.setdefault(kernel["id"], {})
                per_gpu[gpu["index"]] = per_gpu.get(gpu["index"], 0) + (proc["used_memory"] or 0)
    return held


def kernel_placements(
    processes_body: dict[str, Any], sm_util: dict[int, dict[int, int | None]]
) -> list[dict[str, Any]]:
    """Where this user's kernels hold memory: one entry per kernel, GPU and MIG instance,
    with the bytes held and the SM percentage its processes used there (`sm_util`: GPU
    index -> PID -> percent, None where NVML gave no sample)."""
    placed: dict[tuple[str, int, int | None], dict[str, Any]] = {}
    for gpu in processes_body["gpus"]:
        for proc in gpu["processes"]:
            kernel = proc.get("kernel")
            if not kernel or proc["owner"] != "self":
                continue
            key = (kernel["id"], gpu["index"], proc.get("gpu_instance_id"))
            entry = placed.setdefault(
                key,
                {"kernel_id": key[0], "gpu": key[1], "gpu_instance_id": key[2], "used_memory": 0, "sm_util": None},
            )
            entry["used_memory"] += proc["used_memory"] or 0
            util = sm_util.get(gpu["index"], {}).get(proc["pid"])
            if util is not None:
                entry["sm_util"] = (entry["sm_util"] or 0) + util
    return list(placed.values())

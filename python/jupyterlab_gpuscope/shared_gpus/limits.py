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


def gpu_usage(
    processes_body: dict[str, Any], totals: dict[int, int | None], limit: MemoryLimit
) -> list[dict[str, Any]]:
    """Per GPU: this user's memory, the others' total, the limit and its state."""
    usage = []
    for gpu in processes_body["gpus"]:
        mine = sum(p["used_memory"] or 0 for p in gpu["processes"] if p["owner"] == "self")
        # Listed processes that are not this user's (shown because the admin allows it)
        # still count as others.
        others = gpu["others"]["used_memory"] + sum(
            p["used_memory"] or 0 for p in gpu["processes"] if p["owner"] != "self"
        )
        others_count = gpu["others"]["count"] + sum(1 for p in gpu["processes"] if p["owner"] != "self")
        total = totals.get(gpu["index"])
        gpu_limit = limit.for_gpu(total)
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
                "limit": gpu_limit,
                "state": limit.state(mine, gpu_limit),
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

"""Which of NVML's unknown PIDs are this server's kernels, on drivers that give host PIDs.

In a container, an older driver reports the host's PIDs (nvidia-docker #179, #1483;
docker/for-linux #1531): no process here has them, so the usual join by PID finds
nothing. The kernels say what they know instead: the per-cell extension writes, beside
each kernel's connection file, when its CUDA context appeared on each device and what its
allocators hold there (kernel/cell_usage.py, ContextEvidence). The sampler knows when
each PID first appeared in NVML's list. A process is attributed to a kernel when:

- the times fit: the PID first appeared while the kernel's context was appearing on
  that GPU, and
- the memory fits: NVML's figure for the PID is at least what the kernel's allocators
  hold there (less one sample's growth), and not more than a CUDA context's overhead
  above it,

and only when the match is one to one: that kernel fits no other PID, and that PID no
other kernel. Anything else stays unattributed, with the reason. A match is inferred,
never read from the driver, so it is reported as probable, with how it was made.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

from .kernel.cell_usage import EVIDENCE_PREFIX

#: NVML's per-process memory includes the CUDA context, cuBLAS/cuDNN workspaces and
#: whatever is not in a Python allocator: up to this much above what the allocators hold
#: (measured on an H200 with torch 2.11: 518 MiB after an allocation, 676 MiB after a
#: matmul; scripts/device_host_pids.py).
CONTEXT_ALLOWANCE = 2 * 2**30
#: The allocators may have grown since NVML's last sample (a cell ending just after it).
SAMPLE_LAG_ALLOWANCE = 256 * 2**20
#: Clock slack between the sampler's and the kernel's time stamps (one host, one clock).
CLOCK_SLACK = 0.5


@dataclass(frozen=True)
class DeviceEvidence:
    """One kernel's word on one GPU: when its context appeared (an interval; None at
    either end when open) and the bytes its allocators hold there."""

    kernel_id: str
    uuid: str
    context_after: float | None
    context_by: float | None
    held: int


def normal_uuid(uuid: str | None) -> str | None:
    """A GPU or MIG UUID without NVML's "GPU-"/"MIG-" prefix, as CUDA (and torch) print it."""
    if not uuid:
        return None
    text = uuid.strip().lower()
    for prefix in ("gpu-", "mig-"):
        text = text.removeprefix(prefix)
    return text or None


def evidence_path(connection_file: str) -> str:
    folder, name = os.path.split(connection_file)
    return os.path.join(folder, EVIDENCE_PREFIX + name)


def read_evidence(kernel_id: str, kernel_pid: int | None, connection_file: str | None) -> list[DeviceEvidence] | None:
    """A kernel's evidence, or None when it has given none (the per-cell extension is off,
    it has not used a GPU, or the file is not this kernel process's). Blocking."""
    if not connection_file:
        return None
    try:
        with open(evidence_path(connection_file)) as source:
            report = json.load(source)
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("version") != 1 or report.get("pid") != kernel_pid:
        return None  # from an earlier process of a restarted kernel, or not ours
    found = []
    for device in report.get("devices") or []:
        try:
            uuid = normal_uuid(device.get("uuid"))
            held = sum(int(size) for size in (device.get("held") or {}).values())
            after, by = (_moment(device.get(key)) for key in ("context_after", "context_by"))
        except (AttributeError, TypeError, ValueError):
            continue  # a malformed entry says nothing
        if uuid is not None:
            found.append(DeviceEvidence(kernel_id, uuid, after, by, held))
    return found


def _moment(value: Any) -> float | None:
    if value is None:
        return None
    moment = float(value)
    if not math.isfinite(moment):
        raise ValueError(value)
    return moment


@dataclass(frozen=True)
class Candidate:
    """An NVML process no process here could be found for."""

    index: int
    pid: int
    used_memory: int | None
    #: The PID was not in the sample taken at `appeared_after` (None: it was in the first
    #: sample seen) and was in the one at `appeared_by`.
    appeared_after: float | None
    appeared_by: float


@dataclass(frozen=True)
class Match:
    kernel_id: str
    how: str


def _times_fit(candidate: Candidate, evidence: DeviceEvidence, now: float) -> bool:
    start = -math.inf if candidate.appeared_after is None else candidate.appeared_after
    context_start = -math.inf if evidence.context_after is None else evidence.context_after
    context_end = now if evidence.context_by is None else evidence.context_by
    return start - CLOCK_SLACK <= context_end and context_start - CLOCK_SLACK <= candidate.appeared_by


def _memory_fits(candidate: Candidate, evidence: DeviceEvidence) -> bool:
    used = candidate.used_memory
    if used is None:
        return False
    return evidence.held - SAMPLE_LAG_ALLOWANCE <= used <= evidence.held + CONTEXT_ALLOWANCE


def attribute(
    candidates: list[Candidate],
    evidence: list[DeviceEvidence],
    gpu_uuids: dict[int, str | None],
    now: float,
) -> tuple[dict[tuple[int, int], Match], dict[tuple[int, int], str]]:
    """Matches (GPU index, PID) -> kernel, and for every candidate left over, why."""
    matches: dict[tuple[int, int], Match] = {}
    reasons: dict[tuple[int, int], str] = {}
    for candidate in candidates:
        key = (candidate.index, candidate.pid)
        uuid = normal_uuid(gpu_uuids.get(candidate.index))
        on_gpu = [e for e in evidence if e.uuid == uuid]
        fitting = [e for e in on_gpu if _times_fit(candidate, e, now) and _memory_fits(candidate, e)]
        if not on_gpu:
            reasons[key] = "no kernel of this server reports using this GPU"
            continue
        if not fitting:
            reasons[key] = "no kernel of this server fits it (by when it appeared and by its memory)"
            continue
        if len(fitting) > 1:
            reasons[key] = f"{len(fitting)} kernels of this server fit it equally: it is not guessed"
            continue
        [kernel] = fitting
        rivals = [
            other
            for other in candidates
            if other is not candidate
            and other.index == candidate.index
            and _times_fit(other, kernel, now)
            and _memory_fits(other, kernel)
        ]
        if rivals:
            reasons[key] = (
                f"{len(rivals) + 1} GPU processes fit the same kernel (they appeared at the same time): it is not guessed"
            )
            continue
        matches[key] = Match(
            kernel.kernel_id,
            "its PID is the host's, so it was matched by when it appeared in NVML's list (as the kernel's "
            "CUDA context appeared) and by its memory (what the kernel's allocators hold, plus a context)",
        )
    return matches, reasons

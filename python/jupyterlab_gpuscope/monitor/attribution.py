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

import concurrent.futures
import errno
import json
import logging
import math
import os
import stat
from dataclasses import dataclass
from typing import Any

from ..kernel.cell_usage import EVIDENCE_PREFIX

#: NVML's per-process memory includes the CUDA context, cuBLAS/cuDNN workspaces and
#: whatever is not in a Python allocator: up to this much above what the allocators hold
#: (measured on an H200 with torch 2.11: 518 MiB after an allocation, 676 MiB after a
#: matmul; scripts/gpu_host_pid_attribution.py).
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


#: An evidence file is a few hundred bytes per GPU; anything larger is not one.
MAX_EVIDENCE_BYTES = 64 * 1024
#: A read that takes longer (a file on a hung network share) is given up for this join.
EVIDENCE_READ_SECONDS = 1.0

_log = logging.getLogger(__name__)
_reader = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="gpuscope-evidence")
_reported: set[tuple[str, str]] = set()


class UntrustedFile(Exception):
    """An evidence file that is not what the kernel would have written: ignored."""


def read_evidence(kernel_id: str, kernel_pid: int | None, connection_file: str | None) -> list[DeviceEvidence] | None:
    """A kernel's evidence, or None when it has given none (the per-cell extension is off,
    it has not used a GPU, or the file is not this kernel process's). Blocking.

    The runtime directory can be shared with other users (some hubs and HPC sites), so
    the file's name proves nothing: only a regular file owned by the kernels' user, opened
    without following a link or blocking, small, and read within a time limit, counts.
    Anything else is ignored, with one log line per file and reason."""
    if not connection_file:
        return None
    path = evidence_path(connection_file)
    # This server's kernels run as its user (jupyter_server's local provisioner).
    reading = _reader.submit(_read_trusted, path, os.getuid())
    try:
        text = reading.result(timeout=EVIDENCE_READ_SECONDS)
    except FileNotFoundError:
        return None
    except concurrent.futures.TimeoutError:
        _report(path, f"reading it took over {EVIDENCE_READ_SECONDS} s")
        return None
    except UntrustedFile as why:
        _report(path, str(why))
        return None
    except OSError as error:
        _report(path, f"it cannot be read ({error.strerror or error})")
        return None
    try:
        report = json.loads(text)
    except (ValueError, RecursionError):
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


def _read_trusted(path: str, owner: int) -> str:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UntrustedFile("it is a symbolic link") from None
        raise
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise UntrustedFile("it is not a regular file")
        if status.st_uid != owner:
            raise UntrustedFile(f"it belongs to user id {status.st_uid}, not to the kernels' user ({owner})")
        data = os.read(fd, MAX_EVIDENCE_BYTES + 1)
        if len(data) > MAX_EVIDENCE_BYTES:
            raise UntrustedFile(f"it is larger than {MAX_EVIDENCE_BYTES} bytes")
        return data.decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def _report(path: str, why: str) -> None:
    if (path, why) not in _reported:
        _reported.add((path, why))
        _log.warning("gpuscope: ignoring the kernel evidence file %s: %s", path, why)


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

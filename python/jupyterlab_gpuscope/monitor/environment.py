"""Where the server runs, as far as can be told: in a container (which kind), in a PID
namespace of its own, and what that does to the PIDs NVML gives.

Measured on an H200 with driver 580.159.04 (scripts/gpu_memory_by_namespace.py): a process in
its own PID namespace gets its GPU processes from NVML with this namespace's PIDs, and
processes of other namespaces are left out (their memory is then "held outside this
server's view"). Older drivers give host PIDs, which do not exist inside (nvidia-docker
#179, #1483; docker/for-linux #1531 with driver 535).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import Any

import psutil

from ..kernel.facts import container_facts

#: The inode of the initial PID namespace (PROC_PID_INIT_INO in the Linux kernel).
_INIT_PID_NAMESPACE = 0xEFFFFFFC


@functools.cache  # a process never changes its PID namespace
def in_own_pid_namespace() -> bool:
    """Whether this server runs in a PID namespace of its own (a container, a pod, unshare)."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino != _INIT_PID_NAMESPACE
    except OSError:
        return False


def container_kind() -> str | None:
    """ "kubernetes", "podman", "docker", "wsl", or None when no sign of one is seen."""
    facts = container_facts()
    for kind in ("kubernetes", "podman", "docker", "wsl"):
        if facts[kind]:
            return kind
    return None


def pids_exist_here(pids: Iterable[int]) -> bool:
    """Whether every one of these PIDs is a process in this server's PID namespace."""
    return all(psutil.pid_exists(pid) for pid in pids)


def gpu_pid_mode(own_namespace: bool, gpu_pids: Iterable[int], *, recorded: bool = False) -> str:
    """What NVML's PIDs are here: "shared" (the server shares the host's PID namespace),
    "translated" (this namespace's own PIDs), "host" (PIDs that do not exist here: an older
    driver), "unknown" (no GPU process to tell by), or "recorded" (a replay's PIDs say
    nothing of this machine)."""
    if recorded:
        return "recorded"
    if not own_namespace:
        return "shared"
    pids = [pid for pid in gpu_pids if pid is not None]
    if not pids:
        return "unknown"
    return "translated" if pids_exist_here(pids) else "host"


def environment(gpu_processes: dict[int, list[dict[str, Any]]], *, recorded: bool = False) -> dict[str, Any]:
    """The `environment` of the `devices` reply. Blocking (psutil): run it in an executor."""
    own = in_own_pid_namespace()
    pids = (p.get("pid") for procs in gpu_processes.values() for p in procs)
    return {
        "container": container_kind(),
        "own_pid_namespace": own,
        "gpu_pids": gpu_pid_mode(own, pids, recorded=recorded),
    }

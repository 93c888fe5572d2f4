"""Who holds each GPU's memory: NVML's PIDs joined with this server's kernels.

A kernel owns a GPU process when the process is the kernel's PID or one of its
descendants. Processes of other OS users are counted but not described unless the
admin allows it. NVML reports PIDs of the host's PID namespace; in a container they
may not exist here, or may be other processes with the same number, so in that case
a PID is attributed only when the local process really has a GPU device open.

`describe` blocks (psutil, /proc): call it off the IOLoop.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import time
from dataclasses import dataclass
from typing import Any, Callable

import psutil

from .attribution import Candidate, DeviceEvidence, attribute, read_evidence
from .environment import in_own_pid_namespace, pids_exist_here

NOT_IN_NAMESPACE = (
    "this process is not visible from the server: it runs in another PID namespace "
    "(the server is probably in a container), so its owner cannot be shown"
)
RECORDED = (
    "a process of the recording (a replay): it ran on the machine the trace was recorded on, so it has no owner here"
)
ENDED = "this process ended after the driver listed it"
UNVERIFIED = (
    "a local process has this PID, but it has no GPU device open: NVML's PID belongs to "
    "another PID namespace, so its owner is not shown"
)


@dataclass
class KernelInfo:
    id: str
    name: str
    pid: int | None
    execution_state: str | None
    notebook_path: str | None
    #: When the kernel last sent or received a message (epoch seconds), as the server's
    #: own idle culler reads it.
    last_activity: float | None = None
    #: Its connection file: its evidence for attribution.py lies beside it.
    connection_file: str | None = None

    @property
    def digest(self) -> str:
        """A short stable label for the kernel that does not reveal its id (the metrics'
        `kernel` label; the class's instructor names a kernel by it)."""
        return hashlib.sha256(self.id.encode()).hexdigest()[:12]


async def running_kernels(kernel_manager: Any, session_manager: Any) -> list[KernelInfo]:
    """This server's kernels with their PIDs and notebook paths (IOLoop, cheap)."""
    paths = {}
    for session in await session_manager.list_sessions():
        kernel = session.get("kernel") or {}
        if kernel.get("id"):
            paths[kernel["id"]] = session.get("path")
    kernels = []
    for kernel_id in kernel_manager.list_kernel_ids():
        try:
            manager = kernel_manager.get_kernel(kernel_id)
        except KeyError:
            continue  # shut down since it was listed (list_sessions above awaits)
        kernels.append(
            KernelInfo(
                id=kernel_id,
                name=manager.kernel_name,
                pid=_attribute(manager.provisioner, "pid"),
                execution_state=_attribute(manager, "execution_state"),
                notebook_path=paths.get(kernel_id),
                last_activity=_timestamp(_attribute(manager, "last_activity")),
                connection_file=_attribute(manager, "connection_file") or None,
            )
        )
    return kernels


def _attribute(obj: Any, name: str) -> Any:
    """An attribute of a kernel manager, or None while it is not set: a kernel still
    starting has traits that raise KeyError (not AttributeError) until they are."""
    try:
        return getattr(obj, name, None)
    except (AttributeError, KeyError):
        return None


def _timestamp(moment: Any) -> float | None:
    try:
        return moment.timestamp()
    except AttributeError:
        return None


def has_gpu_open(pid: int) -> bool:
    """Whether a local process has an NVIDIA device file open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/dev/nvidia"):
                return True
        except OSError:
            continue
    return False


#: NVML's per-process figures leave out a few MiB per CUDA context (9 MiB for one process
#: on an H200, driver 580.159.04): a smaller remainder is not memory held elsewhere.
OUTSIDE_FLOOR = 64 * 2**20


def held_outside(
    memory_used: int | None,
    processes: list[dict[str, Any]],
    *,
    reserve_apart: bool,
    unreadable: str | None,
    recorded: bool = False,
) -> dict[str, Any]:
    """Device memory in use that none of the processes NVML lists here accounts for: held
    by processes this server cannot see (another container or pod on the same GPU; the
    driver hides them), or, where the driver does not report its reserve apart, by the
    driver itself. Computed as memory used minus the listed processes' memory."""
    unknown = {"used_memory": None, "includes_driver_reserve": not reserve_apart}
    if recorded:
        return {**unknown, "reason": "a recording: its memory and its processes need not be of one moment"}
    if unreadable:
        return {**unknown, "reason": f"the GPU's process list could not be read ({unreadable})"}
    if memory_used is None:
        return {**unknown, "reason": "the GPU's memory in use is not known"}
    if any(p.get("used_memory") is None for p in processes):
        return {**unknown, "reason": "NVML gives no memory figure for some processes here"}
    rest = memory_used - sum(p["used_memory"] for p in processes)
    return {
        "used_memory": rest if rest >= OUTSIDE_FLOOR else 0,
        "includes_driver_reserve": not reserve_apart,
        "reason": None,
    }


def _kernel_evidence(kernel: KernelInfo) -> list[DeviceEvidence] | None:
    return read_evidence(kernel.id, kernel.pid, kernel.connection_file)


def describe(
    gpu_processes: dict[int, list[dict[str, Any]]],
    kernels: list[KernelInfo],
    *,
    show_other_users: bool,
    own_uid: int | None = None,
    uses_gpu: Callable[[int], bool] = has_gpu_open,
    recorded: bool = False,
    unreadable: dict[int, str] | None = None,
    memory_used: dict[int, int | None] | None = None,
    reserve_apart: bool = False,
    appeared: dict[int, dict[int, tuple[float | None, float]]] | None = None,
    gpu_uuids: dict[int, str | None] | None = None,
    evidence_of: Callable[[KernelInfo], list[DeviceEvidence] | None] = _kernel_evidence,
    now: Callable[[], float] = time.time,
    own_namespace: bool | None = None,
) -> dict[str, Any]:
    """The `processes` API body for the given NVML process lists.

    `recorded`: the lists come from a replay, so PIDs absent here are the recording's.
    `unreadable`: device index -> why its list could not be read; such a GPU's entry
    says so (`unavailable`) instead of passing for one that no process uses.
    `memory_used`: device index -> its memory in use, for what is held outside this
    server's view (`outside`); `reserve_apart`: that figure leaves out the driver's reserve.
    `appeared` (device index -> PID -> when it appeared, from the sampler), `gpu_uuids`
    and `evidence_of` (a kernel's evidence): for PIDs that are the host's (attribution.py).
    `own_namespace`: whether the server runs in a PID namespace of its own (None: look).
    Only there can NVML's PIDs be another namespace's; outside one, a PID that is not a
    process here has only ended since NVML listed it.
    """
    unreadable = unreadable or {}
    memory_used = memory_used or {}
    own_uid = os.getuid() if own_uid is None else own_uid
    by_pid = _kernel_by_pid(kernels)
    all_pids = {p["pid"] for procs in gpu_processes.values() for p in procs if p.get("pid") is not None}
    if own_namespace is None:
        own_namespace = in_own_pid_namespace()
    # A recording's PIDs are another machine's wherever the server runs.
    shared_namespace = pids_exist_here(all_pids) if recorded or own_namespace else True
    described = {
        index: [
            _describe_one(proc, own_uid, by_pid, verify=None if shared_namespace else uses_gpu)
            for proc in gpu_processes[index]
        ]
        for index in gpu_processes
    }
    without_evidence: list[str] = []
    if recorded:
        for entries in described.values():
            for entry in entries:
                if entry["note"] in (NOT_IN_NAMESPACE, ENDED):
                    entry["note"] = RECORDED
    elif not shared_namespace:
        without_evidence = _attribute_host_pids(
            described, kernels, own_uid, appeared or {}, gpu_uuids or {}, evidence_of, now()
        )
    gpus = [
        {
            "index": index,
            "processes": described[index],
            "others": {"count": 0, "used_memory": 0, "by_instance": {}},
            "unavailable": unreadable.get(index),
            "outside": held_outside(
                memory_used.get(index),
                gpu_processes[index],
                reserve_apart=reserve_apart,
                unreadable=unreadable.get(index),
                recorded=recorded,
            ),
        }
        for index in sorted(gpu_processes)
    ]
    full = {
        "pid_namespace": {
            "shared": shared_namespace,
            "own": in_own_pid_namespace(),
            "note": None
            if shared_namespace
            else "These processes were recorded on another machine (a replay): no owner is shown."
            if recorded
            else _hidden_note(without_evidence),
            # This server's kernels that gave no evidence to match host PIDs by.
            "kernels_without_evidence": without_evidence,
        },
        "show_other_users": True,
        "gpus": gpus,
    }
    return for_viewer(full, show_other_users)


@dataclass(frozen=True)
class ReadGrants:
    """What of this server's kernels a viewer's authorizer lets them read, as jupyter_server's
    own routes decide it: kernel ids and states (`kernels`), notebook paths (`sessions`)."""

    kernels: bool = True
    sessions: bool = True


ALL_GRANTED = ReadGrants()


def for_viewer(body: dict[str, Any], show_other_users: bool, grants: ReadGrants = ALL_GRANTED) -> dict[str, Any]:
    """The body as a viewer may see it: unless the admin allows it, processes that are not
    this user's (or a recording's) become one "others" total per GPU (and per MIG instance, for its limit);
    kernels and notebook paths only as far as `grants` allow. Pure: the join is made once
    with everything, and each reader gets its view of it."""
    body = _within_grants(body, grants)
    if show_other_users or not body["show_other_users"]:
        return body
    gpus = []
    for gpu in body["gpus"]:
        listed, count, memory = [], 0, 0
        by_instance: dict[str, dict[str, int]] = {}
        for entry in gpu["processes"]:
            # A recording's processes belong to no user of this machine: listed as they are.
            if entry["owner"] == "self" or entry["note"] == RECORDED:
                listed.append(entry)
                continue
            count += 1
            memory += entry["used_memory"] or 0
            if entry["gpu_instance_id"] is not None:
                hidden = by_instance.setdefault(str(entry["gpu_instance_id"]), {"count": 0, "used_memory": 0})
                hidden["count"] += 1
                hidden["used_memory"] += entry["used_memory"] or 0
        gpus.append(
            {**gpu, "processes": listed, "others": {"count": count, "used_memory": memory, "by_instance": by_instance}}
        )
    return {**body, "show_other_users": False, "gpus": gpus}


def _within_grants(body: dict[str, Any], grants: ReadGrants) -> dict[str, Any]:
    """Kernels left out where `kernels` may not be read (with the command lines of their
    processes, which name the kernel's connection file and so its id), notebook paths where
    `sessions` may not."""
    if grants == ALL_GRANTED:
        return body

    def entry_view(entry: dict[str, Any]) -> dict[str, Any]:
        kernel = entry.get("kernel")
        if kernel is None:
            return entry
        if not grants.kernels:
            return {**entry, "kernel": None, "cmdline": None}
        if not grants.sessions:
            return {**entry, "kernel": {**kernel, "notebook_path": None}}
        return entry

    namespace = body["pid_namespace"]
    return {
        **body,
        "pid_namespace": namespace if grants.kernels else {**namespace, "kernels_without_evidence": []},
        "gpus": [{**gpu, "processes": [entry_view(e) for e in gpu["processes"]]} for gpu in body["gpus"]],
    }


def _hidden_note(without_evidence: list[str]) -> str:
    note = (
        "Some GPU processes are not visible from this server (it runs in a container or another PID "
        "namespace). Those that match one of this server's kernels, by when they appeared and by their "
        "memory, are shown as probably that kernel's; the others' owners cannot be shown."
    )
    if without_evidence:
        note += (
            f" {len(without_evidence)} kernel(s) gave no evidence to match by (the per-cell GPU memory "
            "extension is off there, or they have not used a GPU): whether they hold GPU memory cannot be told."
        )
    return note


def _attribute_host_pids(
    described: dict[int, list[dict[str, Any]]],
    kernels: list[KernelInfo],
    own_uid: int,
    appeared: dict[int, dict[int, tuple[float | None, float]]],
    gpu_uuids: dict[int, str | None],
    evidence_of: Callable[[KernelInfo], list[DeviceEvidence] | None],
    now: float,
) -> list[str]:
    """Give the entries no local process was found for to kernels, where attribution.py
    finds a one-to-one match. Returns the ids of kernels that gave no evidence."""
    unknown = {
        (index, entry["pid"]): entry
        for index, entries in described.items()
        for entry in entries
        if entry["note"] in (NOT_IN_NAMESPACE, UNVERIFIED) and entry["pid"] is not None
    }
    if not unknown:
        return []
    evidence, without = [], []
    for kernel in kernels:
        given = evidence_of(kernel)
        if given is None:
            without.append(kernel.id)
        else:
            evidence.extend(given)
    candidates = []
    for (index, pid), entry in unknown.items():
        window = appeared.get(index, {}).get(pid)
        if window is not None:
            candidates.append(Candidate(index, pid, entry["used_memory"], window[0], window[1]))
    matches, reasons = attribute(candidates, evidence, gpu_uuids, now)
    kernels_by_id = {k.id: k for k in kernels}
    for key, entry in unknown.items():
        match = matches.get(key)
        if match is None:
            entry["attribution"] = {
                "probable": False,
                "why_not": reasons.get(key, "it was not seen appearing in NVML's list"),
            }
            continue
        kernel = kernels_by_id[match.kernel_id]
        entry.update(
            owner="self",
            username=_username(own_uid),
            note=None,
            kernel=_kernel_entry(kernel),
            attribution={"probable": True, "how": match.how},
        )
    return without


def _username(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _kernel_entry(kernel: KernelInfo) -> dict[str, Any]:
    return {
        "id": kernel.id,
        "name": kernel.name,
        "execution_state": kernel.execution_state,
        "notebook_path": kernel.notebook_path,
    }


def _kernel_by_pid(kernels: list[KernelInfo]) -> dict[int, KernelInfo]:
    by_pid: dict[int, KernelInfo] = {}
    for kernel in kernels:
        if kernel.pid is None:
            continue
        by_pid[kernel.pid] = kernel
        try:
            for child in psutil.Process(kernel.pid).children(recursive=True):
                by_pid.setdefault(child.pid, kernel)
        except psutil.Error:
            continue
    return by_pid


def _describe_one(
    proc: dict[str, Any],
    own_uid: int,
    by_pid: dict[int, KernelInfo],
    verify: Callable[[int], bool] | None,
) -> dict[str, Any]:
    pid = proc.get("pid")
    entry: dict[str, Any] = {
        "pid": pid,
        "used_memory": proc.get("used_memory"),
        "owner": "unknown",
        "username": None,
        "name": None,
        "cmdline": None,
        "kernel": None,
        "note": None,
        # How the owner was found when NVML's PID is not a process here (attribution.py).
        "attribution": None,
        # The MIG instance it runs on (None when the GPU is not in MIG mode).
        "gpu_instance_id": proc.get("gpu_instance_id"),
        "compute_instance_id": proc.get("compute_instance_id"),
    }
    try:
        local = psutil.Process(pid)
        uid = local.uids().real
    except (psutil.Error, TypeError, ValueError):
        # verify is None where NVML's PIDs are this namespace's: then it has only ended.
        entry["note"] = ENDED if verify is None else NOT_IN_NAMESPACE
        return entry
    if verify is not None and not verify(pid):
        entry["note"] = UNVERIFIED
        return entry
    entry["owner"] = "self" if uid == own_uid else "other"
    with local.oneshot():
        for key, read in (("username", local.username), ("name", local.name), ("cmdline", local.cmdline)):
            try:
                entry[key] = read()
            except psutil.Error:
                pass
    kernel = by_pid.get(pid)
    if kernel is not None and entry["owner"] == "self":
        entry["kernel"] = _kernel_entry(kernel)
    return entry


def processes_body(sampler: Any, kernels: list[KernelInfo], *, show_other_users: bool) -> dict[str, Any]:
    """`describe` with what the sampler knows: its process lists and their errors, each
    GPU's memory in use, and whether the readings are recorded. Blocking (psutil): run it
    in an executor."""
    latest = sampler.latest or {}
    devices = sampler.status()["devices"]
    return describe(
        sampler.processes,
        kernels,
        show_other_users=show_other_users,
        recorded=not sampler.backend.live,
        unreadable=sampler.process_errors,
        memory_used={gpu["index"]: gpu.get("memory_used") for gpu in latest.get("gpus", [])},
        reserve_apart=sampler.backend.memory_excludes_reserve,
        appeared=sampler.appeared,
        gpu_uuids={device["index"]: device.get("uuid") for device in devices},
    )

"""The per-GPU sample format shared by every backend and the API.

A sample's GPU entry holds every field in SAMPLE_FIELDS. A field that could not be
read is null, and `unavailable[field]` says why; a device that could not be read at
all has `status` "lost" or "unavailable" and a `reason`.
"""

from __future__ import annotations

import re
from typing import Any

SAMPLE_FIELDS = (
    "memory_used",  # bytes
    "memory_total",  # bytes
    "util_gpu",  # %
    "util_mem",  # % of time the memory controller was busy
    "temp_c",
    "power_mw",
    "sm_clock",  # MHz
    "mem_clock",  # MHz
    "pstate",
    "pcie_tx_kbs",  # KB/s
    "pcie_rx_kbs",  # KB/s
    "throttle",  # NVML clocks-event reason bitmask
    "fan",  # %
    "ecc_uncorrected",  # volatile uncorrected ECC errors
    "nvlink_tx_kbs",  # KB/s over all NVLinks
    "nvlink_rx_kbs",  # KB/s
    "sm_util",  # % of SMs busy (NVML GPM, Hopper and newer), beside the classic util_gpu
    "tensor_util",  # % of time any tensor pipe was busy (GPM)
    "dram_util",  # % of DRAM bandwidth used (GPM)
    "gpm_window_s",  # seconds the GPM figures average over (longer while no one watches)
)

# NVML clocks-event (throttle) reason bits, named for the API. Values from nvml.h
# (nvmlClocksEventReason*), the same constants pynvml exports.
THROTTLE_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}


def throttle_reasons(mask: int | None) -> list[str] | None:
    """The names of the bits set in an NVML throttle mask."""
    if mask is None:
        return None
    return [name for bit, name in THROTTLE_REASONS.items() if mask & bit]


# Per MIG instance, in a GPU entry's `mig` list (null when the GPU is not in MIG mode).
MIG_SAMPLE_FIELDS = (
    "memory_used",  # bytes
    "memory_total",  # bytes
    "sm_util",  # % of the instance's SMs busy (NVML GPM, Hopper and newer)
    "tensor_util",  # % of time any tensor pipe was busy (GPM)
    "dram_util",  # % of the instance's DRAM bandwidth (GPM)
    "gpm_window_s",  # seconds the GPM figures average over
)


def _complete(entry: dict[str, Any], fields: tuple[str, ...], values: dict[str, Any], unavailable: dict[str, str]):
    reasons = dict(unavailable)
    for name in fields:
        value = values.get(name)
        entry[name] = value
        if value is None and name not in reasons:
            reasons[name] = "not reported"
    entry["unavailable"] = reasons
    return entry


def gpu_entry(
    index: int, values: dict[str, Any], unavailable: dict[str, str], mig: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A complete GPU entry: every field present, missing ones null with a reason; `mig`:
    its MIG instances' entries (mig_entry), None when it is not in MIG mode."""
    entry = _complete({"index": index, "status": "ok", "reason": None}, SAMPLE_FIELDS, values, unavailable)
    entry["throttle_reasons"] = throttle_reasons(entry["throttle"])
    entry["mig"] = mig
    return entry


def mig_entry(uuid: str | None, gpu_instance_id: int | None, values: dict[str, Any], unavailable: dict[str, str]):
    """One MIG instance's readings, named by its UUID and GPU instance id."""
    return _complete({"uuid": uuid, "gpu_instance_id": gpu_instance_id}, MIG_SAMPLE_FIELDS, values, unavailable)


def unreadable_gpu(index: int, status: str, reason: str) -> dict[str, Any]:
    """A GPU entry for a device that could not be read at all."""
    entry = gpu_entry(index, {}, {name: reason for name in SAMPLE_FIELDS})
    entry["status"] = status
    entry["reason"] = reason
    return entry


def device_entry(
    index: int,
    *,
    name: str | None,
    uuid: str | None,
    cc: Any,
    memory_total: int | None,
    power_limit_mw: int | None,
    mig_mode: Any,
    pcie_max_gen: int | None,
    pcie_max_width: int | None,
    max_sm_clock: int | None,
    max_mem_clock: int | None,
    bus_id: str | None,
    unavailable: dict[str, str],
    mig_instances: list[dict[str, Any]] | None = None,
    nvlink_links: int | None = None,
    gpm_supported: bool | None = None,
    memory_shared: bool = False,
) -> dict[str, Any]:
    """The `devices` entry for one GPU, in the API's format. `mig_instances`: one
    mig_instance() per MIG device, when the GPU is in MIG mode (else empty);
    `nvlink_links`: its active NVLinks; `gpm_supported`: whether NVML's GPM metrics
    (SM, tensor, DRAM activity) can be read (None: unknown); `memory_shared`: the GPU
    uses the system's memory (Jetson, GB10), so its memory figures are the system's."""
    return {
        "index": index,
        "status": "ok",
        "reason": None,
        "name": name,
        "uuid": uuid,
        "compute_capability": f"{cc[0]}.{cc[1]}" if cc else None,
        "memory_total": memory_total,
        "power_limit_mw": power_limit_mw,
        "mig_mode": {"current": bool(mig_mode[0]), "pending": bool(mig_mode[1])} if mig_mode else None,
        "pcie_max_gen": pcie_max_gen,
        "pcie_max_width": pcie_max_width,
        "max_sm_clock": max_sm_clock,
        "max_mem_clock": max_mem_clock,
        "bus_id": bus_id,
        "mig_instances": mig_instances or [],
        "nvlink_links": nvlink_links,
        "gpm_supported": gpm_supported,
        "memory_shared": memory_shared,
        "unavailable": unavailable,
    }


def mig_profile(name: str | None) -> str | None:
    """The MIG profile in a MIG device's name: "NVIDIA H200 MIG 3g.71gb" -> "3g.71gb"."""
    match = re.search(r"\b(\d+g\.\d+gb(?:\+\w+)?)\b", name or "")
    return match.group(1) if match else None


def mig_instance(
    *,
    uuid: str | None,
    name: str | None,
    gpu_instance_id: int | None,
    compute_instance_id: int | None,
    memory_total: int | None,
    multiprocessor_count: int | None = None,
) -> dict[str, Any]:
    """The `devices` entry of one MIG device (a GPU instance with its compute instance)."""
    return {
        "uuid": uuid,
        "name": name,
        "profile": mig_profile(name),
        "gpu_instance_id": gpu_instance_id,
        "compute_instance_id": compute_instance_id,
        "memory_total": memory_total,
        "multiprocessor_count": multiprocessor_count,
    }

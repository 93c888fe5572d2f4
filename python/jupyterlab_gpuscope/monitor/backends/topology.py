"""How the GPUs are linked, as `nvidia-smi topo -m` prints it, from NVML: per pair of GPUs
the link (NV# for # NVLinks between them, else the closest PCIe ancestor: PIX, PXB, PHB,
NODE, SYS) and whether peer-to-peer reads work; per GPU its CPU and NUMA affinity.
Read once when the backend opens (static)."""

from __future__ import annotations

import math
import os
from typing import Any, Callable

import pynvml

# The words for the PCIe levels, shared with the diagnostic's facts collector.
from ...kernel.facts import TOPOLOGY_WORDS, pci_bus_key

#: nvmlGpuP2PCapsIndex_t's READ (pynvml spells the constant as a one-element tuple).
P2P_READ = 0


def read_topology(
    nvml: Any, call: Callable[..., Any], handles: list[Any], bus_ids: list[str | None], nvlinks: list[list[int]]
) -> dict[str, Any]:
    """The `topology` of the `devices` reply; `nvlinks`: per GPU, the numbers of its links that are up."""
    count = len(handles)
    links: list[list[str | None]] = [[None] * count for _ in range(count)]
    p2p: list[list[bool | None]] = [[None] * count for _ in range(count)]
    for i in range(count):
        links[i][i] = "X"
        peers = _nvlink_peers(nvml, call, handles[i], nvlinks[i], bus_ids)
        for j in range(count):
            if i == j:
                continue
            if peers.get(j):
                links[i][j] = f"NV{peers[j]}"
            else:
                try:
                    links[i][j] = TOPOLOGY_WORDS.get(
                        call(nvml.nvmlDeviceGetTopologyCommonAncestor, handles[i], handles[j])
                    )
                except Exception:  # not supported (a VM, say): unknown, not guessed
                    links[i][j] = None
            try:
                p2p[i][j] = (
                    call(nvml.nvmlDeviceGetP2PStatus, handles[i], handles[j], P2P_READ) == pynvml.NVML_P2P_STATUS_OK
                )
            except Exception:
                p2p[i][j] = None
    return {
        "links": links,
        "p2p_read": p2p,
        "affinity": [_affinity(nvml, call, h, bus) for h, bus in zip(handles, bus_ids)],
        "source": "nvml",
    }


def _nvlink_peers(
    nvml: Any, call: Callable[..., Any], handle: Any, active: list[int], bus_ids: list[str | None]
) -> dict[int, int]:
    """GPU index -> how many of this GPU's NVLinks reach it."""
    peers: dict[int, int] = {}
    wanted = {pci_bus_key(b): j for j, b in enumerate(bus_ids) if b}
    for link in active:
        try:
            remote = pci_bus_key(call(nvml.nvmlDeviceGetNvLinkRemotePciInfo, handle, link).busId)
        except Exception:
            continue
        if remote in wanted:
            peers[wanted[remote]] = peers.get(wanted[remote], 0) + 1
    return peers


def _affinity(nvml: Any, call: Callable[..., Any], handle: Any, bus_id: str | None) -> dict[str, Any]:
    cpus = None
    try:
        words = math.ceil((os.cpu_count() or 64) / 64)
        masks = call(nvml.nvmlDeviceGetCpuAffinity, handle, words)
        cpus = _cpu_ranges([bit + 64 * w for w, mask in enumerate(masks) for bit in range(64) if mask >> bit & 1])
    except Exception:
        pass
    numa = None
    try:
        numa = int(call(nvml.nvmlDeviceGetNumaNodeId, handle))
    except Exception:
        numa = _sysfs_numa_node(bus_id)
    return {"cpus": cpus, "numa_node": numa if numa is None or numa >= 0 else None}


def _sysfs_numa_node(bus_id: str | None) -> int | None:
    if not bus_id:
        return None
    try:
        with open(f"/sys/bus/pci/devices/{pci_bus_key(bus_id)}/numa_node") as source:
            return int(source.read().strip())
    except (OSError, ValueError):
        return None


def _cpu_ranges(cpus: list[int]) -> str | None:
    """[0, 1, 2, 5] -> "0-2,5", as nvidia-smi topo -m prints CPU affinity."""
    if not cpus:
        return None
    ranges, start, last = [], cpus[0], cpus[0]
    for cpu in cpus[1:] + [None]:
        if cpu is not None and cpu == last + 1:
            last = cpu
            continue
        ranges.append(f"{start}-{last}" if last > start else str(start))
        if cpu is not None:
            start = last = cpu
    return ",".join(ranges)

"""The instructor's picture of the class, from Prometheus's answers and the Hub's users.

Pure functions over query results, so the whole view is tested without a Hub. A series
is a dict of its labels plus `value`. `user` and `server` come from the Hub (through
service discovery); GPUs are told apart by node and UUID, as several students' servers
report the same GPU.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

GiB = 2**30

#: What the view asks Prometheus, by name. {window}: how far back "peak" looks; {peak_source}:
#: the series it looks at (the raw gauge, or a recording rule's maximum over 5 minutes).
QUERIES = {
    "user_memory": "gpuscope_user_gpu_memory_bytes",
    "user_peak": "max_over_time({peak_source}[{window}])",
    "user_limit": "gpuscope_user_gpu_memory_limit_bytes",
    "kernel_memory": "gpuscope_kernel_gpu_memory_bytes",
    "kernel_idle": "gpuscope_kernel_idle_seconds",
    "kernel_util": "gpuscope_kernel_sm_utilization_ratio",
    "gpu_used": "max by (node, gpu, gpu_uuid, name, backend) (gpuscope_gpu_memory_used_bytes)",
    "gpu_total": "max by (node, gpu, gpu_uuid, name, backend) (gpuscope_gpu_memory_total_bytes)",
    "mig_used": "max by (node, gpu, gpu_uuid, mig_instance, mig_profile) (gpuscope_mig_memory_used_bytes)",
    "mig_total": "max by (node, gpu, gpu_uuid, mig_instance, mig_profile) (gpuscope_mig_memory_total_bytes)",
    "live": "gpuscope_backend_live",
    "up": 'up{job="gpuscope"}',
}


def _place(series: dict[str, Any]) -> tuple[str, str, str]:
    """(node, GPU UUID or index, MIG instance): one GPU or MIG instance of the class."""
    return (series.get("node", ""), series.get("gpu_uuid") or series.get("gpu", ""), series.get("mig_instance", ""))


def _kernel_key(series: dict[str, Any]) -> tuple[str, str, str, tuple[str, str, str]]:
    return (series["user"], series.get("server", ""), series.get("kernel", ""), _place(series))


def kernels(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every kernel holding GPU memory, per GPU or MIG instance, with its idle time and use."""
    idle = {_kernel_key(s): s["value"] for s in results["kernel_idle"] if "user" in s}
    util = {_kernel_key(s): s["value"] for s in results["kernel_util"] if "user" in s}
    found = []
    for series in results["kernel_memory"]:
        if "user" not in series or series["value"] <= 0:
            continue
        key = _kernel_key(series)
        found.append(
            {
                "user": series["user"],
                "server": series.get("server", ""),
                "kernel": series.get("kernel", ""),
                "kernel_name": series.get("kernel_name") or None,
                "notebook": series.get("notebook") or None,
                "node": series.get("node", ""),
                "gpu": series.get("gpu", ""),
                "gpu_uuid": series.get("gpu_uuid", ""),
                "mig_instance": series.get("mig_instance") or None,
                "mig_profile": series.get("mig_profile") or None,
                "memory": series["value"],
                "idle_seconds": idle.get(key),
                "sm_utilization": util.get(key),
            }
        )
    return sorted(found, key=lambda k: (k["user"], k["server"], k["node"], k["gpu"], k["kernel"]))


def students(
    users: list[dict[str, Any]], results: dict[str, list[dict[str, Any]]], held: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per user with a running server: memory now and peak (their largest on one
    GPU or MIG instance, which is what a slice must hold), their limit, their kernels."""
    now: dict[str, float] = defaultdict(float)
    peak: dict[str, float] = defaultdict(float)
    limit: dict[str, float] = {}
    closest: dict[str, float] = {}
    per_place: dict[tuple[str, tuple[str, str, str]], float] = {}
    for series in results["user_memory"]:
        if "user" in series:
            now[series["user"]] += series["value"]
            per_place[(series["user"], _place(series))] = series["value"]
    for series in results["user_peak"]:
        if "user" in series:
            peak[series["user"]] = max(peak[series["user"]], series["value"])
    for series in results["user_limit"]:
        if "user" in series and series["value"] > 0:
            user = series["user"]
            limit[user] = min(limit.get(user, series["value"]), series["value"])
            used = per_place.get((user, _place(series)), 0.0)
            closest[user] = max(closest.get(user, 0.0), used / series["value"])
    scraped = {s.get("user") for s in results["up"] if s["value"] == 1}
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kernel in held:
        by_user[kernel["user"]].append(kernel)
    entries = []
    for user in sorted(users, key=lambda u: u["name"]):
        running = sorted(name for name, server in (user.get("servers") or {}).items() if server.get("ready"))
        if not running:
            continue
        name = user["name"]
        mine = by_user.get(name, [])
        idle = [k["idle_seconds"] for k in mine if k["idle_seconds"]]
        util = [k["sm_utilization"] for k in mine if k["sm_utilization"] is not None]
        entries.append(
            {
                "user": name,
                "servers": running,
                "roles": user.get("roles") or [],
                "reporting": name in scraped,
                "memory": now.get(name, 0.0),
                "peak": max([peak.get(name, 0.0)] + [v for (u, _), v in per_place.items() if u == name]),
                "limit": limit.get(name),
                "limit_used": closest.get(name),
                "kernels": mine,
                "idle_holding_seconds": max(idle) if idle else 0.0,
                "sm_utilization": max(util) if util else None,
            }
        )
    return entries


def gpus(results: dict[str, list[dict[str, Any]]], held: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each GPU (per node) and MIG instance: memory, who holds memory on it, whose kernels idle."""
    totals = {_place(s)[:2]: s["value"] for s in results["gpu_total"]}
    mig_totals = {_place(s): s for s in results["mig_total"]}
    mig_used = {_place(s): s["value"] for s in results["mig_used"]}
    view = []
    for series in sorted(results["gpu_used"], key=lambda s: (s.get("node", ""), int(s.get("gpu") or 0))):
        place = _place(series)[:2]
        total = totals.get(place)
        on_it = [k for k in held if _place(k)[:2] == place]
        instances = []
        for key, instance in sorted(mig_totals.items()):
            if key[:2] != place:
                continue
            on_slice = [k for k in on_it if _place(k) == key]
            used = mig_used.get(key)
            instances.append(
                {
                    "mig_instance": key[2],
                    "mig_profile": instance.get("mig_profile") or None,
                    "memory_used": used,
                    "memory_total": instance["value"],
                    "free": None if used is None else instance["value"] - used,
                    "students": sorted({k["user"] for k in on_slice}),
                }
            )
        view.append(
            {
                "node": series.get("node", ""),
                "gpu": series.get("gpu", ""),
                "gpu_uuid": series.get("gpu_uuid", ""),
                "name": series.get("name", ""),
                "live": series.get("backend") == "nvml",
                "backend": series.get("backend", ""),
                "memory_used": series["value"],
                "memory_total": total,
                "free": None if total is None else total - series["value"],
                "students": sorted({k["user"] for k in on_it}),
                "idle_students": sorted({k["user"] for k in on_it if (k["idle_seconds"] or 0) > 0}),
                "instances": instances,
            }
        )
    return view


def slice_sizes(results: dict[str, list[dict[str, Any]]], configured: dict[str, int]) -> dict[str, float]:
    """Sizes to weigh the class's peaks against: the MIG profiles the class runs on (their
    real memory, the smallest seen), whole GPUs by model, and the sizes the admin lists."""
    sizes: dict[str, float] = {}
    for series in results["mig_total"]:
        name = f"a {series['mig_profile']} slice" if series.get("mig_profile") else "a MIG instance"
        sizes[name] = min(sizes.get(name, series["value"]), series["value"])
    for series in results["gpu_total"]:
        name = f"a whole {series['name']}" if series.get("name") else "a whole GPU"
        sizes[name] = min(sizes.get(name, series["value"]), series["value"])
    for name, size in configured.items():
        sizes[name] = float(size)
    return sizes


def right_sizing(entries: list[dict[str, Any]], sizes: dict[str, float]) -> list[dict[str, Any]]:
    """For each size, how many students' peaks fit in it and who peaked above it."""
    reporting = [s for s in entries if s["reporting"]]
    if not reporting:
        return []
    lines = []
    for name, size in sorted(sizes.items(), key=lambda item: item[1]):
        above = sorted(s["user"] for s in reporting if s["peak"] > size)
        lines.append(
            {"size": name, "bytes": size, "fits": len(reporting) - len(above), "of": len(reporting), "above": above}
        )
    return lines


def class_view(
    users: list[dict[str, Any]],
    results: dict[str, list[dict[str, Any]]],
    *,
    window: str,
    configured_sizes: dict[str, int],
) -> dict[str, Any]:
    held = kernels(results)
    entries = students(users, results, held)
    backends = sorted({s.get("backend", "") for s in results["live"]})
    return {
        "peak_window": window,
        # Readings from replays are labelled as such in the view (never as a live GPU).
        "live": bool(results["live"]) and all(s["value"] == 1 for s in results["live"]),
        "backends": backends,
        "students": entries,
        "gpus": gpus(results, held),
        "right_sizing": right_sizing(entries, slice_sizes(results, configured_sizes)),
    }

"""The knowledge base's queries on the kernel side (the Python twin of src/core/knowledge/index.ts).

The data is kb.json, shipped in this package; each question both languages ask of it
(which wheel covers this GPU, runs on this driver and exists for this platform; what
CUDA_VISIBLE_DEVICES leaves visible; the install command for a wheel) is answered by one
small function here and one there, and the conformance cases in tests/conformance.json
hold both to the same answers. Standard library only: this runs inside any kernel.
"""

import json
import os
import re

_DATA = None


def data():
    """The knowledge base (kb.json next to this file, or what use_data() gave)."""
    global _DATA
    if _DATA is None:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "kb.json"), encoding="utf-8") as file:
            _DATA = json.load(file)
    return _DATA


def use_data(kb):
    """Use this knowledge instead of the file (the self-contained cell carries its own)."""
    global _DATA
    _DATA = kb


def sources(keys):
    """[{"key", "title", "url"}] for the source keys that exist, in order, without repeats
    (url is None for a source with no public page, such as a log quoted without a link)."""
    known = data()["sources"]
    seen = []
    for key in keys:
        if key in known and key not in seen:
            seen.append(key)
    return [{"key": key, "title": known[key]["title"], "url": known[key].get("url")} for key in seen]


def cc_value(cc):
    """ "8.6" -> 86, "12.1" -> 121."""
    major, _, minor = str(cc).partition(".")
    return int(major) * 10 + int(minor or 0)


def capability(cc):
    return next((c for c in data()["capabilities"] if c["cc"] == cc), None)


def feature(name):
    return data()["features"][name]


def supports(name, cc):
    """Whether a device of compute capability cc has the feature (by its cc range)."""
    needs = feature(name)
    value = cc_value(cc)
    low, high = needs.get("min_cc"), needs.get("max_cc")
    return (not low or value >= cc_value(low)) and (not high or value <= cc_value(high))


_ARCH = re.compile(r"^(sm|compute)_(\d+)(\d)([af]?)$")


def arch_covers(arch_list, cc):
    """The entry of a wheel's arch list whose code runs best on a device of compute
    capability cc, or None. SASS sm_XY runs on major X with minor >= Y ("a" variants only
    on exactly X.Y); PTX compute_XY is compiled by the driver for any device at or above
    X.Y. The closest SASS wins; PTX only when no SASS runs."""
    major, minor = (int(part) for part in str(cc).split(".")[:2])
    value = major * 10 + minor
    best_sass, best_ptx = None, None
    for arch in arch_list:
        match = _ARCH.match(arch)
        if not match:
            continue
        kind, arch_major, arch_minor, suffix = match.groups()
        arch_value = int(arch_major) * 10 + int(arch_minor)
        if (
            kind == "sm"
            and int(arch_major) == major
            and int(arch_minor) <= minor
            and (suffix != "a" or arch_value == value)
        ):
            if best_sass is None or arch_value > best_sass[0]:
                best_sass = (arch_value, arch)
        if kind == "compute" and not suffix and arch_value <= value:
            if best_ptx is None or arch_value > best_ptx[0]:
                best_ptx = (arch_value, arch)
    best = best_sass or best_ptx
    return best[1] if best else None


def compare_key(version):
    """ "2.14" -> (2, 14): versions ordered as numbers."""
    return tuple(int(x) for x in re.findall(r"\d+", version))


def compare_versions(a, b):
    """Dotted versions compared as numbers ("12.8" < "12.10" < "13"; "13" == "13.0"):
    negative when a < b, positive when a > b, else 0."""
    ka, kb = compare_key(a), compare_key(b)
    width = max(len(ka), len(kb))
    ka, kb = ka + (0,) * (width - len(ka)), kb + (0,) * (width - len(kb))
    return (ka > kb) - (ka < kb)


def platform_key(system, machine):
    """The wheel platform for platform.system() / platform.machine()."""
    system, machine = (system or "").lower(), (machine or "").lower()
    if system == "linux":
        return (
            "linux-aarch64"
            if machine in ("aarch64", "arm64")
            else "linux-x86_64"
            if machine in ("x86_64", "amd64")
            else f"linux-{machine}"
        )
    if system == "windows":
        return "windows-amd64"
    if system == "darwin":
        return "macos"
    return f"{system}-{machine}"


def variant_cuda(variant):
    """ "cu128" -> "12.8"."""
    digits = variant[2:]
    return f"{digits[:-1]}.{digits[-1]}"


def install_command(torch, variant):
    """The command that installs this wheel (from PyTorch's own index)."""
    index = data()["wheel_index"]["url"].replace("{variant}", variant)
    return f'pip install --force-reinstall "torch=={torch}.*" --index-url {index}'


def jetson(cc):
    """Whether a compute capability is a Jetson module's: its driver comes with Jetson Linux,
    numbered apart from the desktop and data-center drivers."""
    return bool((capability(cc) or {}).get("jetson"))


def unified_memory(cc):
    """Whether the GPU of this compute capability uses the system's memory (Jetson, GB10):
    NVML reports no memory of its own for it."""
    return bool((capability(cc) or {}).get("unified_memory"))


def last_driver_branch(cc):
    """The last driver branch that supports this GPU ({"branch", "arch"}), or None while
    new branches still do."""
    if jetson(cc):
        return None
    value = cc_value(cc)
    for entry in data()["last_driver_branch"]["ranges"]:
        if cc_value(entry["min_cc"]) <= value <= cc_value(entry["max_cc"]):
            return entry
    return None


def driver_runs(variant, driver_version, driver_cuda, by_ptx, numbered_apart=False):
    """Whether a wheel built with this CUDA runs on the driver: the driver's CUDA major is
    at least the wheel's and the driver meets that family's floor (minor-version
    compatibility); PTX newer than the driver cannot be compiled by it. A driver numbered
    apart (Jetson's) is judged by the CUDA version it reports alone."""
    if not driver_cuda:
        return False
    wheel = variant_cuda(variant)
    wheel_major, driver_major = int(wheel.split(".")[0]), int(driver_cuda.split(".")[0])
    if wheel_major > driver_major:
        return False
    floor = data()["driver_minimum_by_cuda_major"].get(str(wheel_major))
    if floor and driver_version and not numbered_apart and compare_versions(driver_version, floor["driver"]) < 0:
        return False
    if by_ptx and compare_versions(wheel, driver_cuda) > 0:
        return False
    return True


def driver_for(variant):
    """The driver that fully supports a wheel's CUDA (the toolkit's own, Linux)."""
    table = data()["cuda_toolkit_driver"]["linux"]
    return table.get(variant_cuda(variant))


def driver_needed(variant, by_ptx):
    """The oldest driver that runs a wheel: its CUDA family's floor (minor-version
    compatibility) where the GPU runs the wheel's machine code, the toolkit's own driver
    where its PTX must be compiled."""
    floor = data()["driver_minimum_by_cuda_major"].get(variant_cuda(variant).split(".")[0])
    return driver_for(variant) if by_ptx or not floor else floor["driver"]


_PLATFORM_NAMES = {"macos": "macOS", "windows-amd64": "Windows"}


def wheel_advice(cc, platform, driver_version=None, driver_cuda=None):
    """Which torch wheel to install for a GPU of compute capability cc on this platform
    and driver. Returns {"kind": ...}:

    - "install": the newest release whose wheel covers cc and runs on this driver
      (its default variant first, experimental variants never): torch, variant,
      command, covered_by; plus "newer" when a newer driver would allow a newer release;
    - "upgrade-driver": no wheel runs on this driver, one would on a newer one: the
      wheel (as for "install") and "driver", the driver it needs;
    - "none": no published wheel covers cc on this platform ("why" says so).
    Platforms without recorded wheels (Windows) are answered from the Linux x86_64 rows,
    with "assumed" set.
    """
    rows = data()["wheels"]["rows"]
    assumed = False
    recorded = [r for r in rows if r["platform"] == platform and not r.get("experimental")]
    if not recorded and platform.startswith("windows"):
        recorded = [r for r in rows if r["platform"] == "linux-x86_64" and not r.get("experimental")]
        assumed = True
    if platform == "macos" or not recorded:
        return {
            "kind": "none",
            "why": f"PyTorch publishes no CUDA wheels for {_PLATFORM_NAMES.get(platform, platform)}.",
            "assumed": False,
        }
    if assumed:
        driver_version = None  # Windows drivers are numbered apart from the Linux floors

    def order(row):
        return (compare_key(row["torch"]), bool(row.get("default")), compare_key(variant_cuda(row["variant"])))

    last = last_driver_branch(cc)

    def reachable(row, by):
        """A driver this GPU can have runs the wheel (no R590 for a Pascal card)."""
        needed = driver_needed(row["variant"], by.startswith("compute_"))
        return not last or not needed or int(needed.split(".")[0]) <= last["branch"]

    covering = []
    for row in sorted(recorded, key=order, reverse=True):
        by = arch_covers(row["archs"], cc)
        if by and reachable(row, by):
            covering.append((row, by))
    if not covering:
        return {
            "kind": "none",
            "why": f"No published torch wheel for {data()['wheels']['platforms'].get(platform, platform)} has code for compute capability {cc}.",
            "assumed": assumed,
        }

    def answer(kind, row, by):
        return {
            "kind": kind,
            "torch": row["torch"],
            "variant": row["variant"],
            "covered_by": by,
            "command": install_command(row["torch"], row["variant"]),
            "assumed": assumed,
            "source": row["source"],
        }

    runnable = [
        (row, by)
        for row, by in covering
        if driver_runs(row["variant"], driver_version, driver_cuda, by.startswith("compute_"), jetson(cc))
    ]
    newest_row, newest_by = covering[0]
    if runnable:
        row, by = runnable[0]
        result = answer("install", row, by)
        if compare_key(newest_row["torch"]) > compare_key(row["torch"]):
            result["newer"] = dict(
                answer("install", newest_row, newest_by),
                driver=driver_needed(newest_row["variant"], newest_by.startswith("compute_")),
            )
        return result
    result = answer("upgrade-driver", newest_row, newest_by)
    result["driver"] = driver_needed(newest_row["variant"], newest_by.startswith("compute_"))
    return result


def visible_devices(value, devices):
    """What CUDA_VISIBLE_DEVICES leaves visible, as CUDA reads it: entries are indices,
    GPU-<uuid> (a unique prefix is enough) or MIG-<uuid>; CUDA stops at the first entry
    it cannot resolve, so that entry and all after it are hidden.

    devices: [{"index", "uuid", "mig": [{"uuid"}...]}] as the driver lists them.
    Returns {"set", "visible": [{"entry", "device", "mig"}], "invalid": entry or None}.
    """
    if value is None:
        return {
            "set": False,
            "visible": [{"entry": str(d["index"]), "device": d["index"], "mig": None} for d in devices],
            "invalid": None,
        }
    visible = []
    for raw in value.split(","):
        entry = raw.strip()
        found = _resolve_device(entry, devices)
        if found is None:
            return {"set": True, "visible": visible, "invalid": entry}
        visible.append(found)
    return {"set": True, "visible": visible, "invalid": None}


def _resolve_device(entry, devices):
    if re.fullmatch(r"\d+", entry):
        index = int(entry)
        return {"entry": entry, "device": index, "mig": None} if index < len(devices) else None
    if entry.startswith("GPU-") and len(entry) > 4:
        matches = [d for d in devices if (d.get("uuid") or "").startswith(entry)]
        return {"entry": entry, "device": matches[0]["index"], "mig": None} if len(matches) == 1 else None
    if entry.startswith("MIG-") and len(entry) > 4:
        for device in devices:
            for instance in device.get("mig") or []:
                if (instance.get("uuid") or "") == entry:
                    return {"entry": entry, "device": device["index"], "mig": entry}
    return None

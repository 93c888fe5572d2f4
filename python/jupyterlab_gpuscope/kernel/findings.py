"""The findings: the collector's facts in, findings out (pass / warn / fail, each with its
cause, the exact fix and its sources), and the report document every frontend shows.

It runs where the facts are collected (a kernel, a terminal, CI), so that a saved
notebook carries its verdicts: JupyterLab renders the findings it finds in the output,
and the output's Markdown and text renderings carry them to VS Code, Colab, nbconvert
and GitHub. Every compute capability, driver floor and wheel comes from the knowledge
base (knowledge.py); nothing here names a GPU or a version. Standard library only.
"""

import getpass
import os
import re

from . import knowledge

REPORT_SCHEMA = "gpuscope.report/1"
FACTS_SCHEMAS = ("gpuscope.facts/1", "gpuscope.facts/2")
_RANK = {"fail": 0, "warn": 1, "pass": 2}


# Sources the findings cite by key (the rest come from the knowledge base's own lists).
SOURCES_CITED = ("pt_mps", "pt_hip", "nv_wsl", "docker_gpus", "nv_cdi", "k8s_gpus")


def version():
    """This package's version (the self-contained cell is given it as GPUSCOPE_VERSION)."""
    try:
        from .._version import __version__

        return __version__
    except ImportError:
        return globals().get("GPUSCOPE_VERSION", "unknown")


def _count(number, noun):
    """ "1 GPU", "2 GPUs": the findings are English, as the knowledge base is."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


class _Findings(list):
    def add(self, id, severity, title, cause, fix=None, source=(), device=None):
        finding = {
            "id": id,
            "severity": severity,
            "title": title,
            "cause": cause,
            "fix": fix,
            "sources": knowledge.sources(source),
        }
        if device is not None:
            finding["device"] = device
        self.append(finding)

    def failed(self):
        return any(f["severity"] == "fail" for f in self)


def _code(text):
    return f"`{text}`"


def facts_problem(value):
    """Why a document is not facts this version can judge, or None when it can."""
    if not isinstance(value, dict):
        return "the facts must be a JSON object"
    schema = value.get("schema")
    if schema == REPORT_SCHEMA:
        return facts_problem(value.get("facts"))
    if schema not in FACTS_SCHEMAS:
        newer = isinstance(schema, str) and schema.startswith("gpuscope.facts/")
        return (
            f"facts schema {schema!r} is newer than this gpuscope reads ({', '.join(FACTS_SCHEMAS)}): upgrade jupyterlab-gpuscope"
            if newer
            else f"unknown facts schema {schema!r} (expected one of {', '.join(FACTS_SCHEMAS)})"
        )
    for key in ("python", "platform", "env", "container"):
        if not isinstance(value.get(key), dict):
            return f'the facts lack "{key}" (an object): the file is truncated or was edited'
    for key in ("driver", "torch"):
        if key not in value or not (value[key] is None or isinstance(value[key], dict)):
            return f'the facts lack "{key}": the file is truncated or was edited'
    if not isinstance(value["python"].get("version"), str):
        return 'the facts\' "python" has no version: the file is truncated or was edited'
    driver, torch = value["driver"], value["torch"]
    if driver is not None and not (
        isinstance(driver.get("available"), bool)
        and isinstance(driver.get("devices"), list)
        and all(isinstance(d, dict) for d in driver["devices"])
    ):
        return 'the facts\' "driver" is malformed (it needs "available" and a list of "devices")'
    if torch is not None and not isinstance(torch.get("version"), str):
        return 'the facts\' "torch" is malformed (it has no version)'
    return None


# ---- reading both schemas --------------------------------------------------------------


def _hung(facts):
    """[{"part", "step", "seconds"}]: facts/2 records them; facts/1 kept sentences."""
    if "hung" in facts:
        return facts["hung"] or []
    parts = []
    for sentence in facts.get("timeouts") or []:
        match = re.match(r"(\w+) did not finish within ([\d.]+) s", sentence)
        parts.append(
            {
                "part": match.group(1) if match else "a check",
                "step": None,
                "seconds": float(match.group(2)) if match else None,
            }
        )
    return parts


def _container(facts):
    c = facts.get("container") or {}
    return {
        "docker": bool(c.get("docker", c.get("dockerenv"))),
        "podman": bool(c.get("podman")),
        "kubernetes": bool(c.get("kubernetes")),
        "wsl": bool(c.get("wsl")),
        "dev_nvidia": c.get("dev_nvidia") or [],
    }


def _smoke_parts(smoke):
    """(matmul, elementwise) of one smoke result; facts/1 had the matmul's fields flat."""
    if "matmul" in smoke:
        return smoke.get("matmul") or {}, smoke.get("elementwise")
    return smoke, None


# ---- the judgement -----------------------------------------------------------------------


def diagnose(facts):
    """Every finding for a facts document, worst first."""
    findings = _Findings()
    driver = facts.get("driver") or {}
    torch = facts.get("torch")
    system = (facts.get("platform") or {}).get("system")
    plat = knowledge.platform_key(system, (facts.get("platform") or {}).get("machine"))
    hung = {h["part"]: h for h in _hung(facts)}
    errors = facts.get("errors") or {}
    pip = "%pip" if (facts.get("python") or {}).get("ipython") else "pip"

    for part in hung.values():
        _hung_finding(findings, part)

    if system == "Darwin":
        _macos(findings, torch)
        return _ordered(findings)
    if torch and torch.get("hip"):
        if driver.get("available") and driver.get("devices") and not torch.get("device_count"):
            _rocm_on_nvidia(findings, facts, torch, plat, pip)
            return _ordered(findings)
        _rocm(findings, torch)
        _smoke_findings(findings, torch, arch_failed=set())
        return _ordered(findings)

    has_driver = bool(driver.get("available"))
    if "driver" in hung:
        pass  # said above; nothing more is known of the driver
    elif not has_driver:
        _no_driver(findings, facts, torch)
    else:
        _driver_findings(findings, facts)

    if "torch" in hung:
        return _ordered(findings)
    if errors.get("torch"):
        findings.add(
            "torch-broken",
            "fail",
            "PyTorch is installed but could not be inspected",
            errors["torch"],
            _advice_fix(_advice_for(facts, plat), pip, "Reinstall torch")
            if has_driver
            else f"Reinstall it: {_code(pip + ' install --force-reinstall torch')}",
        )
        return _ordered(findings)
    if torch is None:
        fix = _advice_fix(_advice_for(facts, plat), pip, "Install it") if has_driver else _code(f"{pip} install torch")
        findings.add(
            "no-torch",
            "warn",
            "PyTorch is not installed in this kernel",
            f"Nothing to check beyond the driver (Python {facts['python'].get('version')} at {facts['python'].get('executable')}).",
            fix.replace(" --force-reinstall", ""),
        )
        return _ordered(findings)

    if not torch.get("cuda_built"):
        findings.add(
            "cpu-only-wheel",
            "fail" if has_driver else "warn",
            "No CUDA in this torch build",
            f"torch {torch.get('version')} is a CPU-only build (torch.version.cuda is None)"
            + (
                ", so it cannot use the GPU this machine has."
                if has_driver
                else ", and no NVIDIA driver is visible either."
            ),
            _advice_fix(_advice_for(facts, plat), pip, "Install a CUDA build") if has_driver else None,
            knowledge.data()["failure_sources"]["cpu_only_wheel"],
        )
        return _ordered(findings)

    _driver_too_old(findings, facts, plat, pip)
    _visible_devices(findings, facts)
    _device_order(findings, facts)
    _newer_than_knowledge(findings, facts, torch)
    if torch.get("init_error") and not findings.failed():
        findings.add(
            "cuda-init-failed",
            "fail",
            "CUDA failed to start in torch",
            torch["init_error"],
            "Restart the kernel (CUDA does not start again in a process where it failed). If it fails again, run `nvidia-smi` in a terminal: an error there points at the driver or the GPU (ask the administrator); no error there points at this environment (check `CUDA_VISIBLE_DEVICES` and that no other process holds the GPU in exclusive mode).",
        )
    if torch.get("cuda_available") and torch.get("device_count", 0) > 0:
        findings.add(
            "cuda-available",
            "pass",
            f"torch {torch['version']} sees {_count(torch['device_count'], 'GPU')} with CUDA {torch.get('cuda')}",
            "; ".join(
                f"GPU {d['index']}: {d['name']}, compute capability {d['cc']}" for d in torch.get("devices") or []
            ),
        )
    elif not torch.get("init_error") and not findings.failed():
        findings.add(
            "no-gpu-in-torch",
            "fail",
            "torch sees no GPU",
            f"torch.cuda.is_available() is {torch.get('cuda_available')}, with {_count(torch.get('device_count', 0), 'device')}, although the driver lists {len(driver.get('devices') or [])}.",
            "Restart the kernel and run the diagnostic again; if it persists, check `nvidia-smi` in a terminal.",
        )

    arch_failed = set()
    for device in torch.get("devices") or []:
        if not _device_findings(findings, facts, torch, device, plat, pip):
            arch_failed.add(device["index"])
    _smoke_findings(findings, torch, arch_failed, _advice_for(facts, plat), pip)
    return _ordered(findings)


def _newer_than_knowledge(findings, facts, torch):
    """A torch release or a GPU newer than the knowledge base: said so, never guessed at."""
    known = max((r["torch"] for r in knowledge.data()["wheels"]["rows"]), key=knowledge.compare_key)
    release = ".".join(str(torch.get("version") or "").split("+")[0].split(".")[:2])
    as_of = knowledge.data().get("as_of")
    if release and release[0].isdigit() and knowledge.compare_versions(release, known) > 0:
        findings.add(
            "newer-than-knowledge",
            "warn",
            f"torch {release} is newer than this gpuscope knows (its knowledge ends at torch {known}, {as_of})",
            "The arch list below is read from torch itself and checked; the wheel and driver advice may be out of date for this release.",
            "Upgrade jupyterlab-gpuscope for current advice: `pip install --upgrade jupyterlab-gpuscope`.",
        )
    for device in (facts.get("driver") or {}).get("devices") or []:
        cc = device.get("cc")
        if cc and not knowledge.capability(cc):
            findings.add(
                "unknown-gpu",
                "warn",
                f"{device.get('name') or 'This GPU'} (compute capability {cc}) is newer than this gpuscope knows ({as_of})",
                "Its code coverage is judged by CUDA's compatibility rules alone (code for the same major version, or PTX); which features it has is not known here.",
                "Upgrade jupyterlab-gpuscope: `pip install --upgrade jupyterlab-gpuscope`.",
                device=device.get("index"),
            )


def _hung_finding(findings, part):
    what = {"torch": "The PyTorch check", "driver": "Reading the NVIDIA driver"}.get(
        part["part"], "Part of the diagnostic"
    )
    seconds = f"{part['seconds']:g} s" if part.get("seconds") else "the time limit"
    findings.add(
        "hung",
        "fail",
        f"{what} hung: no answer within {seconds}",
        (f"It was at: {part['step']}. " if part.get("step") else "")
        + "A CUDA or NVML call that does not return usually means a wedged GPU or driver (an Xid error in the kernel log, a GPU that fell off the bus), not a missing install.",
        "Run `nvidia-smi` in a terminal. If it hangs or reports an error, the GPU needs a reset (`sudo nvidia-smi -r -i <index>`, with nothing running on it) or the machine a reboot: on a shared machine, ask the administrator. Then restart the kernel and run the diagnostic again.",
    )


def _macos(findings, torch):
    mps = (torch or {}).get("mps") or {}
    if torch and mps.get("available"):
        findings.add(
            "mps",
            "pass",
            "PyTorch can use this Mac's GPU through Metal (MPS)",
            "CUDA does not exist on macOS, so the NVIDIA checks do not apply; torch's MPS backend is available.",
            'Put tensors and models on `torch.device("mps")` (not "cuda").',
            ["pt_mps"],
        )
    else:
        findings.add(
            "mps-unavailable",
            "warn",
            "No GPU backend for PyTorch on this Mac" if torch else "PyTorch is not installed in this kernel",
            "CUDA does not exist on macOS; PyTorch uses the GPU through Metal (MPS), "
            + (
                "which this torch build does not offer here (MPS needs Apple silicon or an AMD GPU and macOS 12.3 or newer)."
                if torch
                else "once torch is installed."
            ),
            _code("pip install --upgrade torch") + " (the macOS wheels on PyPI include MPS), then restart the kernel.",
            ["pt_mps"],
        )


def _rocm(findings, torch):
    count = torch.get("device_count", 0)
    if torch.get("cuda_available") and count:
        findings.add(
            "rocm",
            "pass",
            f"torch {torch['version']} (ROCm, HIP {torch['hip']}) sees {_count(count, 'AMD GPU')}",
            "On ROCm builds the torch.cuda API drives AMD GPUs; the NVIDIA driver checks do not apply. "
            + "; ".join(f"GPU {d['index']}: {d['name']}" for d in torch.get("devices") or []),
            None,
            ["pt_hip"],
        )
    else:
        findings.add(
            "rocm-no-gpu",
            "fail",
            f"This ROCm build of torch (HIP {torch['hip']}) sees no AMD GPU",
            torch.get("init_error") or "torch.cuda.is_available() is False.",
            "Check `rocm-smi` in a terminal; in a container, pass the AMD devices (`--device=/dev/kfd --device=/dev/dri`). No NVIDIA driver is needed for this build.",
            ["pt_hip"],
        )


def _rocm_on_nvidia(findings, facts, torch, plat, pip):
    names = ", ".join(sorted({d.get("name") or "an NVIDIA GPU" for d in facts["driver"]["devices"]}))
    findings.add(
        "rocm-build-on-nvidia",
        "fail",
        f"This torch is a ROCm (AMD) build, and this machine's GPU is NVIDIA ({names})",
        f"torch {torch.get('version')} was built for AMD GPUs (HIP {torch['hip']}); it cannot use an NVIDIA GPU, so torch sees none.",
        _advice_fix(_advice_for(facts, plat), pip, "Install a CUDA build"),
        ["pt_hip"],
    )


#: NVML's words when the kernel module and the user-space library differ (an upgrade
#: without a reboot).
_VERSION_MISMATCH = "Driver/library version mismatch"


def _no_driver(findings, facts, torch):
    container = _container(facts)
    cuda_torch = bool(torch and torch.get("cuda_built"))
    severity = "fail" if cuda_torch else "warn"
    cause = _sentence((facts.get("driver") or {}).get("error") or "The NVIDIA driver could not be read")
    if _VERSION_MISMATCH in cause:
        findings.add(
            "driver-library-mismatch",
            "fail",
            "The NVIDIA driver was upgraded, but the old one is still loaded",
            cause
            + " The driver's kernel module and its user-space library are different versions: the driver is installed, and it was changed without a reboot.",
            "Reboot the machine. Without a reboot, stop everything using the GPU and reload the module: `sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia` (on a shared machine, ask the administrator). Do not reinstall the driver.",
            knowledge.data()["failure_sources"]["no_gpu_in_container"][:1],
        )
        return
    no_devices = not container["dev_nvidia"]
    sources = [key for key in knowledge.data()["failure_sources"]["no_gpu_in_container"] if key not in SOURCES_CITED]
    if container["wsl"]:
        findings.add(
            "no-driver-wsl",
            severity,
            "No NVIDIA driver is visible in WSL",
            cause,
            "WSL 2 uses the NVIDIA driver installed on Windows: install or update it there (`nvidia-smi` then works inside WSL), and do not install a Linux driver inside WSL.",
            ["nv_wsl"],
        )
        return
    kind = (
        "kubernetes"
        if container["kubernetes"]
        else "podman"
        if container["podman"]
        else "docker"
        if container["docker"]
        else None
    )
    if kind:
        where = {"kubernetes": "Kubernetes pod", "podman": "Podman container", "docker": "Docker container"}[kind]
        fix = {
            "kubernetes": 'Request a GPU in the pod spec: `resources: {limits: {nvidia.com/gpu: 1}}` (the NVIDIA device plugin must run on the node). With JupyterHub\'s KubeSpawner: `c.KubeSpawner.extra_resource_limits = {"nvidia.com/gpu": "1"}`.',
            "podman": "Generate the CDI specification on the host (`sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`) and start the container with `podman run --device nvidia.com/gpu=all ...`.",
            "docker": "Start the container with the GPUs: `docker run --gpus all ...` (the NVIDIA Container Toolkit must be installed on the host).",
        }[kind]
        detail = (
            " There are no /dev/nvidia* device files."
            if no_devices
            else " The /dev/nvidia* device files are there, but not the driver's libraries: the container was started without the NVIDIA runtime."
        )
        cited = {"kubernetes": "k8s_gpus", "podman": "nv_cdi", "docker": "docker_gpus"}[kind]
        findings.add(
            "no-gpu-in-container",
            severity,
            f"No GPU was passed into this {where}",
            cause + detail,
            fix,
            sources + [cited],
        )
        return
    findings.add(
        "no-driver",
        severity,
        "No NVIDIA driver is visible",
        cause
        + (
            " There are no /dev/nvidia* device files."
            if no_devices and (facts.get("platform") or {}).get("system") == "Linux"
            else ""
        ),
        "If this machine has an NVIDIA GPU, install the NVIDIA driver (`nvidia-smi` works in a terminal once it is in); otherwise run on a machine that has one."
        if cuda_torch
        else None,
        sources,
    )


def _driver_findings(findings, facts):
    driver = facts["driver"]
    devices = driver.get("devices") or []
    links = driver.get("links") or []
    findings.add(
        "driver",
        "pass",
        f"NVIDIA driver {driver.get('version')} (supports CUDA up to {driver.get('cuda_version')})",
        f"{_count(len(devices), 'GPU')}: "
        + ", ".join(f"{d.get('name')} ({d.get('cc')})" for d in devices)
        + (
            ". GPU links (as `nvidia-smi topo -m`): "
            + ", ".join(
                f"GPU {p['gpus'][0]}–GPU {p['gpus'][1]} {p.get('link') or 'unknown'}"
                + {True: " (peer-to-peer: yes)", False: " (peer-to-peer: no)", None: ""}[p.get("p2p_read")]
                for p in links
            )
            if links
            else ""
        ),
    )
    cvd = (facts.get("env") or {}).get("CUDA_VISIBLE_DEVICES")
    for device in devices:
        mode = device.get("mig_mode") or {}
        instances = device.get("mig")
        index = device["index"]
        sources = knowledge.data()["failure_sources"]["mig_enabled"]
        if mode.get("pending") is not None and mode.get("current") != mode.get("pending"):
            findings.add(
                "mig-pending",
                "warn",
                f"A MIG mode change is pending on GPU {index}",
                f"MIG is {'on' if mode.get('current') else 'off'} now and will be {'on' if mode.get('pending') else 'off'} after the GPU is reset.",
                f"Reset the GPU when nothing runs on it (`sudo nvidia-smi -r -i {index}`), or reboot.",
                sources,
                index,
            )
        if not mode.get("current"):
            continue
        if instances is not None and not instances and "mig" in device:
            findings.add(
                "mig-no-instances",
                "fail",
                f"MIG is on for GPU {index}, but no MIG instance exists",
                "With MIG on, CUDA can only run on MIG instances, and none has been created on this GPU, so CUDA finds no device on it.",
                f"Create one: `sudo nvidia-smi mig -lgip` lists the profiles, `sudo nvidia-smi mig -i {index} -cgi <profile> -C` creates a GPU instance with its compute instance. Or turn MIG off: `sudo nvidia-smi -i {index} -mig 0` (then reset the GPU).",
                sources,
                index,
            )
            continue
        listed = ", ".join(f"{m.get('name')} {m.get('uuid')}" for m in instances or [])
        chosen = cvd and any(m.get("uuid") and m["uuid"] in cvd for m in instances or [])
        findings.add(
            "mig",
            "pass",
            f"GPU {index} is split into {_count(len(instances or []), 'MIG instance')}"
            if instances is not None
            else f"MIG is on for GPU {index}",
            (f"Instances: {listed}. " if listed else "")
            + "A CUDA process uses one MIG instance, with its share of the memory and SMs"
            + (
                ": CUDA_VISIBLE_DEVICES picks it."
                if chosen
                else "; choose it with `CUDA_VISIBLE_DEVICES=MIG-<uuid>` (listed by `nvidia-smi -L`) before the kernel starts."
            ),
            None,
            sources,
            index,
        )


def _device_order(findings, facts):
    """Different GPUs and CUDA_DEVICE_ORDER unset: CUDA numbers the fastest first, nvidia-smi
    by PCI bus, so "GPU 1" names different cards in torch and in nvidia-smi."""
    devices = (facts.get("driver") or {}).get("devices") or []
    kinds = {(d.get("name"), d.get("cc")) for d in devices}
    if len(devices) < 2 or len(kinds) < 2 or (facts.get("env") or {}).get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return
    findings.add(
        "device-order",
        "warn",
        "torch and nvidia-smi may number these GPUs differently",
        f"This machine has {_count(len(devices), 'GPU')} of {len(kinds)} kinds ("
        + ", ".join(sorted(f"{name} ({cc})" for name, cc in kinds))
        + "), and CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA then numbers the fastest GPU first, while nvidia-smi and NVML number them by PCI bus. An index taken from nvidia-smi (or CUDA_VISIBLE_DEVICES=1) can pick the other card.",
        "Set `CUDA_DEVICE_ORDER=PCI_BUS_ID` before the kernel starts (in the kernel's environment or the kernel spec), so torch, nvidia-smi and CUDA_VISIBLE_DEVICES use the same numbers.",
        knowledge.data()["failure_sources"]["cuda_visible_devices"],
    )


def _advice_for(facts, plat):
    """The wheel advice for the machine's GPUs (the first distinct compute capability the
    driver lists; mixed machines get the advice for each)."""
    driver = facts.get("driver") or {}
    ccs = []
    for device in driver.get("devices") or []:
        if device.get("cc") and device["cc"] not in ccs:
            ccs.append(device["cc"])
    return [(cc, knowledge.wheel_advice(cc, plat, driver.get("version"), driver.get("cuda_version"))) for cc in ccs]


def _advice_fix(advices, pip, verb):
    """A fix sentence from wheel advice: the command, or the driver to install first, or
    that no wheel exists."""
    if not advices:
        return f"{verb}: {_code(pip + ' install torch')}"
    parts = []
    for cc, advice in advices:
        prefix = f"For compute capability {cc}: " if len(advices) > 1 else ""
        command = (advice.get("command") or "").replace("pip install", f"{pip} install", 1)
        if advice["kind"] == "install":
            text = f"{verb}: {_code(command)} (torch {advice['torch']} for CUDA {knowledge.variant_cuda(advice['variant'])}: the newest build that has code for compute capability {cc} and runs on this driver), then restart the kernel."
            newer = advice.get("newer")
            if newer and newer.get("driver"):
                text += f" A driver ≥ {newer['driver']} would allow torch {newer['torch']} ({newer['variant']})."
        elif advice["kind"] == "upgrade-driver":
            text = f"Upgrade the NVIDIA driver to ≥ {advice['driver'] or 'a newer release'} first: no published torch build with code for compute capability {cc} runs on this driver. Then {_code(command)}, and restart the kernel."
        else:
            text = f"{advice['why']} Build PyTorch from source with {_code('TORCH_CUDA_ARCH_LIST=' + repr(cc))}, or use a machine whose GPU the published wheels cover."
        if advice.get("assumed"):
            text += " (The arch lists of Windows wheels are not recorded: this is the Linux wheel's; check `torch.cuda.get_arch_list()` after installing.)"
        parts.append(prefix + text)
    return " ".join(parts)


def _driver_too_old(findings, facts, plat, pip):
    driver = facts.get("driver") or {}
    torch = facts["torch"]
    if not (driver.get("available") and torch.get("cuda") and driver.get("version") and driver.get("cuda_version")):
        return
    variant = "cu" + torch["cuda"].replace(".", "")
    numbered_apart = any(knowledge.jetson(d.get("cc") or "") for d in driver.get("devices") or [])
    if knowledge.driver_runs(variant, driver["version"], driver["cuda_version"], False, numbered_apart):
        return
    wheel_major = torch["cuda"].split(".")[0]
    floor = knowledge.data()["driver_minimum_by_cuda_major"].get(wheel_major) or {}
    needed = knowledge.driver_needed(variant, by_ptx=False) or floor.get("driver")
    # A GPU whose last driver branch is older than the one this CUDA needs cannot be
    # upgraded into it: only an older torch helps.
    ends = [knowledge.last_driver_branch(d["cc"]) for d in driver.get("devices") or [] if d.get("cc")]
    ended = min((e for e in ends if e), key=lambda e: e["branch"], default=None)
    beyond = ended and needed and int(needed.split(".")[0]) > ended["branch"]
    upgrade = (
        f"No driver for {ended['arch']} GPUs runs CUDA {wheel_major}: R{ended['branch']} is their last driver branch. "
        if beyond
        else f"Upgrade the NVIDIA driver{' on Windows (WSL uses it)' if _container(facts)['wsl'] else ''} to ≥ {needed or 'a newer release'}. "
    )
    findings.add(
        "driver-too-old",
        "fail",
        f"The driver is too old for this torch build (CUDA {torch['cuda']})",
        f"Driver {driver['version']} supports CUDA up to {driver['cuda_version']}; torch {torch.get('version')} needs a driver for CUDA {wheel_major}.x"
        + (f" (at least {floor['driver']})." if floor.get("driver") else "."),
        upgrade
        + _advice_fix(
            _advice_for(facts, plat),
            pip,
            "Install a torch that runs on it" if beyond else "Or install a torch that runs on this driver",
        ),
        list(floor.get("source") or [])
        + knowledge.data()["failure_sources"]["driver_too_old"]
        + (knowledge.data()["last_driver_branch"]["source"] if beyond else []),
    )


def _visible_devices(findings, facts):
    value = (facts.get("env") or {}).get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return
    devices = (facts.get("driver") or {}).get("devices") or []
    seen = knowledge.visible_devices(value, devices)
    sources = knowledge.data()["failure_sources"]["cuda_visible_devices"]
    if seen["visible"] and seen["invalid"] is None:
        return
    example = ",".join(str(d["index"]) for d in devices) or "0"
    if not seen["visible"] and (seen["invalid"] in (None, "", "-1")):
        findings.add(
            "cuda-visible-devices",
            "fail",
            f'CUDA_VISIBLE_DEVICES="{value}" hides every GPU',
            'CUDA sees no device, so torch reports "No CUDA GPUs are available".',
            f"Unset it, or set it to the GPUs to use (e.g. `CUDA_VISIBLE_DEVICES={example}`), before the kernel starts, then restart the kernel: changing it after CUDA started has no effect.",
            sources,
        )
        return
    kept = ", ".join(v["entry"] for v in seen["visible"])
    findings.add(
        "cuda-visible-devices",
        "fail" if not seen["visible"] else "warn",
        f'CUDA_VISIBLE_DEVICES="{value}" names a GPU that does not exist',
        f'"{seen["invalid"]}" is not one of this machine\'s {_count(len(devices), "GPU")} or their MIG instances, and CUDA ignores it and every entry after it'
        + (f" (only {kept} stay visible)." if kept else ", so no GPU is visible."),
        f"Use indices 0–{max(len(devices) - 1, 0)} or UUIDs from `nvidia-smi -L` (e.g. `CUDA_VISIBLE_DEVICES={example}`), then restart the kernel.",
        sources,
    )


def _device_findings(findings, facts, torch, device, plat, pip):
    """Findings for one GPU torch sees; False when the wheel has no code for it."""
    cc, index = device["cc"], device["index"]
    name = f"GPU {index} ({device['name']}, compute capability {cc})"
    driver = facts.get("driver") or {}
    covered = knowledge.arch_covers(torch.get("arch_list") or [], cc)
    if not covered:
        advice = knowledge.wheel_advice(cc, plat, driver.get("version"), driver.get("cuda_version"))
        fix = _advice_fix([(cc, advice)], pip, "Install one that does")
        if (
            advice["kind"] == "none"
            and plat != "linux-x86_64"
            and knowledge.wheel_advice(cc, "linux-x86_64")["kind"] != "none"
        ):
            fix += " The Linux x86_64 wheels do cover it."
        findings.add(
            "arch-not-covered",
            "fail",
            f"This torch build has no code for {name}",
            f'Its arch list is {" ".join(torch.get("arch_list") or []) or "empty"}: no code for {cc} and no older PTX, so GPU kernels fail with "no kernel image is available for execution on the device".',
            fix,
            knowledge.data()["binary_compat_source"]
            + knowledge.data()["failure_sources"]["wheel_lacks_arch"]
            + advice.get("source", []),
            index,
        )
        return False
    if not knowledge.supports("bf16", cc) and (
        torch.get("bf16_supported") is True or torch.get("bf16_native") is False
    ):
        bf16 = knowledge.feature("bf16")
        findings.add(
            "bf16-emulated",
            "warn",
            f"bf16 is only emulated on GPU {index} ({cc})",
            f"Native bf16 needs compute capability {bf16['min_cc']} or newer; torch.cuda.is_bf16_supported() may still say True, but bf16 runs slower than fp32 here.",
            'Use fp16 with a GradScaler (`torch.autocast("cuda", dtype=torch.float16)`) or fp32 on this GPU.',
            bf16["source"] + knowledge.data()["failure_sources"]["bf16_emulated"],
            index,
        )
    flash = knowledge.supports("sdpa_flash", cc)
    if flash and not (torch.get("sdpa") or {}).get("flash", True):
        findings.add(
            "flash-sdpa-disabled",
            "warn",
            f"Flash attention is turned off in this kernel (GPU {index} has it)",
            "The flash backend of scaled_dot_product_attention is disabled (torch.backends.cuda.enable_flash_sdp(False)), so attention runs on slower kernels.",
            _code("torch.backends.cuda.enable_flash_sdp(True)"),
            knowledge.feature("sdpa_flash")["source"],
            index,
        )
    findings.add(
        "capabilities",
        "pass",
        f"What {name} can run",
        _capability_sentence(torch, cc, flash),
        None,
        knowledge.feature("bf16")["source"][:1]
        + knowledge.feature("fp8_scaled_mm")["source"][:1]
        + knowledge.feature("sdpa_flash")["source"][:1],
        index,
    )
    return True


def _capability_sentence(torch, cc, flash):
    def needs(name):
        feature = knowledge.feature(name)
        low, high = feature["min_cc"], feature.get("max_cc")
        if high == low:
            return f"only on {low}"
        return f"needs {low} to {high}" if high else f"needs {low}"

    tf32_on = (torch.get("tf32") or {}).get("matmul")
    parts = [
        "bf16: native" if knowledge.supports("bf16", cc) else f"bf16: emulated only ({needs('bf16')})",
        (
            "TF32: yes, "
            + (
                "on for matmuls"
                if tf32_on
                else "off for fp32 matmuls (PyTorch's default; `torch.set_float32_matmul_precision('high')` turns it on)"
            )
        )
        if knowledge.supports("tf32", cc)
        else f"TF32: no ({needs('tf32')})",
        "FP8 matmul (torch._scaled_mm): yes"
        if knowledge.supports("fp8_scaled_mm", cc)
        else f"FP8 matmul: no ({needs('fp8_scaled_mm')})",
        "flash attention (SDPA): yes"
        if flash
        else f"flash attention (SDPA): no ({needs('sdpa_flash')}; SDPA uses its other kernels)",
        "FlashAttention-3: yes"
        if knowledge.supports("flash_attn_fa3", cc)
        else f"FlashAttention-3: no ({needs('flash_attn_fa3')})",
    ]
    return "; ".join(parts) + "."


def _smoke_findings(findings, torch, arch_failed, advices=(), pip="pip"):
    for smoke in torch.get("smoke") or []:
        index = smoke.get("device")
        matmul, elementwise = _smoke_parts(smoke)
        tests = [("matrix multiplication", matmul), ("elementwise kernel", elementwise)]
        broken = [(label, part) for label, part in tests if part is not None and not part.get("ok")]
        if not broken:
            done = " and ".join(label for label, part in tests if part is not None)
            error = matmul.get("max_error")
            findings.add(
                "smoke-test",
                "pass",
                f"GPU {index} computes correctly",
                f"A 256×256 fp32 {done} gave the CPU's result"
                + (f" (largest difference {error:.1e}" if isinstance(error, (int, float)) else " (")
                + (f", {matmul['ms']} ms with the first launch" if matmul.get("ms") is not None else "")
                + (", TF32 on" if smoke.get("tf32") else "")
                + ").",
                device=index,
            )
            continue
        label, part = broken[0]
        no_kernel = "no kernel image" in (part.get("error") or "")
        library_arch = re.search(r"CUBLAS_STATUS_(ARCH_MISMATCH|NOT_SUPPORTED)", part.get("error") or "")
        if part.get("error"):
            cause = f"The {label} failed: {part['error']}"
        elif part.get("non_finite"):
            cause = f"The {label} gave NaN or infinity where the CPU gives finite numbers."
        else:
            cause = (
                f"The {label}'s largest difference from the CPU is {part.get('max_error')}, far above rounding error."
            )
        if library_arch:
            cause += f" cuBLAS, which torch's matrix multiplication calls, has no kernel for this GPU (CUDA {torch.get('cuda')}'s libraries carry none below compute capability 7.5): the GPU and the driver are fine."
            fix = _advice_fix(advices, pip, "Install a torch whose CUDA libraries cover this GPU") if advices else None
        elif no_kernel:
            fix = (
                "This torch build has no code for this GPU: see the arch-list finding."
                if index in arch_failed
                else "torch's arch list covers this GPU, so the kernel without code comes from a separately compiled extension: rebuild it for this GPU."
            )
        else:
            fix = "Restart the kernel and run the diagnostic again. A failure that persists points at faulty hardware, an overclock or a broken driver: report it with the output of `nvidia-smi -q`."
        findings.add("smoke-test", "fail", f"GPU {index} failed the {label} test", cause, fix, device=index)


def _sentence(text):
    return text if re.search(r"[.!?]$", text) else text + "."


def _ordered(findings):
    return sorted(findings, key=lambda f: _RANK[f["severity"]])


# ---- the report ------------------------------------------------------------------------


def gpu_usable(findings):
    """Whether the findings say a GPU is usable (CUDA, ROCm or Apple's MPS)."""
    return any(f["id"] in ("cuda-available", "rocm", "mps") for f in findings)


def headline(findings, facts):
    """One line a reader understands at a glance."""
    count = {s: sum(1 for f in findings if f["severity"] == s) for s in _RANK}
    warnings = f"{count['warn']} warning{'s' if count['warn'] != 1 else ''}"
    if count["fail"]:
        return f"{count['fail']} problem{'s' if count['fail'] != 1 else ''} to fix, {warnings}"
    if not gpu_usable(findings):
        return f"no GPU is usable in this environment, {warnings}"
    if count["warn"]:
        return f"GPU ready, {warnings}"
    return f"GPU ready: all {count['pass']} checks passed" if count["pass"] > 1 else "GPU ready: the check passed"


def redact(value, home=None, user=None):
    """The document with the home directory written as ~ and the user name as <user>."""
    home = home if home is not None else os.path.expanduser("~")
    if user is None:
        try:
            user = getpass.getuser()
        except Exception:
            user = ""
    patterns = []
    if home and home not in ("/", "~") and len(home) > 1:
        patterns.append((re.compile(re.escape(home.rstrip("/\\")) + r"(?=[/\\]|$|\W)"), "~"))
    if user and len(user) >= 2:
        patterns.append((re.compile(r"(?<![\w.-])" + re.escape(user) + r"(?![\w-])"), "<user>"))

    def clean(item):
        if isinstance(item, str):
            for pattern, replacement in patterns:
                item = pattern.sub(replacement, item)
            return item
        if isinstance(item, dict):
            return {key: clean(val) for key, val in item.items()}
        if isinstance(item, list):
            return [clean(val) for val in item]
        return item

    return clean(value)


def report_document(facts, include_private=False):
    """The facts with their findings: what the diagnostic's output carries."""
    findings = diagnose(facts)
    document = {
        "schema": REPORT_SCHEMA,
        "gpuscope": version(),
        "kb": knowledge.data().get("version"),
        "collected_at": facts.get("collected_at"),
        "headline": headline(findings, facts),
        "worst": findings[0]["severity"] if findings else "pass",
        "findings": findings,
        "facts": facts,
        "redacted": not include_private,
    }
    return document if include_private else redact(document)


_ICON = {"fail": "❌", "warn": "⚠️", "pass": "✅"}
_WORD = {"fail": "FAIL", "warn": "WARN", "pass": "PASS"}


def _footer(document):
    facts = document["facts"]
    torch = facts.get("torch") or {}
    driver = facts.get("driver") or {}
    hung = {h["part"] for h in _hung(facts)}
    torch_said = "not checked (the check hung)" if "torch" in hung else torch.get("version", "not installed")
    driver_said = "not read (the check hung)" if "driver" in hung else driver.get("version") or "none"
    return (
        f"Python {(facts.get('python') or {}).get('version')}, torch {torch_said}, "
        f"driver {driver_said}; collected {document.get('collected_at')} in {facts.get('duration_s')} s "
        f"by jupyterlab-gpuscope {document.get('gpuscope')} (knowledge base {document.get('kb')}, checked {knowledge.data().get('as_of')})"
        + ("; home paths and user names left out" if document.get("redacted") else "")
        + "."
    )


def to_markdown(document):
    """The report as Markdown (for VS Code, Colab, GitHub and Copy as Markdown). Every text
    is escaped: findings quote facts (an environment variable, a path, a device name) that
    must read as text, never as Markdown or HTML, wherever the output is rendered trusted."""
    lines = [f"**GPU diagnostic: {_markdown(document['headline'])}**", ""]
    for f in document["findings"]:
        lines.append(f"- {_ICON[f['severity']]} **{_markdown(f['title'])}**: {_markdown(f['cause'])}")
        if f.get("fix"):
            lines.append(f"  - Fix: {_markdown(f['fix'])}")
        if f.get("sources"):
            lines.append(f"  - Sources: {'; '.join(_markdown_source(s) for s in f['sources'])}")
    lines += ["", f"<sub>{_markdown(_footer(document))}</sub>"]
    return "\n".join(lines)


def to_text(document):
    """The report as plain text (terminals, nbconvert, logs), with no control characters: a
    fact must not move a terminal's cursor, set its title or write its clipboard."""
    lines = [f"GPU diagnostic: {document['headline']}", ""]
    for f in document["findings"]:
        lines.append(f"{_WORD[f['severity']]}  {f['title']}")
        lines.append(f"      {f['cause']}")
        if f.get("fix"):
            lines.append(f"      fix: {f['fix']}")
        for s in f.get("sources") or []:
            lines.append(f"      source: {s['title']}" + (f" <{s['url']}>" if s.get("url") else ""))
    lines += ["", _footer(document)]
    return "\n".join(printable(line) for line in lines)


#: C0 and C1 control characters (ESC, BEL, CSI, OSC...) and DEL, but not tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
#: What Markdown or HTML would read as markup in running text.
_MARKUP = re.compile(r"([\\*_\[\]<>&!|~#])")


def printable(text):
    """`text` without control characters (each becomes a space), for a terminal."""
    return _CONTROL.sub(" ", str(text))


def _markdown(text):
    """A finding's text (prose with `code` spans, the convention the JupyterLab report reads
    too) as Markdown: prose escaped, each span a code span (where nothing is markup)."""
    parts = printable(text).split("`")
    return "".join(
        f"`{part}`" if index % 2 and part.strip() else _MARKUP.sub(r"\\\1", part) for index, part in enumerate(parts)
    )


def _markdown_source(source):
    """[title](url), or the title alone for a source with no public page."""
    title = re.sub(r"([\\`*_\[\]])", r"\\\1", source["title"])
    return f"[{title}]({source['url']})" if source.get("url") else title

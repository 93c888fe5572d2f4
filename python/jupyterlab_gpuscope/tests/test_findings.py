"""The findings on real facts: collected on an H200 (scripts/gpu_diagnostic_facts.py), each
scenario changing only what it is about. Asserts what a user reads: the verdict, the
cause, and above all that the fix is the right one (and that wrong ones are absent)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from jupyterlab_gpuscope.kernel.findings import (
    diagnose,
    facts_problem,
    headline,
    redact,
    report_document,
    to_markdown,
    to_text,
)

FACTS = Path(__file__).parent / "facts"
H200 = json.loads((FACTS / "h200.json").read_text())


def facts(change=lambda f: None) -> dict:
    f = copy.deepcopy(H200)
    change(f)
    return f


def by_id(findings, id_):
    return [f for f in findings if f["id"] == id_]


def everything(findings) -> str:
    return json.dumps(findings)


def severities(findings) -> set:
    return {f["severity"] for f in findings}


def on_gpu(f, name, cc, arch_list=None, torch=None):
    for device in f["driver"]["devices"] + f["torch"]["devices"]:
        device["name"], device["cc"] = name, cc
    if arch_list is not None:
        f["torch"]["arch_list"] = arch_list
    if torch is not None:
        f["torch"]["version"], f["torch"]["cuda"] = torch


def no_driver(
    f,
    error="NVML cannot be loaded (libnvidia-ml.so.1: cannot open shared object file): no NVIDIA driver is visible here",
):
    f["driver"] = {"available": False, "error": error, "version": None, "cuda_version": None, "devices": []}
    f["container"].update(docker=False, podman=False, kubernetes=False, dev_nvidia=[])


def test_a_healthy_h200_passes_every_check_and_tf32_off_is_not_a_warning():
    findings = diagnose(facts())
    assert severities(findings) == {"pass"}
    assert headline(findings, H200) == f"GPU ready: all {len(findings)} checks passed"
    [capabilities] = by_id(findings, "capabilities")
    assert "TF32: yes, off for fp32 matmuls (PyTorch's default" in capabilities["cause"]
    assert "FP8 matmul (torch._scaled_mm): yes" in capabilities["cause"]
    [smoke] = by_id(findings, "smoke-test")
    assert "matrix multiplication and elementwise kernel gave the CPU's result" in smoke["cause"]


def test_a_hung_pytorch_check_is_reported_as_hung_never_as_not_installed():
    def hang(f):
        f["torch"] = None
        f["hung"] = [{"part": "torch", "step": "torch.cuda.init() (starting CUDA)", "seconds": 30.0}]

    findings = diagnose(facts(hang))
    [hung] = by_id(findings, "hung")
    assert hung["severity"] == "fail"
    assert hung["title"] == "The PyTorch check hung: no answer within 30 s"
    assert "It was at: torch.cuda.init() (starting CUDA)." in hung["cause"]
    assert "nvidia-smi" in hung["fix"] and "reset" in hung["fix"]
    text = everything(findings)
    assert "not installed" not in text and "pip install" not in text


def test_a_hung_driver_read_is_not_reported_as_a_missing_driver():
    def hang(f):
        f["driver"] = None
        f["hung"] = [{"part": "driver", "step": "reading GPU 0 through NVML", "seconds": 30.0}]

    findings = diagnose(facts(hang))
    assert by_id(findings, "hung")[0]["title"].startswith("Reading the NVIDIA driver hung")
    assert not by_id(findings, "no-driver") and "install the NVIDIA driver" not in everything(findings)


def test_facts_of_version_1_with_a_timeout_sentence_are_still_read_as_a_hang():
    old = json.loads((FACTS / "h100-facts1.json").read_text())
    old["torch"] = None
    old["timeouts"] = ["torch did not finish within 30 s (a hung CUDA call?)"]
    findings = diagnose(old)
    assert by_id(findings, "hung") and not by_id(findings, "no-torch")


def test_rtx_5090_on_driver_570_gets_the_cu128_wheel_that_runs_there_not_cu130():
    cu126 = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]

    def rtx(f):
        on_gpu(f, "NVIDIA GeForce RTX 5090", "12.0", cu126, ("2.6.0+cu126", "12.6"))
        f["driver"].update(version="570.86.15", cuda_version="12.8")
        f["torch"]["smoke"][0]["elementwise"] = {
            "ok": False,
            "max_error": None,
            "non_finite": False,
            "error": "AcceleratorError: CUDA error: no kernel image is available for execution on the device",
        }
        f["torch"]["smoke"][0]["ok"] = False

    findings = diagnose(facts(rtx))
    [arch] = by_id(findings, "arch-not-covered")
    assert arch["severity"] == "fail"
    assert (
        'pip install --force-reinstall "torch==2.11.*" --index-url https://download.pytorch.org/whl/cu128'
        in arch["fix"]
    )
    assert "cu130" not in arch["fix"].split("A driver")[0]  # the command itself is not a cu13x wheel
    assert "A driver ≥ 580.65.06 would allow torch 2.15 (cu132)." in arch["fix"]
    # The elementwise smoke test fails with the real text and points at that finding.
    [smoke] = by_id(findings, "smoke-test")
    assert "no kernel image" in smoke["cause"] and "see the arch-list finding" in smoke["fix"]


def test_an_aarch64_t4g_is_told_no_wheel_exists_there_not_offered_an_x86_64_one():
    def t4g(f):
        on_gpu(
            f, "NVIDIA T4G", "7.5", ["sm_80", "sm_90", "sm_100", "sm_110", "sm_120", "compute_120"], ("2.14.0", "13.0")
        )
        f["platform"]["machine"] = "aarch64"

    [arch] = by_id(diagnose(facts(t4g)), "arch-not-covered")
    assert "No published torch wheel for Linux aarch64" in arch["fix"]
    assert "index-url" not in arch["fix"]
    assert "The Linux x86_64 wheels do cover it." in arch["fix"]


def test_a_nan_smoke_result_is_a_failed_test_and_the_facts_stay_valid_json():
    def nan(f):
        f["torch"]["smoke"][0]["matmul"].update(ok=False, max_error=None, non_finite=True)
        f["torch"]["smoke"][0]["ok"] = False

    document = report_document(facts(nan))
    json.dumps(document, allow_nan=False)  # raises on NaN or Infinity
    [smoke] = by_id(document["findings"], "smoke-test")
    assert smoke["severity"] == "fail"
    assert smoke["cause"] == "The matrix multiplication gave NaN or infinity where the CPU gives finite numbers."
    assert document["worst"] == "fail"


@pytest.mark.parametrize(
    "kind, expect, absent",
    [
        ("kubernetes", "resources: {limits: {nvidia.com/gpu: 1}}", "docker run"),
        ("podman", "podman run --device nvidia.com/gpu=all", "docker run"),
        ("docker", "docker run --gpus all", "nvidia.com/gpu: 1"),
    ],
)
def test_containers_without_a_gpu_get_their_own_fix_never_install_the_driver(kind, expect, absent):
    def container(f):
        no_driver(f)
        f["container"][kind] = True

    findings = diagnose(facts(container))
    [finding] = by_id(findings, "no-gpu-in-container")
    assert finding["severity"] == "fail"  # the torch there is a CUDA build: the GPU is expected
    assert expect in finding["fix"] and absent not in finding["fix"]
    assert "There are no /dev/nvidia* device files." in finding["cause"]
    assert "install the NVIDIA driver" not in everything(findings).lower()


def test_a_kubernetes_pod_is_recognised_even_where_docker_left_its_marker():
    def pod(f):
        no_driver(f)
        f["container"].update(docker=True, kubernetes=True)

    [finding] = by_id(diagnose(facts(pod)), "no-gpu-in-container")
    assert "Kubernetes pod" in finding["title"] and "KubeSpawner" in finding["fix"]


def test_mig_on_with_no_instance_says_so_and_how_to_create_one_not_restart_the_kernel():
    def mig(f):
        f["driver"]["devices"][0]["mig_mode"] = {"current": True, "pending": True}
        f["driver"]["devices"][0]["mig"] = []
        f["torch"].update(
            cuda_available=False,
            init_error="RuntimeError: No CUDA GPUs are available",
            device_count=0,
            devices=[],
            arch_list=[],
            smoke=[],
        )

    findings = diagnose(facts(mig))
    [finding] = by_id(findings, "mig-no-instances")
    assert finding["severity"] == "fail"
    assert "nvidia-smi mig -i 0 -cgi <profile> -C" in finding["fix"] and "nvidia-smi -i 0 -mig 0" in finding["fix"]
    assert not by_id(findings, "cuda-init-failed")
    assert "Restart the kernel" not in everything(findings)


def test_mig_instances_are_listed_and_a_mig_uuid_in_cuda_visible_devices_is_understood():
    uuid = "MIG-5c89852c-d268-c3f3-1b07-005d5ae1dc3f"

    def mig(f):
        f["driver"]["devices"][0]["mig_mode"] = {"current": True, "pending": True}
        f["driver"]["devices"][0]["mig"] = [
            {"index": 0, "name": "NVIDIA H200 MIG 1g.18gb", "uuid": uuid, "memory_total": 19327352832}
        ]
        f["env"]["CUDA_VISIBLE_DEVICES"] = uuid

    findings = diagnose(facts(mig))
    [finding] = by_id(findings, "mig")
    assert (
        finding["severity"] == "pass"
        and uuid in finding["cause"]
        and "CUDA_VISIBLE_DEVICES picks it" in finding["cause"]
    )
    assert not by_id(findings, "cuda-visible-devices")


def test_cuda_visible_devices_empty_and_invalid_from_real_runs():
    empty = json.loads((FACTS / "h200-cvd-empty.json").read_text())
    [finding] = by_id(diagnose(empty), "cuda-visible-devices")
    assert finding["title"] == 'CUDA_VISIBLE_DEVICES="" hides every GPU'
    assert not by_id(diagnose(empty), "cuda-init-failed")  # explained, not repeated
    invalid = json.loads((FACTS / "h200-cvd-invalid.json").read_text())
    [finding] = by_id(diagnose(invalid), "cuda-visible-devices")
    assert finding["title"] == 'CUDA_VISIBLE_DEVICES="7" names a GPU that does not exist'
    assert "so no GPU is visible" in finding["cause"]


def test_a_cpu_only_wheel_on_a_gpu_machine_gets_the_cuda_wheel_for_this_gpu_and_driver():
    def cpu(f):
        f["torch"].update(
            version="2.13.0+cpu", cuda=None, cuda_built=False, cuda_available=False, devices=[], smoke=[], arch_list=[]
        )

    [finding] = by_id(diagnose(facts(cpu)), "cpu-only-wheel")
    assert finding["severity"] == "fail"
    assert (
        '`pip install --force-reinstall "torch==2.15.*" --index-url https://download.pytorch.org/whl/cu132`'
        in finding["fix"]
    )


def test_in_a_notebook_the_fix_installs_into_the_kernel_with_percent_pip():
    def cpu(f):
        f["torch"].update(version="2.13.0+cpu", cuda=None, cuda_built=False, devices=[], smoke=[])
        f["python"]["ipython"] = True

    [finding] = by_id(diagnose(facts(cpu)), "cpu-only-wheel")
    assert '`%pip install --force-reinstall "torch==2.15.*"' in finding["fix"]


def test_no_torch_with_a_driver_gets_the_install_command_for_this_gpu():
    [finding] = by_id(diagnose(facts(lambda f: f.update(torch=None))), "no-torch")
    assert finding["severity"] == "warn"
    assert (
        finding["fix"]
        == 'Install it: `pip install "torch==2.15.*" --index-url https://download.pytorch.org/whl/cu132` (torch 2.15 for CUDA 13.2: the newest build that has code for compute capability 9.0 and runs on this driver), then restart the kernel.'
    )


def test_a_cu130_wheel_on_a_cuda_12_driver_is_driver_too_old_with_the_wheel_that_runs():
    findings = diagnose(facts(lambda f: f["driver"].update(version="570.86.15", cuda_version="12.8")))
    [finding] = by_id(findings, "driver-too-old")
    assert finding["fix"].startswith(
        "Upgrade the NVIDIA driver to ≥ 580.65.06. Or install a torch that runs on this driver: "
    )
    # The newest release with code for 9.0 that a CUDA 12 driver runs: its cu126 build.
    assert '"torch==2.14.*" --index-url https://download.pytorch.org/whl/cu126' in finding["fix"]


def test_a_disabled_flash_backend_is_a_warning_with_the_line_that_turns_it_on():
    [finding] = by_id(diagnose(facts(lambda f: f["torch"]["sdpa"].update(flash=False))), "flash-sdpa-disabled")
    assert finding["severity"] == "warn" and finding["fix"] == "`torch.backends.cuda.enable_flash_sdp(True)`"


def test_a_t4_warns_that_bf16_is_emulated_and_says_what_it_lacks_without_a_tf32_warning():
    findings = diagnose(facts(lambda f: on_gpu(f, "Tesla T4", "7.5")))
    [bf16] = by_id(findings, "bf16-emulated")
    assert bf16["severity"] == "warn"
    [capabilities] = by_id(findings, "capabilities")
    assert (
        "TF32: no (needs 8.0)" in capabilities["cause"]
        and "flash attention (SDPA): no (needs 8.0" in capabilities["cause"]
    )
    assert [f["id"] for f in findings if f["severity"] == "warn"] == ["bf16-emulated"]


def test_macos_with_mps_passes_and_never_mentions_an_nvidia_driver():
    def mac(f):
        no_driver(f, "NVML cannot be loaded (macOS has no NVIDIA driver (CUDA does not exist on macOS))")
        f["platform"].update(system="Darwin", machine="arm64")
        f["torch"].update(
            version="2.14.0", cuda=None, cuda_built=False, devices=[], smoke=[], mps={"built": True, "available": True}
        )

    findings = diagnose(facts(mac))
    assert [f["id"] for f in findings] == ["mps"]
    assert 'torch.device("mps")' in findings[0]["fix"]
    assert "driver" not in findings[0]["fix"].lower()
    assert headline(findings, {}) == "GPU ready: the check passed"


def test_rocm_builds_are_judged_as_rocm_without_nvidia_driver_advice():
    def rocm(f):
        no_driver(f)
        f["torch"].update(version="2.14.0+rocm6.4", cuda=None, hip="6.4.43482", arch_list=["gfx90a", "gfx942"])
        f["torch"]["devices"][0].update(name="AMD Instinct MI300X", cc="9.4")

    findings = diagnose(facts(rocm))
    [finding] = by_id(findings, "rocm")
    assert finding["severity"] == "pass" and "AMD Instinct MI300X" in finding["cause"]
    assert not by_id(findings, "no-driver") and not by_id(findings, "arch-not-covered")
    assert "install the nvidia driver" not in everything(findings).lower()


def test_wsl_without_a_driver_is_told_to_install_it_on_windows_not_inside_wsl():
    def wsl(f):
        no_driver(f)
        f["container"]["wsl"] = True

    [finding] = by_id(diagnose(facts(wsl)), "no-driver-wsl")
    assert "installed on Windows" in finding["fix"] and "do not install a Linux driver inside WSL" in finding["fix"]


def test_windows_advice_says_the_arch_list_is_the_linux_ones():
    def windows(f):
        on_gpu(
            f,
            "NVIDIA GeForce GTX 1080",
            "6.1",
            ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
            ("2.14.0+cu130", "13.0"),
        )
        f["platform"].update(system="Windows", machine="AMD64")

    [arch] = by_id(diagnose(facts(windows)), "arch-not-covered")
    assert "cu126" in arch["fix"] and "The arch lists of Windows wheels are not recorded" in arch["fix"]


def test_a_machine_without_any_gpu_says_no_gpu_is_usable_not_zero_checks_passed():
    def laptop(f):
        no_driver(f)
        f["torch"].update(version="2.13.0+cpu", cuda=None, cuda_built=False, devices=[], smoke=[])

    findings = diagnose(facts(laptop))
    assert severities(findings) == {"warn"}
    assert headline(findings, {}) == "no GPU is usable in this environment, 2 warnings"


def test_facts_saved_by_version_1_are_judged_too():
    old = json.loads((FACTS / "h100-facts1.json").read_text())
    assert facts_problem(old) is None
    findings = diagnose(old)
    assert severities(findings) == {"pass"}
    assert by_id(findings, "smoke-test")[0]["title"] == "GPU 0 computes correctly"


def test_the_report_leaves_out_home_paths_and_the_user_name_unless_asked():
    def private(f):
        f["python"]["executable"] = "/home/alice/.venvs/ml/bin/python"
        f["env"]["CUDA_HOME"] = "/home/alice/cuda"

    redacted = redact(report_document(facts(private), include_private=True), home="/home/alice", user="alice")
    text = json.dumps(redacted)
    assert "alice" not in text
    assert redacted["facts"]["python"]["executable"] == "~/.venvs/ml/bin/python"
    kept = report_document(facts(private), include_private=True)
    assert kept["facts"]["python"]["executable"] == "/home/alice/.venvs/ml/bin/python" and kept["redacted"] is False


def test_markdown_and_text_renderings_carry_every_verdict_and_fix():
    def cpu(f):
        f["torch"].update(version="2.13.0+cpu", cuda=None, cuda_built=False, devices=[], smoke=[])

    document = report_document(facts(cpu))
    markdown, text = to_markdown(document), to_text(document)
    assert markdown.startswith("**GPU diagnostic: 1 problem to fix, 0 warnings**")
    assert "- ❌ **No CUDA in this torch build**" in markdown and "  - Fix: Install a CUDA build:" in markdown
    assert "FAIL  No CUDA in this torch build" in text and "      fix: Install a CUDA build:" in text
    assert f"jupyterlab-gpuscope {document['gpuscope']} (knowledge base {document['kb']}, checked 20" in text


def test_facts_quoted_in_the_markdown_render_as_text_never_as_html_or_markdown():
    from markdown_it import MarkdownIt

    hostile = '<img src=x onerror="alert(1)">`<script>x()</script>`[link](javascript:x)**b**'

    def hide(f):
        f["env"]["CUDA_VISIBLE_DEVICES"] = hostile
        f["driver"]["devices"] = f["driver"]["devices"][:1]

    document = report_document(facts(hide))
    assert any(hostile in f["title"] for f in document["findings"])  # the fact is quoted
    # Rendered with raw HTML allowed, as a trusted output's Markdown is.
    html = MarkdownIt("commonmark", {"html": True}).render(to_markdown(document))
    assert "<img" not in html and "<script" not in html and 'javascript:x"' not in html and "<strong>b" not in html
    assert "&lt;img src=x onerror=" in html  # still there, as text
    assert "<code>" in html  # the fixes' commands are still code


def test_every_rendering_names_sources_by_title_with_their_pages_never_by_key():
    def cpu(f):
        f["torch"].update(version="2.13.0+cpu", cuda=None, cuda_built=False, devices=[], smoke=[])

    document = report_document(facts(cpu))
    [finding] = by_id(document["findings"], "cpu-only-wheel")
    assert finding["sources"] and all(set(s) == {"key", "title", "url"} for s in finding["sources"])
    markdown, text = to_markdown(document), to_text(document)
    for source in finding["sources"]:
        assert source["key"] not in markdown and source["key"] not in text
        if source["url"]:
            assert f"]({source['url']})" in markdown and f"<{source['url']}>" in text
        assert source["title"] in text


def test_every_source_of_the_knowledge_base_has_a_title_and_an_https_page_or_none():
    from jupyterlab_gpuscope.kernel import knowledge

    known = knowledge.data()["sources"]
    assert all(len(s["title"]) >= 10 and (s["url"] is None or s["url"].startswith("https://")) for s in known.values())
    # Most can be followed: only logs quoted without a link and this project's own
    # recordings have no page.
    assert sum(1 for s in known.values() if s["url"] is None) <= 10


def test_on_a_multi_gpu_machine_the_report_gives_the_gpu_links_as_facts():
    """Multi-GPU training problems often start with the links: the diagnostic states them
    (as `nvidia-smi topo -m` names them), without judging them."""

    def two_linked(f):
        f["driver"]["devices"].append({**f["driver"]["devices"][0], "index": 1})
        f["driver"]["links"] = [{"gpus": [0, 1], "link": "NV18", "p2p_read": True}]

    [driver] = by_id(diagnose(facts(two_linked)), "driver")
    assert driver["severity"] == "pass"
    assert "GPU links (as `nvidia-smi topo -m`): GPU 0–GPU 1 NV18 (peer-to-peer: yes)" in driver["cause"]
    [single] = by_id(diagnose(facts()), "driver")
    assert "GPU links" not in single["cause"]


class _CtypesNVML:
    """Answers the libnvidia-ml calls _links makes, through ctypes byref arguments: two GPUs,
    joined by `nvlinks` NVLinks (0: none, then on two NUMA nodes)."""

    def __init__(self, nvlinks: int) -> None:
        self.nvlinks = nvlinks

    def nvmlDeviceGetHandleByIndex_v2(self, index, ref):
        ref._obj.value = index + 1
        return 0

    def nvmlDeviceGetPciInfo_v3(self, handle, ref):
        ref._obj.busId = f"00000000:{0x18 + handle.value:02X}:00.0".encode()
        return 0

    def nvmlDeviceGetNvLinkState(self, handle, link, ref):
        if link >= self.nvlinks:
            return 3  # NVML_ERROR_NOT_SUPPORTED
        ref._obj.value = 1
        return 0

    def nvmlDeviceGetNvLinkRemotePciInfo_v2(self, handle, link, ref):
        peer = 2 if handle.value == 1 else 1
        ref._obj.busId = f"00000000:{0x18 + peer:02X}:00.0".encode()
        return 0

    def nvmlDeviceGetTopologyCommonAncestor(self, a, b, ref):
        ref._obj.value = 50  # NVML_TOPOLOGY_SYSTEM
        return 0

    def nvmlDeviceGetP2PStatus(self, a, b, caps, ref):
        ref._obj.value = 0 if self.nvlinks else 4  # OK, or NVML_P2P_STATUS_NOT_SUPPORTED
        return 0


def test_the_collector_reads_the_gpu_links_through_libnvidia_ml():
    from jupyterlab_gpuscope.kernel.facts import _links

    assert _links(_CtypesNVML(nvlinks=18), 2) == [{"gpus": [0, 1], "link": "NV18", "p2p_read": True}]
    assert _links(_CtypesNVML(nvlinks=0), 2) == [{"gpus": [0, 1], "link": "SYS", "p2p_read": False}]


# ---- what the knowledge base did not know, and states it read wrongly ----------------------


def test_jetson_thor_driver_numbered_apart_is_judged_by_its_cuda_version_not_too_old():
    def thor(f):
        on_gpu(f, "NVIDIA Thor", "11.0", ["sm_80", "sm_90", "sm_100", "sm_110", "sm_120"], ("2.14.0", "13.0"))
        f["driver"].update(version="580.00", cuda_version="13.0")
        f["platform"]["machine"] = "aarch64"

    findings = diagnose(facts(thor))
    assert not by_id(findings, "driver-too-old")
    assert by_id(findings, "cuda-available")


def test_a_kepler_gpu_is_never_told_to_upgrade_past_its_last_driver_branch():
    def k80(f):
        on_gpu(f, "Tesla K80", "3.7", ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"], ("2.14.0", "13.0"))
        f["driver"].update(version="470.256.02", cuda_version="11.4")

    [too_old] = by_id(diagnose(facts(k80)), "driver-too-old")
    assert "R470 is their last driver branch" in too_old["fix"]
    assert "Upgrade the NVIDIA driver" not in too_old["fix"]
    assert "torch==2.5.*" in too_old["fix"] and "cu118" in too_old["fix"]


def test_under_wsl_the_driver_to_upgrade_is_the_windows_one():
    def wsl(f):
        f["driver"].update(version="535.104.05", cuda_version="12.2")
        f["container"]["wsl"] = True

    [too_old] = by_id(diagnose(facts(wsl)), "driver-too-old")
    assert too_old["fix"].startswith("Upgrade the NVIDIA driver on Windows (WSL uses it)")


def test_a_driver_library_mismatch_after_an_upgrade_asks_for_a_reboot_not_an_install():
    findings = diagnose(facts(lambda f: no_driver(f, "NVML: Driver/library version mismatch")))
    [mismatch] = by_id(findings, "driver-library-mismatch")
    assert "Reboot" in mismatch["fix"] and "Do not reinstall" in mismatch["fix"]
    assert not by_id(findings, "no-driver")
    assert "install the NVIDIA driver" not in everything(findings)


def test_a_rocm_build_on_an_nvidia_machine_gets_the_cuda_wheel_not_amd_advice():
    def rocm(f):
        f["torch"].update(
            version="2.14.0+rocm6.4", cuda=None, hip="6.4.43482", cuda_available=False, device_count=0, devices=[]
        )

    findings = diagnose(facts(rocm))
    [wrong] = by_id(findings, "rocm-build-on-nvidia")
    assert wrong["severity"] == "fail" and "NVIDIA H200" in wrong["title"]
    assert "download.pytorch.org/whl/cu" in wrong["fix"]
    assert "rocm-smi" not in everything(findings) and "/dev/kfd" not in everything(findings)


def test_two_kinds_of_gpu_without_pci_bus_order_are_warned_of_and_with_it_are_not():
    def mixed(f, order=None):
        first = f["driver"]["devices"][0]
        f["driver"]["devices"] = [first, dict(first, index=1, name="NVIDIA RTX A4000", cc="8.6")]
        if order:
            f["env"]["CUDA_DEVICE_ORDER"] = order
        else:
            f["env"].pop("CUDA_DEVICE_ORDER", None)

    [order] = by_id(diagnose(facts(mixed)), "device-order")
    assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in order["fix"]
    assert not by_id(diagnose(facts(lambda f: mixed(f, "PCI_BUS_ID"))), "device-order")
    assert not by_id(diagnose(facts()), "device-order")  # two H200s: the same either way


def test_a_matmul_failing_in_cublas_for_lack_of_code_is_not_blamed_on_hardware():
    def pascal(f):
        on_gpu(f, "Tesla P100-PCIE-16GB", "6.0", ["sm_50", "sm_60", "sm_70"], ("2.14.0", "13.0"))
        f["torch"]["smoke"][0]["matmul"] = {
            "ok": False,
            "error": "CUDA error: CUBLAS_STATUS_ARCH_MISMATCH when calling `cublasSgemm( handle, opa, opb, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc)`",
        }

    [smoke] = [f for f in by_id(diagnose(facts(pascal)), "smoke-test") if f["severity"] == "fail"]
    assert "the GPU and the driver are fine" in smoke["cause"]
    assert "faulty hardware" not in smoke["fix"] and "cu126" in smoke["fix"]


def test_flash_attention_3_is_said_to_run_on_hopper_only():
    def blackwell(f):
        on_gpu(f, "NVIDIA B200", "10.0")

    [capabilities] = by_id(diagnose(facts(blackwell)), "capabilities")
    assert "FlashAttention-3: no (only on 9.0)" in capabilities["cause"]
    [hopper] = by_id(diagnose(facts()), "capabilities")
    assert "FlashAttention-3: yes" in hopper["cause"]


def test_a_torch_newer_than_the_knowledge_and_an_unknown_gpu_are_said_so_not_guessed():
    def future(f):
        f["torch"]["version"] = "9.1.0+cu190"
        f["driver"]["devices"][0].update(name="NVIDIA Z900", cc="15.0")

    findings = diagnose(facts(future))
    [newer] = by_id(findings, "newer-than-knowledge")
    assert newer["severity"] == "warn" and "torch 9.1 is newer than this gpuscope knows" in newer["title"]
    [unknown] = by_id(findings, "unknown-gpu")
    assert "compute capability 15.0" in unknown["title"] and unknown["severity"] == "warn"


def test_a_hung_torch_check_footer_says_not_checked_never_not_installed():
    def hang(f):
        f["torch"] = None
        f["hung"] = [{"part": "torch", "step": "torch.cuda.init()", "seconds": 30.0}]

    text = to_text(report_document(facts(hang)))
    assert "torch not checked (the check hung)" in text
    assert "not installed" not in text

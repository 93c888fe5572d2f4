"""The sampler keeps going through every NVML failure, and says why a field is missing."""

from __future__ import annotations

import json
import time

import psutil
import pynvml
import pytest

from jupyterlab_gpuscope.monitor.backends import NoneBackend, NvmlBackend, ReplayBackend
from jupyterlab_gpuscope.monitor.sampler import Sampler

from .fake_nvml import RESERVED, FakeNVML, GiB


def make_sampler(fake: FakeNVML, **kwargs) -> Sampler:
    options = {"interval": 1.0, "history_seconds": 60, "call_timeout": 0.2, "reopen_seconds": 0.0}
    options.update(kwargs)
    return Sampler(NvmlBackend(nvml=fake), configured="nvml", **options)


def last_sample(sampler: Sampler) -> dict:
    return json.loads(sampler.samples_since(sampler.buffer.last_seq - 1)[0])


def test_healthy_reading_has_every_field():
    fake = FakeNVML(gpus=2)
    fake.memory_used[1] = 40 * GiB
    fake.util[1] = 87
    fake.gpm[1] = {"sm_util": 61.5, "tensor_util": 40.0, "dram_util": 12.25}
    fake.nvlink[1] = {"links": 18, "tx_kib": 0, "rx_kib": 0}
    sampler = make_sampler(fake)
    sampler.subscribe(lambda payload: None)  # someone watches: every field every tick
    sampler.tick()
    fake.nvlink[1] = {"links": 18, "tx_kib": 5_000_000, "rx_kib": 1_000_000}
    sampler.tick()  # GPM and NVLink throughput are differences between two readings
    status = sampler.status()
    assert status["status"] == "ok" and status["live"] is True
    assert status["driver_version"] == "580.159.04"
    assert status["cuda_driver_version"] == "13.0"
    assert [d["compute_capability"] for d in status["devices"]] == ["9.0", "9.0"]
    gpu = last_sample(sampler)["gpus"][1]
    assert gpu["memory_used"] == 40 * GiB and gpu["util_gpu"] == 87
    assert gpu["throttle_reasons"] == ["sw_power_cap", "sw_thermal_slowdown"]
    assert (gpu["sm_util"], gpu["tensor_util"], gpu["dram_util"]) == (61.5, 40.0, 12.25)
    assert (gpu["nvlink_tx_kbs"], gpu["nvlink_rx_kbs"]) == (5_000_000, 1_000_000)  # KiB over 1 s
    assert gpu["unavailable"] == {}
    assert status["devices"][1]["nvlink_links"] == 18 and status["devices"][1]["gpm_supported"] is True


def test_memory_used_leaves_out_the_driver_reserve_like_nvidia_smi():
    fake = FakeNVML()
    fake.memory_used[0] = 8 * GiB
    sampler = make_sampler(fake)
    sampler.tick()
    assert last_sample(sampler)["gpus"][0]["memory_used"] == 8 * GiB


def test_older_driver_without_memory_v2_falls_back_to_v1():
    fake = FakeNVML()
    fake.has_memory_v2 = False
    fake.memory_used[0] = 8 * GiB
    sampler = make_sampler(fake)
    sampler.tick()
    assert sampler.status()["status"] == "ok"
    assert last_sample(sampler)["gpus"][0]["memory_used"] == 8 * GiB + RESERVED


def test_not_supported_field_is_null_with_reason_and_not_asked_again():
    fake = FakeNVML()
    fake.fail("nvmlDeviceGetFanSpeed", pynvml.NVML_ERROR_NOT_SUPPORTED)
    sampler = make_sampler(fake)
    sampler.tick()
    sampler.tick()
    gpu = last_sample(sampler)["gpus"][0]
    assert gpu["fan"] is None
    assert gpu["unavailable"]["fan"] == "not supported on this GPU"
    assert gpu["temp_c"] == 41  # the other fields are still read
    assert fake.calls_by_name["nvmlDeviceGetFanSpeed"] == 1  # not asked again on the second tick
    assert fake.calls_by_name["nvmlDeviceGetTemperature"] == 2
    del fake.faults[("nvmlDeviceGetFanSpeed", None)]
    sampler.tick()
    assert last_sample(sampler)["gpus"][0]["fan"] is None  # remembered until NVML reopens


def test_no_permission_on_one_device_only():
    fake = FakeNVML(gpus=2)
    fake.fail("nvmlDeviceGetPowerUsage", pynvml.NVML_ERROR_NO_PERMISSION, device=0)
    sampler = make_sampler(fake)
    sampler.tick()
    gpus = last_sample(sampler)["gpus"]
    assert gpus[0]["power_mw"] is None and gpus[0]["unavailable"]["power_mw"] == "no permission to read it"
    assert gpus[1]["power_mw"] == 123456


def test_gpu_lost_mid_run_then_back():
    fake = FakeNVML(gpus=2)
    sampler = make_sampler(fake)
    sampler.tick()
    fake.lost.add(1)
    sampler.tick()
    gpus = last_sample(sampler)["gpus"]
    assert gpus[0]["status"] == "ok" and gpus[0]["memory_used"] == GiB
    assert gpus[1]["status"] == "lost"
    assert "lost" in gpus[1]["reason"] and gpus[1]["memory_used"] is None
    fake.lost.clear()
    sampler.tick()  # reopen_seconds=0: this tick reinitialises NVML and reads again
    assert last_sample(sampler)["gpus"][1]["status"] == "ok"


def test_init_failure_then_recovery():
    fake = FakeNVML()
    fake.init_error = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    sampler = make_sampler(fake)
    sampler.tick()
    status = sampler.status()
    assert status["status"] == "unavailable"
    assert "the NVIDIA driver is not loaded" in status["reason"]
    assert sampler.buffer.last_seq == 0  # no invented samples
    fake.init_error = None
    sampler.tick()
    assert sampler.status()["status"] == "ok"
    assert sampler.buffer.last_seq == 1


def test_missing_library_with_auto_reports_none_backend():
    fake = FakeNVML()
    fake.init_error = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    sampler = Sampler(NvmlBackend(nvml=fake), configured="auto", interval=1, history_seconds=10)
    sampler.tick()
    status = sampler.status()
    assert status["backend"] == "none"
    assert status["configured_backend"] == "auto"
    assert "libnvidia-ml.so was not found" in status["reason"]
    assert status["devices"] == []


def test_driver_disappears_mid_run():
    fake = FakeNVML()
    sampler = make_sampler(fake)
    sampler.tick()
    fake.fail("nvmlDeviceGetMemoryInfo", pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    sampler.tick()
    assert sampler.status()["status"] == "unavailable"
    assert "driver is not loaded" in sampler.status()["reason"]
    fake.faults.clear()
    sampler.tick()
    assert sampler.status()["status"] == "ok"


def test_random_exception_costs_one_field():
    fake = FakeNVML()
    sampler = make_sampler(fake)
    fake.fail("nvmlDeviceGetTemperature", 999)  # an error code NVML does not define
    sampler.tick()
    gpu = last_sample(sampler)["gpus"][0]
    assert gpu["temp_c"] is None and gpu["unavailable"]["temp_c"]
    assert gpu["memory_used"] == GiB


def test_hung_call_marks_the_sample_and_the_sampler_goes_on():
    fake = FakeNVML()
    sampler = make_sampler(fake, call_timeout=0.2)
    sampler.tick()
    release = fake.hang("nvmlDeviceGetUtilizationRates")
    started = time.monotonic()
    sampler.tick()
    assert time.monotonic() - started < 1.0
    gpu = last_sample(sampler)["gpus"][0]
    assert gpu["status"] == "unavailable"
    assert "did not answer within 0.2 s" in gpu["reason"]
    sampler.tick()  # still hung: no second call piles up behind the first
    assert sampler.hung_calls == 1
    release.set()
    del fake.hangs["nvmlDeviceGetUtilizationRates"]
    time.sleep(0.05)
    sampler.tick()
    assert last_sample(sampler)["gpus"][0]["status"] == "ok"
    assert sampler.stats()["hung_calls"] == 1


def test_sampler_thread_survives_faults_and_stops():
    fake = FakeNVML()
    sampler = make_sampler(fake, interval=0.25)
    sampler.start()
    try:
        time.sleep(0.4)
        fake.lost.add(0)
        time.sleep(0.6)
        fake.lost.clear()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and last_sample(sampler)["gpus"][0]["status"] != "ok":
            time.sleep(0.1)
        assert last_sample(sampler)["gpus"][0]["status"] == "ok"
        assert sampler.stats()["ticks"] >= 3
    finally:
        sampler.stop()
    assert not sampler._thread.is_alive()


def test_history_is_bounded():
    fake = FakeNVML()
    sampler = make_sampler(fake, interval=1.0, history_seconds=5)
    for _ in range(12):
        sampler.tick()
    assert sampler.buffer.capacity == 5
    seqs = [json.loads(s)["seq"] for s in sampler.samples_since(0)]
    assert seqs == [8, 9, 10, 11, 12]
    assert [json.loads(s)["seq"] for s in sampler.samples_since(10)] == [11, 12]


def test_none_backend_never_retries():
    sampler = Sampler(NoneBackend(), configured="none", interval=1, history_seconds=10)
    sampler.tick()
    sampler.tick()
    status = sampler.status()
    assert status["status"] == "unavailable" and status["live"] is False
    assert "turned off" in status["reason"] and "retrying" not in status["reason"]


def test_replay_follows_recorded_timing():
    now = [100.0]
    backend = ReplayBackend(clock=lambda: now[0])
    system = backend.open()
    assert system.source["kind"] == "replay"
    assert system.devices[0]["name"] == "NVIDIA H200"
    first = backend.read().gpus[0]
    assert first["memory_used"] == 644939776 and backend.phase == "idle"
    assert first["fan"] is None and first["unavailable"]["fan"] == "not supported (as recorded)"
    now[0] += 40  # well into the recording: a later phase with more memory in use
    assert backend.phase != "idle"
    now[0] += system.source["duration_seconds"]  # one loop later: the same frame
    phase = backend.phase
    now[0] -= system.source["duration_seconds"]
    assert backend.phase == phase


def test_replay_bad_trace_gives_reason(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "devices"\n')
    sampler = Sampler(ReplayBackend(bad), configured="replay", interval=1, history_seconds=10)
    sampler.tick()
    assert "is not JSON lines" in sampler.status()["reason"]
    sampler = Sampler(ReplayBackend(tmp_path / "missing.jsonl"), configured="replay", interval=1, history_seconds=10)
    sampler.tick()
    assert "cannot be read" in sampler.status()["reason"]


@pytest.mark.parametrize("interval", [0.25, 1.0, 2.0])
def test_capacity_follows_interval(interval):
    sampler = Sampler(NoneBackend(), configured="none", interval=interval, history_seconds=3600)
    assert sampler.buffer.capacity == int(3600 / interval)


def test_a_gpu_without_nvlink_or_gpm_says_why_not_zero():
    """The H200 the traces were recorded on is a PCIe card: no NVLink. A100-class GPUs have no GPM."""
    fake = FakeNVML(gpus=1)
    fake.gpm_supported = False
    sampler = make_sampler(fake)
    sampler.subscribe(lambda payload: None)
    sampler.tick()
    sampler.tick()
    gpu = last_sample(sampler)["gpus"][0]
    assert gpu["nvlink_rx_kbs"] is None and "no active NVLink" in gpu["unavailable"]["nvlink_rx_kbs"]
    assert gpu["sm_util"] is None and "Hopper" in gpu["unavailable"]["sm_util"]
    assert gpu["gpm_window_s"] is None and "Hopper" in gpu["unavailable"]["gpm_window_s"]
    assert gpu["util_gpu"] == 0  # the classic figure is still there
    device = sampler.status()["devices"][0]
    assert device["nvlink_links"] == 0 and device["gpm_supported"] is False


def test_slow_fields_are_read_less_often_when_they_would_take_over_a_quarter_of_the_interval():
    """Eight GPUs whose PCIe reads take 40 ms each (as two 21 ms calls do on an H200): at a
    1 s interval, each GPU reads them every other tick, half of the GPUs a tick."""
    import time as clock

    fake = FakeNVML(gpus=8)
    slow = fake.__getattr__("nvmlDeviceGetPcieThroughput")

    def pcie(*args):
        clock.sleep(0.02)
        return slow(*args)

    fake.__dict__["nvmlDeviceGetPcieThroughput"] = pcie
    sampler = make_sampler(fake, call_timeout=5.0)
    sampler.subscribe(lambda payload: None)  # someone watches
    for _ in range(4):
        sampler.tick()
    before = fake.calls_by_name["nvmlDeviceGetPcieThroughput"]
    sampler.tick()
    sampler.tick()
    per_tick = (fake.calls_by_name["nvmlDeviceGetPcieThroughput"] - before) / 2
    assert sampler.backend._cadence.period == 2
    assert per_tick == 8  # 4 GPUs x 2 calls, not 16
    # Between reads a GPU repeats its last values: no hole in the PCIe chart.
    assert all(g["pcie_rx_kbs"] is not None for g in last_sample(sampler)["gpus"])


def test_devices_give_the_topology_as_nvidia_smi_topo_prints_it():
    """Two GPUs joined by 18 NVLinks (as the 2xH200 machine: NV18 both ways), one without."""
    fake = FakeNVML(gpus=2)
    fake.nvlink = {0: {"links": 18, "tx_kib": 0, "rx_kib": 0}, 1: {"links": 18, "tx_kib": 0, "rx_kib": 0}}
    sampler = make_sampler(fake)
    sampler.tick()
    topology = sampler.status()["topology"]
    assert topology["links"] == [["X", "NV18"], ["NV18", "X"]]
    assert topology["p2p_read"] == [[None, True], [True, None]]
    assert topology["affinity"] == [{"cpus": "0-15", "numa_node": 0}, {"cpus": "16-31", "numa_node": 1}]
    plain = FakeNVML(gpus=2)
    sampler = make_sampler(plain)
    sampler.tick()
    assert sampler.status()["topology"]["links"] == [["X", "NODE"], ["NODE", "X"]]


def test_a_link_that_is_down_is_not_counted_and_the_links_after_it_are():
    """Link 0 down, links 1 to 17 up: NV17 as nvidia-smi prints it, not the first 17 numbers."""
    fake = FakeNVML(gpus=2)
    fake.nvlink = {i: {"links": 18, "down": {0}, "tx_kib": 0, "rx_kib": 0} for i in (0, 1)}
    sampler = make_sampler(fake)
    sampler.tick()
    status = sampler.status()
    assert status["topology"]["links"] == [["X", "NV17"], ["NV17", "X"]]
    assert [d["nvlink_links"] for d in status["devices"]] == [17, 17]


def test_while_no_one_watches_the_slow_fields_are_read_every_ten_seconds_only():
    fake = FakeNVML(gpus=1)
    sampler = make_sampler(fake)
    viewer = lambda payload: None  # noqa: E731
    sampler.subscribe(viewer)
    for _ in range(3):
        sampler.tick()
    assert fake.calls_by_name["nvmlDeviceGetPcieThroughput"] == 6  # two calls every tick
    sampler.unsubscribe(viewer)
    before = fake.calls_by_name["nvmlDeviceGetPcieThroughput"]
    for _ in range(20):
        sampler.tick()
    assert fake.calls_by_name["nvmlDeviceGetPcieThroughput"] - before == 2 * 2  # twice in 20 s
    assert last_sample(sampler)["gpus"][0]["pcie_rx_kbs"] is not None  # the last value read


def test_a_gpu_that_uses_system_memory_shows_the_systems_memory_labelled_shared():
    # A GB10 (12.1): NVML has no memory of its own for it.
    fake = FakeNVML(gpus=1)
    fake.cc = (12, 1)
    fake.fail("nvmlDeviceGetMemoryInfo", pynvml.NVML_ERROR_NOT_SUPPORTED)
    sampler = make_sampler(fake)
    sampler.tick()
    [device] = sampler.status()["devices"]
    total = psutil.virtual_memory().total
    assert device["memory_shared"] is True and device["memory_total"] == total
    assert "memory_total" not in device["unavailable"]
    gpu = last_sample(sampler)["gpus"][0]
    assert gpu["memory_total"] == total and 0 < gpu["memory_used"] <= total
    assert "memory_used" not in gpu["unavailable"]


def test_a_discrete_gpu_without_memory_readings_stays_n_a_with_its_reason():
    fake = FakeNVML(gpus=1)
    fake.fail("nvmlDeviceGetMemoryInfo", pynvml.NVML_ERROR_NOT_SUPPORTED)
    sampler = make_sampler(fake)
    sampler.tick()
    [device] = sampler.status()["devices"]
    assert device["memory_shared"] is False and device["memory_total"] is None
    gpu = last_sample(sampler)["gpus"][0]
    assert gpu["memory_used"] is None and gpu["unavailable"]["memory_used"]


def test_gpm_activity_carries_the_seconds_it_averages_over(monkeypatch):
    """GPM figures average over the time between two GPM readings: 10 s while no one
    watches, so an idle GPU can read busy for 10 s after a job ended. The window says so."""
    from jupyterlab_gpuscope.monitor.backends import gpm

    clock = iter([100.0, 110.0])
    monkeypatch.setattr(gpm.GpmReader, "_now", staticmethod(lambda: next(clock)))
    fake = FakeNVML(gpus=1)
    fake.gpm[0] = {"sm_util": 85.0, "tensor_util": 0.0, "dram_util": 3.0}
    sampler = make_sampler(fake)
    sampler.subscribe(lambda payload: None)
    sampler.tick()
    first = last_sample(sampler)["gpus"][0]
    assert first["gpm_window_s"] is None and "two GPM readings" in first["unavailable"]["gpm_window_s"]
    sampler.tick()
    gpu = last_sample(sampler)["gpus"][0]
    assert gpu["sm_util"] == 85.0 and gpu["gpm_window_s"] == 10.0

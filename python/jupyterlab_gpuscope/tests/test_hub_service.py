"""The gpuscope Hub service's parts without a Hub: the targets Prometheus is given, the class
view from Prometheus's answers, the idle policy over time, the files `gpuscope-hub-setup`
writes (checked by Prometheus's own promtool), and its settings' messages."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess

import bcrypt
import pytest

from jupyterlab_gpuscope.hub import install
from jupyterlab_gpuscope.hub.app import GPUScopeHub
from jupyterlab_gpuscope.hub.classview import class_view
from jupyterlab_gpuscope.hub.hubapi import HubAPI
from jupyterlab_gpuscope.hub.reclaim import IdleRule, ReclaimPolicy
from jupyterlab_gpuscope.hub.targets import scrape_targets

from .test_shared_gpus_policy import FakeClock

GiB = 2**30
SLICE = 16.5 * GiB  # an H200's 1g.18gb instance holds about this much


def user(name, servers=None, roles=("user", "student")):
    servers = {"": {"ready": True, "url": f"/user/{name}/"}} if servers is None else servers
    return {"name": name, "servers": servers, "roles": list(roles)}


def test_prometheus_is_given_each_ready_server_through_the_proxy_with_the_hubs_names():
    users = [
        user("ada"),
        user("bob", {"": {"ready": False, "url": "/user/bob/"}, "gpu": {"ready": True, "url": "/user/bob/gpu/"}}),
        user("cy", {}),
    ]
    targets = scrape_targets(users, "https://hub.example.org:8443")
    assert targets == [
        {
            "targets": ["hub.example.org:8443"],
            "labels": {
                "__scheme__": "https",
                "__metrics_path__": "/user/ada/gpuscope/metrics",
                "user": "ada",
                "server": "",
            },
        },
        {
            "targets": ["hub.example.org:8443"],
            "labels": {
                "__scheme__": "https",
                "__metrics_path__": "/user/bob/gpu/gpuscope/metrics",
                "user": "bob",
                "server": "gpu",
            },
        },
    ]


def series(user_name, value, **labels):
    return {"user": user_name, "node": "n1", "gpu": "0", "gpu_uuid": "GPU-a", "value": value, **labels}


def a_class() -> dict:
    """Three students on one H200 in MIG mode, one 1g.18gb instance each: ada holds 12 GiB
    (peak 14), bob 2 GiB and idle 20 min (peak 17.5: above a slice), cy's server reports
    nothing (down)."""
    on = {"mig_instance": "MIG-1", "mig_profile": "1g.18gb"}
    on_b = {"mig_instance": "MIG-2", "mig_profile": "1g.18gb"}
    return {
        "user_memory": [series("ada", 12 * GiB, **on), series("bob", 2 * GiB, **on_b)],
        "user_peak": [series("ada", 14 * GiB, **on), series("bob", 17.5 * GiB, **on_b)],
        "user_limit": [series("ada", SLICE, **on), series("bob", SLICE, **on_b)],
        "kernel_memory": [
            series("ada", 12 * GiB, kernel="k-ada", **on),
            series("bob", 2 * GiB, kernel="k-bob", **on_b),
        ],
        "kernel_idle": [series("ada", 0.0, kernel="k-ada", **on), series("bob", 1200.0, kernel="k-bob", **on_b)],
        "kernel_util": [series("ada", 0.85, kernel="k-ada", **on)],
        "gpu_used": [
            {"node": "n1", "gpu": "0", "gpu_uuid": "GPU-a", "name": "NVIDIA H200", "backend": "nvml", "value": 20 * GiB}
        ],
        "gpu_total": [
            {
                "node": "n1",
                "gpu": "0",
                "gpu_uuid": "GPU-a",
                "name": "NVIDIA H200",
                "backend": "nvml",
                "value": 140 * GiB,
            }
        ],
        "mig_used": [
            {"node": "n1", "gpu": "0", "gpu_uuid": "GPU-a", **on, "value": 12.2 * GiB},
            {"node": "n1", "gpu": "0", "gpu_uuid": "GPU-a", **on_b, "value": 2.1 * GiB},
        ],
        "mig_total": [
            {"node": "n1", "gpu": "0", "gpu_uuid": "GPU-a", **on, "value": SLICE},
            {"node": "n1", "gpu": "0", "gpu_uuid": "GPU-a", **on_b, "value": SLICE},
        ],
        "live": [{"backend": "nvml", "user": "ada", "value": 1}, {"backend": "nvml", "user": "bob", "value": 1}],
        "up": [{"user": "ada", "value": 1}, {"user": "bob", "value": 1}, {"user": "cy", "value": 0}],
    }


def test_the_class_view_gives_each_student_their_memory_peak_limit_and_idle_kernels():
    view = class_view([user("ada"), user("bob"), user("cy")], a_class(), window="12h", configured_sizes={})
    students = {s["user"]: s for s in view["students"]}
    ada, bob, cy = students["ada"], students["bob"], students["cy"]
    assert (ada["memory"], ada["peak"], ada["limit"]) == (12 * GiB, 14 * GiB, SLICE)
    assert ada["limit_used"] == pytest.approx(12 / 16.5) and ada["sm_utilization"] == 0.85
    assert bob["idle_holding_seconds"] == 1200 and bob["kernels"][0]["mig_profile"] == "1g.18gb"
    assert cy["reporting"] is False and cy["memory"] == 0 and cy["kernels"] == []
    assert view["live"] is True


def test_the_class_view_shows_each_mig_instance_with_who_is_on_it_and_its_free_memory():
    [gpu] = class_view([user("ada"), user("bob")], a_class(), window="12h", configured_sizes={})["gpus"]
    assert gpu["students"] == ["ada", "bob"] and gpu["idle_students"] == ["bob"]
    assert [(i["mig_profile"], i["students"], i["free"]) for i in gpu["instances"]] == [
        ("1g.18gb", ["ada"], pytest.approx(SLICE - 12.2 * GiB)),
        ("1g.18gb", ["bob"], pytest.approx(SLICE - 2.1 * GiB)),
    ]


def test_right_sizing_counts_the_students_whose_peak_fits_each_size():
    view = class_view(
        [user("ada"), user("bob"), user("cy")], a_class(), window="12h", configured_sizes={"a 10 GiB limit": 10 * GiB}
    )
    lines = {line["size"]: line for line in view["right_sizing"]}
    # cy's server reports nothing: sized from the two who do.
    assert (lines["a 10 GiB limit"]["fits"], lines["a 10 GiB limit"]["above"]) == (0, ["ada", "bob"])
    assert (lines["a 1g.18gb slice"]["fits"], lines["a 1g.18gb slice"]["of"]) == (1, 2)
    assert lines["a 1g.18gb slice"]["above"] == ["bob"]
    assert lines["a whole NVIDIA H200"]["fits"] == 2
    assert [line["size"] for line in view["right_sizing"]][0] == "a 10 GiB limit"  # smallest first


def test_replayed_readings_make_the_class_view_say_so():
    results = a_class()
    results["live"][1] = {"backend": "replay", "user": "bob", "value": 0}
    view = class_view([user("ada"), user("bob")], results, window="12h", configured_sizes={})
    assert view["live"] is False and view["backends"] == ["nvml", "replay"]


def kernel(user_name="ada", idle=0.0, name="k1"):
    return {"user": user_name, "server": "", "kernel": name, "idle_seconds": idle}


def test_the_idle_policy_nudges_first_and_shuts_down_only_after_the_grace_period():
    clock = FakeClock()
    policy = ReclaimPolicy({"student": IdleRule(10, 30)}, clock)
    roles = {"ada": ["user", "student"]}
    assert policy.decide([kernel(idle=9 * 60)], roles) == []
    [nudge] = policy.decide([kernel(idle=10 * 60)], roles)
    assert nudge.action == "nudge"
    assert policy.decide([kernel(idle=11 * 60)], roles) == []  # nudged once per idle period
    clock.now += 19 * 60
    assert policy.decide([kernel(idle=29 * 60)], roles) == []
    clock.now += 60
    [shut] = policy.decide([kernel(idle=30 * 60)], roles)
    assert shut.action == "shut_down"


def test_a_kernel_that_ran_since_its_nudge_starts_a_new_idle_period():
    clock = FakeClock()
    policy = ReclaimPolicy({"student": IdleRule(10, 30)}, clock)
    roles = {"ada": ["student"]}
    policy.decide([kernel(idle=10 * 60)], roles)
    clock.now += 25 * 60  # it ran 5 min ago: idle again only 5 min
    assert policy.decide([kernel(idle=5 * 60)], roles) == []
    clock.now += 5 * 60
    [again] = policy.decide([kernel(idle=10 * 60)], roles)
    assert again.action == "nudge"


def test_the_most_lenient_of_a_users_roles_applies_and_unlisted_roles_are_left_alone():
    policy = ReclaimPolicy({"student": IdleRule(10, 30), "research": IdleRule(60)}, FakeClock())
    assert policy.rule_for(["student", "research"]) == IdleRule(60)  # never shut down
    assert policy.rule_for(["user"]) is None
    assert policy.decide([kernel("ta", idle=10**5)], {"ta": ["user", "instructor"]}) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"nudge_minutes": 0}, "nudge_minutes must be above 0"),
        ({"nudge_minutes": 30, "shutdown_minutes": 10}, "shutdown_minutes must be after nudge_minutes"),
        ({"nudge_minutes": "soon"}, "must be a number of minutes, not 'soon'"),
        ({"nudge": 5}, "must be {'nudge_minutes': n, 'shutdown_minutes': m}"),
    ],
)
def test_a_bad_idle_rule_is_refused_with_what_to_write(value, message):
    with pytest.raises(ValueError, match="student") as error:
        IdleRule.parse("student", value)
    assert message in str(error.value)


def test_unknown_service_settings_are_refused_by_name(monkeypatch):
    monkeypatch.setenv("GPUSCOPE_HUB_SETTINGS", json.dumps({"peak_window": "6h", "idle_rule": {}}))
    with pytest.raises(ValueError, match="no such GPUScopeHub settings: idle_rule"):
        GPUScopeHub().initialize([])


def test_setup_writes_a_configuration_prometheus_accepts_and_keeps_the_admins_edits(tmp_path):
    written = install.set_up(tmp_path, hub_url="http://127.0.0.1:8000", scrape_interval="15s")
    assert [p.name for p in written] == [
        "scrape-token",
        "prometheus-password",
        "prometheus.yml",
        "web.yml",
        "jupyterhub_config.py",
    ]
    for secret in ("scrape-token", "prometheus-password", "web.yml"):
        assert stat.S_IMODE((tmp_path / secret).stat().st_mode) == 0o600, secret
    config = (tmp_path / "prometheus.yml").read_text()
    assert "http://127.0.0.1:8000/services/gpuscope/targets" in config and str(tmp_path / "scrape-token") in config
    password = (tmp_path / "prometheus-password").read_text().strip()
    hashed = (tmp_path / "web.yml").read_text().split('"')[1]
    assert bcrypt.checkpw(password.encode(), hashed.encode())
    if shutil.which("promtool"):
        for args in (["check", "config", "prometheus.yml"], ["check", "web-config", "web.yml"]):
            checked = subprocess.run(["promtool", *args], cwd=tmp_path, capture_output=True, text=True)
            assert checked.returncode == 0, checked.stdout + checked.stderr
    # Run again: the secrets and the admin's Hub configuration stay as they were.
    (tmp_path / "jupyterhub_config.py").write_text("# edited\n")
    install.set_up(tmp_path, hub_url="http://127.0.0.1:8000")
    assert (tmp_path / "prometheus-password").read_text().strip() == password
    assert (tmp_path / "jupyterhub_config.py").read_text() == "# edited\n"


def test_setup_refuses_a_bad_scrape_interval(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        install.main(["--out", str(tmp_path), "--scrape-interval", "often"])
    assert exit_.value.code == 2 and "--scrape-interval must be seconds such as 15s" in capsys.readouterr().err


async def test_the_service_reads_every_page_of_the_hubs_users():
    """The Hub gives 50 users a page unless asked (200 at most): a class of 450 is 3 pages."""
    asked = []

    async def pages(url, method="GET", body=None, accept=""):
        asked.append(url)
        offset = int(url.rsplit("offset=", 1)[1])
        items = [user(f"s{i}") for i in range(offset, min(offset + 200, 450))]
        following = {"offset": offset + 200} if offset + 200 < 450 else None
        return {"items": items, "_pagination": {"offset": offset, "next": following}}

    hub_api = HubAPI("http://hub/hub/api", "http://proxy", "token")
    hub_api._fetch = pages
    users = await hub_api.users()
    assert len(users) == 450 and len({u["name"] for u in users}) == 450
    assert [url.rsplit("offset=", 1)[1] for url in asked] == ["0", "200", "400"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [("{not json", "GPUSCOPE_HUB_SETTINGS is not JSON"), ("[1, 2]", "must be a JSON object")],
)
def test_settings_that_are_not_a_json_object_are_refused_clearly(monkeypatch, raw, message):
    monkeypatch.setenv("GPUSCOPE_HUB_SETTINGS", raw)
    with pytest.raises(ValueError, match=message):
        GPUScopeHub().initialize([])


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"peak_window": "12 hours"}, "a Prometheus duration such as 12h"),
        ({"peak_source": "x) or vector(1"}, "a metric name"),
    ],
)
def test_settings_that_would_go_into_a_query_are_checked(monkeypatch, setting, message):
    monkeypatch.setenv("GPUSCOPE_HUB_SETTINGS", json.dumps(setting))
    with pytest.raises(Exception, match=message):
        GPUScopeHub().initialize([])

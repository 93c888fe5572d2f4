"""A class on a real JupyterHub (tests/class_hub.py): what the instructor sees and does,
the class's idle policy, and what a student's or a stranger's token cannot read.

Marked `hub`: `make test-hub` runs them (and `make test`), as root, with Prometheus and
configurable-http-proxy installed by the Makefile.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from jupyterlab_gpuscope.hub.app import GPUScopeHub

from .class_hub import INSTRUCTOR, POLICY_STUDENT, STUDENTS, ClassHub, api, missing_requirements, wait_for

pytestmark = pytest.mark.hub
GiB = 2**30


@pytest.fixture(scope="module")
def hub():
    missing = missing_requirements()
    if missing:
        pytest.fail("The class hub tests need: " + "; ".join(missing) + " (make test-hub installs them)")
    class_hub = ClassHub()
    try:
        class_hub.start()
    except Exception:
        print(class_hub.logs())
        class_hub.stop()
        raise
    yield class_hub
    class_hub.stop()


@pytest.fixture(scope="module")
def instructor_token(hub):
    return hub.token_for(INSTRUCTOR)


def class_view(hub, token):
    return api(f"{hub.url}/services/gpuscope/api/class", token)


def status_of(url: str, token: str | None = None, method: str = "GET", auth: str | None = None) -> int:
    request = Request(url, method=method, data=b"{}" if method == "POST" else None)
    if token is not None:
        request.add_header("Authorization", f"token {token}")
    if auth is not None:
        request.add_header("Authorization", auth)
    try:
        with urlopen(request, timeout=30) as response:
            return response.status
    except HTTPError as error:
        return error.code


def usage(hub, student):
    return api(f"{hub.url}/user/{student}/gpuscope/api/shared-gpus", hub.test_token)


def kernel_of(view, student):
    [entry] = [s for s in view["students"] if s["user"] == student]
    return entry["kernels"][0]


def test_prometheus_finds_every_students_server_through_the_hub(hub):
    up = hub.query('up{job="gpuscope"}')
    assert {s["metric"]["user"] for s in up} == set(STUDENTS)
    assert all(s["value"][1] == "1" for s in up)
    [series] = [s["metric"] for s in hub.query(f'gpuscope_kernel_gpu_memory_bytes{{user="{STUDENTS[0]}"}}')]
    # user and server from the Hub; node, GPU (index and UUID) from the server.
    assert series.get("server", "") == ""  # the default server (an empty label is no label)
    assert series["node"] == "node-a" and series["gpu"] == "0" and series["gpu_uuid"].startswith("GPU-")
    assert len(series["kernel"]) == 12 and "kernel_id" not in series  # names are off by default


def test_the_instructor_sees_every_students_gpu_memory(hub, instructor_token):
    view = class_view(hub, instructor_token)
    assert not view["live"] and view["backends"] == ["replay"]  # labelled as a recording
    students = {s["user"]: s for s in view["students"]}
    assert set(students) == set(STUDENTS)
    for entry in students.values():
        assert entry["reporting"] and entry["memory"] == 2 * GiB and entry["peak"] >= 2 * GiB
        # The servers' soft limit (a quarter of the GPU) and how close each student is to it.
        assert entry["limit"] == pytest.approx(0.25 * view["gpus"][0]["memory_total"], rel=1e-6)
        assert entry["limit_used"] == pytest.approx(2 * GiB / entry["limit"])
    [gpu] = view["gpus"]
    assert gpu["node"] == "node-a" and gpu["students"] == sorted(STUDENTS)
    assert gpu["free"] == gpu["memory_total"] - gpu["memory_used"]
    [whole_gpu] = view["right_sizing"]
    assert whole_gpu["fits"] == 3 and whole_gpu["of"] == 3 and whole_gpu["above"] == []


def test_the_instructor_can_nudge_a_student_who_sees_it(hub, instructor_token):
    student = STUDENTS[1]
    kernel = kernel_of(class_view(hub, instructor_token), student)
    body = {"action": "nudge", "user": student, "server": "", "kernel": kernel["kernel"], "note": "Lab ends at 5."}
    reply = api(f"{hub.url}/services/gpuscope/api/actions", instructor_token, "POST", body)
    assert reply["done"] == f"nudged {student}"
    [notice] = usage(hub, student)["notices"]
    assert notice["by"] == INSTRUCTOR and notice["note"] == "Lab ends at 5." and notice["used_memory"] == 2 * GiB


def test_the_instructor_can_shut_down_an_idle_kernel(hub, instructor_token):
    student = STUDENTS[0]
    kernel = kernel_of(class_view(hub, instructor_token), student)
    assert kernel["idle_seconds"] > 0
    body = {"action": "shut_down_kernel", "user": student, "server": "", "kernel": kernel["kernel"]}
    reply = api(f"{hub.url}/services/gpuscope/api/actions", instructor_token, "POST", body)
    assert reply["done"] == f"shut down a kernel of {student}"
    assert hub.kernels(student) == []
    [shut] = usage(hub, student)["shut_down"]
    assert shut["by"] == INSTRUCTOR and shut["used_memory"] == 2 * GiB
    logged = [json.loads(line) for line in (hub.folder / "actions.jsonl").read_text().splitlines()]
    assert {"by": INSTRUCTOR, "action": "shut_down_kernel", "user": student, "outcome": "done"}.items() <= logged[
        -1
    ].items()


def test_the_class_idle_policy_nudges_then_shuts_down(hub, instructor_token):
    """The third student's role (lab-b) has a policy of a nudge after 15 s idle holding GPU
    memory and a shut-down after 30 s."""

    def policy_actions():
        log = hub.folder / "actions.jsonl"
        lines = log.read_text().splitlines() if log.exists() else []
        entries = [json.loads(line) for line in lines]
        return [e for e in entries if e["user"] == POLICY_STUDENT and e["by"] == "the class's idle policy"]

    done = wait_for(
        lambda: [e for e in policy_actions() if e["action"] == "shut_down_kernel"], "the policy's shut-down", 90
    )
    nudge, shut = policy_actions()[:2]
    assert nudge["action"] == "nudge" and shut["action"] == "shut_down_kernel" and done
    assert shut["at"] - nudge["at"] >= 14  # the student had the nudge's grace period
    assert hub.kernels(POLICY_STUDENT) == []
    student_view = usage(hub, POLICY_STUDENT)
    assert student_view["notices"][0]["note"].startswith("Idle ")
    assert student_view["shut_down"][0]["by"] == "the class's idle policy"
    # Other students' kernels (without that role) are left alone.
    assert hub.kernels(STUDENTS[1]) != []


def service_routes() -> list[str]:
    """Every route of the gpuscope service (found in its application, not listed by hand)."""
    app = GPUScopeHub().make_app()
    paths = []
    for rule in app.default_router.rules[0].target.rules:
        pattern = rule.matcher.regex.pattern.rstrip("$")
        if pattern not in (".*",) and "(" not in pattern and not pattern.endswith("oauth_callback"):
            paths.append(pattern)
    return paths


def test_a_students_token_reads_nothing_of_the_others(hub):
    token = hub.token_for(STUDENTS[1])
    routes = service_routes()
    assert {r.rsplit("/", 1)[-1] for r in routes} == {"", "class", "actions", "targets"}
    for path in routes:
        for method in ("GET", "POST"):
            assert status_of(hub.url + path, token, method) in (403, 405), (method, path)
    # Another student's server: its metrics and gpuscope routes.
    other = STUDENTS[2]
    for path in ("gpuscope/metrics", "gpuscope/api/shared-gpus", "gpuscope/api/processes", "api/kernels"):
        assert status_of(f"{hub.url}/user/{other}/{path}", token) in (403, 404), path
    # Prometheus: behind the service's password, whatever a student sends.
    prometheus_paths = [
        "api/v1/query?query=up",
        "api/v1/query_range?query=up&start=0&end=1&step=1",
        "api/v1/series?match[]=up",
        "api/v1/labels",
        "api/v1/label/user/values",
        "api/v1/targets",
        "api/v1/metadata",
        "api/v1/status/config",
        "federate?match[]=up",
        "graph",
        "metrics",
    ]
    guessed = "Basic " + base64.b64encode(f"gpuscope:{token}".encode()).decode()
    for path in prometheus_paths:
        for auth in (f"Bearer {token}", guessed, None):
            assert status_of(f"{hub.prometheus_url}/{path}", auth=auth) == 401, (path, auth)


def test_expired_and_foreign_tokens_are_refused(hub):
    expiring = hub.token_for(INSTRUCTOR, expires_in=1)
    time.sleep(2)
    foreign = "0123456789abcdef" * 4  # a token of no account of this Hub
    for token in (expiring, foreign):
        assert status_of(f"{hub.url}/services/gpuscope/api/class", token) == 403
        assert status_of(f"{hub.url}/services/gpuscope/targets", token) == 403
        assert status_of(f"{hub.url}/user/{STUDENTS[1]}/gpuscope/metrics", token) == 403
    # The scraper's token reads metrics, and nothing else of a student's server.
    scraper = (hub.folder / "scrape-token").read_text().strip()
    assert status_of(f"{hub.url}/user/{STUDENTS[1]}/gpuscope/metrics", scraper) == 200
    for path in ("api/contents", "api/kernels", "gpuscope/api/shared-gpus", "lab"):
        assert status_of(f"{hub.url}/user/{STUDENTS[1]}/{path}", scraper) in (403, 302), path
    assert status_of(f"{hub.url}/services/gpuscope/api/class", scraper) == 403

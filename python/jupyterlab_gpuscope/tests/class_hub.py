"""A real class on JupyterHub for the tests: JupyterHub with configurable-http-proxy, OS
accounts for an instructor and three students spawned by JupyterHub's LocalProcessSpawner,
gpuscope in each server, and Prometheus from the system's package scraping them.

Everything starts from the project's own files: `gpuscope-hub-setup` writes the class's
folder (Prometheus's configuration and the Hub's), the tests fill in the accounts as an
admin would, and add at its end only what a test machine needs (ports, the replay backend
with each kernel reported as holding 2 GiB, intervals of a second).

Needs root (it creates the accounts gs-teacher and gs-student1..3) and makes the folders
above this checkout and above its Python interpreter traversable by others (o+x), so the
students' servers can run them. Run alone, it starts the class and waits (the browser test does this):

    python -m jupyterlab_gpuscope.tests.class_hub [--port 8893] STATE.json
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from jupyterlab_gpuscope.hub import install

REPO = Path(__file__).resolve().parents[3]
UI_TESTS = REPO / "ui-tests"
PROXY = UI_TESTS / "node_modules" / ".bin" / "configurable-http-proxy"
INSTRUCTOR = "gs-teacher"
STUDENTS = ["gs-student1", "gs-student2", "gs-student3"]
#: The third student is in a group of the class with a short idle policy (the reclaim test).
POLICY_STUDENT = STUDENTS[2]
PR_SET_PDEATHSIG = 1  # prctl(2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing_requirements() -> list[str]:
    """What this machine lacks to run a class hub; empty when it can."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (to create the OS accounts)")
    if shutil.which("prometheus") is None:
        missing.append("prometheus (Debian's package: apt-get install prometheus)")
    if not PROXY.exists():
        missing.append(f"configurable-http-proxy ({PROXY}: cd ui-tests && npm ci)")
    if shutil.which("useradd") is None:
        missing.append("useradd")
    return missing


def _own_session_tied_to_parent() -> None:
    """In the child: a session of its own (stopped as a group), sent SIGTERM if the class
    hub dies without stopping it."""
    os.setsid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def ensure_account(name: str, password: str) -> None:
    """A real account with a home, and the password the browser test signs in with."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)


def ensure_traversable(path: Path) -> None:
    """Let other accounts pass through the folders above `path` (not list or read them)."""
    for folder in [path, *path.parents]:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def api(url: str, token: str, method: str = "GET", body: Any = None, timeout: float = 30) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = Request(url, data=data, method=method, headers={"Authorization": f"token {token}"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def wait_for(check, what: str, timeout: float = 120, every: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, HTTPError, ValueError) as error:
            last = error
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s (last: {last!r})")


OVERRIDES = """
# Test-machine changes only (see tests/class_hub.py).
import json, sys
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/jupyterhub_cookie_secret"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {{"PYTHONPATH": {ui_tests!r}}}
c.Spawner.args += [
    "--GPUScope.backend=replay",
    "--GPUScope.backend_class=gpuscope_e2e_backend.KernelsOnReplayBackend",
    "--GPUScope.interval_seconds=0.5",
    "--GPUScope.check_seconds=0.5",
    "--GPUScope.node_name=node-a",
]
service = c.JupyterHub.services[0]
service["url"] = "http://127.0.0.1:{service_port}"
settings = json.loads(service["environment"]["GPUSCOPE_HUB_SETTINGS"])
settings.update(
    prometheus_url="http://127.0.0.1:{prometheus_port}",
    proxy_url="http://127.0.0.1:{port}",
    reclaim_seconds=1,
    idle_rules={idle_rules},
)
service["environment"]["GPUSCOPE_HUB_SETTINGS"] = json.dumps(settings)
c.JupyterHub.services.append({{"name": "gpuscope-tests", "api_token": {test_token!r}}})
c.JupyterHub.load_roles.append({{"name": "lab-b", "users": [{policy_student!r}], "scopes": ["self"]}})
c.JupyterHub.load_roles.append(
    {{"name": "gpuscope-tests", "services": ["gpuscope-tests"], "scopes": ["admin:users", "tokens", "servers", "access:servers", "read:servers", "list:users"]}}
)
"""


class ClassHub:
    """Start with `start()`, stop with `stop()`; `state` says where everything is."""

    def __init__(
        self, port: int = 0, students: list[str] | None = None, scrape_interval: str = "1s", policy: bool = True
    ) -> None:
        """`students`: their account names (default STUDENTS); `policy`: the short idle
        policy for POLICY_STUDENT's group (the benchmark turns it off)."""
        self.students = students or STUDENTS
        self.scrape_interval = scrape_interval
        self.idle_rules = {"lab-b": {"nudge_minutes": 0.25, "shutdown_minutes": 0.5}} if policy else {}
        self.folder = Path(tempfile.mkdtemp(prefix="gpuscope-class-"))
        self.folder.chmod(0o700)
        self.passwords = {name: secrets.token_urlsafe(12) for name in [INSTRUCTOR, *self.students]}
        self.test_token = secrets.token_hex(32)
        ports = [port or free_port(), *(free_port() for _ in range(4))]
        self.port, self.hub_port, self.proxy_api_port, self.service_port, self.prometheus_port = ports
        self.url = f"http://127.0.0.1:{self.port}"
        self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}"
        self._processes: list[subprocess.Popen] = []

    @property
    def state(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "prometheus_url": self.prometheus_url,
            "folder": str(self.folder),
            "test_token": self.test_token,
            "passwords": self.passwords,
            "instructor": INSTRUCTOR,
            "students": self.students,
        }

    def hub_api(self, path: str, method: str = "GET", body: Any = None, token: str | None = None) -> Any:
        return api(f"{self.url}/hub/api{path}", token or self.test_token, method, body)

    def prometheus_password(self) -> str:
        return (self.folder / "prometheus-password").read_text().strip()

    def start(self) -> None:
        for name, password in self.passwords.items():
            ensure_account(name, password)
        # The students' servers run this checkout's environment, and its interpreter.
        ensure_traversable(REPO)
        ensure_traversable(Path(os.path.realpath(sys.executable)).parent)
        install.set_up(self.folder, hub_url=self.url, scrape_interval=self.scrape_interval)
        config = self.folder / "jupyterhub_config.py"
        text = config.read_text()
        # What an admin edits: who teaches and who studies.
        text = text.replace("INSTRUCTORS: list[str] = []", f"INSTRUCTORS: list[str] = [{INSTRUCTOR!r}]")
        text = text.replace("STUDENTS: list[str] = []", f"STUDENTS: list[str] = {self.students!r}")
        config.write_text(
            text
            + OVERRIDES.format(
                port=self.port,
                hub_port=self.hub_port,
                proxy_api_port=self.proxy_api_port,
                service_port=self.service_port,
                prometheus_port=self.prometheus_port,
                proxy=str(PROXY),
                state=self.folder,
                ui_tests=str(UI_TESTS),
                test_token=self.test_token,
                policy_student=POLICY_STUDENT,
                idle_rules=json.dumps(self.idle_rules),
            )
        )
        log = open(self.folder / "prometheus.log", "w")
        self._processes.append(
            subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self.folder / 'prometheus.yml'}",
                    f"--web.config.file={self.folder / 'web.yml'}",
                    f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                    f"--storage.tsdb.path={self.folder / 'tsdb'}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_own_session_tied_to_parent,
            )
        )
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        hub_log = open(self.folder / "jupyterhub.log", "w")
        self._processes.append(
            subprocess.Popen(
                [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)],
                cwd=self.folder,
                env=env,
                stdout=hub_log,
                stderr=subprocess.STDOUT,
                preexec_fn=_own_session_tied_to_parent,
            )
        )
        wait_for(self._hub_answers, "JupyterHub answering", timeout=60)
        for student in self.students:
            self.hub_api(f"/users/{student}/server", method="POST")
        for student in self.students:
            wait_for(
                lambda s=student: self.hub_api(f"/users/{s}")["servers"].get("", {}).get("ready"), f"{student}'s server"
            )
            self.start_kernel(student)
        wait_for(
            lambda: len(self.users_holding_memory()) == len(self.students),
            "Prometheus scraping every student",
            timeout=90,
        )

    def _hub_answers(self) -> bool:
        for process in self._processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited ({process.returncode}):\n{self.logs()}")
        return bool(self.hub_api("/"))

    def start_kernel(self, student: str) -> str:
        """A kernel in the student's server that has run a cell, as a notebook's would have."""
        kernel = api(f"{self.url}/user/{student}/api/kernels", self.test_token, "POST", {"name": "python3"})
        asyncio.run(self.run_cell(student, kernel["id"], "x = 1"))
        return kernel["id"]

    async def run_cell(self, student: str, kernel_id: str, code: str) -> None:
        """Execute `code` through the server's kernel websocket (through the proxy)."""
        url = f"ws://127.0.0.1:{self.port}/user/{student}/api/kernels/{kernel_id}/channels"
        request = HTTPRequest(url, headers={"Authorization": f"token {self.test_token}"})
        ws = await websocket_connect(request)
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "tests",
            "session": uuid.uuid4().hex,
            "version": "5.3",
        }
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False}
        await ws.write_message(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        try:
            while True:
                message = await asyncio.wait_for(ws.read_message(), 60)
                if message is None:
                    raise RuntimeError(f"{student}'s kernel closed its websocket")
                reply = json.loads(message)
                if reply.get("msg_type") == "execute_reply" and reply["parent_header"].get("msg_id") == msg_id:
                    return
        finally:
            ws.close()

    def kernels(self, student: str) -> list[dict[str, Any]]:
        return api(f"{self.url}/user/{student}/api/kernels", self.test_token)

    def prometheus(self, path: str) -> Any:
        """Prometheus's API answer at `path`, with the service's password."""
        auth = base64.b64encode(f"gpuscope:{self.prometheus_password()}".encode()).decode()
        request = Request(f"{self.prometheus_url}/api/v1/{path}")
        request.add_header("Authorization", f"Basic {auth}")
        with urlopen(request, timeout=10) as response:
            return json.loads(response.read())["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.prometheus(f"query?{urlencode({'query': expr})}")["result"]

    def users_holding_memory(self) -> set[str]:
        return {s["metric"].get("user") for s in self.query("gpuscope_kernel_gpu_memory_bytes > 0")}

    def token_for(self, user: str, **options: Any) -> str:
        """A new API token of `user` (all their scopes unless `scopes` is given)."""
        return self.hub_api(f"/users/{user}/tokens", method="POST", body={"note": "gpuscope tests", **options})["token"]

    def stop(self) -> None:
        for process in reversed(self._processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        # Servers the Hub spawned run in their own sessions, as their users.
        for user in [INSTRUCTOR, *self.students]:
            subprocess.run(["pkill", "-u", user], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(
            f"---- {name}\n" + (self.folder / name).read_text()[-6000:]
            for name in ("jupyterhub.log", "prometheus.log")
            if (self.folder / name).exists()
        )


def main(argv: list[str]) -> int:
    """Start a class on --port, write its state (URLs, passwords) to STATE.json, run until
    signalled."""
    parser = argparse.ArgumentParser(prog="python -m jupyterlab_gpuscope.tests.class_hub")
    parser.add_argument("state", type=Path, help="where to write the class's URLs and passwords (JSON)")
    parser.add_argument("--port", type=int, default=0, help="the proxy's port (default: a free one)")
    args = parser.parse_args(argv)
    missing = missing_requirements()
    if missing:
        print("A class hub needs: " + "; ".join(missing), file=sys.stderr)
        return 3
    args.state.unlink(missing_ok=True)
    hub = ClassHub(args.port)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        hub.start()
        args.state.write_text(json.dumps(hub.state))
        print(f"The class hub runs at {hub.url}", flush=True)
        while not stopping:
            time.sleep(0.5)
    except Exception:
        print(hub.logs(), file=sys.stderr)
        raise
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""JupyterHub for a class with jupyterlab-gpuscope.

Written by `gpuscope-hub-setup` into the class's folder, beside the scraper's token, the
Prometheus password and Prometheus's configuration; edit the lists and the policy below.
Start it there with `jupyterhub -f jupyterhub_config.py` (docs/hub.md).

- Students and instructors sign in with their accounts on this machine (PAM, JupyterHub's
  default) and get JupyterLab with gpuscope, from the Python environment JupyterHub runs in.
- Prometheus scrapes every running server's gpuscope metrics through the proxy, with the
  token of the service `gpuscope-prometheus` (scope custom:gpuscope:scrape alone).
- The service `gpuscope` (/services/gpuscope/) shows users with the `instructor` role the
  whole class, and applies the class's idle policy.
"""

import json
import sys
from pathlib import Path

from jupyterlab_gpuscope.hub.app import CUSTOM_SCOPES, INSTRUCTOR_SCOPE, SCRAPE_SCOPE

c = get_config()  # noqa: F821
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent

# ---- who ------------------------------------------------------------------------------
# Hub names (here: accounts on this machine). Instructors see and act on the whole class.
INSTRUCTORS: list[str] = []
STUDENTS: list[str] = []
c.Authenticator.allowed_users = set(INSTRUCTORS + STUDENTS)

# ---- the class's policy -----------------------------------------------------------------
# The gpuscope service's settings (c.GPUScopeHub, see `python -m jupyterlab_gpuscope.hub.app
# --help-all`). idle_rules: per role, kernels idle this long while holding GPU memory are
# nudged, then shut down (0: never); the student sees the nudge in JupyterLab first.
GPUSCOPE_SERVICE = {
    "prometheus_url": "http://127.0.0.1:9090",
    # The proxy as the service reaches it (the --hub-url given to gpuscope-hub-setup).
    "proxy_url": "http://127.0.0.1:8000",
    "peak_window": "12h",
    "idle_rules": {"student": {"nudge_minutes": 30, "shutdown_minutes": 60}},
}
# Each student's server: c.GPUScope settings (docs/shared-gpus.md). metrics_names adds
# kernel and notebook names to what instructors see; off, kernels are told apart by digests.
c.Spawner.args = ["--GPUScope.user_memory_limit_fraction=0.25", "--GPUScope.metrics_names=False"]

# ---- servers ----------------------------------------------------------------------------
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
# Scrapes pass through the proxy every 15 s: the proxy's record of activity would keep every
# server "active". Activity then comes from the servers' own reports (kernels, terminals,
# the user's requests; gpuscope's metrics route is not counted), as jupyterhub-idle-culler
# needs.
c.JupyterHub.last_activity_interval = 0
# Servers idle this long (by their own reports) are stopped by jupyterhub-idle-culler when
# it is installed (`pip install jupyterhub-idle-culler`); 0: never.
IDLE_SERVER_SECONDS = 3 * 3600

# ---- services, scopes and roles ---------------------------------------------------------
c.JupyterHub.custom_scopes = CUSTOM_SCOPES
c.JupyterHub.services = [
    {
        "name": "gpuscope",
        "url": "http://127.0.0.1:10101",
        "display": True,
        "info": {"description": "The class's GPU use, for instructors"},
        "command": [
            sys.executable,
            "-m",
            "jupyterlab_gpuscope.hub.app",
            f"--GPUScopeHub.prometheus_password_file={HERE / 'prometheus-password'}",
            f"--GPUScopeHub.action_log={HERE / 'actions.jsonl'}",
        ],
        "environment": {"GPUSCOPE_HUB_SETTINGS": json.dumps(GPUSCOPE_SERVICE)},
        # An instructor's login to the page carries their instructor scope, nothing more;
        # the admin runs this service, so the Hub does not ask them to confirm it.
        "oauth_client_allowed_scopes": [INSTRUCTOR_SCOPE],
        "oauth_no_confirm": True,
    },
    {"name": "gpuscope-prometheus", "api_token": (HERE / "scrape-token").read_text().strip()},
]
c.JupyterHub.load_roles = [
    {
        "name": "instructor",
        "users": INSTRUCTORS,
        "scopes": ["self", INSTRUCTOR_SCOPE, "access:services!service=gpuscope"],
    },
    {"name": "student", "users": STUDENTS, "scopes": ["self"]},
    {
        "name": "gpuscope",
        "services": ["gpuscope"],
        # Lists running servers and their users' roles, reaches the servers' gpuscope routes
        # (nudge, shut down a kernel) and stops servers. It acts only for instructors.
        "scopes": ["list:users", "read:users", "read:roles:users", "read:servers", "access:servers", "servers"],
    },
    {"name": "gpuscope-prometheus", "services": ["gpuscope-prometheus"], "scopes": [SCRAPE_SCOPE]},
]

try:
    import jupyterhub_idle_culler  # noqa: F401
except ImportError:
    IDLE_SERVER_SECONDS = 0
if IDLE_SERVER_SECONDS:
    c.JupyterHub.services.append(
        {
            "name": "idle-culler",
            "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE_SERVER_SECONDS}"],
        }
    )
    c.JupyterHub.load_roles.append(
        {
            "name": "idle-culler",
            "services": ["idle-culler"],
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        }
    )

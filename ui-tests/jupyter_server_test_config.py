"""JupyterLab for the Galata tests: a temporary root, no token, the replay backend."""

import os
import sys

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.allow_root = True  # noqa: F821
# No GPU on CI: play the bundled H200 recording (labelled as a replay everywhere), with
# this server's kernels reported as GPU processes so the process table can be tested.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
c.GPUScope.backend = "replay"  # noqa: F821
c.GPUScope.backend_class = "gpuscope_e2e_backend.KernelsOnReplayBackend"  # noqa: F821
c.GPUScope.interval_seconds = 0.5  # noqa: F821


# A second Python kernel that cannot import jupyterlab_gpuscope (as a kernel in another
# environment does): the diagnostic inserts its self-contained cell there.
import json  # noqa: E402
import tempfile  # noqa: E402

_HIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bare-kernel")
_SPECS = tempfile.mkdtemp(prefix="gpuscope-kernels-")
os.makedirs(os.path.join(_SPECS, "kernels", "gpuscope-bare"))
with open(os.path.join(_SPECS, "kernels", "gpuscope-bare", "kernel.json"), "w") as _file:
    json.dump(
        {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 without jupyterlab-gpuscope",  # sorts after the default kernel in the launcher
            "language": "python",
            "env": {"PYTHONPATH": _HIDE},
        },
        _file,
    )
os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [_SPECS, os.environ.get("JUPYTER_PATH")]))

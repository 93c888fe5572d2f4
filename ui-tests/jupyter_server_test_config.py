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

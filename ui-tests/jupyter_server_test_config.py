"""JupyterLab for the Galata tests: a temporary root, no token, the replay backend."""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.allow_root = True  # noqa: F821
# No GPU on CI: play the bundled H200 recording (labelled as a replay everywhere).
c.GPUScope.backend = "replay"  # noqa: F821
c.GPUScope.interval_seconds = 0.5  # noqa: F821

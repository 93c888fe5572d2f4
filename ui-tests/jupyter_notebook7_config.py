"""Jupyter Notebook 7 for the Galata run: the same extension in Notebook's shell (no status
bar; sidebars only where Notebook has them), on the replay backend."""

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.port = 8891  # noqa: F821
c.JupyterNotebookApp.expose_app_in_browser = True  # noqa: F821
c.GPUScope.backend = "replay"  # noqa: F821
c.GPUScope.interval_seconds = 0.5  # noqa: F821

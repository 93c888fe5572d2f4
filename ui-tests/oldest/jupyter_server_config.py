"""JupyterLab 4.2 (the oldest supported) serving the release wheel: no token, the replay
backend, on port 8892. Run from .venv-jl42 by `make test-oldest`."""

import tempfile

c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.open_browser = False  # noqa: F821
c.ServerApp.port = 8892  # noqa: F821
c.ServerApp.port_retries = 0  # noqa: F821
c.ServerApp.root_dir = tempfile.mkdtemp(prefix="gpuscope-oldest-")  # noqa: F821
c.IdentityProvider.token = ""  # noqa: F821
c.ServerApp.disable_check_xsrf = True  # noqa: F821
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
c.GPUScope.backend = "replay"  # noqa: F821
c.GPUScope.interval_seconds = 0.5  # noqa: F821
c.LabApp.expose_app_in_browser = True  # noqa: F821  (window.jupyterapp: the test reads its version)
c.LabApp.extension_manager = "readonly"  # noqa: F821  (4.2 with a newer httpx fails to start the PyPI manager)

"""JupyterLab for the startup benchmark: the same server twice, with gpuscope (port 8893)
and without it (port 8894, GPUSCOPE_STARTUP=off: the server extension off and the frontend
extension disabled in this server's own page config), on the bundled H200 replay."""

import json
import os
import tempfile

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
on = os.environ.get("GPUSCOPE_STARTUP", "on") == "on"
c.ServerApp.port = 8893 if on else 8894  # noqa: F821
c.GPUScope.backend = "replay"  # noqa: F821
if not on:
    c.ServerApp.jpserver_extensions = {"jupyterlab_gpuscope": False}  # noqa: F821
    # `jupyter labextension disable` writes the same, to the user's config: here, to this
    # server's own config folder, so the other server keeps the extension.
    config = tempfile.mkdtemp(prefix="gpuscope-startup-off-")
    os.makedirs(os.path.join(config, "labconfig"))
    with open(os.path.join(config, "labconfig", "page_config.json"), "w") as out:
        json.dump({"disabledExtensions": {"jupyterlab-gpuscope": True}}, out)
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [config, os.environ.get("JUPYTER_CONFIG_PATH")]))

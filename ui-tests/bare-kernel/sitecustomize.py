"""Makes jupyterlab_gpuscope (and JupyterLab, the server) unimportable in this kernel."""

import sys

HIDDEN = ("jupyterlab_gpuscope", "jupyterlab", "jupyter_server")


class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, _Hide())

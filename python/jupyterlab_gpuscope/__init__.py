"""jupyterlab-gpuscope: GPU monitoring and diagnostics for JupyterLab."""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0+unknown"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-gpuscope"}]


def _jupyter_server_extension_points():
    from .extension import GPUScope

    return [{"module": "jupyterlab_gpuscope", "app": GPUScope}]

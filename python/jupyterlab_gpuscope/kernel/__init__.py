"""What runs in a notebook's kernel: the diagnostic (facts, findings, report), the
knowledge base's queries, the per-cell GPU usage extension, and the memory X-ray
(memory_xray.py; its public name is jupyterlab_gpuscope.memory). Standard library only,
and nothing from the server side (a test checks it), so the frontend can also run these
sources in a kernel whose environment lacks this package.

    %load_ext jupyterlab_gpuscope.kernel     per-cell GPU usage (the public name)
"""


def load_ipython_extension(shell):
    from .cell_usage import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell):
    from .cell_usage import unload_ipython_extension as unload

    unload(shell)

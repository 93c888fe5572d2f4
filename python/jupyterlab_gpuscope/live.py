"""The GPU in any notebook frontend (VS Code, Colab, JupyterLab, Notebook, nbconvert),
from the kernel:

    import jupyterlab_gpuscope.live as gpu_live
    gpu_live.show()             # a live view of this kernel's GPUs, updated in place
    gpu_live.stop()
    gpu_live.cell_lines()       # a line under each cell that used GPU memory
    gpu_live.cell_lines(False)

For what holds memory and what an out-of-memory error means, see jupyterlab_gpuscope.memory
(report(), explain_error()).
"""

from __future__ import annotations

from .kernel import cell_usage
from .kernel.live import LiveView, show, stop

__all__ = ["LiveView", "cell_lines", "show", "stop"]


def cell_lines(on: bool = True) -> None:
    """Under each cell that used GPU memory, a line: its peak, what it left allocated, its
    time. The per-cell extension's other settings (its mode, the flight recorder) stay."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("cell_lines() works in an IPython kernel")
    previous = getattr(shell, "_gpuscope_cell_usage", None)
    cell_usage.load_ipython_extension(
        shell,
        reset_peaks=previous.reset_peaks if previous else False,
        history_entries=previous.history_entries if previous else 0,
        show_lines=on,
    )

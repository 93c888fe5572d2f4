"""What in this kernel holds GPU memory, and giving it back without a restart, in any
frontend (JupyterLab, VS Code, Colab, a saved notebook):

    import jupyterlab_gpuscope.memory as gpu_memory
    gpu_memory.report()            # displays the breakdown
    gpu_memory.breakdown()         # the same as plain data (JSON-serialisable)
    gpu_memory.free_cache()        # each action reports what NVML shows freed
    gpu_memory.drop_last_error()
    gpu_memory.clear_output_history()
    gpu_memory.delete("model")
    gpu_memory.explain_error()     # what the last out-of-memory error means, what frees it

The code is kernel/memory_xray.py, which JupyterLab also loads into kernels without this
package.
"""

from .kernel.memory_xray import (
    breakdown,
    clear_output_history,
    delete,
    drop_last_error,
    free_cache,
    report,
)
from .kernel.oom import explain_error

__all__ = ["breakdown", "clear_output_history", "delete", "drop_last_error", "explain_error", "free_cache", "report"]

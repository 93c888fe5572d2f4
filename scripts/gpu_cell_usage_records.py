"""Three notebook cells in a real kernel on a GPU, with the per-cell usage extension
loaded the way JupyterLab loads it: a small allocation (CUDA starts here), a large one,
then freeing it. Prints the records the kernel sent on the gpuscope.cells comm (JSON).

    python scripts/gpu_cell_usage_records.py > records.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jupyter_client.manager import start_new_kernel

SOURCE = (
    Path(__file__).resolve().parent.parent / "python" / "jupyterlab_gpuscope" / "kernel" / "cell_usage.py"
).read_text()
LOADER = f"""
def _gpuscope_load_cell_usage(source):
    namespace = {{"__name__": "gpuscope_cell_usage"}}
    exec(compile(source, "<gpuscope-cell-usage>", "exec"), namespace)
    namespace["load_ipython_extension"](get_ipython(), reset_peaks=True)  # the "peak" mode, as the fixture was recorded
_gpuscope_load_cell_usage({json.dumps(SOURCE)})
del _gpuscope_load_cell_usage
"""
CELLS = [
    "import torch\nsmall = torch.ones(1024, 1024, device='cuda')",
    "large = torch.empty(8 * 2**30, dtype=torch.uint8, device='cuda')\ny = (small @ small).sum().item()",
    "del large\ntorch.cuda.empty_cache()",
    "z = 1 + 1",
]


def main() -> None:
    manager, client = start_new_kernel(kernel_name="python3")
    cells = []
    try:
        client.execute_interactive(LOADER, silent=True, store_history=False, timeout=60)
        for code in CELLS:
            records = []

            def hook(msg, records=records):
                if msg["msg_type"] == "comm_msg":
                    records.append(msg["content"]["data"])

            client.execute_interactive(code, output_hook=hook, timeout=120)
            cells.append({"code": code, "records": records})
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    json.dump(cells, sys.stdout, indent=1)


if __name__ == "__main__":
    main()

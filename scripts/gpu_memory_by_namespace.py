"""On a real GPU: what NVML says of memory in use, per process, and across PID namespaces.

    python scripts/gpu_memory_by_namespace.py      (torch with CUDA, nvidia-ml-py; root for unshare)

Prints NVML's memory v1 and v2 (used, reserved) idle, with one process holding 1 GiB, and
with a second one in its own PID namespace (as in a container), plus what that process
sees of the GPU's processes from inside. processes.py's held_outside rests on these.
"""

import json
import subprocess
import sys
import time

import pynvml as nv

HOLD = (
    "import torch, time; x = torch.empty(2**30, dtype=torch.uint8, device='cuda'); print('ready', flush=True); "
    "time.sleep(30)"
)
INSIDE = (
    "import os, time, torch, pynvml as nv; x = torch.empty(2**30, dtype=torch.uint8, device='cuda'); nv.nvmlInit(); "
    "h = nv.nvmlDeviceGetHandleByIndex(0); "
    "print('ready', os.getpid(), [(p.pid, p.usedGpuMemory) for p in nv.nvmlDeviceGetComputeRunningProcesses(h)], "
    "flush=True); time.sleep(30)"
)


def memory(handle):
    v1 = nv.nvmlDeviceGetMemoryInfo(handle)
    v2 = nv.nvmlDeviceGetMemoryInfo(handle, nv.nvmlMemory_v2)
    procs = [(p.pid, p.usedGpuMemory) for p in nv.nvmlDeviceGetComputeRunningProcesses(handle)]
    return {"v1_used": v1.used, "v2_used": v2.used, "v2_reserved": v2.reserved, "total": v1.total, "procs": procs}


def main():
    nv.nvmlInit()
    handle = nv.nvmlDeviceGetHandleByIndex(0)
    out = {"idle": memory(handle)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    time.sleep(1)
    out["one_process_1GiB"] = memory(handle)
    inside = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", INSIDE], stdout=subprocess.PIPE, text=True
    )
    out["inside_namespace_sees"] = inside.stdout.readline().strip()
    out["host_sees_with_namespace_process"] = memory(handle)
    holder.kill()
    inside.kill()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

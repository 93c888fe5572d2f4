import json, os, subprocess, sys, time
import pynvml as nv
nv.nvmlInit()
h = nv.nvmlDeviceGetHandleByIndex(0)
def mem():
    v1 = nv.nvmlDeviceGetMemoryInfo(h)
    v2 = nv.nvmlDeviceGetMemoryInfo(h, nv.nvmlMemory_v2)
    procs = [(p.pid, p.usedGpuMemory) for p in nv.nvmlDeviceGetComputeRunningProcesses(h)]
    return {"v1_used": v1.used, "v2_used": v2.used, "v2_reserved": v2.reserved, "total": v1.total, "procs": procs}
out = {"idle": mem()}
child = subprocess.Popen([sys.executable, "-c", "import torch,time; x=torch.empty(2**30, dtype=torch.uint8, device='cuda'); print('ready', flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
child.stdout.readline(); time.sleep(1)
out["one_process_1GiB"] = mem()
# a process in its own PID namespace
ns = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", "import torch,time,os,pynvml as nv; x=torch.empty(2**30, dtype=torch.uint8, device='cuda'); nv.nvmlInit(); h=nv.nvmlDeviceGetHandleByIndex(0); print('ready', os.getpid(), [(p.pid,p.usedGpuMemory) for p in nv.nvmlDeviceGetComputeRunningProcesses(h)], flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)
out["inside_namespace_sees"] = ns.stdout.readline().strip()
out["host_sees_with_namespace_process"] = mem()
child.kill(); ns.kill()
print(json.dumps(out, indent=1))

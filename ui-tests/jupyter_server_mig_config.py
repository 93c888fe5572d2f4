"""JupyterLab for the MIG Galata tests, on port 8892: the synthetic MIG trace (an H200 split
into 3g.71gb, 2g.35gb and two 1g.18gb instances; labelled synthetic), with this server's
kernels reported on the 1g.18gb instance of GPU instance 13, and CUDA_VISIBLE_DEVICES naming
that instance, as a container given one MIG slice has it."""

import os

load_subconfig("jupyter_server_test_config.py")  # noqa: F821

c.ServerApp.port = 8892  # noqa: F821
c.GPUScope.backend_class = "gpuscope_e2e_backend.KernelsOnMigReplayBackend"  # noqa: F821
os.environ["CUDA_VISIBLE_DEVICES"] = "MIG-00000000-0000-4000-8000-000000000013"

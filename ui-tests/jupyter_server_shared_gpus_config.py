"""JupyterLab for the shared-GPU Galata tests: the end-to-end server (replay, with each
kernel reported as holding 2 GiB on GPU 0) on port 8889, with a classroom's settings at
test speed: a 2.5 GiB soft limit (warned from 75 %), nudges after 3 s idle, shut-down
15 s later, and a lint target for the class."""

load_subconfig("jupyter_server_test_config.py")  # noqa: F821

c.ServerApp.port = 8889  # noqa: F821
c.GPUScope.user_memory_limit_bytes = int(2.5 * 2**30)  # noqa: F821
c.GPUScope.user_memory_warn_fraction = 0.75  # noqa: F821
c.GPUScope.idle_kernel_minutes = 0.05  # noqa: F821
c.GPUScope.idle_kernel_shutdown_minutes = 0.25  # noqa: F821
c.GPUScope.check_seconds = 0.5  # noqa: F821
c.GPUScope.lint_target = "T4"  # noqa: F821

"""The server extension: configuration (`c.GPUScope.*`), the sampler's lifecycle, routes."""

from __future__ import annotations

import asyncio
import functools
import getpass
import math
import os
import socket
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from prometheus_client import CollectorRegistry
from traitlets import Bool, Enum, Float, Int, TraitError, Type, Unicode, default

from .class_routes import class_route_handlers
from .monitor import metrics
from .monitor.backends import Backend, NoneBackend, NvmlBackend, ReplayBackend
from .monitor.process_feed import ProcessFeed
from .monitor.sampler import Sampler
from .routes import route_handlers
from .shared_gpus.idle import IdlePolicy
from .shared_gpus.limits import MemoryLimit
from .shared_gpus.watcher import SharedGPUsWatcher

MIN_INTERVAL_SECONDS = 0.25
#: History is kept in memory: a day of samples at most.
MAX_HISTORY_SECONDS = 86400.0


class FiniteFloat(Float):
    """A Float setting that refuses NaN and infinity (a bound alone lets NaN through)."""

    def validate(self, obj: Any, value: Any) -> float:
        value = super().validate(obj, value)
        if not math.isfinite(value):
            raise TraitError(f"The '{self.name}' setting must be a finite number, not {value!r}.")
        return value


class GPUScope(ExtensionApp):
    """GPU monitoring for JupyterLab: one sampler per server feeds every viewer."""

    name = "jupyterlab_gpuscope"

    backend = Enum(
        ["auto", "nvml", "replay", "none"],
        default_value="auto",
        config=True,
        help="""Where readings come from. 'auto': NVML when it initialises, else none (with
        the reason shown to users). 'replay': play a recorded trace (labelled as a replay,
        never as a live GPU). 'none': monitoring off.""",
    )
    backend_class = Type(
        None,
        klass=Backend,
        allow_none=True,
        config=True,
        help="""A Backend subclass to use instead of `backend` (custom sources, and the fake
        backends of the end-to-end tests). Its `live` flag decides how readings are labelled.""",
    )
    interval_seconds = FiniteFloat(
        1.0, min=MIN_INTERVAL_SECONDS, config=True, help=f"Seconds between samples; at least {MIN_INTERVAL_SECONDS}."
    )
    history_seconds = FiniteFloat(
        3600.0,
        min=1.0,
        max=MAX_HISTORY_SECONDS,
        config=True,
        help=f"Seconds of samples kept in memory for history charts (1 to {MAX_HISTORY_SECONDS:.0f}).",
    )
    show_other_users = Bool(
        False,
        config=True,
        help="""Show the user name, PID and command line of GPU processes owned by other OS users.
        When False their memory is still counted, as one 'others' total per GPU.""",
    )
    replay_trace = Unicode(
        "",
        config=True,
        help="""Path of a JSON-lines trace for the replay backend, or the name of one bundled with
        the package (h200-workload.jsonl, h200x2-workload.jsonl, h200-mig-synthetic.jsonl);
        empty: the bundled H200 recording.""",
    )
    call_timeout_seconds = FiniteFloat(
        5.0, min=0.05, config=True, help="A GPU driver call that takes longer is reported as hung for that sample."
    )
    reopen_seconds = FiniteFloat(
        10.0,
        min=0.0,
        config=True,
        help="Seconds between attempts to reinitialise NVML after it failed or a GPU was lost.",
    )

    # ---- shared GPUs (classrooms) ---------------------------------------------------------

    user_memory_limit_bytes = Int(
        0,
        min=0,
        config=True,
        help="""Soft limit on the GPU memory one user's processes hold on each GPU, in bytes
        (0: none). Shown in the status bar and the GPU panel; the user is warned when near it.
        Nothing is killed for passing it.""",
    )
    user_memory_limit_fraction = FiniteFloat(
        0.0,
        min=0.0,
        max=1.0,
        config=True,
        help="""The same soft limit as a fraction of each GPU's memory (0: none). With both set,
        the smaller applies.""",
    )
    user_memory_warn_fraction = FiniteFloat(
        0.9,
        min=0.0,
        max=1.0,
        config=True,
        help="Warn the user when their GPU memory passes this fraction of the limit.",
    )
    idle_kernel_minutes = FiniteFloat(
        0.0,
        min=0.0,
        config=True,
        help="""A kernel idle this long that still holds GPU memory gets one notification to its
        owner, with "Shut down kernel" and "Keep". 0, the default: never (on a GPU no one else
        uses, an idle kernel holding memory harms no one); 30 suits a classroom.""",
    )
    idle_kernel_shutdown_minutes = FiniteFloat(
        0.0,
        min=0.0,
        config=True,
        help="""Shut down an idle kernel holding GPU memory this many minutes after its owner was
        notified, unless they chose "Keep" (0, the default: never). Each shut-down is logged.""",
    )
    check_seconds = FiniteFloat(
        5.0,
        min=MIN_INTERVAL_SECONDS,
        config=True,
        help="Seconds between checks of who holds GPU memory (limits, idle kernels, metrics).",
    )
    memory_warning_percent = FiniteFloat(
        0.0,
        min=0.0,
        max=100.0,
        config=True,
        help="""Memory use (percent of a GPU) from which the status bar and panel turn orange, for
        every user, over their own setting. 0: each user's setting.""",
    )
    memory_critical_percent = FiniteFloat(
        0.0,
        min=0.0,
        max=100.0,
        config=True,
        help="The same for red (memory nearly full). 0: each user's setting.",
    )
    lint_target = Unicode(
        "",
        config=True,
        help="""Lint every notebook as if for this GPU (a name such as "T4" or a compute capability
        such as "7.5"), whatever the user's own setting says. Empty: the user's setting.""",
    )
    lint_target_torch = Unicode(
        "", config=True, help='Lint as if for this torch build (e.g. "2.5.1+cu121"). Empty: the user\'s setting.'
    )
    metrics_per_kernel = Bool(
        False,
        config=True,
        help="""Add per-kernel and per-user GPU memory series to /metrics. Kernels are told
        apart by a digest of their id; their ids, names and the user's name are added only
        with `metrics_names`. /metrics is readable by every user this server lets in, and by
        anyone when jupyter_server's `authenticate_prometheus` is False.""",
    )
    metrics_names = Bool(
        False,
        config=True,
        help="""With `metrics_per_kernel`: label the series with the user's name and the
        kernels' ids and names. Everyone who can read /metrics (see `metrics_per_kernel`)
        then sees them; leave it off unless only trusted scrapers can.""",
    )

    node_name = Unicode(
        config=True,
        help="""The machine this server runs on, as the `node` label of its metrics names it
        (the class's view groups GPUs by it). Default: $NODE_NAME (Kubernetes sets it
        through the downward API where the admin asks), else the host name.""",
    )

    @default("node_name")
    def _default_node_name(self) -> str:
        return os.environ.get("NODE_NAME") or socket.gethostname()

    def policy(self) -> dict[str, Any]:
        """What the admin decided, for the frontend (which applies it over user settings)."""
        return {
            "user_memory_limit_bytes": self.user_memory_limit_bytes or None,
            "user_memory_limit_fraction": self.user_memory_limit_fraction or None,
            "user_memory_warn_fraction": self.user_memory_warn_fraction,
            "idle_kernel_minutes": self.idle_kernel_minutes or None,
            "idle_kernel_shutdown_minutes": self.idle_kernel_shutdown_minutes or None,
            "check_seconds": self.check_seconds,
            "memory_warning_percent": self.memory_warning_percent or None,
            "memory_critical_percent": self.memory_critical_percent or None,
            "lint_target": self.lint_target.strip() or None,
            "lint_target_torch": self.lint_target_torch.strip() or None,
            "show_other_users": self.show_other_users,
        }

    def make_backend(self) -> Backend:
        if self.backend_class is not None:
            return self.backend_class()
        if self.backend == "replay":
            return ReplayBackend(self.replay_trace)
        if self.backend == "none":
            return NoneBackend()
        return NvmlBackend()

    def initialize_settings(self) -> None:
        self.sampler = Sampler(
            self.make_backend(),
            configured=self.backend if self.backend_class is None else self.backend_class.__name__,
            interval=self.interval_seconds,
            history_seconds=self.history_seconds,
            call_timeout=self.call_timeout_seconds,
            reopen_seconds=self.reopen_seconds,
            log=self.log,
        )
        policy = self.policy()
        self.process_feed = ProcessFeed(
            self.sampler, self.serverapp.kernel_manager, self.serverapp.session_manager, policy=policy, log=self.log
        )
        self.shared_gpus = SharedGPUsWatcher(
            self.sampler,
            self.process_feed,
            self.serverapp.kernel_manager,
            limit=MemoryLimit(
                self.user_memory_limit_bytes, self.user_memory_limit_fraction, self.user_memory_warn_fraction
            ),
            idle=IdlePolicy(self.idle_kernel_minutes * 60, self.idle_kernel_shutdown_minutes * 60),
            check_seconds=self.check_seconds,
            log=self.log,
        )
        # Handlers get what they read, not the whole extension.
        self.settings.update(
            gpuscope_sampler=self.sampler,
            gpuscope_watcher=self.shared_gpus,
            gpuscope_join=self.process_feed,
            gpuscope_policy=policy,
            gpuscope_class_registry=CollectorRegistry(auto_describe=False),
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_handlers() + class_route_handlers())

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        # jupyter_server's start hook: the event loop runs; threads and timers start here.
        self.sampler.start(asyncio.get_running_loop())
        self.shared_gpus.start()
        collector = functools.partial(
            metrics.GPUScopeCollector,
            self.sampler,
            self.shared_gpus,
            user=_user_name(),
            names=self.metrics_names,
            node=self.node_name,
        )
        metrics.register(collector(per_kernel=self.metrics_per_kernel))
        # The class's scrape route (class_routes.py): per kernel always, since only this
        # server's user and a token the Hub scoped to scraping can read it.
        self.settings["gpuscope_class_registry"].register(collector(per_kernel=True))
        self.log.info("gpuscope: sampling with backend=%s every %ss", self.backend, self.interval_seconds)

    async def stop_extension(self) -> None:
        metrics.unregister()
        self.shared_gpus.stop()
        self.sampler.stop()


def _user_name() -> str:
    """The Hub's name for this user when the server runs under JupyterHub, else the OS user."""
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

"""The server extension: configuration (`c.GPUScope.*`), the sampler's lifecycle, routes."""

from __future__ import annotations

from tornado.ioloop import IOLoop

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Float, Type, Unicode, validate

from .backends import Backend, NoneBackend, NvmlBackend, ReplayBackend
from .routes import route_handlers
from .sampler import Sampler

MIN_INTERVAL_SECONDS = 0.25


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
    interval_seconds = Float(
        1.0, config=True, help=f"Seconds between samples; at least {MIN_INTERVAL_SECONDS}."
    )
    history_seconds = Float(3600.0, config=True, help="Seconds of samples kept in memory for history charts.")
    show_other_users = Bool(
        False,
        config=True,
        help="""Show the user name, PID and command line of GPU processes owned by other OS users.
        When False their memory is still counted, as one 'others' total per GPU.""",
    )
    replay_trace = Unicode(
        "", config=True, help="Path of a JSON-lines trace for the replay backend; empty: the bundled H200 recording."
    )
    call_timeout_seconds = Float(
        5.0, config=True, help="A GPU driver call that takes longer is reported as hung for that sample."
    )
    reopen_seconds = Float(
        10.0, config=True, help="Seconds between attempts to reinitialise NVML after it failed or a GPU was lost."
    )

    @validate("interval_seconds")
    def _interval_floor(self, proposal):
        value = proposal["value"]
        if not value >= MIN_INTERVAL_SECONDS:  # also catches NaN
            self.log.warning(
                "gpuscope: interval_seconds=%s is below the floor; using %s", value, MIN_INTERVAL_SECONDS
            )
            return MIN_INTERVAL_SECONDS
        return value

    @validate("history_seconds")
    def _history_positive(self, proposal):
        value = proposal["value"]
        if not value > 0:
            raise ValueError("history_seconds must be positive")
        return value

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
        self.settings["gpuscope"] = self

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_handlers())
        self.sampler.start(IOLoop.current().asyncio_loop)
        self.log.info(
            "gpuscope: sampling with backend=%s every %ss", self.backend, self.interval_seconds
        )

    async def stop_extension(self) -> None:
        self.sampler.stop()

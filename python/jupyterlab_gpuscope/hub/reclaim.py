"""GPU-aware idle reclaim across the class: which idle kernels holding GPU memory to nudge,
and which to shut down after their owner was nudged.

A policy per JupyterHub role: minutes idle before the nudge, minutes idle before the
shut-down (0: never). A user with several roles gets the most lenient rule among them;
a user with none of the listed roles is left alone. Pure: the service feeds it the
class's kernels and a clock, and carries out what it returns.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class IdleRule:
    nudge_minutes: float
    shutdown_minutes: float = 0.0

    @classmethod
    def parse(cls, role: str, value: Any) -> IdleRule:
        """From the service's configuration: {"nudge_minutes": n, "shutdown_minutes": m}."""
        if not isinstance(value, dict) or set(value) - {"nudge_minutes", "shutdown_minutes"}:
            raise ValueError(f"idle_rules[{role!r}] must be {{'nudge_minutes': n, 'shutdown_minutes': m}}")
        nudge, shutdown = value.get("nudge_minutes", 0), value.get("shutdown_minutes", 0)
        for name, number in (("nudge_minutes", nudge), ("shutdown_minutes", shutdown)):
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 <= number < 10**6:
                raise ValueError(f"idle_rules[{role!r}][{name!r}] must be a number of minutes, not {number!r}")
        if nudge <= 0:
            raise ValueError(f"idle_rules[{role!r}]: nudge_minutes must be above 0 (the student is told first)")
        if shutdown and shutdown <= nudge:
            raise ValueError(f"idle_rules[{role!r}]: shutdown_minutes must be after nudge_minutes, or 0 for never")
        return cls(float(nudge), float(shutdown))

    def leniency(self) -> tuple[float, float]:
        return (self.shutdown_minutes or float("inf"), self.nudge_minutes)


@dataclass(frozen=True)
class Decision:
    action: str  # "nudge" or "shut_down"
    kernel: dict[str, Any]
    rule: IdleRule


class ReclaimPolicy:
    def __init__(self, rules: dict[str, IdleRule], clock: Callable[[], float] = time.time) -> None:
        self.rules = rules
        self.clock = clock
        #: (user, server, kernel) -> (when its idle period began, when it was nudged).
        self._nudged: dict[tuple[str, str, str], tuple[float, float]] = {}

    def rule_for(self, roles: list[str]) -> IdleRule | None:
        matching = [self.rules[r] for r in roles if r in self.rules]
        return max(matching, key=IdleRule.leniency) if matching else None

    def decide(self, kernels: list[dict[str, Any]], roles: dict[str, list[str]]) -> list[Decision]:
        """`kernels`: the class view's kernels holding memory (one per GPU they use)."""
        now = self.clock()
        decisions: list[Decision] = []
        seen: set[tuple[str, str, str]] = set()
        for kernel in kernels:
            key = (kernel["user"], kernel["server"], kernel["kernel"])
            rule = self.rule_for(roles.get(kernel["user"], []))
            idle = kernel.get("idle_seconds") or 0.0
            if key in seen or rule is None or idle <= 0:
                continue
            seen.add(key)
            began = now - idle
            nudged = self._nudged.get(key)
            if nudged is not None and began > nudged[0] + 60:
                nudged = None  # it ran since the nudge: a new idle period
                del self._nudged[key]
            if nudged is None:
                if idle >= rule.nudge_minutes * 60:
                    self._nudged[key] = (began, now)
                    decisions.append(Decision("nudge", kernel, rule))
                continue
            grace = (rule.shutdown_minutes - rule.nudge_minutes) * 60
            if rule.shutdown_minutes and idle >= rule.shutdown_minutes * 60 and now - nudged[1] >= grace:
                del self._nudged[key]
                decisions.append(Decision("shut_down", kernel, rule))
        self._nudged = {k: v for k, v in self._nudged.items() if k in seen}
        return decisions

"""How often the slow fields are read: PCIe throughput (two ~21 ms calls per GPU on an H200:
NVML samples the link for 20 ms), NVLink throughput and GPM.

Every field else is read every tick. The slow ones together may take at most a quarter of
the interval: with their measured cost per GPU, each GPU reads them every `period` ticks,
the GPUs staggered so each tick carries its share. One H200 (~45 ms) reads them every tick
at 1 s; eight read them every second tick (four GPUs a tick). Between reads a GPU's
samples repeat the last values read.

While no one watches (no stream open), they are read every IDLE_SECONDS at most: PCIe's
calls cost ~3 ms of CPU a tick on an H200, most of an idle server's sampling cost, for
figures no one sees (the charts do not keep them; /metrics then gets values that old).
"""

from __future__ import annotations

import math

#: The share of the sampling interval the slow fields may take per tick.
BUDGET_FRACTION = 0.25
#: How often the slow fields are read while no one watches.
IDLE_SECONDS = 10.0


class SlowFieldCadence:
    def __init__(self, interval: float, budget_fraction: float = BUDGET_FRACTION) -> None:
        self.interval = interval
        self.budget_fraction = budget_fraction
        #: GPU index -> seconds its slow fields took to read, smoothed.
        self.costs: dict[int, float] = {}
        #: Ticks between two reads of one GPU's slow fields.
        self.period = 1

    def due(self, tick: int, index: int, watched: bool = True) -> bool:
        period = self.period if watched else max(self.period, math.ceil(IDLE_SECONDS / max(self.interval, 1e-3)))
        return index not in self.costs or (tick + index) % period == 0

    def measured(self, index: int, seconds: float) -> None:
        previous = self.costs.get(index)
        self.costs[index] = seconds if previous is None else 0.7 * previous + 0.3 * seconds
        budget = self.budget_fraction * self.interval
        self.period = max(1, math.ceil(sum(self.costs.values()) / budget)) if budget > 0 else 1

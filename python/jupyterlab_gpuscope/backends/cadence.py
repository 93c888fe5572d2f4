"""How often the slow fields are read: PCIe throughput (two ~21 ms calls per GPU on an H200:
NVML samples the link for 20 ms), NVLink throughput and GPM.

Every field else is read every tick. The slow ones together may take at most a quarter of
the interval: with their measured cost per GPU, each GPU reads them every `period` ticks,
the GPUs staggered so each tick carries its share. One H200 (~45 ms) reads them every tick
at 1 s; eight read them every second tick (four GPUs a tick). Between reads a GPU's
samples repeat the last values read.
"""

from __future__ import annotations

import math

#: The share of the sampling interval the slow fields may take per tick.
BUDGET_FRACTION = 0.25


class SlowFieldCadence:
    def __init__(self, interval: float, budget_fraction: float = BUDGET_FRACTION) -> None:
        self.interval = interval
        self.budget_fraction = budget_fraction
        #: GPU index -> seconds its slow fields took to read, smoothed.
        self.costs: dict[int, float] = {}
        #: Ticks between two reads of one GPU's slow fields.
        self.period = 1

    def due(self, tick: int, index: int) -> bool:
        return index not in self.costs or (tick + index) % self.period == 0

    def measured(self, index: int, seconds: float) -> None:
        previous = self.costs.get(index)
        self.costs[index] = seconds if previous is None else 0.7 * previous + 0.3 * seconds
        budget = self.budget_fraction * self.interval
        self.period = max(1, math.ceil(sum(self.costs.values()) / budget)) if budget > 0 else 1

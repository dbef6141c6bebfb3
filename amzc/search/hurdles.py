"""Hurdles (paper §3.2; not in the reference C++ code).

A candidate whose mean fitness over its first evaluated tasks is below the hurdle is not
evaluated on the remaining tasks; its fitness is that partial mean. The hurdle is the given
percentile (75th in the paper) of the *unique* fitness values of the current population,
recomputed every ``update_every`` individuals, so it rises as the population improves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from amzc.search.config import HurdleConfig


class Hurdle:
    def __init__(self, config: HurdleConfig) -> None:
        self.config = config
        self.value: float | None = None  # None until the first update: nothing is stopped
        self.since_update = 0
        self.stopped = 0  # candidates stopped early
        self.checked = 0  # candidates that reached a hurdle check

    def update(self, fitness: Sequence[float]) -> None:
        unique = np.unique(np.asarray(fitness, dtype=np.float64))
        self.value = float(np.percentile(unique, self.config.percentile)) if len(unique) else None
        self.since_update = 0

    def forget(self) -> None:
        """A new population (an island's restart): no hurdle until it is full and the next
        :meth:`update` sets one; the counters stay."""
        self.value, self.since_update = None, 0

    def tick(self, fitness: Sequence[float]) -> None:
        """Count one individual; refresh the hurdle when due."""
        self.since_update += 1
        if self.since_update >= self.config.update_every:
            self.update(fitness)

    def passes(self, partial_fitness: float) -> bool:
        self.checked += 1
        if self.value is None or partial_fitness >= self.value:
            return True
        self.stopped += 1
        return False

    def state(self) -> dict:
        return {"value": self.value, "since_update": self.since_update,
                "stopped": self.stopped, "checked": self.checked}

    def restore(self, state: dict) -> None:
        self.value = state["value"]
        self.since_update = state["since_update"]
        self.stopped = state["stopped"]
        self.checked = state["checked"]

"""Hurdles: the rolling percentile of the population's unique fitness values
(amzc/search/hurdles.py, paper §3.2)."""

from __future__ import annotations

import numpy as np

from amzc.search.config import HurdleConfig
from amzc.search.hurdles import Hurdle


def test_nothing_is_stopped_before_the_first_update():
    hurdle = Hurdle(HurdleConfig(enabled=True))
    assert hurdle.passes(0.0)
    assert (hurdle.checked, hurdle.stopped) == (1, 0)


def test_the_hurdle_is_a_percentile_of_unique_values():
    hurdle = Hurdle(HurdleConfig(enabled=True, percentile=75.0))
    # duplicates do not pull the percentile down: unique values are 0.1, 0.2, 0.3, 0.4, 0.5
    hurdle.update([0.1] * 100 + [0.2, 0.3, 0.4, 0.5])
    assert hurdle.value == np.percentile([0.1, 0.2, 0.3, 0.4, 0.5], 75.0) == 0.4
    assert hurdle.passes(0.4) and hurdle.passes(0.45)
    assert not hurdle.passes(0.39)
    assert (hurdle.checked, hurdle.stopped) == (3, 1)


def test_the_hurdle_rolls_every_update_every_individuals():
    hurdle = Hurdle(HurdleConfig(enabled=True, percentile=50.0, update_every=3))
    population = [0.1, 0.2, 0.3]
    hurdle.update(population)
    assert hurdle.value == 0.2
    population[0] = 0.9
    hurdle.tick(population)
    hurdle.tick(population)
    assert hurdle.value == 0.2
    hurdle.tick(population)
    assert hurdle.value == 0.3


def test_state_round_trips():
    hurdle = Hurdle(HurdleConfig(enabled=True))
    hurdle.update([0.2, 0.4])
    hurdle.passes(0.1)
    other = Hurdle(HurdleConfig(enabled=True))
    other.restore(hurdle.state())
    assert other.state() == hurdle.state()

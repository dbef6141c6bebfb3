"""Benchmark runs side by side, one process per run (shared by the bench scripts)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any


def side_by_side(function: Callable[..., Any], calls: Sequence[tuple[Any, ...]], jobs: int,
                 report: Callable[[Any], None] | None = None,
                 stop: Callable[[Any], bool] | None = None) -> list[Any]:
    """``function(*call)`` for every call, ``jobs`` at a time, each in a process of its own
    (in this process when ``jobs`` is 1 or there is one call); the results in the calls'
    order, ``report`` called on each as it finishes. Give at most one job per core, or the
    runs share cores and their time budgets no longer mean CPU. In this process, a result
    for which ``stop`` is true ends the calls there (e.g. a run stopped by a signal: the
    user asked the whole script to stop); only the results so far are returned."""
    if jobs <= 1 or len(calls) <= 1:
        results = []
        for call in calls:
            results.append(function(*call))
            if report is not None:
                report(results[-1])
            if stop is not None and stop(results[-1]):
                break
        return results
    done: dict[int, Any] = {}
    context = multiprocessing.get_context("spawn")  # no forked JIT or thread state
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {pool.submit(function, *call): i for i, call in enumerate(calls)}
        for future in concurrent.futures.as_completed(futures):
            done[futures[future]] = future.result()
            if report is not None:
                report(done[futures[future]])
    return [done[i] for i in range(len(calls))]

"""The train/validate protocol's contract, fitness and task combination, independent of any
backend (docs/language.md, Evaluation).

A backend runs the whole protocol for every task of a :class:`TaskSet` and returns a
:class:`RunOutput`; this module turns per-task fitness into one number. The registry of
backends, and ``evaluate``, are in amzc/backends/__init__.py, above this contract."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from amzc.errors import AmzConfigError
from amzc.ops import Op
from amzc.syntax import MemoryConfig, Program
from amzc.tasks.taskset import TaskSet

Combine = Literal["mean", "median"]
TWO_OVER_PI = 2.0 / math.pi
FEC_RECORD_LIMIT = 100  # at most this many training errors are recorded, as in the reference


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate. ``seed`` keys the random streams of random-fill ops (one stream per
    task: ``derive_key(seed, task_id)``); ``max_train_steps`` and ``max_valid_steps`` cap the
    examples used (the reference's N_all and N_valid), as the FEC fingerprint run does."""

    max_abs_error: float = 100.0
    combine: Combine = "mean"
    seed: int = 0
    max_train_steps: int | None = None
    max_valid_steps: int | None = None


@dataclass
class RunOutput:
    """What a backend returns: per-task fitness and the final memory of every task.

    With ``record=True`` it also holds the absolute errors of the first epoch's training steps
    (at most :data:`FEC_RECORD_LIMIT`) and of the first validation, and how many of each were
    recorded before an abort (``n_train_errors``/``n_valid_errors``), for FEC fingerprints."""

    fitness: np.ndarray  # (K,)
    scalars: np.ndarray  # (K, S)
    vectors: np.ndarray  # (K, V, F)
    matrices: np.ndarray  # (K, M, F, F)
    train_errors: np.ndarray | None = None  # (K, T)
    valid_errors: np.ndarray | None = None  # (K, Nv)
    n_train_errors: np.ndarray | None = None  # (K,)
    n_valid_errors: np.ndarray | None = None  # (K,)


@dataclass(frozen=True)
class EvalResult:
    fitness: float
    per_task: np.ndarray


class Backend(Protocol):
    """What the search and the CLI need of a backend: the whole protocol for every task
    (:meth:`run`), and its optional search-acceleration ability."""

    name: str

    def run(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
            options: EvalOptions, record: bool = False) -> RunOutput: ...

    def search_accelerator(self) -> SearchAccelerator | None:
        """The backend's ability to speed up a search, or None: then the search takes its
        Python paths, built on :meth:`run` alone, with the same results."""
        ...


class SearchAccelerator(Protocol):
    """A backend's optional fast paths for the search, asked for once per evaluator
    (``backend.search_accelerator()``). Each must give exactly what its Python form gives
    (amzc/fec.py, amzc/search/evolution.py): the same fingerprints, fitness, cache contents
    and population updates."""

    def expect_ops(self, ops: Iterable[Op]) -> None:
        """The ops the coming programs will use (a search's allowed ops)."""
        ...

    def fingerprints(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
                     options: EvalOptions) -> list[int]:
        """``amzc.fec.fingerprints`` of a recorded run, without building a RunOutput."""
        ...

    def task_fitness(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
                     options: EvalOptions) -> list[float]:
        """``run(...).fitness`` as a list."""
        ...

    def fec_cache(self, cache_size: int, forget_every: int, like: object | None = None,
                  average: bool | None = None) -> object:
        """An FEC table with ``amzc.fec.FecCache``'s semantics and pickled form (with
        ``like``, a copy of that cache's entries, order, counters and, unless ``average``
        says otherwise, its averaging)."""
        ...

    def fec_runner(self, tasks: TaskSet, memory: MemoryConfig, options: EvalOptions,
                   cache: object, full: tuple[TaskSet, EvalOptions] | None = None
                   ) -> FecRunner | None:
        """The fingerprint run and its lookups in one call, bound to a table this
        accelerator made (None for another table)."""
        ...


class FecRunner(Protocol):
    """A backend's fingerprint run with the FEC lookups in one call (see
    ``LlvmBackend.fec_runner``), and the native child step of a full population."""

    def __call__(self, program: Program) -> tuple[list[int], list[float | None], list[int],
                                                  bool] | None: ...

    def outcome(self, result: int, program: Program
                ) -> tuple[list[int], list[float | None], list[int], bool]: ...

    def ready(self) -> bool: ...

    def population(self, fitness: array, programs: list[Program], tournament_size: int,
                   finish: Callable[[Program, int, int], float]) -> NativeChildren | None: ...


class NativeChildren(Protocol):
    """A backend's native side of a full population under regularized evolution
    (``SearchEvaluator.native_population``): between :meth:`start` and :meth:`stop` the
    population's next slot, best and tournament counter live there."""

    def start(self, next_slot: int, best: int, key: int, children: int) -> int:
        """Load the population's state; the next child's parent."""
        ...

    def child(self, program: Program, seed: int) -> int:
        """Evaluate a child (``seed`` keys its random ops if it needs a full evaluation) and
        put it into the oldest slot: the next child's parent, or −1 when the candidate
        changed (the best moved, or its slot was the one replaced)."""
        ...

    def stop(self) -> tuple[int, int, int, int, int, int]:
        """(next slot, best, children, children done here, full evaluations here, tasks
        evaluated here)."""
        ...


def flip_and_squash(rmse: np.ndarray) -> np.ndarray:
    """Regression fitness 1 − (2/π)·atan(RMSE) in (0, 1]; 0 for a NaN or infinite RMSE."""
    rmse = np.asarray(rmse, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        fitness = 1.0 - TWO_OVER_PI * np.arctan(rmse)
    return np.where(np.isfinite(rmse), fitness, 0.0)


def combine(per_task: np.ndarray, mode: Combine = "mean") -> float:
    """Mean, or the reference's median: element n//2 of the sorted list (upper median)."""
    values = np.asarray(per_task, dtype=np.float64)
    if mode == "mean":
        return float(values.mean())
    if mode == "median":
        return float(np.sort(values)[len(values) // 2])
    raise AmzConfigError(f"unknown combination {mode!r}; use mean or median")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# Moved to amzc.backends (the registry, above this contract); the old names resolve for one
# release (tests/test_imports.py lists this import as a named exception).
_MOVED = ("BACKENDS", "get_backend", "evaluate")


def __getattr__(name: str) -> object:
    if name in _MOVED:
        import amzc.backends

        return getattr(amzc.backends, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

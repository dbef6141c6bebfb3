"""Fitness of search candidates on T_search: FEC (amzc/fec.py), hurdles (paper §3.2) and
the bookkeeping the experiment reports.

Two memos make the common cases free without changing any result (docs/evolution.md):

* the *fingerprint memo* maps a program's live code (:mod:`amzc.passes.dce`) to its per-task
  fingerprints. Programs with equal live code make bit-identical predictions, and the
  fingerprint run uses a fixed seed, so the memo returns exactly what the run would. Many
  children differ from a program already seen only in dead code.
* the *fitness memo* maps the key of a program without live random ops to its per-task
  fitness: such a program's evaluation is deterministic, so an FEC miss that the cache's
  forgetting or eviction caused does not need the backend either.

Both memos are pure caches: they are not checkpointed, and the search takes the same path
with or without them. The reference's counters (train steps, task evaluations) count the
work as if it had run.

Finding the live code costs about what a small fingerprint run does, so with ``fec.memo =
false`` children are evaluated as written instead: the same predictions bit for bit (that is
what dead-code elimination guarantees), hence the same search, with only exact copies of a
program reusing its fingerprints (by object).

The evaluator's path is chosen once per configuration: as written with FEC (the backend's
native call when it can), the memos as a wrapper around the general path, or the general
path alone. Each returns the fitness and records its work in one reused ``_Work``, which
``SearchEvaluator._tally`` folds into :class:`EvalStats`, the only place they change; the
native child step's children are folded there too."""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import add
from typing import Any

import numpy as np

from amzc import caches
from amzc.backends import get_backend
from amzc.caches import BoundedCache
from amzc.evaluate import Backend, EvalOptions, NativeChildren, combine
from amzc.fec import FEC_SEED, FecCache, fingerprints, task_keys
from amzc.ops import Form, Op
from amzc.passes import dce
from amzc.passes.dce import eliminate_dead_code
from amzc.search.config import FecConfig
from amzc.search.hurdles import Hurdle
from amzc.syntax import MemoryConfig, Program
from amzc.tasks.taskset import TaskSet

log = logging.getLogger("amzc.search")

# The memos' bytes (the budget's "memos" share, amzc.caches): 40 % each for fingerprints and
# fitness by live code, 20 % for the fingerprints of programs evaluated as written. An entry
# holds a list of one value per task (48 digits tasks made 100,000 entries cost ~400 MB);
# an entry of the recent memo also holds its program (~1 KB for Figure 5's programs).
MEMO_ENTRY_BYTES = 150
RECENT_ENTRY_BYTES = 1024
VALUE_BYTES = 40  # one per task: a list slot and an int or float
MEMOIZE = True  # benchmarks turn the memos off to measure what FEC alone does


def load_backend(name: str) -> Backend:
    """``auto`` is LLVM when it can be loaded and NumPy otherwise (with a warning)."""
    if name != "auto":
        return get_backend(name)
    try:
        return get_backend("llvm")
    except Exception as e:  # noqa: BLE001 - any failure to load LLVM falls back to NumPy
        log.warning("LLVM backend unavailable (%s); evaluating with NumPy", e)
        return get_backend("numpy")


def fec_taskset(tasks: TaskSet, num_train: int, num_valid: int) -> TaskSet:
    """The first examples of every task, epoch 0 only: all a fingerprint run reads."""
    n, nv = min(num_train, tasks.num_train), min(num_valid, tasks.num_valid)
    return TaskSet(tasks.name, tasks.eval_type, tasks.train_x[:, :n], tasks.train_y[:, :n],
                   tasks.valid_x[:, :nv], tasks.valid_y[:, :nv],
                   np.ascontiguousarray(tasks.train_order[:, :1, :n]), tasks.task_ids)


class _Work:
    """What one evaluation did besides its fitness (or a run of children finished
    natively): filled as it goes, folded into :class:`EvalStats` by ``SearchEvaluator._tally``
    and zeroed there. One per evaluator, reused: a child allocates none."""

    __slots__ = ("calls", "evaluated", "skipped", "fingerprint_hits", "fitness_hits")

    def __init__(self) -> None:
        self.calls = 0  # backend calls
        self.evaluated = 0  # tasks evaluated in full (or taken from the fitness memo)
        self.skipped = 0  # tasks a hurdle skipped
        self.fingerprint_hits = 0
        self.fitness_hits = 0


@dataclass
class EvalStats:
    """Counters of the work done. The first three count the search's work as the reference
    does and repeat exactly for a seed; the others depend on amzc's memos."""

    train_steps: int = 0  # training examples run (fingerprints included), as the reference
    task_evaluations: int = 0  # full per-task evaluations (FEC misses)
    hurdle_skipped_tasks: int = 0
    backend_calls: int = 0  # what actually ran (depends on the memos and the loop's path)
    fingerprint_memo_hits: int = 0
    fitness_memo_hits: int = 0


class SearchEvaluator:
    def __init__(self, backend: Backend, tasks: TaskSet, memory: MemoryConfig, fec: FecConfig,
                 hurdle: Hurdle | None = None, combine_mode: str = "mean",
                 max_abs_error: float = 100.0) -> None:
        self.backend = backend
        self.tasks = tasks
        self.memory = memory
        # the backend's fast paths, if it has them (LLVM: the FEC table in native memory,
        # looked up in the fingerprint's call), else the Python ones; the same results
        self.accelerator = backend.search_accelerator()
        # the backend's fingerprint-and-lookup call (FecRunner), made on first use
        self._runner: Any = None
        self.live_memo = fec.memo
        self.fec = (FecCache(fec.cache_size, fec.forget_every, fec.average) if fec.enabled
                    else None)
        self.hurdle = hurdle
        self.combine_mode = combine_mode
        self._mean = combine_mode == "mean"
        self.max_abs_error = max_abs_error
        self.stats = EvalStats()
        self._work = _Work()
        self.train_examples = tasks.num_train * tasks.epochs
        self._fec_tasks = fec_taskset(tasks, fec.num_train, fec.num_valid)
        self._fec_options = EvalOptions(max_abs_error=max_abs_error, seed=FEC_SEED,
                                        max_train_steps=fec.num_train,
                                        max_valid_steps=fec.num_valid)
        self._full_options = EvalOptions(max_abs_error=max_abs_error)
        self._task_keys = task_keys(tasks.task_ids)
        self._fec_train_steps = tasks.num_tasks * min(fec.num_train, self.train_examples)
        # the most one evaluate() can add to stats.train_steps: a fingerprint run, then every
        # task in full
        self._steps_per_child = self._fec_train_steps if fec.enabled else 0
        self.max_train_steps_per_candidate = (self._steps_per_child
                                              + tasks.num_tasks * self.train_examples)
        self._all_tasks = list(range(tasks.num_tasks))
        self._generation = dce.generation
        self.memoize = MEMOIZE
        # task subsets run as sets of their own (_subset): single tasks, made on first use,
        # and a hurdle's two stages when FEC missed every task (the usual case): the first
        # ``hurdle.tasks`` tasks, then the rest
        self._subsets: dict[tuple[int, ...], TaskSet] = {}
        if hurdle is not None and hurdle.config.tasks < tasks.num_tasks:
            k = hurdle.config.tasks
            for part in (range(k), range(k, tasks.num_tasks)):
                self._subsets[tuple(part)] = tasks.subset(list(part))
        # children evaluated as written: fingerprints of recent programs by object, for the
        # children that are exact copies (mutate_prob < 1)
        share = caches.share_bytes("memos")
        per_entry = VALUE_BYTES * tasks.num_tasks
        self._recent: BoundedCache[list[int]] = BoundedCache.sized(
            0.2 * share, RECENT_ENTRY_BYTES + per_entry)
        self.memo_limit = caches.entries(0.4 * share, MEMO_ENTRY_BYTES + per_entry)
        self._fingerprints: BoundedCache[list[int]] = BoundedCache(self.memo_limit)
        self._fitness: BoundedCache[list[float | None]] = BoundedCache(self.memo_limit)

    @property
    def fec(self) -> FecCache | None:
        return self._fec

    @fec.setter
    def fec(self, cache: FecCache | None) -> None:
        """A new or restored cache (a checkpoint's), as the backend's table if it has one."""
        if isinstance(cache, FecCache) and self.accelerator is not None:
            cache = self.accelerator.fec_cache(cache.cache_size, cache.forget_every, like=cache,
                                               average=cache.average)
        self._fec = cache
        self._runner = None
        self._choose_path()

    def expect_ops(self, ops: Iterable[Op]) -> None:
        """Tell the backend which ops candidates will use, if it can prepare for them."""
        if self.accelerator is not None:
            self.accelerator.expect_ops(ops)

    # -- the one entry point -----------------------------------------------------------------

    def evaluate(self, program: Program, seed: int) -> float:
        """Search fitness of ``program``; ``seed`` keys its random ops on a full evaluation.
        The path was chosen with the cache (:meth:`_choose_path`); its work goes into the
        statistics here."""
        value = self._path(program, seed)
        self._tally(1)
        return value

    def _choose_path(self) -> None:
        """The evaluation's path for this configuration, chosen once: children as written
        with FEC (the demo's setting; the backend's native call when it can), the dead-code
        memos around the general path (``fec.memo = true``), or the general path on the
        program as written (no FEC)."""
        if self.live_memo:
            self._path = self._evaluate_live
        elif self._fec is not None:
            self._path = self._evaluate_written
        else:
            self._path = self._evaluate_as_written

    def _evaluate_as_written(self, program: Program, seed: int) -> float:
        return self._evaluate_form(_AsWritten(program), seed)

    def _evaluate_live(self, program: Program, seed: int) -> float:
        """The dead-code memos around the general path: the program's live code is their key
        (the fingerprint memo in :meth:`_fingerprint`, the fitness memo in :meth:`_full`),
        and the simplified program is what a backend runs, if one has to."""
        key, has_random, live = dce.analyze(program)
        if dce.generation != self._generation:  # value ids were reset: old keys are stale
            self._fingerprints.clear()
            self._fitness.clear()
            self._generation = dce.generation
        return self._evaluate_form(_Lazy(live, key, not has_random), seed)

    def _evaluate_form(self, form: _Lazy | _AsWritten, seed: int) -> float:
        """The general path: the fingerprints and FEC's lookups (with FEC), then the full
        evaluation of what FEC missed (every task without FEC)."""
        fec = self._fec
        if fec is None:
            return self._complete(form, seed, None, [None] * self.tasks.num_tasks,
                                  self._all_tasks)
        prints = self._fingerprint(form)
        per_task, missing = fec.lookup_tasks(prints)
        if not missing:
            return self._combine(per_task)  # type: ignore[arg-type]
        return self._complete(form, seed, prints, per_task, missing)

    def _evaluate_written(self, program: Program, seed: int) -> float:
        """A program as written with FEC (``fec.memo = false``, the demo's setting):
        fingerprints and lookups in the backend's one native call when it can (which without
        a hurdle also evaluates the misses of a program without random fills), and for an
        exact copy of a recent program from that program's fingerprints."""
        fec, work = self._fec, self._work
        found = self._recent.get(id(program))
        if found is not None and self.memoize:
            work.fingerprint_hits += 1
            prints = found
            per_task, missing = fec.lookup_tasks(prints)
        else:
            runner = self._runner
            if runner is None and self.accelerator is not None:
                runner = self._make_runner(fec)
            result = runner(program) if runner is not None else None
            if result is None:  # no native call (yet): the two steps
                prints = self._fingerprint(_AsWritten(program))
                per_task, missing = fec.lookup_tasks(prints)
            else:
                work.calls += 1
                prints, per_task, missing, evaluated = result
                if evaluated:  # the misses as well, in a second run in that call
                    work.calls += 1
                    work.evaluated += len(missing)
                    missing = []
            self._recent.put_object(program, prints)
        if not missing:  # all from the cache (85% of the demo's children), or just evaluated
            if self._mean:
                return sequential_mean(per_task)  # type: ignore[arg-type]
            return self._combine(per_task)  # type: ignore[arg-type]
        return self._complete(_AsWritten(program), seed, prints, per_task, missing)

    def _make_runner(self, fec: FecCache) -> object:
        # a hurdle stages the full evaluation: then the misses come back here
        full = (self.tasks, self._full_options) if self.hurdle is None else None
        runner = self._runner = self.accelerator.fec_runner(self._fec_tasks, self.memory,
                                                            self._fec_options, fec, full)
        return runner

    def _tally(self, children: int) -> None:
        """Fold the work of ``children`` evaluations into the statistics: the one place
        they change. Train steps as the reference counts them: with FEC, a fingerprint run
        per child (whether it ran, natively or not, or came from a memo), and the full
        examples of every task evaluated."""
        work, stats = self._work, self.stats
        stats.train_steps += children * self._steps_per_child
        stats.backend_calls += work.calls
        work.calls = 0
        if work.evaluated or work.skipped or work.fingerprint_hits or work.fitness_hits:
            # a full evaluation, a hurdle or a memo (most children are FEC hits: none)
            stats.train_steps += work.evaluated * self.train_examples
            stats.task_evaluations += work.evaluated
            stats.hurdle_skipped_tasks += work.skipped
            stats.fingerprint_memo_hits += work.fingerprint_hits
            stats.fitness_memo_hits += work.fitness_hits
            work.evaluated = work.skipped = work.fingerprint_hits = work.fitness_hits = 0

    # -- children evaluated and put into the population natively -----------------------------

    def native_population(self, fitness: array, programs: list[Program],
                          tournament_size: int) -> NativeChildren | None:
        """The backend's native side of a full population (its ``child(program, seed)``
        runs a child's evaluation, the population's update and the next tournament in one
        call: amzc/backends/llvm/population.py; a child it cannot finish there, this
        evaluator finishes), or None: then the strategy runs them in Python. Only for
        children evaluated as written with FEC, without a hurdle, with the mean."""
        fec = self._fec
        if (fec is None or self.live_memo or self.hurdle is not None or not self._mean
                or self.accelerator is None):
            return None
        runner = self._runner or self._make_runner(fec)
        if runner is None:
            return None
        return runner.population(fitness, programs, tournament_size, self.finish_native)

    def finish_native(self, program: Program, seed: int, result: int) -> float:
        """The fitness of a child whose native call (``result``: amz_fec_run's) left misses
        it could not evaluate, or could not run it: what :meth:`_evaluate_written` does
        after its native call."""
        self._work.calls += 1
        runner = self._runner
        prints, per_task, missing, _ = runner.outcome(result, program)
        if missing:
            value = self._complete(_AsWritten(program), seed, prints, per_task, missing)
        else:
            value = sequential_mean(per_task)  # type: ignore[arg-type]
        self._tally(1)
        # the general path may have grown the interpreter: the native call's block follows.
        # It cannot fail (an interpreter, once built, stays; the mode is fixed), and the next
        # child must not run with a stale block
        if not runner.ready():
            raise RuntimeError("the backend's native child step lost its interpreter")
        return value

    def count_native(self, children: int, full_calls: int, evaluated_tasks: int) -> None:
        """Fold the work of children finished natively into the statistics. Backend calls
        as made: an exact copy of a recent program reruns its fingerprint natively instead
        of taking it from ``_recent``, so this counter, and ``fingerprint_memo_hits``,
        differ between the native and the Python loop."""
        work = self._work
        work.calls += children + full_calls
        work.evaluated += evaluated_tasks
        self._tally(children)

    def _complete(self, form: _Lazy | _AsWritten, seed: int, prints: list[int] | None,
                  per_task: list[float | None], missing: list[int]) -> float:
        """The full evaluation of the tasks FEC missed (all of them without FEC: ``prints``
        None), with the hurdle if any; the results go into the cache."""
        deterministic = form.deterministic
        stage = missing
        hurdle = self.hurdle
        if hurdle is not None and len(missing) > hurdle.config.tasks:
            stage = missing[: hurdle.config.tasks]
        self._full(form, deterministic, stage, per_task, seed)
        fec = self._fec
        if fec is not None:  # before the hurdle: with fec.average it judges the entries' means
            assert prints is not None
            fec.insert_tasks(prints, per_task, stage)
        rest = missing[len(stage):]
        if not rest:
            return self._combine(per_task)  # type: ignore[arg-type]
        assert hurdle is not None
        if not hurdle.passes(self._combine([f for f in per_task if f is not None])):
            self._work.skipped += len(rest)  # left unevaluated, and out of the cache
            return self._combine([f for f in per_task if f is not None])
        self._full(form, deterministic, rest, per_task, seed)
        if fec is not None:
            fec.insert_tasks(prints, per_task, rest)
        return self._combine(per_task)  # type: ignore[arg-type]

    def _combine(self, values: list[float]) -> float:
        if self._mean:
            return sequential_mean(values)
        return combine(np.array(values), self.combine_mode)

    def evaluate_many(self, programs: Sequence[Program], seeds: Sequence[int]) -> list[float]:
        """Several independent candidates (the initial population, random search). The place
        where a batch API of a backend will plug in."""
        return [self.evaluate(p, s) for p, s in zip(programs, seeds, strict=True)]

    # -- pieces --------------------------------------------------------------------------------

    def _fingerprint(self, form: _Lazy | _AsWritten) -> list[int]:
        """The fingerprints: from the fingerprint memo by live code, or a fingerprint run."""
        key = form.key
        memoize = self.memoize and key is not None
        if memoize:
            prints = self._fingerprints.get(key)
            if prints is not None:
                self._work.fingerprint_hits += 1
                return prints
        self._work.calls += 1
        if self.accelerator is not None:  # hashed as it runs, no RunOutput
            prints = self.accelerator.fingerprints(form.get(), self._fec_tasks,
                                                   self.memory, self._fec_options)
        else:
            prints = fingerprints(self.backend.run(form.get(), self._fec_tasks,
                                                   self.memory, self._fec_options, record=True),
                                  self._task_keys)
        if memoize:
            self._fingerprints.put(key, prints)
        return prints

    def _task_fitness(self, program: Program, tasks: TaskSet,
                      options: EvalOptions) -> list[float]:
        if self.accelerator is not None:
            return self.accelerator.task_fitness(program, tasks, self.memory, options)
        return self.backend.run(program, tasks, self.memory, options).fitness.tolist()

    def _full(self, form: _Lazy | _AsWritten, deterministic: bool, tasks: list[int],
              per_task: list[float | None], seed: int) -> None:
        """Full evaluation of the listed tasks into ``per_task``."""
        key, work = form.key, self._work
        work.evaluated += len(tasks)
        memoize = self.memoize and key is not None
        memo = self._fitness.get(key) if deterministic and memoize else None
        todo = tasks if memo is None else [i for i in tasks if memo[i] is None]
        if memo is not None and len(todo) < len(tasks):
            work.fitness_hits += 1
        if todo:
            subset, positions = self._subset(todo)
            work.calls += 1
            # the seed only keys random ops; one shared options object lets a backend reuse
            # its per-call setup for every deterministic program
            options = (self._full_options if deterministic
                       else EvalOptions(max_abs_error=self.max_abs_error, seed=seed))
            fitness = self._task_fitness(form.get(), subset, options)
            if deterministic and memoize:
                if memo is None:
                    memo = self._fitness.put(key, [None] * self.tasks.num_tasks)
                if subset is self.tasks:  # every task ran: remember them all
                    memo[:] = fitness
                else:
                    for i, j in zip(todo, positions, strict=True):
                        memo[i] = fitness[j]
            else:
                for i, j in zip(todo, positions, strict=True):
                    per_task[i] = fitness[j]
        if memo is not None:
            for i in tasks:
                per_task[i] = memo[i]

    def _subset(self, tasks: list[int]) -> tuple[TaskSet, list[int]]:
        """The task set to run for ``tasks`` and the positions of ``tasks`` in its results.

        Tasks are independent (each has its own random streams), so running extra tasks
        changes nothing for the others. One task runs alone, and so does each of a hurdle's
        two stages over all tasks (the work a hurdle saves); other groups run as the whole
        set, which a backend has set up once, rather than as ever new subsets."""
        if len(tasks) == self.tasks.num_tasks:  # every task (indices are distinct)
            return self.tasks, tasks
        key = tuple(tasks)
        subset = self._subsets.get(key)
        if subset is None:
            if len(tasks) > 1:
                return self.tasks, tasks
            subset = self._subsets[key] = self.tasks.subset(tasks)
        return subset, list(range(len(tasks)))


class _AsWritten:
    """A program evaluated as written (the ``_Lazy`` interface): no memo key."""

    __slots__ = ("program",)
    key = None

    def __init__(self, program: Program) -> None:
        self.program = program

    def get(self) -> Program:
        return self.program

    @property
    def deterministic(self) -> bool:
        return not draws_random(self.program)


def sequential_mean(values: Sequence[float]) -> float:
    """The search fitness: the per-task fitness summed left to right, over their number.
    The LLVM backend's native child step (amzc/backends/llvm/population.py) computes the
    same; ``math.fsum`` would need its exact partial sums there, and ``sum`` compensates
    since Python 3.12."""
    return reduce(add, values) / len(values)


def draws_random(program: Program) -> bool:
    """Whether any instruction is a random fill (live or not: a dead one draws nothing that
    matters, so the seed changes no result either way)."""
    random = Form.RANDOM
    for body in (program.setup, program.predict, program.learn):
        for ins in body:
            if ins.op.form is random:
                return True
    return False


class _Lazy:
    """The simplified program, built only if a backend has to run it, with its memo key and
    whether its live code is deterministic (no random fill)."""

    __slots__ = ("live", "program", "key", "deterministic")

    def __init__(self, live: tuple, key: tuple, deterministic: bool) -> None:
        self.live = live
        self.program: Program | None = None
        self.key = key
        self.deterministic = deterministic

    def get(self) -> Program:
        if self.program is None:
            self.program = dce.as_program(self.live)
        return self.program


def evaluate_on(program: Program, tasks: TaskSet, memory: MemoryConfig, backend: Backend,
                seed: int, max_abs_error: float = 100.0) -> tuple[float, np.ndarray]:
    """Mean fitness on a task set without FEC (T_select and final evaluations)."""
    options = EvalOptions(max_abs_error=max_abs_error, seed=seed)
    out = backend.run(eliminate_dead_code(program), tasks, memory, options)
    return combine(out.fitness, "mean"), np.asarray(out.fitness, dtype=np.float64)

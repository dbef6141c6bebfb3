"""The experiment loop (docs/evolution.md): search → select → final, in a run folder.

Each experiment re-draws the task seeds (when configured), starts a new FEC cache and a new
population, and searches until its budget ends; its candidate (the population's best) is then
evaluated on T_select, and the best on T_select over all experiments is evaluated once on the
final tasks. The run stops when a T_select fitness exceeds ``sufficient_fitness`` or after
``max_experiments``.

amzc's addition, *early selection*: when on, every new population best whose search fitness
reaches ``early_select_min_fitness`` is evaluated on T_select at once, and the experiment ends
as soon as one exceeds ``sufficient_fitness``. Selection evaluations use seeds derived from the
run seed, not the search RNG, so turning early selection on only shortens a run; it never
changes the search's path.

All state that decides the future lives in :class:`RunState` and is checkpointed; a resumed
run continues bit for bit (docs/evolution.md describes the run folder)."""

from __future__ import annotations

import gc
import json
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from amzc import caches
from amzc.errors import AmzCheckpointError, AmzConfigError
from amzc.evaluate import Backend, EvalOptions, combine
from amzc.fec import FecCache
from amzc.parse import parse_file
from amzc.passes.canonical import ProgramKey, structural_key
from amzc.passes.dce import analyze, eliminate_dead_code
from amzc.printer import print_program
from amzc.rng import derive_key
from amzc.search.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from amzc.search.config import ExperimentConfig, parse_config
from amzc.search.evaluation import EvalStats, SearchEvaluator, evaluate_on, load_backend
from amzc.search.evolution import Population, Strategy, make_strategy
from amzc.search.hurdles import Hurdle
from amzc.search.progress import Display, JsonlLog, Snapshot
from amzc.search.runfolder import locked, start_over, stop_signals, unlock
from amzc.syntax import MemoryConfig, Program
from amzc.tasks import TaskSpec, build_tasks
from amzc.tasks.taskset import TaskSet

CONFIG_FILE = "config.toml"
LOG_FILE = "progress.jsonl"
RESULT_FILE = "result.json"
BEST_FILE = "best.amz"
SIMPLIFIED_FILE = "best_simplified.amz"

RUN_LENGTH = 256  # individuals the strategy runs between the loop's checks, at most
GC_EVERY = 1_000_000  # individuals between collections of the (disabled) cyclic GC

# purposes mixed into derived seeds, so that no two uses share a stream
SELECT_SEED, FINAL_SEED = 1, 2


class Interrupted(Exception):
    """The run stopped on a signal (Ctrl-C, SIGTERM, SIGHUP), after writing a checkpoint
    unless a second signal asked it to stop at once. ``exit_code`` is the shell's for a
    process ended by that signal (128 + its number)."""

    def __init__(self, folder: Path, signum: int, saved: bool = True) -> None:
        name = "interrupted" if signum == signal.SIGINT else \
            f"stopped by {signal.Signals(signum).name}"
        if saved:
            text = f"{name}; continue with: amzc evolve --resume {folder}"
        elif (folder / CHECKPOINT).exists():
            text = (f"{name} at once, without a checkpoint: the work since the last one is "
                    f"lost; continue from it with: amzc evolve --resume {folder}")
        else:
            text = f"{name} at once, before the first checkpoint; {start_over(folder)}"
        super().__init__(text)
        self.folder = folder
        self.exit_code = 128 + signum


@dataclass
class RunState:
    """Everything a resumed run needs, besides the config."""

    seed: int
    rng_state: Any
    islands: int = 0  # the island count an island run started with (0: one population)
    experiment: int = 0  # 1-based number of the current (or last) experiment
    in_experiment: bool = False
    search_spec: TaskSpec | None = None
    select_spec: TaskSpec | None = None
    population: Population | None = None
    strategy: dict = field(default_factory=dict)
    fec: FecCache | None = None
    hurdle: dict | None = None
    stats: EvalStats = field(default_factory=EvalStats)
    individuals: int = 0  # in the current experiment
    next_progress: int = 0
    next_checkpoint: int = 0
    logged_best: Program | None = None  # the last candidate early selection considered
    logged_fitness: float = -1.0
    recorded_fitness: float = -1.0  # the experiment's best search fitness in the log
    pending_best: dict | None = None  # its `best` record, until the next progress record
    pending_program: Program | None = None  # the program of pending_best
    # run.select_bests: the experiment's logged best scoring highest on T_select
    select_best: Program | None = None
    select_best_fitness: float = -1.0  # its T_select fitness
    select_best_search: float = -1.0  # its search fitness
    improved_at: int = 0  # individuals when the best last rose by more than stagnation_delta
    improved_fitness: float = -1.0
    # over the whole run
    total_individuals: int = 0
    total_train_steps: int = 0
    fec_hits: int = 0
    fec_lookups: int = 0
    hurdle_stopped: int = 0
    hurdle_checked: int = 0
    best_select: float = -1.0
    best_program: Program | None = None
    best_search_fitness: float = 0.0
    best_experiment: int = 0
    time_up: bool = False
    elapsed_s: float = 0.0
    log_offset: int = 0
    log_tail: str | None = None  # JsonlLog.tail at log_offset (None: a checkpoint without)
    finished: bool = False


class Run:
    """One ``amzc evolve`` run in a folder."""

    def __init__(self, config: ExperimentConfig, folder: Path, state: RunState,
                 display: Display | None = None, backend: Backend | None = None,
                 config_dir: Path | None = None, resume: bool = False,
                 search: Search | None = None) -> None:
        with locked(folder):
            self._setup(config, folder, state, display, backend, config_dir, resume, search)

    def _setup(self, config: ExperimentConfig, folder: Path, state: RunState,
               display: Display | None, backend: Backend | None, config_dir: Path | None,
               resume: bool, search: Search | None) -> None:
        caches.set_budget(config.memory_budget_mb)  # before any memo is made
        self.config = config
        self.folder = folder
        self.state = state
        self.display = display or Display()
        self.backend = backend or load_backend(config.backend)
        self.config_dir = config_dir or Path.cwd()
        self.rng = random.Random()
        self.rng.setstate(state.rng_state)
        self.log = JsonlLog(folder / LOG_FILE, state.log_offset if resume else None,
                            state.log_tail)
        if self.log.dropped:
            self.display.message(f"{LOG_FILE}: dropped {self.log.dropped:,} bytes of records "
                                 "written after the last checkpoint; the run continues from it")
        self._session_start = time.perf_counter()
        self._elapsed_base = state.elapsed_s
        self._stop_requested = 0  # the number of the signal that asked the run to stop
        self._next_gc = GC_EVERY
        self._select_memo: dict[ProgramKey, tuple[float, np.ndarray]] = {}
        self._select_tasks: TaskSet | None = None
        self._same_best: tuple[Program, Program] | None = None  # _new_best's last "same"
        self.search: Search = (search if search is not None
                               else PopulationSearch(config, self.backend))
        if state.in_experiment:
            self._build_experiment()

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def start(cls, config: ExperimentConfig, folder: Path, display: Display | None = None,
              backend: Backend | None = None, config_dir: Path | None = None,
              force: bool = False, search: Search | None = None) -> Run:
        return cls(config, folder, cls.prepare(config, folder, force), display, backend,
                   config_dir, search=search)

    @staticmethod
    def prepare(config: ExperimentConfig, folder: Path, force: bool = False) -> RunState:
        """A run folder ready for a new run, and the run's initial state. The folder stays
        locked to this process (:func:`~amzc.search.runfolder.lock`) until the run ends."""
        folder.mkdir(parents=True, exist_ok=True)
        with locked(folder):
            return Run._clear(config, folder, force)

    @staticmethod
    def _clear(config: ExperimentConfig, folder: Path, force: bool) -> RunState:
        if not force and (folder / RESULT_FILE).exists():
            raise AmzConfigError(f"{folder} holds a finished run (see {folder / RESULT_FILE}); "
                                 "pass --force to start over in it, or choose another --out")
        if not force and (folder / CHECKPOINT).exists():
            raise AmzConfigError(f"{folder} already holds a run; resume it with "
                                 f"--resume {folder}, or pass --force to start over")
        for stale in (RESULT_FILE, BEST_FILE, SIMPLIFIED_FILE, CHECKPOINT,
                      CHECKPOINT + ".tmp", RESULT_FILE + ".tmp"):
            (folder / stale).unlink(missing_ok=True)
        (folder / CONFIG_FILE).write_text(config.source, encoding="utf-8")
        rng = random.Random(config.seed)
        return RunState(seed=config.seed, rng_state=rng.getstate())

    @classmethod
    def resume(cls, folder: Path, display: Display | None = None,
               backend_name: str | None = None,
               search: Callable[[ExperimentConfig, RunState], Search] | None = None) -> Run:
        """Continue a run from its checkpoint; ``search`` makes the run's search from its
        config and state (default: one population in this process)."""
        config, state, config_dir = cls.load(folder, backend_name)
        with locked(folder):  # released if the search or the run cannot be built
            return cls(config, folder, state, display, load_backend(config.backend),
                       config_dir, resume=True,
                       search=None if search is None else search(config, state))

    @staticmethod
    def load(folder: Path, backend_name: str | None = None
             ) -> tuple[ExperimentConfig, RunState, Path]:
        """The config, state and config folder of a run to resume; the folder stays locked
        to this process until the run ends."""
        if not (folder / CHECKPOINT).is_file():
            load_checkpoint(folder)  # says what is missing, without a lock file left behind
        with locked(folder):
            return Run._load(folder, backend_name)

    @staticmethod
    def _load(folder: Path, backend_name: str | None) -> tuple[ExperimentConfig, RunState, Path]:
        saved = load_checkpoint(folder)
        state: RunState = saved["state"]
        if state.finished:
            raise AmzCheckpointError(f"{folder}: this run has finished; see "
                                     f"{folder / RESULT_FILE}. To run it again, "
                                     f"{start_over(folder)}")
        config_dir = Path(saved["config_dir"])
        config = parse_config(saved["config_text"], str(folder / CONFIG_FILE),
                              base_dir=config_dir, seed=state.seed)
        if backend_name is not None:
            config = replace(config, backend=backend_name)
        if not (folder / LOG_FILE).exists():
            raise AmzCheckpointError(f"{folder}: {LOG_FILE} is missing; cannot resume")
        return config, state, config_dir

    def _build_experiment(self) -> None:
        """The current experiment's search, from the state."""
        self._select_tasks = None  # built on first use: large, and often never needed
        self._next_gc = GC_EVERY
        self._select_memo.clear()
        self.search.start(self.state)

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Run to the end. A stop signal (Ctrl-C, SIGTERM, SIGHUP) makes the loop write a
        checkpoint and raise :class:`Interrupted`; a second one stops at once."""
        # The search allocates millions of small acyclic objects; the cyclic collector's
        # passes over the large, long-lived caches cost more than they ever free.
        gc_was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            with stop_signals(self._request_stop):
                try:
                    return self._run()
                except KeyboardInterrupt:
                    raise Interrupted(self.folder, signal.SIGINT, saved=False) from None
        finally:
            if gc_was_enabled:
                gc.freeze()  # the caches die by reference counting; no need to scan them
                gc.enable()
            self.display.close()
            self.log.close()
            self.search.close()
            unlock(self.folder)

    def _run(self) -> dict[str, Any]:
        if not (self.folder / CHECKPOINT).exists():
            self._checkpoint()  # a run killed before its first interval can resume too
        while True:
            if not self.state.in_experiment:
                self._start_experiment()
            reason = self._search()
            if self._end_experiment(reason):
                break
        return self._finish()

    def _request_stop(self, signum: int) -> None:
        self._stop_requested = signum

    def _stop(self) -> None:
        """Checkpoint and end the run, on a stop signal."""
        self._checkpoint()
        if self.state.in_experiment:
            self.display.update(self._snapshot("stopped"))
        raise Interrupted(self.folder, self._stop_requested)

    def _start_experiment(self) -> None:
        s, cfg = self.state, self.config
        s.experiment += 1
        s.search_spec, s.select_spec = experiment_tasks(cfg, self.rng)
        s.population = None  # made by the search
        s.strategy, s.fec, s.hurdle = {}, None, None
        s.stats = EvalStats()
        s.individuals = 0
        s.next_progress = cfg.progress_every
        s.next_checkpoint = cfg.checkpoint_every
        s.logged_best, s.logged_fitness = None, -1.0
        s.recorded_fitness, s.pending_best, s.pending_program = -1.0, None, None
        s.select_best, s.select_best_fitness, s.select_best_search = None, -1.0, -1.0
        s.improved_at, s.improved_fitness = 0, -1.0
        s.in_experiment = True
        self._build_experiment()
        self.log.write({"kind": "experiment_start", "experiment": s.experiment,
                        "search_param_seeds": list(s.search_spec.seeds()[0][:1]),
                        "search_data_seeds": list(s.search_spec.seeds()[1][:1]),
                        "select_param_seeds": list(s.select_spec.seeds()[0][:1]),
                        "select_data_seeds": list(s.select_spec.seeds()[1][:1]),
                        "elapsed_s": self._elapsed()})

    def _stop_reason(self) -> str | None:
        s, stop = self.state, self.config.stop
        if s.individuals == 0:
            return None  # an experiment needs at least one individual to have a candidate
        if stop.max_individuals and s.individuals >= stop.max_individuals:
            return "max_individuals"
        if stop.max_train_steps and s.stats.train_steps >= stop.max_train_steps:
            return "max_train_steps"
        if stop.max_stagnation and s.individuals - s.improved_at >= stop.max_stagnation:
            return "stagnation"
        if stop.max_time_s and self._elapsed() >= stop.max_time_s:
            s.time_up = True
            return "max_time"
        return None

    def _search(self) -> str:
        """Run the current experiment; returns why it ended."""
        s, cfg, search = self.state, self.config, self.search
        display = self.display
        stagnation_delta = cfg.stop.stagnation_delta
        while (reason := self._stop_reason()) is None:
            s.individuals += search.advance(self.rng, self._run_length)
            program, fitness = search.candidate()
            if fitness > s.improved_fitness + stagnation_delta:
                s.improved_at, s.improved_fitness = s.individuals, fitness
            search.after_step(lambda: self._stop_reason() is None)
            for record, message in search.events():
                self.log.write({**record, "experiment": s.experiment,
                                "individuals": s.individuals, "elapsed_s": self._elapsed()})
                display.message(message)
            if program is not s.logged_best and self._new_best(program, fitness):
                s.logged_best, s.logged_fitness = program, fitness
                self._record_best(program, fitness)
                if self._early_select(program, fitness):
                    self._progress()
                    reason = "early_select"
                    break
            if s.individuals >= s.next_progress:
                self._progress()
                s.next_progress = (s.individuals // cfg.progress_every + 1) * cfg.progress_every
            if display.due():
                display.update(self._snapshot("search"))
            if s.individuals >= self._next_gc:  # cycles (e.g. of JIT modules) still get freed
                self._next_gc = s.individuals + GC_EVERY
                gc.collect()
                gc.freeze()  # survivors need no scanning next time
            if cfg.checkpoint_every and s.individuals >= s.next_checkpoint:
                s.next_checkpoint = ((s.individuals // cfg.checkpoint_every + 1)
                                     * cfg.checkpoint_every)
                self._checkpoint()
            if self._stop_requested:
                self._stop()
        search.end()
        return reason

    def _run_length(self, most_train_steps: int) -> int:
        """How many individuals can run before one of the loop's checks could fire: the next
        progress record, checkpoint or collection, a stop for individuals, stagnation or train
        steps (each child adds at most ``most_train_steps``: a fingerprint and a full
        evaluation of every task), at most RUN_LENGTH so that time-based checks and Ctrl-C
        stay prompt. The candidate's changes end a run by themselves
        (:meth:`Strategy.advance`)."""
        s, cfg, stop = self.state, self.config, self.config.stop
        done = s.individuals
        limit = min(RUN_LENGTH, s.next_progress - done, self._next_gc - done)
        if cfg.checkpoint_every:
            limit = min(limit, s.next_checkpoint - done)
        if stop.max_individuals:
            limit = min(limit, stop.max_individuals - done)
        if stop.max_stagnation:
            limit = min(limit, s.improved_at + stop.max_stagnation - done)
        if stop.max_train_steps:
            limit = min(limit, (stop.max_train_steps - s.stats.train_steps - 1)
                        // most_train_steps + 1)
        return max(limit, 1)

    def _new_best(self, program: Program, fitness: float) -> bool:
        """Whether the population's best differs from the last one early selection
        considered: in fitness or in live code (a copy that differs only in dead code is the
        same algorithm)."""
        s = self.state
        if fitness != s.logged_fitness or s.logged_best is None:
            return True
        same = self._same_best  # asked again every individual while the best is such a copy
        if same is not None and same[0] is program and same[1] is s.logged_best:
            return False
        if analyze(program)[0] != analyze(s.logged_best)[0]:
            return True
        self._same_best = (program, s.logged_best)
        return False

    def _record_best(self, program: Program, fitness: float) -> None:
        """Note a strict rise of the experiment's best search fitness. The log gets the last
        rise before each progress record (and before the experiment's end): on a plateau the
        population's best changes thousands of times a minute, and a record with a program
        for each rise would still write tens of MB an hour."""
        s = self.state
        if fitness > s.recorded_fitness:
            s.recorded_fitness = fitness
            s.pending_best = {"kind": "best", "experiment": s.experiment,
                              "individuals": s.individuals, "fitness": fitness,
                              "program": print_program(program), "elapsed_s": self._elapsed()}
            s.pending_program = program

    def _write_best(self) -> None:
        s = self.state
        if s.pending_best is None:
            return
        if self.config.select_bests and s.pending_program is not None:
            select_fitness, _ = self._select(s.pending_program)
            s.pending_best["select_fitness"] = select_fitness
            if select_fitness > s.select_best_fitness:  # ties: the earlier (simpler) one
                s.select_best, s.select_best_fitness = s.pending_program, select_fitness
                s.select_best_search = s.pending_best["fitness"]
        self.log.write(s.pending_best)
        s.pending_best, s.pending_program = None, None

    def _early_select(self, program: Program, fitness: float) -> bool:
        cfg = self.config
        if not cfg.early_select or cfg.sufficient_fitness is None:
            return False
        if fitness < cfg.early_select_min_fitness:
            return False
        select_fitness, _ = self._select(program)
        return select_fitness > cfg.sufficient_fitness

    def _select(self, program: Program) -> tuple[float, np.ndarray]:
        """T_select fitness (mean, no FEC), memoized: the seed is fixed per experiment."""
        key = structural_key(program)
        found = self._select_memo.get(key)
        if found is None:
            if self._select_tasks is None:
                assert self.state.select_spec is not None
                self._select_tasks = build_tasks(self.state.select_spec)
            seed = derive_key(self.state.seed, self.state.experiment, SELECT_SEED)
            found = evaluate_on(program, self._select_tasks, self.config.search_space.memory,
                                self.backend, seed, self.config.max_abs_error)
            self._select_memo[key] = found
        return found

    def _end_experiment(self, reason: str) -> bool:
        """Select the experiment's candidate; True when the run is over."""
        s, cfg = self.state, self.config
        self._write_best()  # with select_bests, the last rise is a candidate too
        program, search_fitness = self.search.candidate()
        select_fitness, _ = self._select(program)
        if s.select_best is not None and s.select_best_fitness > select_fitness:
            program, search_fitness = s.select_best, s.select_best_search
            select_fitness = s.select_best_fitness
        if select_fitness >= s.best_select:  # ties: the later experiment wins, as in the reference
            s.best_select, s.best_program = select_fitness, program
            s.best_search_fitness, s.best_experiment = search_fitness, s.experiment
        fec_hits, fec_lookups, hurdle_stopped, hurdle_checked = self.search.counts()
        s.fec_hits += fec_hits
        s.fec_lookups += fec_lookups
        s.hurdle_stopped += hurdle_stopped
        s.hurdle_checked += hurdle_checked
        s.total_individuals += s.individuals
        s.total_train_steps += s.stats.train_steps
        s.in_experiment = False
        self.log.write({"kind": "experiment_end", "experiment": s.experiment,
                        "individuals": s.individuals, "train_steps": s.stats.train_steps,
                        "reason": reason, "early": reason == "early_select",
                        "search_fitness": search_fitness,
                        "select_fitness": select_fitness, "best_select_fitness": s.best_select,
                        "program": print_program(program), "elapsed_s": self._elapsed()})
        self.display.message(f"experiment {s.experiment}: {s.individuals:,} individuals, "
                             f"search fitness {search_fitness:.6f}, T_select {select_fitness:.6f}")
        sufficient = cfg.sufficient_fitness
        done = (s.time_up
                or (sufficient is not None and sufficient > 0 and s.best_select > sufficient)
                or (cfg.max_experiments != 0 and s.experiment >= cfg.max_experiments))
        if not done:
            self._checkpoint()
        return done

    def _finish(self) -> dict[str, Any]:
        s, cfg = self.state, self.config
        program = s.best_program
        assert program is not None
        final_tasks = build_tasks(cfg.final_tasks.spec)
        memory = cfg.search_space.memory
        seed = derive_key(s.seed, 0, FINAL_SEED)
        final, per_task = _evaluate_raw(program, final_tasks, memory, self.backend, seed,
                                        cfg.max_abs_error)
        simplified = eliminate_dead_code(program)
        _, simplified_per_task = _evaluate_raw(
            simplified, final_tasks, memory, self.backend, seed, cfg.max_abs_error)
        verified = bool(np.array_equal(per_task, simplified_per_task))
        text = print_program(program)
        simplified_text = print_program(simplified) if verified else text
        baselines = []
        for path in cfg.baselines:  # same tasks, same seed: a like-for-like comparison
            fitness, baseline_per_task = _evaluate_raw(parse_file(path), final_tasks, memory,
                                                       self.backend, seed, cfg.max_abs_error)
            baselines.append({"file": str(path), "final_fitness": fitness,
                              "final_per_task": [float(f) for f in baseline_per_task]})
        elapsed = self._elapsed()
        result = {
            "name": cfg.name, "seed": s.seed, "strategy": cfg.strategy,
            "backend": self.backend.name,
            "final_fitness": final, "final_per_task": [float(f) for f in per_task],
            "select_fitness": s.best_select, "search_fitness": s.best_search_fitness,
            "solved": bool(cfg.sufficient_fitness is not None
                           and final > cfg.sufficient_fitness),
            "program": text, "simplified_program": simplified_text,
            "simplified_verified": verified,
            "experiments": s.experiment, "best_experiment": s.best_experiment,
            "individuals": s.total_individuals, "train_steps": s.total_train_steps,
            "fec_hit_rate": s.fec_hits / s.fec_lookups if s.fec_lookups else None,
            "hurdle_stop_rate": (s.hurdle_stopped / s.hurdle_checked
                                 if s.hurdle_checked else None),
            "elapsed_s": elapsed,
            "individuals_per_s": s.total_individuals / elapsed if elapsed > 0 else 0.0,
            "baselines": baselines,
        }
        self.log.write({"kind": "final", "final_fitness": final,
                        "select_fitness": s.best_select, "experiments": s.experiment,
                        "individuals": s.total_individuals, "program": text,
                        "elapsed_s": elapsed})
        (self.folder / BEST_FILE).write_text(text, encoding="utf-8")
        (self.folder / SIMPLIFIED_FILE).write_text(simplified_text, encoding="utf-8")
        _write_json(self.folder / RESULT_FILE, result)
        s.finished = True
        self._checkpoint()
        self.display.update(replace(  # the last frame shows the result, not the last search
            self._snapshot("done"), best_fitness=s.best_search_fitness,
            best_select=s.best_select, program=simplified_text))
        return result

    # -- records -------------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return self._elapsed_base + time.perf_counter() - self._session_start

    def _progress(self) -> None:
        s = self.state
        self._write_best()
        best, mean, std = self.search.population_stats()
        elapsed = self._elapsed()
        total = s.total_individuals + s.individuals
        record = {"kind": "progress", "experiment": s.experiment, "individuals": s.individuals,
                  "total_individuals": total, "train_steps": s.stats.train_steps,
                  "best_fitness": best, "mean_fitness": mean, "stdev_fitness": std,
                  "fec_hit_rate": self.search.fec_hit_rate(),
                  "hurdle": self.search.hurdle_value(),
                  "elapsed_s": elapsed,
                  "individuals_per_s": total / elapsed if elapsed > 0 else 0.0,
                  **self.search.details()}
        self.log.write(record)

    def _snapshot(self, phase: str) -> Snapshot:
        s = self.state
        best, mean, _ = self.search.population_stats()
        elapsed = self._elapsed()
        total = s.total_individuals + s.individuals
        program = s.logged_best
        return Snapshot(
            experiment=s.experiment, individuals=s.individuals, total_individuals=total,
            elapsed_s=elapsed, individuals_per_s=total / elapsed if elapsed > 0 else 0.0,
            best_fitness=best, mean_fitness=mean,
            fec_hit_rate=self.search.fec_hit_rate(),
            best_select=s.best_select if s.best_select >= 0 else None, phase=phase,
            program=print_program(eliminate_dead_code(program)) if program else "")

    def _checkpoint(self) -> None:
        s = self.state
        s.rng_state = self.rng.getstate()
        s.elapsed_s = self._elapsed()
        if s.in_experiment:
            self.search.save(s)
        s.log_offset = self.log.offset()
        s.log_tail = self.log.tail(s.log_offset)
        save_checkpoint(self.folder, {"state": s, "config_text": self.config.source,
                                      "config_dir": str(self.config_dir)})



class Search(Protocol):
    """The search inside an experiment, as the run loop sees it: one population in this
    process (:class:`PopulationSearch`), or islands (:class:`amzc.search.island_run.IslandSearch`).
    The run keeps experiments, selection, records and checkpoints; the search keeps the
    population(s), and writes its part of the run state to checkpoints."""

    def start(self, state: RunState) -> None:
        """Build the current experiment's search from the state (new, or checkpointed)."""

    def advance(self, rng: random.Random, run_length: Callable[[int], int]) -> int:
        """Run more individuals; returns how many. ``run_length(most)`` is how many can run
        before one of the loop's checks could fire, when one adds at most ``most`` train
        steps."""

    def after_step(self, continues: Callable[[], bool]) -> None:
        """Called once the step's candidate is known; ``continues()``: whether the loop takes
        another step."""

    def events(self) -> list[tuple[dict[str, Any], str]]:
        """What happened to the search since the last call: log records and messages."""

    def candidate(self) -> tuple[Program, float]:
        """The experiment's candidate: the best program found, and its search fitness."""

    def population_stats(self) -> tuple[float, float, float]:
        """Best, mean and standard deviation of the population's fitness."""

    def fec_hit_rate(self) -> float | None:
        """In this experiment; None without FEC."""

    def hurdle_value(self) -> float | None:
        """The hurdle's fitness, if there is one to show."""

    def details(self) -> dict[str, Any]:
        """More fields for progress records (island groups' figures); usually none."""

    def counts(self) -> tuple[int, int, int, int]:
        """This experiment's FEC hits and lookups, and candidates stopped by and checked at
        the hurdle."""

    def save(self, state: RunState) -> None:
        """Write what a resumed search needs into the state (a checkpoint follows)."""

    def end(self) -> None:
        """The experiment is over."""

    def close(self) -> None:
        """The run is over."""


class PopulationSearch:
    """One regularized evolution (or random search) in this process: the reference's run."""

    def __init__(self, config: ExperimentConfig, backend: Backend) -> None:
        self.config = config
        self.backend = backend
        self.strategy: Strategy | None = None
        self.evaluator: SearchEvaluator | None = None
        self.hurdle: Hurdle | None = None
        self.population: Population | None = None

    def start(self, state: RunState) -> None:
        cfg = self.config
        assert state.search_spec is not None
        search_tasks = build_tasks(state.search_spec)
        self.hurdle = Hurdle(cfg.hurdles) if cfg.hurdles.enabled else None
        if self.hurdle is not None and state.hurdle is not None:
            self.hurdle.restore(state.hurdle)
        self.evaluator = SearchEvaluator(self.backend, search_tasks, cfg.search_space.memory,
                                         cfg.fec, self.hurdle, cfg.combine, cfg.max_abs_error)
        if state.fec is not None:
            self.evaluator.fec = state.fec
        self.evaluator.stats = state.stats
        if state.population is None:
            state.population = Population(cfg.population_size)
        self.population = state.population
        self.strategy = make_strategy(cfg, self.evaluator, state.population)
        self.strategy.restore(state.strategy)

    def advance(self, rng: random.Random, run_length: Callable[[int], int]) -> int:
        strategy, hurdle, pop = self.strategy, self.hurdle, self.population
        assert strategy is not None and self.evaluator is not None and pop is not None
        if hurdle is None:  # children in runs up to the next point a check could fire
            return strategy.advance(rng, run_length(
                self.evaluator.max_train_steps_per_candidate))
        was_full = pop.full  # the hurdle's percentile follows every child
        count = len(strategy.step(rng))
        if pop.full:
            if was_full:
                hurdle.tick(pop.fitness)
            else:
                hurdle.update(pop.fitness)
        return count

    def after_step(self, continues: Callable[[], bool]) -> None:
        pass

    def events(self) -> list[tuple[dict[str, Any], str]]:
        return []

    def candidate(self) -> tuple[Program, float]:
        assert self.strategy is not None
        return self.strategy.candidate()

    def population_stats(self) -> tuple[float, float, float]:
        assert self.population is not None
        return self.population.stats()

    def fec_hit_rate(self) -> float | None:
        assert self.evaluator is not None
        fec = self.evaluator.fec
        return fec.hit_rate if fec is not None else None

    def hurdle_value(self) -> float | None:
        return self.hurdle.value if self.hurdle is not None else None

    def details(self) -> dict[str, Any]:
        return {}

    def counts(self) -> tuple[int, int, int, int]:
        assert self.evaluator is not None
        fec, hurdle = self.evaluator.fec, self.hurdle
        hits, lookups = (fec.hits, fec.hits + fec.misses) if fec is not None else (0, 0)
        stopped, checked = (hurdle.stopped, hurdle.checked) if hurdle is not None else (0, 0)
        return hits, lookups, stopped, checked

    def save(self, state: RunState) -> None:
        assert self.strategy is not None and self.evaluator is not None
        state.strategy = self.strategy.state()
        state.fec = self.evaluator.fec
        state.stats = self.evaluator.stats
        if self.hurdle is not None:
            state.hurdle = self.hurdle.state()

    def end(self) -> None:
        pass

    def close(self) -> None:
        pass


def experiment_tasks(config: ExperimentConfig, rng: random.Random) -> tuple[TaskSpec, TaskSpec]:
    """A new experiment's T_search and T_select: the config's, re-seeded from the run's
    ``rng`` where ``randomize`` says so (re-drawn for every experiment, as the reference
    does)."""
    search, select = config.search_tasks.spec, config.select_tasks.spec
    if config.search_tasks.randomize:
        search = search.reseeded(1 + rng.getrandbits(31))
    if config.select_tasks.randomize:
        select = select.reseeded(1 + rng.getrandbits(31))
    return search, select


def first_experiment_tasks(config: ExperimentConfig) -> tuple[TaskSpec, TaskSpec]:
    """The T_search and T_select that a new run of ``config`` (its seed) evaluates its first
    experiment on: the draws begin from a fresh ``Random(config.seed)`` (:meth:`Run.start`)."""
    return experiment_tasks(config, random.Random(config.seed))


def _evaluate_raw(program: Program, tasks: TaskSet, memory: MemoryConfig, backend: Backend,
                  seed: int, max_abs_error: float) -> tuple[float, np.ndarray]:
    """Fitness of the program exactly as written (the final evaluation)."""
    out = backend.run(program, tasks, memory, EvalOptions(max_abs_error=max_abs_error,
                                                          seed=seed))
    per_task = np.asarray(out.fitness, dtype=np.float64)
    return combine(per_task, "mean"), per_task


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)

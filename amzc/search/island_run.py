"""``amzc evolve --workers N`` / ``--ray ADDRESS``: the experiment loop of
:mod:`amzc.search.experiment` over several islands (:mod:`amzc.search.islands`).

The coordinator keeps everything the single-population run does (experiments, T_select,
early selection, the final evaluation, the log, the display, checkpoints), and replaces the
search step: a *round* advances every island by ``migration.interval`` individuals in
parallel, then migrates. Rounds are pipelined: two are always queued at the islands, and the
arrivals sampled from round r's emigrants travel with round r + 2, so an island starts its
next round the moment it ends one, whatever the coordinator or the other islands are doing
(one message each way per round; the islands of one round may end at different times). The
schedule depends on round numbers only, never on timing, so runs repeat exactly. A
checkpoint first collects the rounds in flight and keeps them, unprocessed, in its state; an
experiment's end drops them. The coordinator sees the islands through small aggregate
views that answer what :class:`~amzc.search.experiment.Run` asks of a population, an evaluator and a
hurdle: best and mean over all islands, summed counters.

Limits (``stop.max_individuals``, ``max_train_steps``) count the work of all islands
together, and are checked between rounds."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amzc.errors import AmzError
from amzc.rng import derive_key
from amzc.search.checkpoint import load_checkpoint
from amzc.search.config import ExperimentConfig
from amzc.search.evaluation import EvalStats
from amzc.search.experiment import Run, RunState
from amzc.search.islands import (
    IslandReport,
    Migrant,
    Pool,
    RoundResult,
    global_best,
    island_seed,
    pool_stats,
    sample_arrivals,
)
from amzc.search.progress import Display
from amzc.syntax import Program

_MIGRATION_SEED = 4  # purpose mixed into the migration RNG's seed


@dataclass
class IslandsPopulation:
    """All islands' populations as one, for statistics (kept in the checkpointed state)."""

    size: int
    reports: list[IslandReport] = field(default_factory=list)

    @property
    def full(self) -> bool:
        return bool(self.reports) and all(r.size >= self.size for r in self.reports)

    def stats(self) -> tuple[float, float, float]:
        return pool_stats(self.reports)


@dataclass
class FecTotals:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


@dataclass
class HurdleTotals:
    value: float | None = None  # each island has its own hurdle; none is shown
    stopped: int = 0
    checked: int = 0

    def state(self) -> dict[str, Any]:
        return {}  # the islands' hurdles are in their own states


@dataclass
class _EvaluatorView:
    fec: FecTotals | None
    stats: EvalStats


class _IslandsView:
    """Stands where the single run keeps its strategy: the candidate is the best program of
    all islands, and the state is every island's state plus the migration RNG."""

    def __init__(self, run: IslandRun) -> None:
        self.run = run

    def candidate(self) -> tuple[Program, float]:
        best = global_best(self.run.population.reports)
        return best.best_program, best.best_fitness

    def state(self) -> dict[str, Any]:
        run = self.run
        run.drain(keep=True)  # the islands' states must follow every round sent to them
        return {"islands": run.pool.call_all("state", [()] * run.island_count),
                "island_count": run.island_count,
                "migration_rng": run.migration_rng.getstate(),
                "migration_pool": run.migration_pool, "pending": run.pending}

    def restore(self, state: dict[str, Any]) -> None:
        pass  # done by IslandRun._build_experiment, which needs the pool


class IslandRun(Run):
    """A run whose search is spread over islands held by a :class:`Pool`."""

    def __init__(self, config: ExperimentConfig, folder: Path, state: RunState, pool: Pool,
                 island_count: int, display: Display | None = None,
                 config_dir: Path | None = None, resume: bool = False) -> None:
        self.pool = pool
        self.island_count = island_count
        self.migration_rng = random.Random()
        self.migration_pool: list[Migrant] = []  # last round's emigrants, in island order
        self.in_flight = 0  # rounds sent to the islands and not collected
        self.pending: list[list[RoundResult]] = []  # rounds collected and not processed
        super().__init__(config, folder, state, display, None, config_dir, resume)

    @classmethod
    def start_islands(cls, config: ExperimentConfig, folder: Path, pool: Pool,
                      island_count: int, display: Display | None = None,
                      config_dir: Path | None = None, force: bool = False) -> IslandRun:
        state = cls.prepare(config, folder, force)
        return cls(config, folder, state, pool, island_count, display, config_dir)

    @classmethod
    def resume_islands(cls, folder: Path, make_pool: Callable[[], Pool], island_count: int,
                       display: Display | None = None,
                       backend_name: str | None = None) -> IslandRun:
        """Resume a run on islands. Inside an experiment the island count is the run's own;
        ``island_count`` applies from the next experiment on."""
        config, state, config_dir = cls.load(folder, backend_name)
        if state.in_experiment and state.strategy.get("island_count"):
            island_count = int(state.strategy["island_count"])
        return cls(config, folder, state, make_pool(), island_count, display, config_dir,
                   resume=True)

    # -- the pieces Run delegates ----------------------------------------------------------------

    @property
    def population(self) -> IslandsPopulation:
        assert isinstance(self.state.population, IslandsPopulation)
        return self.state.population

    def _build_experiment(self) -> None:
        s, cfg = self.state, self.config
        assert s.search_spec is not None
        self._select_tasks = None
        self._select_memo.clear()
        saved = s.strategy if s.strategy.get("islands") else None
        self.pool.drop_all()
        seeds = [island_seed(s.seed, s.experiment, i) for i in range(self.island_count)]
        states = saved["islands"] if saved else [None] * self.island_count
        self.pool.create_all([(i, cfg, s.search_spec, seeds[i], states[i])
                              for i in range(self.island_count)])
        self.migration_rng = random.Random(derive_key(s.seed, s.experiment, _MIGRATION_SEED))
        self.migration_pool = []
        self.in_flight = 0
        self.pending = []
        if saved:
            self.migration_rng.setstate(saved["migration_rng"])
            self.migration_pool = saved["migration_pool"]
            self.pending = saved["pending"]
        if not isinstance(s.population, IslandsPopulation):
            s.population = IslandsPopulation(cfg.population_size)
        self.strategy = _IslandsView(self)  # type: ignore[assignment]
        self._absorb(self.population.reports)

    def _absorb(self, reports: list[IslandReport]) -> None:
        """Totals over the islands, where Run reads them."""
        s, cfg = self.state, self.config
        self.population.reports = reports
        s.individuals = sum(r.individuals for r in reports)
        stats = EvalStats(train_steps=sum(r.train_steps for r in reports))
        hits = sum(r.fec_hits for r in reports)
        lookups = sum(r.fec_lookups for r in reports)
        self.evaluator = _EvaluatorView(  # type: ignore[assignment]
            FecTotals(hits, lookups - hits) if cfg.fec.enabled else None, stats)
        s.stats = stats
        self.hurdle = (HurdleTotals(None, sum(r.hurdle_stopped for r in reports),  # type: ignore[assignment]
                                    sum(r.hurdle_checked for r in reports))
                       if cfg.hurdles.enabled else None)

    # -- the pipeline of rounds ----------------------------------------------------------------

    def _send(self, arrivals: list[list[Migrant]]) -> None:
        cfg = self.config
        self.pool.submit("round", [(arrivals[i], cfg.migration.interval, self._migrants())
                                   for i in range(self.island_count)])
        self.in_flight += 1

    def _migrants(self) -> int:
        if self.island_count == 1:
            return 0
        return round(self.config.migration.fraction * self.config.population_size)

    def _next_round(self) -> list[RoundResult]:
        if self.pending:
            return self.pending.pop(0)
        self.in_flight -= 1
        return self.pool.collect()

    def drain(self, keep: bool) -> None:
        """Collect the rounds in flight: kept for processing (a checkpoint), or dropped (the
        experiment is over; its candidate came from the rounds already processed)."""
        while self.in_flight:
            self.in_flight -= 1
            results = self.pool.collect()
            if keep:
                self.pending.append(results)
        if not keep:
            self.pending = []

    def _search(self) -> str:
        reason = self._search_rounds()
        self.drain(keep=False)
        return reason

    def _search_rounds(self) -> str:
        s, cfg = self.state, self.config
        n = self.island_count
        migrants = self._migrants()
        if not self.pending and not self.in_flight:  # a new experiment: two rounds queued
            self._send([[] for _ in range(n)])
            self._send([[] for _ in range(n)])
        while (reason := self._stop_reason()) is None:
            results = self._next_round()
            emigrants = [e for _, e in results]
            arrivals = (sample_arrivals(self.migration_rng, emigrants, migrants) if migrants
                        else [[] for _ in range(n)])
            if migrants:
                self.migration_pool = [item for group in emigrants for item in group]
            self._absorb([report for report, _ in results])
            program, fitness = self.strategy.candidate()
            if fitness > s.improved_fitness + cfg.stop.stagnation_delta:
                s.improved_at, s.improved_fitness = s.individuals, fitness
            # The same test as the loop's (only the clock can move in between, and only
            # towards stopping): a round is sent exactly when the loop will collect one more.
            if self._stop_reason() is None:
                # round r's arrivals go with round r + 2: the islands start it the moment
                # they finish r + 1, without waiting for this coordinator
                self._send(arrivals)
            for event in _drain(self.pool):
                self.log.write({**event, "experiment": s.experiment,
                                "individuals": s.individuals, "elapsed_s": self._elapsed()})
                self.display.message(f"worker {event['worker']} was lost; islands "
                                     f"{event['islands']} restarted from the last checkpoint")
            if program is not s.logged_best and self._new_best(program, fitness):
                s.logged_best, s.logged_fitness = program, fitness
                self._record_best(program, fitness)
                if self._early_select(program, fitness):
                    self._progress()
                    return "early_select"
            if s.individuals >= s.next_progress:
                self._progress()
                s.next_progress = (s.individuals // cfg.progress_every + 1) * cfg.progress_every
            if self.display.due():
                self.display.update(self._snapshot("search"))
            if cfg.checkpoint_every and s.individuals >= s.next_checkpoint:
                s.next_checkpoint = ((s.individuals // cfg.checkpoint_every + 1)
                                     * cfg.checkpoint_every)
                self._checkpoint()
            if self._stop_requested:
                self._stop()
        return reason

    def run(self) -> dict[str, Any]:
        try:
            return super().run()
        finally:
            self.pool.close()


def is_island_run(folder: Path) -> bool:
    """Whether the run in ``folder`` was started on islands (its checkpoint says so)."""
    try:
        state: RunState = load_checkpoint(folder)["state"]
    except AmzError:
        return False  # Run.resume reports the problem
    return isinstance(state.population, IslandsPopulation) or "island_count" in state.strategy


def _drain(pool: Pool) -> list[dict[str, Any]]:
    drain = getattr(pool, "drain_events", None)
    return drain() if drain is not None else []



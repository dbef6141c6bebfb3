"""``amzc evolve --workers N`` / ``--ray ADDRESS``: the experiment loop of
:mod:`amzc.search.experiment` over several islands (:mod:`amzc.search.islands`).

An island run is a :class:`~amzc.search.experiment.Run` (experiments, T_select, early
selection, the final evaluation, the log, the display, checkpoints) holding an
:class:`IslandSearch` as its search: a *step* of the run's loop is a *round*, which advances
every island by ``migration.interval`` individuals in parallel (a frozen group island by
none: ``freezes_when_sending``), then migrates. Rounds are
pipelined: two are always queued at the islands, and the arrivals sampled from round r's
emigrants travel with round r + 2, so an island starts its next round the moment it ends one,
whatever the coordinator or the other islands are doing (one message each way per round; the
islands of one round may end at different times). The schedule depends on round numbers only,
never on timing, so runs repeat exactly. A checkpoint first collects the rounds in flight and
keeps them, unprocessed, in its state; an experiment's end drops them. The run sees the
islands as one search: best and mean over all islands (with island groups: over the main
islands, see :class:`IslandsPopulation`), summed counters.

Limits (``stop.max_individuals``, ``max_train_steps``) count the work of all islands
together, and are checked between rounds."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amzc.errors import AmzConfigError, AmzError
from amzc.rng import derive_key
from amzc.search.checkpoint import load_checkpoint
from amzc.search.config import ExperimentConfig, IslandGroup, group_config, group_spec
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
from amzc.tasks import TaskSpec

_MIGRATION_SEED = 4  # purpose mixed into the migration RNG's seed
# an island group busy less than this share of the busiest group's time gets a warning; the
# hint needs rounds enough to mean something (a run of a few seconds is all start-up)
IDLE_WARNING = 0.8
IDLE_MIN_BUSY_S = 20.0

log = logging.getLogger("amzc.search")


def island_groups(config: ExperimentConfig, count: int) -> list[IslandGroup | None]:
    """Each island's group (None: the experiment's own tasks), in island order: the groups
    of ``[[migration.groups]]`` take the last islands."""
    groups = config.migration.groups
    grouped = sum(g.islands for g in groups)
    if groups and grouped >= count:
        raise AmzConfigError(
            f"[[migration.groups]] hold {grouped} island{'s' if grouped > 1 else ''} and the "
            f"run has {count}: at least one island must search on the experiment's own tasks "
            f"(set migration.islands, or --workers, above {grouped})")
    return [None] * (count - grouped) + [g for g in groups for _ in range(g.islands)]


@dataclass
class IslandsPopulation:
    """All islands' populations as one, for statistics (kept in the checkpointed state).
    With island groups, the run's figures are those of the islands on the experiment's own
    tasks (``main``, island indices, and the promoted ones; empty ``main``: every island):
    other groups' fitness is measured on other tasks and does not compare."""

    size: int
    reports: list[IslandReport] = field(default_factory=list)
    main: tuple[int, ...] = ()

    @property
    def full(self) -> bool:
        return bool(self.reports) and all(r.size >= self.size for r in self.main_reports())

    def main_reports(self) -> list[IslandReport]:
        if not self.main:
            return self.reports
        return [r for r in self.reports if r.island in self.main or r.promoted]

    def stats(self) -> tuple[float, float, float]:
        return pool_stats(self.main_reports())


def _draw(island: int, attempt: int) -> tuple[int, int] | None:
    """Which draw of its tasks an island searches (islands.attempt_tasks): None, the first
    one, which the islands on the same tasks share."""
    return (island, attempt) if attempt else None


class IslandSearch:
    """The search of a run whose islands are held by a :class:`Pool`; its checkpointed state
    is every island's state, the migration RNG and pool, the rounds collected but not
    processed, and the promotions (group islands joining the main ones: ``promote_at``)."""

    def __init__(self, config: ExperimentConfig, pool: Pool, island_count: int) -> None:
        self.config = config
        self.pool = pool
        self.island_count = island_count
        self.groups = island_groups(config, island_count)
        # each island's group number in progress records: 0 outside any group, then the
        # groups from 1 in the config's order
        self.group_numbers = [0 if g is None else next(
            k for k, h in enumerate(config.migration.groups, 1) if h is g) for g in self.groups]
        self.home_configs = [group_config(config, g) for g in self.groups]
        # islands whose fitness compares are those on the same search tasks; the main ones
        # are on the experiment's own (every island, without groups)
        self.home_tasks = [c.search_tasks.spec for c in self.home_configs]
        self.main = tuple(i for i, spec in enumerate(self.home_tasks)
                          if spec == config.search_tasks.spec) if config.migration.groups else ()
        # group islands that joined the main ones (promote_at): ``promoted`` have been sent
        # the switch, ``promote_next`` go with the next round sent
        self.promoted: set[int] = set()
        self.promote_next: set[int] = set()
        self.state: RunState | None = None  # the run's, from start()
        self.population = IslandsPopulation(config.population_size, main=self.main)
        self.migration_rng = random.Random()
        self.migration_pool: list[Migrant] = []  # last round's emigrants, in island order
        self.in_flight = 0  # rounds sent to the islands and not collected
        self.pending: list[list[RoundResult]] = []  # rounds collected and not processed
        self.arrivals: list[list[Migrant]] = []  # sampled from the last round processed
        # each island's time in its rounds, this experiment (wall: an island that is not in a
        # round is waiting for the slowest island's round, with pipelined rounds)
        self.busy: list[float] = [0.0] * island_count

    def start(self, state: RunState) -> None:
        cfg = self.config
        assert state.search_spec is not None
        self.state = state
        saved = state.strategy if state.strategy.get("islands") else None
        self.pool.drop_all()
        seeds = [island_seed(state.seed, state.experiment, i) for i in range(self.island_count)]
        states = saved["islands"] if saved else [None] * self.island_count
        self.promoted = set(saved.get("promoted", ())) if saved else set()
        self.promote_next = set(saved.get("promote_next", ())) if saved else set()
        target = (cfg, state.search_spec)  # what a promoted island searches with
        self.pool.create_all([(i, self.home_configs[i], self._home_spec(i), seeds[i], states[i],
                               target if self._promotable(i) else None)
                              for i in range(self.island_count)])
        self.migration_rng = random.Random(derive_key(state.seed, state.experiment,
                                                      _MIGRATION_SEED))
        self.migration_pool = []
        self.in_flight = 0
        self.pending = []
        self.busy = [0.0] * self.island_count
        if saved:
            self.migration_rng.setstate(saved["migration_rng"])
            self.migration_pool = saved["migration_pool"]
            self.pending = saved["pending"]
            self.busy = list(saved.get("busy", self.busy))  # absent before the field
        if not isinstance(state.population, IslandsPopulation):
            state.population = IslandsPopulation(cfg.population_size, main=self.main)
        self.population = state.population
        state.individuals = self._absorb(self.population.reports)

    @property
    def joined(self) -> set[int]:
        """Group islands that have joined the main ones, or join them with the next round."""
        return self.promoted | self.promote_next

    @property
    def configs(self) -> list[ExperimentConfig]:
        """What each island searches with from the next round it is sent on: its group's
        config, or the experiment's once its promotion is decided."""
        joined = self.joined
        return [self.config if i in joined else c for i, c in enumerate(self.home_configs)]

    @property
    def tasks(self) -> list[TaskSpec]:
        """The search tasks of :attr:`configs` (the tasks an island's arrivals are for)."""
        return [c.search_tasks.spec for c in self.configs]

    def _promotable(self, island: int) -> bool:
        group = self.groups[island]
        return group is not None and group.promote_at is not None and island not in self.main

    def _home_spec(self, island: int) -> TaskSpec:
        """Island ``island``'s search tasks: the experiment's (drawn for this experiment),
        as its group says; a group's tasks are the first of the same seed stream."""
        assert self.state is not None and self.state.search_spec is not None
        return group_spec(self.state.search_spec, self.groups[island])

    def _absorb(self, reports: list[IslandReport]) -> int:
        """Totals over the islands, into the run's state; returns the individuals."""
        assert self.state is not None
        self.population.reports = reports
        self.state.stats = EvalStats(train_steps=sum(r.train_steps for r in reports))
        return sum(r.individuals for r in reports)

    # -- the pipeline of rounds ----------------------------------------------------------------

    def _send(self, arrivals: list[list[Migrant]]) -> None:
        self.promoted |= self.promote_next
        self.promote_next = set()
        configs = self.configs
        quiet = self._quiet_restarts()
        self.pool.submit("round", [(arrivals[i], configs[i].migration.interval,
                                    self._migrants(configs[i]), i in self.promoted, quiet[i])
                                   for i in range(self.island_count)])
        self.in_flight += 1

    def _promote(self, reports: list[IslandReport]) -> None:
        """Group islands whose best reached their group's ``promote_at`` join the main
        islands with the next round sent (decided from a processed round: the schedule
        depends on round numbers only, as migration does)."""
        for report in reports:
            i = report.island
            group = self.groups[i]
            if (not self._promotable(i) or i in self.joined
                    or report.best_fitness < group.promote_at):
                continue
            self.promote_next.add(i)

    def _takes_migrants(self, island: int) -> bool:
        """Whether ``island`` takes arrivals: a group's ``takes_migrants``, until the island
        joins the main islands (a promotion decided before this round's arrivals)."""
        group = self.groups[island]
        return group is None or group.takes_migrants or island in self.joined

    def _sources(self) -> list[list[int] | None] | None:
        """The islands each island draws its arrivals from (None: all). With
        ``main_exchange`` false a main island draws only from the groups' islands that have
        not joined the main ones, so that each main island stays an attempt of its own."""
        if self.config.migration.main_exchange:
            return None
        # main: on the experiment's own tasks (a group that sets no task key is one of them;
        # without groups, every island)
        main = set(self.main if self.main else range(self.island_count)) | self.joined
        feeders = [i for i in range(self.island_count) if i not in main]
        return [feeders if i in main else None for i in range(self.island_count)]

    def _quiet_restarts(self) -> list[bool]:
        """Whether each island, should it restart, takes no migrants for a window (so that
        its old members, in flight or held by others, do not fill the new attempt): not when
        every island it draws from takes none in (a main island with ``main_exchange``
        false fed by groups that keep to themselves), since then none can hold them, and
        the new attempt needs what the groups send from its first round on."""
        sources = self._sources()
        if sources is None:
            return [True] * self.island_count
        return [drawn is None or any(self._takes_migrants(j) for j in drawn)
                for drawn in sources]

    def _migrants(self, config: ExperimentConfig) -> int:
        """How many members an island searching with ``config`` sends to the pool, and
        receives, per round."""
        if self.island_count == 1:
            return 0
        return round(self.config.migration.fraction * config.population_size)

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

    def advance(self, rng: random.Random, run_length: Callable[[int], int]) -> int:
        """One round (its length is the config's migration interval)."""
        n = self.island_count
        if not self.pending and not self.in_flight:  # a new experiment: two rounds queued
            self._send([[] for _ in range(n)])
            self._send([[] for _ in range(n)])
        results = self._next_round()
        reports = [report for report, _ in results]
        for report in reports:
            self.busy[report.island] += report.busy_s
        self._promote(reports)
        emigrants = [e for _, e in results]
        configs = self.configs  # as of the round these arrivals travel with
        counts = [self._migrants(c) if self._takes_migrants(i) else 0
                  for i, c in enumerate(configs)]
        if any(counts):
            # measured on: the island's home tasks, or the experiment's once it ran promoted,
            # in the draw it searches (fresh_tasks: each island's own after its first);
            # arrivals are for the receiver's, as of this round (one that restarts before
            # they arrive takes none)
            origins = [(self.config.search_tasks.spec if r.promoted
                        else self.home_tasks[r.island], _draw(r.island, r.attempt))
                       for r in reports]
            attempts = {r.island: r.attempt for r in reports}
            receivers = [(spec, _draw(i, attempts.get(i, 0)))
                         for i, spec in enumerate(self.tasks)]
            self.arrivals = sample_arrivals(self.migration_rng, emigrants, counts,
                                            receivers if self.main else None,
                                            origins if self.main else None,
                                            self._sources())
            self.migration_pool = [item for group in emigrants for item in group]
        else:
            self.arrivals = [[] for _ in range(n)]
        assert self.state is not None
        return self._absorb(reports) - self.state.individuals

    def after_step(self, continues: Callable[[], bool]) -> None:
        # A round is sent exactly when the loop will collect one more (only the clock can
        # change the answer before the loop asks again, and only towards stopping). Round r's
        # arrivals go with round r + 2: the islands start it the moment they finish r + 1,
        # without waiting for the coordinator.
        if continues():
            self._send(self.arrivals)

    def events(self) -> list[tuple[dict[str, Any], str]]:
        drain = getattr(self.pool, "drain_events", None)  # only Ray loses workers
        return [(event, f"worker {event['worker']} was lost; islands {event['islands']} "
                        "restarted from the last checkpoint")
                for event in (drain() if drain is not None else [])]

    def candidate(self) -> tuple[Program, float]:
        best = global_best(self.population.main_reports())
        return best.best_program, best.best_fitness

    def population_stats(self) -> tuple[float, float, float]:
        return self.population.stats()

    def fec_hit_rate(self) -> float | None:
        if not self.config.fec.enabled:
            return None
        hits, lookups, _, _ = self.counts()
        return hits / lookups if lookups else 0.0

    def hurdle_value(self) -> float | None:
        return None  # each island has its own hurdle; none is shown

    def details(self) -> dict[str, Any]:
        """With island groups: per group (0: the islands outside any group, then the groups
        in order) its individuals, its best fitness on its own tasks (and, with more than one
        island, each island's individuals, best, restarts, backtracks, current best, busy
        time and hold level) and its islands' restarts (and backtracks, once there are any; once
        there are either, also the best of the populations under way, without the bests
        kept from before them; and, where the group says, how many are promoted, how many
        send and how many are frozen), so a log shows what each found."""
        if not self.main:
            return {}
        numbers = self.group_numbers
        rows: dict[int, list[IslandReport]] = {}
        for report in self.population.reports:
            rows.setdefault(numbers[report.island], []).append(report)
        return {"groups": [self._group_row(number, mine)
                           for number, mine in sorted(rows.items())]}

    def _group_row(self, number: int, reports: list[IslandReport]) -> dict[str, Any]:
        row = {"group": number, **self._climb_row(reports)}
        if len(reports) > 1:  # each island's own: independent attempts race separately
            row["islands"] = [self._climb_row([r]) for r in reports]
        if any(self._promotable(r.island) for r in reports):
            row["promoted"] = sum(r.promoted for r in reports)
        group = self.groups[reports[0].island]
        if group is not None and group.sends_above:  # 0: always sends, as without it
            row["sending"] = sum(r.sending for r in reports)
        if group is not None and group.freezes_when_sending:
            row["frozen"] = sum(r.frozen for r in reports)
        return row

    def _climb_row(self, reports: list[IslandReport]) -> dict[str, Any]:
        """Where some islands' climbs stand (a group's, or one island's of a group of
        several, whose sums and best do not tell one island's climbs from another's): their
        individuals, best, restarts, time in rounds, and backtracks once there are any;
        once there are either, the best of the populations under way, which the best kept
        from before a restart or backtrack may hide; and one island's ``hold_level`` and
        ``release_level`` where ``hold_above_arrivals`` and its ceilings
        (``release_above_arrivals``, ``release_after_rise``) have set them."""
        row = {"individuals": sum(r.individuals for r in reports),
               "best_fitness": max(r.best_fitness for r in reports),
               "restarts": sum(r.restarts for r in reports),
               "busy_s": round(sum(self.busy[r.island] for r in reports), 3)}
        backtracks = sum(r.backtracks for r in reports)
        if backtracks:
            row["backtracks"] = backtracks
        if row["restarts"] or backtracks:
            row["current_best"] = max(r.best_fitness if r.current_fitness is None
                                      else r.current_fitness for r in reports)
        for key in ("hold_level", "release_level"):  # where a held climb begins and ends
            if len(reports) == 1 and getattr(reports[0], key) is not None:
                row[key] = getattr(reports[0], key)
        return row

    def counts(self) -> tuple[int, int, int, int]:
        reports = self.population.reports
        return (sum(r.fec_hits for r in reports), sum(r.fec_lookups for r in reports),
                sum(r.hurdle_stopped for r in reports), sum(r.hurdle_checked for r in reports))

    def save(self, state: RunState) -> None:
        self.drain(keep=True)  # the islands' states must follow every round sent to them
        state.strategy = {"islands": self.pool.call_all("state", [()] * self.island_count),
                          "island_count": self.island_count,
                          "migration_rng": self.migration_rng.getstate(),
                          "migration_pool": self.migration_pool, "pending": self.pending,
                          "promoted": sorted(self.promoted),
                          "promote_next": sorted(self.promote_next), "busy": list(self.busy)}

    def end(self) -> None:
        self.drain(keep=False)
        for message in self.idle_warnings():
            log.warning(message)

    def idle_warnings(self) -> list[str]:
        """Island groups (0: the islands on the experiment's own tasks) whose islands spent
        much less time in their rounds than the busiest group's: they waited for the
        slower islands' rounds, and their cores idled. Rounds of equal duration keep every
        core busy; each message says which interval would give them. Only with one island
        per worker: islands that share a worker run one after the other, so one's wait is
        another's work."""
        mean = self._busy_per_group()
        busiest = max(mean.values(), default=0.0)
        if (len(mean) < 2 or busiest < IDLE_MIN_BUSY_S
                or self.island_count > self.pool.workers):
            return []
        return [self._idle_message(number, busy / busiest)
                for number, busy in sorted(mean.items()) if busy / busiest < IDLE_WARNING]

    def _busy_per_group(self) -> dict[int, float]:
        """Each group's time in rounds per island (promoted islands left out: they run
        with the main islands' interval now; frozen ones too: they stopped evolving on
        purpose, and their cores are free for the others)."""
        frozen = {r.island for r in self.population.reports if r.frozen}
        per_group: dict[int, list[float]] = {}
        for island, (number, busy) in enumerate(zip(self.group_numbers, self.busy,
                                                    strict=True)):
            if island not in self.promoted and island not in frozen:
                per_group.setdefault(number, []).append(busy)
        return {k: sum(v) / len(v) for k, v in per_group.items()}

    def _idle_message(self, number: int, share: float) -> str:
        migration = self.config.migration
        groups = migration.groups
        if number == 0:
            what, now, where = ("the islands on the experiment's own tasks",
                                migration.interval, "[migration]")
        else:
            what, where = f"island group {number}", f"the [[migration.groups]] table {number}"
            now = group_config(self.config, groups[number - 1]).migration.interval
        advice = f"interval = {round(now / share)} in {where} (now {now})"
        if number == 0:
            # groups without an interval of their own take [migration]'s, and would grow too
            inherit = [k for k, g in enumerate(groups, 1) if g.interval is None]
            if inherit:
                advice += (f", with interval = {now} set in the [[migration.groups]] "
                           f"table{'s' if len(inherit) > 1 else ''} "
                           f"{', '.join(map(str, inherit))} to keep theirs")
        return (f"{what} spent {share:.0%} as long in their rounds as the busiest islands: "
                f"they waited for the others' rounds, and their cores idled {1 - share:.0%} "
                f"of the time. Rounds of equal duration keep every core busy: {advice} "
                f"would about match them")

    def close(self) -> None:
        self.pool.close()


def start_islands(config: ExperimentConfig, folder: Path, pool: Pool, island_count: int,
                  display: Display | None = None, config_dir: Path | None = None,
                  force: bool = False) -> Run:
    """A new run whose search is ``island_count`` islands held by ``pool``."""
    run = Run.start(config, folder, display, config_dir=config_dir, force=force,
                    search=IslandSearch(config, pool, island_count))
    run.state.islands = island_count  # resumed on islands even from the first checkpoint
    return run


def resume_islands(folder: Path, make_pool: Callable[[], Pool], island_count: int,
                   display: Display | None = None, backend_name: str | None = None) -> Run:
    """Resume a run on islands. Inside an experiment the island count is the run's own;
    from the next experiment on it is the config's ``migration.islands``, or else
    ``island_count``."""

    def search(config: ExperimentConfig, state: RunState) -> IslandSearch:
        count = config.migration.islands or island_count
        if state.in_experiment and state.strategy.get("island_count"):
            count = int(state.strategy["island_count"])
        island_groups(config, count)  # a bad count fails before any worker starts
        pool = make_pool()
        try:
            return IslandSearch(config, pool, count)
        except BaseException:
            pool.close()
            raise

    return Run.resume(folder, display, backend_name, search)


class IslandRun:
    """Island runs were a subclass of Run; they are now Runs holding an IslandSearch. These
    names keep the old calls working for one release."""

    start_islands = staticmethod(start_islands)
    resume_islands = staticmethod(resume_islands)


def is_island_run(folder: Path) -> bool:
    """Whether the run in ``folder`` was started on islands (its checkpoint says so)."""
    try:
        state: RunState = load_checkpoint(folder)["state"]
    except AmzError:
        return False  # Run.resume reports the problem
    # state.islands: 0 in checkpoints older than the field (the class default)
    return (isinstance(state.population, IslandsPopulation) or "island_count" in state.strategy
            or state.islands > 0)


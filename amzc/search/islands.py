"""The island model (paper §3.2; not in the reference code): several populations evolve apart and
exchange programs by migration.

An :class:`Island` is one regularized evolution with its own RNG, FEC cache and hurdle. Islands
live in *hosts*: worker processes on this machine (:class:`LocalPool`) or Ray actors
(:class:`amzc.search.ray_pool.RayPool`). The coordinator (:mod:`amzc.search.experiment`) talks
to every host through the same three calls, whatever the transport:

- ``round(arrivals, n, k, promote)``: (join the main islands, if ``promote`` and not yet,)
  take in the migrants sampled for it last round, run n more individuals, and send k
  members to the migration pool (none while its group's ``sends_above`` holds it back);
  returns an :class:`IslandReport` and the emigrants (one message each way per round;
  ``promote``, ``advance``, ``emigrants`` and ``immigrate`` are its steps);
- ``state()``: everything needed to rebuild the island, for checkpoints.

Programs travel as ASTs, never as backend objects: every host compiles its own code. On the
wire an AST is a tuple of plain numbers per instruction (:func:`to_wire`), which pickles and
unpickles several times faster than the dataclasses and which the coordinator never decodes.

Rounds are synchronous (every island advances a fixed number of individuals, then the pool
is formed in island order and sampled with the coordinator's RNG), so a run is deterministic
for a given seed and island count, however the operating system schedules the workers."""

from __future__ import annotations

import collections
import gc
import math
import multiprocessing as mp
import queue
import random
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Protocol

from amzc import caches
from amzc.errors import AmzError
from amzc.ops import op_by_id
from amzc.rng import derive_key
from amzc.search.config import ExperimentConfig
from amzc.search.evaluation import SearchEvaluator, load_backend
from amzc.search.evolution import Population, draw_seed, make_strategy
from amzc.search.hurdles import Hurdle
from amzc.syntax import COMPONENTS, Instruction, Program, make_instruction
from amzc.tasks import TaskSpec, build_tasks

_ISLAND_SEED = 3  # purpose mixed into island seeds
GC_EVERY = 1_000_000  # individuals between cyclic collections (see Island.advance)

# (island index, config, search task spec, seed, saved state or None, the config and tasks
# a group island joins the main islands with (promote_at) or None)
IslandSpec = tuple[int, ExperimentConfig, TaskSpec, int, "dict[str, Any] | None",
                   "tuple[ExperimentConfig, TaskSpec] | None"]


# A program on the wire: per component a tuple of (op id, out, inputs, index, data), and its
# name; a program carrying comments (from an .amz file) travels as itself, to keep them.
WireProgram = tuple[Any, ...] | Program
Migrant = tuple[WireProgram, float | None]  # None: to be evaluated where it arrives


def to_wire(program: Program) -> WireProgram:
    notes = program.comments
    if (notes is not None and (notes.tail or any(notes.ends.values()) or any(
            lead or end for lead, end in notes.headers.values()))) or any(
            ins.leading or ins.comment for _, ins in program.instructions()):
        return program
    return (program.name, *(tuple((ins.op.id, ins.out, ins.inputs, ins.index, ins.data)
                                  for ins in program.component(c)) for c in COMPONENTS))


def from_wire(wire: WireProgram, known: dict[tuple[Any, ...], Instruction]) -> Program:
    """The AST again; ``known`` interns instructions without constants (a key would equate
    0.0 with -0.0), so that arrivals share objects as mutation's copies do."""
    if isinstance(wire, Program):
        return wire
    name, *components = wire
    parts = []
    for component in components:
        instructions = []
        for key in component:
            ins = known.get(key)
            if ins is None:
                op, out, inputs, index, data = key
                ins = make_instruction(op_by_id(op), out, inputs, index, data)
                if not data:
                    known[key] = ins
            instructions.append(ins)
        parts.append(tuple(instructions))
    return Program(*parts, name=name)


def island_seed(run_seed: int, experiment: int, island: int) -> int:
    return derive_key(run_seed, experiment, _ISLAND_SEED, island) >> 1


@dataclass
class IslandReport:
    """What the coordinator needs after a round, small enough to send every time."""

    island: int
    individuals: int
    best_program: Program
    best_fitness: float
    fitness_sum: float
    fitness_sq_sum: float
    size: int
    train_steps: int
    fec_hits: int
    fec_lookups: int
    hurdle_stopped: int
    hurdle_checked: int
    busy_s: float = 0.0  # wall time of the island's last round (bench/scaling.py)
    restarts: int = 0  # times the island started again on stagnation
    promoted: bool = False  # a group's island now on the experiment's own tasks
    attempt: int = 0  # with fresh_tasks, its draw of search tasks (0: its first)
    sending: bool = True  # whether its emigrants join the pool (a group's sends_above)
    # the population's best now, without the best kept from before a restart: where the
    # attempt under way stands (aging may have dropped its peak); None in reports from
    # before this field (an old checkpoint), read as best_fitness
    current_fitness: float | None = None
    backtracks: int = 0  # times the island went back to its latest hard step on stagnation
    frozen: bool = False  # a group island that stopped evolving once it sent (its group's
    # freezes_when_sending)
    # with hold_above_arrivals, once a migrant from other tasks has been evaluated: the
    # best fitness from which the island no longer restarts (Island.hold_level), up to
    # release_level if that is set
    hold_level: float | None = None
    # with release_above_arrivals (once a migrant from other tasks has been evaluated) or
    # release_after_rise (once the climb has been held), likewise: the fitness from which a
    # climb is no longer held (Island.release_level; None where restart_below is lower, as
    # it cannot act)
    release_level: float | None = None


RoundResult = tuple[IslandReport, list[Migrant]]  # what Island.round answers


class Island:
    """One population evolving on the experiment's search tasks (its group's, in a group).
    With ``migration.max_stagnation``, a round starts with a new population of initial
    programs when the population's best has not risen by more than ``stagnation_delta`` over
    that many of the island's individuals: the paper's workers restarted their experiments,
    and an island stuck on a plateau would otherwise send its plateau to the others for the
    rest of the run. The island keeps the best of the population it dropped (``kept``) as
    its candidate until a new population beats it; its FEC cache stays (same tasks; a
    group's ``fresh_tasks`` draws new tasks, with a new cache, and measures that best
    again). For its next window of individuals it takes no migrants (``quiet_until``): the
    rounds in flight carry its own old members back, and a fresh population of random
    programs would lose to them at once, so the restart would be no new attempt (unless
    none of the islands it draws from can hold them: ``round``'s ``quiet``). Each restart
    multiplies the window by ``stagnation_growth`` (:meth:`window`). An island whose best
    (kept or current) has reached ``restart_below`` does not restart, nor, with
    ``hold_above_arrivals``, one whose best is that far above the best arrival from other
    tasks it has evaluated on its current ones (:meth:`hold_level`); with
    ``release_above_arrivals`` or ``release_after_rise`` as well, only the current attempt's
    climb is held that way, and only while below a ceiling: that far above the arrival, or
    that far above the climb's own level when it was first held (:meth:`release_level`; a
    climb that reached it restarts without a backtrack). With
    ``backtracks``, a stalled island first goes back to a copy of its population as it
    stood after its latest hard step (:meth:`_track`), up to that many times in a row; such
    a backtrack is no new attempt (same window, same tasks, the attempt's high-water mark
    kept), and a new hard step, in this attempt or a later one, earns the island its
    backtracks again."""

    def __init__(self, config: ExperimentConfig, index: int, search_spec: TaskSpec, seed: int,
                 state: dict[str, Any] | None = None,
                 promote_to: tuple[ExperimentConfig, TaskSpec] | None = None) -> None:
        # promote_to comes with every creation (not in the state): a host that rebuilds the
        # island (a resume, a lost Ray worker) passes the coordinator's current config
        self.promote_to = promote_to
        self.promoted = bool(state is not None and state.get("promoted"))
        if self.promoted:
            if promote_to is None:
                raise AmzError(f"island {index} was promoted, and was rebuilt without the "
                               "config it was promoted to")
            config, search_spec = promote_to
        self.index = index
        caches.set_budget(config.memory_budget_mb)  # an island may be a process of its own
        self.search_spec = search_spec  # its first attempt's (fresh_tasks: attempt_tasks)
        self._search_on(config, search_spec)
        self.rng = random.Random(seed)
        self.population = Population(config.population_size)
        self.individuals = 0
        self._next_gc = GC_EVERY
        self._known: dict[tuple[Any, ...], Instruction] = {}
        self.restarts = 0
        self.improved_at = 0  # the island's individuals when its best last rose enough
        self.improved_fitness = -math.inf  # that best (since the last restart or backtrack)
        # the highest the attempt reached, and when: a backtrack lowers improved_fitness to
        # the level it goes back to, not this
        self.high_at, self.high_fitness = 0, -math.inf
        # the highest any attempt on these tasks reached, and when: a rise past it is a step
        self.record_at, self.record_fitness = 0, -math.inf
        self.kept: tuple[Program, float] | None = None  # the best before the restarts
        # the best fitness of a migrant from other tasks, as evaluated on the current ones
        # (hold_above_arrivals)
        self.arrival_high = -math.inf
        # the current attempt's climb when first seen at or above the hold bar (end of a
        # round), with release_after_rise: where its ceiling counts from
        self.held_from: float | None = None
        self.quiet_until = 0  # no migrants arrive before the island has this many individuals
        self.backtracks = 0  # times it went back to its latest hard step (all attempts)
        self.backtracked = 0  # backtracks to the current hard step
        # the island's latest hard step on these tasks (it outlives restarts): its
        # individuals when the step was seen, and the population then
        self.hard_step: tuple[int, Population] | None = None
        # at promotion: restarts so far (the main islands' restart rule starts afresh) and
        # the FEC / hurdle counters of the dropped cache and hurdle (the run's totals keep them)
        self.restarts_before = 0
        self.counts_before = (0, 0, 0, 0)
        if state is not None:
            self.rng.setstate(state["rng"])
            self.population = state["population"]
            self.individuals = state["individuals"]
            # absent in checkpoints from before restarts: none happened
            self.restarts = state.get("restarts", 0)
            self.improved_at = state.get("improved_at", 0)
            self.improved_fitness = state.get("improved_fitness", -math.inf)
            # absent in checkpoints from before backtracks: none happened, so the same
            self.high_at = state.get("high_at", self.improved_at)
            self.high_fitness = state.get("high_fitness", self.improved_fitness)
            self.kept = state.get("kept")
            # likewise: no record kept, so the highest known (kept best, this attempt's)
            self.record_at = state.get("record_at", self.high_at)
            self.record_fitness = state.get("record_fitness", max(
                self.high_fitness, self.kept[1] if self.kept is not None else -math.inf))
            self.quiet_until = state.get("quiet_until", 0)
            self.restarts_before = state.get("restarts_before", 0)
            self.counts_before = state.get("counts_before", (0, 0, 0, 0))
            self.backtracks = state.get("backtracks", 0)
            self.arrival_high = state.get("arrival_high", -math.inf)  # absent: none seen
            self.held_from = state.get("held_from")  # absent: from before the key
            self.backtracked = state.get("backtracked", 0)
            self.hard_step = state.get("hard_step")
            if self._attempt():  # on the attempt's own tasks
                self._search_on(self.config, self._attempt_tasks())
            self.evaluator.stats = state["stats"]
            if state["fec"] is not None:
                self.evaluator.fec = state["fec"]
            if self.hurdle is not None and state["hurdle"] is not None:
                self.hurdle.restore(state["hurdle"])
        self.strategy = make_strategy(config, self.evaluator, self.population)
        if state is not None:
            self.strategy.restore(state["strategy"])

    def _search_on(self, config: ExperimentConfig, search_spec: TaskSpec) -> None:
        """Config, hurdle and evaluator for these search tasks (a fresh FEC cache)."""
        self.config = config
        self.hurdle = Hurdle(config.hurdles) if config.hurdles.enabled else None
        self.evaluator = SearchEvaluator(load_backend(config.backend), build_tasks(search_spec),
                                         config.search_space.memory, config.fec, self.hurdle,
                                         config.combine, config.max_abs_error)

    def _move_to(self, config: ExperimentConfig, search_spec: TaskSpec) -> None:
        """Search on other tasks from now on (a promotion, a fresh_tasks restart): a fresh
        FEC cache and hurdle, while the run's totals keep what the old ones counted and the
        evaluator's statistics go on."""
        self.counts_before = self._counts()
        stats = self.evaluator.stats
        self._search_on(config, search_spec)
        self.evaluator.stats = stats
        self.arrival_high = -math.inf  # measured on the old tasks
        self.held_from = None

    def advance(self, n: int) -> IslandReport:
        pop, strategy, rng, hurdle = self.population, self.strategy, self.rng, self.hurdle
        target = self.individuals + n
        # As in Run.run: the cyclic collector's passes over the large caches cost a quarter
        # of the throughput and free nothing; collect rarely, and freeze what survives.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            while self.individuals < target:
                was_full = pop.full
                if was_full and hurdle is None:  # no hurdle to follow each child: runs
                    limit = min(target, self._next_gc) - self.individuals
                    self.individuals += strategy.advance(rng, max(limit, 1))
                else:
                    self.individuals += len(strategy.step(rng))
                if hurdle is not None and pop.full:
                    if was_full:
                        hurdle.tick(pop.fitness)
                    else:
                        hurdle.update(pop.fitness)
                if self.individuals >= self._next_gc:
                    self._next_gc = self.individuals + GC_EVERY
                    gc.collect()
                    gc.freeze()
        finally:
            if gc_was_enabled:
                gc.enable()
        self._track()
        return self.report()

    def _track(self) -> None:
        """Note a rise of the population's best by more than ``stagnation_delta`` (seen at
        the end of a round): over the level the stagnation window counts from, over the
        attempt's high-water mark, and over the island's record (the highest any of its
        attempts on these tasks reached). With ``backtracks``, a rise past the record is a
        step, and a hard one if it took at least ``max_stagnation`` individuals since the
        record was set, counting every try since: attempts that restarted below it and
        climbs that ended in a backtrack to it (a level reached rarely, however quick the
        attempt that found it; a record set by a dropped climb above the step counts from
        each new climb's start, :meth:`_restart_if_stagnant`); a copy of the population as
        it stands now (up to a round after the step) is where a backtrack goes. The
        island's first best is no step."""
        pop = self.population
        if pop.best < 0:
            return
        best, delta = pop.fitness[pop.best], self.config.migration.stagnation_delta
        if best > self.improved_fitness + delta:
            self.improved_fitness, self.improved_at = best, self.individuals
        if best > self.high_fitness + delta:
            self.high_fitness, self.high_at = best, self.individuals
        if best > self.record_fitness + delta:
            if (self.config.migration.backtracks and self.record_fitness > -math.inf
                    and self.individuals - self.record_at
                    >= self.config.migration.max_stagnation):
                self.hard_step, self.backtracked = (self.individuals, pop.copy()), 0
            self.record_fitness, self.record_at = best, self.individuals
        self._note_held()

    def _note_held(self) -> None:
        """With ``release_after_rise``: the climb's level (:meth:`_climb`) at the end of the
        first round in which it stands at or above the hold bar, where the climb's ceiling
        counts from (:meth:`release_level`). A level noted below the bar as it stands now
        (a better arrival raised it since) was held at a bar that no longer holds: the climb
        is noted again once at or above the new one. (Figure 5's first arrivals are SGD at
        a poor rate: a climb at rung 1 passes the bar they set, which the later, better
        arrivals raise above rung 1.)"""
        if not self.config.migration.release_after_rise or self._arrival_bar() is None:
            return
        bar = self.hold_level()
        if self.held_from is not None and self.held_from < bar:
            self.held_from = None
        if self.held_from is None and self._climb() >= bar:
            self.held_from = self._climb()

    def _attempt(self) -> int:
        """Restarts since the island began on its current tasks (0: none, or a promotion);
        with ``fresh_tasks``, the number of the task draw it searches on."""
        return self.restarts - self.restarts_before if self.config.migration.fresh_tasks else 0

    def _attempt_tasks(self) -> TaskSpec:
        return attempt_tasks(self.search_spec, self._attempt(), self.index)

    def window(self) -> int:
        """The current attempt's stagnation window: ``max_stagnation``, times
        ``stagnation_growth`` for each restart so far (0: the island never restarts)."""
        migration = self.config.migration
        attempts = self.restarts - self.restarts_before
        return round(migration.max_stagnation * migration.stagnation_growth ** attempts)

    def _restart_if_stagnant(self, quiet: bool = True) -> None:
        migration = self.config.migration
        limit = self.window()
        if not limit or self.individuals - self.improved_at < limit:
            return
        program, fitness = self._best()
        if self._held(fitness):
            return
        self.kept = (program, fitness)
        # a climb the ceiling ended restarts at once: a backtrack keeps the attempt's peak,
        # which would end the climb from the step as well, one window later
        if (self.hard_step is not None and self.backtracked < migration.backtracks
                and not self._released()):
            self.backtracks += 1
            self.backtracked += 1
            taken_at, population = self.hard_step
            level = population.fitness[population.best]
            if self.improved_fitness <= level:
                # stalled at the step's own level: nothing above it to undo, and going back
                # would undo the drift since the step (the next step may need it); the
                # climb goes on, one backtrack spent
                self.improved_at = self.individuals
                return
            # back to the hard step: its population again (a copy: the next backtrack needs
            # it too), its best as the level to rise from
            self.population = population.copy()
            self.improved_fitness = level
            if self.record_at > taken_at:
                # the record is a dropped climb's, above the step: levels such climbs
                # reached (a lucky sample among them) are no plateau of the next one, which
                # counts from its own start to pass them
                self.record_at = self.individuals
        else:
            # the hard step stays, its backtracks spent (a new hard step earns new ones)
            self.restarts += 1
            self.high_at, self.high_fitness = self.individuals, -math.inf
            if self._attempt():  # other tasks: steps on the old ones say nothing here
                self.hard_step, self.backtracked = None, 0
                self.record_at, self.record_fitness = self.individuals, -math.inf
                self._move_to(self.config, self._attempt_tasks())
                # the kept best, measured again: fitness on other tasks does not compare
                self.kept = (program, self.evaluator.evaluate(program, draw_seed(self.rng)))
            self.population = Population(self.config.population_size)
            self.improved_fitness = -math.inf
            self.held_from = None
        self.strategy = make_strategy(self.config, self.evaluator, self.population)
        if self.hurdle is not None:
            self.hurdle.forget()
        self._hurdle_if_full()  # a backtrack's population: no filling to wait for
        self.improved_at = self.individuals
        self.quiet_until = self.individuals + (self.window() if quiet else 0)

    def _held(self, fitness: float) -> bool:
        """Whether a stalled island keeps its population, ``fitness`` its candidate's (the
        kept best's if higher). Solved (``restart_below``), it has no rise left to wait for;
        held above the bar (:meth:`hold_level`), it has one worth waiting for. Both are
        judged by the highest the population reached, which aging may have dropped since.
        With a ceiling key (``release_above_arrivals``, ``release_after_rise``) only the
        current attempt's climb is held, and only below its ceiling (:meth:`release_level`,
        once it has one): a best kept from an earlier attempt is no climb, and counts only
        as solved."""
        level = max(fitness, self.high_fitness)
        migration = self.config.migration
        if not (migration.release_above_arrivals or migration.release_after_rise):
            return level >= self.hold_level()
        return (level >= migration.restart_below
                or (self.hold_level() <= self._climb() and not self._released()))

    def _climb(self) -> float:
        """The current attempt's highest: the population's best or its peak."""
        return max(self.strategy.candidate()[1], self.high_fitness)

    def _released(self) -> bool:
        """Whether the current attempt's climb has reached the ceiling."""
        release = self.release_level()
        return release is not None and self._climb() >= release

    def release_level(self) -> float | None:
        """The search fitness from which the current attempt's climb is no longer held
        (None: no ceiling yet), the lower of: with ``release_above_arrivals``, once a
        migrant from other tasks has been evaluated on these, that far above the best such
        arrival; with ``release_after_rise``, once the climb has been held, that far above
        its level then (:meth:`_note_held`). A climb can rise past the hold bar to a level
        it then never leaves (Figure 5's trained floors, which fill Learn); ended there, the
        island climbs again from its sources for another chance at the level just above the
        bar, where the climbs that went on started. An arrival's level differs from one
        draw of tasks to the next by more than the gap between such levels; the climb's own
        first held level is nearer them."""
        migration = self.config.migration
        rise = (self.held_from + migration.release_after_rise
                if migration.release_after_rise and self.held_from is not None else None)
        levels = [level for level in (self._above_arrivals(migration.release_above_arrivals),
                                      rise) if level is not None]
        return min(levels, default=None)

    def hold_level(self) -> float:
        """The best search fitness from which the island no longer restarts (below
        :meth:`release_level`, if set): ``restart_below``, or, with
        ``hold_above_arrivals`` and once a migrant from other tasks has been evaluated on
        these, that far above the best such arrival if lower. A supplier's program scores
        differently on each draw of tasks (SGD from the linear island: 0.229-0.242 on
        Figure 5's run seeds 1-3), so a bar set above it follows the draw where a fixed one
        would not. The bar follows the arrivals: a better one later raises it, and a held
        island below the new bar restarts again."""
        bar = self._arrival_bar()
        level = self.config.migration.restart_below
        return level if bar is None else min(level, bar)

    def _arrival_bar(self) -> float | None:
        """``hold_above_arrivals`` above the best arrival from other tasks (None: the key is
        off, or no such arrival has been evaluated on the current tasks)."""
        return self._above_arrivals(self.config.migration.hold_above_arrivals)

    def _above_arrivals(self, rise: float) -> float | None:
        return self.arrival_high + rise if rise and self.arrival_high > -math.inf else None

    def _hurdle_if_full(self) -> None:
        """Set the hurdle from a population that arrived full (a promotion's, a backtrack's):
        the search loop sets one only when its children fill a population."""
        if self.hurdle is not None and self.population.full:
            self.hurdle.update(self.population.fitness)

    def _best(self) -> tuple[Program, float]:
        """The island's candidate: the population's, or the best kept from before a restart
        if that is better."""
        program, fitness = self.strategy.candidate()
        if self.kept is not None and self.kept[1] > fitness:
            return self.kept
        return program, fitness

    def report(self) -> IslandReport:
        program, fitness = self._best()
        values = self.population.fitness
        hits, lookups, stopped, checked = self._counts()
        return IslandReport(
            island=self.index, individuals=self.individuals, best_program=program,
            best_fitness=fitness, fitness_sum=sum(values),
            fitness_sq_sum=sum(f * f for f in values), size=len(values),
            train_steps=self.evaluator.stats.train_steps, fec_hits=hits, fec_lookups=lookups,
            hurdle_stopped=stopped, hurdle_checked=checked, restarts=self.restarts,
            promoted=self.promoted, attempt=self._attempt(), sending=self._sends(),
            current_fitness=self.strategy.candidate()[1], backtracks=self.backtracks,
            frozen=self._frozen(),
            hold_level=None if self._arrival_bar() is None else self.hold_level(),
            release_level=self._reported_release())

    def _reported_release(self) -> float | None:
        """The ceiling, where it can end a climb (below ``restart_below``)."""
        release = self.release_level()
        return release if release is None or release < self.config.migration.restart_below \
            else None

    def _counts(self) -> tuple[int, int, int, int]:
        """FEC hits and lookups, hurdle stops and checks, since the island began."""
        fec, hurdle = self.evaluator.fec, self.hurdle
        hits, lookups, stopped, checked = self.counts_before
        if fec is not None:
            hits, lookups = hits + fec.hits, lookups + fec.hits + fec.misses
        if hurdle is not None:
            stopped, checked = stopped + hurdle.stopped, checked + hurdle.checked
        return hits, lookups, stopped, checked

    def _frozen(self) -> bool:
        """Whether the island has stopped evolving: its group freezes once sending, and it
        sends (the high-water mark of its attempt reached ``sends_above``, so a frozen island
        stays frozen, also after a resume)."""
        return self.config.migration.freezes_when_sending and self._sends()

    def _sends(self) -> bool:
        """Whether the island sends migrants this round: always, unless its group's
        ``sends_above`` has not been reached in this attempt (judged, as the restart rule is,
        by the highest the population reached: aging may have dropped it since)."""
        threshold = self.config.migration.sends_above
        if not threshold:
            return True
        pop = self.population
        best = pop.fitness[pop.best] if pop.best >= 0 else -math.inf
        return max(best, self.high_fitness) >= threshold

    def emigrants(self, count: int) -> list[tuple[Program, float]]:
        """``count`` members drawn at random without replacement (paper: half of P)."""
        pop = self.population
        slots = self.rng.sample(range(len(pop.programs)), min(count, len(pop.programs)))
        return [(pop.programs[s], pop.fitness[s]) for s in slots]

    def immigrate(self, arrivals: Sequence[tuple[Program, float | None]]) -> None:
        """Arrivals take the slots of the oldest members, the ones aging would remove next
        (the paper does not say which are replaced). An arrival without a fitness (from an
        island group searching on other tasks) is evaluated on this island's tasks first; it
        counts as an evaluation, not as an individual."""
        pop = self.population
        for program, fitness in arrivals:
            if fitness is None:
                fitness = self.evaluator.evaluate(program, draw_seed(self.rng))
                # only these: one that came with its fitness is from these tasks (a
                # sibling island's, or the island's own member back), whose level the bar
                # would then follow
                self.arrival_high = max(self.arrival_high, fitness)
            pop.put(program, fitness)

    def promote(self) -> None:
        """Join the main islands (a group's ``promote_at``): from now on search on the
        experiment's tasks with its config (``promote_to``). The population stays, each
        member evaluated again on the new tasks (evaluations, not individuals), oldest first
        so that aging goes on in the same order, the youngest ``population_size`` of them if
        the new population is smaller; the best kept from before a restart comes along as
        the youngest (it may be what earned the promotion). What was measured on the old
        tasks goes (FEC cache, hurdle, the restart rule's marks, the hard step); the restart
        rule is the main islands', from its first window. Once promoted, nothing changes."""
        if self.promoted:
            return
        if self.promote_to is None:
            raise AmzError(f"island {self.index} has no config to be promoted to")
        config, search_spec = self.promote_to
        self.search_spec = search_spec
        self._move_to(config, search_spec)
        self.restarts_before = self.restarts
        old = self.population
        self.population = Population(config.population_size)
        self.strategy = make_strategy(config, self.evaluator, self.population)
        start = old.next_slot if len(old.programs) >= old.size else 0
        members = [old.programs[(start + k) % len(old.programs)]
                   for k in range(len(old.programs))]
        if self.kept is not None:
            members.append(self.kept[0])
        for program in members[-config.population_size:]:
            self.population.put(program, self.evaluator.evaluate(program, draw_seed(self.rng)))
        self._hurdle_if_full()
        self.kept = None
        self.improved_at, self.improved_fitness = self.individuals, -math.inf
        self.high_at, self.high_fitness = self.individuals, -math.inf  # on the old tasks
        self.record_at, self.record_fitness = self.individuals, -math.inf
        self.hard_step, self.backtracked = None, 0
        self._track()
        self.quiet_until = 0
        self.promoted = True

    def round(self, arrivals: Sequence[Migrant], n: int, count: int, promote: bool = False,
              quiet: bool = True) -> tuple[IslandReport, list[Migrant]]:
        """One migration round, in one message each way: join the main islands if
        ``promote`` (the coordinator says so with every round from the switch on, so an
        island rebuilt from an earlier checkpoint catches up), restart if stagnant (with a
        quiet window if ``quiet``: the coordinator knows whether the island's arrivals
        could bring its old members back), immigrate last round's arrivals, advance ``n``
        individuals, then emigrate ``count`` members (in wire form). A frozen island (its
        group's ``freezes_when_sending``) only emigrates."""
        if len(self._known) > 100_000:
            self._known.clear()
        start = time.perf_counter()
        if self._frozen():  # its population as it stood when it first sent: no change
            report = self.report()
        else:
            if promote:
                self.promote()
            # the restart here, not after advancing: a report needs a member
            self._restart_if_stagnant(quiet)
            if self.individuals >= self.quiet_until:
                self.immigrate([(from_wire(w, self._known), f) for w, f in arrivals])
            report = self.advance(n)
        emigrants = ([(to_wire(p), f) for p, f in self.emigrants(count)]
                     if count and self._sends() else [])
        return replace(report, busy_s=time.perf_counter() - start), emigrants

    def state(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate(), "population": self.population,
                "individuals": self.individuals, "stats": self.evaluator.stats,
                "fec": self.evaluator.fec, "strategy": self.strategy.state(),
                "hurdle": self.hurdle.state() if self.hurdle is not None else None,
                "restarts": self.restarts, "improved_at": self.improved_at,
                "improved_fitness": self.improved_fitness, "kept": self.kept,
                "high_at": self.high_at, "high_fitness": self.high_fitness,
                "record_at": self.record_at, "record_fitness": self.record_fitness,
                "quiet_until": self.quiet_until, "promoted": self.promoted,
                "restarts_before": self.restarts_before, "counts_before": self.counts_before,
                "backtracks": self.backtracks, "backtracked": self.backtracked,
                "hard_step": self.hard_step, "arrival_high": self.arrival_high,
                "held_from": self.held_from}


def attempt_tasks(spec: TaskSpec, attempt: int, island: int) -> TaskSpec:
    """The search tasks of ``island``'s ``attempt``-th restart with ``fresh_tasks``: ``spec``
    with task seeds drawn from its own first seeds, the attempt and the island (islands of
    one group try different draws; a resumed run draws the same ones)."""
    params, data = spec.seeds()
    return spec.reseeded(derive_key(params[0], data[0], attempt, island) & 0x7FFFFFFF or 1)


class IslandHost:
    """The islands one worker holds; the same object serves local processes and Ray actors."""

    def __init__(self, worker_process: bool = False) -> None:
        self.islands: dict[int, Island] = {}
        if worker_process:
            # A process of its own: the cyclic collector stays off between rounds too, or
            # unpickling each round's migrants triggers full passes over the FEC cache and
            # memos (a third of a 2-worker run's time); Island.advance collects now and then.
            gc.disable()

    def create(self, config: ExperimentConfig, index: int, search_spec: TaskSpec, seed: int,
               state: dict[str, Any] | None = None,
               promote_to: tuple[ExperimentConfig, TaskSpec] | None = None) -> None:
        self.islands[index] = Island(config, index, search_spec, seed, state, promote_to)

    def drop(self) -> None:
        self.islands.clear()

    def call(self, index: int, method: str, *args: Any) -> Any:
        return getattr(self.islands[index], method)(*args)

    def call_many(self, calls: Sequence[tuple[int, str, tuple[Any, ...]]]) -> list[Any]:
        """Several calls in one message each way: a worker holding many islands must not
        answer one while the coordinator is still sending it the next (both would block on
        full pipes)."""
        return [self.call(index, method, *args) for index, method, args in calls]


class Pool(Protocol):
    """A transport: hosts that hold islands and answer calls in parallel."""

    workers: int

    @property
    def islands(self) -> list[int]: ...

    def create_all(self, items: Sequence[IslandSpec]) -> None: ...

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]: ...

    def submit(self, method: str, args: Sequence[tuple[Any, ...]]) -> None:
        """Start ``call_all`` without waiting; calls run in submission order on each island."""

    def collect(self) -> list[Any]:
        """The results of the oldest submitted call not collected yet (in island order)."""

    def drop_all(self) -> None: ...

    def close(self) -> None: ...


class WorkerError(AmzError):
    """A worker failed; carries the worker's own traceback text."""


def _serve(conn: Connection) -> None:
    """A local worker's loop: execute (method, args) requests against its host."""
    host = IslandHost(worker_process=True)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        method, args = request
        try:
            result = ("ok", getattr(host, method)(*args))
        except BaseException as e:  # noqa: BLE001 - reported to the coordinator, which raises
            result = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        conn.send(result)


class _Sender:
    """Sends a worker its requests from a thread of their own, in order. The coordinator
    queues a round while the worker may still be sending the previous answer: with both
    messages larger than a pipe's buffer, a blocking send on the coordinator's thread would
    wait for a worker that waits for the coordinator to read."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            message = self.queue.get()
            if message is _STOP:
                return
            try:
                self.conn.send_bytes(message)
            except (BrokenPipeError, OSError):  # the worker is gone; _answer reports it
                return

    def send(self, message: Any) -> None:
        # pickled here, as Connection.send would: a message that cannot be pickled fails in
        # the caller, not silently in the thread
        self.queue.put(ForkingPickler.dumps(message))

    def stop(self) -> None:
        self.queue.put(_STOP)
        self.thread.join(timeout=5)


_STOP = object()


class LocalPool:
    """Worker processes on this machine, island i on worker i mod workers. Processes are
    spawned (not forked), so no LLVM state crosses a process boundary."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        ctx = mp.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs = []
        self._senders: list[_Sender] = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child,), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
            self._senders.append(_Sender(parent))
        self._owner: dict[int, int] = {}
        # submitted calls not collected yet: the workers that answer each, in island order
        self._outstanding: collections.deque[tuple[list[int], dict[int, int]]] = \
            collections.deque()

    def _request(self, worker: int, method: str, *args: Any) -> None:
        self._senders[worker].send((method, args))

    def _answer(self, worker: int) -> Any:
        try:
            status, value = self._conns[worker].recv()
        except (EOFError, ConnectionResetError):
            raise WorkerError(f"worker {worker} exited unexpectedly "
                              f"(exit code {self._procs[worker].exitcode})") from None
        if status == "error":
            raise WorkerError(f"worker {worker} failed: {value}")
        return value

    @property
    def islands(self) -> list[int]:
        return sorted(self._owner)

    def create_all(self, items: Sequence[IslandSpec]) -> None:
        """Create many islands, building them on all workers at once."""
        for index, config, spec, seed, state, promote_to in items:
            worker = index % self.workers
            self._owner[index] = worker
            self._request(worker, "create", config, index, spec, seed, state, promote_to)
        for index, *_ in items:
            self._answer(self._owner[index])

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``method(*args[i])`` on island i, every worker busy at once; results in order."""
        self.submit(method, args)
        return self.collect()

    def submit(self, method: str, args: Sequence[tuple[Any, ...]]) -> None:
        islands = sorted(self._owner)
        batches: dict[int, list[tuple[int, str, tuple[Any, ...]]]] = {}
        for index, a in zip(islands, args, strict=True):
            batches.setdefault(self._owner[index], []).append((index, method, a))
        for worker, calls in batches.items():
            self._request(worker, "call_many", calls)
        self._outstanding.append((islands, dict(self._owner)))

    def collect(self) -> list[Any]:
        islands, owner = self._outstanding.popleft()
        workers = sorted({owner[index] for index in islands})
        answers = {worker: iter(self._answer(worker)) for worker in workers}
        return [next(answers[owner[index]]) for index in islands]

    def drop_all(self) -> None:
        for worker in range(self.workers):
            self._request(worker, "drop")
        for worker in range(self.workers):
            self._answer(worker)
        self._owner.clear()

    def close(self) -> None:
        for sender in self._senders:
            sender.send(None)
            sender.stop()
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        self._conns.clear()
        self._procs.clear()
        self._senders.clear()


def pool_stats(reports: Sequence[IslandReport]) -> tuple[float, float, float]:
    """Best, mean and standard deviation over every island's population."""
    n = sum(r.size for r in reports)
    if not n:
        return 0.0, 0.0, 0.0
    mean = sum(r.fitness_sum for r in reports) / n
    var = max(sum(r.fitness_sq_sum for r in reports) / n - mean * mean, 0.0)
    return max(r.best_fitness for r in reports), mean, var**0.5


def global_best(reports: Sequence[IslandReport]) -> IslandReport:
    """The island holding the best program; the lowest island index wins ties."""
    return max(reports, key=lambda r: (r.best_fitness, -r.island))


def sample_arrivals(rng: random.Random, emigrants: Sequence[Sequence[Migrant]],
                    count: int | Sequence[int],
                    groups: Sequence[object] | None = None,
                    origins: Sequence[object] | None = None,
                    sources: Sequence[Sequence[int] | None] | None = None,
                    ) -> list[list[Migrant]]:
    """Migration (paper §3.2): the pool is every island's emigrants, in island order; island
    i receives ``count`` of them (or ``count[i]``) drawn without replacement. ``groups``
    (each island's tasks when it takes the arrivals) marks a migrant from other tasks with
    fitness None: its fitness was measured on other tasks, and the island that receives it
    evaluates it again. ``origins`` are the tasks each island's emigrants were measured on,
    when they differ from ``groups`` (an island promoted in between). ``sources[i]``, unless
    None, are the islands whose emigrants island i draws from (``migration.main_exchange``)."""
    counts = [count] * len(emigrants) if isinstance(count, int) else list(count)
    pool = [item for group in emigrants for item in group]
    origin = [island for island, group in enumerate(emigrants) for _ in group]
    arrivals = []
    for island, wanted in enumerate(counts):
        allowed = None if sources is None else sources[island]
        among = (range(len(pool)) if allowed is None
                 else [k for k in range(len(pool)) if origin[k] in allowed])
        picks = rng.sample(among, min(wanted, len(among)))
        if groups is None:
            arrivals.append([pool[k] for k in picks])
        else:
            source = groups if origins is None else origins
            arrivals.append([pool[k] if source[origin[k]] == groups[island]
                             else (pool[k][0], None) for k in picks])
    return arrivals


def migrate(pool: Pool, rng: random.Random, count: int) -> list[Migrant]:
    """A migration round on its own (without advancing): every island sends ``count``
    programs and receives as many drawn from the whole pool. Returns the pool."""
    groups = pool.call_all("round", [((), 0, count)] * len(pool.islands))
    emigrants = [e for _, e in groups]
    arrivals = sample_arrivals(rng, emigrants, count)
    pool.call_all("round", [(a, 0, 0) for a in arrivals])
    return [item for group in emigrants for item in group]


__all__ = ["Island", "IslandHost", "IslandReport", "LocalPool", "Pool",
           "WorkerError", "from_wire", "global_best", "island_seed", "migrate", "pool_stats",
           "sample_arrivals", "to_wire"]

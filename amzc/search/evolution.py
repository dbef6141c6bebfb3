"""Regularized evolution (paper §3.2, as the reference code runs it) and random search
(paper Figure 4).

The population is P slots filled in order by the initial individuals; afterwards the slots are
overwritten cyclically, so the slot replaced is always the oldest individual (aging). Each
child's parent is the winner of a tournament of T draws *with replacement* over the whole
current population (strict ``>``: the first drawn of tied maxima wins); a child replaced
earlier in the same pass is already visible to later tournaments.

Tournament draws come from their own counter-based stream (amzc/rng.py): child c of an
experiment draws outputs c·T … c·T + T − 1 of a key drawn once from the search RNG, so the
LLVM backend can run the tournament in the same native call as the previous child's
evaluation (amzc/backends/llvm/population.py) and pick the same parents as the Python loop
here. Mutations, their draws and the evaluation seeds stay on the search RNG.

A strategy only advances the population; the experiment loop (:mod:`amzc.search.experiment`)
decides when to stop, what to log and when to checkpoint."""

from __future__ import annotations

import random
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from amzc.check import check
from amzc.errors import AmzConfigError, AmzError
from amzc.evaluate import NativeChildren
from amzc.parse import parse_file
from amzc.rng import uniform_indices
from amzc.search.config import ExperimentConfig
from amzc.search.evaluation import SearchEvaluator
from amzc.search.mutation import Mutator
from amzc.search.random_program import InstructionFactory, noop_program, pad, random_program
from amzc.syntax import Program

INIT_CHUNK = 100  # initial individuals generated and evaluated per step (a batch)
SEED_BITS = 63
DRAW_BLOCK = 256  # children whose tournament draws Population.tournament makes at once


def draw_seed(rng: random.Random) -> int:
    """An evaluation seed from the search RNG (keys the random ops of one evaluation)."""
    return rng.getrandbits(SEED_BITS)


@dataclass
class Population:
    """Programs and search fitness, slot by slot, with the index of the best (first of ties:
    the reference's candidate rule). The fitness is an ``array('d')``:
    read as floats here, written in place by a backend's native child step."""

    size: int
    programs: list[Program] = field(default_factory=list)
    fitness: array = field(default_factory=lambda: array("d"))
    next_slot: int = 0  # the slot the next child overwrites once the population is full
    best: int = -1

    def __post_init__(self) -> None:
        if not isinstance(self.fitness, array):
            self.fitness = array("d", self.fitness)
        # tournament draws made in a block: those of the children from _drawn_from on, a
        # pure function of _drawn_for = (key, population size, tournament size); not state
        self._drawn: list[int] = []
        self._drawn_from = 0
        self._drawn_for: tuple[int, int, int] | None = None

    def __getstate__(self) -> dict:
        return {name: value for name, value in self.__dict__.items()
                if not name.startswith("_drawn")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__post_init__()  # a checkpoint of an older version holds a list

    @property
    def full(self) -> bool:
        return len(self.programs) >= self.size

    def copy(self) -> Population:
        """The same members, slots and next slot, in lists of its own (programs are frozen)."""
        return Population(self.size, list(self.programs), array("d", self.fitness),
                          self.next_slot, self.best)

    def put(self, program: Program, fitness: float) -> bool:
        """Into the next slot: appended while the population fills, then over the oldest,
        cyclically (aging). Whether the candidate changed (the best moved, or its slot was
        the one replaced): the experiment's checks follow such a child."""
        slot, candidate = len(self.programs), self.best
        if slot < self.size:
            self.programs.append(program)
            self.fitness.append(fitness)
        else:
            slot = self.next_slot
            old = self.fitness[slot]
            self.programs[slot] = program
            self.fitness[slot] = fitness
            if slot == candidate and fitness < old:  # the best got worse: the first maximum
                self.next_slot = (slot + 1) % self.size
                self.best = max(range(len(self.fitness)), key=self.fitness.__getitem__)
                return True
        self.next_slot = (slot + 1) % self.size
        if candidate < 0:
            self.best = slot
            return True
        top = self.fitness[candidate]
        if fitness > top or (fitness == top and slot < candidate):
            self.best = slot
            return True
        return slot == candidate

    def tournament(self, key: int, child: int, size: int) -> int:
        """The parent of child number ``child``: ``size`` uniform draws with replacement
        (outputs child·size … of stream ``key``), the fittest drawn winning; strict ``>``,
        so the first drawn of tied maxima wins. The draws are made :data:`DRAW_BLOCK`
        children at a time (by NumPy): drawn one by one they cost as much as the rest of
        a child's Python."""
        n = len(self.fitness)
        at = (child - self._drawn_from) * size
        if self._drawn_for != (key, n, size) or not 0 <= at < len(self._drawn):
            self._drawn = uniform_indices(key, child * size, DRAW_BLOCK * size, n)
            self._drawn_from, self._drawn_for, at = child, (key, n, size), 0
        drawn, fitness = self._drawn, self.fitness
        best = drawn[at]
        top = fitness[best]
        for j in range(at + 1, at + size):
            k = drawn[j]
            if fitness[k] > top:
                best, top = k, fitness[k]
        return best

    def stats(self) -> tuple[float, float, float]:
        """Best, mean and standard deviation of the fitness."""
        n = len(self.fitness)
        if not n:
            return 0.0, 0.0, 0.0
        mean = sum(self.fitness) / n
        var = max(sum(f * f for f in self.fitness) / n - mean * mean, 0.0)
        return self.fitness[self.best], mean, var**0.5


def load_initial_programs(config: ExperimentConfig) -> list[Program]:
    """The ``.amz`` files of ``population.init``, checked against memory and F and padded."""
    space = config.search_space
    programs = []
    for path in config.initial_population:
        assert isinstance(path, Path)
        try:
            program = parse_file(path)
            check(program, space.memory, space.features)
        except AmzError as e:
            raise AmzConfigError(f"population.init: {e}") from None
        programs.append(pad(program, space))
    return programs


class Strategy:
    """What the two strategies share: the population, the initial individuals and the
    evaluator. ``step`` evaluates one child (or a chunk of initial individuals) and returns
    the slots it filled."""

    def __init__(self, config: ExperimentConfig, evaluator: SearchEvaluator,
                 population: Population | None = None) -> None:
        self.config = config
        self.evaluator = evaluator
        self.population = population or Population(config.population_size)
        self.factory = InstructionFactory(config.search_space.memory,
                                          config.search_space.features)
        evaluator.expect_ops({op for c in config.search_space.components.values()
                              for op in c.ops})
        init = config.initial_population
        self._files = load_initial_programs(config) if isinstance(init, tuple) else []

    def initial_program(self, rng: random.Random, index: int) -> Program:
        init = self.config.initial_population
        if init == "random":
            return random_program(rng, self.config.search_space, self.factory)
        if init == "no_op":
            return noop_program(self.config.search_space)
        return self._files[index % len(self._files)]  # files are used in turn

    def _init_step(self, rng: random.Random) -> list[int]:
        pop = self.population
        start = len(pop.programs)
        count = min(INIT_CHUNK, pop.size - start)
        programs, seeds = [], []
        for i in range(start, start + count):
            programs.append(self.initial_program(rng, i))
            seeds.append(draw_seed(rng))
        for program, fitness in zip(programs, self.evaluator.evaluate_many(programs, seeds),
                                    strict=True):
            pop.put(program, fitness)
        return list(range(start, start + count))

    def step(self, rng: random.Random) -> list[int]:
        raise NotImplementedError

    def advance(self, rng: random.Random, limit: int) -> int:
        """Up to ``limit`` individuals, ending early after one that changed the candidate;
        returns how many. The experiment loop's checks (logging, progress, stopping) then run
        once for all of them, which is exact as long as ``limit`` stops where a check could
        fire. Here one :meth:`step`; regularized evolution runs children in a loop of its
        own."""
        return len(self.step(rng))

    def candidate(self) -> tuple[Program, float]:
        """The experiment's result: the population's best, first of ties."""
        pop = self.population
        return pop.programs[pop.best], pop.fitness[pop.best]

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass


class RegularizedEvolution(Strategy):
    def __init__(self, config: ExperimentConfig, evaluator: SearchEvaluator,
                 population: Population | None = None) -> None:
        super().__init__(config, evaluator, population)
        self.mutator = Mutator(config.search_space, config.mutation)
        self.tournament_size = config.tournament_size
        self.key: int | None = None  # the tournaments' stream, drawn at the first child
        self.children = 0  # children made so far: the next one's tournament counter

    def step(self, rng: random.Random) -> list[int]:
        pop = self.population
        if not pop.full:
            return self._init_step(rng)
        slot = pop.next_slot
        self.advance(rng, 1)
        return [slot]

    def advance(self, rng: random.Random, limit: int) -> int:
        pop = self.population
        if not pop.full:
            return len(self._init_step(rng))
        if self.key is None:
            self.key = rng.getrandbits(64)
        native = self.evaluator.native_population(pop.fitness, pop.programs,
                                                  self.tournament_size)
        if native is not None:
            return self._advance_native(native, rng, limit)
        # a child per pass: the tournament, the mutation, the evaluation, the oldest slot
        # replaced; the loop's checks run after a child that changed the candidate
        programs, key, size = pop.programs, self.key, self.tournament_size
        mutate, evaluate, tournament, put = (self.mutator.mutate, self.evaluator.evaluate,
                                             pop.tournament, pop.put)
        for done in range(1, limit + 1):
            child = mutate(programs[tournament(key, self.children, size)], rng)
            self.children += 1
            if put(child, evaluate(child, draw_seed(rng))):
                return done
        return limit

    def _advance_native(self, native: NativeChildren, rng: random.Random, limit: int) -> int:
        """:meth:`advance` with the backend's native child step: per child, Python mutates
        the parent and draws the seed; one native call evaluates the child, puts it into
        the population and draws the next tournament (amzc/backends/llvm/population.py,
        :meth:`Population.put` and :meth:`Population.tournament` natively). A
        child it cannot finish (a random fill among its misses, an op its interpreter
        lacks, ...) the evaluator finishes, in that step."""
        pop = self.population
        programs, mutate, bits = pop.programs, self.mutator.mutate, rng.getrandbits
        child = native.child
        parent = native.start(pop.next_slot, pop.best, self.key, self.children)
        done = 0
        try:
            for done in range(1, limit + 1):  # noqa: B007 - the count is the result
                parent = child(mutate(programs[parent], rng), bits(SEED_BITS))
                if parent < 0:  # the candidate changed
                    break
        finally:
            pop.next_slot, pop.best, self.children, *work = native.stop()
            self.evaluator.count_native(*work)
        return done

    def state(self) -> dict:
        return {"tournament_key": self.key, "children": self.children}

    def restore(self, state: dict) -> None:
        self.key = state.get("tournament_key")
        self.children = state.get("children", 0)


class RandomSearch(Strategy):
    """Every individual is a fresh initial program; the population is only a window of the
    last P for statistics, and the candidate is the best ever seen (paper Figure 4)."""

    def __init__(self, config: ExperimentConfig, evaluator: SearchEvaluator,
                 population: Population | None = None) -> None:
        super().__init__(config, evaluator, population)
        self.best_program: Program | None = None
        self.best_fitness = -1.0
        self.seen = 0

    def _remember(self, slots: list[int]) -> None:
        pop = self.population
        for slot in slots:
            if pop.fitness[slot] > self.best_fitness:
                self.best_program, self.best_fitness = pop.programs[slot], pop.fitness[slot]

    def step(self, rng: random.Random) -> list[int]:
        pop = self.population
        if not pop.full:
            slots = self._init_step(rng)
        else:
            program = self.initial_program(rng, self.seen)
            slots = [pop.next_slot]
            pop.put(program, self.evaluator.evaluate(program, draw_seed(rng)))
        self.seen += len(slots)
        self._remember(slots)
        return slots

    def candidate(self) -> tuple[Program, float]:
        assert self.best_program is not None
        return self.best_program, self.best_fitness

    def state(self) -> dict:
        return {"best_program": self.best_program, "best_fitness": self.best_fitness,
                "seen": self.seen}

    def restore(self, state: dict) -> None:
        if not state:  # a new experiment
            return
        self.best_program = state["best_program"]
        self.best_fitness = state["best_fitness"]
        self.seen = state["seen"]


def make_strategy(config: ExperimentConfig, evaluator: SearchEvaluator,
                  population: Population | None = None) -> Strategy:
    cls = RandomSearch if config.strategy == "random" else RegularizedEvolution
    return cls(config, evaluator, population)

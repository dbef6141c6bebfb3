"""Regularized evolution (REFERENCE.md §5.5) and the random-search baseline (paper Figure 4).

The population is P slots filled in order by the initial individuals; afterwards the slots are
overwritten cyclically, so the slot replaced is always the oldest individual (aging). Each
child's parent is the winner of a tournament of T draws *with replacement* over the whole
current population (strict ``>``: the first drawn of tied maxima wins); a child replaced
earlier in the same pass is already visible to later tournaments.

A strategy only advances the population; the experiment loop (:mod:`amzc.search.experiment`)
decides when to stop, what to log and when to checkpoint."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from amzc.check import check
from amzc.errors import AmzConfigError, AmzError
from amzc.parse import parse_file
from amzc.search.config import ExperimentConfig
from amzc.search.evaluation import SearchEvaluator
from amzc.search.mutation import Mutator
from amzc.search.random_program import InstructionFactory, noop_program, pad, random_program
from amzc.syntax import Program

INIT_CHUNK = 100  # initial individuals generated and evaluated per step (a batch)


def draw_seed(rng: random.Random) -> int:
    """An evaluation seed from the search RNG (keys the random ops of one evaluation)."""
    return rng.getrandbits(63)


@dataclass
class Population:
    """Programs and search fitness, slot by slot, with the index of the best (first of ties:
    the reference's candidate rule, REFERENCE.md §5.5)."""

    size: int
    programs: list[Program] = field(default_factory=list)
    fitness: list[float] = field(default_factory=list)
    next_slot: int = 0  # the slot the next child overwrites once the population is full
    best: int = -1

    @property
    def full(self) -> bool:
        return len(self.programs) >= self.size

    def put(self, slot: int, program: Program, fitness: float) -> None:
        if slot == len(self.programs):
            self.programs.append(program)
            self.fitness.append(fitness)
        else:
            old = self.fitness[slot]
            self.programs[slot] = program
            self.fitness[slot] = fitness
            if slot == self.best and fitness < old:
                self.best = max(range(len(self.fitness)), key=self.fitness.__getitem__)
                return
        if self.best < 0:
            self.best = slot
            return
        top = self.fitness[self.best]
        if fitness > top or (fitness == top and slot < self.best):
            self.best = slot

    def tournament(self, rng: random.Random, size: int) -> int:
        fitness = self.fitness
        n = len(fitness)
        best = int(rng.random() * n)
        for _ in range(size - 1):
            k = int(rng.random() * n)
            if fitness[k] > fitness[best]:
                best = k
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
        for slot, (program, fitness) in enumerate(
                zip(programs, self.evaluator.evaluate_many(programs, seeds), strict=True),
                start):
            pop.put(slot, program, fitness)
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
        """The experiment's result: the population's best (REFERENCE.md §5.5)."""
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
        self._tournament_draws = config.tournament_size - 1

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
        # a child per pass: the tournament (Population.tournament, inlined: it runs for every
        # child), the mutation, the evaluation, the oldest slot replaced
        fitness, programs, n, rand = pop.fitness, pop.programs, pop.size, rng.random
        draws = self._tournament_draws
        mutate, evaluate, put = self.mutator.mutate, self.evaluator.evaluate, pop.put
        for done in range(1, limit + 1):
            best = int(rand() * n)
            top = fitness[best]
            for _ in range(draws):
                k = int(rand() * n)
                if fitness[k] > top:
                    best, top = k, fitness[k]
            child = mutate(programs[best], rng)
            value = evaluate(child, draw_seed(rng))
            slot, candidate = pop.next_slot, pop.best
            put(slot, child, value)
            pop.next_slot = (slot + 1) % n
            if pop.best != candidate or slot == candidate:
                return done
        return limit


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
            fitness = self.evaluator.evaluate(program, draw_seed(rng))
            slot = pop.next_slot
            pop.put(slot, program, fitness)
            pop.next_slot = (slot + 1) % pop.size
            slots = [slot]
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

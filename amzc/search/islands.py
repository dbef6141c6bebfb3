"""The island model (paper §3.2, REFERENCE.md §8): several populations evolve apart and
exchange programs by migration.

An :class:`Island` is one regularized evolution with its own RNG, FEC cache and hurdle. Islands
live in *hosts*: worker processes on this machine (:class:`LocalPool`) or Ray actors
(:class:`amzc.search.ray_pool.RayPool`). The coordinator (:mod:`amzc.search.experiment`) talks
to every host through the same three calls, whatever the transport:

- ``advance(n)``: run n more individuals; returns an :class:`IslandReport`;
- ``emigrants(k)`` / ``immigrate(programs)``: migration, in rounds. Programs travel as ASTs
  (plain frozen dataclasses), never as backend objects: every host compiles its own code;
- ``state()``: everything needed to rebuild the island, for checkpoints.

Rounds are synchronous (every island advances the same number of individuals, then the pool
is formed in island order and sampled with the coordinator's RNG), so a run is deterministic
for a given seed and island count, however the operating system schedules the workers."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import random
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from amzc.errors import AmzError
from amzc.rng import derive_key
from amzc.search.config import ExperimentConfig
from amzc.search.evaluation import SearchEvaluator, load_backend
from amzc.search.evolution import Population, make_strategy
from amzc.search.hurdles import Hurdle
from amzc.syntax import Program
from amzc.tasks import TaskSpec, build_tasks

_ISLAND_SEED = 3  # purpose mixed into island seeds

# (island index, config, search task spec, seed, saved state or None)
IslandSpec = tuple[int, ExperimentConfig, TaskSpec, int, "dict[str, Any] | None"]


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


class Island:
    """One population evolving on the experiment's search tasks."""

    def __init__(self, config: ExperimentConfig, index: int, search_spec: TaskSpec, seed: int,
                 state: dict[str, Any] | None = None) -> None:
        self.config = config
        self.index = index
        self.hurdle = Hurdle(config.hurdles) if config.hurdles.enabled else None
        tasks = build_tasks(search_spec)
        self.evaluator = SearchEvaluator(load_backend(config.backend), tasks,
                                         config.search_space.memory, config.fec, self.hurdle,
                                         config.combine, config.max_abs_error)
        self.rng = random.Random(seed)
        self.population = Population(config.population_size)
        self.individuals = 0
        if state is not None:
            self.rng.setstate(state["rng"])
            self.population = state["population"]
            self.individuals = state["individuals"]
            self.evaluator.stats = state["stats"]
            if state["fec"] is not None:
                self.evaluator.fec = state["fec"]
            if self.hurdle is not None and state["hurdle"] is not None:
                self.hurdle.restore(state["hurdle"])
        self.strategy = make_strategy(config, self.evaluator, self.population)
        if state is not None:
            self.strategy.restore(state["strategy"])

    def advance(self, n: int) -> IslandReport:
        pop, strategy, rng, hurdle = self.population, self.strategy, self.rng, self.hurdle
        target = self.individuals + n
        while self.individuals < target:
            was_full = pop.full
            self.individuals += len(strategy.step(rng))
            if hurdle is not None and pop.full:
                if was_full:
                    hurdle.tick(pop.fitness)
                else:
                    hurdle.update(pop.fitness)
        return self.report()

    def report(self) -> IslandReport:
        program, fitness = self.strategy.candidate()
        fec = self.evaluator.fec
        hurdle = self.hurdle
        values = self.population.fitness
        return IslandReport(
            island=self.index, individuals=self.individuals, best_program=program,
            best_fitness=fitness, fitness_sum=sum(values),
            fitness_sq_sum=sum(f * f for f in values), size=len(values),
            train_steps=self.evaluator.stats.train_steps,
            fec_hits=fec.hits if fec is not None else 0,
            fec_lookups=fec.hits + fec.misses if fec is not None else 0,
            hurdle_stopped=hurdle.stopped if hurdle is not None else 0,
            hurdle_checked=hurdle.checked if hurdle is not None else 0)

    def emigrants(self, count: int) -> list[tuple[Program, float]]:
        """``count`` members drawn at random without replacement (paper: half of P)."""
        pop = self.population
        slots = self.rng.sample(range(len(pop.programs)), min(count, len(pop.programs)))
        return [(pop.programs[s], pop.fitness[s]) for s in slots]

    def immigrate(self, arrivals: Sequence[tuple[Program, float]]) -> None:
        """Arrivals take the slots of the oldest members, the ones aging would remove next
        (the paper does not say which are replaced)."""
        pop = self.population
        for program, fitness in arrivals:
            if not pop.full:
                pop.put(len(pop.programs), program, fitness)
                continue
            pop.put(pop.next_slot, program, fitness)
            pop.next_slot = (pop.next_slot + 1) % pop.size

    def state(self) -> dict[str, Any]:
        return {"rng": self.rng.getstate(), "population": self.population,
                "individuals": self.individuals, "stats": self.evaluator.stats,
                "fec": self.evaluator.fec, "strategy": self.strategy.state(),
                "hurdle": self.hurdle.state() if self.hurdle is not None else None}


class IslandHost:
    """The islands one worker holds; the same object serves local processes and Ray actors."""

    def __init__(self) -> None:
        self.islands: dict[int, Island] = {}

    def create(self, config: ExperimentConfig, index: int, search_spec: TaskSpec, seed: int,
               state: dict[str, Any] | None = None) -> None:
        self.islands[index] = Island(config, index, search_spec, seed, state)

    def drop(self) -> None:
        self.islands.clear()

    def call(self, index: int, method: str, *args: Any) -> Any:
        return getattr(self.islands[index], method)(*args)


class Pool(Protocol):
    """A transport: hosts that hold islands and answer calls in parallel."""

    workers: int

    @property
    def islands(self) -> list[int]: ...

    def create_all(self, items: Sequence[IslandSpec]) -> None: ...

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]: ...

    def drop_all(self) -> None: ...

    def close(self) -> None: ...


class WorkerError(AmzError):
    """A worker failed; carries the worker's own traceback text."""


def _serve(conn: Connection) -> None:
    """A local worker's loop: execute (method, args) requests against its host."""
    host = IslandHost()
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


class LocalPool:
    """Worker processes on this machine, island i on worker i mod workers. Processes are
    spawned (not forked), so no LLVM state crosses a process boundary."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        ctx = mp.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs = []
        for _ in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child,), daemon=True)
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)
        self._owner: dict[int, int] = {}

    def _request(self, worker: int, method: str, *args: Any) -> None:
        self._conns[worker].send((method, args))

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
        for index, config, spec, seed, state in items:
            worker = index % self.workers
            self._owner[index] = worker
            self._request(worker, "create", config, index, spec, seed, state)
        for index, *_ in items:
            self._answer(self._owner[index])

    def call_all(self, method: str, args: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``method(*args[i])`` on island i, every worker busy at once; results in order."""
        islands = sorted(self._owner)
        for index, a in zip(islands, args, strict=True):
            self._request(self._owner[index], "call", index, method, *a)
        return [self._answer(self._owner[index]) for index in islands]

    def drop_all(self) -> None:
        for worker in range(self.workers):
            self._request(worker, "drop")
        for worker in range(self.workers):
            self._answer(worker)
        self._owner.clear()

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
        self._conns.clear()
        self._procs.clear()


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


def migrate(pool: Pool, rng: random.Random, count: int) -> list[tuple[Program, float]]:
    """One migration round: every island sends ``count`` programs to the pool and receives as
    many drawn from the whole pool (paper §3.2). Returns the pool, for the checkpoint."""
    islands = pool.call_all("emigrants", [(count,)] * len(pool.islands))
    emigrants = [item for group in islands for item in group]
    arrivals = [rng.sample(emigrants, min(count, len(emigrants))) for _ in islands]
    pool.call_all("immigrate", [(a,) for a in arrivals])
    return emigrants


__all__ = ["Island", "IslandHost", "IslandReport", "LocalPool", "Pool",
           "WorkerError", "global_best", "island_seed", "migrate", "pool_stats"]

"""The native child step (amzc/backends/llvm/population.py) against its Python oracle:
Population.put and Population.tournament, and the whole regularized-evolution loop."""

from __future__ import annotations

import random
from array import array
from dataclasses import replace
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_search_evolution import SMALL

from amzc.backends.llvm import LlvmBackend
from amzc.backends.llvm.fec_table import library
from amzc.backends.llvm.population import NativePopulation
from amzc.backends.numpy import NumpyBackend
from amzc.parse import parse
from amzc.search.config import FecConfig, parse_config
from amzc.search.evaluation import SearchEvaluator
from amzc.search.evolution import Population, RegularizedEvolution
from amzc.tasks import build_tasks

VALUES = st.sampled_from([0.0, -0.0, 0.1, 0.5, 0.5000000000000001, 0.9, 1.0, -1.0,
                         float("inf"), float("-inf"), float("nan")])


PROGRAM = parse("def Predict():\n  s1 = dot(v0, v1)\n")


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(1, 30), st.integers(1, 12), st.integers(0, 2**64 - 1))
def test_put_and_tournament_are_the_populations(data, size, tournament, key):
    """amz_put and amz_select, through the child function that decodes their result word,
    against Population.put and Population.tournament: the same fitness array,
    programs, best, next slot and parents, and −1 where the candidate changed. (amz_child
    is stubbed to leave every child unfinished, so each goes through ``finish`` and
    amz_put.)"""
    fitness = data.draw(st.lists(VALUES, min_size=size, max_size=size))
    children = data.draw(st.integers(0, 10**6))
    next_slot = data.draw(st.integers(0, size - 1))
    python = Population(size, [None] * size, list(fitness), next_slot)  # type: ignore[list-item]
    python.best = max(range(size), key=python.fitness.__getitem__)
    copy, programs = array("d", fitness), [None] * size
    values = data.draw(st.lists(VALUES, min_size=1, max_size=40))
    lib = library()
    stub = SimpleNamespace(child=lambda block, code, at: 1, put=lib.put, select=lib.select)
    native = NativePopulation(copy, programs, tournament, stub,  # type: ignore[arg-type]
                              SimpleNamespace(address=0), lambda p, seed, r: p.value)
    parent = native.start(python.next_slot, python.best, key, children)
    assert parent == python.tournament(key, children, tournament)
    for value in values:
        child = SimpleNamespace(**vars(PROGRAM), value=value)  # packable, and its own object
        changed = python.put(child, value)  # type: ignore[arg-type]
        children += 1
        parent = native.child(child, 0)
        assert copy.tobytes() == python.fitness.tobytes()  # NaN and -0.0 included
        assert all(a is b for a, b in zip(programs, python.programs, strict=True))
        if changed:
            assert parent == -1
            assert native.stop()[:3] == (python.next_slot, python.best, children)
            parent = native.start(python.next_slot, python.best, key, children)
        assert parent == python.tournament(key, children, tournament)
    assert native.stop()[:3] == (python.next_slot, python.best, children)


# the evolution tests' small search, on LLVM with children as written (the native step),
# random fills among the ops and a small cache that evicts and forgets
CONFIG = (SMALL.replace('backend = "numpy"', 'backend = "llvm"')
          .replace('setup = ["scalar_const_set"]',
                   'setup = ["scalar_const_set", "vector_uniform_set"]')
          .replace('predict = ["vector_inner_product", "scalar_product"]',
                   'predict = ["vector_inner_product", "scalar_product", "scalar_gaussian_set"]')
          .replace("size = 20\ntournament = 4", "size = 30\ntournament = 5")
          .replace("[fec]\nenabled = true",
                   "[fec]\nenabled = true\nmemo = false\ncache_size = 60\nforget_every = 4")
          .replace("max_individuals = 100", "max_individuals = 1500"))


def _search(backend, native: bool, seed: int = 5, individuals: int = 1500,
            average: bool = False):
    config = parse_config(CONFIG.replace("forget_every = 4", f"forget_every = 4\naverage = "
                                         f"{str(average).lower()}"))
    assert config.fec.average is average
    evaluator = SearchEvaluator(backend, build_tasks(config.search_tasks.spec),
                                config.search_space.memory, replace(config.fec))
    used = []
    if not native:
        evaluator.native_population = lambda fitness, programs, size: None
    else:
        attach = evaluator.native_population
        evaluator.native_population = lambda fitness, programs, size: used.append(
            attach(fitness, programs, size)) or used[-1]
    evolution = RegularizedEvolution(config, evaluator)
    rng = random.Random(seed)
    done = 0
    while done < individuals:
        done += evolution.advance(rng, 64)
    pop, stats, fec = evolution.population, evaluator.stats, evaluator.fec
    return {
        "programs": pop.programs, "fitness": list(pop.fitness), "best": pop.best,
        "next_slot": pop.next_slot, "state": evolution.state(), "rng": rng.random(),
        "train_steps": stats.train_steps, "task_evaluations": stats.task_evaluations,
        "hits": fec.hits, "misses": fec.misses, "cache": fec.items(),
    }, used


@pytest.mark.parametrize("average", [False, True])
def test_the_native_loop_takes_the_python_loops_path(average):
    """LLVM with the native child step, LLVM without it, and NumPy: the same population,
    tournaments, statistics and FEC cache after 1,500 individuals of a search whose
    programs have random fills (their misses are finished in Python) and whose small cache
    evicts and forgets, or (fec.average) samples its entries again and keeps their means."""
    native, used = _search(LlvmBackend(shared=False), native=True, average=average)
    assert used and all(step is not None for step in used)  # the native step ran
    python, _ = _search(LlvmBackend(shared=False), native=False, average=average)
    oracle, _ = _search(NumpyBackend(), native=False, average=average)
    if average:  # entries were sampled again, random and not
        assert any(samples > 1 for *_, samples in native["cache"])
    assert native == python
    assert python["fitness"] == oracle["fitness"]
    assert python["programs"] == oracle["programs"]
    assert python["state"] == oracle["state"]


def test_the_native_step_only_where_it_takes_the_same_path():
    """Children as written with FEC, no hurdle, the mean: the native step. A hurdle (it
    follows every child in Python), the median, the live-code memos, or NumPy: None."""
    from amzc.search.config import HurdleConfig
    from amzc.search.hurdles import Hurdle

    config = parse_config(CONFIG)
    tasks, memory = build_tasks(config.search_tasks.spec), config.search_space.memory
    pop = Population(3, [None] * 3, [0.1, 0.2, 0.3])  # type: ignore[list-item]
    written = FecConfig(enabled=True, memo=False)
    plain, median, hurdled, memo = (
        SearchEvaluator(LlvmBackend(shared=False), tasks, memory, fec, hurdle,
                        combine_mode=mode)
        for fec, hurdle, mode in [
            (written, None, "mean"), (written, None, "median"),
            (written, Hurdle(HurdleConfig(enabled=True)), "mean"),
            (FecConfig(enabled=True, memo=True), None, "mean")])
    numpy = SearchEvaluator(NumpyBackend(), tasks, memory, written)
    # before any evaluation: no interpreter
    assert plain.native_population(pop.fitness, pop.programs, 2) is None
    program = parse("def Predict():\n  s1 = dot(v0, v1)\n")
    for evaluator in (plain, median, hurdled, memo, numpy):
        evaluator.evaluate(program, 1)
    assert plain.native_population(pop.fitness, pop.programs, 2) is not None
    for evaluator in (median, hurdled, memo, numpy):
        assert evaluator.native_population(pop.fitness, pop.programs, 2) is None


def test_the_native_loop_grows_its_interpreter_midway(monkeypatch):
    """Without the search's expect_ops, children meet ops the interpreter lacks: amz_child
    returns −1, the general path grows the interpreter, the runner makes a new block, and
    the search still takes the Python loop's path. (A memory shape of its own: interpreters
    are cached per shape for the whole process.)"""
    text = CONFIG.replace("[population]", "[memory]\nscalars = 6\nvectors = 5\n"
                          "matrices = 2\n[population]")
    results = []
    for backend, native in ((LlvmBackend(shared=False), True), (NumpyBackend(), False)):
        config = parse_config(text)
        monkeypatch.setattr(SearchEvaluator, "expect_ops", lambda self, ops: None)
        evaluator = SearchEvaluator(backend, build_tasks(config.search_tasks.spec),
                                    config.search_space.memory, replace(config.fec))
        finished = []
        finish = evaluator.finish_native
        evaluator.finish_native = (lambda p, s, r, finished=finished, finish=finish:
                                   finished.append(r) or finish(p, s, r))
        evolution = RegularizedEvolution(replace(config, initial_population="no_op"),
                                         evaluator)
        rng = random.Random(8)
        done = 0
        while done < 600:
            done += evolution.advance(rng, 64)
        if native:
            assert -1 in finished
        results.append((evolution.population.programs, list(evolution.population.fitness),
                        evolution.state(), evaluator.stats.train_steps))
    assert results[0] == results[1]


def test_finish_native_is_evaluate():
    """A child the native call could not run (result −1) gets the fitness and counters of an
    ordinary evaluation (the general path runs it). Children whose misses the native call
    left (random fills) are covered by the whole-loop test above."""
    config = parse_config(CONFIG)
    tasks, memory = build_tasks(config.search_tasks.spec), config.search_space.memory
    program = parse("def Setup():\n  s2 = 0.1\ndef Predict():\n  s1 = dot(v0, v1)\n"
                    "def Learn():\n  s3 = s0 - s1\n  v1 = v1 + v0\n")
    fec = FecConfig(enabled=True, memo=False)
    fresh, evaluator = (SearchEvaluator(LlvmBackend(shared=False), tasks, memory, fec)
                        for _ in range(2))
    expected = fresh.evaluate(program, 3)
    pop = Population(1)
    assert evaluator.native_population(pop.fitness, pop.programs, 2) is None  # no interpreter yet
    assert evaluator.finish_native(program, 3, -1) == expected
    assert evaluator.stats == fresh.stats
    assert evaluator.fec.items() == fresh.fec.items()

"""Regularized evolution, random search and the search evaluator (amzc/search/evolution.py,
amzc/search/evaluation.py)."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions, combine
from amzc.parse import parse
from amzc.rng import uniform_index
from amzc.search.config import FecConfig, HurdleConfig, parse_config
from amzc.search.evaluation import SearchEvaluator, draws_random
from amzc.search.evolution import Population, RandomSearch, RegularizedEvolution
from amzc.search.hurdles import Hurdle
from amzc.search.mutation import Mutator
from amzc.search.random_program import random_program
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks

MEMORY = MemoryConfig(4, 3, 1)
TASKS = build_tasks(TaskSpec("linear", 4, 30, 20, 4))
SMALL = """
[run]
backend = "numpy"
[tasks.search]
num_train = 30
num_valid = 20
num_tasks = 4
[ops]
setup = ["scalar_const_set"]
predict = ["vector_inner_product", "scalar_product"]
learn = ["scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum"]
[sizes]
setup = { init = 2 }
predict = { init = 1 }
learn = { init = 4 }
[population]
size = 20
tournament = 4
[fec]
enabled = true
[stop]
max_individuals = 100
"""
LINEAR = parse("""
def Setup():
  s2 = 0.1
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
""")


@given(st.integers(1, 10), st.lists(st.sampled_from([0.1, 0.5, 0.9, 0.5, 0.0, -0.0]),
                                    min_size=1, max_size=60))
def test_population_put_fills_then_ages_and_keeps_the_first_maximum(size, values):
    pop = Population(size)
    for i, fitness in enumerate(values):
        slot, candidate = i % size, pop.best
        changed = pop.put(LINEAR, fitness)
        assert pop.fitness[slot] == fitness and len(pop.fitness) == min(i + 1, size)
        assert pop.next_slot == (slot + 1) % size
        assert pop.best == int(np.argmax(pop.fitness))
        assert changed == (pop.best != candidate or slot == candidate)


def test_tournament_draws_with_replacement_and_keeps_the_first_of_ties():
    pop = Population(5, [LINEAR] * 5, [0.1, 0.9, 0.3, 0.9, 0.2])
    for child in range(50):
        drawn = [uniform_index(77, child * 3 + j, 5) for j in range(3)]
        best = drawn[0]
        for k in drawn[1:]:
            if pop.fitness[k] > pop.fitness[best]:
                best = k
        assert pop.tournament(77, child, 3) == best
    # a tournament of one is a uniform draw over the whole population
    counts = np.bincount([pop.tournament(5, child, 1) for child in range(5000)], minlength=5)
    assert counts.min() > 850


def make(strategy_cls, text=SMALL, **changes):
    config = replace(parse_config(text), **changes)
    evaluator = SearchEvaluator(NumpyBackend(), build_tasks(config.search_tasks.spec),
                                config.search_space.memory, config.fec)
    return config, strategy_cls(config, evaluator)


@given(st.lists(st.sampled_from([0.1, 0.5, 0.9]), min_size=20, max_size=20),
       st.integers(0, 2**32 - 1))
def test_each_child_is_the_tournament_winners(fitness, seed):
    """Child c's parent wins Population.tournament(key, c, T), the key drawn from the search
    RNG at the first child (the first drawn of equal maxima wins)."""
    config, evolution = make(RegularizedEvolution)
    programs = [replace(LINEAR, name=str(i)) for i in range(20)]  # distinct objects
    evolution.population = Population(20, list(programs), list(fitness))
    parents = []
    evolution.mutator.mutate = lambda parent, rng: parents.append(parent) or parent
    evolution.evaluator.evaluate = lambda program, seed: 0.0
    rng, mirror = random.Random(seed), random.Random(seed)
    key = mirror.getrandbits(64)
    for child in range(5):
        pop = evolution.population
        before = Population(20, list(pop.programs), list(pop.fitness))
        winner = before.tournament(key, child, config.tournament_size)
        evolution.step(rng)
        assert parents[-1] is before.programs[winner]
    assert evolution.state() == {"tournament_key": key, "children": 5}


def test_children_replace_the_oldest_slot_in_turn():
    config, evolution = make(RegularizedEvolution)
    rng = random.Random(3)
    filled = []
    while not evolution.population.full:
        filled += evolution.step(rng)
    assert filled == list(range(20))
    slots = [evolution.step(rng)[0] for _ in range(45)]
    assert slots == [i % 20 for i in range(45)]


def test_same_seed_same_population():
    def run(seed):
        _, evolution = make(RegularizedEvolution)
        rng = random.Random(seed)
        for _ in range(60):
            evolution.step(rng)
        return evolution.population.programs, evolution.population.fitness

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_random_search_keeps_the_best_ever():
    _, search = make(RandomSearch)
    rng = random.Random(0)
    seen = []
    for _ in range(40):
        for slot in search.step(rng):
            seen.append(search.population.fitness[slot])
    assert search.candidate()[1] == max(seen)


def test_evaluator_matches_a_direct_evaluation():
    for fec in (FecConfig(enabled=False), FecConfig(enabled=True)):
        evaluator = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec)
        direct = NumpyBackend().run(LINEAR, TASKS, MEMORY, EvalOptions()).fitness
        assert evaluator.evaluate(LINEAR, seed=5) == combine(direct)


def test_fec_hit_for_a_program_that_differs_only_in_dead_code():
    evaluator = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, FecConfig(enabled=True))
    first = evaluator.evaluate(LINEAR, seed=1)
    assert evaluator.fec.hits == 0
    padded = LINEAR.with_component("predict", LINEAR.predict + parse(
        "def Predict():\n  s3 = s2 * s2\n").predict)
    assert evaluator.evaluate(padded, seed=2) == first
    assert evaluator.fec.hits == TASKS.num_tasks
    assert evaluator.stats.task_evaluations == TASKS.num_tasks
    assert evaluator.stats.train_steps == 2 * 4 * 10 + 4 * 30


def lineage(config, seed: int, children: int) -> list:
    """A random program and ``children`` mutants, each of a uniformly drawn earlier one."""
    mutator = Mutator(config.search_space, config.mutation)
    rng = random.Random(seed)
    programs = [random_program(rng, config.search_space)]
    for _ in range(children):
        programs.append(mutator.mutate(programs[int(rng.random() * len(programs))], rng))
    return programs


def test_memos_never_change_results():
    """The fingerprint and fitness memos are pure caches: clearing them before every call
    gives the same fitness and the same FEC state."""
    programs = lineage(parse_config(SMALL), seed=8, children=300)
    fec = FecConfig(enabled=True, forget_every=3, cache_size=50)
    a = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec)
    b = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec)
    results_a, results_b = [], []
    for i, program in enumerate(programs):
        results_a.append(a.evaluate(program, seed=i))
        b._fingerprints.clear()
        b._fitness.clear()
        results_b.append(b.evaluate(program, seed=i))
    assert results_a == results_b
    assert (a.fec.hits, a.fec.misses) == (b.fec.hits, b.fec.misses)
    assert a.stats.fingerprint_memo_hits > 0 and a.stats.backend_calls < b.stats.backend_calls


@pytest.mark.parametrize("hurdles", [False, True])
def test_children_evaluated_as_written_take_the_same_path(hurdles):
    """``fec.memo = false`` skips the dead-code analysis and runs children as written: the
    predictions, hence fingerprints, FEC hits and fitness, are those of the simplified
    programs, random fills (live or dead) and hurdles included."""
    config = parse_config(SMALL.replace('predict = ["vector_inner_product", "scalar_product"]',
                                        'predict = ["vector_inner_product", "scalar_product", '
                                        '"scalar_gaussian_set", "vector_uniform_set"]'))
    programs = lineage(config, seed=5, children=400)
    assert any(draws_random(p) for p in programs)
    fec = FecConfig(enabled=True, forget_every=3, cache_size=60)
    hurdle_config = HurdleConfig(enabled=True, tasks=1, update_every=1)
    evaluators = []
    for memo in (True, False):
        hurdle = Hurdle(hurdle_config) if hurdles else None
        if hurdle is not None:
            hurdle.update([0.2, 0.4, 0.6])
        evaluators.append(SearchEvaluator(NumpyBackend(), TASKS, MEMORY,
                                          replace(fec, memo=memo), hurdle))
    with_memo, as_written = evaluators
    assert not as_written.live_memo
    for i, program in enumerate(programs):
        assert with_memo.evaluate(program, seed=i) == as_written.evaluate(program, seed=i)
    assert (with_memo.fec.hits, with_memo.fec.misses) == (as_written.fec.hits,
                                                          as_written.fec.misses)
    assert with_memo.stats.train_steps == as_written.stats.train_steps
    assert with_memo.stats.task_evaluations == as_written.stats.task_evaluations
    assert as_written.stats.fingerprint_memo_hits > 0  # the exact copies


@pytest.mark.parametrize("fec, hurdles", [
    (FecConfig(enabled=True, memo=True, forget_every=3, cache_size=60), False),
    (FecConfig(enabled=True, memo=False, forget_every=3, cache_size=60), False),
    (FecConfig(enabled=True, memo=False, forget_every=3, cache_size=60), True),
    (FecConfig(enabled=False), True)])
def test_statistics_count_every_evaluation_once(fec, hurdles):
    """Whatever path an evaluation takes (memos, exact copies, hurdles), the counters add up:
    a fingerprint run's train steps per candidate with FEC, a full evaluation's per task
    evaluated, and every task FEC missed either evaluated or skipped by the hurdle."""
    programs = lineage(parse_config(SMALL), seed=3, children=150)
    hurdle = Hurdle(HurdleConfig(enabled=True, tasks=1, update_every=1)) if hurdles else None
    if hurdle is not None:
        hurdle.update([0.2, 0.4, 0.6])
    evaluator = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec, hurdle)
    for i, program in enumerate(programs):
        evaluator.evaluate(program, seed=i)
    stats, n = evaluator.stats, len(programs)
    fingerprint = TASKS.num_tasks * min(fec.num_train, TASKS.num_train) if fec.enabled else 0
    assert stats.train_steps == (n * fingerprint
                                 + stats.task_evaluations * TASKS.num_train * TASKS.epochs)
    missed = evaluator.fec.misses if fec.enabled else n * TASKS.num_tasks
    assert stats.task_evaluations + stats.hurdle_skipped_tasks == missed
    assert (stats.hurdle_skipped_tasks > 0) == hurdles


def test_memos_are_sized_by_bytes_from_the_budget(monkeypatch):
    """An entry holds one value per task, so many tasks mean fewer entries in the same bytes;
    a smaller budget means fewer entries; the bound clears a memo, which changes no result."""
    from amzc import caches
    from amzc.search import evaluation

    fec = FecConfig(enabled=True)
    full = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec).memo_limit
    entry = evaluation.MEMO_ENTRY_BYTES + evaluation.VALUE_BYTES * TASKS.num_tasks
    assert full == int(0.4 * caches.share_bytes("memos")) // entry
    monkeypatch.setattr(evaluation, "VALUE_BYTES", 10 * evaluation.VALUE_BYTES)
    assert SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec).memo_limit < full / 4
    monkeypatch.undo()
    budget = caches.budget_mb()
    caches.set_budget(3 * entry / 0.4 / caches.SHARES["memos"] / caches.MB)
    try:
        evaluator = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec)
    finally:
        caches.set_budget(budget)
    assert evaluator.memo_limit == 3
    reference = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec)
    reference.memoize = False
    rng = random.Random(2)
    config = parse_config(SMALL)
    for i in range(40):
        program = random_program(rng, config.search_space)
        assert evaluator.evaluate(program, seed=i) == reference.evaluate(program, seed=i)
        assert len(evaluator._fingerprints) <= 3 and len(evaluator._fitness) <= 3


def test_hurdle_stops_a_weak_candidate_after_its_first_task():
    hurdle = Hurdle(HurdleConfig(enabled=True, tasks=1))
    evaluator = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, FecConfig(enabled=False), hurdle)
    weak = parse("def Predict():\n  s1 = s0 + s0\n")
    per_task = NumpyBackend().run(weak, TASKS, MEMORY, EvalOptions()).fitness
    hurdle.value = 0.99
    assert evaluator.evaluate(weak, seed=0) == per_task[0]
    assert evaluator.stats.hurdle_skipped_tasks == TASKS.num_tasks - 1
    assert (hurdle.checked, hurdle.stopped) == (1, 1)
    hurdle.value = 0.0
    assert evaluator.evaluate(weak, seed=0) == combine(per_task)


class CountingBackend(NumpyBackend):
    """NumPy, counting the tasks each run evaluates in full (fingerprint runs aside)."""

    def __init__(self) -> None:
        super().__init__()
        self.full_tasks: list[int] = []

    def run(self, program, tasks, memory, options, record=False):
        if options.max_train_steps is None:
            self.full_tasks.append(tasks.num_tasks)
        return super().run(program, tasks, memory, options, record)


@pytest.mark.parametrize("stage", [1, 3])
@pytest.mark.parametrize("random_fill", [False, True])
def test_a_hurdle_runs_only_its_tasks_before_deciding(random_fill, stage):
    """With ``hurdles.tasks = 3`` of 8, a candidate below the hurdle costs 3 tasks' work,
    one above it 3 then 5 (each task once), and its fitness is that of the whole set
    (once the 3-task stage ran as the whole set: a stopped candidate cost all 8, and one with
    live random fills that passed cost 16; with a stage of 1, the rest ran as all 8)."""
    tasks = build_tasks(TaskSpec("linear", 4, 30, 20, 8))
    fill = "  v1 = gaussian(0.0, 0.1)\n" if random_fill else ""
    program = parse("def Setup():\n  s2 = 0.1\n" + fill + "def Predict():\n"
                    "  s1 = dot(v0, v1)\ndef Learn():\n  s3 = s0 - s1\n  s3 = s2 * s3\n"
                    "  v2 = s3 * v0\n  v1 = v1 + v2\n")
    per_task = NumpyBackend().run(program, tasks, MEMORY, EvalOptions(seed=5)).fitness
    for value, stopped in ((0.999, True), (0.0, False)):
        backend = CountingBackend()
        hurdle = Hurdle(HurdleConfig(enabled=True, tasks=stage))
        hurdle.value = value
        evaluator = SearchEvaluator(backend, tasks, MEMORY, FecConfig(enabled=False), hurdle)
        fitness = evaluator.evaluate(program, seed=5)
        if stopped:
            assert backend.full_tasks == [stage]
            assert fitness == pytest.approx(combine(per_task[:stage]), rel=1e-12)
            assert evaluator.stats.hurdle_skipped_tasks == 8 - stage
        else:
            assert backend.full_tasks == [stage, 8 - stage]
            assert fitness == pytest.approx(combine(per_task), rel=1e-12)
        assert evaluator.stats.task_evaluations == sum(backend.full_tasks)


def test_a_population_pickled_with_a_list_of_fitness_loads_as_an_array():
    """Checkpoints written before the fitness became an array('d') still load."""
    import pickle
    from array import array

    pop = Population(2, [LINEAR, LINEAR], [0.25, 0.5], next_slot=1, best=1)
    state = pickle.loads(pickle.dumps(pop))
    assert isinstance(state.fitness, array) and state.fitness.tolist() == [0.25, 0.5]
    old = pop.__reduce_ex__(2)  # what an older version pickled: the fields as they were
    old_state = dict(old[2], fitness=[0.25, 0.5])
    restored = old[0](*old[1])
    restored.__setstate__(old_state)
    assert isinstance(restored.fitness, array) and restored.fitness.tolist() == [0.25, 0.5]
    assert (restored.next_slot, restored.best) == (1, 1)


def test_a_strategy_state_without_a_key_draws_one_at_the_next_child():
    """A new experiment's (or an older checkpoint's) empty strategy state: the tournament key
    is drawn from the search RNG at the first child, the counter starts at 0."""
    _, evolution = make(RegularizedEvolution)
    rng = random.Random(4)
    while not evolution.population.full:
        evolution.step(rng)
    evolution.restore({})
    assert evolution.state() == {"tournament_key": None, "children": 0}
    mirror = random.Random()
    mirror.setstate(rng.getstate())
    evolution.step(rng)
    assert evolution.state() == {"tournament_key": mirror.getrandbits(64), "children": 1}


def test_the_evaluator_asks_for_the_accelerator_once_and_probes_nothing_else():
    """A backend offers its search speed-ups only through ``search_accelerator()``: the
    evaluator asks once, and with None evaluates through ``run`` alone, whatever other
    attributes the backend has (no getattr probing), with the Python paths' results."""
    asked = []

    class Plain(NumpyBackend):
        def search_accelerator(self) -> None:
            asked.append(1)
            return None

        def fingerprints(self, *args: object) -> list[int]:  # an unrelated method of the
            raise AssertionError("probed")  # same name must not be mistaken for the ability

        task_fitness = expect_ops = fec_cache = fec_runner = fingerprints

    fec = FecConfig(enabled=True, memo=False)
    plain = SearchEvaluator(Plain(), TASKS, MEMORY, fec)
    reference = SearchEvaluator(NumpyBackend(), TASKS, MEMORY, fec)
    plain.expect_ops([])
    rng = random.Random(4)
    for seed in range(20):
        program = random_program(rng, parse_config(SMALL).search_space)
        assert plain.evaluate(program, seed) == reference.evaluate(program, seed)
    assert asked == [1] and plain.native_population(Population(2).fitness, [], 2) is None

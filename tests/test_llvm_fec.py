"""The FEC cache in native memory (amzc/backends/llvm/fec_table.py) against FecCache, the
oracle (amzc/fec.py): same answers, counters and recency order for any sequence of
operations; the fingerprint run and lookups in one call; pickles and checkpoints."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amzc.backends.llvm import LlvmBackend
from amzc.backends.llvm.fec_table import NativeFecCache
from amzc.backends.numpy import NumpyBackend
from amzc.errors import AmzError
from amzc.evaluate import EvalOptions
from amzc.fec import FEC_SEED, FecCache, fingerprints, restore_cache, task_keys
from amzc.parse import parse
from amzc.search.evaluation import fec_taskset
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks

# a few keys, so that hits, forgetting, eviction and probe collisions (a table of at most a
# few dozen positions) all happen; 2**64 - 1 and 0 are legal fingerprints too
KEYS = st.sampled_from([0, 1, 2, 3, 17, 2**63, 2**64 - 1, 0x9E3779B97F4A7C15, 12345678901,
                        2**40 + 7, 99, 100])
LOOKUP = st.tuples(st.just("lookup"), st.lists(KEYS, min_size=1, max_size=6))
INSERT = st.tuples(st.just("insert"), st.lists(st.tuples(KEYS, st.floats(-1e3, 1e3),
                                                         st.booleans()),
                                               min_size=1, max_size=6))


def apply(cache, operation):
    kind, args = operation
    if kind == "lookup":
        return cache.lookup_tasks(args)
    keys = [k for k, _, _ in args]
    fitness = [f for _, f, _ in args]
    which = [i for i, (_, _, chosen) in enumerate(args) if chosen]
    cache.insert_tasks(keys, fitness, which)
    return fitness  # with average, a mean written back where a sample was


# restored entries (key, fitness, uses, samples), as a checkpoint holds them
RESTORED = st.lists(st.tuples(KEYS, st.floats(-1e3, 1e3), st.integers(1, 6), st.integers(1, 4)),
                    max_size=5, unique_by=lambda entry: entry[0])


@settings(max_examples=300, deadline=None)
@given(cache_size=st.integers(0, 9), forget_every=st.sampled_from([0, 1, 2, 3, 5, 100]),
       average=st.booleans(), restored=RESTORED,
       operations=st.lists(st.one_of(LOOKUP, INSERT), max_size=60))
def test_native_cache_behaves_as_the_python_one(cache_size, forget_every, average, restored,
                                                operations):
    restored = restored[:cache_size]
    python = restore_cache(cache_size, forget_every, 0, 0, restored, average)
    native = NativeFecCache.from_items(cache_size, forget_every, 0, 0, restored, average)
    assert native.items() == python.items()
    for operation in operations:
        assert apply(native, operation) == apply(python, operation)
        assert native.items() == python.items()  # entries, uses and recency order
        assert (native.hits, native.misses, len(native)) == (python.hits, python.misses,
                                                             len(python))
    assert native.hit_rate == python.hit_rate


def test_single_key_interface_and_a_full_cache():
    native, python = NativeFecCache(3, 0), FecCache(3, 0)
    for cache in (native, python):
        for key in range(10):  # every insert past the third evicts the oldest
            assert cache.lookup(key) is None
            cache.insert(key, key / 10)
        assert cache.lookup_tasks([9, 8, 7, 6])[0] == [0.9, 0.8, 0.7, None]
    assert native.items() == python.items() == [(9, 0.9, 2, 1), (8, 0.8, 2, 1), (7, 0.7, 2, 1)]


def test_an_averaging_cache_pickles_its_samples_and_restores_as_native():
    native = NativeFecCache(4, 2, average=True)
    native.insert(5, 0.5)
    assert native.lookup(5) == 0.5
    assert native.lookup(5) is None  # due for another sample
    assert native.insert(5, 0.25) == 0.375  # the mean of the two
    assert native.items() == [(5, 0.375, 1, 2)]
    restored = pickle.loads(pickle.dumps(native))
    assert type(restored) is FecCache and restored.average
    assert restored.items() == native.items()
    again = LlvmBackend(shared=False).fec_cache(4, 2, like=restored, average=True)
    assert again.items() == native.items()
    for cache in (native, restored, again):  # the mean serves 2 · 2 uses
        assert [cache.lookup(5) for _ in range(4)] == [0.375, 0.375, 0.375, None]
        assert cache.insert(5, 0.0) == 0.25
    # a checkpoint from before samples were kept: (key, fitness, uses), one sample each
    assert restore_cache(4, 2, 0, 0, [(5, 0.5, 1)]).items() == [(5, 0.5, 1, 1)]


def test_pickles_as_a_python_cache_and_restores_exactly():
    native = NativeFecCache(4, 3)
    for key in (5, 6, 7, 5, 8, 9, 6):
        if native.lookup(key) is None:
            native.insert(key, key * 1.5)
    restored = pickle.loads(pickle.dumps(native))
    assert type(restored) is FecCache
    assert restored.items() == native.items()
    assert (restored.hits, restored.misses) == (native.hits, native.misses)
    again = NativeFecCache.from_items(4, 3, restored.hits, restored.misses, restored.items())
    assert again.items() == native.items()
    for key in (9, 9, 5, 10, 7):  # and they go on alike
        assert again.lookup(key) == native.lookup(key) == restored.lookup(key)
    assert again.items() == native.items() == restored.items()
    python = pickle.loads(pickle.dumps(restored))
    assert python.items() == restored.items()
    assert restore_cache(4, 3, 0, 0, []).items() == []


def test_search_evaluator_adopts_a_restored_cache_as_native():
    from amzc.search.config import FecConfig
    from amzc.search.evaluation import SearchEvaluator

    tasks = build_tasks(TaskSpec("linear", 4, 20, 20, 3))
    evaluator = SearchEvaluator(LlvmBackend(shared=False), tasks, MemoryConfig(4, 3, 1),
                                FecConfig(enabled=True, num_train=10, num_valid=10,
                                          cache_size=50, forget_every=5, memo=False))
    assert isinstance(evaluator.fec, NativeFecCache)
    python = FecCache(50, 5)
    python.insert(3, 0.25)
    python.lookup(3)
    evaluator.fec = python
    assert isinstance(evaluator.fec, NativeFecCache)
    assert evaluator.fec.items() == [(3, 0.25, 2, 1)] and evaluator.fec.hits == 1


@pytest.mark.parametrize("text", [
    "def Predict():\n  s1 = dot(v0, v0)\n",
    "def Setup():\n  s2 = gaussian(0.0, 2.0)\ndef Predict():\n  s1 = s2 * s0\n",
    "def Predict():\n  s3 = norm(v0)\n  s1 = sin(s3)\n",  # ops the interpreter may lack
])
def test_fingerprint_and_lookups_in_one_call(text):
    """A ``fec_runner`` returns what the fingerprint run and ``lookup_tasks`` give, and leaves
    the cache as they would, whether the tasks hit or miss."""
    tasks = build_tasks(TaskSpec("linear", 4, 20, 20, 20))  # three groups of 8 lanes, one padded
    memory = MemoryConfig(4, 3, 1)
    options = EvalOptions(seed=FEC_SEED, max_train_steps=10, max_valid_steps=10)
    program = parse(text)
    prints = fingerprints(NumpyBackend().run(program, tasks, memory, options, record=True),
                          task_keys(tasks.task_ids))
    backend = LlvmBackend(mode="auto", shared=False)  # an interpreter built for dot alone:
    backend.fingerprints(parse("def Predict():\n  s1 = dot(v0, v1)\n"), tasks, memory, options)
    native, python = backend.fec_cache(20, 3), FecCache(20, 3)
    for cache in (native, python):
        for i in range(0, 11, 3):
            cache.insert(prints[i], i / 10)
    runner = backend.fec_runner(tasks, memory, options, native)
    for _ in range(4):  # the third use forgets the entries: misses again
        found = runner(program)
        assert found is not None
        assert found == (prints, *python.lookup_tasks(prints), False)
        assert native.items() == python.items()
    assert backend.fec_runner(tasks, memory, options, python) is None
    native.lookup_tasks(list(range(40)))  # new, larger buffers: the runner follows them
    assert runner(program) == (prints, *python.lookup_tasks(prints), False)
    assert native.items() == python.items()
    fresh = LlvmBackend(mode="auto", shared=False)  # ... and hands over while none is built
    fresh_tasks = build_tasks(TaskSpec("linear", 3, 12, 12, 2))  # a Shape no test built
    assert fresh.fec_runner(fresh_tasks, MemoryConfig(4, 3, 1), options, native)(program) is None
    with pytest.raises(AmzError, match="s7"):
        runner(parse("def Predict():\n  s1 = s7 + s2\n"))


@pytest.mark.parametrize("memo", [False, True])
@pytest.mark.parametrize("hurdles", [False, True])
def test_a_search_evaluator_with_either_cache_gives_the_same_results(memo, hurdles):
    """The LLVM backend's evaluator (native cache, one-call lookups) against the NumPy
    backend's (FecCache): the same fitness for every candidate of a lineage with random
    fills, the same hits and misses and the same cache at the end, with a small cache that
    evicts and forgets, children as written or simplified, with and without a hurdle."""
    from dataclasses import replace

    from test_search_evolution import MEMORY, SMALL, TASKS, lineage

    from amzc.search.config import FecConfig, HurdleConfig, parse_config
    from amzc.search.evaluation import SearchEvaluator
    from amzc.search.hurdles import Hurdle

    config = parse_config(SMALL.replace('predict = ["vector_inner_product", "scalar_product"]',
                                        'predict = ["vector_inner_product", "scalar_product", '
                                        '"scalar_gaussian_set", "vector_uniform_set"]'))
    programs = lineage(config, seed=11, children=300)
    fec = FecConfig(enabled=True, forget_every=3, cache_size=40, memo=memo)
    evaluators = []
    for backend in (NumpyBackend(), LlvmBackend(shared=False)):
        hurdle = None
        if hurdles:
            hurdle = Hurdle(HurdleConfig(enabled=True, tasks=1, update_every=1))
            hurdle.update([0.2, 0.4, 0.6])
        evaluators.append(SearchEvaluator(backend, TASKS, MEMORY, replace(fec), hurdle))
    oracle, native = evaluators
    assert type(oracle.fec) is FecCache and isinstance(native.fec, NativeFecCache)
    for i, program in enumerate(programs):
        assert native.evaluate(program, seed=i) == oracle.evaluate(program, seed=i)
    assert native.fec.items() == oracle.fec.items()
    assert (native.fec.hits, native.fec.misses) == (oracle.fec.hits, oracle.fec.misses)
    assert native.stats.train_steps == oracle.stats.train_steps
    assert native.stats.task_evaluations == oracle.stats.task_evaluations


@pytest.mark.parametrize(("text", "evaluated"), [
    ("def Setup():\n  s2 = 0.1\ndef Predict():\n  s1 = dot(v0, v1)\ndef Learn():\n"
     "  s3 = s0 - s1\n  s3 = s2 * s3\n  v2 = s3 * v0\n  v1 = v1 + v2\n", True),
    ("def Setup():\n  s2 = gaussian(0.0, 2.0)\ndef Predict():\n  s1 = s2 * s0\n", False),
])
def test_the_misses_evaluated_in_the_same_call(text, evaluated):
    """With the full task set, a runner evaluates the misses of a program without random
    fills in its native call: the fitness of a full evaluation, inserted as FecCache would;
    a program with a random fill, or one whose work is past the cost model's share, leaves
    its misses to the caller."""
    tasks = build_tasks(TaskSpec("linear", 4, 30, 20, 11))
    fec_tasks = fec_taskset(tasks, 10, 10)
    memory = MemoryConfig(4, 3, 1)
    options = EvalOptions(seed=FEC_SEED, max_train_steps=10, max_valid_steps=10)
    program = parse(text)
    backend = LlvmBackend(mode="auto", shared=False)
    prints = backend.fingerprints(program, fec_tasks, memory, options)  # builds the interpreter
    full = backend.task_fitness(program, tasks, memory, EvalOptions())
    native, python = backend.fec_cache(20, 5), FecCache(20, 5)
    for cache in (native, python):
        cache.insert(prints[3], 0.25)
    runner = backend.fec_runner(fec_tasks, memory, options, native, (tasks, EvalOptions()))
    found = runner(program)
    per_task, missing = python.lookup_tasks(prints)
    assert missing == [i for i in range(11) if i != 3]
    if evaluated:
        assert found == (prints, [0.25 if i == 3 else full[i] for i in range(11)], missing, True)
        python.insert_tasks(prints, full, missing)
    else:
        assert found == (prints, per_task, missing, False)
    assert native.items() == python.items()
    if evaluated:  # past the one-shot rule's work: the caller evaluates
        backend.state.cost.compile_ms = 1e-6
        again = backend.fec_runner(fec_tasks, memory, options, backend.fec_cache(20, 5),
                                   (tasks, EvalOptions()))(program)
        assert again is not None and again[3] is False and again[2] == list(range(11))

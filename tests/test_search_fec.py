"""FEC: fingerprints and the LRU cache with forgetting (amzc/fec.py, docs/evolution.md)."""

from __future__ import annotations

import numpy as np
import pytest

from amzc.backends.llvm import LlvmBackend
from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions, RunOutput
from amzc.fec import FEC_SEED, FecCache, fingerprints, task_keys
from amzc.parse import parse
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks


def recorded(train, valid, n_train=None, n_valid=None) -> RunOutput:
    train, valid = np.atleast_2d(train).astype(float), np.atleast_2d(valid).astype(float)
    k = train.shape[0]
    return RunOutput(np.zeros(k), np.zeros((k, 2)), np.zeros((k, 1, 1)), np.zeros((k, 0, 1, 1)),
                     train, valid,
                     np.full(k, train.shape[1]) if n_train is None else np.asarray(n_train),
                     np.full(k, valid.shape[1]) if n_valid is None else np.asarray(n_valid))


def test_fingerprints_hash_exact_errors_and_task():
    out = recorded([[0.5, 0.25], [0.5, 0.25]], [[1.0], [1.0]])
    a, b = fingerprints(out, task_keys(np.array([0, 1])))
    assert a != b  # same errors, different task
    assert fingerprints(out, task_keys(np.array([0, 1]))) == [a, b]
    nudged = recorded([[0.5, np.nextafter(0.25, 1)], [0.5, 0.25]], [[1.0], [1.0]])
    assert fingerprints(nudged, task_keys(np.array([0, 1])))[0] != a  # not rounded
    moved = recorded([[0.5], [0.5]], [[0.25, 1.0], [0.25, 1.0]])  # the same errors, shifted
    assert fingerprints(moved, task_keys(np.array([0, 1])))[0] != a


def test_errors_past_an_abort_do_not_count():
    keys = task_keys(np.array([0]))
    a = fingerprints(recorded([[0.5, 7.0]], [[0.0]], [1], [0]), keys)
    b = fingerprints(recorded([[0.5, 9.0]], [[3.0]], [1], [0]), keys)
    c = fingerprints(recorded([[0.5, 9.0]], [[3.0]], [2], [0]), keys)
    assert a == b != c


def test_equivalent_programs_share_fingerprints():
    tasks = build_tasks(TaskSpec("linear", 4, 20, 20, 3))
    memory = MemoryConfig(4, 3, 1)
    options = EvalOptions(seed=FEC_SEED, max_train_steps=10, max_valid_steps=10)
    keys = task_keys(tasks.task_ids)
    backend = NumpyBackend()

    def fp(text):
        return fingerprints(backend.run(parse(text), tasks, memory, options, record=True), keys)

    base = fp("def Predict():\n  s1 = dot(v0, v0)\n")
    assert base == fp("def Predict():\n  s2 = s0 * s0\n  s1 = dot(v0, v0)\n")
    assert base != fp("def Predict():\n  s1 = dot(v0, v1)\n")


@pytest.mark.parametrize("mode", ["interpret", "compile"])
@pytest.mark.parametrize("text", [
    "def Predict():\n  s1 = dot(v0, v0)\n",
    "def Setup():\n  s2 = 3.0\ndef Predict():\n  s3 = s3 + s2\n  s3 = s3 * s3\n"
    "  s1 = s3 * s1\n",  # grows until it aborts: counts below the recorded steps
    "def Setup():\n  s2 = gaussian(0.0, 2.0)\ndef Predict():\n  s1 = s2 * s0\n",
])
def test_native_fingerprints_equal_those_of_run_outputs(text, mode):
    tasks = build_tasks(TaskSpec("linear", 4, 20, 20, 20))  # three groups of 8 lanes, one padded
    memory = MemoryConfig(4, 3, 1)
    options = EvalOptions(seed=FEC_SEED, max_train_steps=10, max_valid_steps=10)
    keys = task_keys(tasks.task_ids)
    program = parse(text)
    backend = LlvmBackend(mode=mode, shared=False)
    expected = fingerprints(backend.run(program, tasks, memory, options, record=True), keys)
    assert backend.fingerprints(program, tasks, memory, options) == expected
    assert fingerprints(NumpyBackend().run(program, tasks, memory, options, record=True),
                        keys) == expected
    assert backend.task_fitness(program, tasks, memory, EvalOptions()) == \
        backend.run(program, tasks, memory, EvalOptions()).fitness.tolist()


def test_fast_fingerprint_path_grows_the_interpreter_and_reports_bad_addresses():
    """The fingerprint fast path runs the context's interpreter as it is: a program with an
    op it lacks takes the general path (which grows it), and a bad address still raises."""
    from amzc.errors import AmzError

    tasks = build_tasks(TaskSpec("linear", 7, 12, 12, 3))  # F = 7: a Shape no other test has
    memory = MemoryConfig(5, 3, 1)
    options = EvalOptions(seed=FEC_SEED, max_train_steps=10, max_valid_steps=10)
    keys = task_keys(tasks.task_ids)
    backend = LlvmBackend(mode="auto", shared=False)
    first = parse("def Predict():\n  s1 = dot(v0, v1)\n")
    backend.fingerprints(first, tasks, memory, options)  # builds the interpreter for dot
    for text in ("def Predict():\n  s4 = norm(v0)\n  s1 = sin(s4)\n",
                 "def Setup():\n  v2 = uniform(-1.0, 1.0)\ndef Predict():\n"
                 "  s1 = dot(v2, v0)\n"):
        program = parse(text)
        expected = fingerprints(NumpyBackend().run(program, tasks, memory, options,
                                                   record=True), keys)
        assert backend.fingerprints(program, tasks, memory, options) == expected
    with pytest.raises(AmzError, match="s9"):
        backend.fingerprints(parse("def Predict():\n  s1 = s9 + s2\n"), tasks, memory,
                             options)
    assert backend.fingerprints(first, tasks, memory, options) == fingerprints(
        NumpyBackend().run(first, tasks, memory, options, record=True), keys)


def test_hit_miss_and_hit_rate():
    cache = FecCache(cache_size=10, forget_every=0)
    assert cache.lookup(1) is None
    cache.insert(1, 0.5)
    assert cache.lookup(1) == 0.5
    assert (cache.hits, cache.misses, cache.hit_rate) == (1, 1, 0.5)


def test_least_recently_used_is_evicted():
    cache = FecCache(cache_size=2, forget_every=0)
    cache.insert(1, 0.1)
    cache.insert(2, 0.2)
    assert cache.lookup(1) == 0.1  # a is now the most recent
    cache.insert(3, 0.3)
    assert cache.lookup(2) is None
    assert cache.lookup(1) == 0.1 and cache.lookup(3) == 0.3
    assert len(cache) == 2


def test_entries_are_forgotten_after_forget_every_uses():
    cache = FecCache(cache_size=10, forget_every=3)
    cache.insert(1, 0.7)  # use 1
    assert cache.lookup(1) == 0.7  # use 2
    assert cache.lookup(1) == 0.7  # use 3: returned, then forgotten
    assert cache.lookup(1) is None


def test_average_samples_an_entry_again_and_keeps_the_mean():
    cache = FecCache(cache_size=10, forget_every=2, average=True)
    cache.insert(1, 0.2)
    assert cache.lookup(1) == 0.2  # use 2 of 2
    assert cache.lookup(1) is None  # due for another sample, and kept
    assert cache.lookup_tasks([1, 3]) == ([None, None], [0, 1])  # still due
    assert cache.insert(1, 0.4) == pytest.approx(0.3)
    # the mean serves 2 · 2 uses (the insert's is the first)
    assert [cache.lookup(1) for _ in range(4)] == [pytest.approx(0.3)] * 3 + [None]
    fitness = [0.6]
    cache.insert_tasks([1], fitness, [0])  # the mean is written back for the caller
    assert fitness == [pytest.approx(0.4)] and cache.items() == [(1, pytest.approx(0.4), 1, 3)]
    same = FecCache(cache_size=10, forget_every=1, average=True)
    same.insert(2, 0.1)
    uses = []
    for _ in range(5):  # a program without random fills: every sample alike, mean exact
        found = 1
        while (value := same.lookup(2)) is not None:
            assert value == 0.1
            found += 1
        uses.append(found)
        assert same.insert(2, 0.1) == 0.1
    assert uses == [1, 2, 3, 4, 5]  # samples due at 1, 2, 3, ... uses: forget_every · samples
    assert (cache.hits, cache.misses) == (4, 4)


@pytest.mark.parametrize("backend", [NumpyBackend, LlvmBackend])
@pytest.mark.parametrize("memo", [False, True])
def test_with_average_a_random_programs_fitness_is_the_mean_of_its_samples(backend, memo):
    """A program whose prediction reads a random fill scores a new sample at each full
    evaluation; with fec.average the cache's entry, and the candidate's fitness, become the
    mean of the samples (on every evaluation path), where without it the last sample counts."""
    from amzc.search.config import FecConfig
    from amzc.search.evaluation import SearchEvaluator

    tasks = build_tasks(TaskSpec("linear", 4, 50, 20, 3))
    memory = MemoryConfig(4, 3, 1)
    program = parse("def Setup():\n  v1 = gaussian(0.0, 1.0)\n"
                    "def Predict():\n  s1 = dot(v0, v1)\n")

    def evaluator(**fec):
        return SearchEvaluator(backend(), tasks, memory, FecConfig(memo=memo, **fec))

    fresh = evaluator(enabled=False)  # every use a new evaluation
    samples = [fresh.evaluate(program, seed) for seed in (11, 12, 13)]
    assert len(set(samples)) == 3
    averaging = evaluator(enabled=True, forget_every=1, average=True)
    # each mean serves 1 · samples uses: samples at uses 1, 2, 4
    seen = [averaging.evaluate(program, seed) for seed in (11, 12, 99, 13)]
    assert seen[0] == samples[0]
    assert seen[1] == pytest.approx((samples[0] + samples[1]) / 2, abs=1e-12)
    assert seen[2] == seen[1]  # a hit: seed 99 never runs
    assert seen[3] == pytest.approx(sum(samples) / 3, abs=1e-12)
    plain = evaluator(enabled=True, forget_every=2)
    assert [plain.evaluate(program, seed) for seed in (11, 12, 13)] == [
        samples[0], samples[0], samples[2]]



def test_with_average_the_hurdle_judges_the_entries_means():
    """A hurdle stops a candidate on its first tasks' fitness: with fec.average, their means
    (what the candidate would be credited), not the new samples."""
    from amzc.search.config import FecConfig, HurdleConfig
    from amzc.search.evaluation import SearchEvaluator
    from amzc.search.hurdles import Hurdle

    tasks = build_tasks(TaskSpec("linear", 4, 50, 20, 3))
    hurdle = Hurdle(HurdleConfig(enabled=True, tasks=1))
    evaluator = SearchEvaluator(NumpyBackend(), tasks, MemoryConfig(4, 3, 1),
                                FecConfig(enabled=True, memo=False, forget_every=1,
                                          average=True), hurdle=hurdle)
    program = parse("def Predict():\n  s1 = dot(v0, v0)\n")
    evaluator.evaluate(program, 1)  # no hurdle yet: all three tasks into the cache
    cache = evaluator.fec
    (k0, v0, _, _), (_, v1, _, _), (_, v2, _, _) = cache.items()
    assert max(v0, v1, v2) < 0.9
    cache.entries[k0][0] = 2.5  # as if an earlier sample of task 0 had been 2.5
    hurdle.value = 1.0  # task 0's new sample alone would be stopped, its mean passes
    value = evaluator.evaluate(program, 2)  # every entry due: all three evaluated again
    assert hurdle.stopped == 0 and hurdle.checked == 2
    assert value == pytest.approx(((2.5 + v0) / 2 + v1 + v2) / 3)

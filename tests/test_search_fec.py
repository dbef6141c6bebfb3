"""FEC: fingerprints and the LRU cache with forgetting (amzc/search/fec.py, REFERENCE.md §6)."""

from __future__ import annotations

import numpy as np
import pytest

from amzc.backends.llvm import LlvmBackend
from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions, RunOutput
from amzc.parse import parse
from amzc.search.fec import (
    FEC_SEED,
    FecCache,
    Fingerprinter,
    fingerprints,
    recorded_rows,
    task_suffixes,
)
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks


def recorded(train, valid, n_train=None, n_valid=None) -> RunOutput:
    train, valid = np.atleast_2d(train).astype(float), np.atleast_2d(valid).astype(float)
    k = train.shape[0]
    return RunOutput(np.zeros(k), np.zeros((k, 2)), np.zeros((k, 1, 1)), np.zeros((k, 0, 1, 1)),
                     train, valid,
                     np.full(k, train.shape[1]) if n_train is None else np.asarray(n_train),
                     np.full(k, valid.shape[1]) if n_valid is None else np.asarray(n_valid))


def test_fingerprints_hash_exact_errors_task_and_budget():
    out = recorded([[0.5, 0.25], [0.5, 0.25]], [[1.0], [1.0]])
    a, b = fingerprints(out, task_suffixes(np.array([0, 1]), 100))
    assert a != b  # same errors, different task
    assert fingerprints(out, task_suffixes(np.array([0, 1]), 100)) == [a, b]
    assert fingerprints(out, task_suffixes(np.array([0, 1]), 99))[0] != a  # another budget
    nudged = recorded([[0.5, np.nextafter(0.25, 1)], [0.5, 0.25]], [[1.0], [1.0]])
    assert fingerprints(nudged, task_suffixes(np.array([0, 1]), 100))[0] != a  # not rounded


def test_errors_past_an_abort_do_not_count():
    suffixes = task_suffixes(np.array([0]), 10)
    a = fingerprints(recorded([[0.5, 7.0]], [[0.0]], [1], [0]), suffixes)
    b = fingerprints(recorded([[0.5, 9.0]], [[3.0]], [1], [0]), suffixes)
    c = fingerprints(recorded([[0.5, 9.0]], [[3.0]], [2], [0]), suffixes)
    assert a == b != c


def test_equivalent_programs_share_fingerprints():
    tasks = build_tasks(TaskSpec("linear", 4, 20, 20, 3))
    memory = MemoryConfig(4, 3, 1)
    options = EvalOptions(seed=FEC_SEED, max_train_steps=10, max_valid_steps=10)
    suffixes = task_suffixes(tasks.task_ids, 20)
    backend = NumpyBackend()

    def fp(text):
        return fingerprints(backend.run(parse(text), tasks, memory, options, record=True),
                            suffixes)

    base = fp("def Predict():\n  s1 = dot(v0, v0)\n")
    assert base == fp("def Predict():\n  s2 = s0 * s0\n  s1 = dot(v0, v0)\n")
    assert base != fp("def Predict():\n  s1 = dot(v0, v1)\n")


@pytest.mark.parametrize("text", [
    "def Predict():\n  s1 = dot(v0, v0)\n",
    "def Setup():\n  s2 = 3.0\ndef Predict():\n  s3 = s3 + s2\n  s3 = s3 * s3\n"
    "  s1 = s3 * s1\n",  # grows until it aborts: counts below the recorded steps
    "def Setup():\n  s2 = gaussian(0.0, 2.0)\ndef Predict():\n  s1 = s2 * s0\n",
])
def test_llvm_rows_and_fingerprinter_agree_with_run_outputs(text):
    tasks = build_tasks(TaskSpec("linear", 4, 20, 20, 11))  # two groups of lanes
    memory = MemoryConfig(4, 3, 1)
    options = EvalOptions(seed=FEC_SEED, max_train_steps=10, max_valid_steps=10)
    suffixes = task_suffixes(tasks.task_ids, 20)
    program = parse(text)
    backend = LlvmBackend(mode="interpret")
    out = backend.run(program, tasks, memory, options, record=True)
    rows = backend.fec_rows(program, tasks, memory, options)
    assert np.array_equal(rows[:tasks.num_tasks].view(np.int64),
                          recorded_rows(out).view(np.int64))
    expected = fingerprints(out, suffixes)
    assert Fingerprinter(tasks.task_ids, 20)(rows) == expected
    assert fingerprints(NumpyBackend().run(program, tasks, memory, options, record=True),
                        suffixes) == expected
    assert backend.task_fitness(program, tasks, memory, EvalOptions()) == \
        backend.run(program, tasks, memory, EvalOptions()).fitness.tolist()


def test_hit_miss_and_hit_rate():
    cache = FecCache(cache_size=10, forget_every=0)
    assert cache.lookup(b"a") is None
    cache.insert(b"a", 0.5)
    assert cache.lookup(b"a") == 0.5
    assert (cache.hits, cache.misses, cache.hit_rate) == (1, 1, 0.5)


def test_least_recently_used_is_evicted():
    cache = FecCache(cache_size=2, forget_every=0)
    cache.insert(b"a", 0.1)
    cache.insert(b"b", 0.2)
    assert cache.lookup(b"a") == 0.1  # a is now the most recent
    cache.insert(b"c", 0.3)
    assert cache.lookup(b"b") is None
    assert cache.lookup(b"a") == 0.1 and cache.lookup(b"c") == 0.3
    assert len(cache) == 2


def test_entries_are_forgotten_after_forget_every_uses():
    cache = FecCache(cache_size=10, forget_every=3)
    cache.insert(b"a", 0.7)  # use 1
    assert cache.lookup(b"a") == 0.7  # use 2
    assert cache.lookup(b"a") == 0.7  # use 3: returned, then forgotten
    assert cache.lookup(b"a") is None

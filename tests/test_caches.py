"""The bounded cache the backends and the search keep their memos in."""

from __future__ import annotations

import gc
import pickle

import pytest

from amzc import caches
from amzc.caches import BoundedCache
from amzc.parse import parse


def test_a_full_cache_is_emptied_before_the_next_entry():
    cache: BoundedCache[int] = BoundedCache(3)
    for key in range(3):
        assert cache.put(key, key * 10) == key * 10
    assert len(cache) == 3
    cache.put(3, 30)
    assert dict(cache) == {3: 30}
    cache.put(3, 31)  # a key already present replaces its value
    assert dict(cache) == {3: 31}
    with pytest.raises(ValueError, match="limit"):
        BoundedCache(0)


def test_an_object_keyed_entry_holds_its_object_so_its_id_stays_unique():
    cache: BoundedCache[str] = BoundedCache(2)
    obj = object()
    key = id(obj)
    cache.put_object(obj, "value")
    del obj
    gc.collect()
    assert cache.get(key) == "value"
    # no object made now can take the id while the entry holds the old one
    assert all(id(object()) != key for _ in range(1000))
    cache.put_object(object(), "b")
    cache.put_object(object(), "c")  # full: emptied, the held objects released
    assert len(cache) == 1 and len(cache._held) == 1
    again: BoundedCache[int] = BoundedCache(2)
    obj = object()
    for value in range(5):  # putting one object again counts to the bound as well
        again.put_object(obj, value)
        assert len(again._held) <= 2


def test_a_cache_pickles_empty_with_its_limit():
    cache: BoundedCache[int] = BoundedCache(7)
    cache.put("k", 1)
    copy = pickle.loads(pickle.dumps(cache))
    assert isinstance(copy, BoundedCache) and copy.limit == 7 and not copy


# -- the memory budget -------------------------------------------------------------------------

@pytest.fixture
def budget():
    """Restores the process's budget after a test that changes it."""
    before = caches.budget_mb()
    yield
    caches.set_budget(before)


def test_the_shares_split_the_whole_budget():
    assert sum(caches.SHARES.values()) == pytest.approx(1.0)
    assert caches.share_bytes("kernels") == int(caches.budget_mb() * caches.MB
                                                * caches.SHARES["kernels"])


def test_a_budget_resizes_the_process_wide_caches(budget):
    import amzc.backends.llvm as llvm_backend
    from amzc.backends.llvm import encode
    from amzc.passes import dce

    caches.set_budget(128)
    big = (dce.CACHE_LIMIT, dce.BODY_LIMIT, encode._BODIES.limit,
           llvm_backend._STATE.compiled.max_bytes)
    caches.set_budget(32)
    small = (dce.CACHE_LIMIT, dce.BODY_LIMIT, encode._BODIES.limit,
             llvm_backend._STATE.compiled.max_bytes)
    for before, after in zip(big, small, strict=True):
        assert after == pytest.approx(before / 4, rel=0.01)
    assert int(0.6 * caches.share_bytes("dce")) // dce.INSTRUCTION_BYTES == dce.CACHE_LIMIT


def test_a_smaller_budget_empties_a_cache_over_it(budget):
    from amzc.passes import dce

    dce.analyze(parse("def Setup():\n  s2 = 0.5\ndef Predict():\n  s1 = s2 * s2\n"
                      "def Learn():\n  s3 = s0 - s1\n"))
    assert dce._VALUE_IDS
    generation = dce.generation
    caches.set_budget(1e-4)  # room for one entry of each
    assert not dce._VALUE_IDS and dce.generation == generation + 1


def test_a_budget_must_be_positive():
    with pytest.raises(ValueError, match="must be positive"):
        caches.set_budget(0)


def test_a_cache_sized_in_bytes_and_resized():
    cache: BoundedCache[int] = BoundedCache.sized(1000, 300)
    assert cache.limit == 3
    for k in range(3):
        cache.put(k, k)
    cache.resize(5)
    assert len(cache) == 3  # still within the bound: kept
    cache.resize(2)
    assert not cache and cache.limit == 2
    assert BoundedCache.sized(10, 300).limit == 1  # room for one entry at least


def test_a_run_sets_its_configured_budget(tmp_path, budget):
    from test_search_experiment import TINY, start

    text = TINY.replace("[run]\n", "[run]\nmemory_budget_mb = 40\n")
    start(tmp_path, text=text).run()
    assert caches.budget_mb() == 40


def test_the_budget_key_is_checked():
    from test_search_config import MINIMAL

    from amzc.errors import AmzConfigError
    from amzc.search.config import parse_config

    assert parse_config(MINIMAL).memory_budget_mb == caches.DEFAULT_BUDGET_MB
    with pytest.raises(AmzConfigError, match="memory_budget_mb"):
        parse_config("[run]\nmemory_budget_mb = 0\n" + MINIMAL)

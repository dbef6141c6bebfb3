"""The bounded cache the backends and the search keep their memos in."""

from __future__ import annotations

import gc
import pickle

import pytest

from amzc.caches import BoundedCache


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

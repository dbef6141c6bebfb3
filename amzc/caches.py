"""The one bounded cache that the backends and the search keep their memos in.

A memo (an encoded body, a fingerprint, a packed program) belongs to whoever computes it.
Most memos are keyed by an object's identity, because equal objects are common and comparing
them costs what the memo saves. Such an entry holds its object, so no other live object can
have its id: an entry found by ``id(obj)`` is ``obj``'s, with no identity check and no
"generation" to compare.

The bound is a number of entries; when it is reached the cache is emptied at once (an LRU's
bookkeeping per hit would cost more than recomputing what a clear loses)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

V = TypeVar("V")

DEFAULT_ENTRIES = 4096


class BoundedCache(dict, Generic[V]):
    """A dict of at most ``limit`` entries, emptied when full. Keys are plain values
    (:meth:`put`) or objects by identity (:meth:`put_object`, read back with
    ``cache.get(id(obj))``: a dict lookup in C, which is what the hot paths call)."""

    __slots__ = ("limit", "_held")

    def __init__(self, limit: int = DEFAULT_ENTRIES) -> None:
        super().__init__()
        if limit < 1:
            raise ValueError(f"a cache needs room for one entry, got limit={limit}")
        self.limit = limit
        # the objects whose ids are keys, alive while keyed (a list: appending is cheaper than
        # a second dict; an object put again takes another place, so it counts to the bound)
        self._held: list[Any] = []

    def put(self, key: Any, value: V) -> V:
        """``self[key] = value``, emptying the cache first when it is full; returns value."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value

    def put_object(self, obj: Any, value: V) -> V:
        """:meth:`put` under ``id(obj)``, holding ``obj`` as long as the entry lives."""
        held = self._held
        if len(held) >= self.limit:
            self.clear()
        self[id(obj)] = value
        held.append(obj)
        return value

    def clear(self) -> None:
        super().clear()
        self._held.clear()

    def __reduce__(self):  # noqa: ANN204 - a memo is never pickled with its owner's state
        return type(self), (self.limit,)

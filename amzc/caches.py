"""The bounded cache that the backends and the search keep their memos in, and the one memory
budget that sizes every cache and memo a long search fills.

A memo (an encoded body, a fingerprint, a packed program) belongs to whoever computes it.
Most memos are keyed by an object's identity, because equal objects are common and comparing
them costs what the memo saves. Such an entry holds its object, so no other live object can
have its id: an entry found by ``id(obj)`` is ``obj``'s, with no identity check and no
"generation" to compare.

A cache is sized in bytes: its share of the budget (:data:`SHARES` of ``[run]
memory_budget_mb``, :func:`set_budget`) divided by an estimate of one entry's bytes, measured
on the Figure 5 setting (8×8 matrices, 33-instruction programs), whose entries are the largest
of the shipped configs. The bound is kept as a number of entries, checked on insertion only;
when it is reached the cache is emptied at once (an LRU's bookkeeping per hit would cost more
than recomputing what a clear loses). Every cache here is a pure memo: its size changes speed
and memory, never a search's path. (The FEC cache is not one of them: which programs it holds
decides fitness, so its size stays a search parameter, ``fec.cache_size``, in entries.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

V = TypeVar("V")
F = TypeVar("F", bound=Callable[[], None])

DEFAULT_ENTRIES = 4096
MB = 1 << 20
DEFAULT_BUDGET_MB = 128.0

# The budget's split. The dead-code analysis holds the most per child (an instruction object
# with its info for every new instruction, a body with its passes for every new body); the
# compiled kernels are few but large (0.2-1 MB of machine code each for Figure 5's programs).
SHARES: dict[str, float] = {
    "dce": 0.45,  # amzc.passes.dce: value ids, instruction infos, bodies with their passes
    "memos": 0.25,  # the search's memos: fingerprints, fitness, recent programs' fingerprints
    "kernels": 0.25,  # the LLVM backend's compiled programs (their engines and machine code)
    "encoded": 0.05,  # the LLVM backend's encoded bodies and recently run programs
}

_budget = int(DEFAULT_BUDGET_MB * MB)
_listeners: list[Callable[[], None]] = []


def budget_mb() -> float:
    """The budget in force, in MB."""
    return _budget / MB


def share_bytes(name: str) -> int:
    """The bytes of the budget that the caches of share ``name`` may hold together."""
    return int(_budget * SHARES[name])


def entries(nbytes: float, entry_bytes: float) -> int:
    """How many entries of about ``entry_bytes`` fit in ``nbytes`` (at least one)."""
    return max(1, int(nbytes // max(entry_bytes, 1)))


def set_budget(mb: float) -> None:
    """Make ``mb`` the budget of every cache: the process-wide ones are resized (emptied if
    over their new size); memos made from now on take their sizes from it."""
    global _budget
    if not mb > 0:
        raise ValueError(f"a memory budget must be positive, got {mb}")
    _budget = int(mb * MB)
    for resize in _listeners:
        resize()


def on_budget(resize: F) -> F:
    """Register ``resize`` (a process-wide cache's sizing) to run now and on every
    :func:`set_budget`; usable as a decorator."""
    _listeners.append(resize)
    resize()
    return resize


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

    @classmethod
    def sized(cls, nbytes: float, entry_bytes: float) -> BoundedCache:
        """A cache holding about ``nbytes`` in entries of about ``entry_bytes``."""
        return cls(entries(nbytes, entry_bytes))

    def resize(self, limit: int) -> None:
        """A new bound; the entries go if they are more than it allows."""
        self.limit = max(1, limit)
        if len(self) > self.limit or len(self._held) > self.limit:
            self.clear()

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

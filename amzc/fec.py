"""Functional equivalence checking (docs/evolution.md): the one definition of a fingerprint and
of the cache with forgetting. Backends compute fingerprints natively and may keep the cache in
native memory (amzc/backends/llvm/fec_table.py), so this module sits below them: each native
form is tested against the Python one here.

Per task, a candidate's fingerprint is a 64-bit hash (as the reference's) of the exact bits
(float64) of the absolute errors of a short run (the first ``num_train`` training and
``num_valid`` validation examples, random ops seeded with the fixed :data:`FEC_SEED`) and of
the task. (The reference also hashes the number of training examples the real evaluation
would use; a cache here belongs to one evaluator, where that number is fixed.) A hit returns
the fitness stored for that fingerprint; an entry is forgotten after ``forget_every`` uses so
that a noisy sample cannot persist, and the least recently used entry goes when the cache is
full."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from amzc.evaluate import RunOutput
from amzc.rng import derive_key

FEC_SEED = 235732282  # the reference's fixed fingerprint seed; any constant would do


HASH_MULTIPLIER = 0x517CC1B727220A95  # an odd 64-bit constant; codegen.py hashes with it too
_MULTIPLIER = np.uint64(HASH_MULTIPLIER)


def task_keys(task_ids: np.ndarray, seed: int = FEC_SEED) -> np.ndarray:
    """Where each task's fingerprint hash starts: its random-stream key for the run's seed
    (amzc/rng.py), so equal errors on different tasks give different fingerprints."""
    return np.array([derive_key(seed, int(t)) for t in task_ids], dtype=np.uint64)


def _mix(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One step: (rotl(h, 5) ^ x) · K mod 2^64, a bijection of x for a given h and of h for a
    given x."""
    return (((h << np.uint64(5)) | (h >> np.uint64(59))) ^ x) * _MULTIPLIER


def fingerprints(out: RunOutput, keys: np.ndarray) -> list[int]:
    """One 64-bit fingerprint per task of a recorded (``record=True``) run, as the LLVM
    backend computes it natively: from the task's key (:func:`task_keys`), mix in the bits of
    every recorded training error, then of every validation error (errors past an abort do not
    count), then the two counts.

    Two runs with the same errors get the same fingerprint. Different errors collide only by
    chance: a sequence differing in one error never does (each step is a bijection), and
    otherwise about once in 2^64, as with the reference's 64-bit hash."""
    assert out.train_errors is not None and out.valid_errors is not None
    assert out.n_train_errors is not None and out.n_valid_errors is not None
    with np.errstate(over="ignore"):
        h = np.array(keys, dtype=np.uint64)
        for errors, counts in ((out.train_errors, out.n_train_errors),
                               (out.valid_errors, out.n_valid_errors)):
            bits = np.ascontiguousarray(errors, dtype=np.float64).view(np.uint64)
            counts = np.asarray(counts)
            for t in range(bits.shape[1]):
                h = np.where(t < counts, _mix(h, bits[:, t]), h)
        for counts in (out.n_train_errors, out.n_valid_errors):
            h = _mix(h, np.asarray(counts).astype(np.uint64))
    return h.tolist()


class FecCache:
    """LRU map fingerprint → (fitness, uses). Its whole state pickles for checkpoints."""

    def __init__(self, cache_size: int = 100_000, forget_every: int = 100) -> None:
        self.cache_size = cache_size
        self.forget_every = forget_every
        self.entries: OrderedDict[int, list] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup_tasks(self, keys: list[int]) -> tuple[list[float | None], list[int]]:
        """The fitness stored for each key (None for a miss), and the positions of the
        misses. A hit counts a use of its entry, which is forgotten at ``forget_every``
        uses (so the next identical fingerprint is evaluated afresh) and otherwise becomes
        the most recently used. The one written form of the lookup: the native table
        (amzc/backends/llvm/fec_table.py ``amz_fec_lookup``) is tested against it."""
        entries, forget = self.entries, self.forget_every
        get, to_end = entries.get, entries.move_to_end
        result: list[float | None] = []
        append = result.append
        for key in keys:
            entry = get(key)
            if entry is None:
                append(None)
                continue
            uses = entry[1] + 1
            if forget and uses >= forget:
                del entries[key]
            else:
                entry[1] = uses
                to_end(key)
            append(entry[0])
        if None in result:
            missing = [i for i, f in enumerate(result) if f is None]
            self.misses += len(missing)
            self.hits += len(keys) - len(missing)
            return result, missing
        self.hits += len(keys)
        return result, []

    def lookup(self, key: int) -> float | None:
        return self.lookup_tasks([key])[0][0]

    def insert(self, key: int, fitness: float) -> None:
        self.entries[key] = [fitness, 1]
        self.entries.move_to_end(key)
        while len(self.entries) > self.cache_size:
            self.entries.popitem(last=False)

    def insert_tasks(self, keys: Sequence[int], fitness: Sequence[float | None],
                     which: Sequence[int]) -> None:
        """insert(keys[i], fitness[i]) for i in ``which``, in order."""
        for i in which:
            self.insert(keys[i], fitness[i])  # type: ignore[arg-type]

    def items(self) -> list[tuple[int, float, int]]:
        """(key, fitness, uses) of every entry, least recently used first."""
        return [(key, entry[0], entry[1]) for key, entry in self.entries.items()]

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        # one form for every implementation (amzc/backends/llvm/fec_table.py's too)
        return restore_cache, (self.cache_size, self.forget_every, self.hits, self.misses,
                               self.items())

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __len__(self) -> int:
        return len(self.entries)


def restore_cache(cache_size: int, forget_every: int, hits: int, misses: int,
                  items: list[tuple[int, float, int]]) -> FecCache:
    """A FecCache from its pickled form; a search evaluator converts it to the table its
    backend prefers."""
    cache = FecCache(cache_size, forget_every)
    cache.entries = OrderedDict((key, [fitness, uses]) for key, fitness, uses in items)
    cache.hits, cache.misses = hits, misses
    return cache

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
full.

With ``average`` (amzc's ``fec.average``; the reference has no such option) an entry that
reaches its uses is not dropped but sampled again: the lookup reports a miss, the caller
evaluates the task afresh, and the insert stores the mean of the entry's samples, which the
caller then takes as the task's fitness. Each sample serves ``forget_every`` times as many
uses as the entry has samples (100, 200, 300, ... uses at the default), so a
program whose random fills make its fitness a sample is scored by the mean of more and more
samples the more it is reused, at a cost that shrinks as it is: the first sample no longer
decides how a popular family of clones ranks. A program without random fills scores the same
at every sample, and so does its mean."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import MutableSequence, Sequence

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
    """LRU map fingerprint → (fitness, uses, samples). Its whole state pickles for
    checkpoints."""

    def __init__(self, cache_size: int = 100_000, forget_every: int = 100,
                 average: bool = False) -> None:
        self.cache_size = cache_size
        self.forget_every = forget_every
        self.average = average
        self.entries: OrderedDict[int, list] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup_tasks(self, keys: list[int]) -> tuple[list[float | None], list[int]]:
        """The fitness stored for each key (None for a miss), and the positions of the
        misses. A hit counts a use of its entry, which is forgotten at ``forget_every``
        uses (so the next identical fingerprint is evaluated afresh) and otherwise becomes
        the most recently used; with ``average``, an entry whose sample has served
        ``forget_every`` times its samples in uses stays, unchanged, and the lookup is a miss. The
        one written form of the lookup: the native table (amzc/backends/llvm/fec_table.py
        ``amz_fec_lookup``) is tested against it."""
        entries, forget, average = self.entries, self.forget_every, self.average
        get, to_end = entries.get, entries.move_to_end
        result: list[float | None] = []
        append = result.append
        for key in keys:
            entry = get(key)
            if entry is None:
                append(None)
                continue
            uses = entry[1] + 1
            # with average a sample serves forget_every · samples uses (its insert's is the
            # first); without, an entry is dropped at its forget_every-th use, after serving it
            if forget and uses >= forget * entry[2] + average:
                if average:  # due for another sample: the caller evaluates and inserts it
                    append(None)
                    continue
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

    def insert(self, key: int, fitness: float) -> float:
        """Store ``fitness`` for ``key`` with one use; the fitness the entry now holds: the
        mean of its samples with ``average`` and a key already present, else ``fitness``."""
        entry = self.entries.get(key)
        if entry is not None and self.average:
            samples = entry[2] + 1
            entry[0] += (fitness - entry[0]) / samples  # equal samples keep their exact value
            entry[1], entry[2] = 1, samples
            fitness = entry[0]
        else:
            self.entries[key] = [fitness, 1, 1]
        self.entries.move_to_end(key)
        while len(self.entries) > self.cache_size:
            self.entries.popitem(last=False)
        return fitness

    def insert_tasks(self, keys: Sequence[int], fitness: MutableSequence[float | None],
                     which: Sequence[int]) -> None:
        """insert(keys[i], fitness[i]) for i in ``which``, in order; each fitness[i] becomes
        what its entry holds (with ``average``, the mean of the entry's samples)."""
        for i in which:
            fitness[i] = self.insert(keys[i], fitness[i])  # type: ignore[arg-type]

    def items(self) -> list[tuple[int, float, int, int]]:
        """(key, fitness, uses, samples) of every entry, least recently used first."""
        return [(key, *entry) for key, entry in self.entries.items()]

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        # one form for every implementation (amzc/backends/llvm/fec_table.py's too)
        return restore_cache, (self.cache_size, self.forget_every, self.hits, self.misses,
                               self.items(), self.average)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __len__(self) -> int:
        return len(self.entries)


def restore_cache(cache_size: int, forget_every: int, hits: int, misses: int,
                  items: list[tuple], average: bool = False) -> FecCache:
    """A FecCache from its pickled form; a search evaluator converts it to the table its
    backend prefers. (Checkpoints before ``average`` hold (key, fitness, uses) entries: one
    sample each.)"""
    cache = FecCache(cache_size, forget_every, average)
    cache.entries = OrderedDict((key, [fitness, uses, *(rest or (1,))])
                                for key, fitness, uses, *rest in items)
    cache.hits, cache.misses = hits, misses
    return cache

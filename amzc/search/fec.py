"""Functional equivalence checking (REFERENCE.md §6).

Per task, a candidate's fingerprint is the exact bytes (float64) of the absolute errors of a
short run (the first ``num_train`` training and ``num_valid`` validation examples, random ops
seeded with the fixed :data:`FEC_SEED`), the task id and the number of training examples the
real evaluation would use. A hit returns the fitness stored for that fingerprint and task; an
entry is forgotten after ``forget_every`` uses so that a noisy sample cannot persist, and the
least recently used entry goes when the cache is full."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from amzc.evaluate import RunOutput

FEC_SEED = 235732282  # the reference's fixed fingerprint seed; any constant would do


def fingerprints(out: RunOutput, task_ids: np.ndarray, train_examples: int) -> list[bytes]:
    """One 16-byte fingerprint per task of a recorded (``record=True``) run."""
    assert out.train_errors is not None and out.valid_errors is not None
    assert out.n_train_errors is not None and out.n_valid_errors is not None
    n_train = np.asarray(out.n_train_errors, dtype=np.int64)
    n_valid = np.asarray(out.n_valid_errors, dtype=np.int64)
    train = np.asarray(out.train_errors, dtype=np.float64)
    valid = np.asarray(out.valid_errors, dtype=np.float64)
    # one row of bytes per task: the counts, the recorded errors (zero past the counts, so
    # that whatever a backend leaves there cannot matter), the task id, the example budget
    train = np.where(np.arange(train.shape[1]) < n_train[:, None], train, 0.0)
    valid = np.where(np.arange(valid.shape[1]) < n_valid[:, None], valid, 0.0)
    k = len(n_train)
    ints = np.stack([n_train, n_valid, np.asarray(task_ids, dtype=np.int64),
                     np.full(k, train_examples, dtype=np.int64)], axis=1)
    rows = np.concatenate([ints.view(np.float64), train, valid], axis=1)
    blake2b = hashlib.blake2b
    return [blake2b(row.tobytes(), digest_size=16).digest() for row in rows]


class FecCache:
    """LRU map fingerprint → (fitness, uses). Its whole state pickles for checkpoints."""

    def __init__(self, cache_size: int = 100_000, forget_every: int = 100) -> None:
        self.cache_size = cache_size
        self.forget_every = forget_every
        self.entries: OrderedDict[bytes, list] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def lookup(self, key: bytes) -> float | None:
        entry = self.entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        entry[1] += 1
        if self.forget_every and entry[1] >= self.forget_every:
            del self.entries[key]  # the next identical fingerprint is evaluated afresh
        else:
            self.entries.move_to_end(key)
        return entry[0]

    def insert(self, key: bytes, fitness: float) -> None:
        self.entries[key] = [fitness, 1]
        self.entries.move_to_end(key)
        while len(self.entries) > self.cache_size:
            self.entries.popitem(last=False)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __len__(self) -> int:
        return len(self.entries)

"""Functional equivalence checking (REFERENCE.md §6).

Per task, a candidate's fingerprint is the exact bytes (float64) of the absolute errors of a
short run (the first ``num_train`` training and ``num_valid`` validation examples, random ops
seeded with the fixed :data:`FEC_SEED`), the task id and the number of training examples the
real evaluation would use. A hit returns the fitness stored for that fingerprint and task; an
entry is forgotten after ``forget_every`` uses so that a noisy sample cannot persist, and the
least recently used entry goes when the cache is full."""

from __future__ import annotations

import hashlib
import struct
from collections import OrderedDict

import numpy as np

from amzc.evaluate import RunOutput

FEC_SEED = 235732282  # the reference's fixed fingerprint seed; any constant would do


def task_suffixes(task_ids: np.ndarray, train_examples: int) -> list[bytes]:
    """What each task adds to its fingerprints: its id and the example budget."""
    return [struct.pack("<qq", int(t), int(train_examples)) for t in task_ids]


def fingerprints(out: RunOutput, suffixes: list[bytes]) -> list[bytes]:
    """One 16-byte fingerprint per task of a recorded (``record=True``) run: a BLAKE2b hash of
    the recorded counts, the exact bytes of the recorded errors and the task's suffix."""
    assert out.train_errors is not None and out.valid_errors is not None
    assert out.n_train_errors is not None and out.n_valid_errors is not None
    train = np.ascontiguousarray(out.train_errors, dtype=np.float64)
    valid = np.ascontiguousarray(out.valid_errors, dtype=np.float64)
    train_bytes, valid_bytes = train.tobytes(), valid.tobytes()
    train_row, valid_row = 8 * train.shape[1], 8 * valid.shape[1]
    blake2b, pack = hashlib.blake2b, struct.pack
    result = []
    for k, (n_train, n_valid) in enumerate(zip(out.n_train_errors.tolist(),
                                               out.n_valid_errors.tolist(), strict=True)):
        t0, v0 = k * train_row, k * valid_row
        h = blake2b(pack("<ii", n_train, n_valid), digest_size=16)
        h.update(train_bytes[t0:t0 + 8 * n_train])  # errors past an abort do not count
        h.update(valid_bytes[v0:v0 + 8 * n_valid])
        h.update(suffixes[k])
        result.append(h.digest())
    return result


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

    def lookup_all(self, keys: list[bytes]) -> list[float | None]:
        """:meth:`lookup` of every key, in order."""
        entries, forget = self.entries, self.forget_every
        result: list[float | None] = []
        for key in keys:
            entry = entries.get(key)
            if entry is None:
                result.append(None)
                continue
            entry[1] += 1
            if forget and entry[1] >= forget:
                del entries[key]
            else:
                entries.move_to_end(key)
            result.append(entry[0])
        hits = sum(f is not None for f in result)
        self.hits += hits
        self.misses += len(keys) - hits
        return result

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

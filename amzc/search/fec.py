"""Functional equivalence checking (REFERENCE.md §6).

Per task, a candidate's fingerprint is the exact bytes (float64) of the absolute errors of a
short run (the first ``num_train`` training and ``num_valid`` validation examples, random ops
seeded with the fixed :data:`FEC_SEED`), the task id and the number of training examples the
real evaluation would use. A hit returns the fitness stored for that fingerprint and task; an
entry is forgotten after ``forget_every`` uses so that a noisy sample cannot persist, and the
least recently used entry goes when the cache is full."""

from __future__ import annotations

import struct
from collections import OrderedDict

import numpy as np

from amzc.evaluate import RunOutput

FEC_SEED = 235732282  # the reference's fixed fingerprint seed; any constant would do


def task_suffixes(task_ids: np.ndarray, train_examples: int) -> list[bytes]:
    """What each task adds to its fingerprints: its id and the example budget."""
    return [struct.pack("<qq", int(t), int(train_examples)) for t in task_ids]


def recorded_rows(out: RunOutput) -> np.ndarray:
    """A recorded (``record=True``) run as one row per task: the two counts (int64 bits), the
    recorded training errors, then the validation errors, each zero past its count (errors
    past an abort do not count). Two runs have equal rows exactly when they recorded the
    same numbers of errors with the same bits."""
    assert out.train_errors is not None and out.valid_errors is not None
    assert out.n_train_errors is not None and out.n_valid_errors is not None
    train = np.asarray(out.train_errors, dtype=np.float64)
    valid = np.asarray(out.valid_errors, dtype=np.float64)
    n_train = np.asarray(out.n_train_errors, dtype=np.int64)
    n_valid = np.asarray(out.n_valid_errors, dtype=np.int64)
    k, t = train.shape
    rows = np.zeros((k, 2 + t + valid.shape[1]), dtype="<f8")
    counts = rows.view("<i8")
    counts[:, 0], counts[:, 1] = n_train, n_valid
    rows[:, 2:2 + t] = np.where(np.arange(t) < n_train[:, None], train, 0.0)
    rows[:, 2 + t:] = np.where(np.arange(valid.shape[1]) < n_valid[:, None], valid, 0.0)
    return rows


class Fingerprinter:
    """Per-task fingerprints from recorded rows (:func:`recorded_rows`, or a backend's own
    ``fec_rows``): the exact bytes of the task's row followed by its suffix (task id and
    example budget, :func:`task_suffixes`). No hash: the bytes themselves are the key, so
    equal keys mean equal errors, and building them costs one copy and a slice per task."""

    def __init__(self, task_ids: np.ndarray, train_examples: int) -> None:
        self.suffixes = np.array([[int(t), int(train_examples)] for t in task_ids],
                                 dtype="<i8").reshape(-1, 2)
        self._buffer: np.ndarray | None = None
        self._bounds: list[tuple[int, int]] = []

    def __call__(self, rows: np.ndarray) -> list[bytes]:
        """Fingerprints of the first K rows (a backend may pad rows beyond the tasks)."""
        k, width = len(self.suffixes), rows.shape[1]
        buffer = self._buffer
        if buffer is None or buffer.shape[1] != width + 2:
            buffer = self._buffer = np.empty((k, width + 2), dtype="<f8")
            buffer.view("<i8")[:, width:] = self.suffixes
            size = 8 * (width + 2)
            self._bounds = [(i * size, (i + 1) * size) for i in range(k)]
        buffer[:, :width] = rows[:k]
        data = buffer.tobytes()
        return [data[a:b] for a, b in self._bounds]


def fingerprints(out: RunOutput, suffixes: list[bytes]) -> list[bytes]:
    """One fingerprint per task of a recorded run: its row of :func:`recorded_rows` and its
    suffix, as bytes (what :class:`Fingerprinter` builds)."""
    rows = recorded_rows(out)
    data, size = rows.tobytes(), 8 * rows.shape[1]
    return [data[k * size:(k + 1) * size] + suffix for k, suffix in enumerate(suffixes)]


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

    def lookup_tasks(self, keys: list[bytes]) -> tuple[list[float | None], list[int]]:
        """:meth:`lookup_all`, and the positions of the misses."""
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

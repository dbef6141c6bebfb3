"""What the generated code is specialised for, and the data it reads.

The native code runs W tasks at once in the lanes of one SIMD value (``<W x double>``): every
memory slot (one scalar, one vector entry, one matrix entry) of W tasks is one such value, so a
program's instructions execute once per *group* of W tasks instead of once per task, and the
dependency chains of different tasks overlap. Tasks are padded to a multiple of W; pad lanes
start "finished" and are never written back (docs/llvm.md, "Lanes").

Memory slots are numbered scalars first, then vector entries, then matrix entries (row-major):
``slot(s_a) = a``, ``slot(v_a[i]) = S + a·F + i``, ``slot(m_a[i, j]) = S + V·F + a·F² + i·F + j``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from amzc.errors import AmzConfigError
from amzc.ops import MATRIX, SCALAR, VECTOR
from amzc.rng import MASK64
from amzc.syntax import MemoryConfig
from amzc.tasks.taskset import TaskSet

MAX_LANES = 16  # two AVX-512 registers per slot
LANE_WIDTHS = (2, 4, 8, MAX_LANES)
# What a group costs beyond its lanes' work (the interpreter's dispatch and the loop around
# each instruction run once per group), in lanes' work: about 1 on Figure 5's shape (F = 8,
# matrix ops), about 3 on the demo's (F = 4, scalar and vector ops), by bench/lanes.py; 2
# keeps the demo's 10 tasks at 16 lanes (a tie with 4, going to the wider).
GROUP_COST_LANES = 2
# Generated code keeps a task group's memory in a stack array up to this size (where LLVM can
# promote it to registers), and beyond it in a buffer the caller allocates: a thread's stack
# is 8 MB on Linux (512 KB for secondary threads on macOS), and a larger frame crashes.
STACK_MEMORY_BYTES = 256 * 1024


def lanes_for(num_tasks: int) -> int:
    """Lanes per group: the width whose groups, pad lanes included, cost least, ties going
    to the wider. Up to 16 tasks that is the next power of two ≥ the task count (at least
    2); beyond, a narrower width can waste fewer pad lanes: 20 tasks run as three groups of
    8 (24 lanes) rather than two of 16 (32 lanes), a quarter less interpreted time on
    Figure 5's programs (bench/results/lanes.json). Every width gives bit-identical results."""
    k = max(num_tasks, 1)
    return min(LANE_WIDTHS, key=lambda w: (-(-k // w) * (w + GROUP_COST_LANES), -w))


@dataclass(frozen=True)
class Shape:
    """Everything generated code is specialised on, besides the program itself."""

    features: int
    scalars: int
    vectors: int
    matrices: int
    lanes: int
    accuracy: bool  # eval type: ACCURACY (sigmoid in training, 0/1 loss) or RMS_ERROR

    @classmethod
    def of(cls, memory: MemoryConfig, tasks: TaskSet, lanes: int | None = None) -> Shape:
        return cls.build(memory, tasks.features, tasks.num_tasks, tasks.eval_type, lanes)

    @classmethod
    def build(cls, memory: MemoryConfig, features: int, num_tasks: int, eval_type: str,
              lanes: int | None = None) -> Shape:
        if memory.scalars < 2 or memory.vectors < 1:
            raise AmzConfigError("memory needs at least 2 scalars (s0 label, s1 prediction) and "
                                 f"1 vector (v0), got {memory}")
        if features < 1:
            raise AmzConfigError(f"the feature size must be at least 1, got {features}")
        return cls(features, memory.scalars, memory.vectors, memory.matrices,
                   lanes or lanes_for(num_tasks), eval_type == "accuracy")

    @property
    def slots(self) -> int:
        f = self.features
        return self.scalars + self.vectors * f + self.matrices * f * f

    @property
    def memory_bytes(self) -> int:
        """One task group's memory: every slot in W lanes of doubles."""
        return self.slots * self.lanes * 8

    @property
    def memory_on_stack(self) -> bool:
        return self.memory_bytes <= STACK_MEMORY_BYTES

    @property
    def scratch_slots(self) -> int:
        """Room for the largest result an instruction computes in full before storing it (a
        matrix with matrices in memory, else a vector): lowering.py compute_then_store."""
        return self.features ** 2 if self.matrices else self.features

    def slot_name(self, slot: int) -> str:
        """The address a slot belongs to, as a reader writes it: ``s3``, ``v1_2`` (entry 2 of
        v1), ``m0_1_2``."""
        f, vectors = self.features, self.scalars + self.vectors * self.features
        if slot < self.scalars:
            return f"s{slot}"
        if slot < vectors:
            a, i = divmod(slot - self.scalars, f)
            return f"v{a}_{i}"
        a, ij = divmod(slot - vectors, f * f)
        return f"m{a}_{ij // f}_{ij % f}"

    def base(self, kind: str, address: int) -> int:
        """The slot of the first entry of an operand."""
        f = self.features
        if kind == SCALAR:
            return address
        if kind == VECTOR:
            return self.scalars + address * f
        return self.scalars + self.vectors * f + address * f * f

    def size(self, kind: str) -> int:
        return {SCALAR: 1, VECTOR: self.features, MATRIX: self.features ** 2}[kind]

    def tag(self) -> str:
        kind = "acc" if self.accuracy else "rms"
        return (f"F{self.features}_S{self.scalars}_V{self.vectors}_M{self.matrices}"
                f"_W{self.lanes}_{kind}")


class LaneData:
    """A task set rearranged with the task axis innermost and padded to whole groups:
    ``train_x[g, e, t, i, l]`` is feature i of the t-th example that task g·W + l visits in
    epoch e. Built once per (task set, W) and kept while the task set lives."""

    def __init__(self, tasks: TaskSet, lanes: int) -> None:
        k, w = tasks.num_tasks, lanes
        self.num_tasks, self.lanes = k, w
        self.groups = -(-k // w)
        pad = self.groups * w - k
        xs, ys = [], []
        for e in range(tasks.epochs):
            x, y = tasks.epoch_train_data(e)
            xs.append(x)
            ys.append(y)
        train_x = np.stack(xs, axis=1)  # (K, E, N, F)
        train_y = np.stack(ys, axis=1)  # (K, E, N)
        self.train_x = _lanes_last(train_x, pad, w)  # (G, E, N, F, W)
        self.train_y = _lanes_last(train_y, pad, w)  # (G, E, N, W)
        self.valid_x = _lanes_last(tasks.valid_x, pad, w)  # (G, Nv, F, W)
        self.valid_y = _lanes_last(tasks.valid_y, pad, w)  # (G, Nv, W)
        # the tasks' ids per lane (pad lanes: 0), which the generated code mixes with the
        # seed's key into each lane's random-stream key, derive_key(seed, task_id)
        ids = np.zeros(self.groups * self.lanes, dtype=np.uint64)
        ids[: self.num_tasks] = [int(t) & MASK64 for t in tasks.task_ids]
        self.task_id_lanes = ids.reshape(self.groups, self.lanes)


def _lanes_last(a: np.ndarray, pad: int, w: int) -> np.ndarray:
    """(K, ...) → (G, ..., W), zero-padded to G·W tasks."""
    a = np.asarray(a, dtype=np.float64)
    if pad:
        a = np.concatenate([a, np.zeros((pad, *a.shape[1:]))])
    g = a.shape[0] // w
    a = a.reshape(g, w, *a.shape[1:])
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


_LANE_DATA: weakref.WeakKeyDictionary[TaskSet, dict[int, LaneData]] = weakref.WeakKeyDictionary()


def lane_data(tasks: TaskSet, lanes: int) -> LaneData:
    per_set = _LANE_DATA.get(tasks)
    if per_set is None:
        per_set = _LANE_DATA[tasks] = {}
    data = per_set.get(lanes)
    if data is None:
        data = per_set[lanes] = LaneData(tasks, lanes)
    return data

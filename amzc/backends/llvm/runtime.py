"""Calling generated code: the parameter block, output buffers and the conversion of lane-major
results back to the RunOutput contract of amzc/evaluate.py."""

from __future__ import annotations

import numpy as np

from amzc.errors import AmzConfigError
from amzc.evaluate import FEC_RECORD_LIMIT, EvalOptions, RunOutput
from amzc.rng import derive_key
from amzc.tasks.taskset import TaskSet

from .codegen import PARAMS, P
from .jit import Kernel
from .layout import LaneData, Shape, lane_data
from .lowering import u64

_RECORD = P["record"]
_SEED_KEY = P["seed_key"]


def seed_key(seed: int) -> int:
    """``derive_key(seed)`` as the signed 64-bit value the parameter block holds: the
    generated code mixes each lane's task id into it (``derive_key(seed, task id)``)."""
    return u64(derive_key(seed))


class Call:
    """The fixed part of the parameter block for one (shape, task set, options); reused by
    every evaluation with the same arguments (outputs included)."""

    def __init__(self, shape: Shape, tasks: TaskSet, options: EvalOptions) -> None:
        self.shape = shape
        self.data: LaneData = lane_data(tasks, shape.lanes)
        d = self.data
        self.num_tasks = tasks.num_tasks
        n, nv = tasks.num_train, tasks.num_valid
        total = n * tasks.epochs
        if options.max_train_steps is not None:
            total = max(0, min(total, options.max_train_steps))
        self.valid_steps = nv if options.max_valid_steps is None else max(
            0, min(nv, options.max_valid_steps))
        self.total_steps = total
        self.record_steps = min(total, n, FEC_RECORD_LIMIT)
        self.num_valid = nv
        self.seed = options.seed
        p = np.zeros(len(PARAMS), dtype=np.int64)
        for name, array in (("train_x", d.train_x), ("train_y", d.train_y),
                            ("valid_x", d.valid_x), ("valid_y", d.valid_y),
                            ("task_ids", d.task_id_lanes)):
            p[P[name]] = array.ctypes.data
        p[_SEED_KEY] = seed_key(options.seed)
        p[P["num_tasks"]] = self.num_tasks
        p[P["groups"]] = d.groups
        p[P["num_train"]] = n
        p[P["epochs"]] = tasks.epochs
        p[P["total_steps"]] = total
        p[P["num_valid"]] = nv
        p[P["valid_steps"]] = self.valid_steps
        p[P["max_abs_error"]] = np.float64(options.max_abs_error).view(np.int64)
        p[P["record_steps"]] = self.record_steps
        # outputs live as long as the Call, so the block never points at freed memory; every
        # evaluation copies its results out
        g, w = d.groups, shape.lanes
        try:
            self.fitness_out = np.zeros((g, w))
            self.memory_out = np.zeros((g, shape.slots, w))
            self.saved = np.zeros((shape.slots, w))
            # the working memory of a group, unless the generated code keeps it on its stack
            self.memory = np.zeros((0 if shape.memory_on_stack else shape.slots, w))
            self.scratch = np.zeros((shape.scratch_slots, w))
            self.train_errors = np.zeros((g, self.record_steps, w))
            self.valid_errors = np.zeros((g, nv, w))
            self.counts = np.zeros((2, g, w), dtype=np.int64)
            self.hashes = np.zeros((g, w), dtype=np.uint64)
        except MemoryError:
            need = 8 * w * (g * (shape.slots + 1 + self.record_steps + nv + 3)
                            + 2 * shape.slots + shape.scratch_slots)
            raise AmzConfigError(
                f"not enough memory: the LLVM backend needs {need / 2**20:,.0f} MiB for "
                f"{self.num_tasks} tasks with memory {shape.scalars},{shape.vectors},"
                f"{shape.matrices} at F={shape.features}") from None
        for name, array in (("fitness_out", self.fitness_out), ("memory_out", self.memory_out),
                            ("saved", self.saved), ("memory", self.memory),
                            ("scratch", self.scratch),
                            ("train_errors", self.train_errors),
                            ("valid_errors", self.valid_errors),
                            ("train_counts", self.counts[0]), ("valid_counts", self.counts[1]),
                            ("record_hashes", self.hashes)):
            p[P[name]] = array.ctypes.data
        self.params = p
        self.address = p.ctypes.data
        self.fitness_view = self.fitness_out.reshape(-1)[: self.num_tasks]  # per task
        self.hashes_view = self.hashes.reshape(-1)[: self.num_tasks]
        self.hashes_address = self.hashes.ctypes.data  # the tasks' hashes start there

    def use_seed(self, seed: int) -> None:
        """Key the random streams of the next calls by ``seed`` (the rest of the block stays)."""
        if seed != self.seed:
            self.seed = seed
            self.params[_SEED_KEY] = seed_key(seed)

    def execute(self, kernel: Kernel, code: bytes | None, record: bool = False) -> None:
        """Run the kernel; results stay in the output buffers. A recorded run leaves the
        error buffers' earlier contents where a lane stopped early: :meth:`clear_records`
        first when they are to be read (the fingerprint hashes never depend on them)."""
        self.params[_RECORD] = record
        kernel.run(self.address, code)

    def clear_records(self) -> None:
        self.train_errors.fill(0.0)
        self.valid_errors.fill(0.0)

    def record_hashes(self) -> list[int]:
        """The last recorded evaluation's fingerprint of each task (amzc/fec.py
        ``fingerprints``, computed natively)."""
        return self.hashes_view.tolist()

    def output(self, record: bool = False) -> RunOutput:
        """The last evaluation's results as a RunOutput (copies)."""
        k = self.num_tasks
        out = LaneRunOutput(self.fitness_view.copy(), self.shape, self.memory_out.copy(), k)
        if record:
            out.train_errors = _tasks_first(self.train_errors, k)
            out.valid_errors = _tasks_first(self.valid_errors, k)
            out.n_train_errors = self.counts[0].reshape(-1)[:k].copy()
            out.n_valid_errors = self.counts[1].reshape(-1)[:k].copy()
        return out


def split_memory(shape: Shape, memory: np.ndarray) -> tuple[np.ndarray, ...]:
    """Scalars, vectors and matrices from (K, slots) memory (slot order: layout.py)."""
    k, f = memory.shape[0], shape.features
    s_end = shape.scalars
    v_end = s_end + shape.vectors * f
    return (memory[:, :s_end], memory[:, s_end:v_end].reshape(k, shape.vectors, f),
            memory[:, v_end:].reshape(k, shape.matrices, f, f))


def _memory_field(index: int, doc: str) -> property:
    def get(self: LaneRunOutput) -> np.ndarray:
        if self._memory is None:
            self._memory = list(split_memory(self._shape, _tasks_first(self._lanes, self._k)))
        return self._memory[index]

    def set(self: LaneRunOutput, value: np.ndarray) -> None:
        get(self)
        self._memory[index] = value

    return property(get, set, doc=doc)


class LaneRunOutput(RunOutput):
    """A RunOutput that keeps the final memory as the native code wrote it (lanes last) and
    reorders it by task on first access: the search mostly reads the fitness alone."""

    def __init__(self, fitness: np.ndarray, shape: Shape, lanes_memory: np.ndarray,
                 num_tasks: int) -> None:
        self.fitness = fitness
        self.train_errors = self.valid_errors = None
        self.n_train_errors = self.n_valid_errors = None
        self._shape, self._lanes, self._k = shape, lanes_memory, num_tasks
        self._memory: list[np.ndarray] | None = None

    scalars = _memory_field(0, "(K, S)")
    vectors = _memory_field(1, "(K, V, F)")
    matrices = _memory_field(2, "(K, M, F, F)")


def _tasks_first(lane_major: np.ndarray, k: int) -> np.ndarray:
    """(G, T, W) → (K, T)."""
    g, t, w = lane_major.shape
    return np.ascontiguousarray(lane_major.transpose(0, 2, 1).reshape(g * w, t)[:k])

"""Calling generated code: the parameter block, output buffers and the conversion of lane-major
results back to the RunOutput contract of amzc/evaluate.py."""

from __future__ import annotations

import numpy as np

from amzc.evaluate import FEC_RECORD_LIMIT, EvalOptions, RunOutput
from amzc.tasks.taskset import TaskSet

from .codegen import PARAMS, P
from .jit import Kernel
from .layout import LaneData, Shape, lane_data


class Call:
    """The fixed part of the parameter block for one (shape, task set, options); reused by
    every evaluation with the same arguments, so a call only sets its output pointers."""

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
        self.keys = d.keys(options.seed)
        p = np.zeros(len(PARAMS), dtype=np.int64)
        for name, array in (("train_x", d.train_x), ("train_y", d.train_y),
                            ("valid_x", d.valid_x), ("valid_y", d.valid_y), ("keys", self.keys)):
            p[P[name]] = array.ctypes.data
        p[P["num_tasks"]] = self.num_tasks
        p[P["groups"]] = d.groups
        p[P["num_train"]] = n
        p[P["epochs"]] = tasks.epochs
        p[P["total_steps"]] = total
        p[P["num_valid"]] = nv
        p[P["valid_steps"]] = self.valid_steps
        p[P["max_abs_error"]] = np.float64(options.max_abs_error).view(np.int64)
        p[P["record_steps"]] = self.record_steps
        self.params = p
        self.address = p.ctypes.data

    def run(self, kernel: Kernel, code: bytes | None, record: bool = False) -> RunOutput:
        shape, k, p = self.shape, self.num_tasks, self.params
        g, w = self.data.groups, shape.lanes
        fitness = np.empty((g, w))
        memory = np.empty((g, shape.slots, w))
        p[P["fitness_out"]] = fitness.ctypes.data
        p[P["memory_out"]] = memory.ctypes.data
        if record:
            train_errors = np.zeros((g, self.record_steps, w))
            valid_errors = np.zeros((g, self.num_valid, w))
            counts = np.zeros((2, g, w), dtype=np.int64)
            p[P["record"]] = 1
            p[P["train_errors"]] = train_errors.ctypes.data
            p[P["valid_errors"]] = valid_errors.ctypes.data
            p[P["train_counts"]] = counts[0].ctypes.data
            p[P["valid_counts"]] = counts[1].ctypes.data
        else:
            p[P["record"]] = 0
        kernel.run(self.address, code)
        out = split_memory(shape, fitness.reshape(-1)[:k], _tasks_first(memory, k))
        if record:
            out.train_errors = _tasks_first(train_errors, k)
            out.valid_errors = _tasks_first(valid_errors, k)
            out.n_train_errors = counts[0].reshape(-1)[:k]
            out.n_valid_errors = counts[1].reshape(-1)[:k]
        return out


def split_memory(shape: Shape, fitness: np.ndarray, memory: np.ndarray) -> RunOutput:
    """RunOutput from per-task fitness and (K, slots) memory (slot order: layout.py)."""
    k, f = fitness.shape[0], shape.features
    s_end = shape.scalars
    v_end = s_end + shape.vectors * f
    return RunOutput(
        fitness,
        memory[:, :s_end],
        memory[:, s_end:v_end].reshape(k, shape.vectors, f),
        memory[:, v_end:].reshape(k, shape.matrices, f, f),
    )


def _tasks_first(lane_major: np.ndarray, k: int) -> np.ndarray:
    """(G, T, W) → (K, T)."""
    g, t, w = lane_major.shape
    return np.ascontiguousarray(lane_major.transpose(0, 2, 1).reshape(g * w, t)[:k])

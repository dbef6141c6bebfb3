"""The reference semantics: the evaluation protocol (docs/language.md) in NumPy, vectorized
across tasks. Memory is three arrays with a leading task axis (scalars (K, S), vectors
(K, V, F), matrices (K, M, F, F)); each instruction runs once per example for all K tasks.

Tasks that abort stop *logically* at once; their arrays keep being computed (cheaper than
masking every write) and the memory they had at the abort is restored afterwards."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np

from amzc.evaluate import FEC_RECORD_LIMIT, EvalOptions, RunOutput, flip_and_squash, sigmoid
from amzc.ops import NO_OP
from amzc.rng import Streams, derive_key
from amzc.syntax import DRAWS_ONLY, Instruction, MemoryConfig, Program
from amzc.tasks.taskset import TaskSet

Step = Callable[[], None]


class _Memory:
    def __init__(self, k: int, memory: MemoryConfig, f: int) -> None:
        self.scalars = np.zeros((k, memory.scalars))
        self.vectors = np.zeros((k, memory.vectors, f))
        self.matrices = np.zeros((k, memory.matrices, f, f))
        self.by_type = {"s": self.scalars, "v": self.vectors, "m": self.matrices}
        self._saved = [np.empty_like(a) for a in (self.scalars, self.vectors, self.matrices)]

    def save(self, tasks: np.ndarray) -> None:
        """Remember the memory of the tasks in the boolean mask (an abort happened there)."""
        for saved, live in zip(self._saved, (self.scalars, self.vectors, self.matrices),
                               strict=True):
            saved[tasks] = live[tasks]

    def restore(self, tasks: np.ndarray) -> None:
        for saved, live in zip(self._saved, (self.scalars, self.vectors, self.matrices),
                               strict=True):
            live[tasks] = saved[tasks]


def _compile(instructions: tuple[Instruction, ...], mem: _Memory, rng: Streams) -> list[Step]:
    steps = []
    for ins in instructions:
        if ins.op is NO_OP:
            continue
        op = ins.op
        target = mem.by_type[op.output]
        if ins.out == DRAWS_ONLY:  # a dead random fill: the stream moves on, nothing is written
            steps.append(partial(rng.skip, op.fill.draws * math.prod(target.shape[2:])))
            continue
        sources = [(mem.by_type[t], a) for t, a in zip(op.inputs, ins.inputs, strict=True)]
        steps.append(_step(op.numpy, sources, target, ins.out, ins, rng))
    return steps


def _step(fn, sources, target: np.ndarray, out: int, ins: Instruction, rng: Streams) -> Step:
    def step() -> None:
        target[:, out] = fn(tuple(a[:, i] for a, i in sources), target[:, out], ins, rng)

    return step


def _run_all(steps: list[Step]) -> None:
    for step in steps:
        step()


class NumpyBackend:
    name = "numpy"

    def search_accelerator(self) -> None:
        """None: the reference backend runs the search's Python paths."""
        return None

    def run(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
            options: EvalOptions, record: bool = False) -> RunOutput:
        k, n, nv, f = tasks.num_tasks, tasks.num_train, tasks.num_valid, tasks.features
        accuracy = tasks.eval_type == "accuracy"
        mem = _Memory(k, memory, f)
        rng = Streams(np.array([derive_key(options.seed, t) for t in tasks.task_ids], np.uint64))
        setup, predict, learn = (_compile(program.component(c), mem, rng)
                                 for c in ("setup", "predict", "learn"))
        scalars, features = mem.scalars, mem.vectors[:, 0]
        max_err = options.max_abs_error

        total = n * tasks.epochs
        if options.max_train_steps is not None:
            total = min(total, options.max_train_steps)
        n_valid_steps = nv if options.max_valid_steps is None else min(nv, options.max_valid_steps)

        best = np.zeros(k)
        finished = np.zeros(k, dtype=bool)  # training aborted: the task's result is final
        n_rec = min(total, n, FEC_RECORD_LIMIT)
        rec = _Records(k, n_rec, nv) if record else None

        with np.errstate(all="ignore"):
            _run_all(setup)
            done_steps = 0
            while done_steps < total and not finished.all():
                epoch = done_steps // n
                x_epoch, y_epoch = tasks.epoch_train_data(epoch)
                for t in range(min(n, total - done_steps)):
                    features[:] = x_epoch[:, t]
                    scalars[:, 0] = 0.0
                    _run_all(predict)
                    if accuracy:  # the normalized prediction is what Learn sees
                        scalars[:, 1] = sigmoid(scalars[:, 1])
                    err = np.abs(y_epoch[:, t] - scalars[:, 1])
                    bad = ~(err <= max_err)  # NaN counts as bad
                    if rec is not None and epoch == 0 and t < n_rec:
                        rec.train(t, err, finished | bad)
                    if bad.any():
                        newly = bad & ~finished
                        mem.save(newly)
                        finished |= newly
                        if finished.all():
                            break
                    scalars[:, 0] = y_epoch[:, t]
                    features[:] = x_epoch[:, t]
                    _run_all(learn)
                done_steps += n
                if finished.all():
                    break
                fitness = self._validate(tasks, mem, predict, n_valid_steps, max_err, accuracy,
                                         finished, rec if epoch == 0 else None)
                best = np.where(finished, best, np.maximum(best, fitness))
        mem.restore(finished)
        out = RunOutput(best, mem.scalars, mem.vectors, mem.matrices)
        if rec is not None:
            rec.fill(out)
        return out

    @staticmethod
    def _validate(tasks: TaskSet, mem: _Memory, predict: list[Step], steps: int,
                  max_err: float, accuracy: bool, finished: np.ndarray,
                  rec: _Records | None) -> np.ndarray:
        """One pass over the validation set, memory carried over."""
        k = tasks.num_tasks
        scalars, features = mem.scalars, mem.vectors[:, 0]
        loss = np.zeros(k)
        aborted = np.zeros(k, dtype=bool)
        for j in range(steps):
            features[:] = tasks.valid_x[:, j]
            scalars[:, 0] = 0.0
            _run_all(predict)
            y, s1 = tasks.valid_y[:, j], scalars[:, 1]
            if accuracy:  # the sigmoid applies inside the loss only; memory keeps the logit
                err = np.where((y > 0.5) == (sigmoid(s1) > 0.5), 0.0, 1.0)
                loss += err
            else:
                diff = y - s1
                loss += diff * diff
                err = np.abs(diff)
            bad = ~(err <= max_err)
            if rec is not None:
                rec.valid(j, err, aborted | bad | finished)
            if bad.any():
                newly = bad & ~aborted & ~finished
                mem.save(newly)  # the reference returns here: later examples never run
                aborted |= newly
        mem.restore(aborted)
        loss /= tasks.num_valid  # the full validation size, even when fewer steps ran
        fitness = 1.0 - loss if accuracy else flip_and_squash(np.sqrt(loss))
        return np.where(aborted, 0.0, fitness)


class _Records:
    """Errors of the FEC fingerprint run; a task stops recording at its first abort."""

    def __init__(self, k: int, n_train: int, n_valid: int) -> None:
        self.train_errors = np.zeros((k, n_train))
        self.valid_errors = np.zeros((k, n_valid))
        self.n_train = np.zeros(k, dtype=np.int64)
        self.n_valid = np.zeros(k, dtype=np.int64)

    def train(self, t: int, err: np.ndarray, stopped: np.ndarray) -> None:
        live = ~stopped
        self.train_errors[live, t] = err[live]
        self.n_train[live] += 1

    def valid(self, j: int, err: np.ndarray, stopped: np.ndarray) -> None:
        live = ~stopped
        self.valid_errors[live, j] = err[live]
        self.n_valid[live] += 1

    def fill(self, out: RunOutput) -> None:
        out.train_errors, out.valid_errors = self.train_errors, self.valid_errors
        out.n_train_errors, out.n_valid_errors = self.n_train, self.n_valid

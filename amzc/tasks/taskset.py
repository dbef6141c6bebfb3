"""The data an evaluation consumes: a batch of tasks of equal shapes, stacked so a backend can
work on all tasks at once (arrays shaped (tasks, ...))."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

EvalType = Literal["rms", "accuracy"]


@dataclass(frozen=True, eq=False)
class TaskSet:
    """K tasks with F features, N training and Nv validation examples each.

    ``train_order[k, e]`` is the order in which task k visits its training examples in epoch e
    (epoch 0 is the stored order). ``task_ids`` are the tasks' global positions, which key the
    evaluation's random streams and the FEC fingerprint."""

    name: str
    eval_type: EvalType
    train_x: np.ndarray  # (K, N, F)
    train_y: np.ndarray  # (K, N)
    valid_x: np.ndarray  # (K, Nv, F)
    valid_y: np.ndarray  # (K, Nv)
    train_order: np.ndarray  # (K, E, N)
    task_ids: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.task_ids is None:
            object.__setattr__(self, "task_ids", np.arange(self.num_tasks))
        k, n, f = self.train_x.shape
        assert self.train_y.shape == (k, n)
        assert self.valid_x.shape[0] == k and self.valid_x.shape[2] == f
        assert self.valid_y.shape == self.valid_x.shape[:2]
        assert self.train_order.shape[0] == k and self.train_order.shape[2] == n

    @property
    def num_tasks(self) -> int:
        return self.train_x.shape[0]

    @property
    def features(self) -> int:
        return self.train_x.shape[2]

    @property
    def num_train(self) -> int:
        return self.train_x.shape[1]

    @property
    def num_valid(self) -> int:
        return self.valid_x.shape[1]

    @property
    def epochs(self) -> int:
        return self.train_order.shape[1]

    def subset(self, tasks: slice | np.ndarray | list[int]) -> TaskSet:
        return TaskSet(self.name, self.eval_type, self.train_x[tasks], self.train_y[tasks],
                       self.valid_x[tasks], self.valid_y[tasks], self.train_order[tasks],
                       self.task_ids[tasks])

    def epoch_train_data(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Training features and labels of every task in the order of ``epoch``."""
        order = self.train_order[:, epoch]
        x = np.take_along_axis(self.train_x, order[:, :, None], axis=1)
        y = np.take_along_axis(self.train_y, order, axis=1)
        return x, y

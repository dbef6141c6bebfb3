"""Task generators and the TaskSpec → TaskSet step (REFERENCE.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from amzc.errors import AmzConfigError
from amzc.rng import derive_key, permutation
from amzc.tasks import regression
from amzc.tasks.taskset import EvalType, TaskSet

__all__ = ["TaskSet", "TaskSpec", "TASK_KINDS", "build_tasks"]

# The reference's default seed lists; task i past the list's end uses the previous seed + 1.
DEFAULT_PARAM_SEEDS = (1001, 1012, 1010, 1000, 1006, 1008, 1007, 1003)
DEFAULT_DATA_SEEDS = (11001, 11012, 11010, 11000, 11006, 11008, 11007, 11003)

TASK_KINDS: dict[str, EvalType] = {"linear": "rms", "affine": "rms", "nonlinear": "rms"}


def _seeds(given: tuple[int, ...], default: tuple[int, ...], n: int) -> list[int]:
    base = list(given) or list(default)
    seeds = base[:n]
    while len(seeds) < n:
        seeds.append(seeds[-1] + 1)
    return seeds


@dataclass(frozen=True)
class TaskSpec:
    """What to generate: ``num_tasks`` tasks of one kind, each from its own seeds."""

    kind: str = "linear"
    features: int = 4
    num_train: int = 100
    num_valid: int = 100
    num_tasks: int = 10
    epochs: int = 1
    param_seeds: tuple[int, ...] = field(default=())
    data_seeds: tuple[int, ...] = field(default=())
    first_task_id: int = 0

    def validate(self) -> None:
        if self.kind not in TASK_KINDS:
            raise AmzConfigError(f"unknown task {self.kind!r}; choose one of "
                                 f"{', '.join(sorted(TASK_KINDS))}")
        low = regression.MIN_FEATURES.get(self.kind, 1)
        checks = [
            (self.features >= low, f"features must be ≥ {low} for task {self.kind}"),
            (self.num_train >= 1, "the number of training examples must be ≥ 1"),
            (self.num_valid >= 1, "the number of validation examples must be ≥ 1"),
            (self.num_tasks >= 1, "the number of tasks must be ≥ 1"),
            (self.epochs >= 1, "the number of epochs must be ≥ 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise AmzConfigError(message)

    def reseeded(self, seed: int) -> TaskSpec:
        """The same spec with task seeds drawn from ``seed``; 0 keeps the default seeds."""
        if seed == 0:
            return self
        first_param = derive_key(seed, 1) & 0x7FFFFFFF
        first_data = derive_key(seed, 2) & 0x7FFFFFFF
        return replace(self, param_seeds=(first_param,), data_seeds=(first_data,))

    def seeds(self) -> tuple[list[int], list[int]]:
        return (_seeds(self.param_seeds, DEFAULT_PARAM_SEEDS, self.num_tasks),
                _seeds(self.data_seeds, DEFAULT_DATA_SEEDS, self.num_tasks))


def build_tasks(spec: TaskSpec) -> TaskSet:
    """Generate the task set a spec describes (deterministic in its seeds)."""
    spec.validate()
    param_seeds, data_seeds = spec.seeds()
    f, n, nv, e = spec.features, spec.num_train, spec.num_valid, spec.epochs
    generate = regression.GENERATORS[spec.kind]
    xs, ys, orders = [], [], []
    for p_seed, d_seed in zip(param_seeds, data_seeds, strict=True):
        x = regression.features(d_seed, n + nv, f)
        xs.append(x)
        ys.append(generate(x, p_seed))
        shuffles = permutation(derive_key(d_seed, regression.SHUFFLE), n, e - 1)
        orders.append(np.stack([np.arange(n), *shuffles]))
    x, y = np.stack(xs), np.stack(ys)
    return TaskSet(
        name=spec.kind,
        eval_type=TASK_KINDS[spec.kind],
        train_x=np.ascontiguousarray(x[:, :n]),
        train_y=np.ascontiguousarray(y[:, :n]),
        valid_x=np.ascontiguousarray(x[:, n:]),
        valid_y=np.ascontiguousarray(y[:, n:]),
        train_order=np.stack(orders),
        task_ids=np.arange(spec.first_task_id, spec.first_task_id + spec.num_tasks),
    )

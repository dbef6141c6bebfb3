"""What to generate: a TaskSpec (kind, sizes, seeds), and the kinds there are. A module of its
own so that the generators (projected.py, userdata.py) can name it without importing the
package that dispatches to them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from amzc.errors import AmzConfigError
from amzc.rng import derive_key
from amzc.tasks import regression
from amzc.tasks.taskset import EvalType

# The reference's default seed lists; task i past the list's end uses the previous seed + 1.
DEFAULT_PARAM_SEEDS = (1001, 1012, 1010, 1000, 1006, 1008, 1007, 1003)
DEFAULT_DATA_SEEDS = (11001, 11012, 11010, 11000, 11006, 11008, 11007, 11003)

# "data" (a user's file) is regression unless its labels are all 0/1: see userdata.py.
TASK_KINDS: dict[str, EvalType] = {"linear": "rms", "affine": "rms", "nonlinear": "rms",
                                   "digits": "accuracy", "cifar10": "accuracy", "data": "rms"}
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
    # digits, cifar10 (REFERENCE.md §4.6): draw each task's class pair from the held-out pairs
    # (T_select, final) instead of from the others (T_search); or fix the pair.
    held_out: bool = False
    positive_class: int | None = None
    negative_class: int | None = None
    data_dir: str | None = None  # cifar10: the folder of the python batches
    # data: the .npz/.csv file, the share held out when it has no validation set, and the
    # fitness (None: accuracy if every label is 0 or 1, else rms).
    path: str | None = None
    valid_fraction: float = 0.2
    eval_type: EvalType | None = None

    def validate(self) -> None:
        if self.kind not in TASK_KINDS:
            names = sorted(k if k != "data" else "data:PATH" for k in TASK_KINDS)
            raise AmzConfigError(f"unknown task {self.kind!r}; choose one of {', '.join(names)}")
        low = regression.MIN_FEATURES.get(self.kind, 1)
        low_n = 0 if self.kind == "data" else 1  # 0: every example of the user's file
        checks = [
            (self.features >= low * low_n, f"features must be ≥ {low} for task {self.kind}"),
            (self.num_train >= low_n, "the number of training examples must be ≥ 1"),
            (self.num_valid >= low_n, "the number of validation examples must be ≥ 1"),
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

"""Task generators and the TaskSpec → TaskSet step (REFERENCE.md §4)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields

import numpy as np

from amzc import resources
from amzc.errors import AmzConfigError
from amzc.rng import derive_key, permutation
from amzc.tasks import regression
from amzc.tasks.projected import NUM_CLASSES
from amzc.tasks.taskset import EvalType, TaskSet

__all__ = ["TaskSet", "TaskSpec", "TASK_KINDS", "build_tasks", "task_spec"]

# The reference's default seed lists; task i past the list's end uses the previous seed + 1.
DEFAULT_PARAM_SEEDS = (1001, 1012, 1010, 1000, 1006, 1008, 1007, 1003)
DEFAULT_DATA_SEEDS = (11001, 11012, 11010, 11000, 11006, 11008, 11007, 11003)

# "data" (a user's file) is regression unless its labels are all 0/1: see userdata.py.
TASK_KINDS: dict[str, EvalType] = {"linear": "rms", "affine": "rms", "nonlinear": "rms",
                                   "digits": "accuracy", "cifar10": "accuracy", "data": "rms"}
# Per-kind defaults of (features, num_train, num_valid, num_tasks) for task_spec(). Projected
# tasks use the reference's F = 16 (REFERENCE.md §4.7); digits has ≥ 351 images per class pair;
# for "data", 0 means "as in the file" and one task uses the file's one split.
KIND_DEFAULTS: dict[str, tuple[int, int, int, int]] = {
    "digits": (16, 250, 100, 10), "cifar10": (16, 8000, 1000, 10), "data": (0, 0, 0, 1)}
DEFAULTS = (4, 100, 100, 10)


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
    valid_fraction: float | None = None  # None: userdata.VALID_FRACTION
    eval_type: EvalType | None = None

    def validate(self) -> None:
        """Refuse sizes out of range or too large for this machine, and fields the kind
        cannot use (a field that would be silently ignored is a mistake worth naming)."""
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
        self._validate_kind_fields()
        # "data" sizes of 0 mean the file's: userdata checks them once the file is read
        resources.require_tasks(self.num_tasks, self.num_train, self.num_valid, self.features,
                                self.epochs)

    def _validate_kind_fields(self) -> None:
        given = {name for name, default in _KIND_FIELD_DEFAULTS.items()
                 if getattr(self, name) != default}
        for name in sorted(given):
            kinds = KIND_FIELDS[name]
            if self.kind not in kinds:
                raise AmzConfigError(f"{name} applies to task {' and '.join(kinds)} only, not "
                                     f"to task {self.kind}")
        if self.kind == "data" and not isinstance(self.path, str):
            raise AmzConfigError('task data needs a data file: path = "FILE" (.npz or .csv)')
        if not isinstance(self.held_out, bool):
            raise AmzConfigError(f"held_out must be true or false, not {self.held_out!r}")
        fraction = self.valid_fraction
        if fraction is not None and (isinstance(fraction, bool)
                                     or not isinstance(fraction, int | float)
                                     or not 0.0 < fraction < 1.0):
            raise AmzConfigError(f"the valid fraction must lie in (0, 1), not {fraction!r}")
        pos, neg = self.positive_class, self.negative_class
        if (pos is None) != (neg is None):
            raise AmzConfigError("give both positive_class and negative_class (a fixed pair), "
                                 "or neither (a random pair per task)")
        for name, c in (("positive_class", pos), ("negative_class", neg)):
            if c is not None and (isinstance(c, bool) or not isinstance(c, int)
                                  or not 0 <= c < NUM_CLASSES):
                raise AmzConfigError(f"{name} must be a class id in 0..{NUM_CLASSES - 1}, not "
                                     f"{c!r}")
        if pos is not None and pos == neg:
            raise AmzConfigError(f"positive_class and negative_class must differ (both {pos})")

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


# The fields that only some kinds use, and those kinds; and the command-line flag of each.
# the task kinds that read each kind-specific field of TaskSpec; elsewhere it would be ignored
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "held_out": ("digits", "cifar10"), "positive_class": ("digits", "cifar10"),
    "negative_class": ("digits", "cifar10"), "data_dir": ("cifar10",), "path": ("data",),
    "valid_fraction": ("data",), "eval_type": ("data",)}
_KIND_FIELD_DEFAULTS = {f.name: f.default for f in dataclass_fields(TaskSpec)
                        if f.name in KIND_FIELDS}
_FLAGS = {"held_out": "--held-out", "data_dir": "--data-dir", "valid_fraction":
          "--valid-fraction", "eval_type": "--eval-type"}


def task_spec(task: str, features: int | None = None, num_train: int | None = None,
              num_valid: int | None = None, num_tasks: int | None = None,
              **fields: object) -> TaskSpec:
    """A spec from a command-line task name (``linear``, ``digits``, ``data:PATH``, ...), with
    the kind's defaults for the sizes left as None."""
    kind, _, path = task.partition(":")
    if kind == "data" and not path:
        raise AmzConfigError("--task data needs a file: --task data:PATH (.npz or .csv)")
    if path and kind != "data":
        raise AmzConfigError(f"unknown task {task!r}; only data:PATH takes a file")
    if path:
        fields["path"] = path
    for name, flag in _FLAGS.items():
        if fields.get(name, _KIND_FIELD_DEFAULTS[name]) != _KIND_FIELD_DEFAULTS[name] \
                and kind not in KIND_FIELDS[name]:
            kinds = " and ".join(k if k != "data" else "data:PATH" for k in KIND_FIELDS[name])
            raise AmzConfigError(f"{flag} applies to task {kinds} only; task {kind} has no use "
                                 "for it")
    given = (features, num_train, num_valid, num_tasks)
    sizes = [d if g is None else g
             for g, d in zip(given, KIND_DEFAULTS.get(kind, DEFAULTS), strict=True)]
    return TaskSpec(kind, *sizes, **fields)  # type: ignore[arg-type]


def build_tasks(spec: TaskSpec) -> TaskSet:
    """Generate the task set a spec describes (deterministic in its seeds)."""
    spec.validate()
    if spec.kind in ("digits", "cifar10"):
        from amzc.tasks import cifar10, projected  # lazy: scikit-learn is slow to import

        source = projected.digits() if spec.kind == "digits" else cifar10.load(spec.data_dir)
        return projected.build_tasks(spec, source)
    if spec.kind == "data":
        from amzc.tasks import userdata

        return userdata.build_tasks(spec)
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

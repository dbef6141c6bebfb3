"""What to generate: a TaskSpec (kind, sizes, seeds), and the kinds there are. A module of its
own so that the generators (projected.py, userdata.py) can name it without importing the
package that dispatches to them."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields

import numpy as np

from amzc import resources
from amzc.errors import AmzConfigError
from amzc.rng import derive_key
from amzc.tasks import regression
from amzc.tasks.taskset import EvalType

# The reference's default seed lists; task i past the list's end uses the previous seed + 1.
DEFAULT_PARAM_SEEDS = (1001, 1012, 1010, 1000, 1006, 1008, 1007, 1003)
DEFAULT_DATA_SEEDS = (11001, 11012, 11010, 11000, 11006, 11008, 11007, 11003)

# "data" (a user's file) is regression unless its labels are all 0/1: see userdata.py.
NUM_CLASSES = 10  # digits and CIFAR-10 both have ten classes
# features scaled by up to 100× either way already span 8 decades of variance
MAX_SCALE_SPREAD = 100.0


def is_feature_scale(c: float) -> bool:
    """Whether ``c`` is a factor ``feature_scales`` accepts: within the 100× either way that
    ``scale_spread`` allows (NaN and infinities are not)."""
    return 1.0 / MAX_SCALE_SPREAD <= c <= MAX_SCALE_SPREAD

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
    # digits, cifar10 (docs/data.md): draw each task's class pair from the held-out pairs
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
    # linear, affine, nonlinear: feature i of a task is scaled by a factor log-uniform in
    # [1/scale_spread, scale_spread] (regression.features); 1: standard normal features.
    scale_spread: float = 1.0
    # linear, affine, nonlinear: task k's features, and so its labels, multiplied by
    # feature_scales[k % len(feature_scales)] (after scale_spread); empty: unscaled. Tasks of
    # several input scales reward a learning rule that adapts to the scale: plain SGD without
    # a step size converges on inputs of norm about 1 and diverges on standard ones.
    feature_scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        # any sequence of real numbers (a list, NumPy scalars) as a tuple of floats, so that
        # specs stay hashable and compare by value; anything else is left for validate()
        scales = self.feature_scales
        if not isinstance(scales, tuple | str) and hasattr(scales, "__iter__"):
            scales = tuple(scales)
        if isinstance(scales, tuple) and all(
                isinstance(c, numbers.Real) and not isinstance(c, bool | np.bool_)
                for c in scales):
            object.__setattr__(self, "feature_scales", tuple(float(c) for c in scales))

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
        given = {name for name, default in KIND_FIELD_DEFAULTS.items()
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
        spread = self.scale_spread
        if (isinstance(spread, bool) or not isinstance(spread, int | float)
                or not 1.0 <= spread <= MAX_SCALE_SPREAD):
            raise AmzConfigError(f"the scale spread must be a number in [1, {MAX_SCALE_SPREAD:g}], "
                                 f"not {spread!r}")
        scales = self.feature_scales
        if (not isinstance(scales, tuple)
                or not all(isinstance(c, float) and is_feature_scale(c) for c in scales)):
            raise AmzConfigError("the feature scales must be a list of numbers in "
                                 f"[{1.0 / MAX_SCALE_SPREAD:g}, {MAX_SCALE_SPREAD:g}], not "
                                 f"{scales!r}")
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

    def as_kind(self, kind: str) -> TaskSpec:
        """The same spec for tasks of ``kind``, without the kind-specific fields that kind
        cannot use (a data file, a class pair, feature scales, ...): an inherited one would
        be refused."""
        if kind == self.kind:
            return self
        return replace(self, kind=kind, **{name: KIND_FIELD_DEFAULTS[name]
                                           for name, kinds in KIND_FIELDS.items()
                                           if kind not in kinds})

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


# the task kinds that read each kind-specific field of TaskSpec; elsewhere it would be ignored
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "held_out": ("digits", "cifar10"), "positive_class": ("digits", "cifar10"),
    "negative_class": ("digits", "cifar10"), "data_dir": ("cifar10",), "path": ("data",),
    "valid_fraction": ("data",), "eval_type": ("data",),
    "scale_spread": ("linear", "affine", "nonlinear"),
    "feature_scales": ("linear", "affine", "nonlinear")}
KIND_FIELD_DEFAULTS = {f.name: f.default for f in dataclass_fields(TaskSpec)
                        if f.name in KIND_FIELDS}

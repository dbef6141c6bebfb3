"""Task generators and the TaskSpec → TaskSet step (the kinds: docs/data.md, docs/evolution.md)."""

from __future__ import annotations

import numpy as np

from amzc.errors import AmzConfigError
from amzc.rng import derive_key, permutation
from amzc.tasks import regression
from amzc.tasks.spec import (  # TaskSpec and the kinds live in spec.py; the names stay here
    DEFAULT_DATA_SEEDS,  # noqa: F401 - re-exported
    DEFAULT_PARAM_SEEDS,  # noqa: F401 - re-exported
    KIND_FIELD_DEFAULTS,
    KIND_FIELDS,
    TASK_KINDS,
    TaskSpec,
)
from amzc.tasks.taskset import TaskSet

__all__ = ["TaskSet", "TaskSpec", "TASK_KINDS", "build_tasks", "task_spec"]

# Per-kind defaults of (features, num_train, num_valid, num_tasks) for task_spec(). Projected
# tasks use the reference's F = 16 (its projection width); digits has ≥ 351 images per class pair;
# for "data", 0 means "as in the file" and one task uses the file's one split.
KIND_DEFAULTS: dict[str, tuple[int, int, int, int]] = {
    "digits": (16, 250, 100, 10), "cifar10": (16, 8000, 1000, 10), "data": (0, 0, 0, 1)}
DEFAULTS = (4, 100, 100, 10)


_FLAGS = {"held_out": "--held-out", "data_dir": "--data-dir", "valid_fraction":
          "--valid-fraction", "eval_type": "--eval-type", "scale_spread": "--scale-spread",
          "feature_scales": "--feature-scales"}


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
        if fields.get(name, KIND_FIELD_DEFAULTS[name]) != KIND_FIELD_DEFAULTS[name] \
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
    scales = spec.feature_scales
    for k, (p_seed, d_seed) in enumerate(zip(param_seeds, data_seeds, strict=True)):
        x = regression.features(d_seed, n + nv, f, spec.scale_spread)
        if scales:
            x = x * scales[k % len(scales)]
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

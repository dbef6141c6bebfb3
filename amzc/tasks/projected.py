"""Projected binary classification over real images (docs/data.md), with amzc's own
random streams (amzc.rng) in place of the reference's mt19937 and pre-generated files.

For each task, from its data seed:

1. a class pair (i, j), i < j: drawn uniformly from the 45 pairs minus the nine held-out pairs
   (T_search), or from the held-out pairs only (T_select / final), or fixed by the spec;
2. labels: the positive class (the smaller id, or the spec's ``positive_class``) is 1, the
   other 0;
3. a stratified split of the pair's images into ``num_train`` training and ``num_valid``
   validation examples, each set in a seeded random order;
4. a projection R ~ N(0, 1) of shape (pixels, F), keyed by the data seed only (so, as in the
   reference, every pair of one seed shares R), applied to the raw pixel values;
5. standardization with the per-feature mean and population std of the projected training set
   (a zero std divides by 1, as scikit-learn's StandardScaler does).

Features are float64: the reference stores them as float32 (a proto limit), but memory is
double in both, so we keep the projection's full precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from amzc import resources
from amzc.errors import AmzConfigError
from amzc.rng import derive_key, normal_array, permutation, uniform01
from amzc.tasks.regression import SHUFFLE
from amzc.tasks.spec import NUM_CLASSES
from amzc.tasks.taskset import TaskSet

if TYPE_CHECKING:
    from amzc.tasks.spec import TaskSpec

# The reference's recommended held-out pairs: kept out of T_search for T_select and final.
HELD_OUT_PAIRS: tuple[tuple[int, int], ...] = (
    (4, 6), (3, 5), (8, 9), (3, 8), (0, 9), (2, 9), (1, 8), (3, 6), (0, 5),
)
# Stream purposes, continuing regression.py's numbering (SHUFFLE = 3 is shared).
PAIR, SPLIT, PROJECTION = 4, 5, 6
_CHUNK = 2048  # rows projected at once: bounds the float64 copy of CIFAR-10 pixels


@dataclass(frozen=True, eq=False)
class ImageSource:
    """Labelled images: ``pixels`` (N, P) raw values of any numeric dtype, ``labels`` (N,)
    class ids in 0..9."""

    name: str
    pixels: np.ndarray
    labels: np.ndarray

    def count(self, label: int) -> int:
        return int(np.count_nonzero(self.labels == label))


@lru_cache(maxsize=1)
def digits() -> ImageSource:
    """scikit-learn's bundled 8x8 digits: 1797 images, 64 pixels valued 0-16, about 180 per
    class; shipped inside the package, so it works offline."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return ImageSource("digits", np.asarray(data.data, np.float64),
                       np.asarray(data.target, np.int64))


def candidate_pairs(held_out: bool) -> list[tuple[int, int]]:
    """The pairs a random task draws from, in lexicographic order, as in the reference."""
    held = sorted((min(p), max(p)) for p in HELD_OUT_PAIRS)
    if held_out:
        return held
    return [(i, j) for i in range(NUM_CLASSES) for j in range(i + 1, NUM_CLASSES)
            if (i, j) not in held]


def task_pair(spec: TaskSpec, data_seed: int) -> tuple[int, int]:
    """(positive, negative) class of one task."""
    if spec.positive_class is not None and spec.negative_class is not None:
        return spec.positive_class, spec.negative_class
    pairs = candidate_pairs(spec.held_out)
    u = uniform01(np.array([derive_key(data_seed, PAIR)], np.uint64), 0, 1)[0, 0]
    return pairs[int(u * len(pairs))]


def _check_sizes(spec: TaskSpec, source: ImageSource) -> None:
    """Fail before any work, and independently of the seeds, if some pair the tasks may draw
    has fewer images than train + valid."""
    if spec.positive_class is not None and spec.negative_class is not None:
        pairs = [(spec.positive_class, spec.negative_class)]
    else:
        pairs = candidate_pairs(spec.held_out)
    sizes = {p: source.count(p[0]) + source.count(p[1]) for p in pairs}
    smallest = min(sizes, key=lambda p: sizes[p])
    wanted = spec.num_train + spec.num_valid
    if sizes[smallest] < wanted:
        raise AmzConfigError(
            f"{source.name}: class pair {smallest} has {sizes[smallest]} images, fewer than the "
            f"{spec.num_train} train + {spec.num_valid} valid = {wanted} requested; lower "
            f"--train/--valid so that train + valid ≤ {sizes[smallest]}")


def _shuffled(indices: np.ndarray, key: int) -> np.ndarray:
    if len(indices) == 0:
        return indices
    u = uniform01(np.array([key], np.uint64), 0, len(indices))[0]
    return indices[np.argsort(u, kind="stable")]


def split(labels: np.ndarray, pair: tuple[int, int], n_train: int, n_valid: int,
          key: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A stratified split of the pair's examples: (train rows, train labels, valid rows, valid
    labels), each set in a random order. Both sets keep the pair's class ratio up to rounding."""
    pos = _shuffled(np.flatnonzero(labels == pair[0]), derive_key(key, 1))
    neg = _shuffled(np.flatnonzero(labels == pair[1]), derive_key(key, 2))
    total = n_train + n_valid
    take_pos = min(len(pos), round(total * len(pos) / (len(pos) + len(neg))))
    take_pos = max(take_pos, total - len(neg))
    train_pos = round(n_train * take_pos / total)
    valid_pos = take_pos - train_pos
    train_neg, valid_neg = n_train - train_pos, n_valid - valid_pos
    train = np.concatenate([pos[:train_pos], neg[:train_neg]])
    valid = np.concatenate([pos[train_pos:take_pos], neg[train_neg:train_neg + valid_neg]])
    train_y = np.concatenate([np.ones(train_pos), np.zeros(train_neg)])
    valid_y = np.concatenate([np.ones(valid_pos), np.zeros(valid_neg)])
    train_order = _shuffled(np.arange(n_train), derive_key(key, 3))
    valid_order = _shuffled(np.arange(n_valid), derive_key(key, 4))
    return train[train_order], train_y[train_order], valid[valid_order], valid_y[valid_order]


def projection(data_seed: int, pixels: int, f: int) -> np.ndarray:
    """R ~ N(0, 1), shape (pixels, F), from the data seed alone."""
    return normal_array(derive_key(data_seed, PROJECTION), pixels * f).reshape(pixels, f)


def project(pixels: np.ndarray, r: np.ndarray) -> np.ndarray:
    out = np.empty((len(pixels), r.shape[1]))
    for start in range(0, len(pixels), _CHUNK):
        out[start:start + _CHUNK] = pixels[start:start + _CHUNK].astype(np.float64) @ r
    return out


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale every set with the training set's per-feature mean and population std."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return [(x - mean) / std for x in (train, *others)]


def build_tasks(spec: TaskSpec, source: ImageSource) -> TaskSet:
    """The task set of ``spec`` over ``source`` (deterministic in the spec's data seeds)."""
    _check_sizes(spec, source)
    resources.require(source.pixels.shape[1] * spec.features * resources.FLOAT,
                      "the random projection", f"{source.pixels.shape[1]:,} pixels × "
                      f"F={spec.features:,}", "--features (in a config: features)")
    _, data_seeds = spec.seeds()
    n, nv, e = spec.num_train, spec.num_valid, spec.epochs
    tx, ty, vx, vy, orders = [], [], [], [], []
    for d_seed in data_seeds:
        pair = task_pair(spec, d_seed)
        train, train_y, valid, valid_y = split(source.labels, pair, n, nv,
                                               derive_key(d_seed, SPLIT))
        r = projection(d_seed, source.pixels.shape[1], spec.features)
        x_train, x_valid = standardize(project(source.pixels[train], r),
                                       project(source.pixels[valid], r))
        tx.append(x_train)
        ty.append(train_y)
        vx.append(x_valid)
        vy.append(valid_y)
        shuffles = permutation(derive_key(d_seed, SHUFFLE), n, e - 1)
        orders.append(np.stack([np.arange(n), *shuffles]))
    return TaskSet(
        name=source.name,
        eval_type="accuracy",
        train_x=np.stack(tx),
        train_y=np.stack(ty),
        valid_x=np.stack(vx),
        valid_y=np.stack(vy),
        train_order=np.stack(orders),
        task_ids=np.arange(spec.first_task_id, spec.first_task_id + spec.num_tasks),
    )

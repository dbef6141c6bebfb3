"""User datasets (``--task data:PATH``): NPZ or CSV files of feature rows and labels, for
regression (RMS fitness) or binary classification (ACCURACY fitness). docs/data.md is the
user's description of the formats; in short:

- NPZ: arrays ``x`` (N, F) and ``y`` (N,), optionally ``x_valid`` (Nv, F) and ``y_valid`` (Nv,);
  scikit-learn's ``X`` and ``X_valid`` are accepted for ``x`` and ``x_valid``.
- CSV: a header line, then one example per line. The label column is the one named ``label``
  (else ``y``, else the last column); an optional ``split`` column holds ``train`` or ``valid``
  per row; every other column is a feature.

Without an explicit validation set, a seeded random ``valid_fraction`` of the rows (stratified
for classification) is held out. The kind of task is the spec's ``eval_type``, or inferred:
labels all in {0, 1} make a classification task. Features are used as given (no scaling).
"""

from __future__ import annotations

import csv
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from amzc import resources
from amzc.errors import AmzConfigError
from amzc.rng import derive_key, permutation, uniform01
from amzc.tasks.projected import split as stratified_split
from amzc.tasks.regression import SHUFFLE
from amzc.tasks.taskset import EvalType, TaskSet

if TYPE_CHECKING:
    from amzc.tasks.spec import TaskSpec

LABEL_COLUMNS = ("label", "y")  # in order of preference; else the last column
SPLIT_COLUMN = "split"
SPLIT = 7  # stream purpose (regression.py and projected.py use 1-6)
VALID_FRACTION = 0.2  # the share of rows held out when the spec gives none


@dataclass(frozen=True, eq=False)
class Dataset:
    """Checked arrays: float64, finite, consistent shapes."""

    name: str
    x: np.ndarray  # (N, F)
    y: np.ndarray  # (N,)
    x_valid: np.ndarray | None = None  # (Nv, F)
    y_valid: np.ndarray | None = None  # (Nv,)

    @property
    def features(self) -> int:
        return self.x.shape[1]

    def labels(self) -> np.ndarray:
        return self.y if self.y_valid is None else np.concatenate([self.y, self.y_valid])


def load(path: str | Path) -> Dataset:
    """Read and check a .npz or .csv file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise AmzConfigError(f"{file}: no such data file" if not file.exists()
                             else f"{file}: is not a file")
    suffix = file.suffix.lower()
    if suffix == ".npz":
        return _load_npz(file)
    if suffix == ".csv":
        return _load_csv(file)
    raise AmzConfigError(f"{file}: unknown data format {suffix or '(no suffix)'!r}; "
                         "use a .npz (arrays x, y) or .csv (header + rows) file")


def _load_npz(file: Path) -> Dataset:
    if not zipfile.is_zipfile(file):
        raise AmzConfigError(f"{file}: not a .npz file (not a zip archive of arrays, as "
                             "numpy.savez writes)")
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise AmzConfigError(f"{file}: not a readable .npz file ({e})") from None
    found = ", ".join(arrays) or "no arrays"
    for upper in ("X", "X_valid"):  # scikit-learn's names
        if upper in arrays:
            lower = upper.lower()
            if lower in arrays:
                raise AmzConfigError(f"{file}: holds both {lower} and {upper}; keep one")
            arrays[lower] = arrays.pop(upper)
    for name in ("x", "y"):
        if name not in arrays:
            raise AmzConfigError(f"{file}: no array {name!r} (found {found}); the file needs "
                                 "x or X (N, F) and y (N,), optionally x_valid and y_valid")
    if ("x_valid" in arrays) != ("y_valid" in arrays):
        raise AmzConfigError(f"{file}: give both x_valid and y_valid, or neither")
    x = _features(file, "x", arrays["x"])
    y = _labels(file, "y", arrays["y"], len(x))
    x_valid = y_valid = None
    if "x_valid" in arrays:
        x_valid = _features(file, "x_valid", arrays["x_valid"])
        y_valid = _labels(file, "y_valid", arrays["y_valid"], len(x_valid))
        if x_valid.shape[1] != x.shape[1]:
            raise AmzConfigError(f"{file}: x has {x.shape[1]} features but x_valid has "
                                 f"{x_valid.shape[1]}")
    return Dataset(file.name, x, y, x_valid, y_valid)


def _numeric(file: Path, name: str, a: np.ndarray) -> np.ndarray:
    if a.dtype.kind not in "biuf":
        raise AmzConfigError(f"{file}: {name} must hold numbers, found dtype {a.dtype}")
    a = a.astype(np.float64)
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        where = ", ".join(str(i) for i in bad[0])
        raise AmzConfigError(f"{file}: {name} has a non-finite value ({a[tuple(bad[0])]}) at "
                             f"[{where}]; remove or fill NaN/inf values first")
    return a


def _features(file: Path, name: str, a: np.ndarray) -> np.ndarray:
    if a.ndim != 2:
        raise AmzConfigError(f"{file}: {name} must be 2-D (examples, features), found shape "
                             f"{a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise AmzConfigError(f"{file}: {name} is empty (shape {a.shape})")
    return _numeric(file, name, a)


def _labels(file: Path, name: str, a: np.ndarray, n: int) -> np.ndarray:
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise AmzConfigError(f"{file}: {name} must be 1-D (one label per example), found shape "
                             f"{a.shape}")
    if len(a) != n:
        features = "x" if name == "y" else "x_valid"
        raise AmzConfigError(f"{file}: {features} has {n} rows but {name} has {len(a)} labels")
    return _numeric(file, name, a)


def _load_csv(file: Path) -> Dataset:
    rows: list[tuple[int, list[str]]] = []
    line = 0
    try:
        # utf-8-sig: a byte-order mark (as spreadsheet programs write) is not part of the
        # first column's name; strict: an unclosed quote is an error, not a merged row
        with file.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)
            for row in reader:
                line = reader.line_num
                if any(cell.strip() for cell in row):
                    rows.append((line, row))
    except (OSError, UnicodeDecodeError) as e:
        raise AmzConfigError(f"{file}: not a readable CSV file ({e})") from None
    except csv.Error as e:
        raise AmzConfigError(f"{file}:{line + 1}: not valid CSV ({e})") from None
    if not rows:
        raise AmzConfigError(f"{file}: empty CSV file; expected a header line and data rows")
    header = [h.strip() for h in rows[0][1]]
    if all(_is_number(h) for h in header):
        raise AmzConfigError(f"{file}: line 1 must be a header of column names, found numbers")
    if len(header) < 2:
        raise AmzConfigError(f"{file}: needs at least two columns (features and a label), "
                             f"found {header}")
    lower = [h.lower() for h in header]
    label = next((lower.index(c) for c in LABEL_COLUMNS if c in lower), len(header) - 1)
    split = lower.index(SPLIT_COLUMN) if SPLIT_COLUMN in lower else None
    if split == label:
        raise AmzConfigError(f"{file}: the last column is 'split'; name the label column "
                             "'label' or 'y'")
    feature_cols = [j for j in range(len(header)) if j not in (label, split)]
    if not feature_cols:
        raise AmzConfigError(f"{file}: no feature columns besides the label and split columns")
    if len(rows) == 1:
        raise AmzConfigError(f"{file}: no data rows after the header")
    values = np.empty((len(rows) - 1, len(header)))
    is_valid = np.zeros(len(rows) - 1, dtype=bool)
    for r, (line, row) in enumerate(rows[1:]):
        if len(row) != len(header):
            raise AmzConfigError(f"{file}:{line}: {len(row)} values, but the header has "
                                 f"{len(header)} columns")
        for j, cell in enumerate(row):
            if j == split:
                is_valid[r] = _split_value(file, line, cell)
                continue
            values[r, j] = _cell(file, line, header[j], cell)
    x, y = values[:, feature_cols], values[:, label]
    if split is None:
        return Dataset(file.name, x, y)
    if is_valid.all() or not is_valid.any():
        which = "valid" if is_valid.all() else "train"
        raise AmzConfigError(f"{file}: every row's split is {which!r}; the split column needs "
                             "both train and valid rows")
    return Dataset(file.name, x[~is_valid], y[~is_valid], x[is_valid], y[is_valid])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cell(file: Path, line: int, column: str, cell: str) -> float:
    text = cell.strip()
    if not text:
        raise AmzConfigError(f"{file}:{line}: empty value in column {column!r}")
    try:
        value = float(text)
    except ValueError:
        raise AmzConfigError(f"{file}:{line}: {text!r} in column {column!r} is not a number"
                             ) from None
    if not np.isfinite(value):
        raise AmzConfigError(f"{file}:{line}: {text} in column {column!r}; remove or fill "
                             "NaN/inf values first")
    return value


def _split_value(file: Path, line: int, cell: str) -> bool:
    text = cell.strip().lower()
    if text not in ("train", "valid"):
        raise AmzConfigError(f"{file}:{line}: split must be 'train' or 'valid', not {cell!r}")
    return text == "valid"


def eval_type(data: Dataset, wanted: EvalType | None) -> EvalType:
    """``wanted``, checked against the labels, or inferred: labels in {0, 1} → accuracy."""
    if wanted not in (None, "rms", "accuracy"):
        raise AmzConfigError(f"unknown eval type {wanted!r}; use rms or accuracy")
    labels = data.labels()
    binary = np.isin(labels, (0.0, 1.0))
    if wanted is None:
        return "accuracy" if binary.all() else "rms"
    if wanted == "accuracy" and not binary.all():
        values = np.unique(labels)
        shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
        raise AmzConfigError(f"{data.name}: classification (accuracy) needs labels 0 and 1, "
                             f"found {shown}; relabel the classes as 0/1 or use regression")
    return wanted


def _shuffle(n: int, key: int) -> np.ndarray:
    return np.argsort(uniform01(np.array([key], np.uint64), 0, n)[0], kind="stable")


def _split(data: Dataset, accuracy: bool, fraction: float, key: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(data.x)
    n_valid = max(1, round(fraction * n))
    if n - n_valid < 1:
        raise AmzConfigError(f"{data.name}: {n} rows are too few to hold out a validation set "
                             f"(valid fraction {fraction}); add rows or give x_valid/y_valid")
    if accuracy:
        train, train_y, valid, valid_y = stratified_split(data.y, (1, 0), n - n_valid, n_valid,
                                                          key)
        return data.x[train], train_y, data.x[valid], valid_y
    order = _shuffle(n, key)
    train, valid = order[: n - n_valid], order[n - n_valid:]
    return data.x[train], data.y[train], data.x[valid], data.y[valid]


def _take(data: Dataset, what: str, wanted: int, available: int) -> int:
    if wanted > available:
        raise AmzConfigError(f"{data.name}: {wanted} {what} examples requested but the data has "
                             f"{available}; lower --{what} (0 uses all)")
    return wanted or available


def build_tasks(spec: TaskSpec) -> TaskSet:
    """One task per data seed: with an explicit validation set, every task uses it (so only
    one task is allowed); otherwise each task holds out its own seeded random rows."""
    assert spec.path is not None  # TaskSpec.validate
    fraction = VALID_FRACTION if spec.valid_fraction is None else spec.valid_fraction
    data = load(spec.path)
    kind = eval_type(data, spec.eval_type)
    if spec.features not in (0, data.features):
        raise AmzConfigError(f"{data.name}: the data has {data.features} features but "
                             f"{spec.features} were requested; omit --features (0 uses the "
                             "data's)")
    if data.x_valid is not None and spec.num_tasks > 1:
        raise AmzConfigError(f"{data.name}: has a fixed validation set, so it makes one task; "
                             "resampled splits (tasks > 1) need data without one")
    fixed_valid = 0 if data.x_valid is None else len(data.x_valid)
    resources.require_tasks(spec.num_tasks, spec.num_train or len(data.x),
                            spec.num_valid or fixed_valid, data.features, spec.epochs)
    _, data_seeds = spec.seeds()
    tx, ty, vx, vy, orders = [], [], [], [], []
    for d_seed in data_seeds:
        if data.x_valid is None or data.y_valid is None:
            x, y, x_valid, y_valid = _split(data, kind == "accuracy", fraction,
                                            derive_key(d_seed, SPLIT))
        else:
            order = _shuffle(len(data.x), derive_key(d_seed, SPLIT))
            x, y, x_valid, y_valid = data.x[order], data.y[order], data.x_valid, data.y_valid
        n = _take(data, "train", spec.num_train, len(x))
        nv = _take(data, "valid", spec.num_valid, len(x_valid))
        tx.append(x[:n])
        ty.append(y[:n])
        vx.append(x_valid[:nv])
        vy.append(y_valid[:nv])
        shuffles = permutation(derive_key(d_seed, SHUFFLE), n, spec.epochs - 1)
        orders.append(np.stack([np.arange(n), *shuffles]))
    return TaskSet(
        name=f"data:{data.name}",
        eval_type=kind,
        train_x=np.stack(tx),
        train_y=np.stack(ty),
        valid_x=np.stack(vx),
        valid_y=np.stack(vy),
        train_order=np.stack(orders),
        task_ids=np.arange(spec.first_task_id, spec.first_task_id + spec.num_tasks),
    )

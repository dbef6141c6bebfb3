"""CIFAR-10 from a local folder in its standard python format (the ``cifar-10-batches-py``
folder of https://www.cs.toronto.edu/~kriz/cifar.html): pickles ``data_batch_1`` ..
``data_batch_5`` and ``test_batch``, each a dict with ``b"data"``, an N×3072 uint8 array
(1024 red, 1024 green, 1024 blue values per image), and ``b"labels"``, N class ids 0..9.

The reference builds its tasks from the training images only (the train split), so the
tasks use the five training batches. The pickles are read with an unpickler that accepts only
the NumPy array types such files contain, so a crafted file cannot run code."""

from __future__ import annotations

import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np

from amzc.errors import AmzConfigError
from amzc.tasks.projected import NUM_CLASSES, ImageSource

PIXELS = 32 * 32 * 3
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
SUBFOLDER = "cifar-10-batches-py"  # the archive's folder, accepted one level down

# What a CIFAR-10 pickle may reference (NumPy moved its core module in 2.0).
_ALLOWED = {
    (module, name)
    for module in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
     ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def resolve_dir(data_dir: str | Path | None) -> Path:
    """The folder holding the batch files: ``data_dir`` itself or its cifar-10-batches-py."""
    if data_dir is None:
        raise AmzConfigError("task cifar10 needs --data-dir DIR, the folder with CIFAR-10's "
                             "python batches (data_batch_1..5, test_batch)")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise AmzConfigError(f"{path}: no such folder (the CIFAR-10 --data-dir)")
    if not (path / TRAIN_FILES[0]).exists() and (path / SUBFOLDER).is_dir():
        path = path / SUBFOLDER
    return path


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: (pixels (N, 3072) uint8, labels (N,) int64), checked."""
    if not path.is_file():
        raise AmzConfigError(f"{path}: missing CIFAR-10 batch file (the python version has "
                             f"{', '.join(TRAIN_FILES + TEST_FILES)})")
    try:
        with path.open("rb") as f:
            batch = _ArraysOnly(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError) as e:
        raise AmzConfigError(f"{path}: not a CIFAR-10 python batch (unpickling failed: {e})"
                             ) from None
    if not isinstance(batch, dict):
        raise AmzConfigError(f"{path}: not a CIFAR-10 python batch (holds a "
                             f"{type(batch).__name__}, expected a dict)")
    for key in (b"data", b"labels"):
        if key not in batch:
            found = ", ".join(repr(k) for k in batch) or "nothing"
            raise AmzConfigError(f"{path}: no {key!r} entry (found {found})")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != PIXELS:
        what = (f"a {data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray)
                else f"a {type(data).__name__}")
        raise AmzConfigError(f"{path}: b'data' must be a uint8 array of shape (N, {PIXELS}), "
                             f"found {what}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise AmzConfigError(f"{path}: b'labels' must be a list of integers") from None
    if labels.shape != (len(data),):
        raise AmzConfigError(f"{path}: {len(data)} images but b'labels' has shape "
                             f"{labels.shape}; expected {len(data)} labels")
    bad = np.flatnonzero((labels < 0) | (labels >= NUM_CLASSES))
    if len(bad):
        raise AmzConfigError(f"{path}: label {labels[bad[0]]} at position {bad[0]} is not a "
                             f"class id in 0..{NUM_CLASSES - 1}")
    return data, labels


def load(data_dir: str | Path | None, split: str = "train") -> ImageSource:
    """The five training batches (``split="train"``) or the test batch (``"test"``)."""
    names = {"train": TRAIN_FILES, "test": TEST_FILES}.get(split)
    if names is None:
        raise AmzConfigError(f"unknown CIFAR-10 split {split!r}; use train or test")
    folder = resolve_dir(data_dir)
    stamps = tuple((folder / n).stat().st_mtime_ns if (folder / n).exists() else -1
                   for n in names)
    return _load(str(folder.resolve()), names, stamps)


@lru_cache(maxsize=2)
def _load(folder: str, names: tuple[str, ...], stamps: tuple[int, ...]) -> ImageSource:
    # ``stamps`` is part of the cache key only: a rewritten file is read again.
    batches = [read_batch(Path(folder) / n) for n in names]
    return ImageSource("cifar10", np.concatenate([b[0] for b in batches]),
                       np.concatenate([b[1] for b in batches]))

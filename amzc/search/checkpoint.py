"""Checkpoints of a run folder: everything the search needs to continue exactly where it was
(population, fitness, RNG state, FEC cache, hurdle, counters, log offset), pickled and
written atomically (temporary file, fsync, rename), so a kill at any moment leaves either
the previous or the new checkpoint, never half of one."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from amzc.errors import AmzCheckpointError

CHECKPOINT = "checkpoint.pkl"
FORMAT = 2  # 2: FEC keys are 64-bit hashes (amzc/fec.py), no longer BLAKE2b digests


def save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    path = folder / CHECKPOINT
    tmp = folder / (CHECKPOINT + ".tmp")
    with tmp.open("wb") as f:
        pickle.dump({"format": FORMAT, **state}, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(folder)


def load_checkpoint(folder: Path) -> dict[str, Any]:
    path = folder / CHECKPOINT
    if not path.is_file():
        raise AmzCheckpointError(f"{folder}: no checkpoint to resume from ({CHECKPOINT} "
                                 "is missing)")
    try:
        with path.open("rb") as f:
            state = pickle.load(f)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user problem
        raise AmzCheckpointError(f"{path}: cannot read the checkpoint: {e}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise AmzCheckpointError(f"{path}: not a checkpoint of this amzc version")
    return state


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

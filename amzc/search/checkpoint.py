"""Checkpoints of a run folder: everything the search needs to continue exactly where it was
(population, fitness, RNG state, FEC cache, hurdle, counters, log offset), pickled and
written atomically (temporary file, fsync, rename), so a kill at any moment leaves either
the previous or the new checkpoint, never half of one.

Loading runs no code a run folder brings: the unpickler admits only amzc's own state classes
(its dataclasses and enums, whose construction only stores values), the few amzc functions
that rebuild state (listed below) and plain containers; anything else, such as ``os.system``,
is refused before it is called."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import os
import pickle
from pathlib import Path
from typing import Any

from amzc.errors import AmzCheckpointError
from amzc.search.runfolder import start_over

CHECKPOINT = "checkpoint.pkl"
FORMAT = 2  # 2: FEC keys are 64-bit hashes (amzc/fec.py), no longer BLAKE2b digests

# functions named by __reduce__ methods of amzc's state (an op by its id, an FEC cache from
# its entries): each builds a value from plain data and does nothing else
# (amzc.search.fec: where restore_cache lived before amzc.fec; older checkpoints name it)
_RESTORERS = {("amzc.ops", "op_by_id"), ("amzc.fec", "restore_cache"),
              ("amzc.search.fec", "restore_cache")}
# plain values from outside amzc: typed arrays (population fitness), containers
_PLAIN = {("array", "array"), ("array", "_array_reconstructor"),
          ("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
          ("builtins", "complex"), ("builtins", "bytearray")}


class _StateUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _PLAIN:
            return super().find_class(module, name)
        # a dotted name would reach past the allowed object (e.g. a method's __globals__)
        if (module == "amzc" or module.startswith("amzc.")) and "." not in name:
            try:
                found = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):
                raise _Refused(module, name, "which this amzc version does not have") from None
            if (module, name) in _RESTORERS or _is_state_class(found):
                return found
        raise _Refused(module, name, "which is no part of amzc's search state")


def _is_state_class(found: Any) -> bool:
    return isinstance(found, type) and (dataclasses.is_dataclass(found)
                                        or issubclass(found, enum.Enum))


class _Refused(Exception):
    def __init__(self, module: str, name: str, why: str) -> None:
        super().__init__(f"it refers to {module}.{name}, {why}")


def save_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    path = folder / CHECKPOINT
    tmp = folder / (CHECKPOINT + ".tmp")
    try:
        with tmp.open("wb") as f:
            pickle.dump({"format": FORMAT, **state}, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a second Ctrl-C included: the previous checkpoint stays, alone
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def load_checkpoint(folder: Path) -> dict[str, Any]:
    path = folder / CHECKPOINT
    if not path.is_file():
        raise AmzCheckpointError(f"{folder}: no checkpoint to resume from ({CHECKPOINT} "
                                 "is missing)")
    try:
        with path.open("rb") as f:
            state = _StateUnpickler(f).load()
    except _Refused as e:
        raise AmzCheckpointError(
            f"{path}: refused to load: {e}. A checkpoint holds nothing else, so this file "
            "was damaged or made to run code; nothing in it was run. To go on, "
            f"{start_over(folder)}") from None
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user problem
        raise AmzCheckpointError(f"{path}: cannot read the checkpoint ({e}); it is damaged. "
                                 f"The run cannot continue; {start_over(folder)}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise AmzCheckpointError(f"{path}: not a checkpoint of this amzc version; "
                                 f"{start_over(folder)}")
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

"""What the machine can hold. Sizes a user chooses (examples, features, tasks, memory) are
checked here before any array is allocated, so that a size too large for this machine is one
message naming the size, not a NumPy MemoryError or a machine driven into swap. Paths a user
chooses for output are checked here too, before a run spends time on a result it cannot
write."""

from __future__ import annotations

import os
import resource
from pathlib import Path

from amzc.errors import AmzConfigError, AmzResourceError
from amzc.syntax import MemoryConfig

FLOAT = 8  # bytes of a float64, and of the int64 example orders
# Building tasks holds each task's generated examples, their stack, and the train/valid copies:
# about three copies of the task data at the peak.
TASK_COPIES = 3
# The NumPy backend holds the memory, a snapshot of it for aborted tasks, and temporaries of
# the same shape: about three copies of the memory.
MEMORY_COPIES = 3

_MEMINFO = Path("/proc/meminfo")
_CGROUP = Path("/sys/fs/cgroup")


def available_bytes() -> int | None:
    """Memory this process may still allocate: the least of the kernel's estimate of available
    RAM, the cgroup (container) limit left, and the address-space limit (``ulimit -v``); None
    where none of these can be read."""
    limits = [_meminfo_available(), _cgroup_left()]
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    known = [n for n in limits if n is not None]
    return min(known) if known else None


def _meminfo_available() -> int | None:
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other Unixes
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def resident_bytes(pid: int | str = "self") -> int:
    """A process's resident bytes (this process's by default); 0 where /proc is missing."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _cgroup_left() -> int | None:
    try:
        limit = (_CGROUP / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((_CGROUP / "memory.current").read_text())
    except (OSError, ValueError):
        return None


def human(nbytes: float) -> str:
    """1536 → '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"):
        if nbytes < 1024 or unit == "YiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def require(nbytes: int, what: str, sizes: str, lower: str) -> None:
    """Refuse, before allocating, ``nbytes`` for ``what`` (of ``sizes``) if this machine cannot
    hold them; ``lower`` names the options that shrink it."""
    available = available_bytes()
    if available is not None and nbytes > available:
        raise AmzResourceError(f"{what} needs about {human(nbytes)} of memory, more than the "
                               f"{human(available)} available: {sizes}; lower {lower}")


def task_bytes(num_tasks: int, num_train: int, num_valid: int, features: int,
               epochs: int) -> int:
    """Peak bytes of building a task set of these sizes."""
    examples = num_train + num_valid
    data = examples * (features + 1) * FLOAT  # features and label of every example
    orders = epochs * num_train * FLOAT
    return num_tasks * (TASK_COPIES * data + orders)


def require_tasks(num_tasks: int, num_train: int, num_valid: int, features: int,
                  epochs: int) -> None:
    """Refuse a task set this machine cannot hold, naming its sizes."""
    require(task_bytes(num_tasks, num_train, num_valid, features, epochs), "the task data",
            f"{num_tasks:,} task(s) × ({num_train:,} train + {num_valid:,} valid examples) × "
            f"F={features:,}, {epochs:,} epoch(s)", "--train/--valid, --features, --tasks or "
            "--epochs (in a config: num_train, num_valid, features, num_tasks, epochs)")


def memory_bytes(memory: MemoryConfig, features: int, num_tasks: int) -> int:
    """Peak bytes of the memory of ``num_tasks`` tasks evaluated together."""
    per_task = (memory.scalars + memory.vectors * features
                + memory.matrices * features * features) * FLOAT
    return MEMORY_COPIES * num_tasks * per_task


def require_memory(memory: MemoryConfig, features: int, num_tasks: int) -> None:
    """Refuse a memory configuration this machine cannot hold for ``num_tasks`` tasks."""
    require(memory_bytes(memory, features, num_tasks), "the memory of the programs",
            f"memory {memory} (scalars, vectors of F={features:,}, matrices of F×F) × "
            f"{num_tasks:,} task(s)", "--memory, --features or --tasks (in a config: [memory], "
            "features, num_tasks)")


def require_folder(path: Path, what: str) -> None:
    """Refuse a folder to write into (``what`` names the option) that is a file or lies
    under one; a folder that does not exist yet is fine."""
    for existing in (path, *path.parents):
        if existing.is_dir():
            return
        if existing == path and path.exists():
            raise AmzConfigError(f"{what} {path}: is a file, not a folder")
        if existing.exists():
            raise AmzConfigError(f"{what} {path}: cannot be a folder, {existing} is a file")


def require_output_file(path: Path, what: str) -> None:
    """Refuse a file to write (``what`` names the option) that is a folder or whose folder
    cannot be created."""
    if path.is_dir():
        raise AmzConfigError(f"{what} {path}: is a folder; give a file name")
    require_folder(path.parent, what)

"""What guards a run folder while a run writes it: the lock that keeps a second writer out,
and the signals that stop a run the way Ctrl-C does (a checkpoint first). Single-population
and island runs share both (docs/evolution.md, "The run folder")."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from amzc.errors import AmzRunFolderBusy

LOCK_FILE = "lock"

# Signals that end a run after a checkpoint: Ctrl-C, and what `kill`, `timeout`, Slurm,
# `docker stop` (SIGTERM) and a closed terminal (SIGHUP) send.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_held: dict[Path, IO[str]] = {}  # folder → its open lock file, for this process's runs


def lock(folder: Path) -> None:
    """Make this process the only writer of ``folder`` until :func:`unlock` or its exit.

    The lock is an ``flock`` on ``folder/lock``: the kernel drops it when the process ends,
    however it ends (a kill -9 included), so a lock is never left stale. Locking a folder this
    process already holds does nothing."""
    key = folder.resolve()
    if key in _held:
        return
    file = (folder / LOCK_FILE).open("a+", encoding="utf-8")
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        holder = file.read().strip() or "unknown"
        file.close()
        raise AmzRunFolderBusy(
            f"{folder}: another amzc process (pid {holder}) is writing this run folder; "
            "wait for it to end, or stop it (Ctrl-C or kill, which checkpoint) and then "
            f"continue with: amzc evolve --resume {folder}") from None
    file.seek(0)
    file.truncate()
    file.write(f"{os.getpid()}\n")  # for the message a second writer gets
    file.flush()
    _held[key] = file


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """:func:`lock` the folder for what follows, and release it if that fails."""
    lock(folder)
    try:
        yield
    except BaseException:
        unlock(folder)
        raise


def start_over(folder: Path) -> str:
    """The next step when a run in ``folder`` cannot continue."""
    return f"start the run over with: amzc evolve --config CONFIG --out {folder} --force"


def unlock(folder: Path) -> None:
    """Release the lock :func:`lock` took (the file stays: removing it would let two
    processes lock two different files of the same name)."""
    file = _held.pop(folder.resolve(), None)
    if file is not None:
        file.close()


@contextmanager
def stop_signals(request_stop: Callable[[int], None]) -> Iterator[None]:
    """While inside: the first stop signal calls ``request_stop(signum)`` (the run then
    checkpoints and ends); a second one raises KeyboardInterrupt at once. Handlers can only be
    installed in the main thread; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    requested = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal requested
        if requested:
            raise KeyboardInterrupt
        requested = True
        request_stop(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)

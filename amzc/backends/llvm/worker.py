"""The compile worker: a child process that builds, optimizes and code-generates programs and
sends back object code, so that llvmlite's per-run pass-manager leak (jit.py) stays out of the
evaluating process. The worker is recycled every :data:`RECYCLE_AFTER` compiles, or once its
RSS passes :data:`RECYCLE_BYTES`, which bounds its memory too (docs/llvm.md, "Memory").

Protocol, over the child's stdin/stdout: 8-byte little-endian length, then a pickle. Requests
are ``(shape, program)`` (or None: exit); replies ``(True, object code)`` or
``(False, message)``."""

from __future__ import annotations

import atexit
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from amzc.resources import resident_bytes as _rss
from amzc.syntax import Program

from .layout import Shape

RECYCLE_AFTER = 100  # compiles per worker (~0.4 MB leaked each; start-up ~0.25 s, 117 MB)
# ... or sooner, once its RSS passes this: a Figure 5 program's compile grows it by ~60 MB
RECYCLE_BYTES = 512 << 20
_LENGTH = struct.Struct("<Q")


def _write(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("compile worker closed its pipe")
    (size,) = _LENGTH.unpack(head)
    return pickle.loads(stream.read(size))


class WorkerError(RuntimeError):
    """The compile worker failed on a program."""


class CompileWorker:
    """A handle on one worker process at a time, restarted every ``recycle_after`` compiles
    or when it dies."""

    def __init__(self, recycle_after: int = RECYCLE_AFTER) -> None:
        self.recycle_after = recycle_after
        self.process: subprocess.Popen[bytes] | None = None
        self.served = 0
        self.started = 0
        self.owner = os.getpid()  # a forked child must not talk to (or stop) our worker
        atexit.register(self.close)

    def _start(self) -> None:
        self.close()
        root = str(Path(__file__).resolve().parents[3])  # the folder holding the package
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen([sys.executable, "-m", "amzc.backends.llvm.compile_server"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.served = 0
        self.started += 1

    def object_code(self, program: Program, shape: Shape) -> bytes:
        for attempt in (1, 2):
            if (self.process is None or self.served >= self.recycle_after
                    or _rss(self.process.pid) > RECYCLE_BYTES):
                self._start()
            assert self.process is not None and self.process.stdin and self.process.stdout
            try:
                _write(self.process.stdin, (shape, program))
                ok, payload = _read(self.process.stdout)
            except (EOFError, BrokenPipeError, OSError):
                self.process = None  # died: start a fresh one and try once more
                if attempt == 2:
                    raise
                continue
            self.served += 1
            if not ok:
                raise WorkerError(payload)
            return payload
        raise AssertionError("unreachable")

    def close(self) -> None:
        if os.getpid() != self.owner:
            self.process = None
            return
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin:
                _write(process.stdin, None)
                process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            process.kill()
            process.wait()
        finally:
            if process.stdout:
                process.stdout.close()

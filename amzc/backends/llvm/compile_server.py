"""The compile worker's process (started by amzc/backends/llvm/worker.py's CompileWorker):
it reads (shape, program) requests and replies with object code. A module of its own so that
the client side, which jit.py uses, does not import the JIT back."""

from __future__ import annotations

import os
import sys
from typing import IO

from .jit import default_jit
from .worker import _read, _write


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    jit = default_jit()
    while True:
        try:
            message = _read(requests)
        except EOFError:
            return
        if message is None:
            return
        shape, program = message
        try:
            _write(replies, (True, jit.object_code(program, shape)))
        except Exception as e:  # report it to the parent rather than dying
            _write(replies, (False, f"{type(e).__name__}: {e}"))


def main() -> None:
    # the protocol owns stdout; anything else printed goes to stderr
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()

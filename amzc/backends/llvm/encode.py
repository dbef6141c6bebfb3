"""Programs as the interpreter reads them (format: amzc/backends/llvm/codegen.py, HEADER_BYTES).

Encoding is on the search's hot path: one packing call per instruction, through a struct
specialised for the op's fields, about 0.3 µs per instruction. Nothing is cached: a cache by
instruction or by component costs about as much as packing (dict lookups, identity checks)
and its entries keep the garbage collector busy in a process full of programs. Records hold
the program's own addresses, so they do not depend on the Shape; the interpreter turns
addresses into slots."""

from __future__ import annotations

import struct
from collections.abc import Callable

from amzc.ops import NO_OP, OPS, Op
from amzc.syntax import Instruction, Program

from .codegen import HEADER_BYTES, RECORD_BYTES

_HEADER = struct.Struct("<iii20x")
assert _HEADER.size == HEADER_BYTES


def _packer(op: Op) -> Callable[..., bytes] | None:
    """pack(op id, out, *inputs, *index, *data) → one record; None for no_op."""
    if op is NO_OP:
        return None
    ints = len(op.inputs) + op.n_index
    floats = op.n_data
    record = struct.Struct("<ii" + "i" * ints + "4x" * (2 - ints) + "d" * floats
                           + "8x" * (2 - floats))
    assert record.size == RECORD_BYTES and ints <= 2 and floats <= 2
    return record.pack


_PACK = [_packer(op) for op in OPS]


def _component(instructions: tuple[Instruction, ...]) -> tuple[bytes, int]:
    records = []
    for ins in instructions:
        op = ins.op
        pack = _PACK[op.id]
        if pack is not None:
            records.append(pack(op.id, ins.out, *ins.inputs, *ins.index, *ins.data))
    return b"".join(records), len(records)


def pack_program(program: Program) -> bytes:
    """The header and one record per instruction, no-ops left out."""
    setup, n_setup = _component(program.setup)
    predict, n_predict = _component(program.predict)
    learn, n_learn = _component(program.learn)
    return b"".join((_HEADER.pack(n_setup, n_predict, n_learn), setup, predict, learn))

"""Programs as the interpreter reads them (format: amzc/backends/llvm/codegen.py, HEADER_BYTES).

Encoding is on the search's hot path: one packing call per instruction, through a struct
specialised for the op's fields (measured: about 0.3 µs per instruction; caching records by
instruction costs as much as packing them). Records hold the program's own addresses, so they
do not depend on the Shape; the interpreter turns addresses into slots."""

from __future__ import annotations

import struct
from collections.abc import Callable

from amzc.ops import NO_OP, OPS, Op
from amzc.syntax import Program

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


def encode(program: Program) -> bytes:
    """The header and one record per instruction, no-ops left out."""
    records: list[bytes] = []
    append = records.append
    counts = []
    for instructions in (program.setup, program.predict, program.learn):
        before = len(records)
        for ins in instructions:
            op = ins.op
            pack = _PACK[op.id]
            if pack is not None:
                append(pack(op.id, ins.out, *ins.inputs, *ins.index, *ins.data))
        counts.append(len(records) - before)
    return _HEADER.pack(*counts) + b"".join(records)

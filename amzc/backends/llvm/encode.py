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


def _packer(op: Op) -> Callable[[Instruction], bytes] | None:
    """pack(instruction) → its record; None for no_op. Ops without constant indices or data
    (most of them) read their fields directly, which is faster than unpacking tuples."""
    if op is NO_OP:
        return None
    ints = len(op.inputs) + op.n_index
    floats = op.n_data
    layout = struct.Struct("<ii" + "i" * ints + "4x" * (2 - ints) + "d" * floats
                           + "8x" * (2 - floats))
    assert layout.size == RECORD_BYTES and ints <= 2 and floats <= 2
    record, op_id = layout.pack, op.id
    if not op.n_index and not floats and len(op.inputs) == 2:
        return lambda ins: record(op_id, ins.out, ins.inputs[0], ins.inputs[1])
    if not op.n_index and not floats and len(op.inputs) == 1:
        return lambda ins: record(op_id, ins.out, ins.inputs[0])
    return lambda ins: record(op_id, ins.out, *ins.inputs, *ins.index, *ins.data)


_PACK = [_packer(op) for op in OPS]


def pack_program(program: Program) -> bytes:
    """The header and one record per instruction, no-ops left out."""
    records: list[bytes] = []
    append = records.append
    counts = []
    for instructions in (program.setup, program.predict, program.learn):
        before = len(records)
        for ins in instructions:
            pack = _PACK[ins.op.id]
            if pack is not None:
                append(pack(ins))
        counts.append(len(records) - before)
    return _HEADER.pack(*counts) + b"".join(records)

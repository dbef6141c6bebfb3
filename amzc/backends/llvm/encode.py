"""Programs as the interpreter reads them (format: amzc/backends/llvm/codegen.py, HEADER_BYTES).

Encoding is on the search's hot path: one packing call per instruction, through a struct
specialised for the op's fields (measured: about 0.3 µs per instruction; caching records by
instruction costs as much as packing them, so the cache works per component instead).
Records hold the program's own addresses, so they do not depend on the Shape; the
interpreter turns addresses into slots."""

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


CACHE_LIMIT = 32768
# Packed components by the identity of their instruction tuple: a mutated child shares two of
# its three component tuples with its parent. Entries keep their tuple alive, so an id is never
# reused while cached.
_COMPONENTS: dict[int, tuple[tuple[Instruction, ...], bytes, int]] = {}


def _component(instructions: tuple[Instruction, ...]) -> tuple[bytes, int]:
    cached = _COMPONENTS.get(id(instructions))
    if cached is not None and cached[0] is instructions:
        return cached[1], cached[2]
    records = []
    for ins in instructions:
        op = ins.op
        pack = _PACK[op.id]
        if pack is not None:
            records.append(pack(op.id, ins.out, *ins.inputs, *ins.index, *ins.data))
    packed = b"".join(records)
    if len(_COMPONENTS) >= CACHE_LIMIT:
        _COMPONENTS.clear()
    _COMPONENTS[id(instructions)] = (instructions, packed, len(records))
    return packed, len(records)


def encode(program: Program) -> bytes:
    """The header and one record per instruction, no-ops left out."""
    setup, n_setup = _component(program.setup)
    predict, n_predict = _component(program.predict)
    learn, n_learn = _component(program.learn)
    return b"".join((_HEADER.pack(n_setup, n_predict, n_learn), setup, predict, learn))

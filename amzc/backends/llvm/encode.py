"""Programs as the interpreter reads them (format: amzc/backends/llvm/codegen.py, HEADER_BYTES).

Encoding is on the search's hot path. The record of each instruction object (packed through a
struct specialised for the op's fields) is kept in a bounded identity cache here, not on the
object: the search hands out one shared object per data-free instruction and a child shares
its parent's objects, so a new body is mostly a join of records already made. Encoded
function bodies are cached as well, by the identity of their instruction tuple, so a child
reuses the encodings of the functions its mutation left alone. Records hold the program's own
addresses, so they do not depend on the Shape; the interpreter turns addresses into slots."""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import repeat

from amzc.caches import BoundedCache
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

# The records of instruction objects, and the encoded bodies (function tuples), by identity.
# The search hands out one shared object per data-free instruction and a child shares its
# parent's objects and two of its three bodies, so a child is encoded mostly from entries
# made for its ancestors. Clearing costs one re-encoding of the population (~20,000 records).
RECORD_CACHE = 1 << 14
BODY_CACHE = 4096
_RECORDS: BoundedCache[bytes] = BoundedCache(RECORD_CACHE)
_BODIES: BoundedCache[tuple[bytes, int]] = BoundedCache(BODY_CACHE)


def record(ins: Instruction) -> bytes:
    """An instruction's record (b"" for a no-op)."""
    pack = _PACK[ins.op.id]
    return b"" if pack is None else pack(ins)


# What a record not in the cache reads as in the first join: one byte, so a body with k < 32
# missing records has a length that is no multiple of RECORD_BYTES (a test of the join's length
# instead of a scan of the records for None).
_MISSING = b"\0"


def _encode(body: tuple[Instruction, ...]) -> tuple[bytes, int]:
    """(the records of a body not in the cache, their count); the entry goes into the cache.
    The records are looked up and joined by loops in C; when one is missing (a mutation's
    new instruction) Python packs it and joins again."""
    code = b"".join(map(_RECORDS.get, map(id, body), repeat(_MISSING)))
    if len(code) % RECORD_BYTES or len(body) >= RECORD_BYTES:
        get, put, records = _RECORDS.get, _RECORDS.put_object, []
        for ins in body:
            r = get(id(ins))
            if r is None:
                pack = _PACK[ins.op.id]  # record(ins), inlined: once per new instruction
                r = put(ins, b"" if pack is None else pack(ins))
            records.append(r)
        code = b"".join(records)
    return _BODIES.put_object(body, (code, len(code) // RECORD_BYTES))


def pack_program(program: Program) -> bytes:
    """The header and one record per instruction, no-ops left out."""
    # the cache looked up here, not in a helper: a search child finds two of its three
    # bodies. An entry holds its body, so a body found by id is that very tuple (no other
    # live object can have its id).
    get = _BODIES.get
    setup, predict, learn = program.setup, program.predict, program.learn
    a = get(id(setup)) or _encode(setup)
    b = get(id(predict)) or _encode(predict)
    c = get(id(learn)) or _encode(learn)
    return b"".join((_HEADER.pack(a[1], b[1], c[1]), a[0], b[0], c[0]))

"""Programs as the interpreter reads them (format: amzc/backends/llvm/codegen.py, HEADER_BYTES).

Encoding is on the search's hot path. The records of instruction objects (each packed
through a struct specialised for the op's fields) and the encoded function bodies are kept
here, in bounded identity caches (amzc.caches): the search hands out one shared object per
data-free instruction, a child shares its parent's instruction objects and two of its three
bodies, so a child is encoded mostly from entries made for its ancestors. The AST itself holds
no backend state. Records hold the program's own addresses, so they do not depend on the
Shape; the interpreter turns addresses into slots."""

from __future__ import annotations

import struct
from collections.abc import Callable

from amzc import caches, ops
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


_PACK: list[Callable[[Instruction], bytes] | None] = []
ops.on_change(lambda: _PACK.__setitem__(slice(None), [_packer(op) for op in OPS]))


def record(ins: Instruction) -> bytes:
    """An instruction's record (b"" for a no-op)."""
    pack = _PACK[ins.op.id]
    return b"" if pack is None else pack(ins)


# Both caches take the memory budget's "encoded" share (amzc.caches), half each. An encoded
# body's entry holds its tuple, the records and two slots (~512 bytes for Figure 5's bodies);
# an instruction's, its 40-byte record and a place in the held list (~160 bytes).
BODY_ENTRY_BYTES = 512
RECORD_ENTRY_BYTES = 160
_BODIES: BoundedCache[tuple[bytes, int]] = BoundedCache()
_RECORDS: BoundedCache[bytes] = BoundedCache()


@caches.on_budget
def _size() -> None:
    share = caches.share_bytes("encoded") / 2
    _BODIES.resize(caches.entries(share, BODY_ENTRY_BYTES))
    _RECORDS.resize(caches.entries(share, RECORD_ENTRY_BYTES))


def _encode(body: tuple[Instruction, ...]) -> tuple[bytes, int]:
    """(the records of a body not in the cache, their count); the entry goes into the cache.
    The records are looked up in C; a child has about one new instruction object, packed
    here and remembered."""
    records = list(map(_RECORDS.get, map(id, body)))
    try:
        code = b"".join(records)
    except TypeError:  # a None: an instruction object not seen (or no longer cached)
        put, find, i = _RECORDS.put_object, records.index, -1
        for _ in range(records.count(None)):
            i = find(None, i + 1)
            ins = body[i]
            records[i] = put(ins, record(ins))
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

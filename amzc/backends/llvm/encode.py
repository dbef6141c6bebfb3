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


def _packer(op: Op) -> Callable[[Instruction], bytes]:
    """pack(instruction) → its record (b"" for no_op). Ops without constant indices or data
    (most of them) read their fields directly, which is faster than unpacking tuples."""
    if op is NO_OP:
        return lambda ins: b""
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


_PACK: list[Callable[[Instruction], bytes]] = []
ops.on_change(lambda: _PACK.__setitem__(slice(None), [_packer(op) for op in OPS]))


def record(ins: Instruction) -> bytes:
    """An instruction's record (b"" for a no-op)."""
    return _PACK[ins.op.id](ins)


# The encoder's two caches, by identity, in the memory budget's "encoded" share
# (amzc.caches): encoded bodies (80 %; an entry holds its body tuple, the records and two
# slots, ~512 bytes for Figure 5's bodies) and instruction records (20 %; an entry holds its
# instruction and a 32-byte record, ~160 bytes).
BODY_ENTRY_BYTES = 512
RECORD_ENTRY_BYTES = 160
_BODIES: BoundedCache[tuple[bytes, int]] = BoundedCache()
_RECORDS: BoundedCache[bytes] = BoundedCache()


@caches.on_budget
def _size() -> None:
    share = caches.share_bytes("encoded")
    _BODIES.resize(caches.entries(0.8 * share, BODY_ENTRY_BYTES))
    _RECORDS.resize(caches.entries(0.2 * share, RECORD_ENTRY_BYTES))


def _encode(body: tuple[Instruction, ...]) -> tuple[bytes, int]:
    """(the records of a body not in the cache, their count); the entry goes into the cache.
    The search hands out one shared object per data-free instruction and a child shares its
    parent's instruction objects, so most records are found (a loop in C); the rest are
    packed and remembered."""
    records = list(map(_RECORDS.get, map(id, body)))
    if None in records:
        put, i = _RECORDS.put_object, -1
        for _ in range(records.count(None)):
            i = records.index(None, i + 1)
            ins = body[i]
            records[i] = put(ins, _PACK[ins.op.id](ins))
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

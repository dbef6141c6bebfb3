"""Programs as the interpreter reads them (format: amzc/backends/llvm/codegen.py, HEADER_BYTES).

Encoding is on the search's hot path. Each instruction object keeps its own record
(``Instruction.encoded``, packed the first time through a struct specialised for the op's
fields; keeping it in an identity cache here instead measured 5-8 % slower on the demo's
search, one dict lookup per instruction against an attribute read): the search hands out one
shared object per data-free instruction and a child shares its parent's objects, so a new body
is mostly a join of records already made. Encoded function bodies are cached as well, by the
identity of their instruction tuple, so a child reuses the encodings of the functions its
mutation left alone. Records hold the program's own addresses, so they do not depend on the
Shape; the interpreter turns addresses into slots."""

from __future__ import annotations

import struct
from collections.abc import Callable
from operator import attrgetter

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
_ENCODED = attrgetter("encoded")


def record(ins: Instruction) -> bytes:
    """An instruction's record (b"" for a no-op): ``Instruction.encoded`` on first read."""
    pack = _PACK[ins.op.id]
    return b"" if pack is None else pack(ins)


Instruction.encoder = record

# Encoded bodies kept by identity, in the memory budget's "encoded" share (amzc.caches): an
# entry holds its body tuple, the records and two slots, ~512 bytes for Figure 5's bodies.
BODY_ENTRY_BYTES = 512
_BODIES: BoundedCache[tuple[bytes, int]] = BoundedCache()


@caches.on_budget
def _size() -> None:
    _BODIES.resize(caches.entries(caches.share_bytes("encoded"), BODY_ENTRY_BYTES))


def _encode(body: tuple[Instruction, ...]) -> tuple[bytes, int]:
    """(the records of a body not in the cache, their count), joined from the instructions'
    own records (``Instruction.encoded``, packed by :func:`record` the first time an
    instruction object is read); the entry goes into the cache."""
    code = b"".join(map(_ENCODED, body))  # a loop in C; a new instruction packs itself
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

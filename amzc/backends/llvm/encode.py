"""Programs as the interpreter reads them (format: amzc/backends/llvm/codegen.py, HEADER_BYTES).

Encoding is on the search's hot path, so each instruction is packed once per Shape and reused:
a mutated child shares all but one instruction object with its parent."""

from __future__ import annotations

import struct

from amzc.ops import NO_OP
from amzc.syntax import Instruction, Program

from .codegen import HEADER_BYTES, RECORD_BYTES
from .layout import Shape
from .lowering import draws

_RECORD = struct.Struct("<iiiidd")
_HEADER = struct.Struct("<iiii16x")
assert _RECORD.size == RECORD_BYTES and _HEADER.size == HEADER_BYTES

CACHE_LIMIT = 200_000


class Encoder:
    """Packs programs for one Shape; caches instruction records by identity."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self._records: dict[int, tuple[Instruction, bytes, int]] = {}

    def record(self, ins: Instruction) -> tuple[Instruction, bytes, int]:
        """(instruction, its packed record, random outputs it draws)."""
        shape, op = self.shape, ins.op
        slots = [shape.base(t, a) for t, a in zip(op.inputs, ins.inputs, strict=True)]
        fields = (slots + list(ins.index) + [0, 0])[:2]
        data = (list(ins.data) + [0.0, 0.0])[:2]
        out = shape.base(op.output, ins.out) if op.output is not None else 0
        packed = _RECORD.pack(op.id, out, fields[0], fields[1], data[0], data[1])
        entry = (ins, packed, draws(op, shape))
        if len(self._records) >= CACHE_LIMIT:
            self._records.clear()
        self._records[id(ins)] = entry
        return entry

    def encode(self, program: Program) -> bytes:
        parts: list[bytes] = [b""]
        counts = []
        predict_draws = 0
        records = self._records
        for part, which in enumerate((program.setup, program.predict, program.learn)):
            n = 0
            for ins in which:
                if ins.op is NO_OP:
                    continue
                entry = records.get(id(ins))
                if entry is None or entry[0] is not ins:
                    entry = self.record(ins)
                parts.append(entry[1])
                n += 1
                if part == 1:
                    predict_draws += entry[2]
            counts.append(n)
        parts[0] = _HEADER.pack(counts[0], counts[1], counts[2], predict_draws)
        return b"".join(parts)

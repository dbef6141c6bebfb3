"""Canonical renumbering and a structural key for programs.

Memory starts zeroed and only ``s0``, ``s1`` and ``v0`` have a role (docs/language.md), so two
programs that differ by a permutation of the other addresses of a type compute the same
predictions. Renumbering those addresses in order of first use (Setup, Predict, Learn; inputs
before the output) picks one representative of each class. After dead-code elimination, equal
keys mean bit-identical predictions, which lets the search reuse an FEC fingerprint without
running it (docs/evolution.md)."""

from __future__ import annotations

from dataclasses import replace

from amzc.ops import MATRIX, SCALAR, VECTOR
from amzc.passes.dce import eliminate_dead_code
from amzc.syntax import COMPONENTS, Program

# the first renumbered address of each type: s0, s1 and v0 keep their roles
_FIRST_FREE = {SCALAR: 2, VECTOR: 1, MATRIX: 0}
_RESERVED = {(SCALAR, 0), (SCALAR, 1), (VECTOR, 0)}

InstructionKey = tuple[int, int, tuple[int, ...], tuple[int, ...], tuple[float, ...]]
ProgramKey = tuple[tuple[InstructionKey, ...], ...]


class _Renamer:
    def __init__(self) -> None:
        self.names: dict[tuple[str, int], int] = {}
        self.next = dict(_FIRST_FREE)

    def __call__(self, kind: str, address: int) -> int:
        ref = (kind, address)
        if ref in _RESERVED:
            return address
        name = self.names.get(ref)
        if name is None:
            name = self.names[ref] = self.next[kind]
            self.next[kind] += 1
        return name


def renumber(program: Program) -> Program:
    """The same program with non-reserved addresses numbered in order of first use."""
    rename = _Renamer()
    parts = {}
    for component in COMPONENTS:
        body = []
        for ins in program.component(component):
            inputs = tuple(rename(t, a) for t, a in zip(ins.op.inputs, ins.inputs, strict=True))
            out = rename(ins.op.output, ins.out) if ins.op.output is not None else ins.out
            body.append(replace(ins, inputs=inputs, out=out))
        parts[component] = tuple(body)
    return Program(**parts, name=program.name)


def program_key(program: Program) -> ProgramKey:
    """A hashable key of the renumbered program (without simplification)."""
    rename = _Renamer()
    key = []
    for component in COMPONENTS:
        body = []
        for ins in program.component(component):
            op = ins.op
            inputs = tuple(rename(t, a) for t, a in zip(op.inputs, ins.inputs, strict=True))
            out = rename(op.output, ins.out) if op.output is not None else ins.out
            body.append((op.id, out, inputs, ins.index, ins.data))
        key.append(tuple(body))
    return tuple(key)


def structural_key(program: Program) -> ProgramKey:
    """Equal for programs whose live code is equal up to renumbering: such programs make
    identical predictions on every task."""
    return program_key(eliminate_dead_code(program))

"""Checks that need a configuration: addresses against the memory sizes, constant indices
against F, and (for search configs) the ops each component function may use.

Operand types were already settled by the parser, which cannot build an ill-typed
instruction."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from amzc.errors import AmzAddressError, AmzOpNotAllowedError, AmzSourceError
from amzc.ops import TYPE_NAMES, Op
from amzc.printer import print_instruction
from amzc.syntax import HEADERS, Component, Instruction, MemoryConfig, Program

_PLURALS = {"s": "scalars", "v": "vectors", "m": "matrices"}


def check(
    program: Program,
    memory: MemoryConfig,
    features: int,
    allowed_ops: Mapping[Component, Collection[Op]] | None = None,
    file: str | None = None,
) -> None:
    """Raise the first problem found, located at its instruction."""
    for component, ins in program.instructions():
        for kind, address in ins.addresses():
            size = memory.size(kind)
            if address >= size:
                raise _located(AmzAddressError, ins, component, file,
                               f"{kind}{address} is beyond the memory: it has {size} "
                               f"{TYPE_NAMES[kind] if size == 1 else _PLURALS[kind]} "
                               f"({kind}0..{kind}{size - 1})" if size else
                               f"{kind}{address} is beyond the memory: it has no "
                               f"{_PLURALS[kind]}",
                               hint=f"  raise the memory size with --memory (now {memory})")
        for i in ins.index:
            if i >= features:
                raise _located(AmzAddressError, ins, component, file,
                               f"index {i} is beyond the feature size F = {features} "
                               f"(indices are 0..{features - 1})")
        if allowed_ops is not None and ins.op not in allowed_ops.get(component, ()):
            raise _located(AmzOpNotAllowedError, ins, component, file,
                           f"{ins.op.name} is not allowed in {HEADERS[component]}")


def _located(cls: type[AmzSourceError], ins: Instruction, component: Component,
             file: str | None, message: str, hint: str | None = None) -> AmzSourceError:
    text = print_instruction(ins)
    if ins.pos is not None:
        return cls(f"{message} in '{text}'", file=file or ins.pos.file, line=ins.pos.line,
                   column=ins.pos.column, source_line=ins.pos.source_line or None, hint=hint)
    return cls(f"{message} in '{text}' ({HEADERS[component]})", file=file or "<program>", hint=hint)

"""Checks that need a configuration: the memory's size, addresses against the memory sizes,
constant indices against F, and (for search configs) the ops each component function may use.

Operand types were already settled by the parser, which cannot build an ill-typed
instruction."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from amzc.errors import AmzAddressError, AmzConfigError, AmzOpNotAllowedError, AmzSourceError
from amzc.ops import TYPE_NAMES, Op
from amzc.printer import print_instruction
from amzc.syntax import HEADERS, Component, Instruction, MemoryConfig, Program

_PLURALS = {"s": "scalars", "v": "vectors", "m": "matrices"}

# The most one task's memory may take. Every evaluation holds this per task at once (and the
# LLVM backend per SIMD lane), so a larger one could not be allocated; a program or --memory
# that asks for more is refused here, before anything is allocated.
MAX_MEMORY_BYTES = 1 << 30


def memory_bytes(memory: MemoryConfig, features: int) -> int:
    """The bytes one task's memory takes: a double per scalar, F per vector, F² per matrix."""
    return 8 * (memory.scalars + memory.vectors * features + memory.matrices * features**2)


def check(
    program: Program,
    memory: MemoryConfig,
    features: int,
    allowed_ops: Mapping[Component, Collection[Op]] | None = None,
    file: str | None = None,
) -> None:
    """Raise the first problem found, located at its instruction."""
    too_large = memory_bytes(memory, features) > MAX_MEMORY_BYTES
    for component, ins in program.instructions():
        for kind, address in ins.addresses():
            size = memory.size(kind)
            if too_large and _slot_bytes(kind, features) * (address + 1) > MAX_MEMORY_BYTES:
                raise _located(AmzAddressError, ins, component, file,
                               f"{kind}{address} needs a memory of {address + 1:,} "
                               f"{_PLURALS[kind]}, more than amzc can hold (at most "
                               f"{_size(MAX_MEMORY_BYTES)} per task, F = {features})")
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
    if too_large:  # no one address asks for it: the sizes given are too large together
        raise AmzConfigError(f"memory {memory} with F = {features} takes "
                             f"{_size(memory_bytes(memory, features))} per task, more than amzc "
                             f"can hold (at most {_size(MAX_MEMORY_BYTES)})")


def _slot_bytes(kind: str, features: int) -> int:
    return 8 * {"s": 1, "v": features, "m": features**2}[kind]


def _size(n: int) -> str:
    for unit, scale in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if n >= 1 << scale:
            return f"{n / (1 << scale):,.3g} {unit}"
    return f"{n:,} bytes"


def _located(cls: type[AmzSourceError], ins: Instruction, component: Component,
             file: str | None, message: str, hint: str | None = None) -> AmzSourceError:
    text = print_instruction(ins)
    if ins.pos is not None:
        return cls(f"{message} in '{text}'", file=file or ins.pos.file, line=ins.pos.line,
                   column=ins.pos.column, source_line=ins.pos.source_line or None, hint=hint)
    return cls(f"{message} in '{text}' ({HEADERS[component]})", file=file or "<program>", hint=hint)

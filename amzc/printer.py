"""AST → canonical text. ``parse(print_program(p)) == p`` for every program, and printing the
parse of any text gives the canonical form (what ``amzc fmt`` writes)."""

from __future__ import annotations

from amzc.ops import Form
from amzc.syntax import COMPONENTS, HEADERS, Instruction, Program


def format_number(value: float) -> str:
    """The shortest text that reads back as the same double (Python's repr)."""
    return repr(float(value))


def print_instruction(ins: Instruction) -> str:
    op = ins.op
    if op.form is Form.NO_OP:
        return "no_op()"
    out = f"{op.output}{ins.out}"
    args = [f"{t}{a}" for t, a in zip(op.inputs, ins.inputs, strict=True)]
    match op.form:
        case Form.INFIX:
            return f"{out} = {args[0]} {op.symbol} {args[1]}"
        case Form.RECIPROCAL:
            return f"{out} = 1 / {args[0]}"
        case Form.CALL:
            if op.axis is not None:
                args.append(f"axis={op.axis}")
            return f"{out} = {op.symbol}({', '.join(args)})"
        case Form.CONST:
            index = f"[{', '.join(str(i) for i in ins.index)}]" if ins.index else ""
            return f"{out}{index} = {format_number(ins.data[0])}"
        case Form.RANDOM:
            lo, hi = (format_number(v) for v in ins.data)
            return f"{out} = {op.symbol}({lo}, {hi})"
    raise AssertionError(f"unhandled form {op.form}")


def print_program(program: Program, *, indent: str = "  ") -> str:
    """Canonical text: all three functions in the order Setup, Predict, Learn."""
    lines: list[str] = []
    for component in COMPONENTS:
        lines.append(f"def {HEADERS[component]}():")
        body = program.component(component)
        lines.extend(indent + print_instruction(ins) for ins in body)
    return "\n".join(lines) + "\n"

"""AST → canonical text. ``parse(print_program(p)) == p`` for every program, and printing the
parse of any text gives the canonical form (what ``amzc fmt`` writes)."""

from __future__ import annotations

from amzc.ops import Form
from amzc.syntax import COMPONENTS, HEADERS, PASS, Instruction, Program


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


def print_program(program: Program, *, indent: str = "  ", comments: bool = True) -> str:
    """Canonical text: all three functions in the order Setup, Predict, Learn.

    With ``comments`` (the default), comments the program was parsed with are kept where they
    stood: whole lines before the instruction or header that followed them, lines after a
    function's last instruction at the end of that function, and end-of-line comments
    (``pass  # todo`` too) aligned within each function. Comments at the end of a function are
    indented and those leading a header are not, so parsing the output keeps them in place."""
    kept = program.comments if comments else None
    lines: list[str] = []
    for component in COMPONENTS:
        leading, trailing = kept.headers.get(component, ((), None)) if kept else ((), None)
        lines.extend(leading)
        lines.append(_with_comment(f"def {HEADERS[component]}():", trailing, 0))
        rows: list[tuple[str, str | None]] = []  # (code, end-of-line comment)
        for ins in program.component(component):
            if comments:
                rows.extend(_kept_line(indent, text) for text in ins.leading)
            rows.append((indent + print_instruction(ins), ins.comment if comments else None))
        if kept:
            rows.extend(_kept_line(indent, text) for text in kept.ends.get(component, ()))
        width = max((len(code) for code, comment in rows if code and comment), default=0)
        lines.extend(_with_comment(code, comment, width) if code else comment or ""
                     for code, comment in rows)
    if kept:
        lines.extend(kept.tail)
    return "\n".join(lines) + "\n"


def _kept_line(indent: str, text: str) -> tuple[str, str | None]:
    """A kept line as (code, comment): a whole-line comment has no code; a ``pass`` keeps its
    end-of-line comment beside it."""
    if text.startswith(PASS):
        return indent + PASS, text[len(PASS):].lstrip()
    return "", indent + text


def _with_comment(code: str, comment: str | None, width: int) -> str:
    return f"{code.ljust(width)}  {comment}" if comment else code

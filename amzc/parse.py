"""Text → AST. lark parses the shapes of statements (grammar/amz.lark); this module turns them
into instructions, choosing each op from ``amzc.ops`` by notation and operand types.

Every failure is an :class:`AmzSyntaxError` or :class:`AmzTypeError` naming file, line and
column; nothing else escapes :func:`parse`."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from amzc import ops
from amzc.errors import AmzSyntaxError, AmzTypeError
from amzc.ops import TYPE_NAMES, Form, Op
from amzc.syntax import (
    COMPONENTS,
    HEADERS,
    Comments,
    Component,
    Instruction,
    Program,
    SourcePos,
)

_HEADER_NAMES = {name: comp for comp, name in HEADERS.items()}
_NO_OP_NAMES = ("no_op", "NoOp")
_RANDOM_FILLS = ("uniform", "gaussian")

_TERMINAL_NAMES = {
    "ADDR": "an address (s1, v0, m2, ...)",
    "NAME": "a name",
    "INT": "an integer",
    "NUMBER": "a number",
    "SPECIAL_NUMBER": "a number",
    "INFIX_OP": "an operator (+ - * /)",
    "_NL": "end of line",
    "EQUAL": "'='",
    "LPAR": "'('",
    "RPAR": "')'",
    "COLON": "':'",
    "COMMA": "','",
    "LSQB": "'['",
    "RSQB": "']'",
    "DEF": "'def'",
    "PASS": "'pass'",
    "$END": "end of input",
}


def grammar_text() -> str:
    """The grammar shipped inside the package, or the repository's copy in a source checkout."""
    shipped = resources.files("amzc").joinpath("grammar/amz.lark")
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "amz.lark").read_text("utf-8")


@cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse(text: str, file: str = "<input>") -> Program:
    """Parse ``.amz`` source into a :class:`Program`."""
    lines = text.splitlines()
    try:
        tree = _parser().parse(text if text.endswith("\n") else text + "\n")
    except UnexpectedInput as e:
        raise _syntax_error(e, lines, file) from None
    except LarkError as e:  # any other lark failure is still the user's input
        raise AmzSyntaxError(str(e).splitlines()[0], file=file) from None
    return _Builder(lines, file).program(tree)


def parse_file(path: str | Path) -> Program:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not text
    except FileNotFoundError:
        raise AmzSyntaxError("no such file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise AmzSyntaxError(f"cannot read file: {e}", file=str(path)) from None
    return replace(parse(text, file=str(path)), name=path.stem)


def _syntax_error(e: UnexpectedInput, lines: list[str], file: str) -> AmzSyntaxError:
    line = getattr(e, "line", None)
    column = getattr(e, "column", None)
    if isinstance(e, UnexpectedEOF) or line is None or line < 1:
        line, column = max(len(lines), 1), (len(lines[-1]) + 1 if lines else 1)
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    if isinstance(e, UnexpectedCharacters):
        char = source[column - 1] if column and 0 < column <= len(source) else "?"
        message = f"unexpected character {char!r}"
    else:
        token = getattr(e, "token", None)
        shown = "end of line" if token is None or token.type == "_NL" else repr(str(token))
        if token is not None and token.type == "$END":
            shown = "end of input"
        message = f"unexpected {shown}"
    expected = sorted({_TERMINAL_NAMES.get(t, repr(t.lower())) for t in _expected(e)})
    if expected:
        message += "; expected " + _join_or(expected)
    return AmzSyntaxError(message, file=file, line=line, column=column, source_line=source)


def _expected(e: UnexpectedInput) -> set[str]:
    accepts = (getattr(e, "accepts", None) or getattr(e, "expected", None)
               or getattr(e, "allowed", None) or ())
    return {t for t in accepts if not t.startswith("__")}


def _join_or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


_Resolved = tuple[Op, tuple[int, ...], tuple[float, ...]]


def _addr(token: Token) -> tuple[str, int]:
    return token[0], int(token[1:])


def _number(tree: Tree) -> float:
    return float(tree.children[0])


class _Builder:
    """Walks lark's tree, grouping statements under headers and resolving ops."""

    def __init__(self, lines: list[str], file: str) -> None:
        self.lines = lines
        self.file = file

    def error(self, cls: type, message: str, token: Token | Tree, hint: str | None = None):
        line, column = _position(token)
        source = self.lines[line - 1] if line and 0 < line <= len(self.lines) else None
        return cls(message, file=self.file, line=line, column=column, source_line=source, hint=hint)

    def comments(self, first: int, last: int) -> tuple[str, ...]:
        """Whole-line comments on lines first..last (1-based, inclusive)."""
        found = []
        for line in self.lines[max(first, 1) - 1 : max(last, 0)]:
            code, hash_, text = line.partition("#")
            if hash_ and not code.strip():
                found.append("#" + text.rstrip())
        return tuple(found)

    def end_comment(self, line: int) -> str | None:
        code, hash_, text = self.lines[line - 1].partition("#") if line else ("", "", "")
        return "#" + text.rstrip() if hash_ and code.strip() else None

    def program(self, tree: Tree) -> Program:
        bodies: dict[Component, list[Instruction]] = {}
        headers: dict[Component, tuple[tuple[str, ...], str | None]] = {}
        current: Component | None = None
        previous_line = 0
        pending: tuple[str, ...] = ()  # comments of `pass` lines go to the next line
        for item in tree.children:
            line = _position(item)[0] or previous_line + 1
            leading = pending + self.comments(previous_line + 1, line - 1)
            comment, pending = self.end_comment(line), ()
            previous_line = line
            if item.data == "header":
                name = item.children[0]
                if name not in _HEADER_NAMES:
                    raise self.error(AmzSyntaxError, f"unknown function {str(name)!r}; "
                                     "expected Setup, Predict or Learn", name)
                current = _HEADER_NAMES[name]
                if current in bodies:
                    raise self.error(AmzSyntaxError, f"function {name} is defined twice", name)
                bodies[current] = []
                headers[current] = (leading, comment)
                continue
            if current is None:
                raise self.error(AmzSyntaxError, "instruction outside a function; start with "
                                 "'def Setup():', 'def Predict():' or 'def Learn():'", item)
            instruction = self.statement(item)
            if instruction is not None:
                bodies[current].append(replace(instruction, leading=leading, comment=comment))
            else:
                pending = leading + ((comment,) if comment else ())
        tail = pending + self.comments(previous_line + 1, len(self.lines))
        comments = Comments(headers, tail)
        return Program(**{c: tuple(bodies.get(c, ())) for c in COMPONENTS}, comments=comments)

    def pos(self, node: Token | Tree) -> SourcePos:
        line, column = _position(node)
        source = self.lines[line - 1] if line and 0 < line <= len(self.lines) else ""
        return SourcePos(self.file, line or 0, column or 0, source)

    def statement(self, tree: Tree) -> Instruction | None:
        if tree.data == "pass_":
            return None
        if tree.data == "bare_call":
            name, *args = tree.children
            if name in _NO_OP_NAMES and not args:
                return Instruction(ops.NO_OP, pos=self.pos(tree))
            if name in _NO_OP_NAMES:
                raise self.error(AmzTypeError, f"{name}() takes no arguments", args[0])
            raise self.error(AmzSyntaxError, f"{name}(...) is not an instruction; every op but "
                             "no_op() assigns its result, e.g. 's1 = dot(v0, v1)'", name)
        target, expr = tree.children
        out_type, out = _addr(target.children[0])
        index = tuple(int(t) for t in target.children[1:])
        op, inputs, data = self.expression(expr, out_type, target)
        if op.form is Form.CONST:
            wanted = op.n_index
            if len(index) != wanted:
                forms = {0: f"{out_type}{out} = c", 1: f"{out_type}{out}[i] = c",
                         2: f"{out_type}{out}[i, j] = c"}
                raise self.error(AmzTypeError, f"a {TYPE_NAMES[out_type]} constant is written "
                                 f"{forms[wanted]}", target)
        elif index:
            raise self.error(AmzTypeError, "only a constant can be written to one coordinate "
                             f"({out_type}{out}[i] = 0.5)", target)
        if op.output != out_type:
            raise self.error(AmzTypeError, f"{op.signature()} gives a {TYPE_NAMES[op.output]}, "
                             f"not a {TYPE_NAMES[out_type]}", target,
                             hint=f"  write it to a {TYPE_NAMES[op.output]} address, e.g. "
                             f"{op.output}2")
        return Instruction(op, out, inputs, index, data, pos=self.pos(target))

    def expression(self, expr: Tree, out_type: str, target: Tree) -> _Resolved:
        kind = expr.data
        if kind == "value":
            (atom,) = expr.children
            if isinstance(atom, Tree):  # a number: constant set
                return ops.data_op(Form.CONST, "const", out_type), (), (_number(atom),)
            raise self.error(AmzTypeError, f"'{target.children[0]} = {atom}' copies an address, "
                             "and there is no copy op", atom,
                             hint=f"  e.g. add an address the program never writes (zero): "
                             f"{target.children[0]} = {atom} + {atom[0]}<unused>")
        if kind == "infix":
            left, symbol, right = expr.children
            if isinstance(left, Tree) and symbol == "/" and not isinstance(right, Tree):
                if _number(left) != 1.0:
                    raise self.error(AmzTypeError, "only '1 / x' (reciprocal) takes a constant "
                                     "operand", left)
                rtype, raddr = _addr(right)
                op = ops.resolve("/", Form.RECIPROCAL, (rtype,), None)
                assert op is not None
                return op, (raddr,), ()
            for side in (left, right):
                if isinstance(side, Tree):
                    raise self.error(AmzTypeError, "a constant cannot be an operand", side,
                                     hint="  set it in memory first (e.g. in Setup: s2 = 0.5) "
                                     "and use its address")
            (lt, la), (rt, ra) = _addr(left), _addr(right)
            op = ops.resolve(str(symbol), Form.INFIX, (lt, rt), None)
            if op is not None:
                return op, (la, ra), ()
            op = ops.resolve(str(symbol), Form.INFIX, (rt, lt), None)
            if op is not None and symbol == "*":  # the paper's `v2 = v1 * s1` variant
                return op, (ra, la), ()
            raise self._no_op_for(str(symbol), [lt, rt], None, symbol,
                                  f"{left} {symbol} {right}")
        return self.call(expr, out_type, target)

    def call(self, expr: Tree, out_type: str, target: Tree) -> _Resolved:
        name, *args = expr.children
        fname = str(name)
        if fname in _RANDOM_FILLS:
            return self.random_fill(fname, args, out_type, name, target)
        if fname in _NO_OP_NAMES:
            raise self.error(AmzTypeError, "no_op() has no result; write it alone on its line",
                             name)
        if fname not in ops.FUNCTION_NAMES:
            known = ", ".join(sorted(ops.FUNCTION_NAMES))
            raise self.error(AmzTypeError, f"unknown op {fname!r}", name,
                             hint=f"  known functions: {known}")
        types: list[str] = []
        addrs: list[int] = []
        axis: int | None = None
        for arg in args:
            if isinstance(arg, Token) and arg.type == "ADDR":
                t, a = _addr(arg)
                types.append(t)
                addrs.append(a)
            elif isinstance(arg, Tree) and arg.data == "keyword" and arg.children[0] == "axis":
                if axis is not None:
                    raise self.error(AmzTypeError, f"axis is given twice to {fname}()", arg)
                axis = int(arg.children[1])
            elif isinstance(arg, Tree) and arg.data == "number" and fname == "heaviside" \
                    and _number(arg) == 1.0 and len(types) == 1 and arg is args[-1]:
                continue  # the reference's printed `heaviside(x, 1.0)`
            elif isinstance(arg, Tree) and arg.data == "number":
                raise self.error(AmzTypeError, f"a constant cannot be an operand of {fname}()",
                                 arg, hint="  use an address that holds the value; for zero, "
                                 "an address the program never writes (memory starts at 0)")
            else:
                raise self.error(AmzTypeError, f"unexpected argument to {fname}()", arg)
        op = ops.resolve(fname, Form.CALL, tuple(types), axis)
        if op is None:
            rendered = ", ".join(f"{t}{a}" for t, a in zip(types, addrs, strict=True))
            if axis is not None:
                rendered += f", axis={axis}"
            raise self._no_op_for(fname, types, axis, name, f"{fname}({rendered})")
        return op, tuple(addrs), ()

    def random_fill(self, fname: str, args: list, out_type: str, name: Token, target: Tree):
        numbers, extra = args[:2], args[2:]
        if len(numbers) != 2 or not all(isinstance(a, Tree) and a.data == "number"
                                        for a in numbers):
            raise self.error(AmzTypeError, f"{fname}() takes two numbers: {fname}(a, b)", name)
        # The reference prints a size argument that must match the output's type.
        size = {"s": None, "v": "n_features", "m": "(n_features, n_features)"}[out_type]
        if extra:
            written = [str(t) for t in (extra[0].children if isinstance(extra[0], Tree)
                                        else [extra[0]])]
            shown = written[0] if len(written) == 1 else f"({', '.join(written)})"
            if len(extra) > 1 or shown != size:
                allowed = f"nothing or {size}" if size else "nothing"
                raise self.error(AmzTypeError, f"unexpected size argument to {fname}() for a "
                                 f"{TYPE_NAMES[out_type]}: after the two numbers it takes "
                                 f"{allowed}", extra[0])
        values = tuple(_number(n) for n in numbers)
        return ops.data_op(Form.RANDOM, fname, out_type), (), values

    def _no_op_for(self, symbol: str, types: list[str], axis: int | None, where, written: str):
        shown = ", ".join(TYPE_NAMES[t] for t in types)
        if axis is not None:
            shown += f", axis={axis}"
        message = f"no op {symbol}({shown})" if symbol.isalpha() else \
            f"no op {TYPE_NAMES[types[0]]} {symbol} {TYPE_NAMES[types[1]]}"
        message += f" in '{written}'"
        fits = [op.signature() for op in ops.candidates(symbol)]
        hint = None
        if symbol in ("mean", "std") and axis == 0 and types == ["m"]:
            hint = (f"  axis=1 means per row ({symbol}(m, axis=1): out[i] = {symbol} of row i); "
                    "there is no per-column op. Table S1 of the paper writes axis=0 for the row "
                    "op; amzc follows the reference code's axis=1")
        elif fits:
            hint = "  did you mean one of: " + "; ".join(fits)
            if symbol == "dot" and sorted(types) == ["s", "v"]:
                hint += "\n  (a scalar times a vector is written s3 = s2 * v0)"
        return self.error(AmzTypeError, message, where, hint=hint)


def _position(node: Token | Tree) -> tuple[int | None, int | None]:
    if isinstance(node, Token):
        return node.line, node.column
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    for child in getattr(node, "children", ()):
        line, column = _position(child)
        if line is not None:
            return line, column
    return None, None


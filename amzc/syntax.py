"""The AST: frozen dataclasses that the parser builds, the printer prints, the evolver mutates
and the backends compile. Source positions ride along but take no part in equality or hashing,
so ``parse(print(p)) == p`` holds."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from amzc.ops import MATRIX, NO_OP, SCALAR, VECTOR, Form, Op

NAN = float("nan")
Component = Literal["setup", "predict", "learn"]
COMPONENTS: tuple[Component, ...] = ("setup", "predict", "learn")
HEADERS: dict[Component, str] = {"setup": "Setup", "predict": "Predict", "learn": "Learn"}


@dataclass(frozen=True)
class SourcePos:
    file: str
    line: int
    column: int
    source_line: str = ""


@dataclass(frozen=True)
class Instruction:
    """One instruction: ``op`` writes ``out`` from ``inputs`` (addresses, typed by the op).

    ``index`` holds the integer coordinates of a constant-set op (``v2[3] = ...``) and ``data``
    its float fields: a constant's value, or a random fill's (lo, hi) / (mean, std)."""

    op: Op
    out: int = 0
    inputs: tuple[int, ...] = ()
    index: tuple[int, ...] = ()
    data: tuple[float, ...] = ()
    pos: SourcePos | None = field(default=None, compare=False, repr=False)
    # Comments of the source, so that `amzc fmt` keeps them: whole lines before the
    # instruction (comments, and `pass  # ...` lines: see PASS), and the comment at the end
    # of its line. They take no part in equality.
    leading: tuple[str, ...] = field(default=(), compare=False, repr=False)
    comment: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if any(v != v for v in self.data):
            # NaN != NaN would make an instruction unequal to its own reparse; one shared NaN
            # object compares equal to itself inside tuples (identity first) and hashes alike.
            object.__setattr__(self, "data", tuple(NAN if v != v else v for v in self.data))

    def addresses(self) -> list[tuple[str, int]]:
        """(type, address) of every operand read, then of the output."""
        refs = list(zip(self.op.inputs, self.inputs, strict=True))
        if self.op.output is not None:
            refs.append((self.op.output, self.out))
        return refs

    def reads(self) -> list[tuple[str, int]]:
        reads = list(zip(self.op.inputs, self.inputs, strict=True))
        if self.op.form is Form.CONST and self.op.output != SCALAR:
            # a coordinate write keeps the other entries: the old value flows through
            reads.append((self.op.output or SCALAR, self.out))
        return reads

    def writes(self) -> tuple[str, int] | None:
        return (self.op.output, self.out) if self.op.output is not None else None


NOOP_INSTRUCTION = Instruction(NO_OP)

_new = object.__new__


def make_instruction(op: Op, out: int, inputs: tuple[int, ...],
                     index: tuple[int, ...] = (), data: tuple[float, ...] = ()) -> Instruction:
    """``Instruction(op, out, inputs, index, data)`` for the search's hot paths. A frozen
    dataclass's generated ``__init__`` sets each of its eight fields through
    ``object.__setattr__`` (about 3 µs, on every mutation); filling the instance dict
    directly builds the same object (equal, same hash, same pickle) in a third of the time.
    tests/test_syntax.py keeps the two in step with the field list."""
    for v in data:
        if v != v:
            return Instruction(op, out, inputs, index, data)  # the NaN normalization
    ins = _new(Instruction)
    d = ins.__dict__
    d["op"] = op
    d["out"] = out
    d["inputs"] = inputs
    d["index"] = index
    d["data"] = data
    d["pos"] = None
    d["leading"] = ()
    d["comment"] = None
    return ins


# The output address of a random fill that is run only for its draws: dead-code elimination
# keeps every random fill when one is live (removing one would shift the numbers every later
# fill sees), and hands the backends such a fill with this address, so that they advance the
# task's random stream past its draws without computing values nothing reads
# (amzc/passes/dce.py, analyze). Never in a program a user writes or the search mutates.
DRAWS_ONLY = -1


def draws_only(op: Op) -> Instruction:
    """The instruction that advances the random stream as one execution of the random fill
    ``op`` does, and writes nothing (one shared object per op)."""
    found = _DRAWS_ONLY.get(op.id)
    if found is None or found.op is not op:
        found = _DRAWS_ONLY[op.id] = make_instruction(op, DRAWS_ONLY, (), (),
                                                      (0.0,) * op.n_data)
    return found


_DRAWS_ONLY: dict[int, Instruction] = {}


# A `pass` statement is no instruction, but one with an end-of-line comment is kept, so that
# the comment stays on its line: among the kept lines it is the text "pass  # ...".
PASS = "pass"


@dataclass(frozen=True)
class Comments:
    """Comments around the headers of a parsed file (leading lines and the end-of-line
    comment of each ``def``), after the last instruction of each function (``ends``) and after
    the file's last function (``tail``); instructions carry their own."""

    headers: dict[Component, tuple[tuple[str, ...], str | None]] = field(default_factory=dict)
    tail: tuple[str, ...] = ()
    ends: dict[Component, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Program:
    """An algorithm: three component functions, each a tuple of instructions."""

    setup: tuple[Instruction, ...] = ()
    predict: tuple[Instruction, ...] = ()
    learn: tuple[Instruction, ...] = ()
    name: str | None = field(default=None, compare=False)
    comments: Comments | None = field(default=None, compare=False, repr=False)

    def component(self, which: Component) -> tuple[Instruction, ...]:
        return getattr(self, which)

    @classmethod
    def make(cls, setup: tuple[Instruction, ...], predict: tuple[Instruction, ...],
             learn: tuple[Instruction, ...]) -> Program:
        """``Program(setup, predict, learn)`` without the frozen ``__init__``'s per-field
        ``object.__setattr__`` (see :func:`make_instruction`): every search child is one."""
        program = _new(cls)
        d = program.__dict__  # stores one by one: no keyword dict to build (~15 % faster)
        d["setup"] = setup
        d["predict"] = predict
        d["learn"] = learn
        d["name"] = None
        d["comments"] = None
        return program

    def with_component(self, which: Component, instructions: tuple[Instruction, ...]) -> Program:
        return replace(self, **{which: tuple(instructions)})

    def instructions(self) -> list[tuple[Component, Instruction]]:
        return [(c, ins) for c in COMPONENTS for ins in self.component(c)]

    def __len__(self) -> int:
        return len(self.setup) + len(self.predict) + len(self.learn)


@dataclass(frozen=True)
class MemoryConfig:
    """Sizes of the three typed memories (docs/language.md, Memory)."""

    scalars: int = 4
    vectors: int = 3
    matrices: int = 1

    def size(self, kind: str) -> int:
        return {SCALAR: self.scalars, VECTOR: self.vectors, MATRIX: self.matrices}[kind]

    def __str__(self) -> str:
        return f"{self.scalars},{self.vectors},{self.matrices}"

    @classmethod
    def parse(cls, text: str) -> MemoryConfig:
        parts = text.replace("/", ",").split(",")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 3 or min(values) < 0:
            raise ValueError(f"memory must be three non-negative integers S,V,M, got {text!r}")
        if values[0] < 2 or values[1] < 1:
            raise ValueError("memory needs at least 2 scalars (s0 label, s1 prediction) "
                             "and 1 vector (v0)")
        return cls(*values)

    @classmethod
    def fitting(cls, program: Program) -> MemoryConfig:
        """The smallest memory that holds every address the program uses (and s0, s1, v0)."""
        top = {SCALAR: 1, VECTOR: 0, MATRIX: -1}
        for _, ins in program.instructions():
            for kind, addr in ins.addresses():
                top[kind] = max(top[kind], addr)
        return cls(top[SCALAR] + 1, top[VECTOR] + 1, top[MATRIX] + 1)

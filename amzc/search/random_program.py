"""Random instructions and initial programs, as the reference C++ code makes them.

Address rules of randomly generated instructions: scalar outputs in [1, S) (never the label
s0), vector outputs in [1, V) (never the features v0), matrix outputs in [0, M); inputs of
every type anywhere in [0, N). Data fields start as in the reference code:
constants U(−1, 1), uniform bounds U(−1, 1) each (unsorted, so about half are constant fills),
Gaussian mean U(−1, 1) and std U(0, 1); constant indices are integers in [0, F).

New constants are rounded to 6 significant digits so evolved programs stay readable; the
rounded value is the one evaluated, so printed programs reproduce their fitness exactly."""

from __future__ import annotations

import random
from collections.abc import Callable

from amzc.ops import MATRIX, NO_OP, SCALAR, VECTOR, Form, Op
from amzc.search.config import SearchSpace
from amzc.syntax import (
    COMPONENTS,
    NOOP_INSTRUCTION,
    Component,
    Instruction,
    MemoryConfig,
    Program,
    make_instruction,
)

# the first address a random instruction may write, per type
FIRST_OUTPUT = {SCALAR: 1, VECTOR: 1, MATRIX: 0}


def tidy(value: float) -> float:
    """A constant rounded to 6 significant digits (the reference prints that many); −0.0
    becomes 0.0, which compares equal to it but would differ under division."""
    return float(f"{value:.6g}") + 0.0


def uniform(rng: random.Random, lo: float, hi: float) -> float:
    return lo + (hi - lo) * rng.random()


def draw(rng: random.Random, n: int) -> int:
    """Uniform integer in [0, n); faster than randrange and just as reproducible."""
    return int(rng.random() * n)


class InstructionFactory:
    """Random instructions for one memory configuration and feature size."""

    def __init__(self, memory: MemoryConfig, features: int) -> None:
        self.memory = memory
        self.features = features
        self.sizes = {SCALAR: memory.scalars, VECTOR: memory.vectors, MATRIX: memory.matrices}
        # Instructions without data repeat often (the space of ops × addresses is small);
        # handing out one object per value lets per-instruction caches hit.
        self._interned: dict[tuple, Instruction] = {}
        self._plans: dict[int, tuple[tuple[int, ...], int, int]] = {}
        self._makers: dict[int, Maker] = {}

    def output(self, rng: random.Random, kind: str) -> int:
        first = FIRST_OUTPUT[kind]
        return first + draw(rng, self.sizes[kind] - first)

    def input(self, rng: random.Random, kind: str) -> int:
        return draw(rng, self.sizes[kind])

    def index(self, rng: random.Random) -> int:
        return draw(rng, self.features)

    def data(self, rng: random.Random, op: Op) -> tuple[float, ...]:
        if op.form is Form.CONST:
            return (tidy(uniform(rng, -1.0, 1.0)),)
        assert op.fill is not None
        if op.fill.scale:  # (location, scale): a scale is never negative
            return (tidy(uniform(rng, -1.0, 1.0)), tidy(rng.random()))
        return (tidy(uniform(rng, -1.0, 1.0)), tidy(uniform(rng, -1.0, 1.0)))  # (lo, hi)

    def random(self, rng: random.Random, op: Op) -> Instruction:
        """A random instruction of ``op`` (the reference's draw order: inputs, then the output;
        for data ops the output, then the data)."""
        if op is NO_OP:
            return NOOP_INSTRUCTION
        if op.is_data_op:
            out = self.output(rng, op.output)
            index = tuple(self.index(rng) for _ in range(op.n_index))
            return make_instruction(op, out, (), index, self.data(rng, op))
        plan = self._plans.get(op.id)
        if plan is None:
            plan = self._plans[op.id] = self._plan(op)
        input_sizes, first, span = plan
        rand = rng.random
        # the same draws as input() per operand, then output(): inputs first, then the output
        inputs = tuple([int(rand() * n) for n in input_sizes])
        return self.intern(op, first + int(rand() * span), inputs)

    def _plan(self, op: Op) -> tuple[tuple[int, ...], int, int]:
        first = FIRST_OUTPUT[op.output]
        return (tuple(self.sizes[k] for k in op.inputs), first, self.sizes[op.output] - first)

    def maker(self, op: Op) -> Maker:
        """``make(rand)``: :meth:`random` for one op as a closure over ``rand`` (an RNG's
        ``random``), making the same draws in the same order. Data-free instructions come from
        a table indexed by the draws, so a repeated one costs no tuple or dict lookup."""
        make = self._makers.get(op.id)
        if make is None:
            make = self._makers[op.id] = self._maker(op)
        return make

    def _maker(self, op: Op) -> Maker:
        if op is NO_OP:
            return lambda rand: NOOP_INSTRUCTION
        if op.form is Form.CONST and not op.n_index:  # s = c
            first, span = FIRST_OUTPUT[op.output], self.sizes[op.output] - FIRST_OUTPUT[op.output]

            def make_constant(rand: Callable[[], float]) -> Instruction:
                out = first + int(rand() * span)
                return make_instruction(op, out, (), (), (tidy(-1.0 + 2.0 * rand()),))
            return make_constant
        if op.is_data_op:
            def make_data(rand: Callable[[], float]) -> Instruction:
                return self.random(_Draws(rand), op)
            return make_data
        sizes, first, span = self._plan(op)
        intern = self.intern
        if len(sizes) == 1:
            (n0,) = sizes
            table1: list[Instruction | None] = [None] * (n0 * span)

            def make1(rand: Callable[[], float]) -> Instruction:
                a = int(rand() * n0)
                o = int(rand() * span)
                ins = table1[a * span + o]
                if ins is None:
                    ins = table1[a * span + o] = intern(op, first + o, (a,))
                return ins
            return make1
        if len(sizes) == 2:
            n0, n1 = sizes
            table2: list[Instruction | None] = [None] * (n0 * n1 * span)

            def make2(rand: Callable[[], float]) -> Instruction:
                a = int(rand() * n0)
                b = int(rand() * n1)
                o = int(rand() * span)
                k = (a * n1 + b) * span + o
                ins = table2[k]
                if ins is None:
                    ins = table2[k] = intern(op, first + o, (a, b))
                return ins
            return make2
        return lambda rand: self.random(_Draws(rand), op)

    def intern(self, op: Op, out: int, inputs: tuple[int, ...]) -> Instruction:
        """The shared instruction object of a data-free instruction."""
        key = (op.id, out, inputs)
        ins = self._interned.get(key)
        if ins is None:
            ins = self._interned[key] = Instruction(op, out, inputs)
        return ins


Maker = Callable[[Callable[[], float]], Instruction]


class _Draws:
    """The one method of :class:`random.Random` that :meth:`InstructionFactory.random` uses."""

    __slots__ = ("random",)

    def __init__(self, rand: Callable[[], float]) -> None:
        self.random = rand


def random_component(rng: random.Random, factory: InstructionFactory, ops: tuple[Op, ...],
                     size: int) -> tuple[Instruction, ...]:
    makers, rand = [factory.maker(op) for op in ops], rng.random
    return tuple([makers[int(rand() * len(makers))](rand) for _ in range(size)])


def noop_program(space: SearchSpace) -> Program:
    """Each component function holds ``init`` no-ops (the reference's NO_OP_ALGORITHM)."""
    return Program(*((NOOP_INSTRUCTION,) * space.components[c].init_size for c in COMPONENTS))


def random_program(rng: random.Random, space: SearchSpace,
                   factory: InstructionFactory | None = None) -> Program:
    """RANDOM_ALGORITHM: every function with allowed ops filled with ``init`` random
    instructions (Setup, then Predict, then Learn); the others hold no-ops."""
    factory = factory or InstructionFactory(space.memory, space.features)
    parts: dict[Component, tuple[Instruction, ...]] = {}
    for c in COMPONENTS:
        cfg = space.components[c]
        parts[c] = (random_component(rng, factory, cfg.ops, cfg.init_size) if cfg.ops
                    else (NOOP_INSTRUCTION,) * cfg.init_size)
    return Program(**parts)


def pad(program: Program, space: SearchSpace) -> Program:
    """A hand-written initial program padded with no-ops up to the init sizes, never cut
    (as in the reference code)."""
    parts = {}
    for c in COMPONENTS:
        body = program.component(c)
        missing = space.components[c].init_size - len(body)
        parts[c] = body + (NOOP_INSTRUCTION,) * max(missing, 0)
    return Program(**parts, name=program.name)

"""Mutations on the AST (docs/evolution.md, Mutations).

A child is the parent with at most one change. Draw order: the mutate coin (only when
mutate_prob < 1), the mutation type (weighted), the component function (uniform over those
with allowed ops), then the type's own draws. Every child keeps the parent's guarantees:
ops drawn only from the component's allowed list, random outputs never s0 or v0, sizes within
[min, max].

amzc's choices where the reference has quirks (docs/evolution.md): ``insert`` respects
``max`` exactly (the reference stops at max − 1); ``insert_or_remove`` is the paper's single
action with removal twice as likely as insertion; ``constants = "paper"`` switches the constant
mutation to the paper's ×U[0.5, 2] with a 10% sign flip."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable

from amzc.ops import NO_OP
from amzc.search.config import MutationConfig, SearchSpace
from amzc.search.random_program import (
    InstructionFactory,
    draw,
    tidy,
    uniform,
)
from amzc.syntax import Component, Instruction, Program, make_instruction


class Mutator:
    def __init__(self, space: SearchSpace, config: MutationConfig) -> None:
        self.space = space
        self.config = config
        self.factory = InstructionFactory(space.memory, space.features)
        self.components = space.mutable()
        names = [name for name, _ in config.types]
        weights = [w for _, w in config.types]
        total = sum(weights)
        self._cumulative = [sum(weights[: i + 1]) / total for i in range(len(weights))]
        self._paper_constants = config.constants == "paper"
        # per component: make(rand) for each allowed op (InstructionFactory.maker)
        self._makers = {c: tuple(self.factory.maker(op) for op in space.components[c].ops)
                        for c in self.components}
        # per type, in the order of the weights: apply(program, rng), the type's draws
        # included (every child goes through one of these)
        self._appliers = [self._applier(name) for name in names]

    # -- drawing -------------------------------------------------------------------------------

    def mutate(self, parent: Program, rng: random.Random) -> Program:
        """The child of ``parent``: an exact copy with probability 1 − mutate_prob; else the
        mutation of the first type whose cumulative weight exceeds a uniform draw."""
        prob = self.config.mutate_prob
        if prob < 1.0 and not rng.random() < prob:
            return parent
        appliers = self._appliers
        return appliers[min(bisect_right(self._cumulative, rng.random()),
                            len(appliers) - 1)](parent, rng)

    def _applier(self, kind: str) -> Callable[[Program, random.Random], Program]:
        if kind == "identity":
            return lambda program, rng: program
        if kind == "randomize_algorithm":
            def randomize_algorithm(program: Program, rng: random.Random) -> Program:
                for component in self.components:
                    program = self._randomize_component(program, component, rng)
                return program
            return randomize_algorithm
        one = {"alter_param": self._alter_param,
               "randomize_instruction": self._randomize_instruction,
               "randomize_component_function": self._randomize_component,
               "insert": self._insert, "remove": self._remove, "trade": self._trade,
               "insert_or_remove": self._insert_or_remove}.get(kind)
        if one is None:
            raise ValueError(f"unknown mutation type {kind!r}")
        components, n = self.components, len(self.components)

        def apply(program: Program, rng: random.Random) -> Program:
            return one(program, components[int(rng.random() * n)], rng)  # draw(), inline
        return apply

    def apply(self, kind: str, program: Program, rng: random.Random) -> Program:
        """Apply one mutation of the given type."""
        return self._applier(kind)(program, rng)

    # -- the mutation types --------------------------------------------------------------------

    # the two below run for most children: Program.component and draw() inline
    def _alter_param(self, program: Program, component: Component,
                     rng: random.Random) -> Program:
        body = getattr(program, component)
        if not body:
            return program
        i = int(rng.random() * len(body))
        new = self.alter(body[i], rng)
        return _replace(program, component, body[:i] + (new,) + body[i + 1:])

    def _randomize_instruction(self, program: Program, component: Component,
                               rng: random.Random) -> Program:
        body = getattr(program, component)
        if not body:
            return program
        i = int(rng.random() * len(body))
        new = self._random_instruction(component, rng)
        return _replace(program, component, body[:i] + (new,) + body[i + 1:])

    def _randomize_component(self, program: Program, component: Component,
                             rng: random.Random) -> Program:
        makers, rand = self._makers[component], rng.random
        n = len(makers)  # random_component's draws: the op, then the instruction's own
        return _replace(program, component, tuple([makers[int(rand() * n)](rand)
                                                   for _ in getattr(program, component)]))

    def _insert(self, program: Program, component: Component, rng: random.Random) -> Program:
        body = program.component(component)
        high = self.space.components[component].max_size
        if high is not None and len(body) >= high:
            return program
        new = self._random_instruction(component, rng)
        at = draw(rng, len(body) + 1)
        return _replace(program, component, body[:at] + (new,) + body[at:])

    def _remove(self, program: Program, component: Component, rng: random.Random) -> Program:
        body = program.component(component)
        if len(body) <= self.space.components[component].min_size:
            return program
        at = draw(rng, len(body))
        return _replace(program, component, body[:at] + body[at + 1:])

    def _insert_or_remove(self, program: Program, component: Component,
                          rng: random.Random) -> Program:
        """The paper's single action: removal twice as likely as insertion."""
        if rng.random() < 2.0 / 3.0:
            return self._remove(program, component, rng)
        return self._insert(program, component, rng)

    def _trade(self, program: Program, component: Component, rng: random.Random) -> Program:
        """Insert a random instruction, then remove one (maybe the new one): size unchanged."""
        body = program.component(component)
        new = self._random_instruction(component, rng)
        at = draw(rng, len(body) + 1)
        grown = body[:at] + (new,) + body[at:]
        gone = draw(rng, len(grown))
        return _replace(program, component, grown[:gone] + grown[gone + 1:])

    def _random_instruction(self, component: Component, rng: random.Random) -> Instruction:
        """A random op of the component's, then ``factory.random`` of it."""
        makers, rand = self._makers[component], rng.random
        return makers[int(rand() * len(makers))](rand)

    # -- ALTER_PARAM on one instruction (the reference's AlterParam) -----------------------------

    def alter(self, ins: Instruction, rng: random.Random) -> Instruction:
        op = ins.op
        if op is NO_OP:
            return ins
        factory = self.factory
        if op.is_data_op:
            if rng.random() < 0.5:
                return make_instruction(op, factory.output(rng, op.output), (), ins.index,
                                        ins.data)
            return self._alter_data(ins, rng)
        which = draw(rng, len(op.inputs) + 1)
        if which == len(op.inputs):
            return factory.intern(op, factory.output(rng, op.output), ins.inputs)
        inputs = list(ins.inputs)
        inputs[which] = factory.input(rng, op.inputs[which])
        return factory.intern(op, ins.out, tuple(inputs))

    def _alter_data(self, ins: Instruction, rng: random.Random) -> Instruction:
        op, data = ins.op, ins.data
        if op.n_index == 1:  # v[i] = c: a new index or a new value
            if rng.random() < 0.5:
                return _set(ins, index=(self.factory.index(rng),))
            return _set(ins, data=(self.scale(data[0], rng),))
        if op.n_index == 2:  # m[i, j] = c: a new row, a new column or a new value
            which = draw(rng, 3)
            if which < 2:
                index = list(ins.index)
                index[which] = self.factory.index(rng)
                return _set(ins, index=tuple(index))
            return _set(ins, data=(self.scale(data[0], rng),))
        if len(data) == 1:  # s = c
            return _set(ins, data=(self.scale(data[0], rng),))
        assert op.fill is not None
        if op.fill.scale:  # (location, scale): the scale is rescaled but never negated
            if rng.random() < 0.5:
                return _set(ins, data=(self.scale(data[0], rng), data[1]))
            return _set(ins, data=(data[0], self.scale(data[1], rng, flip=False)))
        lo, hi = data  # (lo, hi) bounds: alter one, then sort the pair
        if rng.random() < 0.5:
            lo = self.scale(lo, rng)
        else:
            hi = self.scale(hi, rng)
        return _set(ins, data=(min(lo, hi), max(lo, hi)))

    def scale(self, value: float, rng: random.Random, flip: bool = True) -> float:
        """The constant mutation. Reference: with probability 0.1 flip the sign, otherwise
        multiply by exp(N(0, 1)). Paper: multiply by U[0.5, 2], then flip with probability
        0.1. Zero stays zero either way."""
        if self._paper_constants:
            value *= uniform(rng, 0.5, 2.0)
            if flip and rng.random() < 0.1:
                value = -value
            return tidy(value)
        if flip and rng.random() < 0.1:
            return -value + 0.0  # never −0.0
        if value == 0.0 or not math.isfinite(value):
            return value
        exponent = math.log(abs(value)) + rng.gauss(0.0, 1.0)
        magnitude = math.exp(exponent) if exponent < 709.0 else math.inf
        return tidy(math.copysign(magnitude, value))


def _set(ins: Instruction, index: tuple[int, ...] | None = None,
         data: tuple[float, ...] | None = None) -> Instruction:
    """A data op with new coordinates or data (cheaper than ``dataclasses.replace``)."""
    return make_instruction(ins.op, ins.out, ins.inputs, ins.index if index is None else index,
                            ins.data if data is None else data)


def _replace(program: Program, component: Component,
             body: tuple[Instruction, ...]) -> Program:
    """``program.with_component`` without ``dataclasses.replace`` (a child needs no name)."""
    if component == "setup":
        return Program.make(body, program.predict, program.learn)
    if component == "predict":
        return Program.make(program.setup, body, program.learn)
    return Program.make(program.setup, program.predict, body)

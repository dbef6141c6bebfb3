"""Mutations and random programs respect the search space (amzc/search/mutation.py,
amzc/search/random_program.py)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amzc.check import check
from amzc.ops import MATRIX, NO_OP, OPS, SCALAR, VECTOR, Form, lookup
from amzc.parse import parse
from amzc.search.config import MUTATION_TYPES, ComponentConfig, MutationConfig, SearchSpace
from amzc.search.mutation import Mutator
from amzc.search.random_program import InstructionFactory, noop_program, pad, random_program
from amzc.syntax import COMPONENTS, MemoryConfig

MEMORY = MemoryConfig(4, 4, 2)
F = 3


def space(ops_by_component, sizes=((3, 1, 5), (2, 1, 4), (4, 2, 6))):
    return SearchSpace(MEMORY, F, {
        c: ComponentConfig(tuple(ops), init, low, high)
        for c, ops, (init, low, high) in zip(COMPONENTS, ops_by_component, sizes, strict=True)})


ALL = space([OPS, OPS, OPS])
DEMO_OPS = tuple(lookup(i) for i in (56, 27, 2, 3, 18, 23))
SETUP_ONLY = space([DEMO_OPS, (), ()])


def assert_valid(program, sp):
    allowed = {c: set(sp.components[c].ops) | {NO_OP} for c in COMPONENTS}
    check(program, sp.memory, sp.features, allowed)
    for c in COMPONENTS:
        cfg = sp.components[c]
        size = len(program.component(c))
        assert size >= cfg.min_size
        assert cfg.max_size is None or size <= cfg.max_size
        for ins in program.component(c):
            if ins.op.output == SCALAR and ins.op is not NO_OP:
                assert ins.out >= 1  # never the label s0
            if ins.op.output == VECTOR:
                assert ins.out >= 1  # never the features v0


@settings(max_examples=150)
@given(st.integers(0, 2**32 - 1), st.sampled_from(MUTATION_TYPES), st.sampled_from([ALL,
                                                                                    SETUP_ONLY]))
def test_every_child_type_checks_and_respects_bounds(seed, kind, sp):
    rng = random.Random(seed)
    program = random_program(rng, sp)
    assert_valid(program, sp)
    mutator = Mutator(sp, MutationConfig(((kind, 1.0),), 1.0))
    for _ in range(20):
        program = mutator.mutate(program, rng)
        assert_valid(program, sp)


@settings(max_examples=50)
@given(st.integers(0, 2**32 - 1))
def test_components_without_ops_never_change(seed):
    rng = random.Random(seed)
    start = pad(parse("def Predict():\n  s1 = dot(v0, v1)\ndef Learn():\n  s2 = s0 - s1\n"),
                SETUP_ONLY)
    mutator = Mutator(SETUP_ONLY, MutationConfig(tuple((k, 1.0) for k in MUTATION_TYPES)))
    program = start
    for _ in range(30):
        program = mutator.mutate(program, rng)
    assert program.predict == start.predict and program.learn == start.learn


def test_mutate_prob_zero_copies_the_parent():
    rng = random.Random(1)
    program = random_program(rng, ALL)
    mutator = Mutator(ALL, MutationConfig((("randomize_algorithm", 1.0),), 0.0))
    assert all(mutator.mutate(program, rng) is program for _ in range(20))


def test_each_type_does_what_it_says():
    rng = random.Random(3)
    sp = space([DEMO_OPS] * 3, sizes=((3, 0, 4), (2, 0, 4), (4, 0, 5)))
    mutator = Mutator(sp, MutationConfig((("identity", 1.0),)))
    program = random_program(rng, sp)
    sizes = [len(program.component(c)) for c in COMPONENTS]
    assert mutator.apply("identity", program, rng) is program
    grown = mutator.apply("insert", program, rng)
    assert sum(len(grown.component(c)) for c in COMPONENTS) == sum(sizes) + 1
    shrunk = mutator.apply("remove", program, rng)
    assert sum(len(shrunk.component(c)) for c in COMPONENTS) == sum(sizes) - 1
    traded = mutator.apply("trade", program, rng)
    assert [len(traded.component(c)) for c in COMPONENTS] == sizes
    for kind in ("alter_param", "randomize_instruction", "randomize_component_function",
                 "randomize_algorithm"):
        child = mutator.apply(kind, program, rng)
        assert [len(child.component(c)) for c in COMPONENTS] == sizes
    changed = [sum(a != b for a, b in zip(program.component(c), child.component(c),
                                          strict=True))
               for c in COMPONENTS for child in [mutator.apply("alter_param", program, rng)]]
    assert sum(changed) <= 1


def test_insert_stops_at_max_and_remove_at_min():
    rng = random.Random(0)
    sp = space([DEMO_OPS] * 3, sizes=((2, 2, 2), (2, 2, 2), (2, 2, 2)))
    program = random_program(rng, sp)
    mutator = Mutator(sp, MutationConfig((("insert", 1.0),)))
    for kind in ("insert", "remove", "insert_or_remove"):
        assert mutator.apply(kind, program, rng) is program


def test_paper_insert_or_remove_removes_twice_as_often():
    rng = random.Random(5)
    sp = space([DEMO_OPS] * 3, sizes=((5, 0, 10), (5, 0, 10), (5, 0, 10)))
    mutator = Mutator(sp, MutationConfig((("insert_or_remove", 1.0),)))
    program = random_program(rng, sp)
    removed = sum(len(mutator.apply("insert_or_remove", program, rng)) < len(program)
                  for _ in range(3000))
    assert 0.62 < removed / 3000 < 0.71


@pytest.mark.parametrize("constants", ["reference", "paper"])
def test_constant_mutation(constants):
    rng = random.Random(11)
    mutator = Mutator(ALL, MutationConfig((("alter_param", 1.0),), 1.0, constants))
    values = [mutator.scale(0.5, rng) for _ in range(4000)]
    flipped = sum(v < 0 for v in values) / len(values)
    assert 0.08 < flipped < 0.12
    magnitudes = [abs(v) for v in values if v > 0]
    if constants == "paper":
        assert all(0.25 <= m <= 1.0 for m in magnitudes)
    else:
        assert max(magnitudes) > 2.0 and min(magnitudes) < 0.1  # log-normal tails
    assert mutator.scale(0.0, rng) == 0.0
    assert all(mutator.scale(0.5, rng, flip=False) > 0 for _ in range(200))


def test_uniform_bounds_are_sorted_after_alteration():
    rng = random.Random(2)
    mutator = Mutator(ALL, MutationConfig((("alter_param", 1.0),)))
    ins = parse("def Setup():\n  v1 = uniform(0.4, -0.2)\n").setup[0]
    for _ in range(200):
        new = mutator.alter(ins, rng)
        if new.data != ins.data:
            assert new.data[0] <= new.data[1]


def test_random_instructions_follow_the_address_rules():
    rng = random.Random(9)
    factory = InstructionFactory(MEMORY, F)
    sizes = {SCALAR: 4, VECTOR: 4, MATRIX: 2}
    for _ in range(3000):
        op = OPS[int(rng.random() * len(OPS))]
        ins = factory.random(rng, op)
        if op is NO_OP:
            continue
        low = {SCALAR: 1, VECTOR: 1, MATRIX: 0}[op.output]
        assert low <= ins.out < sizes[op.output]
        assert all(0 <= a < sizes[t] for t, a in zip(op.inputs, ins.inputs, strict=True))
        assert all(0 <= i < F for i in ins.index)
        if op.form is Form.CONST:
            assert -1.0 <= ins.data[0] <= 1.0
        elif op.symbol == "gaussian":
            assert -1.0 <= ins.data[0] <= 1.0 and 0.0 <= ins.data[1] <= 1.0


def test_makers_draw_exactly_as_random_instructions():
    """InstructionFactory.maker(op)(rng.random) is factory.random(rng, op): the same
    instruction and the same draws, so the search's path does not depend on which is used."""
    rng, other = random.Random(4), random.Random(4)
    factory = InstructionFactory(MEMORY, F)
    for _ in range(3000):
        op = OPS[int(rng.random() * len(OPS))]
        assert op is OPS[int(other.random() * len(OPS))]
        made = factory.maker(op)(rng.random)
        assert made == factory.random(other, op)
        assert rng.getstate() == other.getstate()


def test_noop_and_padded_programs():
    program = noop_program(ALL)
    assert [len(program.component(c)) for c in COMPONENTS] == [3, 2, 4]
    assert all(ins.op is NO_OP for _, ins in program.instructions())
    padded = pad(parse("def Learn():\n" + "  s2 = s0 - s1\n" * 6), ALL)
    assert [len(padded.component(c)) for c in COMPONENTS] == [3, 2, 6]  # never cut


def test_same_seed_same_children():
    def children(seed):
        rng = random.Random(seed)
        mutator = Mutator(ALL, MutationConfig(tuple((k, 1.0) for k in MUTATION_TYPES)))
        program = random_program(rng, ALL)
        out = []
        for _ in range(50):
            program = mutator.mutate(program, rng)
            out.append(program)
        return out

    assert children(4) == children(4)
    assert children(4) != children(5)

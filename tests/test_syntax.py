"""The AST's fast constructors build exactly what the dataclass constructors build."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle

import pytest

from amzc.ops import OPS, lookup
from amzc.syntax import Instruction, Program, make_instruction


def _same(a: object, b: object, pickles: bool = True) -> None:
    assert type(a) is type(b)
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
    assert vars(a) == vars(b)  # every field, those outside equality included
    if pickles:  # (a NaN constant unpickles as another NaN object, unequal: as ever)
        assert pickle.loads(pickle.dumps(b)) == a
    assert copy.copy(b) == a


def test_make_instruction_sets_every_field_as_the_dataclass_does():
    # written for the field list as it is: a new field must be added to make_instruction
    assert [f.name for f in dataclasses.fields(Instruction)] == [
        "op", "out", "inputs", "index", "data", "pos", "leading", "comment"]
    for op in OPS:
        inputs = tuple(range(len(op.inputs)))
        index = tuple(range(op.n_index))
        data = tuple(0.5 + i for i in range(op.n_data))
        _same(Instruction(op, 1, inputs, index, data), make_instruction(op, 1, inputs, index, data))


def test_make_instruction_stays_frozen_and_normalizes_nan():
    op = lookup("scalar_const_set")
    ins = make_instruction(op, 2, (), (), (float("nan"),))
    _same(Instruction(op, 2, (), (), (float("nan"),)), ins, pickles=False)
    assert math.isnan(ins.data[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        ins.out = 3  # type: ignore[misc]


def test_program_make_is_program():
    body = (make_instruction(lookup("scalar_sum"), 1, (2, 3)),)
    _same(Program(body, (), body), Program.make(body, (), body))
    with pytest.raises(dataclasses.FrozenInstanceError):
        Program.make((), (), ()).name = "x"  # type: ignore[misc]


def test_an_instructions_encoding_is_no_field_and_is_not_pickled():
    """``Instruction.encoded`` is a backend's cache on the object (amzc/backends/llvm/
    encode.py): no part of equality or hashing, and dropped by pickle and copy, so a
    checkpoint never carries one version's encoding into another."""
    from amzc.backends.llvm.encode import pack_program

    ins = make_instruction(lookup("vector_inner_product"), 1, (0, 1))
    program = Program.make((), (ins,), ())
    plain = make_instruction(lookup("vector_inner_product"), 1, (0, 1))
    code = pack_program(program)
    assert "encoded" in ins.__dict__ and "encoded" not in plain.__dict__
    assert plain.encoded == ins.encoded  # made on first read
    assert ins == plain and hash(ins) == hash(plain)
    assert "encoded" not in {f.name for f in dataclasses.fields(Instruction)}
    for copied in (pickle.loads(pickle.dumps(ins)), copy.copy(ins), copy.deepcopy(ins)):
        assert copied == ins and "encoded" not in copied.__dict__
    assert pack_program(pickle.loads(pickle.dumps(program))) == code


def test_an_instructions_encoding_adds_no_object_for_the_garbage_collector():
    """Storing the record must not turn the instruction's inline attribute values into a
    separate dict: one more tracked object per instruction made every full collection of a
    process holding many programs traverse twice the objects (LlvmBackend.run on fresh
    programs at a third of its throughput, bench/paired.py --bench random-run)."""
    import gc

    import amzc.backends.llvm.encode  # noqa: F401  (registers the encoder)

    ins = Instruction(lookup("vector_inner_product"), 1, (0, 1))
    assert not any(isinstance(r, dict) for r in gc.get_referents(ins))
    assert ins.encoded
    assert not any(isinstance(r, dict) for r in gc.get_referents(ins))

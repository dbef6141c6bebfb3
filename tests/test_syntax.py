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


def test_the_ast_holds_no_backend_state():
    """Compiling a program leaves its instruction objects as they were: a backend keeps its
    encodings in its own caches (amzc/backends/llvm/encode.py), so an instruction's state is
    its fields and nothing else, and a pickle or copy carries nothing from a backend."""
    import gc

    from amzc.backends.llvm.encode import pack_program

    made = make_instruction(lookup("vector_inner_product"), 1, (0, 1))
    built = Instruction(lookup("vector_inner_product"), 1, (0, 1))
    program = Program.make((), (made, built), ())
    before = [dict(vars(made)), dict(vars(built))]
    referents = [len(gc.get_referents(made)), len(gc.get_referents(built))]
    code = pack_program(program)
    fields = {f.name for f in dataclasses.fields(Instruction)}
    assert [dict(vars(made)), dict(vars(built))] == before
    assert set(vars(made)) == set(vars(built)) == fields
    assert [len(gc.get_referents(made)), len(gc.get_referents(built))] == referents
    assert not hasattr(Instruction, "encoded") and not hasattr(Instruction, "encoder")
    for copied in (pickle.loads(pickle.dumps(made)), copy.copy(made), copy.deepcopy(made)):
        assert copied == made and set(vars(copied)) == fields
    assert pack_program(pickle.loads(pickle.dumps(program))) == code

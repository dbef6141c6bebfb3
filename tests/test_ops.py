"""The op table (amzc/ops.py): every op against hand-computed values and its edge cases, run
through ``Op.numpy`` (the batched NumPy semantics); the gates that every op of the table has a
semantic test, a line in tests/programs/every_op.amz and a row in docs/language.md; and an op
added at run time, through every stage."""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import apply_op, make_taskset

from amzc import ops
from amzc.backends.llvm import LlvmBackend
from amzc.backends.numpy import NumpyBackend
from amzc.check import check
from amzc.cli import ops_table
from amzc.errors import AmzTypeError
from amzc.evaluate import EvalOptions
from amzc.ops import MATRIX, OPS, SCALAR, VECTOR, Form, lookup, op_by_id
from amzc.parse import parse, parse_file
from amzc.printer import print_program
from amzc.rng import GOLDEN, TWO_PI, UNIFORM_SCALE, mix64
from amzc.search.config import ComponentConfig, MutationConfig, SearchSpace
from amzc.search.mutation import Mutator
from amzc.search.random_program import noop_program
from amzc.syntax import COMPONENTS, Instruction, MemoryConfig, Program
from amzc.tasks import build_tasks, task_spec

COVERED: set[int] = set()
NAN, INF = math.nan, math.inf


def covers(*ids: int):
    """Record which op ids a test pins, so the gate can demand every op of the table."""
    COVERED.update(ids)
    return lambda fn: fn


def op(name: str):
    return ops.OPS_BY_NAME[name]


def same(actual, expected) -> None:
    """Exact comparison that treats NaN as equal to NaN and distinguishes nothing else."""
    np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected, dtype=np.float64))


def signbit(x) -> bool:
    return bool(np.signbit(np.asarray(x)))


# ---------------------------------------------------------------------------------------------
# The table itself


def test_ids_are_dense_and_the_reference_ops_keep_0_to_64():
    assert [o.id for o in OPS] == list(range(len(OPS))) and len(OPS) >= 65
    assert all(op_by_id(o.id) is o for o in OPS)


def test_names_are_the_reference_enum_names():
    spot = {0: "no_op", 1: "scalar_sum", 15: "scalar_heaviside", 18: "scalar_vector_product",
            27: "vector_inner_product", 31: "matrix_vector_product", 35: "matrix_column_norm",
            36: "matrix_row_norm", 43: "matrix_matrix_product", 52: "matrix_row_mean",
            56: "scalar_const_set", 64: "matrix_gaussian_set"}
    for op_id, name in spot.items():
        assert OPS[op_id].name == name
    assert len({o.name for o in OPS}) == len(OPS)


@pytest.mark.parametrize("o", OPS, ids=lambda o: o.name)
def test_operand_types_match_the_name(o):
    """The type prefix of every name agrees with its inputs/output."""
    kinds = (SCALAR, VECTOR, MATRIX)
    assert o.output in (*kinds, None)
    assert all(t in kinds for t in o.inputs)
    if o.form is Form.NO_OP:
        assert o.output is None and o.inputs == ()
    elif o.is_data_op:
        assert o.inputs == () and o.name.startswith(TYPE_PREFIX[o.output])
    assert o.n_index == ({VECTOR: 1, MATRIX: 2}.get(o.output, 0) if o.form is Form.CONST else 0)
    assert o.n_data == {Form.CONST: 1, Form.RANDOM: 2}.get(o.form, 0)


TYPE_PREFIX = {SCALAR: "scalar", VECTOR: "vector", MATRIX: "matrix"}

EXPECTED_TYPES = {
    # id: (inputs, output) for the ops whose operand order matters
    18: ("sv", "v"), 29: ("sm", "m"), 31: ("mv", "v"), 27: ("vv", "s"), 28: ("vv", "m"),
    21: ("v", "s"), 34: ("m", "s"), 35: ("m", "v"), 36: ("m", "v"), 19: ("s", "v"),
    32: ("v", "m"), 33: ("v", "m"), 50: ("v", "s"), 51: ("m", "s"), 52: ("m", "v"),
    53: ("m", "v"), 54: ("v", "s"), 55: ("m", "s"), 43: ("mm", "m"), 37: ("m", "m"),
}


@pytest.mark.parametrize("op_id", sorted(EXPECTED_TYPES))
def test_operand_order_of_mixed_ops(op_id):
    inputs, output = EXPECTED_TYPES[op_id]
    assert OPS[op_id].inputs == tuple(inputs) and OPS[op_id].output == output


def test_every_op_has_exactly_one_canonical_resolution():
    seen = set()
    for o in OPS:
        if o.is_data_op:
            key = (o.form, o.symbol, o.output)
            assert ops.data_op(o.form, o.symbol, o.output) is o
        elif o.form is Form.NO_OP:
            continue
        else:
            key = (o.form, o.symbol, o.inputs, o.axis)
            assert ops.resolve(o.symbol, o.form, o.inputs, o.axis) is o
        assert key not in seen
        seen.add(key)


def test_lookup_by_name_enum_and_id():
    assert lookup("scalar_sum") is OPS[1]
    assert lookup("SCALAR_SUM_OP") is OPS[1]
    assert lookup(27) is OPS[27] and lookup("27") is OPS[27]
    with pytest.raises(KeyError):
        lookup(65)
    with pytest.raises(KeyError):
        lookup("frobnicate")


def test_ops_pickle_to_the_table_singletons():
    for o in (OPS[0], OPS[31], OPS[64]):
        assert pickle.loads(pickle.dumps(o)) is o


def test_signature_text():
    assert op("vector_inner_product").signature() == "s = dot(v, v)"
    assert op("matrix_vector_product").signature() == "v = dot(m, v)"
    assert op("matrix_row_norm").signature() == "v = norm(m, axis=1)"
    assert op("scalar_reciprocal").signature() == "s = 1 / s"
    assert op("no_op").signature() == "no_op()"


# ---------------------------------------------------------------------------------------------
# Group 1: scalar arithmetic


@covers(0)
def test_no_op_leaves_the_output_alone():
    o = OPS[0]
    old = np.array([[1.5, -2.0]])
    from amzc.rng import Streams
    from amzc.syntax import Instruction

    result = o.numpy((), old, Instruction(o), Streams(np.array([0], np.uint64)))
    same(result, old)


@covers(1, 2, 3)
@pytest.mark.parametrize(
    "name, a, b, expected",
    [
        ("scalar_sum", 2.0, 3.0, 5.0),
        ("scalar_sum", INF, -INF, NAN),
        ("scalar_diff", 2.0, 3.0, -1.0),  # a - b, not b - a
        ("scalar_diff", INF, INF, NAN),
        ("scalar_product", 2.0, -3.0, -6.0),
        ("scalar_product", 0.0, INF, NAN),
        ("scalar_product", 1e200, 1e200, INF),
    ],
)
def test_scalar_arithmetic(name, a, b, expected):
    same(apply_op(op(name), a, b), expected)


@covers(4)
@pytest.mark.parametrize(
    "a, b, expected",
    [(6.0, 3.0, 2.0), (1.0, 4.0, 0.25), (3.0, 2.0, 1.5), (1.0, 0.0, INF), (-1.0, 0.0, -INF),
     (1.0, -0.0, -INF), (0.0, 0.0, NAN), (INF, INF, NAN), (1.0, INF, 0.0)],
)
def test_scalar_division_is_ieee(a, b, expected):
    """x/0 = ±inf, 0/0 = NaN: nothing is guarded."""
    same(apply_op(op("scalar_division"), a, b), expected)


@covers(5)
def test_scalar_abs():
    same(apply_op(op("scalar_abs"), -2.5), 2.5)
    same(apply_op(op("scalar_abs"), -INF), INF)
    assert not signbit(apply_op(op("scalar_abs"), -0.0))
    same(apply_op(op("scalar_abs"), NAN), NAN)


@covers(6)
@pytest.mark.parametrize("a, expected", [(4.0, 0.25), (-0.5, -2.0), (0.0, INF), (-0.0, -INF),
                                         (INF, 0.0), (NAN, NAN)])
def test_scalar_reciprocal(a, expected):
    same(apply_op(op("scalar_reciprocal"), a), expected)


# Group 2 and 3: trigonometry, exp, log


@covers(7, 8, 9, 10, 11, 12, 13, 14)
@pytest.mark.parametrize(
    "name, a, expected",
    [
        ("scalar_sin", 0.0, 0.0),
        ("scalar_sin", math.pi / 2, 1.0),
        ("scalar_sin", math.pi / 6, 0.5),
        ("scalar_sin", INF, NAN),
        ("scalar_cos", 0.0, 1.0),
        ("scalar_cos", math.pi, -1.0),
        ("scalar_cos", math.pi / 3, 0.5),
        ("scalar_tan", math.pi / 4, 1.0),
        ("scalar_tan", 0.0, 0.0),
        ("scalar_arcsin", 1.0, math.pi / 2),
        ("scalar_arcsin", -0.5, -math.pi / 6),
        ("scalar_arcsin", 1.5, NAN),
        ("scalar_arcsin", -1.0000001, NAN),
        ("scalar_arccos", 1.0, 0.0),
        ("scalar_arccos", -1.0, math.pi),
        ("scalar_arccos", 0.5, math.pi / 3),
        ("scalar_arccos", 2.0, NAN),
        ("scalar_arccos", -INF, NAN),
        ("scalar_arctan", 1.0, math.pi / 4),
        ("scalar_arctan", INF, math.pi / 2),
        ("scalar_arctan", -INF, -math.pi / 2),
        ("scalar_exp", 0.0, 1.0),
        ("scalar_exp", 1.0, math.e),
        ("scalar_exp", -INF, 0.0),
        ("scalar_exp", 709.0, math.exp(709.0)),
        ("scalar_exp", 710.0, INF),  # overflow to +inf (x > ~709.78)
        ("scalar_exp", 1e308, INF),
        ("scalar_log", math.e, 1.0),
        ("scalar_log", 1.0, 0.0),
        ("scalar_log", 0.0, -INF),
        ("scalar_log", -0.0, -INF),
        ("scalar_log", -1.0, NAN),
        ("scalar_log", -1e-300, NAN),
        ("scalar_log", INF, INF),
    ],
)
def test_scalar_functions(name, a, expected):
    result = float(apply_op(op(name), a))
    if math.isnan(expected) or math.isinf(expected):
        same(result, expected)
    else:
        assert result == pytest.approx(expected, rel=1e-15, abs=1e-15)


@covers(9)
def test_tan_near_half_pi_is_huge_not_inf():
    result = float(apply_op(op("scalar_tan"), math.pi / 2))
    assert math.isfinite(result) and abs(result) > 1e15


# heaviside: scalar ≥ 0, vector/matrix > 0 (the reference code's; the paper uses > 0 throughout)


@covers(15)
@pytest.mark.parametrize(
    "a, expected",
    [(0.0, 1.0), (-0.0, 1.0), (1e-300, 1.0), (2.5, 1.0), (INF, 1.0), (-1e-300, 0.0),
     (-3.0, 0.0), (-INF, 0.0), (NAN, 0.0)],
)
def test_scalar_heaviside_is_one_at_zero(a, expected):
    same(apply_op(op("scalar_heaviside"), a), expected)


@covers(16)
def test_vector_heaviside_is_strict():
    v = [0.0, -0.0, 1e-300, -1e-300, 3.0, NAN, INF, -INF]
    same(apply_op(op("vector_heaviside"), v), [0, 0, 1, 0, 1, 0, 1, 0])


@covers(17)
def test_matrix_heaviside_is_strict():
    m = [[0.0, 1.0, -1.0], [NAN, 1e-300, -0.0], [INF, -INF, 2.0]]
    same(apply_op(op("matrix_heaviside"), m), [[0, 1, 0], [0, 1, 0], [1, 0, 1]])


# ---------------------------------------------------------------------------------------------
# Vector and matrix arithmetic


@covers(18)
def test_scalar_vector_product_scales_the_vector():
    same(apply_op(op("scalar_vector_product"), 2.0, [1.0, -2.0, 3.5]), [2.0, -4.0, 7.0])
    same(apply_op(op("scalar_vector_product"), 0.0, [1.0, INF, 3.0]), [0.0, NAN, 0.0])


@covers(19)
def test_scalar_broadcast_fills_every_entry():
    o = op("scalar_broadcast")
    same(apply_op(o, 7.0, out=np.zeros(4)), [7.0, 7.0, 7.0, 7.0])
    same(apply_op(o, NAN, out=np.ones(2)), [NAN, NAN])


@covers(20, 22, 23, 24, 25, 26)
@pytest.mark.parametrize(
    "name, inputs, expected",
    [
        ("vector_reciprocal", ([1.0, 2.0, 0.0, -0.0],), [1.0, 0.5, INF, -INF]),
        ("vector_abs", ([-1.0, 2.0, -INF, NAN],), [1.0, 2.0, INF, NAN]),
        ("vector_sum", ([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]), [11.0, 22.0, 33.0]),
        ("vector_diff", ([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]), [-9.0, -18.0, -27.0]),
        ("vector_product", ([1.0, 2.0, 3.0], [10.0, 20.0, 30.0]), [10.0, 40.0, 90.0]),
        ("vector_division", ([1.0, -1.0, 0.0, 6.0], [0.0, 0.0, 0.0, 3.0]), [INF, -INF, NAN, 2.0]),
    ],
)
def test_vector_elementwise(name, inputs, expected):
    same(apply_op(op(name), *inputs), expected)


@covers(21)
def test_vector_norm_is_l2():
    same(apply_op(op("vector_norm"), [3.0, 4.0, 12.0]), 13.0)
    same(apply_op(op("vector_norm"), [0.0, 0.0, 0.0]), 0.0)
    same(apply_op(op("vector_norm"), [1e200, 1e200, 0.0]), INF)  # no scaling: plain sqrt(Σx²)


@covers(27)
def test_inner_product():
    same(apply_op(op("vector_inner_product"), [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]), 32.0)


def test_sums_run_left_to_right():
    """(1e16 + 1) + ... in order: 1e16 + 1 - 1e16 = 0 left to right, but 1 pairwise/exactly."""
    v = [1e16, 1.0, -1e16, 1.0]
    ones = [1.0, 1.0, 1.0, 1.0]
    same(apply_op(op("vector_inner_product"), v, ones), ((1e16 + 1.0) - 1e16) + 1.0)
    same(apply_op(op("vector_mean"), v), (((1e16 + 1.0) - 1e16) + 1.0) / 4)


@covers(28)
def test_outer_product_orientation():
    """M(i, j) = a(i)·b(j) (op 28)."""
    a, b = [1.0, 2.0, 3.0], [1.0, 10.0, 100.0]
    same(apply_op(op("vector_outer_product"), a, b),
         [[1.0, 10.0, 100.0], [2.0, 20.0, 200.0], [3.0, 30.0, 300.0]])


@covers(29)
def test_scalar_matrix_product():
    same(apply_op(op("scalar_matrix_product"), -2.0, [[1.0, 2.0], [3.0, 4.0]]),
         [[-2.0, -4.0], [-6.0, -8.0]])


@covers(30)
def test_matrix_reciprocal():
    same(apply_op(op("matrix_reciprocal"), [[2.0, 0.0], [-0.0, -4.0]]),
         [[0.5, INF], [-INF, -0.25]])


M3 = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]


@covers(31)
def test_matrix_vector_product_uses_rows():
    """v_out(i) = Σ_j M(i, j)·v(j): the vector is a column (op 31)."""
    o = op("matrix_vector_product")
    same(apply_op(o, M3, [1.0, 0.0, 0.0]), [1.0, 4.0, 7.0])  # first column
    same(apply_op(o, M3, [1.0, 10.0, 100.0]), [321.0, 654.0, 987.0])


@covers(32, 33)
def test_broadcast_orientation():
    v = [1.0, 2.0, 3.0]
    # axis=0 (op 32): M(i, j) = v(i), every column is v
    same(apply_op(op("vector_column_broadcast"), v), [[1, 1, 1], [2, 2, 2], [3, 3, 3]])
    # axis=1 (op 33): M(i, j) = v(j), every row is v
    same(apply_op(op("vector_row_broadcast"), v), [[1, 2, 3], [1, 2, 3], [1, 2, 3]])
    assert op("vector_column_broadcast").axis == 0 and op("vector_row_broadcast").axis == 1


NORM_M = [[3.0, 1.0, 0.0], [4.0, 0.0, 0.0], [0.0, 0.0, 2.0]]


@covers(34)
def test_matrix_norm_is_frobenius():
    same(apply_op(op("matrix_norm"), NORM_M), math.sqrt(9 + 1 + 16 + 4))
    same(apply_op(op("matrix_norm"), np.ones((3, 3))), 3.0)


@covers(35, 36)
def test_row_and_column_norms_orientation():
    """Code semantics: 35 = column norms (axis=0), 36 = row norms (axis=1); Table S1 swaps them."""
    same(apply_op(op("matrix_column_norm"), NORM_M), [5.0, 1.0, 2.0])
    same(apply_op(op("matrix_row_norm"), NORM_M), [math.sqrt(10.0), 4.0, 2.0])
    assert op("matrix_column_norm").axis == 0 and op("matrix_row_norm").axis == 1


@covers(37)
def test_transpose():
    same(apply_op(op("matrix_transpose"), M3), [[1, 4, 7], [2, 5, 8], [3, 6, 9]])


@covers(38, 39, 40, 41, 42)
@pytest.mark.parametrize(
    "name, inputs, expected",
    [
        ("matrix_abs", ([[-1.0, 2.0], [-0.5, NAN]],), [[1.0, 2.0], [0.5, NAN]]),
        ("matrix_sum", ([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]), [[6, 8], [10, 12]]),
        ("matrix_diff", ([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]),
         [[-4, -4], [-4, -4]]),
        # element-wise, not the matrix product [[19, 22], [43, 50]]
        ("matrix_product", ([[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]),
         [[5, 12], [21, 32]]),
        ("matrix_division", ([[1.0, -1.0], [0.0, 8.0]], [[0.0, 0.0], [0.0, 2.0]]),
         [[INF, -INF], [NAN, 4.0]]),
    ],
)
def test_matrix_elementwise(name, inputs, expected):
    same(apply_op(op(name), *inputs), expected)


@covers(43)
def test_matmul_is_the_true_product():
    o = op("matrix_matrix_product")
    same(apply_op(o, [[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]), [[19, 22], [43, 50]])
    a = np.arange(9.0).reshape(3, 3)
    b = np.array([[1.0, -1.0, 0.0], [2.0, 0.5, 1.0], [0.0, 3.0, -2.0]])
    same(apply_op(o, a, b), a @ b)  # small integers and halves: exact in any order


# ---------------------------------------------------------------------------------------------
# min / max: std::min / std::max for scalars and vectors, explicit loops for matrices


@covers(44)
@pytest.mark.parametrize("a, b, expected", [(1.0, 2.0, 1.0), (2.0, 1.0, 1.0), (NAN, 1.0, NAN),
                                            (1.0, NAN, 1.0), (-INF, 0.0, -INF)])
def test_scalar_min_nan_gives_first(a, b, expected):
    same(apply_op(op("scalar_min"), a, b), expected)


@covers(47)
@pytest.mark.parametrize("a, b, expected", [(1.0, 2.0, 2.0), (2.0, 1.0, 2.0), (NAN, 1.0, NAN),
                                            (1.0, NAN, 1.0), (INF, 0.0, INF)])
def test_scalar_max_nan_gives_first(a, b, expected):
    same(apply_op(op("scalar_max"), a, b), expected)


@covers(44, 47)
def test_scalar_min_max_of_signed_zeros_keep_the_first():
    # (b < a) ? b : a and (a < b) ? b : a: equal operands give a
    assert not signbit(apply_op(op("scalar_min"), 0.0, -0.0))
    assert signbit(apply_op(op("scalar_min"), -0.0, 0.0))
    assert signbit(apply_op(op("scalar_max"), -0.0, 0.0))
    assert not signbit(apply_op(op("scalar_max"), 0.0, -0.0))


@covers(45, 48)
def test_vector_min_max_nan_gives_first():
    a = [NAN, 1.0, 5.0, -2.0]
    b = [1.0, NAN, 3.0, 4.0]
    same(apply_op(op("vector_min"), a, b), [NAN, 1.0, 3.0, -2.0])
    same(apply_op(op("vector_max"), a, b), [NAN, 1.0, 5.0, 4.0])


@covers(48)
def test_vector_max_with_zeros_is_relu():
    same(apply_op(op("vector_max"), [-1.0, 0.5, 0.0], [0.0, 0.0, 0.0]), [0.0, 0.5, 0.0])


@covers(46, 49)
def test_matrix_min_max_nan_gives_second():
    a = [[NAN, 1.0], [5.0, -2.0]]
    b = [[1.0, NAN], [3.0, 4.0]]
    same(apply_op(op("matrix_min"), a, b), [[1.0, NAN], [3.0, -2.0]])
    same(apply_op(op("matrix_max"), a, b), [[1.0, NAN], [5.0, 4.0]])


@covers(46, 49)
def test_matrix_min_max_of_signed_zeros_give_the_second():
    # x < y ? x : y and x > y ? x : y: equal operands give y
    assert signbit(apply_op(op("matrix_min"), [[0.0]], [[-0.0]])[0, 0])
    assert not signbit(apply_op(op("matrix_max"), [[-0.0]], [[0.0]])[0, 0])


# ---------------------------------------------------------------------------------------------
# Statistics


def py_std(values) -> float:
    """sqrt(Σx²/n − (Σx/n)²), sums left to right (ops 53-55)."""
    total = squares = 0.0
    for x in values:
        total += x
    for x in values:
        squares += x * x
    n = len(values)
    mean = total / n
    radicand = squares / n - mean * mean
    return math.sqrt(radicand) if radicand >= 0 else NAN


@covers(50, 51, 52)
def test_means():
    same(apply_op(op("vector_mean"), [1.0, 2.0, 6.0]), 3.0)
    same(apply_op(op("matrix_mean"), np.arange(9.0).reshape(3, 3)), 4.0)
    # per row: v(i) = mean of row i
    same(apply_op(op("matrix_row_mean"), M3), [2.0, 5.0, 8.0])


@covers(54)
def test_vector_std_is_population_std():
    assert float(apply_op(op("vector_st_dev"), [1.0, 2.0, 3.0])) == pytest.approx(
        math.sqrt(2 / 3), rel=1e-15)
    same(apply_op(op("vector_st_dev"), [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), 2.0)


@covers(54)
@pytest.mark.parametrize(
    "value, size, expected",
    [(0.1, 3, NAN), (0.2, 3, NAN), (0.3, 3, 3.725290298461914e-09), (0.5, 3, 0.0), (0.1, 4, 0.0),
     (1 / 3, 5, 3.725290298461914e-09)],
)
def test_std_of_a_constant_vector_shows_the_cancellation(value, size, expected):
    """The radicand E[x²] − E[x]² of a constant vector is 0, slightly negative (→ NaN) or
    slightly positive depending on rounding, summed left to right (op 54)."""
    v = [value] * size
    same(py_std(v), expected)
    same(apply_op(op("vector_st_dev"), v), expected)


@covers(55)
def test_matrix_std_over_all_entries():
    m = [[1.0, 2.0], [3.0, 4.0]]
    assert float(apply_op(op("matrix_st_dev"), m)) == pytest.approx(math.sqrt(1.25), rel=1e-15)
    same(apply_op(op("matrix_st_dev"), np.full((3, 3), 0.1)), py_std([0.1] * 9))
    same(apply_op(op("matrix_st_dev"), np.full((3, 3), 0.5)), 0.0)


@covers(53)
def test_matrix_row_std():
    m = [[0.0, 1.0, 2.0], [0.1, 0.1, 0.1], [3.0, -3.0, 3.0]]
    same(apply_op(op("matrix_row_st_dev"), m), [py_std(row) for row in m])
    assert math.isnan(float(apply_op(op("matrix_row_st_dev"), m)[1]))  # 0.1 row: NaN
    assert float(apply_op(op("matrix_row_st_dev"), m)[2]) == pytest.approx(math.sqrt(8.0))


# ---------------------------------------------------------------------------------------------
# Data ops


@covers(56)
def test_scalar_const_set():
    same(apply_op(op("scalar_const_set"), data=(-2.5,), out=np.array(9.0)), -2.5)
    same(apply_op(op("scalar_const_set"), data=(INF,)), INF)


@covers(57)
def test_vector_const_set_writes_one_coordinate():
    result = apply_op(op("vector_const_set"), out=np.array([9.0, 9.0, 9.0]), index=(1,),
                      data=(2.0,))
    same(result, [9.0, 2.0, 9.0])


@covers(58)
def test_matrix_const_set_writes_row_then_column():
    old = np.zeros((3, 3))
    result = apply_op(op("matrix_const_set"), out=old, index=(1, 2), data=(5.0,))
    expected = np.zeros((3, 3))
    expected[1, 2] = 5.0
    same(result, expected)
    same(old, np.zeros((3, 3)))  # the input array is not mutated


def splitmix_uniform(key: int, n: int) -> float:
    """Output n of the stream ``key`` as a (0, 1) uniform, in plain Python (docs/randomness.md)."""
    return ((mix64(key + (n + 1) * GOLDEN) >> 12) + 0.5) * UNIFORM_SCALE


@covers(59, 60, 61)
@pytest.mark.parametrize("name, shape", [("scalar_uniform_set", ()),
                                         ("vector_uniform_set", (3,)),
                                         ("matrix_uniform_set", (3, 3))])
def test_uniform_fills_draw_from_the_stream(name, shape):
    seed = 12345
    result = apply_op(op(name), out=np.zeros(shape), data=(-2.0, 3.0), seed=seed)
    assert result.shape == shape
    flat = result.reshape(-1)
    # one output per value, vectors in index order, matrices row by row
    expected = [-2.0 + 5.0 * splitmix_uniform(seed, n) for n in range(flat.size)]
    np.testing.assert_array_equal(flat, expected)
    assert ((flat > -2.0) & (flat < 3.0)).all()


@covers(59, 60, 61)
@pytest.mark.parametrize("name, shape", [("scalar_uniform_set", ()),
                                         ("vector_uniform_set", (3,)),
                                         ("matrix_uniform_set", (3, 3))])
@pytest.mark.parametrize("lo, hi", [(0.7, 0.2), (0.5, 0.5), (-1.0, -1.0), (NAN, 1.0),
                                    (1.0, NAN)])
def test_uniform_with_lo_not_below_hi_returns_lo(name, shape, lo, hi):
    """As absl's Uniform in the reference: lo when lo ≥ hi."""
    result = apply_op(op(name), out=np.zeros(shape), data=(lo, hi))
    same(result, np.full(shape, lo))


@covers(62, 63, 64)
@pytest.mark.parametrize("name, shape", [("scalar_gaussian_set", ()),
                                         ("vector_gaussian_set", (3,)),
                                         ("matrix_gaussian_set", (3, 3))])
def test_gaussian_fills_use_box_muller(name, shape):
    seed = 777
    result = apply_op(op(name), out=np.zeros(shape), data=(1.5, 0.25), seed=seed)
    assert result.shape == shape
    expected = []
    for k in range(result.size):
        u1, u2 = splitmix_uniform(seed, 2 * k), splitmix_uniform(seed, 2 * k + 1)
        expected.append(1.5 + 0.25 * (math.sqrt(-2.0 * math.log(u1)) * math.cos(TWO_PI * u2)))
    np.testing.assert_allclose(result.reshape(-1), expected, rtol=1e-14, atol=0)


@covers(59, 62, 63, 64)
def test_random_fills_are_deterministic_per_seed():
    for name, shape in [("scalar_uniform_set", ()), ("vector_gaussian_set", (4,)),
                        ("matrix_gaussian_set", (2, 2)), ("scalar_gaussian_set", ())]:
        a = apply_op(op(name), out=np.zeros(shape), data=(0.0, 1.0), seed=5)
        b = apply_op(op(name), out=np.zeros(shape), data=(0.0, 1.0), seed=5)
        c = apply_op(op(name), out=np.zeros(shape), data=(0.0, 1.0), seed=6)
        same(a, b)
        assert not np.array_equal(a, c)


@covers(62)
def test_gaussian_with_zero_std_is_the_mean():
    same(apply_op(op("scalar_gaussian_set"), data=(0.3, 0.0)), 0.3)


# ---------------------------------------------------------------------------------------------
# Batching: every op acts on each task of the batch independently


@pytest.mark.parametrize("o", [o for o in OPS if o.inputs], ids=lambda o: o.name)
def test_ops_act_per_task(o):
    """Two tasks in one batch give what each gives alone."""
    from amzc.rng import Streams
    from amzc.syntax import Instruction

    rng = np.random.default_rng(o.id)
    shapes = {SCALAR: (), VECTOR: (3,), MATRIX: (3, 3)}
    inputs = [rng.normal(size=(2, *shapes[t])) for t in o.inputs]
    old = rng.normal(size=(2, *shapes[o.output]))
    ins = Instruction(o, 0, tuple(range(len(o.inputs))))

    def run(task_slice):
        return o.numpy(tuple(x[task_slice] for x in inputs), old[task_slice], ins,
                       Streams(np.zeros(2, np.uint64)[task_slice]))

    with np.errstate(all="ignore"):
        both = run(slice(None))
        first, second = run(slice(0, 1)), run(slice(1, 2))
    assert both.shape == old.shape
    same(both, np.concatenate([first, second]))


def uncovered() -> list[str]:
    return [o.name for o in OPS if o.id not in COVERED]


def test_every_op_has_a_semantic_test():
    assert not uncovered(), f"ops without a semantic test (@covers): {uncovered()}"


# ---------------------------------------------------------------------------------------------
# The gates derived from the table: an op added to it fails each until it has its test, its
# line in every_op.amz and its row in the docs.

ROOT = Path(__file__).resolve().parent.parent
EVERY_OP = ROOT / "tests" / "programs" / "every_op.amz"
LANGUAGE_MD = ROOT / "docs" / "language.md"
TABLE_START = "<!-- op table: generated from amzc/ops.py -->\n"
TABLE_END = "<!-- end of op table -->\n"
UPDATE = "AMZC_UPDATE_DOCS=1 python -m pytest tests/test_ops.py -k docs_op_table"


def missing_from_every_op() -> list[str]:
    used = {ins.op.name for _, ins in parse_file(EVERY_OP).instructions()}
    return [o.name for o in OPS if o.name not in used]


def test_every_op_program_uses_every_op_of_the_table():
    assert not missing_from_every_op(), \
        f"ops missing from tests/programs/every_op.amz: {missing_from_every_op()}"


def docs_op_table() -> str:
    text = LANGUAGE_MD.read_text(encoding="utf-8")
    return text[text.index(TABLE_START) + len(TABLE_START):text.index(TABLE_END)]


def test_docs_op_table_is_the_generated_one():
    """docs/language.md holds `amzc ops --markdown` between two markers; with
    AMZC_UPDATE_DOCS=1 this test rewrites it instead."""
    generated = ops_table(markdown=True)
    if os.environ.get("AMZC_UPDATE_DOCS"):
        text = LANGUAGE_MD.read_text(encoding="utf-8")
        LANGUAGE_MD.write_text(text.replace(docs_op_table(), generated), encoding="utf-8")
    assert docs_op_table() == generated, f"the op table in docs/language.md is stale: {UPDATE}"


# ---------------------------------------------------------------------------------------------
# min/max: the NaN and signed-zero rule of ops.py against the LLVM lowering's selects

SPECIAL = [math.nan, 0.0, -0.0, 1.0, -1.0, math.inf, -math.inf]


@pytest.mark.parametrize("name", ["scalar_min", "vector_min", "matrix_min", "scalar_max",
                                  "vector_max", "matrix_max"])
def test_min_max_lowering_follows_the_ops_rule(name):
    o = op(name)
    pairs = [(a, b) for a in SPECIAL for b in SPECIAL]  # 49: one per entry of a 7 x 7 matrix
    a, b = (np.array([p[i] for p in pairs]) for i in (0, 1))
    expected = np.array([apply_op(o, x, y) for x, y in pairs]) if o.output == SCALAR \
        else apply_op(o, *((a, b) if o.output == VECTOR else (a.reshape(7, 7), b.reshape(7, 7))))
    n = len(pairs)
    if o.output == SCALAR:  # past s0, s1 (the protocol's): a_k, b_k, then the results
        setup = constants(SCALAR, 2, a, n) + constants(SCALAR, 2 + n, b, n)
        predict = tuple(Instruction(o, 2 + 2 * n + k, (2 + k, 2 + n + k)) for k in range(n))
        memory, f = MemoryConfig(2 + 3 * n, 1, 1), 1
    else:
        f = n if o.output == VECTOR else 7
        setup = constants(o.output, 1, a, f) + constants(o.output, 2, b, f)
        predict = (Instruction(o, 0, (1, 2)),)
        memory = MemoryConfig(4, 3, 3)
    program = Program(setup=setup, predict=predict)
    for backend in (LlvmBackend(mode="interpret"), LlvmBackend(mode="compile")):
        out = backend.run(program, tiny_tasks(f), memory, EvalOptions(max_abs_error=math.inf))
        got = {SCALAR: out.scalars[0, 2 + 2 * n:], VECTOR: out.vectors[0, 0],
               MATRIX: out.matrices[0, 0]}[o.output]
        same(got, expected)
        assert np.array_equal(np.signbit(got), np.signbit(expected))


def constants(kind: str, address: int, values: np.ndarray, f: int) -> tuple[Instruction, ...]:
    """Setup instructions writing ``values`` entry by entry: into consecutive scalars from
    ``address``, or into the vector or (row by row) the F x F matrix at ``address``."""
    const = ops.data_op(Form.CONST, "const", kind)
    if kind == SCALAR:
        return tuple(Instruction(const, address + k, (), (), (float(v),))
                     for k, v in enumerate(values))
    return tuple(Instruction(const, address, (), (k,) if kind == VECTOR else divmod(k, f),
                             (float(v),)) for k, v in enumerate(values))


def tiny_tasks(features: int):
    """One task with one training example whose Predict runs once, leaving memory as is."""
    z = np.zeros((1, 1, features))
    return make_taskset(z, np.zeros((1, 1)), z, np.zeros((1, 1)))


# ---------------------------------------------------------------------------------------------
# Adding an op is one row plus one lowering: an op registered at run time goes through every
# stage of amzc, and fails the gates above until it gets its test, program line and docs row.


def square_row() -> ops.Op:
    return ops.Op(len(OPS), "vector_square", ("v",), VECTOR, Form.CALL, "square", None,
                  lambda x, old, ins, rng: x[0] * x[0], "a² element-wise",
                  export="{a} * {a}")


@contextmanager
def vector_square() -> Iterator[ops.Op]:
    """``v = square(v)``: its row and its lowering, removed again on exit."""
    from amzc.backends.llvm.lowering import _elementwise, lowers

    with ops.registered(square_row()) as (square,):
        lowers(square.name)(_elementwise(lambda e: lambda a: e.b.fmul(a, a)))
        yield square


SQUARE_PROGRAM = """def Setup():
  v2 = uniform(-1.0, 1.0)
def Predict():
  v1 = square(v0)
  v1 = v1 * v2
  s1 = mean(v1)
def Learn():
  s2 = s0 - s1
  s2 = s2 * s3
  v3 = square(v1)
  v3 = s2 * v0
  v2 = v2 + v3
"""


def test_an_op_added_at_run_time_goes_through_every_stage(tmp_path):
    from test_export import assert_same_as_evaluator
    from typer.testing import CliRunner

    from amzc.backends.llvm.lowering import LOWERINGS
    from amzc.cli import app

    before = ops.VERSION
    with vector_square() as square:
        assert before < ops.VERSION and ops.lookup("vector_square") is square is OPS[65]
        # parse and check: the parser resolves square(v) from the row
        program = parse(SQUARE_PROGRAM)
        assert program.predict[0].op is square
        memory = MemoryConfig(4, 4, 1)
        check(program, memory, 4)
        # printer round trip
        assert parse(print_program(program)) == program
        # NumPy backend against the LLVM backend, interpreted and compiled
        tasks = build_tasks(task_spec("linear", features=4, num_train=30, num_valid=10,
                                      num_tasks=3))
        expected = NumpyBackend().run(program, tasks, memory, EvalOptions(seed=1), record=True)
        for mode in ("interpret", "compile"):
            actual = LlvmBackend(mode=mode).run(program, tasks, memory, EvalOptions(seed=1),
                                                record=True)
            for part in ("scalars", "vectors", "matrices"):
                np.testing.assert_array_equal(getattr(actual, part), getattr(expected, part))
            # the RMSE's squashing atan is libm's in native code: a few ulps apart
            np.testing.assert_array_max_ulp(actual.fitness, expected.fitness, maxulp=4)
        # export: the module runs and agrees with the evaluator
        assert_same_as_evaluator(program, tasks, memory, seed=1)
        # mutation draws it from a configuration that names it
        allowed = (ops.lookup("vector_square"), ops.lookup("scalar_sum"))  # as configs name ops
        space = SearchSpace(memory, 4, {c: ComponentConfig(allowed, 3, 1, 5) for c in COMPONENTS})
        mutator = Mutator(space, MutationConfig((("randomize_instruction", 1.0),)))
        rng = random.Random(0)
        child = noop_program(space)
        drawn = set()
        for _ in range(200):
            child = mutator.mutate(child, rng)
            drawn |= {ins.op for _, ins in child.instructions()}
        assert square in drawn
        # the listing and the gates name it
        listing = CliRunner().invoke(app, ["ops"]).output
        assert "65  vector_square" in listing and "v3 = square(v1)" in listing
        assert ops_table(markdown=True) != docs_op_table()
        assert "vector_square" in uncovered() and "vector_square" in missing_from_every_op()
    # and it is gone again
    assert len(OPS) == 65 and "square" not in ops.FUNCTION_NAMES
    assert "vector_square" not in LOWERINGS
    with pytest.raises(AmzTypeError, match="unknown op 'square'"):
        parse(SQUARE_PROGRAM)


def test_the_table_refuses_a_clash_or_a_gap():
    row = square_row()
    with pytest.raises(ValueError, match="next id"):
        ops.register(dataclasses.replace(row, id=70))
    with pytest.raises(ValueError, match="exists"):
        ops.register(dataclasses.replace(row, name="vector_abs"))
    with pytest.raises(ValueError, match="existing op"):
        ops.register(dataclasses.replace(row, symbol="abs"))
    with pytest.raises(TypeError, match="register"):
        OPS.append(row)
    with pytest.raises(ValueError, match="only the last op"):
        ops.unregister(OPS[3])
    assert len(OPS) == 65


def test_the_table_imports_nothing_of_amzc_above_it():
    """ops.py is the bottom layer: the AST (syntax.py) and everything else import it, never
    the reverse, not even for type checking."""
    import ast

    tree = ast.parse(Path(ops.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    assert {m for m in imported if m and m.startswith("amzc")} <= {"amzc.rng"}

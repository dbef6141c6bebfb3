"""The one table of every op (ids 0-64 of the reference).

Every other part of amzc reads this table: the parser resolves notation + operand types to an op
here, the printer prints an op's canonical form from here, the checker and the mutator take
operand types and data fields from here, the NumPy backend executes ``Op.numpy``, the exporter
writes ``Op.export`` and the LLVM backend looks up its lowering by ``Op.name``. Adding an op is
one ``_op(...)`` line below plus a lowering in ``amzc/backends/llvm/lowering.py``
(docs/language.md, "Adding an op"); :func:`register` adds one at run time.

NumPy semantics work on a batch of tasks: a scalar is an array of shape ``(K,)``, a vector
``(K, F)`` and a matrix ``(K, F, F)``. Reductions sum strictly left to right (``_seqsum``) so that
compiled backends, which also sum left to right without reassociation, agree bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import numpy as np

if TYPE_CHECKING:
    from amzc.rng import Streams

SCALAR, VECTOR, MATRIX = "s", "v", "m"
TYPE_NAMES = {SCALAR: "scalar", VECTOR: "vector", MATRIX: "matrix"}


class Form(Enum):
    """How an op is written; the parser and the printer both dispatch on it."""

    NO_OP = "no_op"  # no_op()
    INFIX = "infix"  # c = a + b
    RECIPROCAL = "reciprocal"  # c = 1 / a
    CALL = "call"  # c = f(a[, b][, axis=N])
    CONST = "const"  # c = 0.5 | c[i] = 0.5 | c[i, j] = 0.5
    RANDOM = "random"  # c = uniform(lo, hi) | c = gaussian(mean, std)


class Fields(Protocol):
    """What a semantic function reads of an instruction (``amzc.syntax.Instruction``): the
    integer coordinates and float data fields of a data op. The table sits below the AST, so
    it names the two fields, not the class."""

    @property
    def index(self) -> tuple[int, ...]: ...

    @property
    def data(self) -> tuple[float, ...]: ...


# A NumPy semantic function gets the input arrays, the output's current value (for ops that
# write only part of it), the instruction (for data fields) and the task-batched random
# streams, and returns the output's new value.
NumpyFn = Callable[[tuple[np.ndarray, ...], np.ndarray, Fields, "Streams"], np.ndarray]


@dataclass(frozen=True)
class Fill:
    """What a random fill's row says besides its semantics; every part of amzc that treats
    random fills differently reads it here.

    ``draws``: stream outputs one written entry consumes (the LLVM backend counts a
    Predict's draws with it). ``scale``: the two data fields are (location, scale), so a new
    scale is drawn from U(0, 1) and mutation never negates it; otherwise they are (lo, hi)
    bounds, each new one from U(-1, 1), and mutation keeps an altered pair sorted."""

    draws: int
    scale: bool


@dataclass(frozen=True, eq=False)
class Op:
    id: int
    name: str  # canonical name, the reference enum in lower case without _OP
    inputs: tuple[str, ...]  # operand types, in order
    output: str | None  # result type; None for no_op
    form: Form
    symbol: str  # operator or function name as printed ("+", "dot", "uniform", ...)
    axis: int | None  # the printed axis= argument, if any
    numpy: NumpyFn
    doc: str
    # The exported module's statement for one task (amzc/export.py): a NumPy expression over
    # {a}, {b} (the inputs) and F (the feature size), which may call the helpers below by
    # name (EXPORT_HELPERS). None: derived from the form and symbol.
    export: str | None = None
    fill: Fill | None = None  # random fills only

    def __post_init__(self) -> None:
        assert (self.form is Form.RANDOM) == (self.fill is not None), \
            f"{self.name}: a random fill (Form.RANDOM) and only a random fill has a Fill"

    # The three below are read for every mutation and every new instruction: cached (on the
    # instance dict, which a frozen dataclass leaves writable; pickles go by id, __reduce__).
    @cached_property
    def n_index(self) -> int:
        """Number of integer index fields (constant-set ops into vectors and matrices)."""
        if self.form is not Form.CONST:
            return 0
        return {SCALAR: 0, VECTOR: 1, MATRIX: 2}[self.output or SCALAR]

    @cached_property
    def n_data(self) -> int:
        """Number of float data fields: a constant's value, or a distribution's two parameters."""
        return {Form.CONST: 1, Form.RANDOM: 2}.get(self.form, 0)

    @cached_property
    def is_data_op(self) -> bool:
        return self.form in (Form.CONST, Form.RANDOM)

    def signature(self) -> str:
        """Human form used in error messages, e.g. ``s = dot(v, v)``."""
        ins = [TYPE_NAMES[t][0] for t in self.inputs]
        out = TYPE_NAMES[self.output][0] if self.output else ""
        axis = f", axis={self.axis}" if self.axis is not None else ""
        match self.form:
            case Form.NO_OP:
                return "no_op()"
            case Form.INFIX:
                return f"{out} = {ins[0]} {self.symbol} {ins[1]}"
            case Form.RECIPROCAL:
                return f"{out} = 1 / {ins[0]}"
            case Form.CALL:
                return f"{out} = {self.symbol}({', '.join(ins)}{axis})"
            case Form.CONST:
                idx = {SCALAR: "", VECTOR: "[i]", MATRIX: "[i, j]"}[self.output or SCALAR]
                return f"{out}{idx} = <constant>"
            case Form.RANDOM:
                return f"{out} = {self.symbol}(a, b)"

    def __reduce__(self) -> tuple[Any, ...]:
        # Ops are singletons compared by identity; unpickling must return the table's object.
        return (op_by_id, (self.id,))

    def __repr__(self) -> str:
        return f"Op({self.name})"


# ---------------------------------------------------------------------------------------------
# NumPy semantics helpers (docs/language.md, Semantics that matter)


def _seqsum(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sum strictly left to right (cumsum is sequential, unlike np.sum's pairwise order)."""
    return np.cumsum(x, axis=axis).take(-1, axis=axis)


def _flat(m: np.ndarray) -> np.ndarray:
    return m.reshape(m.shape[0], -1)


def _std(x: np.ndarray, axis: int = -1) -> np.ndarray:
    # spec: population std as sqrt(E[x²] − E[x]²); cancellation may give NaN, as in the reference
    n = x.shape[axis]
    mean = _seqsum(x, axis) / n
    return np.sqrt(_seqsum(x * x, axis) / n - mean * mean)


# min and max are compare-and-select, so which operand a NaN (or a signed zero) yields is part
# of their meaning. These four functions are the one statement of it: the NumPy semantics and
# the exported module both call them; the LLVM lowering writes the same selects in IR, and
# tests/test_ops.py runs both on NaNs and signed zeros.
def _min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b < a, b, a)  # std::min: NaN in either operand gives a


def _max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(a < b, b, a)  # std::max: NaN in either operand gives a


def _matrix_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(a < b, a, b)  # explicit loop `x < y ? x : y`: NaN gives the second operand


def _matrix_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(a > b, a, b)


def _heaviside_ge(a: np.ndarray) -> np.ndarray:
    return np.where(a >= 0.0, 1.0, 0.0)  # scalar op 15: 1 at 0, 0 at NaN


def _heaviside_gt(a: np.ndarray) -> np.ndarray:
    return np.where(a > 0.0, 1.0, 0.0)  # vector and matrix ops 16, 17: strict


def _unary(f: Callable[[np.ndarray], np.ndarray]) -> NumpyFn:
    return lambda x, old, ins, rng: f(x[0])


def _binary(f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> NumpyFn:
    return lambda x, old, ins, rng: f(x[0], x[1])


def _scale(s: np.ndarray, x: np.ndarray) -> np.ndarray:
    return s.reshape(s.shape + (1,) * (x.ndim - 1)) * x


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _seqsum(a * b)


def _matvec(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    return _seqsum(m * v[:, None, :])


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # out[i, j] = sum_k a[i, k] b[k, j], summed over k in order
    return _seqsum(a[:, :, :, None] * b[:, None, :, :], axis=2)


def _outer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, :, None] * b[:, None, :]


def _norm(x: np.ndarray) -> np.ndarray:
    return np.sqrt(_seqsum(x * x))


def _bcast_s(s: np.ndarray, old: np.ndarray) -> np.ndarray:
    return np.broadcast_to(s[:, None], old.shape).copy()


def _const(
    x: tuple[np.ndarray, ...], old: np.ndarray, ins: Fields, rng: Streams
) -> np.ndarray:
    out = old.copy()
    out[(slice(None), *ins.index)] = ins.data[0]
    return out


def _uniform(
    x: tuple[np.ndarray, ...], old: np.ndarray, ins: Fields, rng: Streams
) -> np.ndarray:
    return rng.uniform(ins.data[0], ins.data[1], old.shape[1:])


def _gaussian(
    x: tuple[np.ndarray, ...], old: np.ndarray, ins: Fields, rng: Streams
) -> np.ndarray:
    return rng.gaussian(ins.data[0], ins.data[1], old.shape[1:])


def _no_op(
    x: tuple[np.ndarray, ...], old: np.ndarray, ins: Fields, rng: Streams
) -> np.ndarray:
    return old


# Helpers the exported module copies (by source, amzc/export.py) when an ``Op.export`` form
# calls them: one definition serves the batched semantics here and the module's single task.
EXPORT_HELPERS: tuple[Callable[..., np.ndarray], ...] = (
    _seqsum, _std, _min, _max, _matrix_min, _matrix_max, _heaviside_ge, _heaviside_gt)


# ---------------------------------------------------------------------------------------------
# The table. Columns: id, name, input types, output type, form, symbol, semantics, doc; then,
# where needed, the axis, the exported form and a random fill's Fill.

S, V, M = SCALAR, VECTOR, MATRIX


def _op(
    id: int,
    name: str,
    inputs: str,
    output: str | None,
    form: Form,
    symbol: str,
    semantics: NumpyFn,
    doc: str,
    axis: int | None = None,
    export: str | None = None,
    fill: Fill | None = None,
) -> None:
    register(Op(id, name, tuple(inputs), output, form, symbol, axis, semantics, doc, export,
                fill))


class OpTable(list):
    """The ops in id order (``OPS[op.id] is op``). Read-only: :func:`register` and
    :func:`unregister` change it in place, so every module that imported it sees the change.
    A list, not a tuple, for that reason; indexing costs the same."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("the op table changes only through amzc.ops.register/unregister")

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only  # type: ignore[assignment]


OPS = OpTable()
# Derived indexes, rebuilt in place on every change of the table (see _reindex).
OPS_BY_NAME: dict[str, Op] = {}
FUNCTION_NAMES: set[str] = set()  # names written f(...): calls and random fills
FILL_NAMES: set[str] = set()  # names of the random fills (uniform, gaussian)
_RESOLVE: dict[tuple[Form, str, tuple[str, ...], int | None], Op] = {}
_DATA_OPS: dict[tuple[Form, str, str], Op] = {}
_LISTENERS: list[Callable[[], None]] = []
VERSION = 0  # counts changes of the table, for caches kept outside this module


def register(op: Op) -> Op:
    """Add ``op`` to the table as its next id. Its lowering goes into the LLVM backend's
    registry separately (``amzc.backends.llvm.lowering.lowers``)."""
    if op.id != len(OPS):
        raise ValueError(f"op {op.name} has id {op.id}; the next id is {len(OPS)}")
    if op.name in OPS_BY_NAME:
        raise ValueError(f"an op named {op.name} exists")
    key = _key(op)
    if key in (_DATA_OPS if op.is_data_op else _RESOLVE):
        raise ValueError(f"{op.name} is written as an existing op: {op.signature()}")
    list.append(OPS, op)
    _changed()
    return op


def unregister(op: Op) -> None:
    """Remove ``op``, which must be the last op registered (ids stay 0..N-1)."""
    if not OPS or OPS[-1] is not op:
        raise ValueError(f"only the last op can be removed, not {op.name}")
    list.pop(OPS)
    _changed()


@contextmanager
def registered(*rows: Op) -> Iterator[tuple[Op, ...]]:
    """Ops added for the duration of a ``with`` block (tests and experiments), then removed."""
    done: list[Op] = []
    try:
        for op in rows:
            done.append(register(op))
        yield tuple(done)
    finally:
        for op in reversed(done):
            unregister(op)


def on_change(refresh: Callable[[], None]) -> None:
    """Call ``refresh`` now and after every change of the table: modules that keep an index
    of the ops (by id, in native tables) rebuild it there, off their hot paths."""
    _LISTENERS.append(refresh)
    refresh()


def _key(op: Op) -> tuple:
    if op.is_data_op:
        return (op.form, op.symbol, op.output)
    return (op.form, op.symbol, op.inputs, op.axis)


def _changed() -> None:
    global VERSION
    VERSION += 1
    OPS_BY_NAME.clear()
    OPS_BY_NAME.update((op.name, op) for op in OPS)
    _RESOLVE.clear()
    _RESOLVE.update((_key(op), op) for op in OPS if not op.is_data_op)
    _DATA_OPS.clear()
    _DATA_OPS.update((_key(op), op) for op in OPS if op.is_data_op and op.output)
    FUNCTION_NAMES.clear()
    FUNCTION_NAMES.update(op.symbol for op in OPS if op.form in (Form.CALL, Form.RANDOM))
    FILL_NAMES.clear()
    FILL_NAMES.update(op.symbol for op in OPS if op.fill is not None)
    for refresh in _LISTENERS:
        refresh()


IN, C, R, K = Form.INFIX, Form.CALL, Form.RECIPROCAL, Form.CONST
UNIFORM, GAUSSIAN = Fill(draws=1, scale=False), Fill(draws=2, scale=True)
_op(0, "no_op", "", None, Form.NO_OP, "no_op", _no_op, "does nothing")
# scalar arithmetic
_op(1, "scalar_sum", "ss", S, IN, "+", _binary(np.add), "a + b")
_op(2, "scalar_diff", "ss", S, IN, "-", _binary(np.subtract), "a - b")
_op(3, "scalar_product", "ss", S, IN, "*", _binary(np.multiply), "a * b")
_op(4, "scalar_division", "ss", S, IN, "/", _binary(np.divide), "a / b, IEEE (±inf, NaN)")
_op(5, "scalar_abs", "s", S, C, "abs", _unary(np.abs), "absolute value")
_op(6, "scalar_reciprocal", "s", S, R, "/", _unary(lambda a: 1.0 / a), "1 / a")
_op(7, "scalar_sin", "s", S, C, "sin", _unary(np.sin), "sin a")
_op(8, "scalar_cos", "s", S, C, "cos", _unary(np.cos), "cos a")
_op(9, "scalar_tan", "s", S, C, "tan", _unary(np.tan), "tan a")
_op(10, "scalar_arcsin", "s", S, C, "arcsin", _unary(np.arcsin), "asin a; NaN outside [-1, 1]")
_op(11, "scalar_arccos", "s", S, C, "arccos", _unary(np.arccos), "acos a; NaN outside [-1, 1]")
_op(12, "scalar_arctan", "s", S, C, "arctan", _unary(np.arctan), "atan a")
_op(13, "scalar_exp", "s", S, C, "exp", _unary(np.exp), "e^a; overflows to +inf")
_op(14, "scalar_log", "s", S, C, "log", _unary(np.log), "ln a; log 0 = -inf, log(<0) = NaN")
_op(15, "scalar_heaviside", "s", S, C, "heaviside", _unary(_heaviside_ge), "1 if a >= 0 else 0",
    export="_heaviside_ge({a})")
_op(16, "vector_heaviside", "v", V, C, "heaviside", _unary(_heaviside_gt), "1 where a > 0 else 0",
    export="_heaviside_gt({a})")
_op(17, "matrix_heaviside", "m", M, C, "heaviside", _unary(_heaviside_gt), "1 where a > 0 else 0",
    export="_heaviside_gt({a})")
# linear algebra and vector/matrix arithmetic
_op(18, "scalar_vector_product", "sv", V, IN, "*", _binary(_scale), "s * v")
_op(19, "scalar_broadcast", "s", V, C, "bcast", lambda x, old, i, r: _bcast_s(x[0], old),
    "every entry = s",
    export="np.full(F, {a})")
_op(20, "vector_reciprocal", "v", V, R, "/", _unary(lambda a: 1.0 / a), "1 / v element-wise")
_op(21, "vector_norm", "v", S, C, "norm", _unary(_norm), "L2 norm",
    export="np.sqrt(_seqsum({a} * {a}))")
_op(22, "vector_abs", "v", V, C, "abs", _unary(np.abs), "absolute value, element-wise")
_op(23, "vector_sum", "vv", V, IN, "+", _binary(np.add), "a + b element-wise")
_op(24, "vector_diff", "vv", V, IN, "-", _binary(np.subtract), "a - b element-wise")
_op(25, "vector_product", "vv", V, IN, "*", _binary(np.multiply), "a * b element-wise (Hadamard)")
_op(26, "vector_division", "vv", V, IN, "/", _binary(np.divide), "a / b element-wise")
_op(27, "vector_inner_product", "vv", S, C, "dot", _binary(_dot), "sum_i a_i b_i",
    export="_seqsum({a} * {b})")
_op(28, "vector_outer_product", "vv", M, C, "outer", _binary(_outer), "M[i, j] = a[i] b[j]",
    export="np.outer({a}, {b})")
_op(29, "scalar_matrix_product", "sm", M, IN, "*", _binary(_scale), "s * M")
_op(30, "matrix_reciprocal", "m", M, R, "/", _unary(lambda a: 1.0 / a), "1 / M element-wise")
_op(31, "matrix_vector_product", "mv", V, C, "dot", _binary(_matvec), "out[i] = sum_j M[i, j] v[j]",
    export="_seqsum({a} * {b})")
_op(32, "vector_column_broadcast", "v", M, C, "bcast",
    _unary(lambda v: np.repeat(v[:, :, None], v.shape[1], axis=2)), "M[i, j] = v[i]", axis=0,
    export="np.repeat({a}[:, None], F, axis=1)")
_op(33, "vector_row_broadcast", "v", M, C, "bcast",
    _unary(lambda v: np.repeat(v[:, None, :], v.shape[1], axis=1)), "M[i, j] = v[j]", axis=1,
    export="np.repeat({a}[None, :], F, axis=0)")
_op(34, "matrix_norm", "m", S, C, "norm", _unary(lambda m: _norm(_flat(m))), "Frobenius norm",
    export="np.sqrt(_seqsum(({a} * {a}).ravel()))")
_op(35, "matrix_column_norm", "m", V, C, "norm",
    _unary(lambda m: np.sqrt(_seqsum(m * m, axis=1))), "out[j] = L2 norm of column j", axis=0,
    export="np.sqrt(_seqsum({a} * {a}, axis=0))")
_op(36, "matrix_row_norm", "m", V, C, "norm",
    _unary(lambda m: np.sqrt(_seqsum(m * m, axis=2))), "out[i] = L2 norm of row i", axis=1,
    export="np.sqrt(_seqsum({a} * {a}, axis=1))")
_op(37, "matrix_transpose", "m", M, C, "transpose", _unary(lambda m: np.swapaxes(m, 1, 2).copy()),
    "M transposed",
    export="{a}.T.copy()")
_op(38, "matrix_abs", "m", M, C, "abs", _unary(np.abs), "absolute value, element-wise")
_op(39, "matrix_sum", "mm", M, IN, "+", _binary(np.add), "a + b element-wise")
_op(40, "matrix_diff", "mm", M, IN, "-", _binary(np.subtract), "a - b element-wise")
_op(41, "matrix_product", "mm", M, IN, "*", _binary(np.multiply), "a * b element-wise")
_op(42, "matrix_division", "mm", M, IN, "/", _binary(np.divide), "a / b element-wise")
_op(43, "matrix_matrix_product", "mm", M, C, "matmul", _binary(_matmul), "A B",
    export="_seqsum({a}[:, :, None] * {b}[None, :, :], axis=1)")
# min / max
_op(44, "scalar_min", "ss", S, C, "minimum", _binary(_min), "(b < a) ? b : a",
    export="_min({a}, {b})")
_op(45, "vector_min", "vv", V, C, "minimum", _binary(_min), "element-wise (b < a) ? b : a",
    export="_min({a}, {b})")
_op(46, "matrix_min", "mm", M, C, "minimum", _binary(_matrix_min), "element-wise (a < b) ? a : b",
    export="_matrix_min({a}, {b})")
_op(47, "scalar_max", "ss", S, C, "maximum", _binary(_max), "(a < b) ? b : a",
    export="_max({a}, {b})")
_op(48, "vector_max", "vv", V, C, "maximum", _binary(_max), "element-wise (a < b) ? b : a",
    export="_max({a}, {b})")
_op(49, "matrix_max", "mm", M, C, "maximum", _binary(_matrix_max), "element-wise (a > b) ? a : b",
    export="_matrix_max({a}, {b})")
# statistics
_op(50, "vector_mean", "v", S, C, "mean", _unary(lambda v: _seqsum(v) / v.shape[1]), "mean",
    export="_seqsum({a}) / F")
_op(51, "matrix_mean", "m", S, C, "mean", _unary(lambda m: _seqsum(_flat(m)) / m[0].size),
    "mean of all entries",
    export="_seqsum({a}.ravel()) / (F * F)")
_op(52, "matrix_row_mean", "m", V, C, "mean", _unary(lambda m: _seqsum(m, axis=2) / m.shape[2]),
    "out[i] = mean of row i", axis=1,
    export="_seqsum({a}, axis=1) / F")
_op(53, "matrix_row_st_dev", "m", V, C, "std", _unary(lambda m: _std(m, axis=2)),
    "out[i] = std of row i", axis=1,
    export="_std({a}, axis=1)")
_op(54, "vector_st_dev", "v", S, C, "std", _unary(_std), "sqrt(E[v²] - E[v]²); may be NaN",
    export="_std({a})")
_op(55, "matrix_st_dev", "m", S, C, "std", _unary(lambda m: _std(_flat(m))),
    "sqrt(E[M²] - E[M]²); may be NaN",
    export="_std({a}.ravel())")
# data ops
_op(56, "scalar_const_set", "", S, K, "const", _const, "s = constant")
_op(57, "vector_const_set", "", V, K, "const", _const, "v[i] = constant")
_op(58, "matrix_const_set", "", M, K, "const", _const, "M[i, j] = constant")
_op(59, "scalar_uniform_set", "", S, Form.RANDOM, "uniform", _uniform, "one U(lo, hi) draw",
    fill=UNIFORM)
_op(60, "vector_uniform_set", "", V, Form.RANDOM, "uniform", _uniform, "F U(lo, hi) draws",
    fill=UNIFORM)
_op(61, "matrix_uniform_set", "", M, Form.RANDOM, "uniform", _uniform, "F² draws, row by row",
    fill=UNIFORM)
_op(62, "scalar_gaussian_set", "", S, Form.RANDOM, "gaussian", _gaussian, "one N(mean, std) draw",
    fill=GAUSSIAN)
_op(63, "vector_gaussian_set", "", V, Form.RANDOM, "gaussian", _gaussian, "F N(mean, std) draws",
    fill=GAUSSIAN)
_op(64, "matrix_gaussian_set", "", M, Form.RANDOM, "gaussian", _gaussian,
    "F² draws, row by row",
    fill=GAUSSIAN)

NO_OP = OPS[0]
BUILT_IN = len(OPS)  # the ops every process has on import (a child process knows only these)


def op_by_id(op_id: int) -> Op:
    return OPS[op_id]


def lookup(name_or_id: str | int) -> Op:
    """An op by canonical name (``scalar_sum``), reference enum (``SCALAR_SUM_OP``) or id."""
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        op_id = int(name_or_id)
        if 0 <= op_id < len(OPS):
            return OPS[op_id]
        raise KeyError(f"no op with id {op_id} (ids are 0..{len(OPS) - 1})")
    key = str(name_or_id).lower().removesuffix("_op")
    if key in OPS_BY_NAME:
        return OPS_BY_NAME[key]
    raise KeyError(f"unknown op {name_or_id!r}")


def resolve(symbol: str, form: Form, inputs: tuple[str, ...], axis: int | None) -> Op | None:
    """The op written as ``symbol`` with these operand types, or None."""
    return _RESOLVE.get((form, symbol, inputs, axis))


def data_op(form: Form, symbol: str, output: str) -> Op:
    """The constant-set or random-fill op writing a value of type ``output``."""
    return _DATA_OPS[(form, symbol, output)]


def candidates(symbol: str) -> list[Op]:
    """Every op printed with this operator or function name, for error messages."""
    return [op for op in OPS if op.symbol == symbol and not op.is_data_op]

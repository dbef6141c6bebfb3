"""Op lowering: one IR emitter per ``Op.name`` (amzc/ops.py), shared by the compiled path and
the interpreter (docs/llvm.md).

A lowering reads its operands from memory slots and writes its result back, one ``<W x double>``
lane vector per slot (W tasks at once, amzc/backends/llvm/layout.py). Slot bases, constant
indices and data fields are Python ints/floats when a program is compiled (LLVM folds them) and
IR values when the interpreter decodes them at run time; the same code serves both, so the two
paths cannot drift apart.

Arithmetic follows the NumPy reference bit for bit (amzc/ops.py): no fast-math
flags, no FMA contraction, reductions summed strictly left to right from the first term, min/max
and heaviside as the exact compare-and-select of amzc/ops.py. Only the libm-style functions
(sin, cos, tan, arcsin, arccos, arctan, exp, log) may differ from NumPy's by a few ulps, because
NumPy uses its own SIMD implementations where LLVM calls the C library."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llvmlite import ir

from amzc import ops
from amzc.ops import MATRIX, OPS, OPS_BY_NAME, SCALAR, VECTOR, Op
from amzc.rng import GOLDEN, MIX1, MIX2, TWO_PI, UNIFORM_SCALE, UNIFORM_SHIFT

from .layout import Shape

F64 = ir.DoubleType()
I64 = ir.IntType(64)
I32 = ir.IntType(32)
I1 = ir.IntType(1)
PTR = ir.PointerType()

Idx = int | ir.Value  # a slot or an index: a Python int (folded) or an i64 IR value
Num = float | ir.Value  # a data field: a Python float or a double IR value

# Ops on more entries than this are emitted as IR loops instead of straight-line code.
UNROLL_LIMIT = 64


def u64(x: int) -> int:
    """An unsigned 64-bit constant as the signed value llvmlite prints."""
    return x - (1 << 64) if x >= 1 << 63 else x


def mix64(b: ir.IRBuilder, z: ir.Value, iconst: Callable[[int], ir.Value]) -> ir.Value:
    """amzc/rng.py's ``mix64`` (SplitMix64's finalizer), scalar or lane-wise."""
    for shift, mult in ((30, MIX1), (27, MIX2)):
        z = b.xor(z, b.lshr(z, iconst(shift)))
        z = b.mul(z, iconst(u64(mult)))
    return b.xor(z, b.lshr(z, iconst(31)))


def uniform01(b: ir.IRBuilder, state: ir.Value, iconst: Callable[[int], ir.Value],
              fconst: Callable[[float], ir.Value], ftype: ir.Type) -> ir.Value:
    """amzc/rng.py's uniform in (0, 1) of a SplitMix64 state ``key + (n + 1) * GOLDEN``:
    its mix64, then the top 52 bits as a double. Scalar or lane-wise, with ``iconst`` and
    ``fconst`` making constants of the state's and the result's type (``ftype``)."""
    top = b.uitofp(b.lshr(mix64(b, state, iconst), iconst(UNIFORM_SHIFT)), ftype)
    return b.fmul(b.fadd(top, fconst(0.5)), fconst(UNIFORM_SCALE))


class Literal(ir.Constant):
    """A constant in LLVM's own notation, e.g. ``splat (double 0.5)``: short, readable IR
    (llvmlite would spell out every lane)."""

    def __init__(self, typ: ir.Type, text: str) -> None:
        self.type = typ
        self.constant = text

    def _get_reference(self) -> str:
        return self.constant


def double_text(x: float) -> str:
    """A double in LLVM IR notation, exactly: shortest decimal when finite, else hex bits."""
    if math.isfinite(x):
        text = repr(x)
        if "." not in text:  # LLVM's lexer wants a point: 1e-05 → 1.0e-05
            mantissa, _, exponent = text.partition("e")
            text = f"{mantissa}.0" + (f"e{exponent}" if exponent else "")
        return text
    return f"0x{struct.unpack('<Q', struct.pack('<d', x))[0]:016X}"


def splat(typ: ir.VectorType, x: float | int) -> ir.Constant:
    """Every lane ``x``."""
    if x == 0 and not (isinstance(x, float) and math.copysign(1.0, x) < 0):
        return Literal(typ, "zeroinitializer")
    if isinstance(typ.element, ir.DoubleType):
        return Literal(typ, f"splat (double {double_text(float(x))})")
    return Literal(typ, f"splat ({typ.element} {int(x)})")


class Emitter:
    """IR helpers over one builder: lane vectors, memory slots, loops, libm and the random
    streams. ``mem`` points at ``slots`` consecutive ``<W x double>`` values; ``counter`` at the
    i64 number of random outputs drawn so far by the task group; ``keys`` at the group's
    ``<W x i64>`` stream keys."""

    def __init__(self, builder: ir.IRBuilder, shape: Shape, mem: ir.Value,
                 keys: ir.Value | None = None, counter: ir.Value | None = None,
                 align: int | None = None, scratch: ir.Value | None = None) -> None:
        self.b = builder
        self.shape = shape
        self.w = shape.lanes
        self.vec = ir.VectorType(F64, self.w)
        self.ivec = ir.VectorType(I64, self.w)
        self.mem = mem
        self.keys = keys
        self.counter = counter
        self.scratch = scratch  # room for compute_then_store's results (Shape.scratch_slots)
        # our own allocas are aligned to the vector; caller-provided buffers only to a double
        self.align = align or 8 * self.w

    # integers -----------------------------------------------------------------------------
    def i64(self, x: Idx) -> ir.Value:
        return ir.Constant(I64, x) if isinstance(x, int) else x

    def add(self, a: Idx, b: Idx) -> Idx:
        if isinstance(a, int) and isinstance(b, int):
            return a + b
        if isinstance(b, int) and b == 0:
            return a
        return self.b.add(self.i64(a), self.i64(b))

    def mul(self, a: Idx, c: int) -> Idx:
        if isinstance(a, int):
            return a * c
        return a if c == 1 else self.b.mul(a, ir.Constant(I64, c))

    def divmod(self, a: Idx, c: int) -> tuple[Idx, Idx]:
        if isinstance(a, int):
            return divmod(a, c)
        return self.b.udiv(a, ir.Constant(I64, c)), self.b.urem(a, ir.Constant(I64, c))

    # lane vectors -------------------------------------------------------------------------
    def const(self, x: float) -> ir.Constant:
        return splat(self.vec, float(x))

    def splat(self, x: Num) -> ir.Value:
        if isinstance(x, float | int):
            return self.const(float(x))
        one = self.b.insert_element(ir.Constant(self.vec, None), x, ir.Constant(I32, 0))
        return self.b.shuffle_vector(one, ir.Constant(self.vec, None),
                                     ir.Constant(ir.VectorType(I32, self.w), [0] * self.w))

    def slot_ptr(self, slot: Idx) -> ir.Value:
        return self.b.gep(self.mem, [self.i64(slot)], source_etype=self.vec)

    def load(self, slot: Idx) -> ir.Value:
        return self.b.load(self.slot_ptr(slot), typ=self.vec, align=self.align)

    def store(self, slot: Idx, value: ir.Value) -> None:
        self.b.store(value, self.slot_ptr(slot), align=self.align)

    def intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        typ = args[0].type
        suffix = f"v{typ.count}f64" if isinstance(typ, ir.VectorType) else "f64"
        fnty = ir.FunctionType(typ, [typ] * len(args))
        fn = self.b.module.declare_intrinsic(f"{name}.{suffix}", fnty=fnty)
        return self.b.call(fn, list(args))

    def select(self, cond: ir.Value, a: ir.Value, b: ir.Value) -> ir.Value:
        return self.b.select(cond, a, b)

    def flt(self, op: str, a: ir.Value, b: ir.Value) -> ir.Value:
        """An ordered compare (false when either side is NaN), as NumPy's < > >= are."""
        return self.b.fcmp_ordered(op, a, b)

    # loops ---------------------------------------------------------------------------------
    @property
    def unrolled(self) -> bool:
        return self.shape.features ** 2 <= UNROLL_LIMIT

    def loop(self, n: int, body: Callable[[Idx], None]) -> None:
        """``body(k)`` for k in 0..n-1: unrolled for small F, an IR loop otherwise."""
        if self.unrolled or n == 1:
            for k in range(n):
                body(k)
            return
        self.loop_always(n, body)

    def loop_always(self, n: int, body: Callable[[Idx], None]) -> None:
        """``body(k)`` for k in 0..n-1 as an IR loop, whatever F."""
        self.ir_loop(n, lambda k, acc: (body(k), acc)[1], None)

    def seqsum(self, n: int, term: Callable[[Idx], ir.Value]) -> ir.Value:
        """term(0) + term(1) + ... + term(n-1), strictly left to right (amzc/ops.py _seqsum)."""
        acc = term(0)
        if self.unrolled or n <= 1:
            for k in range(1, n):
                acc = self.b.fadd(acc, term(k))
            return acc
        return self.ir_loop(n - 1, lambda k, a: self.b.fadd(a, term(self.add(k, 1))), acc)

    def ir_loop(self, n: int, step: Callable[[ir.Value, ir.Value | None], ir.Value | None],
                 acc: ir.Value | None) -> ir.Value | None:
        b = self.b
        before = b.block
        head = b.append_basic_block("loop")
        done = b.append_basic_block("loop.end")
        b.branch(head)
        b.position_at_end(head)
        k = b.phi(I64)
        k.add_incoming(ir.Constant(I64, 0), before)
        phi = None
        if acc is not None:
            phi = b.phi(acc.type)
            phi.add_incoming(acc, before)
        new = step(k, phi)
        nxt = b.add(k, ir.Constant(I64, 1))
        k.add_incoming(nxt, b.block)
        if phi is not None:
            phi.add_incoming(new, b.block)
        b.cbranch(b.icmp_unsigned("<", nxt, ir.Constant(I64, n)), head, done)
        b.position_at_end(done)
        return new

    def compute_then_store(self, out: Idx, n: int, value: Callable[[Idx], ir.Value]) -> None:
        """Write n results that read entries the output may overwrite (out may alias an input):
        every result is computed before any is stored."""
        if self.unrolled:
            values = [value(k) for k in range(n)]
            for k, v in enumerate(values):
                self.store(self.add(out, k), v)
            return
        # a caller's buffer, shared by all instructions (one runs at a time): a stack array
        # per instruction would add up, for large F, past the stack's size
        tmp_emitter = Emitter(self.b, self.shape, self.scratch, align=8)
        self.loop(n, lambda k: tmp_emitter.store(k, value(k)))
        self.loop(n, lambda k: self.store(self.add(out, k), tmp_emitter.load(k)))

    # random streams (amzc/rng.py) --------------------------------------------------------
    def uniform01(self, n: Idx) -> ir.Value:
        """Output n of every lane's stream as a double in (0, 1)."""
        b = self.b
        step = b.mul(b.add(self.i64(n), ir.Constant(I64, 1)), ir.Constant(I64, u64(GOLDEN)))
        keys = b.load(self.keys, typ=self.ivec, align=8)
        return uniform01(b, b.add(keys, self.isplat(step)), self.iconst, self.const, self.vec)

    def draw(self, count: int) -> ir.Value:
        """Reserve ``count`` outputs of the stream; returns the index of the first."""
        first = self.b.load(self.counter, typ=I64)
        self.b.store(self.b.add(first, ir.Constant(I64, count)), self.counter)
        return first

    def iconst(self, x: int) -> ir.Constant:
        return splat(self.ivec, x)

    def isplat(self, x: ir.Value) -> ir.Value:
        one = self.b.insert_element(ir.Constant(self.ivec, None), x, ir.Constant(I32, 0))
        return self.b.shuffle_vector(one, ir.Constant(self.ivec, None),
                                     ir.Constant(ir.VectorType(I32, self.w), [0] * self.w))


@dataclass(frozen=True)
class Operands:
    """What a lowering needs of one instruction: slot bases of the output and inputs, the
    constant-set indices and the data fields (ints/floats or IR values)."""

    out: Idx
    inputs: Sequence[Idx]
    index: Sequence[Idx]
    data: Sequence[Num]


Lowering = Callable[[Emitter, Op, Operands], None]
LOWERINGS: dict[str, Lowering] = {}


def lowers(*names: str) -> Callable[[Lowering], Lowering]:
    """Register the decorated function as the lowering of the named ops (rows of the op
    table; a lowering of an op removed from the table goes with it)."""
    def register(fn: Lowering) -> Lowering:
        for name in names:
            assert name in OPS_BY_NAME, f"no op named {name} in amzc/ops.py"
            LOWERINGS[name] = fn
        return fn

    return register


def _forget_removed_ops() -> None:
    for name in set(LOWERINGS) - set(OPS_BY_NAME):
        del LOWERINGS[name]


def emit(e: Emitter, op: Op, operands: Operands) -> None:
    LOWERINGS[op.name](e, op, operands)


# element functions ----------------------------------------------------------------------------
Elem = Callable[..., ir.Value]


def _elementwise(fn: Callable[[Emitter], Elem]) -> Lowering:
    """out[k] = f(a[k], b[k], ...) over every entry; in place is safe (entry k reads entry k)."""

    def lower(e: Emitter, op: Op, x: Operands) -> None:
        f = fn(e)
        e.loop(e.shape.size(op.output),
               lambda k: e.store(e.add(x.out, k), f(*[e.load(e.add(a, k)) for a in x.inputs])))

    return lower


_ARITH = {"sum": "fadd", "diff": "fsub", "product": "fmul", "division": "fdiv"}
for _kind in (SCALAR, VECTOR, MATRIX):
    _prefix = {SCALAR: "scalar", VECTOR: "vector", MATRIX: "matrix"}[_kind]
    for _name, _method in _ARITH.items():
        lowers(f"{_prefix}_{_name}")(
            _elementwise(lambda e, m=_method: lambda a, b: getattr(e.b, m)(a, b)))
    lowers(f"{_prefix}_abs")(_elementwise(lambda e: lambda a: e.intrinsic("llvm.fabs", a)))
    lowers(f"{_prefix}_reciprocal")(_elementwise(lambda e: lambda a: e.b.fdiv(e.const(1.0), a)))

for _name, _intrinsic in (("sin", "llvm.sin"), ("cos", "llvm.cos"), ("tan", "llvm.tan"),
                          ("arcsin", "llvm.asin"), ("arccos", "llvm.acos"),
                          ("arctan", "llvm.atan"), ("exp", "llvm.exp"), ("log", "llvm.log")):
    lowers(f"scalar_{_name}")(_elementwise(lambda e, i=_intrinsic: lambda a: e.intrinsic(i, a)))


def _step(e: Emitter, cmp: str) -> Elem:
    return lambda a: e.select(e.flt(cmp, a, e.const(0.0)), e.const(1.0), e.const(0.0))


lowers("scalar_heaviside")(_elementwise(lambda e: _step(e, ">=")))  # heaviside(0) = 1
lowers("vector_heaviside", "matrix_heaviside")(_elementwise(lambda e: _step(e, ">")))
# std::min/max (scalars and Eigen vectors): a NaN in either operand gives the first
lowers("scalar_min", "vector_min")(
    _elementwise(lambda e: lambda a, b: e.select(e.flt("<", b, a), b, a)))
lowers("scalar_max", "vector_max")(
    _elementwise(lambda e: lambda a, b: e.select(e.flt("<", a, b), b, a)))
# the matrix ops' explicit loops: a NaN gives the second operand
lowers("matrix_min")(_elementwise(lambda e: lambda a, b: e.select(e.flt("<", a, b), a, b)))
lowers("matrix_max")(_elementwise(lambda e: lambda a, b: e.select(e.flt(">", a, b), a, b)))


@lowers("scalar_vector_product", "scalar_matrix_product")
def _scale(e: Emitter, op: Op, x: Operands) -> None:
    s = e.load(x.inputs[0])
    e.loop(e.shape.size(op.output),
           lambda k: e.store(e.add(x.out, k), e.b.fmul(s, e.load(e.add(x.inputs[1], k)))))


@lowers("scalar_broadcast")
def _bcast_scalar(e: Emitter, op: Op, x: Operands) -> None:
    s = e.load(x.inputs[0])
    e.loop(e.shape.features, lambda k: e.store(e.add(x.out, k), s))


@lowers("vector_column_broadcast", "vector_row_broadcast")
def _bcast_vector(e: Emitter, op: Op, x: Operands) -> None:
    f = e.shape.features
    column = op.name == "vector_column_broadcast"  # M[i, j] = v[i]; the row form v[j]

    def entry(k: Idx) -> None:
        i, j = e.divmod(k, f)
        e.store(e.add(x.out, k), e.load(e.add(x.inputs[0], i if column else j)))

    e.loop(f * f, entry)


@lowers("vector_outer_product")
def _outer(e: Emitter, op: Op, x: Operands) -> None:
    f = e.shape.features
    a, b = x.inputs

    def entry(k: Idx) -> None:
        i, j = e.divmod(k, f)
        e.store(e.add(x.out, k), e.b.fmul(e.load(e.add(a, i)), e.load(e.add(b, j))))

    e.loop(f * f, entry)


@lowers("matrix_transpose")
def _transpose(e: Emitter, op: Op, x: Operands) -> None:
    f = e.shape.features

    def entry(k: Idx) -> ir.Value:
        i, j = e.divmod(k, f)
        return e.load(e.add(x.inputs[0], e.add(e.mul(j, f), i)))

    e.compute_then_store(x.out, f * f, entry)


@lowers("vector_inner_product")
def _dot(e: Emitter, op: Op, x: Operands) -> None:
    a, b = x.inputs
    e.store(x.out, e.seqsum(e.shape.features,
                            lambda k: e.b.fmul(e.load(e.add(a, k)), e.load(e.add(b, k)))))


@lowers("matrix_vector_product")
def _matvec(e: Emitter, op: Op, x: Operands) -> None:
    f = e.shape.features
    m, v = x.inputs

    def row(i: Idx) -> ir.Value:
        return e.seqsum(f, lambda j: e.b.fmul(e.load(e.add(m, e.add(e.mul(i, f), j))),
                                              e.load(e.add(v, j))))

    e.compute_then_store(x.out, f, row)


@lowers("matrix_matrix_product")
def _matmul(e: Emitter, op: Op, x: Operands) -> None:
    f = e.shape.features
    a, b = x.inputs

    def entry(k: Idx) -> ir.Value:
        i, j = e.divmod(k, f)
        return e.seqsum(f, lambda t: e.b.fmul(e.load(e.add(a, e.add(e.mul(i, f), t))),
                                              e.load(e.add(b, e.add(e.mul(t, f), j)))))

    e.compute_then_store(x.out, f * f, entry)


# reductions: (n terms, stride between terms, stride between outputs, outputs)
def _reduction(e: Emitter, op: Op) -> tuple[int, int, int, int]:
    f = e.shape.features
    if op.inputs == (VECTOR,):
        return f, 1, 0, 1
    if op.output == SCALAR:  # the whole matrix
        return f * f, 1, 0, 1
    if op.axis == 0:  # per column j: entries (i, j), i = 0..F-1
        return f, f, 1, f
    return f, 1, f, f  # per row i: entries (i, j), j = 0..F-1


def _reduce(fn: Callable[[Emitter, Callable[[Callable[[ir.Value], ir.Value]], ir.Value], int],
                         ir.Value]) -> Lowering:
    def lower(e: Emitter, op: Op, x: Operands) -> None:
        n, stride, out_stride, outputs = _reduction(e, op)
        src = x.inputs[0]

        def one(r: Idx) -> None:
            first = e.mul(r, out_stride)

            def total(term: Callable[[ir.Value], ir.Value]) -> ir.Value:
                return e.seqsum(n, lambda k: term(e.load(e.add(src, e.add(first,
                                                                          e.mul(k, stride))))))

            e.store(e.add(x.out, r), fn(e, total, n))

        e.loop(outputs, one)

    return lower


def _norm(e: Emitter, total: Callable[..., ir.Value], n: int) -> ir.Value:
    return e.intrinsic("llvm.sqrt", total(lambda v: e.b.fmul(v, v)))


def _mean(e: Emitter, total: Callable[..., ir.Value], n: int) -> ir.Value:
    return e.b.fdiv(total(lambda v: v), e.const(float(n)))


def _std(e: Emitter, total: Callable[..., ir.Value], n: int) -> ir.Value:
    # spec: sqrt(E[x²] − E[x]²) as amzc/ops.py _std, so cancellation gives the same NaN
    mean = e.b.fdiv(total(lambda v: v), e.const(float(n)))
    square = e.b.fdiv(total(lambda v: e.b.fmul(v, v)), e.const(float(n)))
    return e.intrinsic("llvm.sqrt", e.b.fsub(square, e.b.fmul(mean, mean)))


lowers("vector_norm", "matrix_norm", "matrix_column_norm", "matrix_row_norm")(_reduce(_norm))
lowers("vector_mean", "matrix_mean", "matrix_row_mean")(_reduce(_mean))
lowers("vector_st_dev", "matrix_st_dev", "matrix_row_st_dev")(_reduce(_std))


# data ops -------------------------------------------------------------------------------------
@lowers("no_op")
def _no_op(e: Emitter, op: Op, x: Operands) -> None:
    return None


@lowers("scalar_const_set", "vector_const_set", "matrix_const_set")
def _const_set(e: Emitter, op: Op, x: Operands) -> None:
    f = e.shape.features
    offset: Idx = 0
    for i in x.index:  # row-major coordinates
        offset = e.add(e.mul(offset, f), i)
    e.store(e.add(x.out, offset), e.splat(x.data[0]))


@lowers("scalar_uniform_set", "vector_uniform_set", "matrix_uniform_set")
def _uniform(e: Emitter, op: Op, x: Operands) -> None:
    n = e.shape.size(op.output)
    first = e.draw(n)  # drawn even when lo >= hi: stream positions never depend on data
    lo, hi = (e.splat(d) for d in x.data)
    ordered = e.flt("<", lo, hi)  # lo >= hi (or a NaN bound) gives lo, as amzc/rng.py

    def entry(k: Idx) -> None:
        u = e.uniform01(e.add(first, k))
        value = e.b.fadd(lo, e.b.fmul(e.b.fsub(hi, lo), u))
        e.store(e.add(x.out, k), e.select(ordered, value, lo))

    e.loop(n, entry)


@lowers("scalar_gaussian_set", "vector_gaussian_set", "matrix_gaussian_set")
def _gaussian(e: Emitter, op: Op, x: Operands) -> None:
    n = e.shape.size(op.output)
    first = e.draw(2 * n)
    mean, std = (e.splat(d) for d in x.data)

    def entry(k: Idx) -> None:
        u1 = e.uniform01(e.add(first, e.mul(k, 2)))
        u2 = e.uniform01(e.add(first, e.add(e.mul(k, 2), 1)))
        radius = e.intrinsic("llvm.sqrt", e.b.fmul(e.const(-2.0), e.intrinsic("llvm.log", u1)))
        z = e.b.fmul(radius, e.intrinsic("llvm.cos", e.b.fmul(e.const(TWO_PI), u2)))
        e.store(e.add(x.out, k), e.b.fadd(mean, e.b.fmul(std, z)))

    e.loop(n, entry)


def draws(op: Op, shape: Shape) -> int:
    """Random outputs one execution of ``op`` consumes (amzc/rng.py)."""
    return op.fill.draws * shape.size(op.output) if op.fill is not None else 0


_MISSING = {op.name for op in OPS} - set(LOWERINGS)
assert not _MISSING, f"ops without an LLVM lowering: {sorted(_MISSING)}"
ops.on_change(_forget_removed_ops)

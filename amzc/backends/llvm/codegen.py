"""AST → LLVM IR: one module whose entry point ``amz_run`` runs the whole evaluation protocol
(REFERENCE.md §3, as amzc/backends/numpy.py states it) for every task of a task set.

The protocol driver is the same for both ways of running a program:

- *compiled*: the program's instructions are emitted inline, with constant slots and data, so
  LLVM keeps memory in registers and folds constants (one module per program);
- *interpreted*: a dispatch loop decodes an encoded program (amzc/backends/llvm/encode.py) at run
  time (one module per :class:`Shape`, reused for every program).

Either way the instructions are lowered by amzc/backends/llvm/lowering.py, so both paths have the
same semantics. The driver runs W tasks per group in the lanes of ``<W x double>`` values,
exactly as the NumPy backend runs all tasks at once: aborted tasks keep computing, their memory
is saved at the abort and restored afterwards (docs/llvm.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from llvmlite import ir

from amzc.evaluate import TWO_OVER_PI
from amzc.ops import NO_OP, OPS
from amzc.syntax import Component, Program

from . import lowering
from .layout import Shape
from .lowering import F64, I1, I32, I64, PTR, Emitter, Operands

ENTRY = "amz_run"

# Slots of the i64 parameter block amz_run reads (doubles stored as their bits).
PARAMS = (
    "train_x", "train_y", "valid_x", "valid_y", "keys",
    "num_tasks", "groups", "num_train", "epochs", "total_steps", "num_valid", "valid_steps",
    "max_abs_error", "fitness_out", "memory_out",  # outputs are lane-major (write_back)
    "record", "record_steps", "train_errors", "valid_errors", "train_counts", "valid_counts",
)
P = {name: i for i, name in enumerate(PARAMS)}

# The encoded program of the interpreter: a 32-byte header (i32 instruction counts of Setup,
# Predict and Learn, i32 random outputs per Predict), then one 32-byte record per instruction:
# i32 op id, i32 output slot, i32 two input slots (or constant-set indices), double two data
# fields.
HEADER_BYTES = RECORD_BYTES = 32
SLOT_UNROLL_LIMIT = 128  # memory-wide loops (zeroing, abort snapshots) unroll up to this size


class Components(Protocol):
    def emit(self, d: Driver, which: Component) -> None: ...

    def predict_draws(self, d: Driver) -> ir.Value: ...


class Driver:
    """Builds ``void amz_run(ptr params, ptr code)`` for one Shape."""

    def __init__(self, shape: Shape, components: Components, name: str) -> None:
        self.shape = shape
        self.components = components
        self.module = ir.Module(name=name)
        self.w = shape.lanes
        self.vec = ir.VectorType(F64, self.w)
        self.ivec = ir.VectorType(I64, self.w)
        self.mask = ir.VectorType(I1, self.w)
        fnty = ir.FunctionType(ir.VoidType(), [PTR, PTR])
        self.fn = ir.Function(self.module, fnty, name=ENTRY)
        self.fn.args[0].name, self.fn.args[1].name = "params", "code"
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))

    # small helpers ---------------------------------------------------------------------------
    def const(self, x: int) -> ir.Constant:
        return ir.Constant(I64, x)

    def alloca(self, typ: ir.Type, name: str, count: int | None = None) -> ir.Value:
        with self.b.goto_entry_block():
            return self.b.alloca(typ, count, name=name)

    def var(self, typ: ir.Type, init: ir.Value, name: str) -> ir.Value:
        ptr = self.alloca(typ, name)
        self.b.store(init, ptr)
        return ptr

    def get(self, ptr: ir.Value, typ: ir.Type) -> ir.Value:
        return self.b.load(ptr, typ=typ)

    def param(self, name: str, typ: ir.Type = I64) -> ir.Value:
        slot = self.b.gep(self.fn.args[0], [self.const(P[name])], source_etype=I64)
        value = self.b.load(slot, typ=I64, name=name)
        if typ is F64:
            return self.b.bitcast(value, F64)
        if typ is PTR:
            return self.b.inttoptr(value, PTR)
        return value

    def lane_ptr(self, base: ir.Value, index: ir.Value, etype: ir.Type | None = None) -> ir.Value:
        """&base[index * W] for a lane-major array of doubles (or of ``etype``)."""
        return self.b.gep(base, [self.b.mul(index, self.const(self.w))],
                          source_etype=etype or F64)

    def load_lanes(self, base: ir.Value, index: ir.Value) -> ir.Value:
        return self.b.load(self.lane_ptr(base, index), typ=self.vec, align=8)

    def any(self, mask: ir.Value) -> ir.Value:
        bits = self.b.bitcast(mask, ir.IntType(self.w))
        return self.b.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(self.w), 0))

    def all(self, mask: ir.Value) -> ir.Value:
        bits = self.b.bitcast(mask, ir.IntType(self.w))
        return self.b.icmp_unsigned("==", bits, ir.Constant(ir.IntType(self.w), -1))

    def fconst(self, x: float) -> ir.Constant:
        return ir.Constant(self.vec, [x] * self.w)

    def splat(self, x: ir.Value) -> ir.Value:
        return Emitter(self.b, self.shape, self.mem).splat(x)

    @contextmanager
    def loop(self, n: ir.Value, name: str) -> Iterator[tuple[ir.Value, ir.Block]]:
        """``for i in range(n)``; the body may branch to the yielded exit block (break)."""
        counter = self.var(I64, self.const(0), name)
        head = self.fn.append_basic_block(f"{name}.head")
        body = self.fn.append_basic_block(f"{name}.body")
        latch = self.fn.append_basic_block(f"{name}.next")
        done = self.fn.append_basic_block(f"{name}.end")
        self.b.branch(head)
        self.b.position_at_end(head)
        i = self.get(counter, I64)
        self.b.cbranch(self.b.icmp_signed("<", i, n), body, done)
        self.b.position_at_end(body)
        yield i, done
        if not self.b.block.is_terminated:
            self.b.branch(latch)
        self.b.position_at_end(latch)
        self.b.store(self.b.add(self.get(counter, I64), self.const(1)), counter)
        self.b.branch(head)
        self.b.position_at_end(done)

    def each_slot(self, body) -> None:
        """body(slot) for every memory slot (unrolled for small memories)."""
        e = Emitter(self.b, self.shape, self.mem)
        n = self.shape.slots
        if n <= SLOT_UNROLL_LIMIT:
            for s in range(n):
                body(s)
        else:
            e._ir_loop(n, lambda s, acc: (body(s), acc)[1], None)

    # the protocol ----------------------------------------------------------------------------
    def build(self) -> ir.Module:
        b, shape = self.b, self.shape
        self.mem = self.alloca(self.vec, "mem", shape.slots)
        self.saved = self.alloca(self.vec, "saved", shape.slots)
        self.counter = self.alloca(I64, "counter")
        self.emitter = Emitter(b, shape, self.mem, None, self.counter)
        self.max_err = self.splat(self.param("max_abs_error", F64))
        self.record = b.icmp_signed("!=", self.param("record"), self.const(0))
        self.record_steps = self.param("record_steps")
        with self.loop(self.param("groups"), "group") as (g, _):
            self.group(g)
        b.ret_void()
        return self.module

    def group(self, g: ir.Value) -> None:
        b, w = self.b, self.w
        self.group_index = g
        keys = b.load(self.lane_ptr(self.param("keys", PTR), g, I64), typ=self.ivec, align=8)
        self.emitter.keys = keys
        lanes = b.sub(self.param("num_tasks"), b.mul(g, self.const(w)))
        lane_ids = ir.Constant(self.ivec, list(range(w)))
        pad = b.icmp_signed(">=", lane_ids, self.splat_i64(lanes))  # pad lanes start finished
        self.finished = self.var(self.mask, pad, "finished")
        self.best = self.var(self.vec, self.fconst(0.0), "best")
        self.train_count = self.var(self.ivec, ir.Constant(self.ivec, [0] * w), "ntrain")
        self.valid_count = self.var(self.ivec, ir.Constant(self.ivec, [0] * w), "nvalid")
        b.store(self.const(0), self.counter)
        zero = self.fconst(0.0)
        self.each_slot(lambda s: (self.slot_store(self.mem, s, zero),
                                  self.slot_store(self.saved, s, zero)))
        self.components.emit(self, "setup")

        group_end = self.fn.append_basic_block("group.done")
        self.group_end = group_end
        n, total = self.param("num_train"), self.param("total_steps")
        done = self.var(I64, self.const(0), "done")
        epochs_head = self.fn.append_basic_block("epoch.head")
        epochs_body = self.fn.append_basic_block("epoch.body")
        b.branch(epochs_head)
        b.position_at_end(epochs_head)
        done_steps = self.get(done, I64)
        b.cbranch(b.icmp_signed("<", done_steps, total), epochs_body, group_end)
        b.position_at_end(epochs_body)
        epoch = b.sdiv(done_steps, n)
        left = b.sub(total, done_steps)
        steps = b.select(b.icmp_signed("<", left, n), left, n)
        first_row = b.mul(b.add(b.mul(g, self.param("epochs")), epoch), n)
        with self.loop(steps, "train") as (t, _):
            self.train_step(b.add(first_row, t), t, epoch)
        b.store(b.add(done_steps, n), done)
        self.validate(g, epoch)
        b.branch(epochs_head)

        b.position_at_end(group_end)
        self.restore(self.get(self.finished, self.mask))
        self.write_back(g)

    def splat_i64(self, x: ir.Value) -> ir.Value:
        e = Emitter(self.b, self.shape, self.mem)
        return e._isplat(x)

    def slot_store(self, base: ir.Value, slot, value: ir.Value) -> None:
        Emitter(self.b, self.shape, base).store(slot, value)

    def slot_load(self, base: ir.Value, slot) -> ir.Value:
        return Emitter(self.b, self.shape, base).load(slot)

    def set_inputs(self, x_row: ir.Value, base: ir.Value, label: ir.Value | None) -> None:
        """v0 = x; s0 = label (0 before Predict): REFERENCE.md §3.2."""
        f = self.shape.features
        row = self.b.mul(x_row, self.const(f))
        v0 = self.shape.base("v", 0)
        for i in range(f):
            x = self.load_lanes(base, self.b.add(row, self.const(i)))
            self.slot_store(self.mem, v0 + i, x)
        self.slot_store(self.mem, 0, label if label is not None else self.fconst(0.0))

    def sigmoid(self, x: ir.Value) -> ir.Value:
        e = self.emitter
        exp = e.intrinsic("llvm.exp", self.b.fneg(x))
        return self.b.fdiv(self.fconst(1.0), self.b.fadd(self.fconst(1.0), exp))

    def train_step(self, row: ir.Value, t: ir.Value, epoch: ir.Value) -> None:
        b = self.b
        train_x = self.param("train_x", PTR)
        self.set_inputs(row, train_x, None)
        self.components.emit(self, "predict")
        s1 = self.slot_load(self.mem, 1)
        if self.shape.accuracy:  # spec: §3.3, Learn sees the normalized prediction
            s1 = self.sigmoid(s1)
            self.slot_store(self.mem, 1, s1)
        y = self.load_lanes(self.param("train_y", PTR), row)
        err = self.emitter.intrinsic("llvm.fabs", b.fsub(y, s1))
        bad = b.not_(b.fcmp_ordered("<=", err, self.max_err))  # NaN counts as bad
        finished = self.get(self.finished, self.mask)
        first_epoch = b.icmp_signed("==", epoch, self.const(0))
        in_record = b.and_(b.and_(self.record, first_epoch),
                           b.icmp_signed("<", t, self.record_steps))
        with b.if_then(in_record, likely=False):
            self.record_error("train_errors", self.get_group_row(t, self.record_steps), err,
                              b.or_(finished, bad), self.train_count)
        newly = b.and_(bad, b.not_(finished))
        with b.if_then(self.any(newly), likely=False):
            self.save(newly)
            now = b.or_(finished, newly)
            b.store(now, self.finished)
            stop = self.fn.append_basic_block("train.stop")
            go_on = self.fn.append_basic_block("train.go")
            b.cbranch(self.all(now), stop, go_on)
            b.position_at_end(stop)
            b.branch(self.group_end)
            b.position_at_end(go_on)
        self.set_inputs(row, train_x, y)
        self.components.emit(self, "learn")

    def get_group_row(self, t: ir.Value, rows: ir.Value) -> ir.Value:
        return self.b.add(self.b.mul(self.group_index, rows), t)

    def record_error(self, name: str, row: ir.Value, err: ir.Value, stopped: ir.Value,
                     count: ir.Value) -> None:
        """FEC records (amzc/evaluate.py RunOutput): the error of every lane still running."""
        b = self.b
        ptr = self.lane_ptr(self.param(name, PTR), row)
        old = b.load(ptr, typ=self.vec, align=8)
        live = b.not_(stopped)
        b.store(b.select(live, err, old), ptr, align=8)
        b.store(b.add(self.get(count, self.ivec), b.zext(live, self.ivec)), count)

    def validate(self, g: ir.Value, epoch: ir.Value) -> None:
        """One pass over the validation set, memory carried over (REFERENCE.md §3.2)."""
        b = self.b
        loss = self.var(self.vec, self.fconst(0.0), "loss")
        aborted = self.var(self.mask, ir.Constant(self.mask, [0] * self.w), "aborted")
        steps = self.param("valid_steps")
        first_row = b.mul(g, self.param("num_valid"))
        record = b.and_(self.record, b.icmp_signed("==", epoch, self.const(0)))
        with self.loop(steps, "valid") as (j, valid_end):
            row = b.add(first_row, j)
            self.set_inputs(row, self.param("valid_x", PTR), None)
            self.components.emit(self, "predict")
            s1 = self.slot_load(self.mem, 1)
            y = self.load_lanes(self.param("valid_y", PTR), row)
            if self.shape.accuracy:  # the sigmoid applies inside the loss only
                same = b.icmp_unsigned("==", b.fcmp_ordered(">", y, self.fconst(0.5)),
                                       b.fcmp_ordered(">", self.sigmoid(s1), self.fconst(0.5)))
                err = b.select(same, self.fconst(0.0), self.fconst(1.0))
                b.store(b.fadd(self.get(loss, self.vec), err), loss)
            else:
                diff = b.fsub(y, s1)
                b.store(b.fadd(self.get(loss, self.vec), b.fmul(diff, diff)), loss)
                err = self.emitter.intrinsic("llvm.fabs", diff)
            bad = b.not_(b.fcmp_ordered("<=", err, self.max_err))
            finished = self.get(self.finished, self.mask)
            stopped = b.or_(self.get(aborted, self.mask), finished)
            with b.if_then(record, likely=False):
                self.record_error("valid_errors", row, err, b.or_(stopped, bad),
                                  self.valid_count)
            newly = b.and_(bad, b.not_(stopped))
            with b.if_then(self.any(newly), likely=False):
                self.save(newly)
                now = b.or_(self.get(aborted, self.mask), newly)
                b.store(now, aborted)
                stop = self.fn.append_basic_block("valid.stop")
                go_on = self.fn.append_basic_block("valid.go")
                b.cbranch(self.all(b.or_(now, finished)), stop, go_on)
                b.position_at_end(stop)
                # every lane stopped: skip the rest, but advance the random streams as if the
                # remaining Predicts had run, as the NumPy backend does in lockstep
                left = b.sub(b.sub(steps, j), self.const(1))
                skipped = b.mul(left, self.components.predict_draws(self))
                b.store(b.add(self.get(self.counter, I64), skipped), self.counter)
                b.branch(valid_end)
                b.position_at_end(go_on)
        stopped = self.get(aborted, self.mask)
        with b.if_then(self.any(stopped), likely=False):
            self.restore(stopped)
        mean = b.fdiv(self.get(loss, self.vec),
                      b.sitofp(self.splat_i64(self.param("num_valid")), self.vec))
        if self.shape.accuracy:
            fitness = b.fsub(self.fconst(1.0), mean)
        else:  # amzc/evaluate.py flip_and_squash
            rmse = self.emitter.intrinsic("llvm.sqrt", mean)
            squash = b.fsub(self.fconst(1.0), b.fmul(self.fconst(TWO_OVER_PI),
                                                     self.emitter.intrinsic("llvm.atan", rmse)))
            finite = b.fcmp_ordered("<", self.emitter.intrinsic("llvm.fabs", rmse),
                                    self.fconst(float("inf")))
            fitness = b.select(finite, squash, self.fconst(0.0))
        fitness = b.select(stopped, self.fconst(0.0), fitness)
        best = self.get(self.best, self.vec)
        better = b.select(b.fcmp_ordered("<", best, fitness), fitness, best)
        b.store(b.select(self.get(self.finished, self.mask), best, better), self.best)

    def save(self, mask: ir.Value) -> None:
        """Remember the memory of the lanes in ``mask`` (they aborted here)."""
        def one(s) -> None:
            live, old = self.slot_load(self.mem, s), self.slot_load(self.saved, s)
            self.slot_store(self.saved, s, self.b.select(mask, live, old))

        self.each_slot(one)

    def restore(self, mask: ir.Value) -> None:
        def one(s) -> None:
            live, old = self.slot_load(self.mem, s), self.slot_load(self.saved, s)
            self.slot_store(self.mem, s, self.b.select(mask, old, live))

        self.each_slot(one)

    def write_back(self, g: ir.Value) -> None:
        """Fitness, final memory and record counts of group g, lane-major: (G, W), (G, slots,
        W), (G, W); the caller reorders them by task (runtime.py)."""
        b = self.b
        b.store(self.get(self.best, self.vec), self.lane_ptr(self.param("fitness_out", PTR), g),
                align=8)
        with b.if_then(self.record):
            for count, name in ((self.train_count, "train_counts"),
                                (self.valid_count, "valid_counts")):
                b.store(self.get(count, self.ivec),
                        self.lane_ptr(self.param(name, PTR), g, I64), align=8)
        out = self.param("memory_out", PTR)
        first = b.mul(g, self.const(self.shape.slots))

        def one(s) -> None:
            ptr = self.lane_ptr(out, b.add(first, Emitter(b, self.shape, out).i64(s)))
            b.store(self.slot_load(self.mem, s), ptr, align=8)

        self.each_slot(one)


class CompiledComponents:
    """A program's instructions inline, with constant operands."""

    def __init__(self, program: Program) -> None:
        self.program = program

    def emit(self, d: Driver, which: Component) -> None:
        shape, e = d.shape, d.emitter
        for ins in self.program.component(which):
            if ins.op is NO_OP:
                continue
            op = ins.op
            inputs = [shape.base(t, a) for t, a in zip(op.inputs, ins.inputs, strict=True)]
            lowering.emit(e, op, Operands(shape.base(op.output, ins.out), inputs, ins.index,
                                          ins.data))

    def predict_draws(self, d: Driver) -> ir.Value:
        total = sum(lowering.draws(ins.op, d.shape) for ins in self.program.predict)
        return d.const(total)


class InterpretedComponents:
    """A dispatch loop over the encoded program passed as ``amz_run``'s second argument."""

    def __init__(self) -> None:
        self.exec_fn: ir.Function | None = None

    def header(self, d: Driver, field: int) -> ir.Value:
        ptr = d.b.gep(d.fn.args[1], [ir.Constant(I64, field)], source_etype=I32)
        return d.b.sext(d.b.load(ptr, typ=I32), I64)

    def emit(self, d: Driver, which: Component) -> None:
        if self.exec_fn is None:
            self.exec_fn = self.build_exec(d)
        counts = [self.header(d, i) for i in range(3)]
        first = {"setup": d.const(0), "predict": counts[0], "learn": d.b.add(counts[0],
                                                                           counts[1])}[which]
        n = counts[("setup", "predict", "learn").index(which)]
        code = d.b.gep(d.fn.args[1], [d.const(HEADER_BYTES + 0)], source_etype=ir.IntType(8))
        start = d.b.gep(code, [d.b.mul(first, d.const(RECORD_BYTES))],
                        source_etype=ir.IntType(8))
        keys = d.alloca(d.ivec, "keys.arg")
        d.b.store(d.emitter.keys, keys)
        d.b.call(self.exec_fn, [d.mem, start, n, d.counter, keys])

    def predict_draws(self, d: Driver) -> ir.Value:
        return self.header(d, 3)

    def build_exec(self, d: Driver) -> ir.Function:
        """``exec(mem, code, n, counter, keys)``: run n encoded instructions on one group."""
        shape = d.shape
        fnty = ir.FunctionType(ir.VoidType(), [PTR, PTR, I64, PTR, PTR])
        fn = ir.Function(d.module, fnty, name="amz_exec")
        fn.linkage = "internal"
        mem, code, n, counter, keys_ptr = fn.args
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        keys = b.load(keys_ptr, typ=d.ivec, align=8)
        e = Emitter(b, shape, mem, keys, counter)
        head = fn.append_basic_block("dispatch")
        next_block = fn.append_basic_block("next")
        done = fn.append_basic_block("done")
        b.cbranch(b.icmp_signed(">", n, ir.Constant(I64, 0)), head, done)
        b.position_at_end(head)
        i = b.phi(I64)
        i.add_incoming(ir.Constant(I64, 0), fn.entry_basic_block)
        rec = b.gep(code, [b.mul(i, ir.Constant(I64, RECORD_BYTES))], source_etype=ir.IntType(8))

        def field(k: int) -> ir.Value:
            return b.zext(b.load(b.gep(rec, [ir.Constant(I64, k)], source_etype=I32), typ=I32),
                          I64)

        def data(k: int) -> ir.Value:
            return b.load(b.gep(rec, [ir.Constant(I64, 2 + k)], source_etype=F64), typ=F64)

        op_id = b.load(rec, typ=I32)
        switch = b.switch(op_id, next_block)
        for op in OPS:
            if op is NO_OP:
                continue
            block = fn.append_basic_block(op.name)
            switch.add_case(ir.Constant(I32, op.id), block)
            b.position_at_end(block)
            slots = [field(2), field(3)]
            operands = Operands(field(1), slots[: len(op.inputs)], slots[: op.n_index],
                                [data(k) for k in range(op.n_data)])
            lowering.emit(e, op, operands)
            b.branch(next_block)
        b.position_at_end(next_block)
        nxt = b.add(i, ir.Constant(I64, 1))
        i.add_incoming(nxt, next_block)
        b.cbranch(b.icmp_signed("<", nxt, n), head, done)
        b.position_at_end(done)
        b.ret_void()
        return fn


def build(shape: Shape, program: Program | None = None, name: str = "amz") -> ir.Module:
    """The module for ``program`` (compiled), or the interpreter for ``shape`` (None)."""
    components: Components = (CompiledComponents(program) if program is not None
                              else InterpretedComponents())
    driver = Driver(shape, components, name)
    return driver.build()

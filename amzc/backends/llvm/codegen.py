"""AST → LLVM IR: one module whose entry point ``amz_run`` runs the whole evaluation protocol
(as amzc/backends/numpy.py states it) for every task of a task set.

The protocol driver is the same for both ways of running a program:

- *compiled*: the driver calls the program's component functions, which are generated with
  constant slots and data and linked in; after inlining, LLVM keeps memory in registers and
  folds constants (one module per program, the driver's IR built once per Shape);
- *interpreted*: a dispatch loop decodes an encoded program (amzc/backends/llvm/encode.py) at run
  time (one module per :class:`Shape`, reused for every program).

Either way the instructions are lowered by amzc/backends/llvm/lowering.py, so both paths have the
same semantics. The driver runs W tasks per group in the lanes of ``<W x double>`` values,
exactly as the NumPy backend runs all tasks at once: aborted tasks keep computing, their memory
is saved at the abort and restored afterwards (docs/llvm.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

from llvmlite import ir

from amzc.evaluate import TWO_OVER_PI
from amzc.fec import HASH_MULTIPLIER
from amzc.ops import NO_OP, OPS, Op
from amzc.rng import GOLDEN
from amzc.syntax import DRAWS_ONLY, Component, Program

from . import lowering
from .layout import Shape
from .lowering import F64, I1, I32, I64, PTR, Emitter, Operands

ENTRY = "amz_run"

# Slots of the i64 parameter block amz_run reads (doubles stored as their bits).
PARAMS = (
    "train_x", "train_y", "valid_x", "valid_y",
    "task_ids", "seed_key",  # (G, W) u64 task ids (pad lanes 0); derive_key(seed) as i64
    "num_tasks", "groups", "num_train", "epochs", "total_steps", "num_valid", "valid_steps",
    "max_abs_error", "fitness_out", "memory_out",  # outputs are lane-major (write_back)
    "record", "record_steps", "train_errors", "valid_errors", "train_counts", "valid_counts",
    "unsupported",  # set by an interpreter that met an op it was not built with
    "saved",  # scratch: slots × W doubles for the abort snapshot of one group
    "invalid",  # set by an interpreter that met an address beyond memory or index beyond F
    "record_hashes",  # (G, W) u64: each lane's FEC fingerprint (amzc/fec.py)
    "memory",  # slots × W doubles: the group's memory when too large for the stack (layout.py)
    "scratch",  # Shape.scratch_slots × W doubles: results an instruction computes before storing
)
P = {name: i for i, name in enumerate(PARAMS)}

# The encoded program of the interpreter: a 32-byte header (i32 instruction counts of Setup,
# Predict and Learn), then one 32-byte record per instruction: i32 op id, i32 output address,
# i32 two input addresses (or constant-set indices), double two data fields. Addresses are the
# program's own; the op's types turn them into slots at run time. A random fill with output
# DRAWS_ONLY (-1, read as an unsigned i32) only advances the random stream.
HEADER_BYTES = RECORD_BYTES = 32
DRAWS_ONLY_FIELD = DRAWS_ONLY & 0xFFFFFFFF
SLOT_UNROLL_LIMIT = 128  # memory-wide loops (zeroing, abort snapshots) unroll up to this size


def copy_lanes(b: ir.IRBuilder, mem: Emitter, saved: Emitter, slot: int | ir.Value,
               mask: ir.Value, save: bool) -> None:
    """saved[slot] = mem[slot] (save) or back (restore), in the lanes of ``mask`` only."""
    if save:
        saved.store(slot, b.select(mask, mem.load(slot), saved.load(slot)))
    else:
        mem.store(slot, b.select(mask, saved.load(slot), mem.load(slot)))


class Components(Protocol):
    """How the driver runs a program's instructions (compiled or interpreted)."""

    def emit(self, d: Driver, which: Component) -> None:
        """Run Setup, Predict or Learn on the group's memory, here."""

    def snapshot(self, d: Driver, mask: ir.Value, save: bool) -> None:
        """Save (or restore) the memory of the lanes in ``mask``."""

    def finish(self, d: Driver) -> None:
        """Emit whatever the components need once, after the driver (the dispatch loop)."""

    def predict_draws(self, d: Driver) -> ir.Value:
        """The number of random outputs one Predict draws (i64)."""


class Driver:
    """Builds ``void amz_run(ptr params, ptr code)`` for one Shape.

    Discipline: no SSA value computed by the driver is used after a component runs. The
    interpreter's components jump to one shared dispatch loop and back, so a value from
    before a component does not dominate the code after it; everything the driver keeps
    lives in allocas (which mem2reg promotes in compiled modules) or is reloaded."""

    def __init__(self, shape: Shape, components: Components, name: str,
                 module: ir.Module | None = None) -> None:
        self.shape = shape
        self.components = components
        self.module = module or ir.Module(name=name)
        self.w = shape.lanes
        self.vec = ir.VectorType(F64, self.w)
        self.ivec = ir.VectorType(I64, self.w)
        self.mask = ir.VectorType(I1, self.w)
        fnty = ir.FunctionType(ir.VoidType(), [PTR, PTR])
        self.fn = ir.Function(self.module, fnty, name=ENTRY)
        self.fn.args[0].name, self.fn.args[1].name = "params", "code"
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self._params: dict[tuple[str, str], ir.Value] = {}

    # small helpers ---------------------------------------------------------------------------
    def const(self, x: int) -> ir.Constant:
        return ir.Constant(I64, x)

    def fconst(self, x: float) -> ir.Constant:
        return lowering.splat(self.vec, x)

    def alloca(self, typ: ir.Type, name: str, count: int | None = None) -> ir.Value:
        with self.b.goto_entry_block():
            return self.b.alloca(typ, count, name=name)

    def var(self, typ: ir.Type, init: ir.Value, name: str) -> ir.Value:
        ptr = self.alloca(typ, name)
        self.b.store(init, ptr)
        return ptr

    def get(self, ptr: ir.Value, typ: ir.Type = I64) -> ir.Value:
        return self.b.load(ptr, typ=typ)

    def param(self, name: str, typ: ir.Type = I64) -> ir.Value:
        """A parameter of the call, read once in the entry block (so it dominates every use,
        and LLVM need not prove that stores through output pointers leave it unchanged)."""
        key = (name, str(typ))
        value = self._params.get(key)
        if value is None:
            with self.b.goto_entry_block():
                slot = self.b.gep(self.fn.args[0], [self.const(P[name])], source_etype=I64)
                value = self.b.load(slot, typ=I64, name=name)
                if typ is F64:
                    value = self.b.bitcast(value, F64)
                elif typ is PTR:
                    value = self.b.inttoptr(value, PTR)
            self._params[key] = value
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

    def mem_at(self, base: ir.Value) -> Emitter:
        return Emitter(self.b, self.shape, base, align=self.mem_align if base is self.mem else 8)

    def fabs(self, x: ir.Value) -> ir.Value:
        return self.emitter.intrinsic("llvm.fabs", x)

    @contextmanager
    def loop(self, bound: Callable[[], ir.Value], name: str) -> Iterator[tuple[ir.Value, ir.Block]]:
        """``for i in range(bound())``, yielding the counter's alloca (reload it after a
        component runs) and the exit block (branch there to break)."""
        counter = self.var(I64, self.const(0), name)
        head = self.fn.append_basic_block(f"{name}.head")
        body = self.fn.append_basic_block(f"{name}.body")
        latch = self.fn.append_basic_block(f"{name}.next")
        done = self.fn.append_basic_block(f"{name}.end")
        self.b.branch(head)
        self.b.position_at_end(head)
        self.b.cbranch(self.b.icmp_signed("<", self.get(counter), bound()), body, done)
        self.b.position_at_end(body)
        yield counter, done
        if not self.b.block.is_terminated:
            self.b.branch(latch)
        self.b.position_at_end(latch)
        self.b.store(self.b.add(self.get(counter), self.const(1)), counter)
        self.b.branch(head)
        self.b.position_at_end(done)

    def each_slot(self, body: Callable[[int | ir.Value], None]) -> None:
        """body(slot) for every memory slot (unrolled for small memories)."""
        n = self.shape.slots
        if n <= SLOT_UNROLL_LIMIT:
            for s in range(n):
                body(s)
        else:
            self.mem_at(self.mem).loop_always(n, body)

    def save(self, mask: ir.Value) -> None:
        """Remember the memory of the lanes in ``mask`` (they aborted here)."""
        self.components.snapshot(self, mask, True)

    def restore(self, mask: ir.Value) -> None:
        """Put back the remembered memory of the lanes in ``mask``."""
        self.components.snapshot(self, mask, False)

    def snapshot_all(self, mask: ir.Value, save: bool) -> None:
        mem, saved = self.mem_at(self.mem), self.mem_at(self.saved)
        self.each_slot(lambda s: copy_lanes(self.b, mem, saved, s, mask, save))

    def sigmoid(self, x: ir.Value) -> ir.Value:
        exp = self.emitter.intrinsic("llvm.exp", self.b.fneg(x))
        return self.b.fdiv(self.fconst(1.0), self.b.fadd(self.fconst(1.0), exp))

    # the protocol (amzc/backends/numpy.py) --------------------------------------------------------
    def build(self) -> ir.Module:
        b, shape = self.b, self.shape
        if shape.memory_on_stack:
            self.mem, self.mem_align = self.alloca(self.vec, "mem", shape.slots), None
        else:
            self.mem, self.mem_align = self.param("memory", PTR), 8
        self.scratch = self.param("scratch", PTR)
        # the abort snapshot lives in a caller's buffer, not an alloca: LLVM then leaves it in
        # memory instead of carrying every slot twice through every loop in registers
        self.saved = self.param("saved", PTR)
        self.counter = self.alloca(I64, "counter")
        self.emitter = Emitter(b, shape, self.mem, self.alloca(self.ivec, "keys"), self.counter,
                               self.mem_align, self.scratch)
        self.finished = self.alloca(self.mask, "finished")
        self.best = self.alloca(self.vec, "best")
        self.counts = {"train": self.alloca(self.ivec, "ntrain"),
                       "valid": self.alloca(self.ivec, "nvalid")}
        self.hash = self.alloca(self.ivec, "hash")
        self.g = self.alloca(I64, "g")
        self.epoch = self.alloca(I64, "epoch")
        self.first_row = self.alloca(I64, "first_row")
        # entry-block values dominate everything
        self.max_err = self.emitter.splat(self.param("max_abs_error", F64))
        self.record = b.icmp_signed("!=", self.param("record"), self.const(0))
        self.record_steps = self.param("record_steps")
        self.num_valid = self.param("num_valid")
        with self.loop(lambda: self.param("groups"), "group") as (g, _):
            b.store(self.get(g), self.g)
            self.group()
        b.ret_void()
        self.components.finish(self)
        return self.module

    def group(self) -> None:
        b, w = self.b, self.w
        g = self.get(self.g)
        # each lane's stream key, derive_key(seed, task id) (amzc/rng.py): the seed's part
        # comes with the call, the task's is mixed in here, so a new seed costs Python
        # one mix64 rather than one key per task
        ids = b.load(self.lane_ptr(self.param("task_ids", PTR), g, I64), typ=self.ivec, align=8)
        e = self.emitter
        mixed = b.add(b.xor(e.isplat(self.param("seed_key")), ids), e.iconst(lowering.u64(GOLDEN)))
        keys = lowering.mix64(b, mixed, e.iconst)
        b.store(keys, self.emitter.keys)
        b.store(keys, self.hash)  # fingerprints start from the lane's task key
        lanes = b.sub(self.param("num_tasks"), b.mul(g, self.const(w)))
        lane_ids = ir.Constant(self.ivec, list(range(w)))
        pad = b.icmp_signed(">=", lane_ids, self.emitter.isplat(lanes))
        b.store(pad, self.finished)  # pad lanes start finished and are never written back
        b.store(self.fconst(0.0), self.best)
        for count in self.counts.values():
            b.store(lowering.splat(self.ivec, 0), count)
        b.store(self.const(0), self.counter)
        zero = self.fconst(0.0)
        mem, saved = self.mem_at(self.mem), self.mem_at(self.saved)
        self.each_slot(lambda s: (mem.store(s, zero), saved.store(s, zero)))
        self.components.emit(self, "setup")

        self.group_end = self.fn.append_basic_block("group.done")
        done = self.var(I64, self.const(0), "done")
        epochs_head = self.fn.append_basic_block("epoch.head")
        epochs_body = self.fn.append_basic_block("epoch.body")
        b.branch(epochs_head)
        b.position_at_end(epochs_head)
        b.cbranch(b.icmp_signed("<", self.get(done), self.param("total_steps")), epochs_body,
                  self.group_end)
        b.position_at_end(epochs_body)
        n = self.param("num_train")
        done_steps = self.get(done)
        b.store(b.sdiv(done_steps, n), self.epoch)
        left = b.sub(self.param("total_steps"), done_steps)
        steps = self.var(I64, b.select(b.icmp_signed("<", left, n), left, n), "steps")
        epoch_rows = b.add(b.mul(self.get(self.g), self.param("epochs")), self.get(self.epoch))
        b.store(b.mul(epoch_rows, n), self.first_row)
        with self.loop(lambda: self.get(steps), "train") as (t, _):
            self.train_step(t)
        b.store(b.add(self.get(done), self.param("num_train")), done)
        self.validate()
        b.branch(epochs_head)

        b.position_at_end(self.group_end)
        self.restore(self.get(self.finished, self.mask))
        self.write_back()

    def set_inputs(self, base: ir.Value, row: ir.Value, label: ir.Value | None) -> None:
        """v0 = x; s0 = label (0 before Predict)."""
        f = self.shape.features
        first = self.b.mul(row, self.const(f))
        mem, v0 = self.mem_at(self.mem), self.shape.base("v", 0)
        for i in range(f):
            mem.store(v0 + i, self.load_lanes(base, self.b.add(first, self.const(i))))
        mem.store(0, label if label is not None else self.fconst(0.0))

    def train_step(self, t: ir.Value) -> None:
        b = self.b

        def row() -> ir.Value:
            return b.add(self.get(self.first_row), self.get(t))

        self.set_inputs(self.param("train_x", PTR), row(), None)
        self.components.emit(self, "predict")
        mem = self.mem_at(self.mem)
        s1 = mem.load(1)
        if self.shape.accuracy:  # Learn sees the normalized prediction
            s1 = self.sigmoid(s1)
            mem.store(1, s1)
        y = self.load_lanes(self.param("train_y", PTR), row())
        err = self.fabs(b.fsub(y, s1))
        bad = b.not_(b.fcmp_ordered("<=", err, self.max_err))  # NaN counts as bad
        finished = self.get(self.finished, self.mask)
        in_record = b.and_(b.and_(self.record, b.icmp_signed("==", self.get(self.epoch),
                                                             self.const(0))),
                           b.icmp_signed("<", self.get(t), self.record_steps))
        with b.if_then(in_record, likely=False):
            rec_row = b.add(b.mul(self.get(self.g), self.record_steps), self.get(t))
            self.record_error("train", rec_row, err, b.or_(finished, bad))
        newly = b.and_(bad, b.not_(finished))
        with b.if_then(self.any(newly), likely=False):
            self.save(newly)
            now = b.or_(finished, newly)
            b.store(now, self.finished)
            go_on = self.fn.append_basic_block("train.go")
            b.cbranch(self.all(now), self.group_end, go_on)
            b.position_at_end(go_on)
        self.set_inputs(self.param("train_x", PTR), row(), y)
        self.components.emit(self, "learn")

    def record_error(self, which: str, row: ir.Value, err: ir.Value, stopped: ir.Value) -> None:
        """FEC records (amzc/evaluate.py RunOutput): the error of every lane still running."""
        b = self.b
        ptr = self.lane_ptr(self.param(f"{which}_errors", PTR), row)
        live = b.not_(stopped)
        b.store(b.select(live, err, b.load(ptr, typ=self.vec, align=8)), ptr, align=8)
        h = self.get(self.hash, self.ivec)
        b.store(b.select(live, self.mix(h, b.bitcast(err, self.ivec)), h), self.hash)
        count = self.counts[which]
        b.store(b.add(self.get(count, self.ivec), b.zext(live, self.ivec)), count)

    def mix(self, h: ir.Value, x: ir.Value) -> ir.Value:
        """One step of the fingerprint hash (amzc/fec.py ``fingerprints``):
        (rotl(h, 5) ^ x) · K mod 2^64, a bijection of x for a given h and of h for a given x."""
        b = self.b
        rot = b.or_(b.shl(h, lowering.splat(self.ivec, 5)),
                    b.lshr(h, lowering.splat(self.ivec, 59)))
        return b.mul(b.xor(rot, x), lowering.splat(self.ivec, HASH_MULTIPLIER))

    def validate(self) -> None:
        """One pass over the validation set, memory carried over."""
        b = self.b
        loss = self.var(self.vec, self.fconst(0.0), "loss")
        aborted = self.var(self.mask, ir.Constant(self.mask, None), "aborted")

        def row() -> ir.Value:
            return b.add(b.mul(self.get(self.g), self.num_valid), self.get(j))

        with self.loop(lambda: self.param("valid_steps"), "valid") as (j, valid_end):
            self.set_inputs(self.param("valid_x", PTR), row(), None)
            self.components.emit(self, "predict")
            s1 = self.mem_at(self.mem).load(1)
            y = self.load_lanes(self.param("valid_y", PTR), row())
            if self.shape.accuracy:  # the sigmoid applies inside the loss only
                same = b.icmp_unsigned("==", b.fcmp_ordered(">", y, self.fconst(0.5)),
                                       b.fcmp_ordered(">", self.sigmoid(s1), self.fconst(0.5)))
                err = b.select(same, self.fconst(0.0), self.fconst(1.0))
                b.store(b.fadd(self.get(loss, self.vec), err), loss)
            else:
                diff = b.fsub(y, s1)
                b.store(b.fadd(self.get(loss, self.vec), b.fmul(diff, diff)), loss)
                err = self.fabs(diff)
            bad = b.not_(b.fcmp_ordered("<=", err, self.max_err))
            finished = self.get(self.finished, self.mask)
            stopped = b.or_(self.get(aborted, self.mask), finished)
            first_epoch = b.icmp_signed("==", self.get(self.epoch), self.const(0))
            with b.if_then(b.and_(self.record, first_epoch), likely=False):
                self.record_error("valid", row(), err, b.or_(stopped, bad))
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
                left = b.sub(b.sub(self.param("valid_steps"), self.get(j)), self.const(1))
                skipped = b.mul(left, self.components.predict_draws(self))
                b.store(b.add(self.get(self.counter), skipped), self.counter)
                b.branch(valid_end)
                b.position_at_end(go_on)
        stopped = self.get(aborted, self.mask)
        with b.if_then(self.any(stopped), likely=False):
            self.restore(stopped)
        mean = b.fdiv(self.get(loss, self.vec),
                      b.sitofp(self.emitter.isplat(self.num_valid), self.vec))
        if self.shape.accuracy:
            fitness = b.fsub(self.fconst(1.0), mean)
        else:  # amzc/evaluate.py flip_and_squash
            rmse = self.emitter.intrinsic("llvm.sqrt", mean)
            atan = self.emitter.intrinsic("llvm.atan", rmse)
            squash = b.fsub(self.fconst(1.0), b.fmul(self.fconst(TWO_OVER_PI), atan))
            finite = b.fcmp_ordered("<", self.fabs(rmse), self.fconst(float("inf")))
            fitness = b.select(finite, squash, self.fconst(0.0))
        fitness = b.select(stopped, self.fconst(0.0), fitness)
        best = self.get(self.best, self.vec)
        better = b.select(b.fcmp_ordered("<", best, fitness), fitness, best)
        b.store(b.select(self.get(self.finished, self.mask), best, better), self.best)

    def write_back(self) -> None:
        """Fitness, final memory and record counts of the group, lane-major: (G, W),
        (G, slots, W), (G, W); runtime.py reorders them by task."""
        b, g = self.b, self.get(self.g)
        b.store(self.get(self.best, self.vec), self.lane_ptr(self.param("fitness_out", PTR), g),
                align=8)
        with b.if_then(self.record):
            h = self.get(self.hash, self.ivec)
            for which, count in self.counts.items():
                n = self.get(count, self.ivec)
                b.store(n, self.lane_ptr(self.param(f"{which}_counts", PTR), g, I64), align=8)
                h = self.mix(h, n)
            b.store(h, self.lane_ptr(self.param("record_hashes", PTR), g, I64), align=8)
        out = self.param("memory_out", PTR)
        first = b.mul(g, self.const(self.shape.slots))
        mem = self.mem_at(self.mem)
        self.each_slot(lambda s: b.store(mem.load(s), self.lane_ptr(out, b.add(first, mem.i64(s))),
                                         align=8))


class CalledComponents:
    """Calls to ``amz_setup``, ``amz_predict``, ``amz_learn(mem, counter, keys, scratch)`` and
    ``amz_predict_draws()``, declared here and defined per program by
    :func:`components_module`. The driver is built once per Shape; each program only adds its
    three small functions, which the optimizer inlines (``alwaysinline``), after which memory
    lives in registers and the program's constants fold into the driver's loops."""

    def __init__(self, module: ir.Module, shape: Shape) -> None:
        void = ir.VoidType()
        self.functions = {which: ir.Function(module, component_type(), name=f"amz_{which}")
                          for which in ("setup", "predict", "learn")}
        self.draws = ir.Function(module, ir.FunctionType(I64, []), name="amz_predict_draws")
        mask = ir.VectorType(I1, shape.lanes)
        self.snapshots = {save: ir.Function(module, ir.FunctionType(void, [PTR, PTR, mask]),
                                            name="amz_save" if save else "amz_restore")
                          for save in (True, False)}

    def emit(self, d: Driver, which: Component) -> None:
        d.b.call(self.functions[which], [d.mem, d.counter, d.emitter.keys, d.scratch])

    def snapshot(self, d: Driver, mask: ir.Value, save: bool) -> None:
        d.b.call(self.snapshots[save], [d.mem, d.saved, mask])

    def predict_draws(self, d: Driver) -> ir.Value:
        return d.b.call(self.draws, [])

    def finish(self, d: Driver) -> None:
        return None


def component_type() -> ir.FunctionType:
    """``void amz_<component>(ptr mem, ptr counter, ptr keys, ptr scratch)``."""
    return ir.FunctionType(ir.VoidType(), [PTR, PTR, PTR, PTR])


COMPONENT_FUNCTIONS = ("amz_setup", "amz_predict", "amz_learn", "amz_predict_draws",
                       "amz_save", "amz_restore")


def changing_slots(program: Program, shape: Shape) -> list[int]:
    """Slots that can change after Setup: written by Predict or Learn, or by the harness
    (s0, s1, v0). Only these need saving at an abort; the rest keep their Setup values."""
    slots = {0, 1, *range(shape.base("v", 0), shape.base("v", 0) + shape.features)}
    for ins in program.predict + program.learn:
        if ins.op.output is not None and ins.out != DRAWS_ONLY:
            first = shape.base(ins.op.output, ins.out)
            slots.update(range(first, first + shape.size(ins.op.output)))
    return sorted(slots)


def components_module(program: Program, shape: Shape, name: str = "amz_program",
                      names: bool = False) -> ir.Module:
    """The program's component functions (see :class:`CalledComponents`): its instructions
    lowered with constant slots and data, reading and writing memory through a pointer.

    With ``names`` (for a reader: ``amzc ir``), each instruction gets its own block, named
    ``<component>.<index>``, and its values are named after it and the addresses they read
    or compute (:func:`name_instruction`). The optimized code is the same either way; the
    search compiles without, so that nothing is spent on names nobody reads."""
    module = ir.Module(name=name)
    mem_align = None if shape.memory_on_stack else 8  # a caller's buffer: aligned to a double
    for which in ("setup", "predict", "learn"):
        fn = ir.Function(module, component_type(), name=f"amz_{which}")
        fn.attributes.add("alwaysinline")
        mem, counter, keys, scratch = fn.args
        mem.name, counter.name, keys.name, scratch.name = "mem", "counter", "keys", "scratch"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        e = Emitter(b, shape, mem, keys, counter, mem_align, scratch)
        for i, ins in enumerate(program.component(which)):
            if names:
                first = len(fn.blocks)
                block = fn.append_basic_block(f"{which}.{i}")
                b.branch(block)
                b.position_at_end(block)
            if ins.op is NO_OP:
                continue
            op = ins.op
            if ins.out == DRAWS_ONLY:  # a dead random fill: the stream moves past its draws
                e.draw(lowering.draws(op, shape))
                continue
            inputs = [shape.base(t, a) for t, a in zip(op.inputs, ins.inputs, strict=True)]
            lowering.emit(e, op, Operands(shape.base(op.output, ins.out), inputs, ins.index,
                                          ins.data))
            if names:
                name_instruction(fn.blocks[first:], f"{which}.{i}", shape)
        b.ret_void()
    draws = ir.Function(module, ir.FunctionType(I64, []), name="amz_predict_draws")
    draws.attributes.add("alwaysinline")
    b = ir.IRBuilder(draws.append_basic_block("entry"))
    b.ret(ir.Constant(I64, sum(lowering.draws(ins.op, shape) for ins in program.predict)))
    changing = runs(changing_slots(program, shape))
    for save in (True, False):
        snapshot_function(module, shape, changing, save, mem_align)
    return module


_ANONYMOUS = re.compile(r"\.\d+")  # llvmlite's name for a value created without one


def name_instruction(blocks: list[ir.Block], prefix: str, shape: Shape) -> None:
    """Name the values of one instruction's ``blocks`` for a reader, ``prefix`` being the
    instruction's (``learn.2``): a pointer to a memory slot ``learn.2.v0_1.ptr``, a load
    from it ``learn.2.v0_1.in``, a value stored to it ``learn.2.v2_1`` (what the
    instruction computes for that address), a load of the random-stream state
    ``learn.2.counter``, anything else ``learn.2.t<k>``; loop blocks ``learn.2.loop``."""
    chosen: dict[int, tuple[ir.Instruction, str]] = {}

    def choose(value: ir.Value, name: str) -> bool:
        if (isinstance(value, ir.Instruction) and id(value) not in chosen
                and _ANONYMOUS.fullmatch(value.name)):
            chosen[id(value)] = (value, name)
            return True
        return False

    slots: dict[int, str] = {}  # id(gep) → the address it points at
    instructions = [ins for block in blocks for ins in block.instructions]
    for ins in instructions:
        if (isinstance(ins, ir.GEPInstr) and isinstance(ins.pointer, ir.Argument)
                and ins.pointer.name == "mem" and isinstance(ins.indices[0], ir.Constant)):
            slots[id(ins)] = shape.slot_name(ins.indices[0].constant)
            choose(ins, f"{prefix}.{slots[id(ins)]}.ptr")
        elif isinstance(ins, ir.LoadInstr):
            source = ins.operands[0]
            if id(source) in slots:
                choose(ins, f"{prefix}.{slots[id(source)]}.in")
            elif isinstance(source, ir.Argument):
                choose(ins, f"{prefix}.{source.name}")
        elif isinstance(ins, ir.StoreInstr) and id(ins.operands[1]) in slots:
            choose(ins.operands[0], f"{prefix}.{slots[id(ins.operands[1])]}")
    temps = 0
    for ins in instructions:
        if not isinstance(ins.type, ir.VoidType) and choose(ins, f"{prefix}.t{temps}"):
            temps += 1
    for value, name in chosen.values():
        value.name = name
    for block in blocks[1:]:
        block.name = f"{prefix}.{block.name}"


def snapshot_function(module: ir.Module, shape: Shape, changing: list[tuple[int, int]],
                      save: bool, mem_align: int | None) -> None:
    """``amz_save`` or ``amz_restore(mem, saved, mask)`` of the ``changing`` slot runs."""
    mask_type = ir.VectorType(I1, shape.lanes)
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, PTR, mask_type]),
                     name="amz_save" if save else "amz_restore")
    fn.attributes.add("alwaysinline")
    mem, saved, mask = fn.args
    mem.name, saved.name, mask.name = "mem", "saved", "mask"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    from_mem, to_saved = Emitter(b, shape, mem, align=mem_align), Emitter(b, shape, saved, align=8)
    for first, count in changing:
        def copy(k: int | ir.Value, first: int = first) -> None:
            copy_lanes(b, from_mem, to_saved, from_mem.add(first, k), mask, save)

        if count <= SLOT_UNROLL_LIMIT:
            for k in range(count):
                copy(k)
        else:  # a large vector or matrix: a loop (unrolled, it is inlined at each abort)
            from_mem.loop_always(count, copy)
    b.ret_void()


def runs(slots: list[int]) -> list[tuple[int, int]]:
    """Sorted slots as (first, count) runs of consecutive slots."""
    out: list[tuple[int, int]] = []
    for slot in slots:
        if out and out[-1][0] + out[-1][1] == slot:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((slot, 1))
    return out


class InterpretedComponents:
    """A dispatch loop over the encoded program passed as ``amz_run``'s second argument.

    The loop is emitted once, inside ``amz_run``: each place that runs a component sets the
    record range and a continuation number and jumps to the loop, which jumps back through a
    switch on the continuation when the range is done. No calls, so memory, keys and the
    counter stay where the driver keeps them."""

    def __init__(self, ops: Iterable[Op] = OPS) -> None:
        self.ops = tuple(sorted(set(ops), key=lambda op: op.id))
        self.returns: list[ir.Block] = []
        self.head: ir.Block | None = None

    def header(self, d: Driver, field: int) -> ir.Value:
        ptr = d.b.gep(d.fn.args[1], [ir.Constant(I64, field)], source_etype=I32)
        return d.b.sext(d.b.load(ptr, typ=I32), I64)

    def snapshot(self, d: Driver, mask: ir.Value, save: bool) -> None:
        d.snapshot_all(mask, save)  # any slot may have changed

    def records(self, d: Driver, first: ir.Value) -> ir.Value:
        code = d.b.gep(d.fn.args[1], [d.const(HEADER_BYTES)], source_etype=ir.IntType(8))
        return d.b.gep(code, [d.b.mul(first, d.const(RECORD_BYTES))], source_etype=ir.IntType(8))

    def emit(self, d: Driver, which: Component) -> None:
        b = d.b
        if self.head is None:
            self.head = d.fn.append_basic_block("dispatch")
            self.pc = d.alloca(PTR, "pc")
            self.end = d.alloca(PTR, "end")
            self.cont = d.alloca(I32, "continuation")
        counts = [self.header(d, i) for i in range(3)]
        first = {"setup": d.const(0), "predict": counts[0],
                 "learn": b.add(counts[0], counts[1])}[which]
        n = counts[("setup", "predict", "learn").index(which)]
        start = self.records(d, first)
        b.store(start, self.pc)
        b.store(b.gep(start, [b.mul(n, d.const(RECORD_BYTES))], source_etype=ir.IntType(8)),
                self.end)
        b.store(ir.Constant(I32, len(self.returns)), self.cont)
        after = d.fn.append_basic_block(f"after.{which}")
        self.returns.append(after)
        b.branch(self.head)
        b.position_at_end(after)

    def finish(self, d: Driver) -> None:
        """The dispatch loop: decode a record, run its op's lowering, advance. (A copy of the
        dispatch after every op, "threaded code", measured no faster here and quadrupled the
        build time.) An op outside ``self.ops`` sets the ``unsupported`` flag and is skipped:
        the caller rebuilds the interpreter with more ops and reruns."""
        if self.head is None:
            return
        b, shape, e = d.b, d.shape, d.emitter
        fn = d.fn
        leave = fn.append_basic_block("leave")
        unknown = fn.append_basic_block("unknown")
        blocks = {op.id: fn.append_basic_block(op.name) for op in self.ops if op is not NO_OP}

        def dispatch(pc: ir.Value) -> None:
            """Jump to the op at pc, or leave at the end of the range."""
            here = fn.append_basic_block("dispatch.op")
            b.cbranch(b.icmp_unsigned("<", pc, b.load(self.end, typ=PTR)), here, leave)
            b.position_at_end(here)
            switch = b.switch(b.load(pc, typ=I32), unknown)
            for op_id, block in blocks.items():
                switch.add_case(ir.Constant(I32, op_id), block)

        step = fn.append_basic_block("step")
        b.position_at_end(step)
        nxt = b.gep(b.load(self.pc, typ=PTR), [ir.Constant(I64, RECORD_BYTES)],
                    source_etype=ir.IntType(8))
        b.store(nxt, self.pc)
        dispatch(nxt)
        b.position_at_end(self.head)
        dispatch(b.load(self.pc, typ=PTR))
        b.position_at_end(leave)
        back = b.switch(b.load(self.cont, typ=I32), self.returns[0])
        for k, block in enumerate(self.returns):
            back.add_case(ir.Constant(I32, k), block)
        b.position_at_end(unknown)
        b.store(ir.Constant(I64, 1), b.gep(d.fn.args[0], [d.const(P["unsupported"])],
                                           source_etype=I64))
        b.branch(step)
        invalid = fn.append_basic_block("invalid")
        b.position_at_end(invalid)
        b.store(ir.Constant(I64, 1), b.gep(d.fn.args[0], [d.const(P["invalid"])],
                                           source_etype=I64))
        b.branch(step)

        for op in self.ops:
            if op is NO_OP:
                continue
            b.position_at_end(blocks[op.id])
            pc = b.load(self.pc, typ=PTR)

            def field(k: int, pc: ir.Value = pc) -> ir.Value:
                return b.zext(b.load(b.gep(pc, [ir.Constant(I64, k)], source_etype=I32),
                                     typ=I32), I64)

            def data(k: int, pc: ir.Value = pc) -> ir.Value:
                return b.load(b.gep(pc, [ir.Constant(I64, 2 + k)], source_etype=F64), typ=F64)

            fields = [field(2), field(3)]
            if op.fill is not None:  # a dead fill (amzc.syntax.DRAWS_ONLY): its draws only
                draws, fill = (fn.append_basic_block(f"{op.name}.{n}") for n in ("draws", "fill"))
                b.cbranch(b.icmp_unsigned("==", field(1), ir.Constant(I64, DRAWS_ONLY_FIELD)),
                          draws, fill)
                b.position_at_end(draws)
                e.draw(lowering.draws(op, shape))
                b.branch(step)
                b.position_at_end(fill)
            # addresses beyond memory or indices beyond F would write outside it: flag the
            # program as invalid and skip the instruction (the caller raises)
            count = {"s": shape.scalars, "v": shape.vectors, "m": shape.matrices}
            limits = [(field(1), count[op.output])]
            limits += [(a, count[t]) for t, a in zip(op.inputs, fields, strict=False)]
            limits += [(i, shape.features) for i in fields[: op.n_index]]
            valid = ir.Constant(I1, 1)
            for value, limit in limits:
                valid = b.and_(valid, b.icmp_unsigned("<", value, ir.Constant(I64, limit)))
            body = fn.append_basic_block(f"{op.name}.valid")
            b.cbranch(valid, body, invalid)
            b.position_at_end(body)
            inputs = [e.add(shape.base(t, 0), e.mul(a, shape.size(t)))
                      for t, a in zip(op.inputs, fields, strict=False)]
            out = e.add(shape.base(op.output, 0), e.mul(field(1), shape.size(op.output)))
            operands = Operands(out, inputs, fields[: op.n_index],
                                [data(k) for k in range(op.n_data)])
            lowering.emit(e, op, operands)
            b.branch(step)

    def predict_draws(self, d: Driver) -> ir.Value:
        """Random outputs one Predict draws: the sum over its records of a per-op table."""
        b = d.b
        table_type = ir.ArrayType(I64, len(OPS))
        table = ir.GlobalVariable(d.module, table_type, name="amz_draws")
        table.global_constant = True
        table.linkage = "internal"
        table.initializer = ir.Constant(table_type, [lowering.draws(op, d.shape) for op in OPS])
        start = self.records(d, self.header(d, 0))
        total = d.var(I64, d.const(0), "draws")
        with d.loop(lambda: self.header(d, 1), "draws") as (i, _):
            rec = b.gep(start, [b.mul(d.get(i), d.const(RECORD_BYTES))],
                        source_etype=ir.IntType(8))
            op_id = b.sext(b.load(rec, typ=I32), I64)
            per_op = b.load(b.gep(table, [d.const(0), op_id], source_etype=table_type), typ=I64)
            b.store(b.add(d.get(total, I64), per_op), total)
        return d.get(total, I64)


def interpreter_module(shape: Shape, ops: Iterable[Op] = OPS) -> ir.Module:
    """The interpreter for ``shape``: runs any encoded program (encode.py) whose ops are
    among ``ops`` (fewer ops: a smaller module, built faster)."""
    return Driver(shape, InterpretedComponents(ops), f"amz_interp_{shape.tag()}").build()


def driver_module(shape: Shape) -> ir.Module:
    """The protocol for ``shape``, calling a program's component functions
    (:func:`components_module`); linked with them, one program's native code."""
    module = ir.Module(name=f"amz_driver_{shape.tag()}")
    return Driver(shape, CalledComponents(module, shape), module.name, module).build()

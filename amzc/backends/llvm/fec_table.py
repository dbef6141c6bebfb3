"""The FEC cache in native memory: amzc/fec.py's ``FecCache`` (the oracle), the same
semantics entry for entry, with its table in arrays and its operations in LLVM IR.

Why: in the demo search 85 % of children are FEC hits, and for them the per-task lookups in a
100,000-entry ``OrderedDict`` (each a chain of Python objects scattered over memory) and the
glue around them cost more than the fingerprint run itself. Here one native call runs the
fingerprint (the interpreter kernel) and looks up every task's hash (``amz_fec_run``).

Layout. A descriptor (int64 array, :data:`DESC`) holds the sizes, the counters and the
addresses of the arrays: per entry slot (``cache_size + 1`` slots: an insert may overfill by
one before eviction) the key, fitness, use count and the two links of the recency list
(oldest first, as the OrderedDict's order); a hash index (linear probing, power-of-two size at
least twice the slots, holding slot + 1, 0 for empty; deletion by backward shift, so no
tombstones); and a stack of free slots. Keys are 64-bit fingerprints, spread over the index by
a multiplicative hash."""

from __future__ import annotations

import ctypes
from collections.abc import MutableSequence, Sequence

import numpy as np
from llvmlite import ir

from amzc import ops
from amzc.fec import restore_cache
from amzc.ops import OPS, Form

from . import population
from .codegen import P
from .irfn import Fn
from .jit import Kernel, default_jit, process_wide
from .lowering import F64, I32, I64, PTR
from .runtime import Call

DESC = ("capacity", "mask", "shift", "size", "head", "tail", "forget_every", "hits", "misses",
        "free_count", "keys", "fitness", "uses", "prev", "next", "index", "free", "average",
        "samples")
D = {name: i for i, name in enumerate(DESC)}
I8 = ir.IntType(8)
SPREAD = 0x9E3779B97F4A7C15  # Fibonacci hashing: the index position is the product's top bits
# The block ``amz_fec_run`` reads: the kernel and its parameter block, the table, and where
# the fingerprints are (the Call's hash buffer, one per task) and the results go.
BLOCK = ("kernel", "params", "desc", "hashes", "num_tasks", "fitness_out", "missing_out",
         # the full evaluation of the misses in the same call (0 in full_params: none): the
         # full task set's parameter block and fitness, and what decides whether to run it
         # here (no random fill among the code's ops, work within the interpreter's share)
         "full_params", "full_fitness", "random_ops", "groups", "total_steps", "epochs",
         "valid_steps", "max_work")
B = {name: i for i, name in enumerate(BLOCK)}
LOOKUP, INSERT, RUN = "amz_fec_lookup", "amz_fec_insert", "amz_fec_run"
FULL = 1 << 32  # added to amz_fec_run's result when it evaluated and inserted the misses


def _table_fn(module: ir.Module, name: str, ret: ir.Type, args: Sequence[ir.Type],
              internal: bool = True) -> Fn:
    """A table function: its first argument is the descriptor (fields :data:`D`)."""
    return Fn(module, name, ret, args, internal, fields=D)


def _home(f: Fn, key: ir.Value) -> ir.Value:
    return f.b.lshr(f.b.mul(key, f.c(SPREAD)), f.field("shift"))


def _build_find(module: ir.Module) -> ir.Function:
    """find(desc, key) → the index position holding key, or −1."""
    f = _table_fn(module, "fec_find", I64, [PTR, I64])
    b, key = f.b, f.fn.args[1]
    keys, index, mask = f.array("keys"), f.array("index"), f.field("mask")
    pos = f.var(_home(f, key), "pos")
    head, _ = f.loop("probe")
    p = f.load(pos)
    slot = f.get(index, p)
    with b.if_then(b.icmp_signed("==", slot, f.c(0))):
        b.ret(f.c(-1))
    with b.if_then(b.icmp_unsigned("==", f.get(keys, b.sub(slot, f.c(1))), key)):
        b.ret(p)
    b.store(b.and_(b.add(p, f.c(1)), mask), pos)
    b.branch(head)
    b.position_at_end(_)  # the exit block is never reached
    b.unreachable()
    return f.fn


def _link(f: Fn, links: ir.Value, at: ir.Value, value: ir.Value, end: str) -> None:
    """links[at] = value when ``at`` is a slot (≥ 0); else the list's ``end`` (head or tail)
    becomes value."""
    with f.b.if_else(f.b.icmp_signed(">=", at, f.c(0))) as (linked, none):
        with linked:
            f.put(links, at, value)
        with none:
            f.set_field(end, value)


def _build_unlink(module: ir.Module) -> ir.Function:
    """unlink(desc, slot): take the slot out of the recency list."""
    f = _table_fn(module, "fec_unlink", ir.VoidType(), [PTR, I64])
    slot = f.fn.args[1]
    prev, nxt = f.array("prev"), f.array("next")
    p, n = f.get(prev, slot), f.get(nxt, slot)
    _link(f, nxt, p, n, "head")
    _link(f, prev, n, p, "tail")
    f.b.ret_void()
    return f.fn


def _build_append(module: ir.Module) -> ir.Function:
    """append(desc, slot): the slot becomes the most recently used."""
    f = _table_fn(module, "fec_append", ir.VoidType(), [PTR, I64])
    slot = f.fn.args[1]
    prev, nxt = f.array("prev"), f.array("next")
    tail = f.field("tail")
    f.put(prev, slot, tail)
    f.put(nxt, slot, f.c(-1))
    _link(f, nxt, tail, slot, "head")
    f.set_field("tail", slot)
    f.b.ret_void()
    return f.fn


def _build_erase(module: ir.Module, unlink: ir.Function) -> ir.Function:
    """erase(desc, slot, pos): drop the entry in ``slot``, found at index position ``pos``.
    Linear probing's backward shift: later entries of the probe run move back into the hole
    unless their home lies cyclically in (hole, their position]."""
    f = _table_fn(module, "fec_erase", ir.VoidType(), [PTR, I64, I64])
    b, slot, pos = f.b, f.fn.args[1], f.fn.args[2]
    b.call(unlink, [f.desc, slot])
    keys, index, mask = f.array("keys"), f.array("index"), f.field("mask")
    hole, j = f.var(pos, "hole"), f.var(pos, "j")
    head, done = f.loop("shift")
    nj = b.and_(b.add(f.load(j), f.c(1)), mask)
    b.store(nj, j)
    s = f.get(index, nj)
    empty = b.icmp_signed("==", s, f.c(0))
    scan = f.fn.append_basic_block("shift.scan")
    b.cbranch(empty, done, scan)
    b.position_at_end(scan)
    k = _home(f, f.get(keys, b.sub(s, f.c(1))))
    i = f.load(hole)
    after_i = b.icmp_unsigned("<", i, k)
    upto_j = b.icmp_unsigned("<=", k, nj)
    stays = b.select(b.icmp_unsigned("<=", i, nj), b.and_(after_i, upto_j),
                     b.or_(after_i, upto_j))
    with b.if_then(b.not_(stays)):
        f.put(index, i, s)
        b.store(nj, hole)
    b.branch(head)
    b.position_at_end(done)
    f.put(index, f.load(hole), f.c(0))
    free, count = f.array("free"), f.field("free_count")
    f.put(free, count, slot)
    f.set_field("free_count", b.add(count, f.c(1)))
    f.set_field("size", b.sub(f.field("size"), f.c(1)))
    b.ret_void()
    return f.fn


def _build_lookup(module: ir.Module, find: ir.Function, unlink: ir.Function,
                  append: ir.Function, erase: ir.Function) -> ir.Function:
    """amz_fec_lookup(desc, keys, n, fitness_out, missing_out) → misses: FecCache.lookup_tasks
    (a miss leaves NaN in fitness_out and its position in missing_out; with ``average``, an
    entry due for another sample is a miss and stays)."""
    f = _table_fn(module, LOOKUP, I64, [PTR, PTR, I64, PTR, PTR], internal=False)
    b = f.b
    keys_in, n, fit_out, miss_out = f.fn.args[1:]
    misses = f.var(f.c(0), "misses")
    found = f.var(f.c(0), "found")
    with f.count("task", n) as ti:
        pos = b.call(find, [f.desc, f.get(keys_in, ti)])
        present = b.icmp_signed(">=", pos, f.c(0))
        b.store(b.zext(present, I64), found)
        with b.if_then(present):
            slot = b.sub(f.get(f.array("index"), pos), f.c(1))
            fitness = f.get(f.array("fitness"), slot, F64)
            uses_arr = f.array("uses")
            uses = b.add(f.get(uses_arr, slot), f.c(1))
            forget, average_flag = f.field("forget_every"), f.field("average")
            # FecCache.lookup_tasks: samples stay 1 without average
            due = b.add(b.mul(forget, f.get(f.array("samples"), slot)), average_flag)
            gone = b.and_(b.icmp_signed(">", forget, f.c(0)), b.icmp_signed(">=", uses, due))
            average = b.icmp_signed("!=", average_flag, f.c(0))
            with b.if_else(gone) as (forgotten, kept):
                with forgotten, b.if_else(average) as (resample, drop):
                    with resample:  # stays as it is until the new sample's insert
                        b.store(f.c(0), found)
                    with drop:
                        f.put(fit_out, ti, fitness, F64)
                        b.call(erase, [f.desc, slot, pos])
                with kept:
                    f.put(fit_out, ti, fitness, F64)
                    f.put(uses_arr, slot, uses)
                    b.call(unlink, [f.desc, slot])
                    b.call(append, [f.desc, slot])
        with b.if_then(b.icmp_signed("==", f.load(found), f.c(0))):
            f.put(fit_out, ti, ir.Constant(F64, float("nan")), F64)
            m = f.load(misses)
            f.put(miss_out, m, ti)
            b.store(b.add(m, f.c(1)), misses)
    m = f.load(misses)
    f.set_field("misses", b.add(f.field("misses"), m))
    f.set_field("hits", b.add(f.field("hits"), b.sub(n, m)))
    b.ret(m)
    return f.fn


def _build_insert(module: ir.Module, find: ir.Function, unlink: ir.Function,
                  append: ir.Function, erase: ir.Function) -> ir.Function:
    """amz_fec_insert(desc, keys, fitness, which, n): FecCache.insert(keys[w], fitness[w]) for
    w in which[:n], in order (an existing key gets the new fitness and one use; with
    ``average``, the mean of its samples, which is written back to fitness[w] too)."""
    f = _table_fn(module, INSERT, ir.VoidType(), [PTR, PTR, PTR, PTR, I64], internal=False)
    b = f.b
    keys_in, fit_in, which, n = f.fn.args[1:]
    with f.count("insert", n) as ji:
        w = f.get(which, ji)
        key, fitness = f.get(keys_in, w), f.get(fit_in, w, F64)
        pos = b.call(find, [f.desc, key])
        with b.if_else(b.icmp_signed(">=", pos, f.c(0))) as (present, new):
            with present:
                slot = b.sub(f.get(f.array("index"), pos), f.c(1))
                samples_arr, fitness_arr = f.array("samples"), f.array("fitness")
                with b.if_else(b.icmp_signed("!=", f.field("average"), f.c(0))) as (
                        mean, replace):
                    with mean:  # old + (new − old) / samples, as FecCache.insert
                        samples = b.add(f.get(samples_arr, slot), f.c(1))
                        old = f.get(fitness_arr, slot, F64)
                        value = b.fadd(old, b.fdiv(b.fsub(fitness, old),
                                                   b.sitofp(samples, F64)))
                        f.put(samples_arr, slot, samples)
                        f.put(fitness_arr, slot, value, F64)
                        f.put(fit_in, w, value, F64)
                    with replace:
                        f.put(fitness_arr, slot, fitness, F64)
                        f.put(samples_arr, slot, f.c(1))
                f.put(f.array("uses"), slot, f.c(1))
                b.call(unlink, [f.desc, slot])
                b.call(append, [f.desc, slot])
            with new:
                count = b.sub(f.field("free_count"), f.c(1))
                f.set_field("free_count", count)
                slot = f.get(f.array("free"), count)
                f.put(f.array("keys"), slot, key)
                f.put(f.array("fitness"), slot, fitness, F64)
                f.put(f.array("uses"), slot, f.c(1))
                f.put(f.array("samples"), slot, f.c(1))
                index, mask = f.array("index"), f.field("mask")
                p = f.var(_home(f, key), "p")
                probe, placed = f.loop("place")
                pi = f.load(p)
                step = f.fn.append_basic_block("place.step")
                b.cbranch(b.icmp_signed("==", f.get(index, pi), f.c(0)), placed, step)
                b.position_at_end(step)
                b.store(b.and_(b.add(pi, f.c(1)), mask), p)
                b.branch(probe)
                b.position_at_end(placed)
                f.put(index, f.load(p), b.add(slot, f.c(1)))
                b.call(append, [f.desc, slot])
                f.set_field("size", b.add(f.field("size"), f.c(1)))
                evict, evicted = f.loop("evict")
                over = f.fn.append_basic_block("evict.body")
                b.cbranch(b.icmp_signed(">", f.field("size"), f.field("capacity")), over, evicted)
                b.position_at_end(over)
                oldest = f.field("head")
                b.call(erase, [f.desc, oldest, b.call(find, [f.desc, f.get(f.array("keys"),
                                                                             oldest)])])
                b.branch(evict)
                b.position_at_end(evicted)
    b.ret_void()
    return f.fn


def _build_run(module: ir.Module, lookup: ir.Function, insert: ir.Function) -> ir.Function:
    """amz_fec_run(block, code) → misses, or −1: run the fingerprint kernel, then look up its
    hashes; −1 (nothing looked up) when the interpreter met an op it lacks or a bad address,
    which the Python side resolves as for any run. With a full task set in the block, misses
    of a program without random fills whose work is small enough are evaluated on it in the
    same call and inserted (their fitness in fitness_out): the result is misses + FULL."""
    f = _table_fn(module, RUN, I64, [PTR, PTR], internal=False)
    b, block, code = f.b, f.fn.args[0], f.fn.args[1]
    void_fn = ir.FunctionType(ir.VoidType(), [PTR, PTR]).as_pointer()

    def slot(name: str) -> ir.Value:
        return f.get(block, f.c(B[name]))

    params = b.inttoptr(slot("params"), PTR)
    f.put(params, f.c(P["record"]), f.c(1))
    kernel = b.inttoptr(slot("kernel"), void_fn)
    b.call(kernel, [params, code])
    flags = b.or_(f.get(params, f.c(P["unsupported"])), f.get(params, f.c(P["invalid"])))
    with b.if_then(b.icmp_signed("!=", flags, f.c(0))):
        b.ret(f.c(-1))
    desc, hashes = b.inttoptr(slot("desc"), PTR), b.inttoptr(slot("hashes"), PTR)
    fit_out, missing = b.inttoptr(slot("fitness_out"), PTR), b.inttoptr(slot("missing_out"), PTR)
    misses = b.call(lookup, [desc, hashes, slot("num_tasks"), fit_out, missing])
    full_at = slot("full_params")
    with b.if_then(b.or_(b.icmp_signed("==", misses, f.c(0)),
                         b.icmp_signed("==", full_at, f.c(0)))):
        b.ret(misses)
    # the header's three i32 counts, then 32-byte records whose first i32 is the op id
    counts = [b.sext(f.get(code, f.c(i), I32), I64) for i in range(3)]
    n_setup, n_predict, n_learn = counts
    records = b.add(b.add(n_setup, n_predict), n_learn)
    random_ops = b.inttoptr(slot("random_ops"), PTR)
    with f.count("scan", records) as ri:
        op = b.sext(f.get(code, b.add(f.c(8), b.mul(ri, f.c(8))), I32), I64)  # i32 units
        with b.if_then(b.icmp_unsigned("!=", f.get(random_ops, op, I8), ir.Constant(I8, 0))):
            b.ret(misses)  # a random fill: its full evaluation needs the candidate's own seed
    # CostModel's one-shot rule (amzc/backends/llvm/__init__.py _Context.work): past
    # max_work the general path may compile the program instead
    steps = b.mul(slot("total_steps"), b.add(n_predict, n_learn))
    steps = b.add(steps, b.mul(b.mul(slot("epochs"), slot("valid_steps")), n_predict))
    work = b.mul(slot("groups"), b.add(b.add(n_setup, steps), f.c(1)))
    with b.if_then(b.icmp_signed(">", work, slot("max_work"))):
        b.ret(misses)
    full = b.inttoptr(full_at, PTR)
    f.put(full, f.c(P["record"]), f.c(0))
    b.call(kernel, [full, code])
    unsupported, invalid = f.c(P["unsupported"]), f.c(P["invalid"])
    flags = b.or_(f.get(full, unsupported), f.get(full, invalid))
    with b.if_then(b.icmp_signed("!=", flags, f.c(0))):  # cannot happen after the fingerprint
        f.put(full, unsupported, f.c(0))  # ran the same code; the general path will say why
        f.put(full, invalid, f.c(0))
        b.ret(misses)
    full_fitness = b.inttoptr(slot("full_fitness"), PTR)
    with f.count("copy", misses) as ji:
        t = f.get(missing, ji)
        f.put(fit_out, t, f.get(full_fitness, t, F64), F64)
    b.call(insert, [desc, hashes, fit_out, missing, misses])
    b.ret(b.add(misses, f.c(FULL)))
    return f.fn


def fec_module() -> ir.Module:
    module = ir.Module(name="amz_fec")
    find, unlink, append = _build_find(module), _build_unlink(module), _build_append(module)
    erase = _build_erase(module, unlink)
    lookup = _build_lookup(module, find, unlink, append, erase)
    insert = _build_insert(module, find, unlink, append, erase)
    run = _build_run(module, lookup, insert)
    population.build(module, run, FULL, B["num_tasks"], B["fitness_out"])
    return module


# 1 for the op ids of random fills (amz_fec_run leaves their full evaluation to Python)
_RANDOM_OPS = np.zeros(128, dtype=np.uint8)
_RANDOM_OPS_AT = _RANDOM_OPS.ctypes.data


def _mark_random_ops() -> None:  # in place: native code holds the address
    _RANDOM_OPS[:] = 0
    _RANDOM_OPS[[op.id for op in OPS if op.form is Form.RANDOM]] = 1


ops.on_change(_mark_random_ops)


class _Library:
    """The compiled table operations (one engine per process)."""

    def __init__(self) -> None:
        self._engine, address = default_jit().library(
            fec_module(), [LOOKUP, INSERT, RUN, population.CHILD, population.PUT,
                           population.SELECT])
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        self.child, self.put, self.select = population.functions(address)
        self.lookup = ctypes.CFUNCTYPE(i64, ptr, ptr, i64, ptr, ptr)(address[LOOKUP])
        self.insert = ctypes.CFUNCTYPE(None, ptr, ptr, ptr, ptr, i64)(address[INSERT])
        self.run = ctypes.CFUNCTYPE(i64, ptr, ctypes.c_char_p)(address[RUN])


@process_wide
def library() -> _Library:
    """The table's operations, compiled once per process."""
    return _Library()


def _counter(name: str, doc: str) -> property:
    """A counter the native code keeps in the descriptor, read and set as a Python int."""
    i = D[name]

    def get(self: NativeFecCache) -> int:
        return int(self.desc[i])

    def set(self: NativeFecCache, value: int) -> None:
        self.desc[i] = value

    return property(get, set, doc=doc)


class NativeFecCache:
    """``amzc.fec.FecCache`` with its table in native memory: the same results, counts
    and recency order for any sequence of operations (tests/test_llvm_fec.py), and it pickles
    as a FecCache (checkpoints do not depend on the backend)."""

    def __init__(self, cache_size: int = 100_000, forget_every: int = 100,
                 average: bool = False) -> None:
        self.cache_size = cache_size
        self.forget_every = forget_every
        self.average = average
        slots = cache_size + 1  # an insert overfills by one before the eviction
        bits = max(1, (2 * slots - 1).bit_length())
        self._keys = np.zeros(slots, dtype=np.uint64)
        self._fitness = np.zeros(slots)
        self._uses = np.zeros(slots, dtype=np.int64)
        self._samples = np.ones(slots, dtype=np.int64)
        self._prev = np.full(slots, -1, dtype=np.int64)
        self._next = np.full(slots, -1, dtype=np.int64)
        self._index = np.zeros(1 << bits, dtype=np.int64)
        self._free = np.arange(slots - 1, -1, -1, dtype=np.int64)  # slot 0 is used first
        d = self.desc = np.zeros(len(DESC), dtype=np.int64)
        d[D["capacity"]] = cache_size
        d[D["mask"]] = (1 << bits) - 1
        d[D["shift"]] = 64 - bits
        d[D["head"]] = d[D["tail"]] = -1
        d[D["forget_every"]] = forget_every
        d[D["average"]] = int(average)
        d[D["free_count"]] = slots
        for name in ("keys", "fitness", "uses", "prev", "next", "index", "free", "samples"):
            d[D[name]] = getattr(self, f"_{name}").ctypes.data
        self._desc = d.ctypes.data
        self._lib = library()
        self.generation = -1
        self._scratch(16)

    def _scratch(self, n: int) -> None:
        """Buffers for ``n`` tasks' keys, fitness and miss positions. New buffers mean a new
        ``generation``: whoever holds a block made for the old ones makes a new one."""
        self.generation += 1
        self._n = n
        self._keys_in = np.zeros(n, dtype=np.uint64)
        self._fit = np.zeros(n)
        self._missing = np.zeros(n, dtype=np.int64)
        # addresses read once: ``array.ctypes.data`` costs about a microsecond each time
        self._keys_at, self._fit_at, self._missing_at = (
            a.ctypes.data for a in (self._keys_in, self._fit, self._missing))

    # -- FecCache's interface ---------------------------------------------------------------

    hits = _counter("hits", "Lookups that found their key (FecCache.hits).")
    misses = _counter("misses", "Lookups that did not (FecCache.misses).")

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def __len__(self) -> int:
        return int(self.desc[D["size"]])

    def lookup_tasks(self, keys: Sequence[int]) -> tuple[list[float | None], list[int]]:
        n = len(keys)
        if n > self._n:
            self._scratch(n)
        self._keys_in[:n] = keys
        misses = self._lib.lookup(self._desc, self._keys_at, n, self._fit_at, self._missing_at)
        return self.results(n, misses)

    def results(self, n: int, misses: int) -> tuple[list[float | None], list[int]]:
        """The last lookup's (per-task fitness, None where missed; the misses)."""
        result: list[float | None] = self._fit[:n].tolist()
        if not misses:
            return result, []
        missing = self._missing[:misses].tolist()
        for i in missing:
            result[i] = None
        return result, missing

    def lookup(self, key: int) -> float | None:
        return self.lookup_tasks([key])[0][0]

    def insert(self, key: int, fitness: float) -> float:
        values = [fitness]
        self.insert_tasks([key], values, [0])
        return values[0]

    def insert_tasks(self, keys: Sequence[int], fitness: MutableSequence[float | None],
                     which: Sequence[int]) -> None:
        """insert(keys[i], fitness[i]) for i in ``which``, in order; each fitness[i] becomes
        what its entry holds (FecCache.insert_tasks)."""
        n = len(keys)
        if n > self._n:
            self._scratch(n)
        self._keys_in[:n] = keys
        for i in which:
            self._fit[i] = fitness[i]
        self._missing[: len(which)] = which
        self._lib.insert(self._desc, self._keys_at, self._fit_at, self._missing_at, len(which))
        if self.average:  # a mean may have replaced a sample
            for i in which:
                fitness[i] = float(self._fit[i])

    def items(self) -> list[tuple[int, float, int, int]]:
        """(key, fitness, uses, samples) of every entry, least recently used first."""
        out = []
        slot = int(self.desc[D["head"]])
        keys, fitness, uses, samples, nxt = (
            self._keys.tolist(), self._fitness.tolist(), self._uses.tolist(),
            self._samples.tolist(), self._next.tolist())
        while slot >= 0:
            out.append((keys[slot], fitness[slot], uses[slot], samples[slot]))
            slot = nxt[slot]
        return out

    @classmethod
    def from_items(cls, cache_size: int, forget_every: int, hits: int, misses: int,
                   items: Sequence[tuple[int, float, int, int]], average: bool = False
                   ) -> NativeFecCache:
        """The cache holding ``items`` ((key, fitness, uses, samples) as ``FecCache.items``
        gives them, old checkpoints' entries included: amzc.fec.restore_cache fills in their
        samples; distinct keys, least recently used first) with these counters. Inserted in
        order into an empty table, entry i takes slot i."""
        cache = cls(cache_size, forget_every, average)
        if items:
            keys, fitness, uses, samples = (list(column) for column in zip(*items, strict=True))
            cache.insert_tasks(keys, fitness, range(len(keys)))
            assert len(cache) == len(keys), "duplicate keys or more entries than cache_size"
            cache._uses[: len(keys)] = uses
            cache._samples[: len(keys)] = samples
        cache.hits, cache.misses = hits, misses
        return cache

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return restore_cache, (self.cache_size, self.forget_every, self.hits, self.misses,
                               self.items(), self.average)

    # -- the fingerprint run and its lookups in one call ------------------------------------

    def block(self, kernel: Kernel, call: Call,
              full: tuple[Call, int, int, int] | None = None) -> np.ndarray:
        """The block ``amz_fec_run`` reads, for this kernel and fingerprint parameter block,
        and optionally the full evaluation's (its Call, lane groups, epochs and the most work
        to do there). It holds their addresses: its holder keeps the kernel and the Calls
        alive as long as it uses the block, and makes a new one for a new ``generation``."""
        if call.num_tasks > self._n:
            self._scratch(call.num_tasks)
        block = np.zeros(len(BLOCK), dtype=np.int64)
        block[B["kernel"]] = kernel.address
        block[B["params"]] = call.address
        block[B["desc"]] = self._desc
        block[B["hashes"]] = call.hashes_address
        block[B["num_tasks"]] = call.num_tasks
        block[B["fitness_out"]] = self._fit_at
        block[B["missing_out"]] = self._missing_at
        if full is not None and (full[0].shape != call.shape
                                 or full[0].num_tasks != call.num_tasks):
            full = None  # the fingerprint's interpreter would not fit the full task set
        if full is not None:
            full_call, groups, epochs, max_work = full
            block[B["full_params"]] = full_call.address
            block[B["full_fitness"]] = full_call.fitness_out.ctypes.data
            block[B["random_ops"]] = _RANDOM_OPS_AT
            block[B["groups"]] = groups
            block[B["total_steps"]] = full_call.total_steps
            block[B["epochs"]] = epochs
            block[B["valid_steps"]] = full_call.valid_steps
            block[B["max_work"]] = max_work
        return block

    @property
    def library(self) -> _Library:
        """The compiled operations; ``library.run(block, code)`` → the number of misses, or
        −1 when the kernel could not run the program (nothing looked up)."""
        return self._lib

    def results_views(self, num_tasks: int) -> tuple[np.ndarray, np.ndarray]:
        """Where a run's results land (until the next ``generation``): the fitness of each
        task (NaN for a miss) and the positions of the misses."""
        if num_tasks > self._n:
            self._scratch(num_tasks)
        return self._fit[:num_tasks], self._missing


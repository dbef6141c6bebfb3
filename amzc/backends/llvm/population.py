"""A regularized-evolution child's bookkeeping in native code: its fitness (the mean of the
per-task fitness ``amz_fec_run`` found or computed), the population update, and the next
child's tournament, in the same call as the child's fingerprint run (``amz_child``).

Why: after the native FEC table, the Python around each child (the tournament's ten draws,
the evaluator's glue, the population update) cost more than the child's native work. The
mutation stays in Python, on the AST; everything between two mutations runs here when it
can. The Python side (amzc/search/evolution.py) is the oracle, operation for operation:

* the fitness is the left-to-right sum of the per-task fitness divided by their number (the
  search evaluator's mean, amzc/search/evaluation.py ``sequential_mean``);
* the update is ``Population.put`` (the best is the first index of the maximum);
* the tournament of child ``c`` draws ``amzc.rng.uniform_index(key, c * T + j, P)`` for
  j = 0 … T−1, keeping the first of tied maxima (``Population.tournament``).

Layout. The population's descriptor (int64 array, :data:`POP`) holds the address of the
fitness array (the ``array('d')`` of ``Population.fitness``, written in place), P, T, the
tournament key, the next slot, the best slot, the children drawn so far, and counters of
the work done here that the evaluator folds into its statistics."""

from __future__ import annotations

import ctypes
from array import array
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from llvmlite import ir

from amzc.rng import GOLDEN
from amzc.syntax import Program

from .encode import pack_program
from .irfn import Fn
from .lowering import F64, I64, PTR, u64, uniform01

POP = ("fitness", "size", "tournament_size", "key", "next_slot", "best", "children",
       "native_children", "full_calls", "evaluated_tasks")
Q = {name: i for i, name in enumerate(POP)}
# amz_put's and amz_child's result word, one int64 (a tuple would cost the search more than
# its decoding): the next child's parent in the low bits, the slot the child was put into
# above them, whether the population's best changed, and DONE when the child was put. Without
# DONE, amz_child returns amz_fec_run's result, for the evaluator to finish the child. Decoded
# in one place: NativePopulation's child function.
INDEX_BITS = 24
MASK = (1 << INDEX_BITS) - 1
SLOT_SHIFT = INDEX_BITS
CHANGED = 1 << 48
DONE = 1 << 49
MAX_POPULATION = MASK  # larger populations take the Python path
CHILD, PUT, SELECT = "amz_child", "amz_put", "amz_select"


def _build_select(module: ir.Module) -> ir.Function:
    """select(pop) → the parent of the next child: its tournament."""
    f = Fn(module, SELECT, I64, [PTR], internal=False, fields=Q)
    b = f.b
    fitness = f.array("fitness")
    size = f.field("size")
    draws = f.field("tournament_size")
    key = f.field("key")
    first = b.mul(f.field("children"), draws)
    n = b.sitofp(size, F64)

    def index(counter: ir.Value) -> ir.Value:  # amzc/rng.py uniform_index
        state = b.add(key, b.mul(b.add(counter, f.c(1)), f.c(GOLDEN - (1 << 64))))
        u = uniform01(b, state, f.c, lambda x: ir.Constant(F64, x), F64)
        return b.fptosi(b.fmul(u, n), I64)

    k0 = index(first)
    best = f.var(k0, "best")
    top = f.var(f.get(fitness, k0, F64), "top", F64)
    with f.count("draw", b.sub(draws, f.c(1))) as j:
        k = index(b.add(b.add(first, j), f.c(1)))
        value = f.get(fitness, k, F64)
        with b.if_then(b.fcmp_ordered(">", value, f.load(top, F64))):
            b.store(k, best)
            b.store(value, top)
    b.ret(f.load(best))
    return f.fn


def _build_put(module: ir.Module, select: ir.Function) -> ir.Function:
    """put(pop, value) → result: the child's fitness into the next slot (Population.put),
    the slot advanced cyclically, the children counted, and the next tournament."""
    f = Fn(module, PUT, I64, [PTR, F64], internal=False, fields=Q)
    b, pop, value = f.b, f.fn.args[0], f.fn.args[1]
    fitness = f.array("fitness")
    size = f.field("size")
    slot = f.field("next_slot")
    candidate = f.field("best")
    old = f.get(fitness, slot, F64)
    f.put(fitness, slot, value, F64)
    best = f.var(candidate, "best")
    dropped = b.and_(b.icmp_signed("==", slot, candidate), b.fcmp_ordered("<", value, old))
    with b.if_else(dropped) as (rescan, compare):
        with rescan:  # the best got worse: the first index of the maximum
            top = f.var(f.get(fitness, f.c(0), F64), "top", F64)
            b.store(f.c(0), best)
            with f.count("scan", b.sub(size, f.c(1))) as i:
                at = b.add(i, f.c(1))
                x = f.get(fitness, at, F64)
                with b.if_then(b.fcmp_ordered(">", x, f.load(top, F64))):
                    b.store(at, best)
                    b.store(x, top)
        with compare:
            top = f.get(fitness, candidate, F64)
            better = b.or_(b.fcmp_ordered(">", value, top),
                           b.and_(b.fcmp_ordered("==", value, top),
                                  b.icmp_signed("<", slot, candidate)))
            with b.if_then(better):
                b.store(slot, best)
    new_best = f.load(best)
    f.set_field("best", new_best)
    changed = b.or_(b.icmp_signed("!=", new_best, candidate),
                    b.icmp_signed("==", slot, candidate))
    after = b.add(slot, f.c(1))
    f.set_field("next_slot", b.select(b.icmp_signed("==", after, size), f.c(0), after))
    f.add_field("children", f.c(1))
    parent = b.call(select, [pop])
    result = b.or_(b.or_(parent, b.shl(slot, f.c(SLOT_SHIFT))), f.c(DONE))
    b.ret(b.or_(result, b.select(changed, f.c(CHANGED), f.c(0))))
    return f.fn


def _build_child(module: ir.Module, run: ir.Function, put: ir.Function, full_flag: int,
                 num_tasks_at: int, fitness_out_at: int) -> ir.Function:
    """child(block, code, pop) → result: ``amz_fec_run(block, code)``, and when that left
    every task's fitness known (all hits, or the misses evaluated there) their mean put
    into the population (``amz_put``). Otherwise amz_fec_run's result, without DONE: Python
    finishes the evaluation and calls ``amz_put``."""
    f = Fn(module, CHILD, I64, [PTR, PTR, PTR], internal=False, fields=Q, desc_arg=2)
    b = f.b
    block, code, pop = f.fn.args
    r = b.call(run, [block, code])
    known = b.or_(b.icmp_signed("==", r, f.c(0)), b.icmp_signed(">=", r, f.c(full_flag)))
    with b.if_then(b.not_(known)):
        b.ret(r)
    with b.if_then(b.icmp_signed(">=", r, f.c(full_flag))):
        f.add_field("full_calls", f.c(1))
        f.add_field("evaluated_tasks", b.sub(r, f.c(full_flag)))
    f.add_field("native_children", f.c(1))
    n = f.get(block, f.c(num_tasks_at))
    per_task = b.inttoptr(f.get(block, f.c(fitness_out_at)), PTR)
    total = f.var(f.get(per_task, f.c(0), F64), "sum", F64)
    with f.count("sum", b.sub(n, f.c(1))) as i:
        b.store(b.fadd(f.load(total, F64), f.get(per_task, b.add(i, f.c(1)), F64)), total)
    mean = b.fdiv(f.load(total, F64), b.sitofp(n, F64))
    b.ret(b.call(put, [pop, mean]))
    return f.fn


def build(module: ir.Module, run: ir.Function, full_flag: int, num_tasks_at: int,
          fitness_out_at: int) -> None:
    """Add amz_select, amz_put and amz_child to the FEC table's module (``run`` is its
    amz_fec_run; the other arguments locate what amz_child reads in run's block)."""
    select = _build_select(module)
    put = _build_put(module, select)
    _build_child(module, run, put, full_flag, num_tasks_at, fitness_out_at)


def functions(address: dict[str, int]) -> tuple[ctypes._CFuncPtr, ctypes._CFuncPtr,
                                                 ctypes._CFuncPtr]:
    """ctypes callables of (amz_child, amz_put, amz_select) from their addresses."""
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    return (ctypes.CFUNCTYPE(i64, ptr, ctypes.c_char_p, ptr)(address[CHILD]),
            ctypes.CFUNCTYPE(i64, ptr, ctypes.c_double)(address[PUT]),
            ctypes.CFUNCTYPE(i64, ptr)(address[SELECT]))


class Block(Protocol):
    """Where amz_child's first argument is read, each call (a new block replaces the old
    when the interpreter grows): the FEC runner."""

    address: int


class NativePopulation:
    """The native side of one population (its fitness array, written in place, and its
    programs list) for amz_child / amz_put / amz_select. Between :meth:`start` and
    :meth:`stop` the next slot, the best, and the children count live here; outside, in the
    Python objects. ``finish(program, seed, result)`` is the fitness of a child amz_child
    left unfinished (``result``: amz_fec_run's)."""

    def __init__(self, fitness: array, programs: list[Program], tournament_size: int,
                 library: Any, block: Block, finish: Callable[[Program, int, int], float]
                 ) -> None:
        assert fitness.typecode == "d"
        self.fitness = fitness  # kept: the descriptor holds its buffer's address
        self.programs = programs
        self.desc = np.zeros(len(POP), dtype=np.int64)
        self.desc[Q["fitness"]] = fitness.buffer_info()[0]
        self.desc[Q["size"]] = len(fitness)
        self.desc[Q["tournament_size"]] = tournament_size
        self.address = self.desc.ctypes.data
        self._select = library.select
        self.child = self._child_function(library.child, library.put, block, finish)

    def _child_function(self, run_child: ctypes._CFuncPtr, put: ctypes._CFuncPtr,
                        block: Block, finish: Callable[[Program, int, int], float]
                        ) -> Callable[[Program, int], int]:
        """``child(program, seed)``: amz_child (the fingerprint run, the lookups, the
        misses' evaluation if it can, the mean, the population's update and the next
        tournament), or for a child it left unfinished, ``finish`` and amz_put; then the
        program into its slot. The next child's parent, or −1 when the candidate changed
        (the experiment's checks follow). One Python frame per child, so the result word is
        decoded here and nowhere else."""
        at, programs, pack = self.address, self.programs, pack_program
        done, shift, mask, changed = DONE, SLOT_SHIFT, MASK, CHANGED

        def child(program: Program, seed: int) -> int:
            r = run_child(block.address, pack(program), at)
            if r < done:
                r = put(at, finish(program, seed, r))
            programs[(r >> shift) & mask] = program
            return -1 if r & changed else r & mask

        return child

    def valid_for(self, fitness: array, programs: list[Program], tournament_size: int
                  ) -> bool:
        """Whether the descriptor is this population's (its buffer where it was) and T's."""
        d = self.desc
        return (fitness is self.fitness and programs is self.programs
                and tournament_size == d[Q["tournament_size"]]
                and fitness.buffer_info() == (d[Q["fitness"]], d[Q["size"]]))

    def start(self, next_slot: int, best: int, key: int, children: int) -> int:
        """Load the Python state; returns the next child's parent."""
        d = self.desc
        d[Q["next_slot"]], d[Q["best"]], d[Q["children"]] = next_slot, best, children
        d[Q["key"]] = u64(key)  # as int64
        d[Q["native_children"]] = d[Q["full_calls"]] = d[Q["evaluated_tasks"]] = 0
        return int(self._select(self.address))

    def stop(self) -> tuple[int, int, int, int, int, int]:
        """(next slot, best, children, children done natively, full evaluations there,
        tasks evaluated there), for the Python objects."""
        return tuple(int(self.desc[Q[name]]) for name in (  # type: ignore[return-value]
            "next_slot", "best", "children", "native_children", "full_calls",
            "evaluated_tasks"))

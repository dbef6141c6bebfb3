"""A function of LLVM IR under construction, with the few helpers the hand-written native
routines share (the FEC table's, amzc/backends/llvm/fec_table.py, and the population's,
amzc/backends/llvm/population.py): integer constants, stack variables, array access, counted
loops, and the fields of an int64 descriptor passed as one of the arguments."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from llvmlite import ir

from .lowering import I64, PTR


class Fn:
    def __init__(self, module: ir.Module, name: str, ret: ir.Type, args: Sequence[ir.Type],
                 internal: bool = True, fields: Mapping[str, int] | None = None,
                 desc_arg: int = 0) -> None:
        self.fn = ir.Function(module, ir.FunctionType(ret, args), name=name)
        if internal:
            self.fn.linkage = "internal"
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.desc = self.fn.args[desc_arg]  # the descriptor whose fields field() reads
        self.fields = fields or {}

    @staticmethod
    def c(x: int) -> ir.Constant:
        return ir.Constant(I64, x)

    def var(self, init: ir.Value, name: str, typ: ir.Type = I64) -> ir.Value:
        with self.b.goto_entry_block():
            ptr = self.b.alloca(typ, name=name)
        self.b.store(init, ptr)
        return ptr

    def load(self, ptr: ir.Value, typ: ir.Type = I64) -> ir.Value:
        return self.b.load(ptr, typ=typ)

    def at(self, base: ir.Value, i: ir.Value, typ: ir.Type = I64) -> ir.Value:
        return self.b.gep(base, [i], source_etype=typ)

    def get(self, base: ir.Value, i: ir.Value, typ: ir.Type = I64) -> ir.Value:
        return self.b.load(self.at(base, i, typ), typ=typ)

    def put(self, base: ir.Value, i: ir.Value, value: ir.Value, typ: ir.Type = I64) -> None:
        self.b.store(value, self.at(base, i, typ))

    def field(self, name: str) -> ir.Value:
        return self.get(self.desc, self.c(self.fields[name]))

    def set_field(self, name: str, value: ir.Value) -> None:
        self.put(self.desc, self.c(self.fields[name]), value)

    def add_field(self, name: str, amount: ir.Value) -> None:
        self.set_field(name, self.b.add(self.field(name), amount))

    def array(self, name: str) -> ir.Value:
        return self.b.inttoptr(self.field(name), PTR)

    @contextmanager
    def count(self, name: str, bound: ir.Value) -> Iterator[ir.Value]:
        """``for i in range(bound)``: yields i (the counter is already advanced, so the body
        may branch freely); the builder ends after the loop."""
        counter = self.var(self.c(0), name)
        head, done = self.loop(name)
        i = self.load(counter)
        body = self.fn.append_basic_block(f"{name}.body")
        self.b.cbranch(self.b.icmp_signed("<", i, bound), body, done)
        self.b.position_at_end(body)
        self.b.store(self.b.add(i, self.c(1)), counter)
        yield i
        self.b.branch(head)
        self.b.position_at_end(done)

    def loop(self, name: str) -> tuple[ir.Block, ir.Block]:
        """A loop's head and exit blocks; the caller branches to head, fills it, and ends
        each pass with ``branch(head)`` or ``branch(exit)``."""
        head = self.fn.append_basic_block(f"{name}.head")
        done = self.fn.append_basic_block(f"{name}.end")
        self.b.branch(head)
        self.b.position_at_end(head)
        return head, done

"""The LLVM backend: programs run as native code generated through llvmlite (docs/llvm.md).

Two tiers share one protocol driver and one op lowering (codegen.py, lowering.py):

- the **interpreter**, generated once per :class:`~amzc.backends.llvm.layout.Shape` (feature
  size, memory sizes, lanes, eval type), runs any program from a packed encoding without
  compiling it: the search's tier, where a program is typically evaluated once;
- the **compiled** tier, one module per program with its instructions inlined, memory in
  registers and constants folded: for programs evaluated often or on large task sets.

A measured cost model picks the tier per call (:class:`CostModel`). Both tiers give identical
results, which agree with the NumPy backend bit for bit except where libm functions are
involved (docs/llvm.md, "Tolerance").
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from amzc.errors import AmzConfigError
from amzc.evaluate import EvalOptions, RunOutput, combine
from amzc.syntax import MemoryConfig, Program
from amzc.tasks.taskset import TaskSet

from . import codegen
from .encode import encode
from .jit import Kernel, KernelCache, default_jit
from .layout import Shape
from .runtime import Call

__all__ = ["LlvmBackend", "CostModel", "Shape", "program_ir"]
STAGES = ("raw", "opt", "asm")

Mode = Literal["auto", "interpret", "compile"]


@dataclass
class CostModel:
    """When to compile a program instead of interpreting it, from measured times.

    Ski-rental rules, each at most twice the cost of the better choice in hindsight:
    a program is compiled once the time spent interpreting it exceeds the expected compile
    time, or at once when one interpreted evaluation is predicted to take longer than a
    compile; a Shape's interpreter is built once the time spent compiling programs of that
    Shape exceeds the expected cost of building the interpreter."""

    compile_ms: float = 40.0  # running estimate of one program's compile time
    interpreter_ms: float = 500.0  # running estimate of building one interpreter
    interpret_ns: float = 15.0  # interpreter ns per executed instruction per lane group
    history: int = 50_000  # programs whose interpretation time is remembered
    spent_us: OrderedDict[bytes, float] = field(default_factory=OrderedDict)

    def observe_compile(self, ms: float) -> None:
        self.compile_ms += 0.2 * (ms - self.compile_ms)

    def observe_interpret(self, code: bytes, us: float, work: float) -> float:
        """Record an interpreted evaluation; returns the program's total so far (µs)."""
        if work > 0:
            self.interpret_ns += 0.05 * (1e3 * us / work - self.interpret_ns)
        total = self.spent_us.pop(code, 0.0) + us
        self.spent_us[code] = total
        if len(self.spent_us) > self.history:
            self.spent_us.popitem(last=False)
        return total

    def should_compile(self, code: bytes, work: float) -> bool:
        predicted_us = self.interpret_ns * work / 1e3
        spent = self.spent_us.get(code, 0.0)
        return max(spent, predicted_us) > 1e3 * self.compile_ms


class _Context:
    """Everything fixed for one (task set, memory, options): shape, encoder, parameter
    block, and the work one evaluation costs the interpreter."""

    def __init__(self, shape: Shape, tasks: TaskSet, options: EvalOptions) -> None:
        self.shape = shape
        self.call = Call(shape, tasks, options)
        self.groups = self.call.data.groups
        self.epochs = max(1, -(-self.call.total_steps // max(tasks.num_train, 1)))

    def work(self, code: bytes) -> float:
        """Instructions × lane groups one interpreted evaluation executes (at most)."""
        n_setup, n_predict, n_learn = (int.from_bytes(code[i:i + 4], "little")
                                       for i in (0, 4, 8))
        steps = self.call.total_steps * (n_predict + n_learn)
        steps += self.epochs * self.call.valid_steps * n_predict
        return float(self.groups * (n_setup + steps + 1))


class LlvmBackend:
    """``run(program, tasks, memory, options, record=False) -> RunOutput`` as
    amzc/backends/numpy.py, plus :meth:`run_many` and :meth:`fitness` for the search.

    ``mode`` forces a tier ("interpret" or "compile"); "auto" lets the cost model choose.
    Instances share the process-wide JIT and caches; they are not thread-safe."""

    name = "llvm"

    def __init__(self, mode: Mode = "auto", lanes: int | None = None) -> None:
        self.mode = mode
        self.lanes = lanes
        self.state = _STATE

    # public API ----------------------------------------------------------------------------
    def run(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
            options: EvalOptions, record: bool = False) -> RunOutput:
        ctx = self.state.context(tasks, memory, options, self.lanes)
        code = encode(program)
        return self._run_code(ctx, code, program, record)

    def run_many(self, programs: Iterable[Program], tasks: TaskSet, memory: MemoryConfig,
                 options: EvalOptions, record: bool = False) -> list[RunOutput]:
        """:meth:`run` for each program, sharing the per-call setup."""
        ctx = self.state.context(tasks, memory, options, self.lanes)
        return [self._run_code(ctx, encode(p), p, record) for p in programs]

    def fitness(self, programs: Sequence[Program], tasks: TaskSet, memory: MemoryConfig,
                options: EvalOptions) -> np.ndarray:
        """Combined fitness (``options.combine``) of each program: the search's fast path."""
        outs = self.run_many(programs, tasks, memory, options)
        return np.array([combine(o.fitness, options.combine) for o in outs])

    # tiers ---------------------------------------------------------------------------------
    def _run_code(self, ctx: _Context, code: bytes, program: Program,
                  record: bool) -> RunOutput:
        state, shape = self.state, ctx.shape
        kernel = state.compiled.get((shape, code))
        if kernel is not None:
            return ctx.call.run(kernel, None, record)
        mode, cost = self.mode, state.cost
        interpreter = state.interpreters.get(shape)
        if mode == "compile" or (mode == "auto" and self._compile_first(ctx, code, interpreter)):
            kernel = state.compile_program(shape, program, code)
            return ctx.call.run(kernel, None, record)
        if interpreter is None:
            interpreter = state.interpreter(shape)
        start = time.perf_counter_ns()
        out = ctx.call.run(interpreter, code, record)
        us = (time.perf_counter_ns() - start) / 1e3
        if mode == "auto":
            work = ctx.work(code)
            cost.observe_interpret(code, us, work)
            if cost.should_compile(code, work):
                state.compile_program(shape, program, code)
        return out

    def _compile_first(self, ctx: _Context, code: bytes, interpreter: Kernel | None) -> bool:
        state, cost = self.state, self.state.cost
        if interpreter is None:
            # no interpreter yet: compiling this program is cheaper, until compiles add up
            return state.compile_ms_spent.get(ctx.shape, 0.0) < cost.interpreter_ms
        return cost.should_compile(code, ctx.work(code))


class _State:
    """Process-wide caches: interpreters per Shape, compiled programs, call contexts."""

    def __init__(self) -> None:
        self.interpreters: dict[Shape, Kernel] = {}
        self.compiled = KernelCache()
        self.contexts: OrderedDict[tuple, _Context] = OrderedDict()
        self.cost = CostModel()
        self.compile_ms_spent: dict[Shape, float] = {}
        self._last: tuple | None = None

    def context(self, tasks: TaskSet, memory: MemoryConfig, options: EvalOptions,
                lanes: int | None) -> _Context:
        last = self._last
        if (last is not None and last[0] is tasks and last[1] is memory and last[2] is options
                and last[3] == lanes):
            return last[4]
        key = (tasks, memory, options, lanes)
        ctx = self.contexts.get(key)
        if ctx is None:
            ctx = _Context(Shape.of(memory, tasks, lanes), tasks, options)
            self.contexts[key] = ctx
            if len(self.contexts) > 64:
                self.contexts.popitem(last=False)
        self._last = (tasks, memory, options, lanes, ctx)
        return ctx

    def interpreter(self, shape: Shape) -> Kernel:
        kernel = self.interpreters.get(shape)
        if kernel is None:
            kernel = default_jit().compile(codegen.interpreter_module(shape))
            self.cost.interpreter_ms = kernel.compile_ms
            self.interpreters[shape] = kernel
        return kernel

    def compile_program(self, shape: Shape, program: Program, code: bytes) -> Kernel:
        kernel = default_jit().compile_program(program, shape)
        self.cost.observe_compile(kernel.compile_ms)
        self.compile_ms_spent[shape] = self.compile_ms_spent.get(shape, 0.0) + kernel.compile_ms
        self.compiled.put((shape, code), kernel)
        return kernel


_STATE = _State()


def program_ir(program: Program, memory: MemoryConfig, features: int, num_tasks: int = 10,
               eval_type: str = "rms", stage: str = "raw") -> str:
    """The program's module as LLVM IR before ("raw") or after ("opt") optimization, or as
    the host's assembly ("asm")."""
    if stage not in STAGES:
        raise AmzConfigError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
    shape = Shape.build(memory, features, num_tasks, eval_type)
    jit = default_jit()
    ref = jit.program(program, shape)
    if stage == "raw":
        return str(ref)
    jit.optimize(ref)
    return str(ref) if stage == "opt" else jit.assembly(ref)

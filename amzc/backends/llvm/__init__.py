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
from .jit import KERNEL_CACHE_SIZE, Kernel, KernelCache, default_jit
from .layout import Shape
from .runtime import Call

__all__ = ["LlvmBackend", "CostModel", "Shape", "program_ir"]
STAGES = ("raw", "opt", "asm")

Mode = Literal["auto", "interpret", "compile"]
CONTEXTS = 16  # (task set, memory, options) combinations kept ready; each holds its data


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
    Instances share the process-wide caches and cost model unless ``shared=False`` (then
    ``cache_size`` bounds their own cache of compiled programs). Not thread-safe."""

    name = "llvm"

    def __init__(self, mode: Mode = "auto", lanes: int | None = None, *, shared: bool = True,
                 cache_size: int = KERNEL_CACHE_SIZE) -> None:
        if mode not in ("auto", "interpret", "compile"):
            raise AmzConfigError(f"unknown mode {mode!r}; choose auto, interpret or compile")
        self.mode = mode
        self.lanes = lanes
        self.state = _STATE if shared else _State(cache_size)

    # public API ----------------------------------------------------------------------------
    def run(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
            options: EvalOptions, record: bool = False) -> RunOutput:
        ctx = self.state.context(tasks, memory, options, self.lanes)
        self._execute(ctx, encode(program), program, record)
        return ctx.call.output(record)

    def run_many(self, programs: Iterable[Program], tasks: TaskSet, memory: MemoryConfig,
                 options: EvalOptions, record: bool = False) -> list[RunOutput]:
        """:meth:`run` for each program, sharing the per-call setup."""
        ctx = self.state.context(tasks, memory, options, self.lanes)
        outputs = []
        for program in programs:
            self._execute(ctx, encode(program), program, record)
            outputs.append(ctx.call.output(record))
        return outputs

    def fitness(self, programs: Sequence[Program], tasks: TaskSet, memory: MemoryConfig,
                options: EvalOptions) -> np.ndarray:
        """The combined fitness (``options.combine``) of each program, without building
        RunOutputs: the search's fast path. Equal to ``combine(run(p, ...).fitness)``."""
        ctx = self.state.context(tasks, memory, options, self.lanes)
        per_task = np.empty((len(programs), tasks.num_tasks))
        for i, program in enumerate(programs):
            self._execute(ctx, encode(program), program, False)
            per_task[i] = ctx.call.fitness_view
        if options.combine == "median":  # amzc/evaluate.py combine: the upper median
            return np.sort(per_task, axis=1)[:, tasks.num_tasks // 2]
        if options.combine != "mean":
            combine(per_task[0], options.combine)  # raises the usual error
        return per_task.mean(axis=1)

    # tiers ---------------------------------------------------------------------------------
    def _execute(self, ctx: _Context, code: bytes, program: Program, record: bool) -> None:
        """Run one program on the context's task set; results stay in ``ctx.call``."""
        state, shape = self.state, ctx.shape
        kernel = state.compiled.get((shape, code))
        if kernel is not None:
            ctx.call.execute(kernel, None, record)
            return
        mode, cost = self.mode, state.cost
        interpreter = _INTERPRETERS.get(shape)
        if mode == "compile" or (mode == "auto" and self._compile_first(ctx, code, interpreter)):
            ctx.call.execute(state.compile_program(shape, program, code), None, record)
            return
        if interpreter is None:
            interpreter = state.interpreter(shape)
        start = time.perf_counter_ns()
        ctx.call.execute(interpreter, code, record)
        if mode == "auto":
            us = (time.perf_counter_ns() - start) / 1e3
            work = ctx.work(code)
            cost.observe_interpret(code, us, work)
            if cost.should_compile(code, work):
                state.compile_program(shape, program, code)

    def _compile_first(self, ctx: _Context, code: bytes, interpreter: Kernel | None) -> bool:
        state, cost = self.state, self.state.cost
        if interpreter is None:
            # no interpreter yet: compiling this program is cheaper, until compiles add up
            return state.compile_ms_spent.get(ctx.shape, 0.0) < cost.interpreter_ms
        return cost.should_compile(code, ctx.work(code))


# Interpreters depend on nothing but their Shape: one per Shape for the whole process.
_INTERPRETERS: dict[Shape, Kernel] = {}


class _State:
    """Caches of one backend (or of the process): compiled programs, call contexts, and the
    cost model's measurements."""

    def __init__(self, cache_size: int = KERNEL_CACHE_SIZE) -> None:
        self.compiled = KernelCache(cache_size)
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
            if len(self.contexts) > CONTEXTS:
                self.contexts.popitem(last=False)
        self._last = (tasks, memory, options, lanes, ctx)
        return ctx

    def interpreter(self, shape: Shape) -> Kernel:
        kernel = _INTERPRETERS.get(shape)
        if kernel is None:
            kernel = default_jit().compile(codegen.interpreter_module(shape))
            self.cost.interpreter_ms = kernel.compile_ms
            _INTERPRETERS[shape] = kernel
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

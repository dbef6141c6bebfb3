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

import struct
import time
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Literal

import numpy as np

from amzc import caches
from amzc import ops as op_table
from amzc.caches import BoundedCache
from amzc.errors import AmzConfigError
from amzc.evaluate import EvalOptions, RunOutput
from amzc.ops import OPS, Op
from amzc.syntax import DRAWS_ONLY, MemoryConfig, Program
from amzc.tasks.taskset import TaskSet

from . import codegen
from .codegen import P
from .encode import pack_program
from .fec_table import FULL, NativeFecCache
from .irtext import program_ir
from .jit import Kernel, KernelCache, default_jit
from .layout import Shape
from .population import MAX_POPULATION, NativePopulation
from .runtime import Call

__all__ = ["LlvmBackend", "CostModel", "Shape", "program_ir"]

Mode = Literal["auto", "interpret", "compile"]
CONTEXTS = 16  # (task set, memory, options) combinations kept ready; each holds its data
FULL_AFTER = 2  # an interpreter grown this many times is rebuilt with every op
HOT_OBJECTS = 64
TIME_EVERY = 64  # interpreted evaluations per timed one (the rest are estimated from work)
CALIBRATION_STEP = 4.0  # one timed evaluation counts as at most 4x (or 1/4) the estimate
SMALL_INTERPRETER_OPS = 24  # an interpreter for up to this many ops builds in ~2 compiles
_COUNTS = struct.Struct("<iii")


SPENT_SLOTS = 1 << 16


def spent_slot(code: bytes) -> int:
    """The cost model's table slot of a packed program."""
    return hash(code) & (SPENT_SLOTS - 1)


@dataclass
class CostModel:
    """When to compile, from measured times (ski-rental rules: each choice costs at most
    about twice the better one in hindsight).

    - A program is compiled once the time spent interpreting it exceeds the expected compile
      time, or at once when one interpreted evaluation is predicted to take longer than a
      compile.
    - Without an interpreter for the Shape, one is built for the program's ops, unless they
      are many (an interpreter with every op costs about ten compiles): then the first
      program is compiled, and a second distinct one, or compile time adding up to an
      interpreter build, means a stream of programs (a search) and builds the interpreter."""

    compile_ms: float = 50.0  # running estimate of one program's compile time
    interpreter_ms: float = 150.0  # running estimate of building one interpreter
    interpret_ns: float = 6.0  # interpreter ns per executed instruction per lane group
    history: int = 50_000  # interpreted evaluations after which all totals are forgotten
    calls: int = 0  # interpreted evaluations so far
    # time spent interpreting each program (µs), in a fixed table indexed by the packed
    # program's hash: a dict of per-program totals churned small objects that fragmented the
    # allocator's arenas (RSS +80 MB over 10⁶ search programs). Programs sharing a slot add
    # up, which can only bring a compile forward; the table is cleared every `history`
    # observations, so a slot sums at most that many evaluations.
    spent_us: np.ndarray = field(default_factory=lambda: np.zeros(SPENT_SLOTS))
    _observed: int = 0

    def observe_compile(self, ms: float) -> None:
        self.compile_ms += 0.2 * (ms - self.compile_ms)

    def calibrate(self, us: float, work: float) -> None:
        """A measured interpreted evaluation (one in TIME_EVERY is timed). One measurement
        moves the estimate by at most a factor of CALIBRATION_STEP: an outlier (a page-fault
        storm, a pause) would otherwise set it so high that every program is compiled, and
        then no interpreted evaluation is left to bring it back."""
        if work > 0:
            ns = min(max(1e3 * us / work, self.interpret_ns / CALIBRATION_STEP),
                     self.interpret_ns * CALIBRATION_STEP)
            self.interpret_ns += 0.1 * (ns - self.interpret_ns)

    def observe_interpret(self, code: bytes, us: float) -> float:
        """Add an interpreted evaluation's (estimated) time to the program's total (µs)."""
        self._observed += 1
        if self._observed > self.history:
            self._observed = 1
            self.spent_us.fill(0.0)  # forget everything at once: cheaper than an LRU per call
        slot = spent_slot(code)
        total = float(self.spent_us[slot]) + us
        self.spent_us[slot] = total
        return total

    def should_compile(self, spent_us: float, work: float) -> bool:
        return max(spent_us, self.interpret_ns * work / 1e3) > 1e3 * self.compile_ms


# every option but the seed, which keys only the random streams (see State.context)
_BUT_SEED = attrgetter(*[f.name for f in fields(EvalOptions) if f.name != "seed"])


class _Context:
    """Everything fixed for one (task set, memory, options): the Shape, the parameter block,
    and what one interpreted evaluation costs."""

    def __init__(self, shape: Shape, tasks: TaskSet, options: EvalOptions, key: int) -> None:
        self.shape = shape
        self.key = key  # small int standing for the Shape in cache keys
        self.call = Call(shape, tasks, options)
        self.interpreter: _Interpreter | None = None  # the Shape's, once looked up
        self.groups = self.call.data.groups
        self.epochs = max(1, -(-self.call.total_steps // max(tasks.num_train, 1)))

    def work(self, code: bytes) -> float:
        """Instructions × lane groups one interpreted evaluation executes (at most)."""
        n_setup, n_predict, n_learn = _COUNTS.unpack_from(code)
        steps = self.call.total_steps * (n_predict + n_learn)
        steps += self.epochs * self.call.valid_steps * n_predict
        return float(self.groups * (n_setup + steps + 1))


@dataclass
class _Interpreter:
    kernel: Kernel
    ops: frozenset[Op]
    builds: int


# Interpreters depend on nothing but their Shape and op set: shared by the whole process.
_INTERPRETERS: dict[Shape, _Interpreter] = {}
_UNSUPPORTED = P["unsupported"]
_INVALID = P["invalid"]


def check_program(program: Program, shape: Shape) -> None:
    """Raise an AmzError if an address lies outside the memory or an index outside F:
    generated code must never write outside its memory."""
    from amzc.check import check

    memory = MemoryConfig(shape.scalars, shape.vectors, shape.matrices)
    check(program, memory, shape.features)  # located messages for too large ones
    for component, ins in program.instructions():
        out = 0 if ins.out == DRAWS_ONLY and ins.op.fill is not None else ins.out
        if min((*ins.inputs, *ins.index, out), default=0) < 0:
            raise AmzConfigError(f"a negative address or index, outside the memory, in "
                                 f"{component}: {ins}")


class LlvmBackend:
    """``run(program, tasks, memory, options, record=False) -> RunOutput`` as
    amzc/backends/numpy.py, plus :meth:`run_many`, and for the search :meth:`task_fitness`,
    :meth:`fingerprints` and its accelerator (:meth:`search_accelerator`).

    ``mode`` forces a tier ("interpret" or "compile"); "auto" lets the cost model choose.
    Instances share the process-wide caches and cost model unless ``shared=False`` (then
    ``kernel_bytes`` bounds their own cache of compiled programs; by default the memory
    budget's "kernels" share, amzc.caches). Not thread-safe."""

    name = "llvm"

    def __init__(self, mode: Mode = "auto", lanes: int | None = None, *, shared: bool = True,
                 kernel_bytes: int | None = None) -> None:
        if mode not in ("auto", "interpret", "compile"):
            raise AmzConfigError(f"unknown mode {mode!r}; choose auto, interpret or compile")
        self.mode = mode
        self.lanes = lanes
        self.state = _STATE if shared else _State(kernel_bytes)

    # public API ----------------------------------------------------------------------------
    def run(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
            options: EvalOptions, record: bool = False) -> RunOutput:
        ctx = self.state.context(tasks, memory, options, self.lanes)
        if record:
            ctx.call.clear_records()
        self._run(ctx, program, record)
        return ctx.call.output(record)

    def run_many(self, programs: Iterable[Program], tasks: TaskSet, memory: MemoryConfig,
                 options: EvalOptions, record: bool = False) -> list[RunOutput]:
        """:meth:`run` for each program, sharing the per-call setup."""
        ctx = self.state.context(tasks, memory, options, self.lanes)
        outputs = []
        for program in programs:
            if record:
                ctx.call.clear_records()
            self._run(ctx, program, record)
            outputs.append(ctx.call.output(record))
        return outputs

    def search_accelerator(self) -> LlvmBackend:
        """This backend: it offers every ability of ``amzc.evaluate.SearchAccelerator``
        (the native FEC table and fingerprint runner, whose runner also holds the native
        child step)."""
        return self

    def expect_ops(self, ops: Iterable[Op]) -> None:
        """Ops the coming programs will use (a search's allowed ops): interpreters built from
        now on include them, rather than growing op by op (each growth is a rebuild)."""
        self.state.expected_ops |= frozenset(ops)

    def fingerprints(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
                     options: EvalOptions) -> list[int]:
        """``amzc.fec.fingerprints`` of a recorded run, hashed natively while it runs,
        without building a RunOutput: the search's fingerprint run."""
        ctx = self.state.context(tasks, memory, options, self.lanes)
        interpreter, call = ctx.interpreter, ctx.call
        if interpreter is None or self.mode == "compile":
            self._run(ctx, program, True)
            return call.record_hashes()
        # The search's hot path. A fingerprint run is short and each program has one (the
        # search memoizes them by live code), so it is interpreted without the cost model's
        # bookkeeping; any tier gives the same hashes. An op the interpreter lacks, or a bad
        # address, takes the general path, which grows the interpreter or raises.
        code = pack_program(program)
        call.execute(interpreter.kernel, code, True)
        params = call.params
        if params[_UNSUPPORTED] or params[_INVALID]:
            return self._record_again(ctx, code, program)
        return call.record_hashes()

    def _record_again(self, ctx: _Context, code: bytes, program: Program) -> list[int]:
        """After a recorded run of the context's interpreter alone that met an op it lacks
        or a bad address: the general path (which grows the interpreter or raises), and its
        fingerprints."""
        params = ctx.call.params
        params[_UNSUPPORTED] = params[_INVALID] = 0
        self._execute(ctx, code, program, True)
        return ctx.call.record_hashes()

    def fec_cache(self, cache_size: int, forget_every: int,
                  like: object | None = None, average: bool | None = None) -> NativeFecCache:
        """An FEC cache whose lookups can run in the fingerprint's native call
        (:meth:`fec_runner`); with ``like`` (a FecCache's pickled form, e.g. from a
        checkpoint), a copy of its entries, order and counters."""
        if like is None:
            return NativeFecCache(cache_size, forget_every, bool(average))
        return NativeFecCache.from_items(cache_size, forget_every, like.hits, like.misses,
                                         like.items(),
                                         like.average if average is None else average)

    def fec_runner(self, tasks: TaskSet, memory: MemoryConfig, options: EvalOptions,
                   cache: object, full: tuple[TaskSet, EvalOptions] | None = None
                   ) -> FecRunner | None:
        """The fingerprint run on ``tasks`` and ``cache.lookup_tasks`` of its hashes in one
        native call, bound to this task set and cache (:class:`FecRunner`); with ``full``
        (the whole task set and its options), the misses of a program without random fills
        are evaluated and inserted in that call too. None for a cache that is not this
        backend's."""
        if not isinstance(cache, NativeFecCache):
            return None
        full_ctx = None
        if full is not None:
            full_ctx = self.state.context(full[0], memory, full[1], self.lanes)
        return FecRunner(self, self.state.context(tasks, memory, options, self.lanes), cache,
                         full_ctx)

    def task_fitness(self, program: Program, tasks: TaskSet, memory: MemoryConfig,
                     options: EvalOptions) -> list[float]:
        """``run(...).fitness`` as a list, without building a RunOutput."""
        ctx = self.state.context(tasks, memory, options, self.lanes)
        self._run(ctx, program, False)
        return ctx.call.fitness_view.tolist()

    # tiers ---------------------------------------------------------------------------------
    def _run(self, ctx: _Context, program: Program, record: bool) -> None:
        state = self.state
        hot = state.hot.get(id(program))
        if hot is not None:
            if hot[0] is ctx:
                kernel = hot[1]()  # the same program object, compiled, unless since evicted
                if kernel is not None:
                    ctx.call.execute(kernel, None, record)
                    return
            code = hot[2]
        else:
            # the search runs a candidate on the FEC examples, then on every task: the
            # same object twice in a row, so its packing is kept for a little while
            code = pack_program(program)
            state.hot.put_object(program, (None, _dead, code))
        self._execute(ctx, code, program, record)

    def _execute(self, ctx: _Context, code: bytes, program: Program, record: bool) -> None:
        """Run one program on the context's task set; results stay in ``ctx.call``."""
        state, call = self.state, ctx.call
        if ctx.key in state.compiled_shapes:
            kernel = state.compiled.get((ctx.key, code))
            if kernel is not None:
                state.remember(program, ctx, kernel, code)
                call.execute(kernel, None, record)
                return
        mode, cost = self.mode, state.cost
        interpreter = ctx.interpreter or _INTERPRETERS.get(ctx.shape)
        work = ctx.work(code) if mode == "auto" else 0.0
        if mode == "compile" or (mode == "auto" and (
                state.compile_before_interpreter(ctx.shape, program) if interpreter is None
                else cost.should_compile(0.0, work))):
            call.execute(state.compile_program(ctx, program, code), None, record)
            return
        if interpreter is None:
            interpreter = state.interpreter(ctx.shape, program)
        ctx.interpreter = interpreter
        cost.calls += 1
        timed = mode == "auto" and not cost.calls % TIME_EVERY
        # CPU time of this thread: a timed call that the scheduler paused (a busy machine)
        # must not read as a slow interpreter
        start = time.thread_time_ns() if timed else 0
        call.execute(interpreter.kernel, code, record)
        while call.params[_UNSUPPORTED]:  # an op the interpreter was not built with
            call.params[_UNSUPPORTED] = 0
            newer = _INTERPRETERS.get(ctx.shape)  # grown meanwhile for another context?
            if newer is None or newer is interpreter:
                newer = state.interpreter(ctx.shape, program, grow=interpreter)
            interpreter = ctx.interpreter = newer
            timed = False
            if record:  # the aborted run may have recorded errors
                call.clear_records()
            call.execute(interpreter.kernel, code, record)
        if call.params[_INVALID]:
            call.params[_INVALID] = 0
            check_program(program, ctx.shape)  # names what is wrong
            raise AmzConfigError("the program addresses memory beyond its configuration")
        if mode == "auto":
            if timed:
                cost.calibrate((time.thread_time_ns() - start) / 1e3, work)
            spent = cost.observe_interpret(code, cost.interpret_ns * work / 1e3)
            if cost.should_compile(spent, work):
                state.compile_program(ctx, program, code)


def _dead() -> None:
    return None


class _State:
    """Caches of one backend (or of the process): compiled programs, call contexts, and the
    cost model's measurements."""

    def __init__(self, kernel_bytes: int | None = None) -> None:
        self.kernel_bytes = kernel_bytes  # None: the budget's share, resized with it
        _STATES.add(self)
        self.compiled = KernelCache(kernel_bytes or caches.share_bytes("kernels"))
        self.contexts: OrderedDict[tuple, _Context] = OrderedDict()
        self.shape_keys: dict[Shape, int] = {}
        self.cost = CostModel()
        self.compile_ms_spent: dict[Shape, float] = {}
        self.programs_compiled: dict[Shape, int] = {}
        self.compiled_shapes: set[int] = set()  # context keys with compiled kernels
        self._last: tuple | None = None
        self.expected_ops: frozenset[Op] = frozenset()  # LlvmBackend.expect_ops
        # recent programs by object identity: (context, compiled kernel, packed program), so
        # repeat calls skip packing, and compiled ones the cache lookup too; the kernel is
        # held weakly, so only the kernel cache decides how long machine code lives
        self.hot: BoundedCache[tuple[_Context | None, Callable[[], Kernel | None], bytes]] = (
            BoundedCache(HOT_OBJECTS))

    def compile_before_interpreter(self, shape: Shape, program: Program) -> bool:
        """No interpreter for the Shape yet. One built for a few ops costs about what one
        program's compile does (measured: ~1.5x), and serves every later program: build it.
        A program with many distinct ops (an expensive interpreter) is compiled instead, as
        long as it is the first of its Shape; a second one means a search: interpreter."""
        if len({ins.op for _, ins in program.instructions()}) <= SMALL_INTERPRETER_OPS:
            return False
        return (self.programs_compiled.get(shape, 0) == 0
                and self.compile_ms_spent.get(shape, 0.0) < self.cost.interpreter_ms)

    def remember(self, program: Program, ctx: _Context, kernel: Kernel, code: bytes) -> None:
        self.hot.put_object(program, (ctx, weakref.ref(kernel), code))

    def context(self, tasks: TaskSet, memory: MemoryConfig, options: EvalOptions,
                lanes: int | None) -> _Context:
        last = self._last
        if (last is not None and last[0] is tasks and last[3] == lanes
                and (last[2] is options or last[2] == options)
                and (last[1] is memory or last[1] == memory)):
            return last[4]
        # The seed keys only the random streams: a search that evaluates each child with
        # random fills under a seed of its own shares one context (and its buffers) across
        # seeds, and each call sets the seed's key in its parameter block.
        key = (tasks, memory, _BUT_SEED(options), lanes)
        ctx = self.contexts.get(key)
        if ctx is None:
            shape = Shape.of(memory, tasks, lanes)
            shape_key = self.shape_keys.setdefault(shape, len(self.shape_keys))
            ctx = self.contexts[key] = _Context(shape, tasks, options, shape_key)
            if len(self.contexts) > CONTEXTS:
                self.contexts.popitem(last=False)
        ctx.call.use_seed(options.seed)
        self._last = (tasks, memory, options, lanes, ctx)
        return ctx

    def interpreter(self, shape: Shape, program: Program,
                    grow: _Interpreter | None = None) -> _Interpreter:
        """The Shape's interpreter, built for the ops of ``program``, the expected ones (and
        those of the one it grows from); after FULL_AFTER growths, for every op."""
        ops = frozenset(ins.op for _, ins in program.instructions()) | self.expected_ops
        builds = 1
        if grow is not None:
            ops |= grow.ops
            builds = grow.builds + 1
            if builds > FULL_AFTER:
                ops = frozenset(OPS)
        kernel = default_jit().compile(codegen.interpreter_module(shape, ops))
        self.cost.interpreter_ms = kernel.compile_ms
        interpreter = _INTERPRETERS[shape] = _Interpreter(kernel, ops, builds)
        return interpreter

    def compile_program(self, ctx: _Context, program: Program, code: bytes) -> Kernel:
        shape = ctx.shape
        check_program(program, shape)
        kernel = default_jit().compile_program(program, shape)
        self.cost.observe_compile(kernel.compile_ms)
        self.compile_ms_spent[shape] = self.compile_ms_spent.get(shape, 0.0) + kernel.compile_ms
        self.programs_compiled[shape] = self.programs_compiled.get(shape, 0) + 1
        self.compiled.put((ctx.key, code), kernel)
        self.compiled_shapes.add(ctx.key)
        self.remember(program, ctx, kernel, code)
        return kernel


_STATES: weakref.WeakSet[_State] = weakref.WeakSet()
_STATE = _State()


def _forget_ops() -> None:
    """After a change of the op table (amzc.ops.register) an op id may name another op, and
    interpreters, kernels and expected ops may hold one no longer in the table: start afresh."""
    _INTERPRETERS.clear()
    for state in list(_STATES):
        state.__init__(state.kernel_bytes)


op_table.on_change(_forget_ops)


@caches.on_budget
def _size() -> None:
    for state in list(_STATES):
        if state.kernel_bytes is None:
            state.compiled.resize(caches.share_bytes("kernels"))


class FecRunner:
    """``runner(program)`` → (fingerprints, per-task fitness with None for a miss, the
    misses, whether the misses were evaluated): the fingerprint run and the cache's lookups
    in one native call (amzc/backends/llvm/fec_table.py ``amz_fec_run``), and with a full
    context the full evaluation of the misses (then inserted, their fitness in the list) when
    the program has no random fill and the cost model would interpret it. Bound to its
    contexts and cache, so a call does no lookup of either; None when it cannot run here (no
    interpreter built yet, or compiled mode): the caller takes the general path, which
    builds one.

    :meth:`population` gives the native child step: the same call, then the child's fitness
    put into the population and the next tournament (amzc/backends/llvm/population.py).
    """

    __slots__ = ("backend", "ctx", "cache", "full", "_interpreter", "_generation", "_block",
                 "address", "_run", "_fitness", "_missing", "_population")

    def __init__(self, backend: LlvmBackend, ctx: _Context, cache: NativeFecCache,
                 full: _Context | None = None) -> None:
        self.backend, self.ctx, self.cache, self.full = backend, ctx, cache, full
        self._interpreter: _Interpreter | None = None
        self._generation = -1
        # the block is kept here: it holds the addresses of the interpreter's kernel and of
        # the Calls, which this runner keeps. Its address is read by every native call (the
        # child step's too)
        self._block: np.ndarray | None = None
        self.address = 0
        self._run = cache.library.run
        self._fitness, self._missing = cache.results_views(ctx.call.num_tasks)
        self._population: NativePopulation | None = None

    def ready(self) -> bool:
        """Whether the native call can run now; makes its block when the interpreter or the
        cache's buffers changed."""
        ctx, cache = self.ctx, self.cache
        interpreter = ctx.interpreter
        if interpreter is not self._interpreter or cache.generation != self._generation:
            if interpreter is None or self.backend.mode == "compile":
                return False
            self._block = cache.block(interpreter.kernel, ctx.call, self._full_args())
            self.address = self._block.ctypes.data
            self._interpreter, self._generation = interpreter, cache.generation
            self._fitness, self._missing = cache.results_views(ctx.call.num_tasks)
        return True

    def __call__(self, program: Program) -> tuple[list[int], list[float | None], list[int],
                                                  bool] | None:
        if not self.ready():
            return None
        code = pack_program(program)
        return self.outcome(self._run(self.address, code), program, code)

    def outcome(self, misses: int, program: Program, code: bytes | None = None
                ) -> tuple[list[int], list[float | None], list[int], bool]:
        """:meth:`__call__`'s result from the native run's (``amz_fec_run``'s) result."""
        call, cache = self.ctx.call, self.cache
        if misses < 0:  # an op the interpreter lacks, or a bad address: the general path
            if code is None:
                code = pack_program(program)
            prints = self.backend._record_again(self.ctx, code, program)
            return (prints, *cache.lookup_tasks(prints), False)
        if not misses:
            return call.hashes_view.tolist(), self._fitness.tolist(), [], False
        if misses > FULL:  # evaluated and inserted: the fitness of every task is there
            return (call.hashes_view.tolist(), self._fitness.tolist(),
                    self._missing[:misses - FULL].tolist(), True)
        return (call.hashes_view.tolist(), *cache.results(call.num_tasks, misses), False)

    def population(self, fitness: array, programs: list[Program], tournament_size: int,
                   finish: Callable[[Program, int, int], float]) -> NativePopulation | None:
        """The native side of a full population whose fitness is ``fitness`` (written in
        place) and whose programs are ``programs``, for the native child step (``finish``
        finishes a child it left unfinished); None when the native call cannot run now or
        the population is too large for its result word."""
        if not self.ready() or len(fitness) > MAX_POPULATION:
            return None
        pop = self._population
        if pop is None or not pop.valid_for(fitness, programs, tournament_size):
            pop = self._population = NativePopulation(fitness, programs, tournament_size,
                                                      self.cache.library, self, finish)
        return pop

    def _full_args(self) -> tuple[Call, int, int, int] | None:
        """The full evaluation's part of the block; its work limit is the cost model's
        one-shot rule now (a program predicted to take longer interpreted than compiled goes
        the general way)."""
        full = self.full
        if full is None:
            return None
        cost = self.backend.state.cost
        limit = (2**62 if self.backend.mode == "interpret"
                 else int(1e6 * cost.compile_ms / max(cost.interpret_ns, 1e-3)))
        return full.call, full.groups, full.epochs, limit

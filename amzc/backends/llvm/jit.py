"""JIT management: one target machine for optimization and code generation, the new pass
manager, MCJIT engines with a bounded lifetime, and a cache of compiled kernels.

Memory over long runs (docs/llvm.md, "Memory"):

- Each compiled program gets its own MCJIT engine, owned by its :class:`Kernel`; when the
  kernel cache evicts a kernel and nobody else holds it, the engine and its machine code are
  freed. (MCJIT takes ownership of the target machine it is given, so each engine gets its
  own copy, ~0.1 ms; optimization and code generation share one long-lived machine.)
- Running llvmlite's new-pass-manager pipeline leaks about 0.4 MB per run (its
  ``LLVMPY_RunNewModulePassManager`` registers instrumentation callbacks into the pass
  builder's callback list, which is never freed). So programs are optimized and turned into
  object code by a *compile worker*, a child process recycled every
  :data:`~amzc.backends.llvm.worker.RECYCLE_AFTER` compiles, and this process only loads the
  object code into an engine, which frees cleanly. The first :data:`IN_PROCESS_COMPILES`
  compiles of a process (e.g. ``amzc run``) skip the worker's start-up and run here.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

import llvmlite.binding as llvm
from llvmlite import ir

from amzc.ops import BUILT_IN
from amzc.resources import resident_bytes as _rss
from amzc.syntax import Program

from .codegen import COMPONENT_FUNCTIONS, ENTRY, components_module, driver_module
from .layout import Shape

OPT_LEVEL = 3  # interpreters: built once per Shape
PROGRAM_OPT_LEVEL = 2  # compiled programs: measured as fast as O3's code, ~10 % quicker to build
# A loaded kernel's memory, measured against its object code: 1-2.4x its size (sections are
# page-aligned; the engine and its target machine add ~10 KB): Figure 5's programs, 260-480 KB
# of object code, took 250-890 KB each; the demo's, ~10 KB, 13 KB.
KERNEL_BYTES_PER_OBJECT_BYTE = 2
KERNEL_BYTES = 16 << 10
IN_PROCESS_COMPILES = 32  # bounded leak (~0.4 MB each), no worker start-up for one-off runs
# ... and while they have grown this process by less than this: a Figure 5 program (8x8
# matrices over 4 lanes, 260-480 KB of object code) grew it by ~60 MB per compile, which
# stays (the pass manager's leak and the allocator's high-water mark)
IN_PROCESS_GROWTH = 16 << 20

log = logging.getLogger("amzc.llvm")
RunFn = Callable[[int, bytes | None], None]
T = TypeVar("T")
_SIGNATURE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


class Kernel:
    """A compiled ``amz_run``; keeps its engine (and so its machine code) alive. ``nbytes``
    estimates the memory it holds (0 when unknown)."""

    def __init__(self, engine: llvm.ExecutionEngine, address: int, compile_ms: float,
                 nbytes: int = 0) -> None:
        self._engine = engine
        self.address = address
        self.run: RunFn = _SIGNATURE(address)
        self.compile_ms = compile_ms
        self.nbytes = nbytes


class Jit:
    def __init__(self) -> None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.target = llvm.Target.from_default_triple()
        self.cpu = llvm.get_host_cpu_name()
        self.features = llvm.get_host_cpu_features().flatten()
        self.machine = self._machine()
        self.triple = llvm.get_process_triple()
        self.data_layout = str(self.machine.target_data)
        self.compiled = 0  # programs compiled for this process, here or by the worker
        self.optimized_here = 0  # pass-manager runs in this process (each leaks, see above)
        self.grown_here = 0  # bytes of RSS that program compiles in this process added
        self._drivers: dict[Shape, llvm.ModuleRef] = {}
        self._worker = None
        self._worker_failed = False

    def _machine(self) -> llvm.TargetMachine:
        # No fast-math, no FP contraction: LLVM's default (fp-contract=on) fuses only what the
        # IR marks contractable, and amzc never does (lowering.py).
        return self.target.create_target_machine(cpu=self.cpu, features=self.features,
                                                 opt=OPT_LEVEL, codemodel="jitdefault")

    # building and optimizing -------------------------------------------------------------
    def parse(self, module: ir.Module) -> llvm.ModuleRef:
        module.triple = self.triple
        module.data_layout = self.data_layout
        ref = llvm.parse_assembly(str(module))
        ref.verify()
        return ref

    def optimize(self, ref: llvm.ModuleRef, level: int = OPT_LEVEL) -> None:
        """LLVM's default pipeline at ``level``. A fresh pass builder each time: llvmlite
        leaves the callbacks of each run registered in its pass builder, pointing at freed
        objects."""
        tuning = llvm.create_pipeline_tuning_options(speed_level=level)
        passes = llvm.create_pass_builder(self.machine, tuning)
        passes.getModulePassManager().run(ref, passes)
        self.optimized_here += 1

    def assembly(self, ref: llvm.ModuleRef) -> str:
        return self.machine.emit_assembly(ref)

    def program(self, program: Program, shape: Shape, names: bool = False) -> llvm.ModuleRef:
        """The driver of ``shape`` linked with the program's components, unoptimized (with
        ``names``, its values named for a reader: codegen.py components_module)."""
        template = self._drivers.get(shape)
        if template is None:
            template = self._drivers[shape] = self.parse(driver_module(shape))
        ref = template.clone()
        ref.name = program.name or "amz_program"
        ref.link_in(self.parse(components_module(program, shape, names=names)))
        for name in COMPONENT_FUNCTIONS:  # private to the module, so inlined and dropped
            ref.get_function(name).linkage = llvm.Linkage.internal
        return ref

    def object_code(self, program: Program, shape: Shape) -> bytes:
        """The program's optimized machine code as an object file (what the worker does)."""
        ref = self.program(program, shape)
        self.optimize(ref, PROGRAM_OPT_LEVEL)
        return self.machine.emit_object(ref)

    # loading -------------------------------------------------------------------------------
    def compile(self, module: ir.Module | llvm.ModuleRef) -> Kernel:
        """Optimize and load a module here (interpreters, which are built once per Shape)."""
        start = time.perf_counter()
        ref = self.parse(module) if isinstance(module, ir.Module) else module
        self.optimize(ref)
        engine = llvm.create_mcjit_compiler(ref, self._machine())
        engine.finalize_object()
        address = engine.get_function_address(ENTRY)
        return Kernel(engine, address, (time.perf_counter() - start) * 1e3)

    def library(self, module: ir.Module, names: list[str]) -> tuple[llvm.ExecutionEngine,
                                                                    dict[str, int]]:
        """Optimize and load a module of several entry points (the FEC table's): its engine,
        which must outlive their use, and each function's address."""
        ref = self.parse(module)
        self.optimize(ref)
        engine = llvm.create_mcjit_compiler(ref, self._machine())
        engine.finalize_object()
        return engine, {name: engine.get_function_address(name) for name in names}

    def load(self, obj: bytes, compile_ms: float) -> Kernel:
        """A kernel from object code: no optimizer run in this process."""
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), self._machine())
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        return Kernel(engine, engine.get_function_address(ENTRY), compile_ms,
                      KERNEL_BYTES_PER_OBJECT_BYTE * len(obj) + KERNEL_BYTES)

    def compile_program(self, program: Program, shape: Shape) -> Kernel:
        """The program's kernel: compiled here for the first few, then by the worker."""
        start = time.perf_counter()
        obj = None
        # the worker, a fresh process, knows only the ops the table has on import
        here = self.compiled < IN_PROCESS_COMPILES and self.grown_here < IN_PROCESS_GROWTH
        if not here and not self._worker_failed and all(
                ins.op.id < BUILT_IN for _, ins in program.instructions()):
            try:
                obj = self.worker().object_code(program, shape)
            except (OSError, EOFError, RuntimeError) as e:  # no child processes here: go on
                log.warning("LLVM compile worker unavailable (%s); compiling in process", e)
                self._worker_failed = True
        if obj is None:
            before = _rss()  # 0 without /proc: then only IN_PROCESS_COMPILES bounds them
            obj = self.object_code(program, shape)
            self.grown_here += max(0, _rss() - before)
        self.compiled += 1
        return self.load(obj, (time.perf_counter() - start) * 1e3)

    def worker(self):  # -> CompileWorker; imported late: the worker imports this module
        if self._worker is not None and self._worker.owner != os.getpid():
            self._worker = None  # forked: the parent's worker is not ours to use
        if self._worker is None:
            from .worker import CompileWorker

            self._worker = CompileWorker()
        return self._worker


def process_wide(make: Callable[[], T]) -> Callable[[], T]:
    """``make()`` done once per process, on first use, under a lock (backends in threads may
    ask at the same time)."""
    made: list[T] = []
    lock = threading.Lock()

    def get() -> T:
        with lock:
            if not made:
                made.append(make())
            return made[0]

    get.__doc__ = make.__doc__
    return get


@process_wide
def default_jit() -> Jit:
    """The process's JIT (one target machine, one compile worker)."""
    return Jit()


class KernelCache:
    """Least-recently-used compiled kernels, at most ``max_bytes`` of them (by their
    ``nbytes``); an evicted kernel frees its engine once unused. The newest kernel stays even
    if it alone is larger."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.kernels: OrderedDict[Hashable, Kernel] = OrderedDict()

    def get(self, key: Hashable) -> Kernel | None:
        kernel = self.kernels.get(key)
        if kernel is not None:
            self.kernels.move_to_end(key)
        return kernel

    def put(self, key: Hashable, kernel: Kernel) -> None:
        old = self.kernels.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        self.kernels[key] = kernel
        self.nbytes += kernel.nbytes
        self.shrink()

    def resize(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.shrink()

    def shrink(self) -> None:
        while self.nbytes > self.max_bytes and len(self.kernels) > 1:
            self.nbytes -= self.kernels.popitem(last=False)[1].nbytes

    def __len__(self) -> int:
        return len(self.kernels)

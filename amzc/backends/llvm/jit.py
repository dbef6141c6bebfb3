"""JIT management: one optimizing target machine, the new pass manager, MCJIT engines with a
bounded lifetime, and a cache of compiled kernels keyed by what they were compiled from.

MCJIT takes ownership of the target machine it is created with, so each engine gets its own
(cheap, ~0.1 ms) copy; the optimizer pipeline and assembly printing share one long-lived target
machine. Each compiled module gets its own engine, owned by its :class:`Kernel`: when the
kernel cache evicts a kernel and nobody else holds it, the engine and its machine code are
freed, so memory stays bounded over millions of compilations (docs/llvm.md, "Memory")."""

from __future__ import annotations

import ctypes
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import llvmlite.binding as llvm
from llvmlite import ir

from amzc.syntax import Program

from .codegen import COMPONENT_FUNCTIONS, ENTRY, components_module, driver_module
from .layout import Shape

OPT_LEVEL = 3
KERNEL_CACHE_SIZE = 256

RunFn = Callable[[int, bytes | None], None]
_SIGNATURE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


class Kernel:
    """A compiled ``amz_run``; keeps its engine (and so its machine code) alive."""

    def __init__(self, engine: llvm.ExecutionEngine, address: int, compile_ms: float) -> None:
        self._engine = engine
        self.address = address
        self.run: RunFn = _SIGNATURE(address)
        self.compile_ms = compile_ms


class Jit:
    def __init__(self) -> None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.target = llvm.Target.from_default_triple()
        self.cpu = llvm.get_host_cpu_name()
        self.features = llvm.get_host_cpu_features().flatten()
        self.machine = self._machine()
        self.tuning = llvm.create_pipeline_tuning_options(speed_level=OPT_LEVEL)
        self.passes = llvm.create_pass_builder(self.machine, self.tuning)
        self.triple = llvm.get_process_triple()
        self.data_layout = str(self.machine.target_data)
        self.compiled = 0
        self._drivers: dict[Shape, llvm.ModuleRef] = {}

    def _machine(self) -> llvm.TargetMachine:
        # No fast-math, no FP contraction: LLVM's default (fp-contract=on) fuses only what the
        # IR marks contractable, and amzc never does (lowering.py).
        return self.target.create_target_machine(cpu=self.cpu, features=self.features,
                                                 opt=OPT_LEVEL, codemodel="jitdefault")

    def parse(self, module: ir.Module) -> llvm.ModuleRef:
        module.triple = self.triple
        module.data_layout = self.data_layout
        ref = llvm.parse_assembly(str(module))
        ref.verify()
        return ref

    def optimize(self, ref: llvm.ModuleRef) -> None:
        self.passes.getModulePassManager().run(ref, self.passes)

    def assembly(self, ref: llvm.ModuleRef) -> str:
        return self.machine.emit_assembly(ref)

    def program(self, program: Program, shape: Shape) -> llvm.ModuleRef:
        """The driver of ``shape`` linked with the program's components, unoptimized."""
        template = self._drivers.get(shape)
        if template is None:
            template = self._drivers[shape] = self.parse(driver_module(shape))
        ref = template.clone()
        ref.name = program.name or "amz_program"
        ref.link_in(self.parse(components_module(program, shape)))
        for name in COMPONENT_FUNCTIONS:  # private to the module, so inlined and dropped
            ref.get_function(name).linkage = llvm.Linkage.internal
        return ref

    def compile(self, module: ir.Module | llvm.ModuleRef) -> Kernel:
        """Optimize and load a module; its ``amz_run`` as a :class:`Kernel`."""
        start = time.perf_counter()
        ref = self.parse(module) if isinstance(module, ir.Module) else module
        self.optimize(ref)
        engine = llvm.create_mcjit_compiler(ref, self._machine())
        engine.finalize_object()
        address = engine.get_function_address(ENTRY)
        self.compiled += 1
        return Kernel(engine, address, (time.perf_counter() - start) * 1e3)

    def compile_program(self, program: Program, shape: Shape) -> Kernel:
        start = time.perf_counter()
        kernel = self.compile(self.program(program, shape))
        kernel.compile_ms = (time.perf_counter() - start) * 1e3
        return kernel


_JIT: Jit | None = None
_LOCK = threading.Lock()


def default_jit() -> Jit:
    global _JIT
    with _LOCK:
        if _JIT is None:
            _JIT = Jit()
        return _JIT


class KernelCache:
    """Least-recently-used compiled kernels; an evicted kernel frees its engine once unused."""

    def __init__(self, size: int = KERNEL_CACHE_SIZE) -> None:
        self.size = size
        self.kernels: OrderedDict[Hashable, Kernel] = OrderedDict()

    def get(self, key: Hashable) -> Kernel | None:
        kernel = self.kernels.get(key)
        if kernel is not None:
            self.kernels.move_to_end(key)
        return kernel

    def put(self, key: Hashable, kernel: Kernel) -> None:
        self.kernels[key] = kernel
        self.kernels.move_to_end(key)
        while len(self.kernels) > self.size:
            self.kernels.popitem(last=False)

    def __len__(self) -> int:
        return len(self.kernels)

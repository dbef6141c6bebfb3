"""The backends' registry: a backend by name, and ``evaluate`` (one program on a task set).

Backends are imported lazily, so that NumPy-only use never loads LLVM."""

from __future__ import annotations

from amzc.errors import AmzConfigError
from amzc.evaluate import Backend, EvalOptions, EvalResult, combine
from amzc.syntax import MemoryConfig, Program
from amzc.tasks.taskset import TaskSet

BACKENDS = ("llvm", "numpy")


def get_backend(name: str) -> Backend:
    """A backend by name."""
    if name == "numpy":
        from amzc.backends.numpy import NumpyBackend

        return NumpyBackend()
    if name == "llvm":
        from amzc.backends.llvm import LlvmBackend

        return LlvmBackend()
    raise AmzConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def evaluate(
    program: Program,
    tasks: TaskSet,
    memory: MemoryConfig | None = None,
    *,
    backend: str | Backend = "numpy",
    options: EvalOptions | None = None,
) -> EvalResult:
    """Train and validate ``program`` on every task; the combined and per-task fitness."""
    options = options or EvalOptions()
    memory = memory or MemoryConfig.fitting(program)
    engine = get_backend(backend) if isinstance(backend, str) else backend
    out = engine.run(program, tasks, memory, options)
    return EvalResult(combine(out.fitness, options.combine), out.fitness)

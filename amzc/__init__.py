"""amzc: evolve machine-learning algorithms from basic math operations (AutoML-Zero),
compiled to native code with LLVM."""

from typing import Any

from amzc.backends import evaluate
from amzc.evaluate import EvalOptions, EvalResult
from amzc.parse import parse, parse_file
from amzc.printer import print_program
from amzc.syntax import Instruction, MemoryConfig, Program
from amzc.tasks import TaskSet, TaskSpec, build_tasks

__version__ = "0.1.0"
__all__ = [
    "EvalOptions", "EvalResult", "EvolveResult", "Instruction", "MemoryConfig", "Program",
    "TaskSet", "TaskSpec", "build_tasks", "evaluate", "evolve", "parse", "parse_file",
    "print_program",
]


def __getattr__(name: str) -> Any:
    # the search (worker processes, the run loop) loads only when a search is asked for, so
    # that `import amzc` and the commands that never search stay quick
    if name in ("evolve", "EvolveResult"):
        from amzc import api

        return getattr(api, name)
    raise AttributeError(f"module 'amzc' has no attribute {name!r}")

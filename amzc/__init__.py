"""amzc: evolve machine-learning algorithms from basic math operations (AutoML-Zero),
compiled to native code with LLVM."""

from amzc.backends import evaluate
from amzc.evaluate import EvalOptions, EvalResult
from amzc.parse import parse, parse_file
from amzc.printer import print_program
from amzc.syntax import Instruction, MemoryConfig, Program
from amzc.tasks import TaskSet, TaskSpec, build_tasks

__version__ = "0.1.0"
__all__ = [
    "EvalOptions", "EvalResult", "Instruction", "MemoryConfig", "Program", "TaskSet", "TaskSpec",
    "build_tasks", "evaluate", "parse", "parse_file", "print_program",
]

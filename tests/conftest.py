"""Shared helpers: run one op on hand-made arrays, run a program on a hand-made task set, and
build task sets by hand (so that tests state their data instead of trusting a generator)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions, RunOutput
from amzc.ops import Op
from amzc.parse import parse
from amzc.rng import Streams
from amzc.syntax import Instruction, MemoryConfig, Program
from amzc.tasks.taskset import TaskSet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PROGRAMS = Path(__file__).resolve().parent / "programs"


def load_bench(name: str) -> ModuleType:
    """A script of bench/ (not a package) as a module; registered in sys.modules, where its
    dataclasses look their module up."""
    bench = str(ROOT / "bench")
    if bench not in sys.path:  # as when the script runs: its own folder first, for its helpers
        sys.path.insert(0, bench)
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

# Hypothesis: no per-example deadline (a loaded 2-core machine must not make tests flaky).
settings.register_profile(
    "amzc", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.load_profile("amzc")


def apply_op(op: Op, *inputs, out=None, index=(), data=(), seed: int = 0) -> np.ndarray:
    """Run ``op.numpy`` on a batch of one task and return the result without its task axis.

    ``inputs`` are Python/NumPy values of the op's operand types; ``out`` is the output's old
    value (needed by coordinate writes; zeros of the right shape are used by default)."""
    arrays = tuple(np.asarray(x, dtype=np.float64)[None] for x in inputs)
    f = next((a.shape[1] for a in arrays if a.ndim > 1), 3)
    if out is None:
        shape = {"s": (), "v": (f,), "m": (f, f), None: ()}[op.output]
        out = np.zeros(shape)
    old = np.asarray(out, dtype=np.float64)[None]
    ins = Instruction(op, 0, tuple(range(len(inputs))), tuple(index), tuple(data))
    with np.errstate(all="ignore"):
        result = op.numpy(arrays, old, ins, Streams(np.array([seed], np.uint64)))
    return np.asarray(result)[0]


def make_taskset(
    train_x,
    train_y,
    valid_x,
    valid_y,
    *,
    eval_type: str = "rms",
    orders=None,
    task_ids=None,
) -> TaskSet:
    """A task set from explicit arrays shaped (K, N, F), (K, N), (K, Nv, F), (K, Nv).

    ``orders`` is (K, E, N); by default one epoch in stored order."""
    tx = np.asarray(train_x, dtype=np.float64)
    vx = np.asarray(valid_x, dtype=np.float64)
    k, n, _ = tx.shape
    if orders is None:
        orders = np.broadcast_to(np.arange(n), (k, 1, n)).copy()
    return TaskSet(
        name="hand",
        eval_type=eval_type,  # type: ignore[arg-type]
        train_x=tx,
        train_y=np.asarray(train_y, dtype=np.float64),
        valid_x=vx,
        valid_y=np.asarray(valid_y, dtype=np.float64),
        train_order=np.asarray(orders),
        task_ids=None if task_ids is None else np.asarray(task_ids),
    )


def one_task(train_x, train_y, valid_x, valid_y, **kw) -> TaskSet:
    """A single task from (N, F), (N,), (Nv, F), (Nv,) arrays."""
    return make_taskset(
        np.asarray(train_x, dtype=np.float64)[None],
        np.asarray(train_y, dtype=np.float64)[None],
        np.asarray(valid_x, dtype=np.float64)[None],
        np.asarray(valid_y, dtype=np.float64)[None],
        **kw,
    )


def run_program(
    program: Program | str,
    tasks: TaskSet,
    memory: MemoryConfig | str | None = None,
    record: bool = False,
    **options,
) -> RunOutput:
    """Run a program (or its text) on the NumPy reference backend."""
    if isinstance(program, str):
        program = parse(program)
    if memory is None:
        memory = MemoryConfig.fitting(program)
    elif isinstance(memory, str):
        memory = MemoryConfig.parse(memory)
    return NumpyBackend().run(program, tasks, memory, EvalOptions(**options), record=record)


def setup_memory(setup_text: str, memory: str = "8,8,4", features: int = 3) -> RunOutput:
    """Run instructions as a Setup on a task with one training and one validation example whose
    features and labels are all 0, and an empty Predict and Learn: the final memory is what the
    Setup computed (v0 and s0 end up 0 again, s1 stays as Setup left it)."""
    program = parse("def Setup():\n" + "".join(f"  {line}\n" for line in setup_text.splitlines()))
    zeros = np.zeros((1, features))
    return run_program(program, one_task(zeros, [0.0], zeros, [0.0]), memory)


@pytest.fixture
def tmp_amz(tmp_path):
    """Write a program text to a temporary .amz file and return its path."""

    def write(text: str, name: str = "prog.amz") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write

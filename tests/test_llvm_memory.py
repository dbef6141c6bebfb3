"""Large memories on the LLVM backend: a group's memory stays in a stack array up to
``STACK_MEMORY_BYTES`` and moves to a buffer the caller allocates beyond it, and results an
instruction computes before storing them live in one caller buffer too, so no memory size or
program length can overflow the native stack (a segfault, exit 139, before). Both sides of the
threshold agree with the NumPy backend, in both tiers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT

from amzc.backends.llvm import LlvmBackend
from amzc.backends.llvm.layout import STACK_MEMORY_BYTES, Shape
from amzc.backends.numpy import NumpyBackend
from amzc.errors import AmzConfigError
from amzc.evaluate import EvalOptions
from amzc.parse import parse
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks

LANES = 2
TASKS = build_tasks(TaskSpec("linear", features=4, num_train=12, num_valid=6, num_tasks=3))
# a group's memory: (S + 2·4 + 16) slots × 2 lanes × 8 bytes; this S fills the stack budget
S_AT_LIMIT = STACK_MEMORY_BYTES // (LANES * 8) - 2 * 4 - 16


def boundary_program(last: int) -> str:
    """The README's regressor, with its learning rate and a running sum in the last scalar
    and a matrix product on every step: every region of memory is read and written."""
    return f"""
def Setup():
  s{last} = 0.2
  m0 = uniform(-0.5, 0.5)
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s{last} * s3
  v1 = v1 + v0
  v1 = s3 * v1
  m0 = matmul(m0, m0)
  s2 = mean(m0)
  s{last} = s{last} + s2
"""


def assert_same(a, b) -> None:
    np.testing.assert_array_equal(a.fitness, b.fitness)
    for field in ("scalars", "vectors", "matrices"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize("extra, on_stack", [(0, True), (1, False)],
                         ids=["at the limit", "one slot over"])
def test_both_sides_of_the_stack_limit_agree_with_numpy(extra, on_stack):
    memory = MemoryConfig(S_AT_LIMIT + extra, 2, 1)
    shape = Shape.of(memory, TASKS, LANES)
    assert shape.memory_on_stack is on_stack
    assert shape.memory_bytes == STACK_MEMORY_BYTES + extra * LANES * 8
    program = parse(boundary_program(memory.scalars - 1))
    options = EvalOptions(seed=3)
    expected = NumpyBackend().run(program, TASKS, memory, options)
    assert np.isfinite(expected.scalars).all() and expected.fitness.min() > 0
    for mode in ("interpret", "compile"):
        backend = LlvmBackend(mode=mode, lanes=LANES, shared=False)
        assert_same(backend.run(program, TASKS, memory, options), expected)


@pytest.mark.parametrize("max_abs_error", [25.0, 100.0])
def test_snapshots_of_large_matrices_are_loops_and_exact(max_abs_error):
    """At F = 12 a matrix is 144 slots, which the compiled tier saves and restores at an abort
    in a loop instead of unrolled (50x faster to compile at F = 32): tasks abort at different
    steps and keep the memory they had then, as in NumPy."""
    tasks = build_tasks(TaskSpec("linear", features=12, num_train=20, num_valid=5,
                                 num_tasks=3))
    program = parse("""
def Predict():
  s1 = norm(m1)
def Learn():
  m2 = outer(v0, v0)
  m1 = m1 + m2
  m0 = transpose(m1)
""")
    memory, options = MemoryConfig(4, 3, 3), EvalOptions(max_abs_error=max_abs_error)
    expected = NumpyBackend().run(program, tasks, memory, options)
    assert (expected.fitness == 0).any()  # 25: all abort in training; 100: one in validation
    assert len(set(expected.matrices[:, 1, 0, 0])) == 3
    native = LlvmBackend(mode="compile", lanes=LANES, shared=False)
    assert_same(native.run(program, tasks, memory, options), expected)


def run_json(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "amzc", "run", *args, "--json"],
                            capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    return json.loads(result.stdout)


def test_memory_larger_than_the_stack_runs():
    """The issue's repro: 70,000 scalars in 16 lanes is 9 MB per group, more than a stack."""
    args = [str(EXAMPLES / "linear_regression.amz"), "--memory", "70000,3,1",
            "--train", "20", "--valid", "10"]
    native, reference = run_json(*args), run_json(*args, "--backend", "numpy")
    assert native["per_task"] == pytest.approx(reference["per_task"], rel=1e-12)
    assert min(native["per_task"]) > 0.5


# Twenty matrix products at F = 64 in 16 lanes: each result is 512 KB before it is stored,
# 10 MB if every instruction had its own stack array. Compiled: one function, inlined.
MANY_PRODUCTS = """
import numpy as np
from amzc.backends.llvm import LlvmBackend
from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions
from amzc.parse import parse
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks

tasks = build_tasks(TaskSpec("linear", features=64, num_train=2, num_valid=1, num_tasks=10))
memory = MemoryConfig(4, 2, 2)
text = "def Setup():\\n  m0 = uniform(-0.1, 0.1)\\n  m1 = uniform(-0.1, 0.1)\\ndef Predict():\\n"
text += "  m1 = matmul(m0, m1)\\n  m1 = transpose(m1)\\n" * 10 + "  s1 = mean(m1)\\n"
program = parse(text)
native = LlvmBackend(mode="compile", shared=False).run(program, tasks, memory, EvalOptions())
expected = NumpyBackend().run(program, tasks, memory, EvalOptions())
np.testing.assert_array_equal(native.matrices, expected.matrices)
np.testing.assert_array_equal(native.fitness, expected.fitness)
print("ok")
"""


def test_many_large_results_do_not_overflow_the_stack():
    result = subprocess.run([sys.executable, "-c", MANY_PRODUCTS], capture_output=True,
                            text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.strip() == "ok"


def test_an_allocation_that_fails_is_a_clear_error():
    """A memory the machine cannot hold is refused with a message, never a crash (the CLI
    refuses such sizes earlier, from what the machine has): 2⁵⁰ slots exceed any address
    space."""
    program = parse(boundary_program(3))
    with pytest.raises(AmzConfigError, match=r"not enough memory: the LLVM backend needs "
                                             r"[\d,]+ MiB for 3 tasks with memory "
                                             r"1125899906842624,2,1 at F=4"):
        LlvmBackend(lanes=LANES, shared=False).run(program, TASKS, MemoryConfig(2**50, 2, 1),
                                                   EvalOptions())


def test_seeds_share_one_context_and_each_draws_its_own_streams():
    """A search evaluates programs with random ops under a new seed per child. Each seed
    once made a call context of its own (its buffers allocated anew) and kept its lanes'
    keys (a leak of ~10 MB a minute on Figure 5's setting). Now the seeds share one context
    (the generated code derives each lane's key from the seed's, set per call, and the task
    id), each seed draws its own streams, and a seed used again gives the same results, as
    the NumPy backend does."""
    tasks = build_tasks(TaskSpec("linear", features=4, num_train=9, num_valid=5, num_tasks=2))
    backend = LlvmBackend(shared=False)
    program = parse(boundary_program(5))
    memory = MemoryConfig(6, 2, 1)
    first = backend.run(program, tasks, memory, EvalOptions(seed=1))
    for seed in range(2, 200):
        out = backend.run(program, tasks, memory, EvalOptions(seed=seed))
        if seed % 50 == 0:  # each seed's own streams, though the seeds share one context
            fresh = LlvmBackend(shared=False).run(program, tasks, memory, EvalOptions(seed=seed))
            assert_same(out, fresh)
            assert_same(NumpyBackend().run(program, tasks, memory, EvalOptions(seed=seed)),
                        out)
            assert not np.array_equal(out.fitness, first.fitness)
    assert len(backend.state.contexts) == 1
    assert_same(backend.run(program, tasks, memory, EvalOptions(seed=1)), first)
    assert_same(NumpyBackend().run(program, tasks, memory, EvalOptions(seed=1)), first)

"""amzc.backends.numpy: programs executed by the reference backend — memory layout, aliasing,
random-fill streams, and batching across tasks (docs/language.md, docs/randomness.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import PROGRAMS, make_taskset, one_task, run_program, setup_memory

from amzc.parse import parse_file
from amzc.rng import derive_key, uniform01
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks


def test_run_output_shapes():
    out = setup_memory("s2 = 1.0", memory="5,4,3", features=6)
    assert out.fitness.shape == (1,)
    assert out.scalars.shape == (1, 5)
    assert out.vectors.shape == (1, 4, 6)
    assert out.matrices.shape == (1, 3, 6, 6)


def test_memory_starts_at_zero():
    out = setup_memory("pass")
    assert not out.scalars.any() and not out.vectors.any() and not out.matrices.any()


def test_setup_program_computes_through_memory():
    out = setup_memory("""\
v1[0] = 1.0
v1[1] = 2.0
v1[2] = 3.0
s2 = dot(v1, v1)
m1 = outer(v1, v1)
v2 = dot(m1, v1)
s3 = norm(m1)
m2 = bcast(v1, axis=0)
m3 = bcast(v1, axis=1)
v3 = norm(m2, axis=0)
s4 = 0.0
s5 = 1 / s4
s6 = log(s4)
s7 = s4 / s4""", memory="8,4,4")
    v1 = np.array([1.0, 2.0, 3.0])
    s, v, m = out.scalars[0], out.vectors[0], out.matrices[0]
    assert s[2] == 14.0
    np.testing.assert_array_equal(m[1], np.outer(v1, v1))
    np.testing.assert_array_equal(v[2], np.outer(v1, v1) @ v1)
    assert s[3] == pytest.approx(14.0)
    np.testing.assert_array_equal(m[2], [[1, 1, 1], [2, 2, 2], [3, 3, 3]])
    np.testing.assert_array_equal(m[3], [[1, 2, 3], [1, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(v[3], [math.sqrt(14.0)] * 3)
    assert s[5] == math.inf and s[6] == -math.inf and math.isnan(s[7])


@pytest.mark.parametrize(
    "line, expected",
    [
        # out = an input: the result is computed from the old values, then written
        ("m1 = transpose(m1)", lambda a, v: a.T),
        ("m1 = matmul(m1, m1)", lambda a, v: a @ a),
        ("m1 = matmul(m1, m2)", lambda a, v: a @ np.eye(3)),
        ("m1 = outer(v1, v1)", lambda a, v: np.outer(v, v)),
        ("m1 = bcast(v1, axis=1)", lambda a, v: np.tile(v, (3, 1))),
    ],
)
def test_matrix_ops_writing_their_own_input(line, expected):
    a = np.arange(1.0, 10.0).reshape(3, 3)
    v = np.array([1.0, -2.0, 0.5])
    fill = "".join(f"m1[{i}, {j}] = {a[i, j]}\n" for i in range(3) for j in range(3))
    fill += "".join(f"v1[{i}] = {v[i]}\n" for i in range(3))
    fill += "m2[0, 0] = 1.0\nm2[1, 1] = 1.0\nm2[2, 2] = 1.0\n"
    out = setup_memory(fill + line)
    np.testing.assert_array_equal(out.matrices[0, 1], expected(a, v))


@pytest.mark.parametrize(
    "line, expected",
    [
        ("v1 = dot(m1, v1)", lambda a, v: a @ v),
        ("v1 = s1 * v1", lambda a, v: 2.0 * v),
        ("v1 = v1 * v1", lambda a, v: v * v),
        ("v1 = norm(m1, axis=1)", lambda a, v: np.sqrt((a * a).sum(axis=1))),
        ("v1 = mean(m1, axis=1)", lambda a, v: a.mean(axis=1)),
    ],
)
def test_vector_ops_writing_their_own_input(line, expected):
    a = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0], [4.0, 0.0, 4.0]])
    v = np.array([1.0, 10.0, 100.0])
    fill = "".join(f"m1[{i}, {j}] = {a[i, j]}\n" for i in range(3) for j in range(3))
    fill += "".join(f"v1[{i}] = {v[i]}\n" for i in range(3)) + "s1 = 2.0\n"
    out = setup_memory(fill + line)
    np.testing.assert_allclose(out.vectors[0, 1], expected(a, v), rtol=1e-15)


def test_no_op_does_nothing():
    out = setup_memory("s2 = 3.0\nno_op()\nNoOp()")
    assert out.scalars[0, 2] == 3.0 and out.scalars[0].sum() == 3.0


def test_const_set_keeps_other_coordinates():
    out = setup_memory("v1[0] = 1.0\nv1[2] = 3.0\nm1[2, 0] = 5.0\nm1[0, 2] = 7.0")
    np.testing.assert_array_equal(out.vectors[0, 1], [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(out.matrices[0, 1], [[0, 0, 7], [0, 0, 0], [5, 0, 0]])


def test_v0_and_s0_are_overwritten_by_the_harness():
    out = setup_memory("v0[0] = 9.0\ns0 = 9.0\ns1 = 9.0")
    assert out.vectors[0, 0, 0] == 0.0 and out.scalars[0, 0] == 0.0
    assert out.scalars[0, 1] == 9.0  # s1 is only read, never written, by the harness


# ---------------------------------------------------------------------------------------------
# Random fills in programs: one stream per task, derive_key(seed, task_id), counter from 0


def key(seed: int, task_id: int) -> np.ndarray:
    return np.array([derive_key(seed, task_id)], np.uint64)


def test_setup_draws_start_at_the_beginning_of_the_task_stream():
    tasks = make_taskset(np.zeros((2, 1, 2)), np.zeros((2, 1)), np.zeros((2, 1, 2)),
                         np.zeros((2, 1)), task_ids=[4, 9])
    out = run_program("def Setup():\n  s2 = uniform(-1.0, 3.0)\n  v1 = uniform(0.0, 1.0)\n",
                      tasks, seed=17)
    for k, task_id in enumerate((4, 9)):
        u = uniform01(key(17, task_id), 0, 3)[0]
        assert out.scalars[k, 2] == -1.0 + 4.0 * u[0]
        np.testing.assert_array_equal(out.vectors[k, 1], u[1:])


def test_every_execution_draws_afresh_and_the_counter_runs_on():
    n, nv = 3, 2
    program = "def Setup():\n  s2 = uniform(1.0, 0.0)\ndef Predict():\n  s3 = uniform(0.0, 1.0)\n"
    out = run_program(program, one_task(np.zeros((n, 1)), np.zeros(n), np.zeros((nv, 1)),
                                        np.zeros(nv)), seed=5)
    assert out.scalars[0, 2] == 1.0  # lo >= hi gives lo, but consumes output 0
    assert out.scalars[0, 3] == uniform01(key(5, 0), n + nv, 1)[0, 0]


def test_random_programs_are_deterministic_per_seed():
    program = parse_file(PROGRAMS / "neural_net_algorithm.amz")
    tasks = build_tasks(TaskSpec("nonlinear", features=4, num_train=30, num_valid=10,
                                 num_tasks=3))
    a = run_program(program, tasks, "5,9,2", seed=1)
    b = run_program(program, tasks, "5,9,2", seed=1)
    c = run_program(program, tasks, "5,9,2", seed=2)
    np.testing.assert_array_equal(a.fitness, b.fitness)
    np.testing.assert_array_equal(a.matrices, b.matrices)
    assert not np.array_equal(a.matrices, c.matrices)


# ---------------------------------------------------------------------------------------------
# Batching: the vectorized run equals running every task alone


LR_045 = """\
def Setup():
  s2 = 0.45
  v1 = gaussian(0.0, 0.5)
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""


def assert_batch_equals_alone(program, tasks, memory, **options):
    batch = run_program(program, tasks, memory, record=True, **options)
    for k in range(tasks.num_tasks):
        alone = run_program(program, tasks.subset([k]), memory, record=True, **options)
        for name in ("fitness", "scalars", "vectors", "matrices", "train_errors",
                     "valid_errors", "n_train_errors", "n_valid_errors"):
            np.testing.assert_array_equal(getattr(batch, name)[k], getattr(alone, name)[0],
                                          err_msg=f"task {k}: {name}")
    return batch


def test_batch_equals_alone_with_aborts_in_some_tasks():
    tasks = build_tasks(TaskSpec("linear", features=4, num_train=50, num_valid=20, num_tasks=8,
                                 epochs=3))
    batch = assert_batch_equals_alone(LR_045, tasks, "4,3,0", seed=3)
    assert (batch.fitness == 0).any() and (batch.fitness > 0.5).any()  # the case is mixed


def test_batch_equals_alone_with_validation_aborts():
    base = build_tasks(TaskSpec("linear", features=4, num_train=20, num_valid=30, num_tasks=4,
                                epochs=2))
    valid_y = base.valid_y.copy()
    valid_y[1, 3] = 1e3  # validation aborts at different examples in tasks 1 and 2
    valid_y[2, 17] = -1e3
    tasks = make_taskset(base.train_x, base.train_y, base.valid_x, valid_y,
                         orders=base.train_order)
    batch = assert_batch_equals_alone(LR_045.replace("0.45", "0.1"), tasks, "4,3,0", seed=9)
    np.testing.assert_array_equal(batch.n_valid_errors, [30, 3, 17, 30])
    assert batch.fitness[0] > 0.5 and batch.fitness[1] == batch.fitness[2] == 0.0


def test_batch_equals_alone_for_every_op():
    program = parse_file(PROGRAMS / "every_op.amz")
    tasks = build_tasks(TaskSpec("nonlinear", features=4, num_train=8, num_valid=4, num_tasks=3,
                                 epochs=2))
    assert_batch_equals_alone(program, tasks, MemoryConfig.fitting(program), seed=4,
                              max_abs_error=1e300)


def test_task_ids_key_the_streams():
    program = "def Setup():\n  s2 = gaussian(0.0, 1.0)\n"
    zeros = np.zeros((2, 1, 1))
    same_ids = make_taskset(zeros, np.zeros((2, 1)), zeros, np.zeros((2, 1)), task_ids=[3, 3])
    other_ids = make_taskset(zeros, np.zeros((2, 1)), zeros, np.zeros((2, 1)), task_ids=[3, 4])
    a = run_program(program, same_ids).scalars[:, 2]
    b = run_program(program, other_ids).scalars[:, 2]
    assert a[0] == a[1] == b[0] and b[1] != b[0]

"""amzc.backends.llvm against the NumPy reference: random programs over every op, with edge-case
constants and task data (zeros, negatives, huge values, NaN), random task shapes, epochs, step
caps and abort thresholds (docs/llvm.md, "Tolerance").

Programs without libm functions must agree bit for bit in final memory and FEC records; the
regression fitness may differ by a few ulps (the native code squashes the RMSE with libm's
atan, NumPy with its own SIMD atan). Programs with sin, cos, tan, arcsin, arccos, arctan, exp,
log or a Gaussian fill (Box-Muller's log and cos), and accuracy tasks (the sigmoid's exp), agree
within the stated tolerance, aborts included."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_taskset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amzc.backends.llvm import LlvmBackend
from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions, RunOutput
from amzc.ops import NO_OP, OPS, Op
from amzc.parse import parse, parse_file
from amzc.passes.dce import analyze, as_program
from amzc.syntax import DRAWS_ONLY, Instruction, MemoryConfig, Program
from amzc.tasks import TaskSpec, build_tasks

LIBM = frozenset({"scalar_sin", "scalar_cos", "scalar_tan", "scalar_arcsin", "scalar_arccos",
                  "scalar_arctan", "scalar_exp", "scalar_log", "scalar_gaussian_set",
                  "vector_gaussian_set", "matrix_gaussian_set"})
EXACT_OPS = tuple(op for op in OPS if op.name not in LIBM)
MEMORY = MemoryConfig(4, 3, 2)
LANES = 4  # few Shapes, so few interpreters to build; K up to 9 still gives several groups
FITNESS_ULPS = 4
RTOL = 1e-9  # libm programs: relative, and the same scaled as an absolute floor

EDGE = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e300, -1e300, 1e-300, math.nan, math.inf, -math.inf]
NASTY = [0.0, -0.0, 1e300, -1e300, 1e-310, math.nan, math.inf, -math.inf, 3.0, -3.0]
DIFFERENTIAL = settings(max_examples=120, derandomize=True, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.data_too_large])

interpreter = LlvmBackend(mode="interpret", lanes=LANES)
compiled = LlvmBackend(mode="compile", lanes=LANES)
reference = NumpyBackend()


def constants():
    return st.one_of(st.sampled_from(EDGE), st.floats(-4.0, 4.0), st.floats(-4.0, 4.0),
                     st.floats(-1e6, 1e6))


@st.composite
def instructions(draw, ops: tuple[Op, ...], features: int) -> Instruction:
    op = draw(st.sampled_from(ops))
    if op is NO_OP:
        return Instruction(op)
    size = {"s": MEMORY.scalars, "v": MEMORY.vectors, "m": MEMORY.matrices}
    inputs = tuple(draw(st.integers(0, size[t] - 1)) for t in op.inputs)
    out = draw(st.integers(0, size[op.output] - 1))
    index = tuple(draw(st.integers(0, features - 1)) for _ in range(op.n_index))
    if op.symbol == "uniform":
        data = (draw(st.floats(-2, 2)), draw(st.floats(-2, 2)))  # unsorted: lo >= hi half the time
    else:
        data = tuple(draw(constants()) for _ in range(op.n_data))
    return Instruction(op, out, inputs, index, data)


def seeding(features: int) -> tuple[Instruction, ...]:
    """Setup code that fills every address with distinct random values (memory starts at
    zero, and most ops are trivial on zeros)."""
    fills = []
    for name, size in (("scalar", MEMORY.scalars), ("vector", MEMORY.vectors),
                       ("matrix", MEMORY.matrices)):
        op = next(op for op in OPS if op.name == f"{name}_uniform_set")
        fills += [Instruction(op, a, (), (), (-2.0, 2.0)) for a in range(size)]
    return tuple(fills)


@st.composite
def programs(draw, ops: tuple[Op, ...], features: int) -> Program:
    parts = [tuple(draw(st.lists(instructions(ops, features), max_size=5))) for _ in range(3)]
    if draw(st.booleans()):
        parts[0] = seeding(features) + parts[0]
    return Program(*parts)


def _values(draw, shape: tuple[int, ...], scale: float) -> np.ndarray:
    n = int(np.prod(shape))
    normal = st.floats(-3.0, 3.0).map(lambda x: x * scale)
    edge = st.sampled_from([0.0, -0.0, 1e200, -1e200, math.nan])
    values = draw(st.lists(st.one_of(normal, normal, normal, edge), min_size=n, max_size=n))
    return np.array(values, dtype=np.float64).reshape(shape)


@st.composite
def task_sets(draw, features: int, accuracy: bool = False):
    k = draw(st.integers(1, 9))
    n = draw(st.integers(1, 5))
    nv = draw(st.integers(1, 4))
    epochs = draw(st.integers(1, 2))
    scale = draw(st.sampled_from([1.0, 30.0]))
    train_y = _values(draw, (k, n), scale)
    valid_y = _values(draw, (k, nv), scale)
    if accuracy:
        train_y, valid_y = (train_y > 0).astype(float), (valid_y > 0).astype(float)
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    orders = np.stack([np.stack([rng.permutation(n) for _ in range(epochs)]) for _ in range(k)])
    return make_taskset(_values(draw, (k, n, features), scale), train_y,
                        _values(draw, (k, nv, features), scale), valid_y, orders=orders,
                        eval_type="accuracy" if accuracy else "rms",
                        task_ids=rng.integers(0, 1000, size=k))


@st.composite
def eval_options(draw) -> EvalOptions:
    return EvalOptions(
        max_abs_error=draw(st.sampled_from([100.0, 100.0, 3.0, math.inf])),
        seed=draw(st.integers(0, 5)),
        max_train_steps=draw(st.sampled_from([None, None, 0, 1, 3])),
        max_valid_steps=draw(st.sampled_from([None, None, 1, 2])),
    )


def cases(ops: tuple[Op, ...], accuracy: st.SearchStrategy[bool]):
    return st.tuples(st.sampled_from([1, 3]), accuracy).flatmap(
        lambda fa: st.tuples(programs(ops, fa[0]), task_sets(fa[0], fa[1]), eval_options(),
                             st.booleans()))


def assert_exact(expected: RunOutput, actual: RunOutput, record: bool) -> None:
    for name in ("scalars", "vectors", "matrices"):
        np.testing.assert_array_equal(getattr(actual, name), getattr(expected, name),
                                      err_msg=name, strict=True)
    assert_fitness(expected.fitness, actual.fitness, FITNESS_ULPS)
    if record:
        for name in ("train_errors", "valid_errors", "n_train_errors", "n_valid_errors"):
            np.testing.assert_array_equal(getattr(actual, name), getattr(expected, name),
                                          err_msg=name)


def assert_fitness(expected: np.ndarray, actual: np.ndarray, ulps: float) -> None:
    np.testing.assert_array_equal(actual == 0.0, expected == 0.0, err_msg="aborts differ")
    np.testing.assert_array_max_ulp(actual, expected, maxulp=ulps)


def assert_close(expected: RunOutput, actual: RunOutput, record: bool) -> None:
    """Within RTOL, NaN and infinities in the same places, aborts identical."""
    np.testing.assert_array_equal(actual.fitness == 0.0, expected.fitness == 0.0,
                                  err_msg="aborts differ")
    pairs = [(expected.fitness, actual.fitness)]
    pairs += [(getattr(expected, n), getattr(actual, n))
              for n in ("scalars", "vectors", "matrices")]
    if record:
        pairs += [(expected.train_errors, actual.train_errors),
                  (expected.valid_errors, actual.valid_errors)]
        np.testing.assert_array_equal(actual.n_train_errors, expected.n_train_errors)
        np.testing.assert_array_equal(actual.n_valid_errors, expected.n_valid_errors)
    for want, got in pairs:
        finite = np.isfinite(want) & np.isfinite(got)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~finite & ~np.isnan(got)],
                                      want[~finite & ~np.isnan(want)])
        scale = max(1.0, float(np.max(np.abs(want[finite]), initial=0.0)))
        np.testing.assert_allclose(got[finite], want[finite], rtol=RTOL, atol=RTOL * scale)


def libm_free(program: Program) -> bool:
    return not any(ins.op.name in LIBM for _, ins in program.instructions())


def run_both(backend: LlvmBackend, program, tasks, options, record):
    expected = reference.run(program, tasks, MEMORY, options, record=record)
    actual = backend.run(program, tasks, MEMORY, options, record=record)
    return expected, actual


@DIFFERENTIAL
@given(cases(EXACT_OPS, st.just(False)))
def test_interpreter_matches_numpy_bit_for_bit(case):
    program, tasks, options, record = case
    assert_exact(*run_both(interpreter, program, tasks, options, record), record)


@settings(DIFFERENTIAL, max_examples=80)
@given(cases(OPS, st.booleans()))
def test_interpreter_matches_numpy_within_tolerance_with_libm(case):
    program, tasks, options, record = case
    expected, actual = run_both(interpreter, program, tasks, options, record)
    if libm_free(program) and tasks.eval_type == "rms":
        assert_exact(expected, actual, record)
    else:
        assert_close(expected, actual, record)


@settings(DIFFERENTIAL, max_examples=25)
@given(cases(OPS, st.booleans()))
def test_compiled_programs_match_the_interpreter(case):
    """The two tiers share the lowering, so they agree bit for bit, libm included."""
    program, tasks, options, record = case
    a = interpreter.run(program, tasks, MEMORY, options, record=record)
    b = compiled.run(program, tasks, MEMORY, options, record=record)
    for name in ("fitness", "scalars", "vectors", "matrices") + (
            ("train_errors", "valid_errors", "n_train_errors", "n_valid_errors") if record
            else ()):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)


RECORDS = ("fitness", "train_errors", "valid_errors", "n_train_errors", "n_valid_errors")


def assert_predicts_alike(program: Program, live: Program, tasks, options) -> None:
    """``live`` predicts as ``program`` on every tier: fitness and the FEC's error records,
    bit for bit (memory may differ: a draws-only fill writes nothing)."""
    for backend in (reference, interpreter, compiled):
        a = backend.run(program, tasks, MEMORY, options, record=True)
        b = backend.run(live, tasks, MEMORY, options, record=True)
        for name in RECORDS:
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name),
                                          err_msg=f"{backend.name} {name}")


@settings(DIFFERENTIAL, max_examples=40)
@given(cases(OPS, st.booleans()))
def test_dead_fills_run_as_draws_only(case):
    """The search evaluates the live code of dce.analyze, where each random fill kept only
    for its draws is a draws-only instruction that advances the stream without computing."""
    program, tasks, options, _ = case
    assert_predicts_alike(program, as_program(analyze(program)[2]), tasks, options)


def test_skipped_draws_still_move_the_stream():
    """Dead fills before and after a live one, in Setup and in Predict (whose draws an
    abort must account for): the live fill sees the same numbers."""
    program = parse("""\
def Setup():
  m0 = gaussian(0.1, 1.0)
  v2 = uniform(-1.0, 1.0)
  v1 = gaussian(0.0, 0.1)
  s2 = 0.9
  m1 = uniform(0.0, 2.0)
def Predict():
  v2 = gaussian(0.0, 1.0)
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
""")
    live = as_program(analyze(program)[2])
    skipped = [ins.op.name for _, ins in live.instructions() if ins.out == DRAWS_ONLY]
    assert skipped == ["matrix_gaussian_set", "vector_uniform_set", "matrix_uniform_set",
                       "vector_gaussian_set"]
    tasks = build_tasks(TaskSpec("linear", 3, 20, 10, 9, 2))
    for max_abs_error in (100.0, 2.0):  # without and with aborts
        assert_predicts_alike(program, live, tasks, EvalOptions(max_abs_error, seed=5))


# Every op on its own, on random and on nasty operands -----------------------------------------

def op_program(op: Op, features: int, nasty: bool) -> Program:
    """Setup fills every address with random values (some entries then set to edge values),
    and the op runs in Setup, Predict and Learn on addresses 1 and 2 (writing 1)."""
    setup = list(seeding(features))
    if nasty:
        const = {t: next(o for o in OPS if o.output == t and o.symbol == "const") for t in "svm"}
        for k, value in enumerate(NASTY):
            for t, size in (("s", MEMORY.scalars), ("v", MEMORY.vectors), ("m", MEMORY.matrices)):
                index = tuple((k + i) % features for i in range(const[t].n_index))
                setup.append(Instruction(const[t], 1 + k % (size - 1), (), index, (value,)))
    if op is NO_OP:
        body = (Instruction(op),)
    else:
        size = {"s": MEMORY.scalars, "v": MEMORY.vectors, "m": MEMORY.matrices}
        inputs = tuple(min(1 + i % 2, size[t] - 1) for i, t in enumerate(op.inputs))
        index = tuple(i % features for i in range(op.n_index))
        data = (0.25, 0.75)[: op.n_data] if op.symbol != "const" else (-1.5,)
        body = (Instruction(op, 1, inputs, index, data),)
    return Program(tuple(setup) + body, body, body)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@pytest.mark.parametrize("nasty", [False, True], ids=["random", "nasty"])
@pytest.mark.parametrize("features", [3, 9], ids=["unrolled", "loops"])  # F > 8 emits loops
def test_each_op_matches_numpy(op, nasty, features):
    rng = np.random.default_rng(op.id)
    x, vx = rng.normal(size=(5, 4, features)), rng.normal(size=(5, 3, features))
    tasks = make_taskset(x, rng.normal(size=(5, 4)), vx, rng.normal(size=(5, 3)))
    options = EvalOptions(max_abs_error=math.inf)  # keep running whatever the values
    expected, actual = run_both(interpreter, op_program(op, features, nasty), tasks, options,
                                True)
    if op.name in LIBM:
        assert_close(expected, actual, True)
    else:
        assert_exact(expected, actual, True)


# Hand-picked cases of the protocol ----------------------------------------------------------

def demo_tasks(num_tasks: int = 10, epochs: int = 1) -> object:
    return build_tasks(TaskSpec("linear", 4, 100, 100, num_tasks, epochs))


@pytest.mark.parametrize("backend", [interpreter, compiled], ids=["interpret", "compile"])
def test_the_linear_regression_example(backend):
    program = parse_file("examples/linear_regression.amz")
    tasks = demo_tasks()
    expected, actual = run_both(backend, program, tasks, EvalOptions(), True)
    assert_exact(expected, actual, True)
    assert actual.fitness.mean() > 0.9999


@pytest.mark.parametrize("num_tasks", [1, 4, 5, 17])
def test_task_counts_that_do_not_fill_the_lanes(num_tasks):
    program = parse_file("examples/linear_regression.amz")
    tasks = demo_tasks(num_tasks, epochs=2)
    backend = LlvmBackend(mode="interpret")  # default lanes: 2, 4, 8 or 16
    assert_exact(*run_both(backend, program, tasks, EvalOptions(), True), True)


DIVERGING = """\
def Setup():
  s2 = 0.55
def Predict():
  s1 = dot(v0, v1)
  v2 = uniform(0.0, 1.0)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""


@pytest.mark.parametrize("backend", [interpreter, compiled], ids=["interpret", "compile"])
@pytest.mark.parametrize("rate, max_abs_error", [(0.5, 5.0), (0.55, 100.0), (0.7, 100.0)])
def test_aborts_in_training_and_validation_keep_random_streams_in_step(backend, rate,
                                                                        max_abs_error):
    """A learning rate at the edge of stability makes some tasks abort in training and others
    in the validation of a later epoch; a random fill in Predict keeps drawing the whole time,
    so the streams of the surviving tasks only agree if every skipped step is accounted for."""
    tasks = build_tasks(TaskSpec("linear", 4, 20, 10, 9, 3))
    options = EvalOptions(max_abs_error=max_abs_error, seed=3)
    program = parse(DIVERGING.replace("0.55", str(rate)))
    expected, actual = run_both(backend, program, tasks, options, True)
    assert_exact(expected, actual, True)
    assert (expected.fitness == 0).any() and (expected.fitness > 0).any()
    assert (expected.n_valid_errors % tasks.num_valid != 0).any()  # a validation abort


@pytest.mark.parametrize("backend", [interpreter, compiled], ids=["interpret", "compile"])
def test_memories_too_large_to_unroll(backend):
    """20/20/20 with F = 4 is 420 slots: abort snapshots and write-back become loops."""
    program = parse("""\
def Setup():
  m19 = gaussian(0.0, 1.0)
  v19 = uniform(-1.0, 1.0)
  s19 = 0.01
def Predict():
  v18 = dot(m19, v0)
  s1 = dot(v18, v19)
def Learn():
  s17 = s0 - s1
  s17 = s19 * s17
  v17 = s17 * v0
  v19 = v19 + v17
  m18 = outer(v17, v0)
  m19 = m19 + m18
""")
    memory = MemoryConfig(20, 20, 20)
    tasks = build_tasks(TaskSpec("linear", 4, 30, 10, 6, 2))
    options = EvalOptions(seed=1)
    expected = reference.run(program, tasks, memory, options, record=True)
    actual = backend.run(program, tasks, memory, options, record=True)
    assert_close(expected, actual, True)  # gaussian: Box-Muller's log
    assert (expected.fitness > 0).all()


def test_classification_fitness_and_memory():
    program = parse("""\
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  v2 = s3 * v0
  v1 = v1 + v2
""")
    rng = np.random.default_rng(0)
    x, vx = rng.normal(size=(6, 30, 3)), rng.normal(size=(6, 20, 3))
    w = rng.normal(size=(6, 3))
    tasks = make_taskset(x, (np.einsum("knf,kf->kn", x, w) > 0).astype(float), vx,
                         (np.einsum("knf,kf->kn", vx, w) > 0).astype(float),
                         eval_type="accuracy")
    expected, actual = run_both(interpreter, program, tasks, EvalOptions(), True)
    assert_close(expected, actual, True)
    np.testing.assert_array_equal(actual.fitness, expected.fitness)  # counts are exact
    assert actual.fitness.mean() > 0.7


def test_every_op_of_the_table_has_a_lowering():
    from amzc.backends.llvm.lowering import LOWERINGS

    assert set(LOWERINGS) == {op.name for op in OPS}


def test_backend_is_reachable_by_name():
    from amzc.evaluate import evaluate

    program = parse_file("examples/linear_regression.amz")
    tasks = demo_tasks()
    assert evaluate(program, tasks, backend="llvm").fitness == pytest.approx(
        evaluate(program, tasks, backend="numpy").fitness, rel=1e-15)

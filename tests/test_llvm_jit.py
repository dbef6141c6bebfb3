"""amzc.backends.llvm.jit and the backend's tiers: compiled kernels are cached by program and
Shape, evicted kernels free their engines (bounded memory), the cost model compiles hot or
expensive programs and interprets the rest, and the batch APIs equal run()."""

from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
from conftest import EXAMPLES

from amzc.backends.llvm import _INTERPRETERS, SPENT_SLOTS, CostModel, LlvmBackend, spent_slot
from amzc.backends.llvm.encode import pack_program
from amzc.backends.llvm.layout import Shape
from amzc.errors import AmzConfigError
from amzc.evaluate import EvalOptions
from amzc.ops import OPS
from amzc.parse import parse, parse_file
from amzc.syntax import Instruction, MemoryConfig, Program
from amzc.tasks import TaskSpec, build_tasks

MEMORY = MemoryConfig(4, 3, 1)
TASKS = build_tasks(TaskSpec("linear", 4, 20, 10, 3, 1))
OPTIONS = EvalOptions()
HUMAN = parse_file(EXAMPLES / "linear_regression.amz")


def learning_rate(rate: float) -> Program:
    """The linear regressor with another constant: a different program of the same Shape."""
    setup = (Instruction(next(op for op in OPS if op.name == "scalar_const_set"), 2, (), (),
                         (rate,)),)
    return Program(setup, HUMAN.predict, HUMAN.learn)


def test_compiled_kernels_are_cached_by_program():
    backend = LlvmBackend(mode="compile", shared=False)
    first = backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 1
    again = backend.run(parse_file(EXAMPLES / "linear_regression.amz"), TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 1  # an equal program hits the cache
    np.testing.assert_array_equal(first.fitness, again.fitness)
    backend.run(learning_rate(0.1), TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 2


def test_evicted_kernels_release_their_engines():
    first = LlvmBackend(mode="compile", shared=False)
    first.run(learning_rate(0.01), TASKS, MEMORY, OPTIONS)
    size = first.state.compiled.nbytes  # the programs differ in a constant only: same size
    assert size > 0
    backend = LlvmBackend(mode="compile", shared=False, kernel_bytes=2 * size)
    engines = []
    for k in range(6):
        backend.run(learning_rate(0.01 * (k + 1)), TASKS, MEMORY, OPTIONS)
        newest = next(reversed(backend.state.compiled.kernels.values()))
        engines.append(weakref.ref(newest._engine))
        assert backend.state.compiled.nbytes <= 2 * size
    gc.collect()
    alive = [ref() is not None for ref in engines]
    assert alive == [False] * 4 + [True] * 2


def test_interpret_mode_never_compiles():
    backend = LlvmBackend(mode="interpret", shared=False)
    for _ in range(3):
        backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 0


def test_auto_mode_compiles_a_program_once_interpreting_it_costs_more_than_compiling():
    backend = LlvmBackend(shared=False)
    backend.state.cost.interpreter_ms = 0.0  # build the interpreter at once
    backend.state.cost.compile_ms = 1.0  # pretend compiling is cheap: 1 ms
    backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 0
    for _ in range(2000):
        backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
        if len(backend.state.compiled):
            break
    assert len(backend.state.compiled) == 1
    spent = backend.state.cost.spent_us[spent_slot(pack_program(HUMAN))]
    assert 1e3 <= spent < 1e5  # compiled soon after 1 ms was spent interpreting


def test_auto_mode_compiles_an_expensive_evaluation_at_once():
    backend = LlvmBackend(shared=False)
    cost = backend.state.cost
    cost.interpreter_ms = 0.0
    backend.run(learning_rate(0.3), TASKS, MEMORY, OPTIONS)  # builds the interpreter
    cost.compile_ms = 1e-9  # any evaluation now costs more than a compile
    backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 1


def many_ops_program() -> Program:
    """A program using 30 distinct ops: its interpreter would be expensive to build."""
    ops = [op for op in OPS if op.output == "s" and op.inputs and set(op.inputs) == {"s"}]
    ops += [op for op in OPS if op.output == "v" and op.inputs and set(op.inputs) == {"v"}]
    body = tuple(Instruction(op, 2, (1,) * len(op.inputs)) for op in ops[:30])
    return Program(body, HUMAN.predict, HUMAN.learn)


def test_without_an_interpreter_a_small_one_is_built():
    backend = LlvmBackend(shared=False, lanes=2)
    shape = Shape.of(MEMORY, TASKS, 2)
    _INTERPRETERS.pop(shape, None)
    backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 0 and shape in _INTERPRETERS


def test_without_an_interpreter_a_one_off_program_with_many_ops_is_compiled():
    backend = LlvmBackend(shared=False, lanes=8)
    shape = Shape.of(MEMORY, TASKS, 8)
    _INTERPRETERS.pop(shape, None)
    program = many_ops_program()
    backend.run(program, TASKS, MEMORY, OPTIONS)
    assert len(backend.state.compiled) == 1 and shape not in _INTERPRETERS
    backend.run(many_ops_program(), TASKS, MEMORY, OPTIONS)  # equal: the cache
    assert len(backend.state.compiled) == 1 and shape not in _INTERPRETERS
    other = Program(program.setup[1:], HUMAN.predict, HUMAN.learn)
    backend.run(other, TASKS, MEMORY, OPTIONS)  # a second program: a search
    assert len(backend.state.compiled) == 1 and shape in _INTERPRETERS


def test_cost_model_remembers_a_bounded_history():
    cost = CostModel(history=3)
    assert cost.observe_interpret(b"a", 10.0) == 10.0
    assert cost.observe_interpret(b"a", 5.0) == 15.0  # totals add up per program
    assert cost.observe_interpret(b"b", 1.0) == 1.0
    assert cost.observe_interpret(b"a", 1.0) == 1.0  # 3 observations: all forgotten
    assert cost.spent_us.size == SPENT_SLOTS and np.count_nonzero(cost.spent_us) == 1


def test_interpreters_grow_to_the_ops_they_meet():
    """An interpreter is built for the ops seen so far; an unknown op makes the native code
    raise a flag, and the program reruns on a rebuilt interpreter, with the same results."""
    backend = LlvmBackend(mode="interpret", shared=False, lanes=2)
    shape = Shape.of(MEMORY, TASKS, 2)
    _INTERPRETERS.pop(shape, None)
    backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
    assert _INTERPRETERS[shape].ops == {ins.op for _, ins in HUMAN.instructions()}
    with_sin = parse("def Setup():\n  s2 = 0.3\n  s2 = sin(s2)\n" +
                     "def Predict():\n  s1 = dot(v0, v1)\n")
    out = backend.run(with_sin, TASKS, MEMORY, OPTIONS)
    assert _INTERPRETERS[shape].builds == 2
    assert out.scalars[0, 2] == math.sin(0.3)
    with_cos = parse("def Setup():\n  s2 = 0.3\n  s2 = cos(s2)\n")
    backend.run(with_cos, TASKS, MEMORY, OPTIONS)
    assert _INTERPRETERS[shape].ops == frozenset(OPS)  # grown twice: every op


def test_expected_ops_are_built_in_from_the_start():
    backend = LlvmBackend(mode="interpret", shared=False, lanes=2)
    shape = Shape.of(MEMORY, TASKS, 2)
    _INTERPRETERS.pop(shape, None)
    sin = next(op for op in OPS if op.symbol == "sin" and op.output == "s")
    backend.expect_ops([sin])
    backend.run(HUMAN, TASKS, MEMORY, OPTIONS)
    assert _INTERPRETERS[shape].ops == {sin} | {ins.op for _, ins in HUMAN.instructions()}
    backend.run(parse("def Setup():\n  s2 = 0.3\n  s2 = sin(s2)\n"), TASKS, MEMORY, OPTIONS)
    assert _INTERPRETERS[shape].builds == 1  # no growth needed


def test_unknown_mode_is_a_config_error():
    with pytest.raises(AmzConfigError, match="unknown mode"):
        LlvmBackend(mode="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_batch_apis_equal_run(mode):
    backend = LlvmBackend(mode=mode, shared=False)
    programs = [learning_rate(r) for r in (0.05, 0.2, 0.9)] + [HUMAN]
    for combine_mode in ("mean", "median"):
        options = EvalOptions(combine=combine_mode)
        single = [backend.run(p, TASKS, MEMORY, options) for p in programs]
        many = backend.run_many(programs, TASKS, MEMORY, options)
        per_task = [backend.task_fitness(p, TASKS, MEMORY, options) for p in programs]
        for a, b, f in zip(single, many, per_task, strict=True):
            np.testing.assert_array_equal(a.fitness, b.fitness)
            np.testing.assert_array_equal(a.vectors, b.vectors)
            assert f == a.fitness.tolist()


def test_outputs_are_copies_that_later_runs_do_not_change():
    backend = LlvmBackend(mode="interpret", shared=False)
    first = backend.run(learning_rate(0.05), TASKS, MEMORY, OPTIONS)
    kept = first.vectors.copy(), first.fitness.copy()
    backend.run(learning_rate(0.9), TASKS, MEMORY, OPTIONS)
    np.testing.assert_array_equal(first.vectors, kept[0])
    np.testing.assert_array_equal(first.fitness, kept[1])


def test_random_programs_are_deterministic_per_seed_and_differ_across_seeds():
    program = parse("""\
def Setup():
  v1 = gaussian(0.0, 1.0)
def Predict():
  s1 = dot(v0, v1)
  s2 = uniform(-0.1, 0.1)
def Learn():
  v2 = s2 * v0
  v1 = v1 + v2
""")
    backend = LlvmBackend(mode="interpret", shared=False)
    a = backend.run(program, TASKS, MEMORY, EvalOptions(seed=1))
    b = backend.run(program, TASKS, MEMORY, EvalOptions(seed=1))
    c = backend.run(program, TASKS, MEMORY, EvalOptions(seed=2))
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, c.vectors)


def test_encoding_leaves_out_no_ops_and_is_shape_independent():
    with_noops = parse("def Setup():\n  no_op()\n  s2 = 0.5\n  no_op()\n")
    assert pack_program(with_noops) == pack_program(parse("def Setup():\n  s2 = 0.5\n"))
    assert len(pack_program(with_noops)) == 32 + 32


def test_compile_worker_gives_the_same_kernels(monkeypatch):
    """Past the first few compiles, programs are compiled by a child process (jit.py: keeps
    llvmlite's optimizer leak out of this process); its object code behaves the same."""
    import amzc.backends.llvm.jit as jit_module

    here = LlvmBackend(mode="compile", shared=False).run(learning_rate(0.07), TASKS, MEMORY,
                                                         OPTIONS)
    monkeypatch.setattr(jit_module, "IN_PROCESS_COMPILES", 0)
    there = LlvmBackend(mode="compile", shared=False).run(learning_rate(0.07), TASKS, MEMORY,
                                                          OPTIONS)
    assert jit_module.default_jit()._worker is not None
    np.testing.assert_array_equal(here.fitness, there.fitness)
    np.testing.assert_array_equal(here.vectors, there.vectors)


def test_compiles_leave_this_process_once_they_have_grown_it(monkeypatch):
    """A large program's in-process compile can grow RSS by tens of MB that stay: past
    IN_PROCESS_GROWTH of growth, compiles go to the worker even before IN_PROCESS_COMPILES."""
    import amzc.backends.llvm.jit as jit_module

    rss = iter(range(0, 10**12, 20 << 20))  # every reading 20 MB above the last
    monkeypatch.setattr(jit_module, "_rss", lambda: next(rss))
    jit = jit_module.Jit()
    shape = Shape.of(MEMORY, TASKS)
    try:
        jit.compile_program(HUMAN, shape)
        assert jit.grown_here == 20 << 20 and jit._worker is None
        jit.compile_program(learning_rate(0.07), shape)
        assert jit._worker is not None and jit.grown_here == 20 << 20
    finally:
        if jit._worker is not None:
            jit._worker.close()


def test_rss_is_read_from_proc():
    import amzc.backends.llvm.jit as jit_module

    assert 10 << 20 < jit_module._rss() < 100 << 30


def test_compile_workers_are_recycled_and_restarted():
    from amzc.backends.llvm.worker import CompileWorker

    worker = CompileWorker(recycle_after=1)
    shape = Shape.of(MEMORY, TASKS)
    try:
        first = worker.object_code(HUMAN, shape)
        second = worker.object_code(HUMAN, shape)
        assert worker.started == 2 and first == second  # deterministic code generation
        worker.process.kill()  # a dead worker is replaced transparently
        worker.process.wait()
        worker.recycle_after = 10
        assert worker.object_code(HUMAN, shape) == first
        assert worker.started == 3
    finally:
        worker.close()
    assert worker.process is None


def test_a_compile_worker_past_its_memory_bound_is_recycled(monkeypatch):
    from amzc.backends.llvm import worker as worker_module

    worker = worker_module.CompileWorker()
    shape = Shape.of(MEMORY, TASKS)
    try:
        worker.object_code(HUMAN, shape)
        worker.object_code(HUMAN, shape)
        assert worker.started == 1 and worker_module._rss(worker.process.pid) > 0
        monkeypatch.setattr(worker_module, "RECYCLE_BYTES", 1 << 20)  # below any process's
        worker.object_code(HUMAN, shape)
        assert worker.started == 2
    finally:
        worker.close()


def test_without_a_compile_worker_programs_compile_in_process(monkeypatch):
    import amzc.backends.llvm.jit as jit_module
    from amzc.backends.llvm import worker as worker_module

    def no_subprocesses(*args, **kwargs):
        raise OSError("no child processes allowed")

    jit = jit_module.Jit()
    monkeypatch.setattr(jit_module, "IN_PROCESS_COMPILES", 0)
    monkeypatch.setattr(worker_module.subprocess, "Popen", no_subprocesses)
    kernel = jit.compile_program(HUMAN, Shape.of(MEMORY, TASKS))
    assert jit._worker_failed and kernel.address


@pytest.mark.parametrize("mode", ["interpret", "compile"])
@pytest.mark.parametrize("bad", [
    Instruction(next(op for op in OPS if op.name == "scalar_sum"), 9, (1, 2)),  # s9 of 4
    Instruction(next(op for op in OPS if op.name == "vector_sum"), 1, (1, 7)),  # v7 of 3
    Instruction(next(op for op in OPS if op.name == "vector_const_set"), 1, (), (4,), (1.0,)),
    Instruction(next(op for op in OPS if op.name == "scalar_sum"), -1, (1, 2)),
], ids=["output", "input", "index", "negative"])
def test_addresses_beyond_memory_are_errors_not_wild_writes(mode, bad):
    """Generated code never writes outside memory: unchecked programs that would are
    reported (the interpreter flags them natively; the compiled tier checks first)."""
    from amzc.errors import AmzError

    backend = LlvmBackend(mode=mode, shared=False)
    program = Program((bad,), HUMAN.predict, HUMAN.learn)
    with pytest.raises(AmzError, match="beyond|memory"):
        backend.run(program, TASKS, MEMORY, OPTIONS)
    backend.run(HUMAN, TASKS, MEMORY, OPTIONS)  # and the backend still works


def test_encoding_cached_by_body_equals_a_fresh_encoding(monkeypatch):
    """Bodies are encoded once per tuple object and instructions once per object; sharing a
    tuple between programs, full caches (of bodies and of instruction records) and new
    tuples with equal or different contents all give the fresh encoding."""
    import random

    from amzc.backends.llvm import encode
    from amzc.caches import BoundedCache
    from amzc.search.config import ComponentConfig, SearchSpace
    from amzc.search.random_program import InstructionFactory, random_program

    monkeypatch.setattr(encode, "_BODIES", BoundedCache(8))
    monkeypatch.setattr(encode, "_RECORDS", BoundedCache(16))

    def fresh(program: Program) -> bytes:
        encode._BODIES.clear()
        encode._RECORDS.clear()
        return pack_program(program)

    memory = MemoryConfig(4, 3, 1)
    space = SearchSpace(memory, 4, {c: ComponentConfig(OPS[1:], 5, 0, 8)
                                    for c in ("setup", "predict", "learn")})
    factory = InstructionFactory(memory, 4)
    rng = random.Random(3)
    programs = [random_program(rng, space, factory) for _ in range(30)]
    expected = [fresh(p) for p in programs]
    for _ in range(3):
        for program, want in zip(programs, expected, strict=True):
            assert pack_program(program) == want
    # a child sharing two bodies of its parent and bringing a new third one
    parent, other = programs[0], programs[1]
    child = Program.make(parent.setup, parent.predict, other.learn)
    assert pack_program(child) == fresh(child)
    assert pack_program(Program.make(tuple(list(parent.setup)), parent.predict, parent.learn)) == (
        expected[0])



def test_one_outlier_timing_does_not_make_every_program_compile():
    """A timed interpreted evaluation that the machine stalled (here 10,000 times the usual
    per-instruction time) moves the estimate by at most CALIBRATION_STEP: before, one such
    sample made every later program look worth compiling, and with every program compiled no
    interpreted timing was left to bring the estimate back (a Figure 5 island stalled in
    compiles for minutes). Real slowdowns still show, over several samples."""
    from amzc.backends.llvm import CALIBRATION_STEP

    cost = CostModel()
    usual, work = cost.interpret_ns, 20_000.0
    assert not cost.should_compile(0.0, work)
    cost.calibrate(1e4 * usual * work / 1e3, work)
    assert cost.interpret_ns <= usual * (1 + 0.1 * (CALIBRATION_STEP - 1))
    assert not cost.should_compile(0.0, work)
    for _ in range(60):  # a machine that really got 50 times slower
        cost.calibrate(50 * usual * work / 1e3, work)
    assert cost.interpret_ns > 40 * usual

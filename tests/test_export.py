"""amzc/export.py: the exported Python/NumPy module is standalone and computes exactly what the
NumPy reference backend computes (final memory, predictions, aborts, random streams)."""

from __future__ import annotations

import ast
import inspect
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from amzc import ops, rng
from amzc.backends.numpy import NumpyBackend
from amzc.cli import app
from amzc.evaluate import EvalOptions
from amzc.export import export_python, python_form, python_statement
from amzc.ops import OPS, OPS_BY_NAME
from amzc.parse import parse, parse_file
from amzc.syntax import Instruction, MemoryConfig, Program
from amzc.tasks import build_tasks, task_spec
from amzc.tasks.taskset import TaskSet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES, PROGRAMS = ROOT / "examples", ROOT / "tests" / "programs"


def load_module(program: Program, memory: MemoryConfig | None = None) -> types.ModuleType:
    module = types.ModuleType("exported")
    exec(compile(export_python(program, memory), "exported.py", "exec"), module.__dict__)
    return module


def assert_same_as_evaluator(program: Program, tasks: TaskSet, memory: MemoryConfig,
                             seed: int = 0) -> None:
    """Train with the exported module's fit (validation passes included) and compare the final
    memory and the first validation's errors with the NumPy backend's, bit for bit."""
    out = NumpyBackend().run(program, tasks, memory, EvalOptions(seed=seed), record=True)
    module = load_module(program, memory)
    accuracy = tasks.eval_type == "accuracy"
    for k in range(tasks.num_tasks):
        mem = module.fit(tasks.train_x[k], tasks.train_y[k], epochs=tasks.epochs,
                         classification=accuracy, X_valid=tasks.valid_x[k],
                         y_valid=tasks.valid_y[k], orders=tasks.train_order[k], seed=seed,
                         task_id=int(tasks.task_ids[k]))
        assert np.array_equal(mem.s, out.scalars[k], equal_nan=True)
        assert np.array_equal(mem.v, out.vectors[k], equal_nan=True)
        assert np.array_equal(mem.m, out.matrices[k], equal_nan=True)
        if tasks.epochs > 1:
            continue
        # the record covers the first epoch: fewer errors than steps means it aborted
        assert mem.aborted == (out.n_train_errors[k] < min(tasks.num_train, 100))
        if not mem.aborted and not accuracy:
            # the validation pass of a fresh training run predicts what the evaluator saw
            fresh = module.fit(tasks.train_x[k], tasks.train_y[k], seed=seed,
                               orders=tasks.train_order[k], task_id=int(tasks.task_ids[k]))
            seen = out.n_valid_errors[k]
            errors = np.abs(tasks.valid_y[k] - module.predict_all(fresh, tasks.valid_x[k]))
            assert np.array_equal(errors[:seen], out.valid_errors[k, :seen], equal_nan=True)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_every_op_has_a_python_form(op):
    assert python_form(op)


def test_an_op_without_a_derivable_form_names_its_row():
    from amzc.ops import Form, Op

    odd = Op(len(OPS), "vector_odd", ("v",), "v", Form.CALL, "odd", None, None, "")
    with pytest.raises(KeyError, match="vector_odd; give its row an export= form"):
        python_form(odd)


def test_the_module_carries_the_ops_helpers_it_calls_and_no_others():
    """min/max's NaN rule and the left-to-right sum are amzc/ops.py's own functions, copied."""
    text = export_python(parse("def Predict():\n  s2 = minimum(s0, s1)\n  s3 = std(v0)\n"))
    assert inspect.getsource(ops._min) in text and inspect.getsource(ops._std) in text
    assert "def _seqsum(" in text  # called by _std
    assert "def _max(" not in text and "def _matrix_min(" not in text
    assert "def _seqsum(" not in export_python(parse("def Predict():\n  s2 = s0 + s1\n"))


@pytest.mark.parametrize("file, task, epochs", [
    (EXAMPLES / "linear_regression.amz", "linear", 1),
    (EXAMPLES / "logistic_regression.amz", "digits", 2),
    (EXAMPLES / "neural_net.amz", "nonlinear", 1),
    (EXAMPLES / "two_layer_nn.amz", "nonlinear", 1),  # diverges: aborts in training
    (PROGRAMS / "best_evolved_pruned.amz", "digits", 3),  # random ops in Learn
    (PROGRAMS / "every_op.amz", "affine", 2),
])
def test_exported_programs_match_the_evaluator(file, task, epochs):
    program = parse_file(file)
    tasks = build_tasks(task_spec(task, features=8, num_train=60, num_valid=20, num_tasks=3,
                                  epochs=epochs))
    assert_same_as_evaluator(program, tasks, MemoryConfig.fitting(program), seed=3)


def random_program(seed: int, memory: MemoryConfig, f: int, length: int) -> Program:
    r = np.random.default_rng(seed)
    components = []
    for _ in range(3):
        instructions = []
        for _ in range(int(r.integers(0, length + 1))):
            op = OPS[int(r.integers(len(OPS)))]
            instructions.append(Instruction(
                op,
                int(r.integers(memory.size(op.output))) if op.output else 0,
                tuple(int(r.integers(memory.size(t))) for t in op.inputs),
                tuple(int(r.integers(f)) for _ in range(op.n_index)),
                tuple(float(r.choice([r.normal(), r.uniform(-3, 3), 0.0])) for _ in
                      range(op.n_data))))
        components.append(tuple(instructions))
    return Program(*components)


@settings(max_examples=150)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["rms", "accuracy"]))
def test_random_programs_match_the_evaluator(seed, eval_type):
    memory = MemoryConfig(4, 4, 2)
    program = random_program(seed, memory, 3, 8)
    r = np.random.default_rng(seed)
    k, n, nv = 2, 6, 4
    labels = (lambda shape: r.integers(0, 2, shape).astype(float)) if eval_type == "accuracy" \
        else (lambda shape: r.normal(size=shape))
    tasks = TaskSet("random", eval_type, r.normal(size=(k, n, 3)), labels((k, n)),
                    r.normal(size=(k, nv, 3)), labels((k, nv)),
                    np.stack([np.stack([np.arange(n), r.permutation(n)][:1 + seed % 2])] * k),
                    np.array([0, 5]))
    assert_same_as_evaluator(program, tasks, memory, seed=seed % 7)


def test_the_module_imports_only_numpy():
    text = export_python(parse_file(PROGRAMS / "every_op.amz"))
    imported = {alias.name for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(ast.parse(text))
                 if isinstance(node, ast.ImportFrom)}
    assert imported == {"numpy"}


def test_the_copied_stream_equals_amzc_rng():
    module = load_module(parse(""))
    assert module.derive_key(7, 3) == rng.derive_key(7, 3)
    keys = np.array([rng.derive_key(1), rng.derive_key(2)], np.uint64)
    assert np.array_equal(module.uniform01(keys, 5, 9), rng.uniform01(keys, 5, 9))
    stream, reference = module.Stream(rng.derive_key(4, 0)), rng.Streams(
        np.array([rng.derive_key(4, 0)], np.uint64))
    assert np.array_equal(stream.gaussian(1.0, 2.0, (3, 3)),
                          reference.gaussian(1.0, 2.0, (3, 3))[0])
    assert np.array_equal(stream.uniform(-1.0, 1.0, (4,)), reference.uniform(-1.0, 1.0, (4,))[0])
    assert stream.uniform(2.0, 1.0) == 2.0  # lo >= hi gives lo, as the reference


def test_statements_are_readable_numpy():
    program = parse("def Learn():\n  v2[1] = -2.5\n  m1 = outer(v1, v0)\n  s3 = s0 - s1\n"
                    "  v2 = uniform(-1, 1)\n  s2 = std(m0)\n")
    assert [python_statement(ins) for ins in program.learn] == [
        "v[2, 1] = -2.5", "m[1] = np.outer(v[1], v[0])", "s[3] = s[0] - s[1]",
        "v[2] = rng.uniform(-1.0, 1.0, (F,))", "s[2] = _std(m[0].ravel())"]
    nan = Instruction(OPS_BY_NAME["scalar_const_set"], 2, (), (), (float("nan"),))
    inf = Instruction(OPS_BY_NAME["scalar_const_set"], 2, (), (), (float("-inf"),))
    assert python_statement(nan) == "s[2] = np.nan" and python_statement(inf) == "s[2] = -np.inf"


def test_model_wrapper_fits_and_predicts_like_the_evaluator():
    program = parse_file(EXAMPLES / "logistic_regression.amz")
    tasks = build_tasks(task_spec("digits", num_tasks=1))
    fitness = NumpyBackend().run(program, tasks, MemoryConfig.fitting(program),
                                 EvalOptions()).fitness[0]
    model = load_module(program).Model(classification=True).fit(tasks.train_x[0],
                                                                tasks.train_y[0])
    before = model.memory.v.copy()
    accuracy = (model.predict(tasks.valid_x[0]) == tasks.valid_y[0]).mean()
    assert accuracy == fitness > 0.9
    assert np.array_equal(model.memory.v, before)  # predicting never changes the model


def test_too_few_features_for_the_constant_indices():
    module = load_module(parse("def Setup():\n  v1[5] = 1\n"))
    assert module.MIN_FEATURES == 6
    with pytest.raises(ValueError, match="at least 6 features"):
        module.setup(4)
    assert module.setup(6).v[1, 5] == 1.0


def test_cli_export(tmp_path):
    runner = CliRunner()
    source = EXAMPLES / "logistic_regression.amz"
    result = runner.invoke(app, ["export", str(source), "--to", "python"])
    assert result.exit_code == 0 and "def learn(memory, x, y):" in result.output
    target = tmp_path / "logreg.py"
    result = runner.invoke(app, ["export", str(source), "-o", str(target)])
    assert result.exit_code == 0 and target.read_text() == export_python(
        parse_file(source), source="logistic_regression.amz")
    result = runner.invoke(app, ["export", str(source), "--to", "c"])
    assert result.exit_code == 2 and "the only target is python" in result.output
    result = runner.invoke(app, ["export", str(source), "--memory", "2,1,0"])
    assert result.exit_code == 2 and "beyond the memory" in result.output

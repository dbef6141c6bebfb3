"""Dead-code elimination keeps exactly what can reach a prediction (amzc/passes/dce.py)."""

from __future__ import annotations

import random

import numpy as np
from conftest import EXAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from amzc.backends.numpy import NumpyBackend
from amzc.evaluate import EvalOptions
from amzc.ops import OPS
from amzc.parse import parse, parse_file
from amzc.passes import dce
from amzc.passes.dce import analyze, eliminate_dead_code
from amzc.printer import print_program
from amzc.search.config import ComponentConfig, SearchSpace
from amzc.search.random_program import random_program
from amzc.syntax import DRAWS_ONLY, MemoryConfig, draws_only
from amzc.tasks import TaskSpec, build_tasks

MEMORY = MemoryConfig(4, 4, 2)
TASKS = build_tasks(TaskSpec("linear", 3, 12, 6, 3, epochs=2))


def simplified_text(text: str) -> str:
    return print_program(eliminate_dead_code(parse(text)))


def test_linear_regression_is_all_live():
    program = parse_file(EXAMPLES / "linear_regression.amz")
    assert eliminate_dead_code(program) == program


def test_unused_writes_and_no_ops_go():
    text = """
def Setup():
  s2 = 0.1
  s3 = 0.7
  no_op()
def Predict():
  s1 = dot(v0, v1)
  v2 = v0 + v0
def Learn():
  s3 = s0 - s1
  v1 = s3 * v0
"""
    assert simplified_text(text) == """def Setup():
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  v1 = s3 * v0
"""


def test_memory_persists_from_learn_to_predict_and_from_setup():
    # s2 set in Setup is read in Learn; v1 written in Learn is read by the next Predict
    text = """
def Setup():
  s2 = 0.1
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""
    assert simplified_text(text) == print_program(parse(text))


def test_prediction_left_by_learn_is_live():
    # Predict never writes s1: the prediction is whatever Learn left there
    text = "def Learn():\n  s1 = s0 * s0\n"
    assert simplified_text(text) == "def Setup():\ndef Predict():\ndef Learn():\n  s1 = s0 * s0\n"


def test_harness_overwrites_kill_writes_to_s0_and_v0():
    text = "def Setup():\n  s0 = 1.0\n  v0[1] = 2.0\ndef Predict():\n  s1 = s0 + s0\n"
    assert simplified_text(text) == "def Setup():\ndef Predict():\n  s1 = s0 + s0\ndef Learn():\n"


def test_coordinate_write_keeps_earlier_writes_live():
    text = "def Setup():\n  v1 = bcast(s2)\n  v1[0] = 1.0\ndef Predict():\n  s1 = dot(v1, v0)\n"
    program = parse(text)
    assert eliminate_dead_code(program) == program


def test_random_fills_stay_when_any_is_live():
    # the dead fill draws numbers the live one would otherwise see
    text = ("def Setup():\n  s3 = uniform(0.0, 1.0)\n  s2 = uniform(0.0, 1.0)\n"
            "def Predict():\n  s1 = s2 + s2\n")
    assert eliminate_dead_code(parse(text)) == parse(text)
    no_live_fill = "def Setup():\n  s3 = uniform(0.0, 1.0)\ndef Predict():\n  s1 = s0 + s0\n"
    assert simplified_text(no_live_fill) == ("def Setup():\ndef Predict():\n  s1 = s0 + s0\n"
                                             "def Learn():\n")


def test_dead_fills_are_evaluated_for_their_draws_only():
    """analyze's live code hands a fill kept only for its draws to the backends as
    draws_only; the simplified program a user sees keeps it as written, and the key is the
    same as before."""
    program = parse("def Setup():\n  s3 = uniform(0.0, 1.0)\n  s2 = gaussian(0.5, 2.0)\n"
                    "  v1 = gaussian(0.0, 1.0)\ndef Predict():\n  s1 = s2 + s2\n")
    key, has_random, (setup, predict, _) = analyze(program)
    assert has_random
    assert setup == (draws_only(program.setup[0].op), program.setup[1],
                     draws_only(program.setup[2].op))
    assert all(ins.out == DRAWS_ONLY for ins in (setup[0], setup[2]))
    assert predict == program.predict
    assert eliminate_dead_code(program) == program
    # fills that change nothing but their parameters: the same run, the same key
    other = parse(print_program(program).replace("uniform(0.0, 1.0)", "uniform(3.0, 4.0)"))
    assert analyze(other)[2][0] == setup
    assert analyze(other)[0] != key  # the key is the kept code's, as written


def test_analyze_key_ignores_dead_code_only():
    a = parse("def Predict():\n  s1 = dot(v0, v1)\n  s3 = s2 * s2\n")
    b = parse("def Predict():\n  s2 = s3 * s3\n  s1 = dot(v0, v1)\n")
    c = parse("def Predict():\n  s1 = dot(v0, v2)\n")
    assert analyze(a)[0] == analyze(b)[0]
    assert analyze(a)[0] != analyze(c)[0]
    assert analyze(parse("def Setup():\n  s2 = gaussian(0.0, 1.0)\ndef Predict():\n"
                         "  s1 = s2 + s2\n"))[1]
    assert not analyze(a)[1]


ALL_OPS = SearchSpace(MEMORY, 3, {c: ComponentConfig(OPS, 5) for c in ("setup", "predict",
                                                                       "learn")})


@settings(max_examples=60)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3))
def test_simplified_programs_predict_identically(seed, eval_seed):
    """Over random programs of every op: the same fitness and the same FEC error records,
    bit for bit, and never more instructions."""
    program = random_program(random.Random(seed), ALL_OPS)
    simplified = eliminate_dead_code(program)
    assert len(simplified) <= len(program)
    backend = NumpyBackend()
    options = EvalOptions(seed=eval_seed)
    full = backend.run(program, TASKS, MEMORY, options, record=True)
    short = backend.run(simplified, TASKS, MEMORY, options, record=True)
    assert np.array_equal(full.fitness, short.fitness)
    assert np.array_equal(full.n_train_errors, short.n_train_errors)
    assert np.array_equal(full.train_errors, short.train_errors)
    assert np.array_equal(full.valid_errors, short.valid_errors)
    assert eliminate_dead_code(simplified) == simplified  # idempotent


def test_keys_never_mix_value_id_generations(monkeypatch):
    """Value ids are reset when their table fills, possibly in the middle of an analysis: a
    key then comes from the new ids only (a mixed key could equal another program's)."""
    monkeypatch.setattr(dce, "CACHE_LIMIT", 5)
    monkeypatch.setattr(dce, "BODY_LIMIT", 5)
    for k in range(30):
        program = parse(f"def Setup():\n  s2 = {k}.5\n  s3 = {k}.25\ndef Predict():\n"
                        f"  s1 = s2 * s3\n  s1 = s1 + s{k % 3 + 1}\n")
        analyze(program)
        for body in dce.live_code(program):
            for ins, *_, value_id in body:
                assert dce._VALUE_IDS.get(ins) == value_id

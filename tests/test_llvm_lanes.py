"""How many tasks share one SIMD value (amzc/backends/llvm/layout.py: lanes_for), and that
the width changes only the speed: every width gives bit-identical fitness, also with random
fills, and the search's defaults follow the rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT, load_bench

from amzc.backends.llvm import LlvmBackend
from amzc.backends.llvm.layout import LANE_WIDTHS, Shape, lanes_for
from amzc.evaluate import EvalOptions
from amzc.parse import parse
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks

lanes_bench = load_bench("lanes")


@pytest.mark.parametrize(("num_tasks", "lanes"), [
    (1, 2), (2, 2), (3, 4), (4, 4), (5, 8), (8, 8), (9, 16), (10, 16), (16, 16),
    # beyond 16, the width whose groups pad least: 20 tasks as 3 × 8 lanes, not 2 × 16
    (17, 8), (20, 8), (22, 8), (32, 16), (100, 16),
    (0, 2)])  # no task set is empty, but the rule does not break on one
def test_lanes_for(num_tasks, lanes):
    assert lanes_for(num_tasks) == lanes


def test_up_to_sixteen_tasks_the_width_is_the_next_power_of_two():
    for k in range(1, 17):
        assert lanes_for(k) == max(2, 1 << (k - 1).bit_length())


def test_the_default_shape_uses_the_rule():
    tasks = build_tasks(TaskSpec("nonlinear", 8, 20, 10, 20))
    assert Shape.of(MemoryConfig(4, 8, 2), tasks).lanes == 8


# Figure 5's kind of program: Gaussian fills (random streams), a hidden layer, a ReLU
NETWORK = """\
def Setup():
  m0 = gaussian(0.0, 0.5)
  v1 = gaussian(0.0, 0.5)
  s2 = 0.01
def Predict():
  v2 = dot(m0, v0)
  v3 = maximum(v2, v4)
  s1 = dot(v3, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v5 = s3 * v3
  v1 = v1 + v5
  v6 = s3 * v1
  v7 = heaviside(v2)
  v6 = v6 * v7
  m1 = outer(v6, v0)
  m0 = m0 + m1
"""


@pytest.mark.parametrize("mode", ["interpret", "compile"])
def test_every_width_gives_bit_identical_results(mode):
    program = parse(NETWORK)
    tasks = build_tasks(TaskSpec("nonlinear", 8, 50, 20, 20))
    memory, options = MemoryConfig(4, 8, 2), EvalOptions(seed=3)
    runs = {w: LlvmBackend(mode=mode, lanes=w, shared=False).run(program, tasks, memory,
                                                                    options)
            for w in LANE_WIDTHS}
    for w in LANE_WIDTHS:
        assert np.array_equal(runs[w].fitness, runs[16].fitness)
    assert len(set(runs[16].fitness.tolist())) > 1  # the tasks do differ


def test_every_width_gives_the_same_fingerprints():
    """The search's FEC fingerprints (a short recorded run, hashed natively) do not depend on
    the width either: a cache filled at one width serves another."""
    program = parse(NETWORK)
    tasks = build_tasks(TaskSpec("nonlinear", 8, 50, 20, 20))
    options = EvalOptions(seed=1, max_train_steps=10, max_valid_steps=10)
    prints = {w: LlvmBackend(mode="interpret", lanes=w, shared=False).fingerprints(
        program, tasks, MemoryConfig(4, 8, 2), options) for w in LANE_WIDTHS}
    assert all(prints[w] == prints[16] for w in LANE_WIDTHS)
    assert len(prints[16]) == 20


def test_the_bench_end_to_end(tmp_path):
    out = tmp_path / "lanes.json"
    code = lanes_bench.main(["--tasks", "3,20", "--mutants", "2", "--repeats", "1",
                             "--starts", str(ROOT / "bench" / "figure5_start" / "rung2b.amz"),
                             "--out", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["num_tasks"] for r in rows] == [3, 20]
    assert [r["chosen_lanes"] for r in rows] == [4, 8]
    assert all(r["bit_identical"] for r in rows)
    assert set(rows[1]["us_per_eval"]) == {str(w) for w in LANE_WIDTHS}


@pytest.mark.parametrize(("argv", "message"), [
    (["--tasks", "5,x"], "--tasks"), (["--tasks", "0"], "--tasks"),
    (["--starts", "no/such.amz"], "no such file")])
def test_the_bench_rejects_bad_arguments(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit):
        lanes_bench.main([*argv, "--out", str(tmp_path / "x.json")])
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()

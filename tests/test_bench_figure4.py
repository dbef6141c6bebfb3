"""bench/figure4.py: the statistics it reports, and the whole command on a tiny budget."""

from __future__ import annotations

import json
import math

import pytest
from conftest import ROOT, load_bench

figure4 = load_bench("figure4")


def test_katz_ratio_of_equal_rates_is_one_and_covers_it():
    ratio, low, high = figure4.katz_ratio(10, 20, 10, 20)
    assert ratio == pytest.approx(1.0)
    assert low < 1.0 < high


def test_katz_ratio_known_value():
    # 12/20 against 3/20: ratio 4, se = sqrt(1/12 - 1/20 + 1/3 - 1/20)
    ratio, low, high = figure4.katz_ratio(12, 20, 3, 20)
    se = math.sqrt(1 / 12 - 1 / 20 + 1 / 3 - 1 / 20)
    assert ratio == pytest.approx(4.0)
    assert low == pytest.approx(4.0 * math.exp(-1.959964 * se))
    assert high == pytest.approx(4.0 * math.exp(1.959964 * se))


def test_katz_ratio_with_a_zero_count_is_finite():
    ratio, low, high = figure4.katz_ratio(5, 10, 0, 10)
    assert math.isfinite(ratio) and ratio > 1.0 and low < ratio < high


def test_wilson_interval():
    low, high = figure4.wilson(0, 10)
    assert low == 0.0 and 0.25 < high < 0.35
    low, high = figure4.wilson(5, 10)
    assert low < 0.5 < high


def _runs(level, method, successes, n, individuals):
    return [{"level": level, "method": method, "seed": i, "success": i < successes,
             "individuals": individuals, "final_fitness": 0.0, "cpu_s": 1.0} for i in range(n)]


def test_summary_difficulty_from_random_search():
    level = next(lv for lv in figure4.LEVELS if lv.name == "L1")
    runs = _runs("L1", "evolution", 8, 10, 500) + _runs("L1", "random", 2, 10, 1000)
    (row,) = figure4.summarize(runs, [level], 10, 1000)
    assert row["difficulty"] == pytest.approx(10 * 1000 / 2)  # individuals per RS success
    assert not row["difficulty_is_lower_bound"]
    assert row["ratio"] == pytest.approx(4.0)
    runs = _runs("L1", "evolution", 1, 10, 1000) + _runs("L1", "random", 0, 10, 1000)
    (row,) = figure4.summarize(runs, [level], 10, 1000)
    assert row["difficulty_is_lower_bound"] and row["ratio_is_lower_bound"]
    assert row["difficulty"] == pytest.approx(10_000 / -math.log(0.05))  # rule of three


def test_config_text_parses_for_every_level(tmp_path):
    from amzc.search.config import parse_config

    for level in figure4.LEVELS:
        for method in ("evolution", "random"):
            cfg = parse_config(figure4.config_text(level, method, 1234, tmp_path), "f4.toml",
                               base_dir=ROOT, seed=1)
            assert cfg.strategy == method and cfg.stop.max_individuals == 1234


def test_function_levels_are_solved_by_their_program(tmp_path):
    """Each fixed-function level's target is exactly computable in its Predict size and ops:
    the written solution scores above the success threshold."""
    from amzc import EvalOptions, evaluate, parse
    from amzc.search.config import parse_config
    from amzc.tasks import build_tasks

    solutions = {
        "F1": "def Predict():\n  s1 = mean(v0)\n",
        "F2": "def Predict():\n  s2 = mean(v0)\n  s1 = s2 * s2\n",
        "F4": "def Predict():\n  s2 = mean(v0)\n  s3 = norm(v0)\n  s3 = s2 + s3\n"
              "  s1 = s3 * s2\n",
        "F5": "def Predict():\n  s2 = mean(v0)\n  s3 = norm(v0)\n  s3 = s2 * s3\n"
              "  s3 = s3 + s2\n  s1 = s3 * s2\n",
    }
    for level in figure4.LEVELS:
        if level.target is None:
            continue
        cfg = parse_config(figure4.config_text(level, "evolution", 1000, tmp_path), "f4.toml",
                           base_dir=ROOT, seed=1)
        program = parse(solutions[level.name])
        assert len(program.predict) == level.sizes[1]
        fitness = evaluate(program, build_tasks(cfg.final_tasks.spec),
                           cfg.search_space.memory, options=EvalOptions()).fitness
        assert fitness > figure4.SUCCESS, level.name


def test_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "f4.json"
    assert figure4.main(["--experiments", "1", "--budget", "1100", "--levels", "F1,L1",
                         "--workers", "1", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [row["level"] for row in data["levels"]] == ["F1", "L1"]
    assert data["revision"] == figure4.git_revision()  # the code the runs measured
    # mean(x) is one instruction in 18: both methods find it among the first individuals
    f1 = data["levels"][0]
    assert f1["evolution_successes"] == f1["random_successes"] == 1
    assert {r["method"] for r in data["runs"]} == {"evolution", "random"}
    assert all(r["individuals"] >= 1000 for r in data["runs"] if r["level"] == "L1")
    assert out.with_suffix(".png").stat().st_size > 10_000
    assert "F1" in capsys.readouterr().out

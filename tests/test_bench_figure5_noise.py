"""bench/figure5_noise.py: a program's search fitness over evaluation seeds. A program whose
prediction reads a random fill scores differently under each seed; one without random fills
scores the same under all; the ladder's rungs are scored on the same search tasks."""

from __future__ import annotations

import json

import pytest
from conftest import load_bench

noise = load_bench("figure5_noise")

RANDOM_FLOORS = """def Setup():
  v3 = gaussian(0.0, 1.0)
  s3 = 0.01
def Predict():
  v5 = maximum(v0, v3)
  s1 = dot(v5, v6)
def Learn():
  s2 = s0 - s1
  s2 = s3 * s2
  v5 = s2 * v5
  v6 = v6 + v5
"""


def _run(tmp_path, text: str, *extra: str) -> dict:
    program = tmp_path / "p.amz"
    program.write_text(text)
    out = tmp_path / "noise.json"
    assert noise.main(["--program", str(program), "--run-seed", "4", "--evals", "3",
                       "--final-evals", "2", "--rates", "0.01", "--out", str(out),
                       *extra]) == 0
    return json.loads(out.read_text())


def test_random_floors_score_a_different_sample_under_each_seed(tmp_path, capsys):
    data = _run(tmp_path, RANDOM_FLOORS, "--logged", "0.5")
    assert data["run_seed"] == 4 and data["search_tasks"] == 20  # the config's 20
    assert len(set(data["search"]["values"])) == 3 and data["search"]["sd"] > 0
    assert len(data["final"]["values"]) == 2
    assert set(data["rungs_on_search_tasks"]) == set(noise.RUNGS)
    assert "sd)" in capsys.readouterr().out  # the logged fitness in standard deviations


def test_a_program_without_random_fills_scores_the_same_under_every_seed(tmp_path):
    source = (noise.ladder.LADDER / "1_linear.amz").read_text()
    linear = noise.ladder.RATE_LINE.sub(lambda m: f"{m['head']}0.01{m['tail']}", source)
    data = _run(tmp_path, linear)
    assert data["search"]["sd"] == 0.0 and len(set(data["search"]["values"])) == 1
    # the rung itself, at the same rate and on the same tasks
    rung = data["rungs_on_search_tasks"]["1_linear"]
    assert rung["learning_rate"] == 0.01
    assert rung["fitness"] == pytest.approx(data["search"]["mean"])


def test_a_missing_program_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        noise.main(["--program", str(tmp_path / "none.amz"), "--run-seed", "1"])
    assert exit_info.value.code == 2
    assert "none.amz" in capsys.readouterr().err

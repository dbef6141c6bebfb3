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


def _run(tmp_path, text: str, *extra: str, seed: int = 4) -> dict:
    program = tmp_path / "p.amz"
    program.write_text(text)
    out = tmp_path / "noise.json"
    assert noise.main(["--program", str(program), "--run-seed", str(seed), "--evals", "3",
                       "--final-evals", "2", "--rates", "0.01,0.03", "--out", str(out),
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
    linear = noise.ladder.with_rate(source, 0.003)
    data = _run(tmp_path, linear)
    assert data["search"]["sd"] == 0.0 and len(set(data["search"]["values"])) == 1
    # rung 1 at 0.003 (the ladder's best on the final tasks) beats 0.01 and 0.03 on these
    # tasks too: the sweep's best is the program scored above, on the same tasks
    rung = data["rungs_on_search_tasks"]["1_linear"]
    assert set(rung["sweep"]) == {"0.01", "0.03"}
    assert rung["fitness"] == max(rung["sweep"].values())
    assert rung["fitness"] < data["search"]["mean"]
    assert data["search"]["mean"] != data["final"]["mean"]


def test_the_search_tasks_are_the_ones_the_run_seed_draws(tmp_path):
    linear = (noise.ladder.LADDER / "1_linear.amz").read_text()
    means = {_run(tmp_path, linear, seed=seed)["search"]["mean"] for seed in (4, 5)}
    assert len(means) == 2  # the config's tasks are drawn per run seed


@pytest.mark.parametrize(("text", "message"), [
    (None, "No such file"),
    ("def Setup():\n  s2 = \n", "p.amz:2"),  # a syntax error names the file and line
    ("def Predict():\n  s1 = sin(s2)\n", "sin"),  # an op outside the search space
    (RANDOM_FLOORS, "--evals"),
])
def test_bad_input_is_a_usage_error_without_a_traceback(tmp_path, capsys, text, message):
    program = tmp_path / "p.amz"
    if text is not None:
        program.write_text(text)
    extra = ["--evals", "0"] if message == "--evals" else []
    with pytest.raises(SystemExit) as exit_info:
        noise.main(["--program", str(program), "--run-seed", "1", *extra])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_also_scores_further_programs_as_the_program_is(tmp_path, capsys):
    linear = noise.ladder.with_rate((noise.ladder.LADDER / "1_linear.amz").read_text(), 0.003)
    step = tmp_path / "step.amz"
    step.write_text(linear)
    data = _run(tmp_path, RANDOM_FLOORS, "--also", str(step))
    alone = _run(tmp_path, linear)
    assert data["also"]["step.amz"]["search"] == alone["search"]
    assert data["also"]["step.amz"]["final"] == alone["final"]
    assert "step.amz: search tasks" in capsys.readouterr().out
    bad = tmp_path / "bad.amz"
    bad.write_text("def Predict():\n  s1 = sin(s2)\n")
    for extra in (["--also", str(tmp_path / "missing.amz")], ["--also", str(bad)],
                  ["--also", str(tmp_path / "p.amz")]):  # a name --program has
        with pytest.raises(SystemExit) as exit_info:
            _run(tmp_path, RANDOM_FLOORS, *extra)
        assert exit_info.value.code == 2

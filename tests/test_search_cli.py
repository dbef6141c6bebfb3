"""`amzc evolve` and `amzc simplify` on the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from amzc.cli import app

runner = CliRunner()

TINY = """
[run]
name = "tiny"
backend = "numpy"
[tasks.search]
num_train = 20
num_valid = 10
num_tasks = 3
[tasks.final]
num_train = 40
num_tasks = 4
[ops]
setup = ["scalar_const_set"]
predict = ["vector_inner_product"]
learn = ["scalar_diff", "scalar_product", "scalar_vector_product", "vector_sum"]
[sizes]
setup = { init = 2 }
predict = { init = 1 }
learn = { init = 4 }
[population]
size = 20
tournament = 4
[fec]
enabled = true
[stop]
max_individuals = 120
"""

LINEAR_WITH_DEAD_CODE = """def Setup():
  s2 = 0.2
  s3 = 0.5
def Predict():
  s1 = dot(v0, v1)
  v2 = v0 + v0
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
  s2 = s2 * s2
"""


def test_evolve_writes_a_run_and_prints_the_program(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "run"
    result = runner.invoke(app, ["evolve", "-c", str(config), "--seed", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "final fitness" in result.output and "def Learn():" in result.output
    saved = json.loads((out / "result.json").read_text())
    assert saved["seed"] == 2 and saved["individuals"] == 120
    assert (out / "best.amz").read_text() in result.output


def test_evolve_prints_the_baselines_on_the_final_tasks(tmp_path):
    (tmp_path / "lr.amz").write_text(LINEAR_WITH_DEAD_CODE)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.replace("[run]", '[run]\nbaselines = ["lr.amz"]', 1))
    result = runner.invoke(app, ["evolve", "-c", str(config), "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    score = saved["baselines"][0]["final_fitness"]
    assert f"lr.amz: final fitness {score:.6f} on the same tasks" in result.output


def test_evolve_quiet_prints_one_line(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    result = runner.invoke(app, ["evolve", "-c", str(config), "-o", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("final fitness")


def test_evolve_errors_are_one_line(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    cases = [
        ([], "give either --config"),
        (["-c", str(config), "--resume", str(tmp_path)], "give either --config"),
        (["-c", str(tmp_path / "missing.toml")], "no such config file"),
        (["-c", str(config), "--backend", "gpu"], "backend must be auto"),
        (["--resume", str(tmp_path)], "no checkpoint"),
        (["--resume", str(tmp_path), "--set", "stop.max_individuals=5"], "--set applies to a "
         "new run"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["evolve", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_evolve_set_overrides_the_config_and_records_it(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / "r"
    result = runner.invoke(app, ["evolve", "-q", "-c", str(config), "-o", str(out),
                                 "--set", "stop.max_individuals=60", "--set",
                                 "population.size = 10", "--set", "run.backend=numpy"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "result.json").read_text())["individuals"] == 60
    recorded = (out / "config.toml").read_text()
    assert "max_individuals = 60" in recorded and "size = 10" in recorded
    assert recorded.startswith(f"# {config}, overridden: stop.max_individuals = 60")


@pytest.mark.parametrize("setting, message", [
    ("stop.max_individual=60", "--set: unknown key 'stop.max_individual'; did you mean "
                               "'max_individuals'?"),
    ("stop.max_time_s=nan", "--set: stop.max_time_s: must be a finite number, got nan"),
    ("run.max_abs_error=-1", "--set: run.max_abs_error: must be ≥ 0.0, got -1.0"),
    ("population.size", "--set population.size: expected KEY=VALUE"),
])
def test_evolve_set_errors_name_the_key(tmp_path, setting, message):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    result = runner.invoke(app, ["evolve", "-q", "-c", str(config), "-o", str(tmp_path / "r"),
                                 "--set", setting])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_evolve_a_non_utf8_config_is_one_message(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_bytes(TINY.encode() + b"# \xe9\n")
    result = runner.invoke(app, ["evolve", "-q", "-c", str(config), "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "not a UTF-8 text file" in result.output and "Traceback" not in result.output


def test_simplify_removes_dead_code_and_checks_fitness(tmp_path):
    path = tmp_path / "p.amz"
    path.write_text(LINEAR_WITH_DEAD_CODE)
    written = tmp_path / "simple.amz"
    result = runner.invoke(app, ["simplify", str(path), "--write", str(written)])
    assert result.exit_code == 0, result.output
    assert "v2 = v0 + v0" not in result.output and "s3 = 0.5" not in result.output
    assert "s2 = s2 * s2" in result.output  # s2 is read by the next Learn: live
    assert "9 → 7 instructions" in result.output and "unchanged" in result.output
    assert written.read_text() in result.output


def test_live_display_in_a_file_ends_its_last_panel_with_a_line_end():
    """`amzc evolve ... > log 2>&1`: the line printed after the display starts on its own."""
    import io

    from rich.console import Console

    from amzc.search.progress import LiveDisplay, Snapshot

    buffer = io.StringIO()
    display = LiveDisplay("demo", Console(file=buffer, force_terminal=False, width=80))
    display.update(Snapshot(1, 10, 10, 0.5, 20.0, 0.5, 0.4, 0.8, None, "search",
                            "def Predict():\n  s1 = dot(v0, v1)\n"))
    display.close()
    text = buffer.getvalue()
    assert "s1 = dot(v0, v1)" in text
    assert text.endswith("\n") and text.rstrip("\n").endswith("╯")

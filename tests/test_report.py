"""`amzc plot` and `amzc report` on a run folder in the documented format (docs/evolution.md)."""

import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from amzc.cli import app
from amzc.report.html import number
from amzc.report.plot import (
    DPI,
    HEIGHT_IN,
    MAX_CALLOUTS,
    WIDTH_IN,
    _offsets,
    best_curve,
    callout_points,
    callout_text,
    new_instructions,
    rises,
    y_bottom,
)
from amzc.report.rundir import load_run

PROGRAMS = [
    "def Setup():\ndef Predict():\ndef Learn():\n",
    "def Setup():\ndef Predict():\n  s1 = dot(v0, v1)\ndef Learn():\n",
    "def Setup():\n  s2 = 0.1\ndef Predict():\n  s1 = dot(v0, v1)\ndef Learn():\n"
    "  s3 = s0 - s1\n  s3 = s2 * s3\n  v2 = s3 * v0\n  v1 = v1 + v2\n",
]


def make_run(folder: Path, experiments: int = 1, torn_tail: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for e in range(experiments):
        for i, n in enumerate(range(0, 5000, 500)):
            lines.append({"kind": "progress", "experiment": e, "individuals": n,
                          "elapsed_s": n / 1000, "individuals_per_s": 1000.0,
                          "best_fitness": min(0.4 + 0.06 * i, 1.0), "mean_fitness": 0.3 + 0.03 * i,
                          "fec_hit_rate": 0.5})
        points = zip((0, 1500, 4000), (0.37, 0.6, 0.99995), PROGRAMS, strict=True)
        for n, fitness, program in points:
            lines.append({"kind": "best", "experiment": e, "individuals": n, "fitness": fitness,
                          "program": program})
        lines.append({"kind": "experiment_end", "experiment": e, "select_fitness": 0.99})
    text = "\n".join(json.dumps(r) for r in lines) + "\n"
    if torn_tail:
        text += '{"kind": "progress", "exper'
    (folder / "progress.jsonl").write_text(text)
    (folder / "result.json").write_text(json.dumps({
        "final_fitness": 0.99993, "select_fitness": 0.99995, "program": PROGRAMS[2],
        "per_task": [0.9999, 0.99996], "individuals": 5000, "fec": {"hit_rate": 0.52},
        "baselines": [{"file": "/x/logistic_regression.amz", "final_fitness": 0.987654,
                       "final_per_task": [0.98, 0.99]}]}))
    (folder / "best.amz").write_text(PROGRAMS[2])
    (folder / "best_simplified.amz").write_text(PROGRAMS[2])
    (folder / "config.toml").write_text("population_size = 100\n")
    return folder


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_png_of_the_expected_size(tmp_path):
    run = make_run(tmp_path / "run", experiments=2)
    result = CliRunner().invoke(app, ["plot", str(run)])
    assert result.exit_code == 0, result.output
    assert png_size(run / "progress.png") == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))


def test_plot_output_option_and_torn_last_line(tmp_path):
    run = make_run(tmp_path / "run", torn_tail=True)
    out = tmp_path / "pics" / "p.png"
    result = CliRunner().invoke(app, ["plot", str(run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000


def test_new_instructions_lists_what_a_best_program_added():
    added = new_instructions(PROGRAMS[1], PROGRAMS[2])
    assert "Setup: s2 = 0.1" in added and "Learn: v1 = v1 + v2" in added
    assert "Predict: s1 = dot(v0, v1)" not in added
    assert new_instructions(None, PROGRAMS[1]) == ["Predict: s1 = dot(v0, v1)"]


def test_callouts_label_the_largest_improvements_not_an_experiments_start():
    def best(experiment, fitness, program):
        return {"kind": "best", "experiment": experiment, "fitness": fitness, "program": program}

    bests = [best(1, 0.3, PROGRAMS[2]),  # a good start: no callout, it changed nothing
             best(1, 0.5, PROGRAMS[1]),  # only removed instructions
             best(1, 0.9, PROGRAMS[2]),  # +0.4 with new instructions
             best(1, 0.8, PROGRAMS[0]),  # a loss (the best aged out)
             best(2, 0.95, PROGRAMS[1]),  # experiment 2 starts
             best(2, 0.96, PROGRAMS[2])]
    points = callout_points(bests)
    assert [i for i, _ in points] == [2, 5]
    assert "Learn: v1 = v1 + v2" in points[0][1]
    many = [best(1, i / 100, PROGRAMS[i % 2 + 1]) for i in range(40)]
    assert len(callout_points(many)) == MAX_CALLOUTS


def test_fitness_axis_zooms_in_only_when_every_value_is_high():
    assert y_bottom([0.3, 0.99]) == 0.0
    assert y_bottom([-0.2, 0.5]) == -0.2
    assert y_bottom([0.83, 0.97, 0.99]) == 0.8
    assert y_bottom([0.96, 0.98]) == 0.95
    assert y_bottom([]) == 0.0


def test_report_is_self_contained_html_with_program_and_tasks(tmp_path):
    run = make_run(tmp_path / "run")
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "data:image/png;base64," in page
    assert "dot" in page and "v1" in page and "0.999960" in page  # program and per-task table
    assert "population_size" in page and "hit rate" in page
    assert "baseline logistic_regression.amz" in page and "0.987654" in page
    assert "<link" not in page and "src='http" not in page  # nothing fetched from elsewhere


@pytest.mark.parametrize("command", ["plot", "report"])
def test_missing_or_bad_run_folder_is_a_clear_error(tmp_path, command):
    runner = CliRunner()
    missing = runner.invoke(app, [command, str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such run folder" in missing.output
    (tmp_path / "empty").mkdir()
    empty = runner.invoke(app, [command, str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "progress.jsonl" in empty.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "progress.jsonl").write_text("not json\n{}\n")
    broken = runner.invoke(app, [command, str(bad)])
    assert broken.exit_code == 2 and "progress.jsonl:1" in broken.output
    assert "Traceback" not in missing.output + empty.output + broken.output


def test_load_run_keeps_records_by_kind(tmp_path):
    run = load_run(make_run(tmp_path / "r", experiments=2))
    assert len(run.progress) == 20 and len(run.bests) == 6 and len(run.experiments) == 2


def test_the_best_line_passes_through_every_new_best(tmp_path):
    run = load_run(make_run(tmp_path / "run", experiments=2))
    offsets = _offsets(run)
    for e in (0, 1):
        xs, ys = best_curve(run, e, offsets)
        assert xs == sorted(xs)
        points = set(zip(xs, ys, strict=True))
        for best in (b for b in run.bests if b["experiment"] == e):
            assert (best["individuals"] + offsets[e], best["fitness"]) in points


def test_only_rises_of_the_best_fitness_are_marked():
    bests = [{"experiment": 0, "fitness": f} for f in (0.3, 0.3, 0.5, 0.4, 0.5, 0.6)]
    bests.append({"experiment": 1, "fitness": 0.1})
    assert rises(bests) == [0, 2, 5, 6]


def test_callouts_list_live_code_only_and_fit_their_box():
    dead = PROGRAMS[1].replace("def Setup():\n", "def Setup():\n  s5 = 0.7\n  v3 = v0 + v0\n")
    bests = [{"experiment": 0, "fitness": 0.3, "program": PROGRAMS[0]},
             {"experiment": 0, "fitness": 0.6, "program": dead}]
    assert callout_points(bests) == [(1, ["Predict: s1 = dot(v0, v1)"])]
    text = callout_text(["Learn: " + "s1 = s1 + s1; " * 5] * 6)
    lines = text.splitlines()
    assert len(lines) == 5 and lines[-1] == "(+2 more)" and all(len(x) <= 28 for x in lines)


def test_report_numbers_and_title(tmp_path):
    assert number("elapsed_s", 19.693364224) == "19.7 s"
    assert number("individuals_per_s", 35289.755) == "35,290"
    assert number("fec_hit_rate", 0.8280986) == "82.8 %"
    assert number("individuals", 694974) == "694,974"
    assert number("final_fitness", 0.99993) == "0.999930"
    assert number("hurdle_stop_rate", None) == "-"
    run = make_run(tmp_path / "run")
    CliRunner().invoke(app, ["report", str(run)])
    page = (run / "report.html").read_text()
    assert "<title>amzc evolve: run</title>" in page and "amzc run" not in page
    assert "5,000" in page and "52.0 %" in page


"""The ``amzc`` command line: run / check / fmt, and errors a user can read — one message, a
non-zero exit code and never a traceback (docs/language.md, Errors)."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from amzc.cli import app
from amzc.evaluate import EvalOptions, evaluate
from amzc.parse import parse_file
from amzc.syntax import MemoryConfig
from amzc.tasks import TaskSpec, build_tasks

runner = CliRunner()

LINEAR = """\
def Setup():
  s2 = 0.2
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(result, *fragments: str, code: int = 2) -> str:
    output = result.output
    assert result.exit_code == code, output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for fragment in fragments:
        assert fragment in output, output
    return output


# ---------------------------------------------------------------------------------------------
# Errors


def test_syntax_error_names_file_line_column_and_shows_a_caret(tmp_amz):
    path = tmp_amz("def Predict():\n  s1 = s2 +\n", "syn.amz")
    for command in ("run", "check", "fmt"):
        output = assert_user_error(invoke(command, path), f"{path}:2:12: syntax error")
        lines = output.splitlines()
        at = next(i for i, line in enumerate(lines) if line.strip() == "s1 = s2 +")
        assert lines[at + 1] == " " * 13 + "^"


def test_type_error_names_the_instruction_and_suggests_forms(tmp_amz):
    path = tmp_amz("def Predict():\n  s1 = dot(v0, s2)\n", "typ.amz")
    assert_user_error(invoke("check", path), f"{path}:2:8: type error",
                      "no op dot(vector, scalar) in 'dot(v0, s2)'", "s = dot(v, v)",
                      "v = dot(m, v)", "s3 = s2 * v0")


def test_address_beyond_memory(tmp_amz):
    path = tmp_amz("def Learn():\n  s2 = s0 - s1\n")
    for command in ("run", "check"):
        assert_user_error(invoke(command, path, "--memory", "2,2,0"), f"{path}:2:3",
                          "address error", "s2 is beyond the memory", "--memory")


def test_index_beyond_f(tmp_amz):
    path = tmp_amz("def Setup():\n  v1[7] = 1.0\n")
    assert_user_error(invoke("check", path), "index 7 is beyond the feature size F = 4")
    assert invoke("check", path, "--features", "8").exit_code == 0


def test_unknown_op(tmp_amz):
    path = tmp_amz("def Setup():\n  s1 = frob(s2)\n")
    assert_user_error(invoke("run", path), f"{path}:2:8", "unknown op 'frob'",
                      "known functions")


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.amz"
    for command in ("run", "check", "fmt"):
        assert_user_error(invoke(command, missing), "nope.amz", "no such file")


def test_directory_and_undecodable_file(tmp_path):
    assert_user_error(invoke("check", tmp_path), "is a directory")
    binary = tmp_path / "bin.amz"
    binary.write_bytes(b"\xff\xfe\xfa")
    assert_user_error(invoke("check", binary), "cannot read")


@pytest.mark.parametrize(
    "options, fragment",
    [
        (["--task", "quadratic"], "unknown task"),
        (["--backend", "cuda"], "unknown backend"),
        (["--combine", "geometric"], "--combine must be mean or median"),
        (["--memory", "abc"], "--memory"),
        (["--memory", "1,1,1"], "at least 2 scalars"),
        (["--features", "0"], "features must be"),
        (["--task", "nonlinear", "--features", "2"], "≥ 3"),
        (["--train", "0"], "training examples"),
        (["--valid", "0"], "validation examples"),
        (["--tasks", "0"], "tasks"),
        (["--epochs", "0"], "epochs"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_amz, options, fragment):
    output = assert_user_error(invoke("run", tmp_amz(LINEAR), *options), fragment)
    assert len(output.strip().splitlines()) <= 2


@pytest.mark.parametrize("options", [["--bogus"], ["--features", "abc"], ["--train", "1.5"]])
def test_invalid_options_are_usage_errors(tmp_amz, options):
    assert_user_error(invoke("run", tmp_amz(LINEAR), *options), "Usage", code=2)


def test_no_arguments_shows_help():
    result = invoke()
    assert result.exit_code in (0, 2) and "Usage" in result.output
    assert "run" in result.output and "check" in result.output and "fmt" in result.output


# ---------------------------------------------------------------------------------------------
# Commands that work


def test_check_reports_ok(tmp_amz):
    path = tmp_amz(LINEAR)
    result = invoke("check", path)
    assert result.exit_code == 0 and "ok" in result.output and "memory 4,3,0" in result.output
    result = invoke("check", path, "--memory", "4,3,1", "--features", "8")
    assert result.exit_code == 0 and "4,3,1" in result.output and "F=8" in result.output


def test_run_json_matches_the_library(tmp_amz):
    path = tmp_amz(LINEAR)
    result = invoke("run", path, "--json", "--tasks", "3", "--train", "50", "--valid", "20",
                    "--features", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["memory"] == "4,3,0" and report["features"] == 3 and report["tasks"] == 3
    tasks = build_tasks(TaskSpec("linear", 3, 50, 20, 3))
    expected = evaluate(parse_file(path), tasks, MemoryConfig(4, 3, 0))
    assert report["fitness"] == expected.fitness
    assert report["per_task"] == [float(f) for f in expected.per_task]


def test_run_text_output_and_verbose_table(tmp_amz):
    path = tmp_amz(LINEAR)
    result = invoke("run", path, "--tasks", "2")
    assert result.exit_code == 0
    assert result.stdout.startswith("fitness 0.") and "mean of 2 linear tasks" in result.stdout
    verbose = invoke("run", path, "--tasks", "2", "--verbose")
    assert verbose.exit_code == 0 and "task" in verbose.stdout and verbose.stdout.count("0.") >= 3


def test_run_seed_and_combine(tmp_amz):
    path = tmp_amz("def Predict():\n  s1 = s2 + s2\n")  # always predicts 0

    def fitness(*options):
        result = invoke("run", path, "--json", "--tasks", "5", *options)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    default, again, other = fitness(), fitness("--seed", "0"), fitness("--seed", "7")
    assert default["fitness"] == again["fitness"] != other["fitness"]
    median = fitness("--combine", "median")
    assert median["fitness"] == sorted(default["per_task"])[5 // 2]
    tasks = build_tasks(TaskSpec("linear", num_tasks=5).reseeded(7))
    zero = 1 - 2 / np.pi * np.arctan(np.sqrt((tasks.valid_y**2).mean(axis=1)))
    np.testing.assert_allclose(other["per_task"], zero, rtol=1e-12)


def test_run_max_abs_error(tmp_amz):
    path = tmp_amz(LINEAR)
    tight = json.loads(invoke("run", path, "--json", "--max-abs-error", "0.01").stdout)
    assert tight["fitness"] == 0.0


def test_run_epochs(tmp_amz):
    path = tmp_amz(LINEAR.replace("0.2", "0.01"))
    one = json.loads(invoke("run", path, "--json").stdout)["fitness"]
    three = json.loads(invoke("run", path, "--json", "--epochs", "3").stdout)["fitness"]
    assert three > one


def test_evaluation_options_reach_the_backend(tmp_amz):
    path = tmp_amz("def Setup():\n  s2 = gaussian(0.0, 1.0)\ndef Predict():\n  s1 = s2 + s3\n")
    report = json.loads(invoke("run", path, "--json", "--tasks", "2", "--seed", "3").stdout)
    tasks = build_tasks(TaskSpec("linear", num_tasks=2).reseeded(3))
    expected = evaluate(parse_file(path), tasks, options=EvalOptions(seed=3))
    assert report["per_task"] == [float(f) for f in expected.per_task]


# ---------------------------------------------------------------------------------------------
# The installed script


@pytest.mark.skipif(shutil.which("amzc") is None, reason="amzc script not installed")
def test_installed_script_reports_errors_without_traceback(tmp_amz):
    bad = tmp_amz("def Predict():\n  s1 = dot(v0, s2)\n", "bad.amz")
    proc = subprocess.run(["amzc", "check", str(bad)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "type error" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout
    proc = subprocess.run(["amzc", "run", str(EXAMPLES / "linear_regression.amz"), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["fitness"] > 0.9999


def test_help_keeps_bracketed_text():
    """Rich markup would swallow "[ray]" and "[migration]" in option help unless escaped."""
    result = invoke("evolve", "--help")
    text = " ".join(result.output.replace("│", " ").split())
    assert "amzc[ray]" in text.replace(" ", "") and "[migration]" in text


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_run_refuses_a_max_abs_error_that_is_not_a_finite_bound(value):
    result = invoke("run", str(EXAMPLES / "linear_regression.amz"), "--max-abs-error", value)
    assert result.exit_code == 2
    assert "--max-abs-error must be a finite number ≥ 0" in result.output


# ---------------------------------------------------------------------------------------------
# Hardening: sizes, inconsistent options, user text that looks like markup, help text


@pytest.mark.parametrize("options, fragment", [
    (["--train", "99999999999"], "the task data needs about"),
    (["--features", "100000000"], "F=100,000,000"),
    (["--tasks", "1000000000"], "1,000,000,000 task(s)"),
    (["--epochs", "10000000000"], "10,000,000,000 epoch(s)"),
    (["--memory", "100000000000000000000,3,1"], "memory 100000000000000000000,3,1"),
    (["--memory", "1e20"], "three non-negative integers"),
    (["--valid-fraction", "2"], "--valid-fraction applies to task data:PATH only"),
    (["--held-out"], "--held-out applies to task digits and cifar10 only"),
    (["--scale-spread", "0.5"], "the scale spread must be a number in [1, 100], not 0.5"),
    (["--seed", "-1"], "--seed"),
])
def test_sizes_beyond_the_machine_and_options_that_cannot_apply(tmp_amz, options, fragment):
    output = assert_user_error(invoke("run", tmp_amz(LINEAR), *options), fragment)
    assert "Error" not in output or "Invalid value" in output  # never a Python exception


def test_scale_spread_changes_the_tasks_a_program_runs_on(tmp_amz):
    path = tmp_amz(LINEAR)
    fitness = [json.loads(invoke("run", path, "--features", "8", "--json", *extra).output)
               ["fitness"] for extra in ([], ["--scale-spread", "1"], ["--scale-spread", "3"])]
    assert fitness[0] == fitness[1] != fitness[2]
    output = assert_user_error(invoke("run", path, "--task", "digits", "--scale-spread", "2"),
                               "--scale-spread applies to task linear and affine and nonlinear")
    assert "Traceback" not in output


def test_feature_scales_change_the_tasks_a_program_runs_on(tmp_amz):
    path = tmp_amz(LINEAR)
    fitness = [json.loads(invoke("run", path, "--features", "8", "--json", *extra).output)
               ["fitness"] for extra in ([], ["--feature-scales", "1"],
                                         ["--feature-scales", "0.35,1"])]
    assert fitness[0] == fitness[1] != fitness[2]
    shown = json.loads(invoke("run", path, "--features", "8", "--json", "--feature-scales",
                              "0.35,1").output)
    assert shown["feature_scales"] == [0.35, 1.0] and shown["scale_spread"] == 1.0
    for options, fragment in ((["--feature-scales", "0.35,x"], "--feature-scales: not a "
                               "comma-separated list of numbers"),
                              (["--feature-scales", "0"], "--feature-scales: each factor must "
                               "lie in [0.01, 100], not '0'"),
                              (["--feature-scales", "nan"], "--feature-scales: each factor"),
                              (["--task", "digits", "--feature-scales", "2"],
                               "--feature-scales applies to task linear")):
        assert "Traceback" not in assert_user_error(invoke("run", path, *options), fragment)


def test_evolve_refuses_a_negative_seed_as_a_config_does(tmp_path):
    assert_user_error(invoke("evolve", "-c", tmp_path / "c.toml", "--seed", "-1"), "--seed")


def test_check_refuses_a_negative_feature_size(tmp_amz):
    assert_user_error(invoke("check", tmp_amz(LINEAR), "--features", "-5"), "--features")


@pytest.mark.parametrize("name", ["lr[test].amz", "[red]r.amz", "[bold]b[not a tag].amz"])
def test_paths_are_printed_as_text_not_markup(tmp_amz, name):
    path = tmp_amz(LINEAR, name)
    result = invoke("check", path)
    assert result.exit_code == 0 and f"{path}: ok" in result.output
    result = invoke("run", path, "--tasks", "2", "--verbose", "--backend", "numpy")
    assert result.exit_code == 0 and name in result.output, result.output
    result = invoke("run", path, "--tasks", "2", "--json", "--backend", "numpy")
    assert json.loads(result.stdout)["file"] == str(path)
    missing = assert_user_error(invoke("check", path.with_name("no" + name)), "no such file")
    assert "no" + name in missing


def test_a_data_path_with_brackets_is_printed_as_given(tmp_path, tmp_amz):
    data = tmp_path / "d[x].csv"
    data.write_text("a,label\n" + "".join(f"{i},{2 * i}\n" for i in range(10)))
    result = invoke("run", tmp_amz(LINEAR), "--task", f"data:{data}", "--backend", "numpy")
    assert result.exit_code == 0 and "data:d[x].csv" in result.output, result.output


@pytest.mark.parametrize("folder", ["exp[seed=1]", "x[/]"])
def test_evolve_reports_its_run_folder_as_given(tmp_path, folder):
    from test_search_cli import TINY

    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    out = tmp_path / folder
    result = invoke("evolve", "-c", config, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'best.amz'}" in result.output and (out / "best.amz").is_file()
    quiet = invoke("evolve", "-c", config, "-o", out, "--force", "-q")
    assert str(out / "result.json") in quiet.output


def test_live_panel_title_is_text(tmp_path):
    import io

    from rich.console import Console

    from amzc.search.progress import LiveDisplay, Snapshot

    file = io.StringIO()
    display = LiveDisplay("amzc evolve → runs/x[/]", Console(file=file, width=100))
    display.update(Snapshot(1, 10, 10, 1.0, 10.0, 0.5, 0.4, None, None, "search", "def Setup():"))
    display.close()
    assert "runs/x[/]" in file.getvalue()


def test_output_paths_are_checked_before_the_work(tmp_path, tmp_amz):
    file = tmp_path / "taken"
    file.write_text("")
    assert_user_error(invoke("evolve", "-c", tmp_path / "c.toml", "--out", file),
                      "is a file, not a folder")
    assert_user_error(invoke("plot", file), "is a file, not a run folder")
    assert_user_error(invoke("report", file), "is a file, not a run folder")
    assert_user_error(invoke("export", tmp_amz(LINEAR), "-o", tmp_path), "is a folder")
    assert_user_error(invoke("simplify", tmp_amz(LINEAR), "-w", file / "x.amz"),
                      "is a file")


def test_files_with_a_byte_order_mark_are_read(tmp_path):
    program = tmp_path / "bom.amz"
    program.write_bytes(b"\xef\xbb\xbf" + LINEAR.encode())
    result = invoke("check", program)
    assert result.exit_code == 0, result.output
    from test_search_cli import TINY

    config = tmp_path / "bom.toml"
    config.write_bytes(b"\xef\xbb\xbf" + TINY.encode())
    result = invoke("evolve", "-c", config, "-o", tmp_path / "run", "-q")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("table, fragment", [
    ('kind = "data"', r'\[tasks.search\]: task data needs a data file: path = "FILE"'),
    ('kind = "digits"\npositive_class = 42\nnegative_class = 1',
     r"\[tasks.search\]: positive_class must be a class id in 0..9, not 42"),
    ("held_out = true",
     r"tasks.search.held_out: task kind linear does not use it \(it applies to digits, cifar10\)"),
    ("valid_fraction = 0.5",
     r"tasks.search.valid_fraction: task kind linear does not use it \(it applies to data\)"),
])
def test_config_task_errors_name_the_file_and_key(tmp_path, table, fragment):
    import re

    config = tmp_path / "c.toml"
    config.write_text(f"[tasks.search]\nfeatures = 4\n{table}\n")
    output = assert_user_error(invoke("evolve", "-c", config, "-o", tmp_path / "r"))
    assert re.search(f"c.toml: {fragment}", output), output


def test_version_flags_and_help_text():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.output == f"amzc {version('amzc')}\n"
    run_help = invoke("run", "--help").output
    assert "--json" in run_help and "<bool>" not in run_help
    text = " ".join(invoke("--help").output.replace("│", " ").split())
    assert "cannot affect predictions; check the fitness is unchanged." in text


# A small fuzz over option values: every value is either used or refused with one message.
FUZZ_VALUES = ["-1", "0", "1", "2", "1e20", "nan", "inf", "99999999999999999999", "[/]", "",
               "x"]
FUZZ_OPTIONS = ["--features", "--train", "--valid", "--tasks", "--epochs", "--seed",
                "--memory", "--combine", "--max-abs-error", "--valid-fraction", "--eval-type",
                "--scale-spread", "--task"]


@pytest.mark.parametrize("option", FUZZ_OPTIONS)
def test_option_values_fuzz(tmp_amz, option):
    path = tmp_amz(LINEAR)
    for value in FUZZ_VALUES:
        result = invoke("run", path, "--backend", "numpy", "--tasks", "2", "--train", "20",
                        "--valid", "10", option, value)
        assert result.exit_code in (0, 2), (option, value, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            (option, value, result.exception)

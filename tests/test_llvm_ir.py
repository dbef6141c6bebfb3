"""``amzc ir`` and the IR it prints: golden pattern files in tests/ir/ (FileCheck-style, checked
with the ``filecheck`` package), so they pin what matters (summation order, no fast-math, no
FMA, NaN-exact selects, the random stream's constants) and survive LLVM's formatting changes.

A pattern file is a program whose comments hold a ``# RUN: amzc ir %s <options>`` line and
CHECK lines."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES
from typer.testing import CliRunner

from amzc.backends.llvm import program_ir
from amzc.cli import app
from amzc.errors import AmzConfigError
from amzc.parse import parse_file
from amzc.syntax import MemoryConfig

IR_TESTS = sorted((Path(__file__).parent / "ir").glob("*.amz"))
runner = CliRunner()


def run_line(path: Path) -> list[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# RUN:"):
            words = shlex.split(line.removeprefix("# RUN:"))
            assert words[:2] == ["amzc", "ir"], line
            return ["ir"] + [str(path) if w == "%s" else w for w in words[2:]]
    raise AssertionError(f"{path}: no RUN line")


def filecheck(check_file: Path, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "filecheck", str(check_file)], input=text,
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize("path", IR_TESTS, ids=lambda p: p.stem)
def test_ir_patterns(path):
    result = runner.invoke(app, run_line(path))
    assert result.exit_code == 0, result.output
    checked = filecheck(path, result.stdout)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_pattern_that_does_not_hold_fails(tmp_path):
    """The harness can fail: summing right to left is rejected."""
    path = Path(__file__).parent / "ir" / "dot_left_to_right.amz"
    wrong = path.read_text().replace("[[S1]], [[P2]]", "[[P2]], [[S1]]")
    bad = tmp_path / "bad.amz"
    bad.write_text(wrong)
    result = runner.invoke(app, run_line(path))
    assert filecheck(bad, result.stdout).returncode != 0


@pytest.mark.parametrize("stage, marker", [("raw", "define void @amz_run("),
                                           ("opt", "define void @amz_run("),
                                           ("asm", "amz_run:")])
def test_stages(stage, marker):
    program = parse_file(EXAMPLES / "linear_regression.amz")
    text = program_ir(program, MemoryConfig(4, 3, 1), 4, stage=stage)
    assert marker in text
    if stage == "raw":  # the program's functions are still separate before optimization
        assert "define internal void @amz_learn(" in text
    if stage == "opt":
        assert "@amz_learn" not in text


def test_cli_ir_defaults_and_options():
    path = str(EXAMPLES / "linear_regression.amz")
    raw = runner.invoke(app, ["ir", path, "--features", "4"])
    assert raw.exit_code == 0 and "<16 x double>" in raw.stdout  # 10 tasks: 16 lanes
    narrow = runner.invoke(app, ["ir", path, "--features", "4", "--tasks", "3"])
    assert narrow.exit_code == 0 and "<4 x double>" in narrow.stdout


@pytest.mark.parametrize("args, message", [
    (["--stage", "bitcode"], "unknown stage 'bitcode'"),
    (["--task", "nosuch"], "unknown task 'nosuch'"),
    (["--tasks", "0"], "--tasks must be at least 1"),
    (["--memory", "1,1,1"], "memory"),
    (["--features", "0"], ""),
])
def test_cli_ir_errors_are_one_line(args, message):
    result = runner.invoke(app, ["ir", str(EXAMPLES / "linear_regression.amz"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_program_ir_rejects_unknown_stage():
    program = parse_file(EXAMPLES / "linear_regression.amz")
    with pytest.raises(AmzConfigError, match="unknown stage"):
        program_ir(program, MemoryConfig(4, 3, 1), 4, stage="nope")

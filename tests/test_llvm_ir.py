"""``amzc ir`` and the IR it prints: golden pattern files in tests/ir/ (FileCheck-style, checked
with the ``filecheck`` package), so they pin what matters (summation order, no fast-math, no
FMA, NaN-exact selects, the random stream's constants) and survive LLVM's formatting changes.

A pattern file is a program whose comments hold a ``# RUN: amzc ir %s <options>`` line and
CHECK lines."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, PROGRAMS
from typer.testing import CliRunner

from amzc.backends.llvm import program_ir
from amzc.backends.llvm.codegen import components_module
from amzc.backends.llvm.jit import PROGRAM_OPT_LEVEL, default_jit
from amzc.backends.llvm.layout import Shape
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
    wrong = path.read_text().replace("%predict.0.t2, %predict.0.t3", "%predict.0.t3, %predict.0.t2")
    bad = tmp_path / "bad.amz"
    bad.write_text(wrong)
    result = runner.invoke(app, run_line(path))
    assert filecheck(bad, result.stdout).returncode != 0


@pytest.mark.parametrize("stage, marker", [("raw", "define internal void @amz_learn("),
                                           ("opt", "define void @amz_run("),
                                           ("asm", "amz_run:")])
def test_stages(stage, marker):
    program = parse_file(EXAMPLES / "linear_regression.amz")
    text = program_ir(program, MemoryConfig(4, 3, 1), 4, stage=stage)
    assert marker in text
    if stage == "raw":  # the program's functions alone, still separate before optimization
        assert "@amz_run" not in text and "--protocol prints the whole module" in text
        assert text.count("define internal void") == 3
        assert len(text.splitlines()) < 150  # five instructions (1,016 lines with the protocol)
    if stage == "opt":
        assert "@amz_learn" not in text


def test_protocol_prints_the_whole_module():
    program = parse_file(EXAMPLES / "linear_regression.amz")
    text = program_ir(program, MemoryConfig(4, 3, 1), 4, protocol=True)
    for function in ("amz_run", "amz_setup", "amz_predict", "amz_learn", "amz_save",
                     "amz_restore", "amz_predict_draws"):
        assert f"@{function}(" in text
    assert "learn.2:  ; line 12: v2 = s3 * v0  # gradient step" in text


def test_components_in_program_order():
    program = parse_file(EXAMPLES / "linear_regression.amz")
    text = program_ir(program, MemoryConfig(4, 3, 1), 4, components=["learn", "setup"])
    assert text.index("@amz_setup(") < text.index("@amz_learn(")
    assert "@amz_predict(" not in text


_LOCAL = re.compile(r"(?m)^([-\w$.]+):|%([-\w$.]+)")


def without_names(text: str) -> str:
    """IR with every local name (values, blocks) replaced by its order of appearance and
    the comments dropped: two modules that differ only in names become equal."""
    table: dict[str, str] = {}

    def local(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        new = table.setdefault(name, f"v{len(table)}")
        return f"{new}:" if match.group(1) else f"%{new}"

    return _LOCAL.sub(local, re.sub(r"\s*;.*", "", text))


@pytest.mark.parametrize("path, features, memory", [
    (EXAMPLES / "linear_regression.amz", 4, MemoryConfig(4, 3, 1)),
    (PROGRAMS / "every_op.amz", 4, MemoryConfig(4, 4, 3)),
    (PROGRAMS / "every_op.amz", 9, MemoryConfig(4, 4, 3)),  # loops
], ids=["readme", "every_op", "every_op_loops"])
def test_names_change_neither_the_optimized_code_nor_the_machine_code(path, features, memory):
    """Names and per-instruction blocks are for the reader: the optimizer merges the blocks,
    and the object code is the same bytes as without them."""
    program = parse_file(path)
    shape = Shape.build(memory, features, 10, "rms")
    jit = default_jit()
    optimized, objects = [], []
    for names in (False, True):
        ref = jit.program(program, shape, names=names)
        jit.optimize(ref, PROGRAM_OPT_LEVEL)
        optimized.append(str(ref))
        objects.append(jit.machine.emit_object(ref))
    named = re.compile(r"%(setup|predict|learn)\.\d")
    assert named.search(optimized[1]) and not named.search(optimized[0])
    assert without_names(optimized[0]) == without_names(optimized[1])
    assert objects[0] == objects[1]


def test_the_search_compiles_without_names():
    """Naming costs IR-building time; only ``amzc ir`` pays it."""
    program = parse_file(EXAMPLES / "linear_regression.amz")
    text = str(components_module(program, Shape.build(MemoryConfig(4, 3, 1), 4, 10, "rms")))
    assert not re.search(r'"(setup|predict|learn)\.\d', text)
    assert '%".5" = getelementptr' in text


def test_cli_ir_defaults_and_options():
    path = str(EXAMPLES / "linear_regression.amz")
    raw = runner.invoke(app, ["ir", path, "--features", "4"])
    assert raw.exit_code == 0 and "<16 x double>" in raw.stdout  # 10 tasks: 16 lanes
    narrow = runner.invoke(app, ["ir", path, "--features", "4", "--tasks", "3"])
    assert narrow.exit_code == 0 and "<4 x double>" in narrow.stdout
    two = runner.invoke(app, ["ir", path, "--component", "predict", "--component", "setup"])
    assert two.exit_code == 0 and two.stdout.count("define internal void") == 2
    assert "@amz_learn(" not in two.stdout
    whole = runner.invoke(app, ["ir", path, "--protocol"])
    assert whole.exit_code == 0 and "define void @amz_run(" in whole.stdout


@pytest.mark.parametrize("args, message", [
    (["--stage", "bitcode"], "unknown stage 'bitcode'"),
    (["--task", "nosuch"], "unknown --task 'nosuch'; choose one of affine, cifar10, data:PATH, "
                           "digits, linear, nonlinear (or give --eval-type rms or accuracy)"),
    (["--eval-type", "foo"], "unknown --eval-type 'foo'; choose rms or accuracy"),
    (["--component", "train"], "unknown component 'train'; choose one of setup, predict, learn"),
    (["--component", "learn", "--stage", "opt"], "--component applies to --stage raw"),
    (["--protocol", "--stage", "asm"], "--protocol applies to --stage raw"),
    (["--protocol", "--component", "learn"], "leave out --component"),
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


def test_the_docs_quote_the_printed_ir():
    """docs/llvm.md "Reading the IR" shows part of `amzc ir` on the README program."""
    docs = (Path(__file__).parent.parent / "docs" / "llvm.md").read_text(encoding="utf-8")
    quoted = docs.split("learn.2:  ; line 12", 1)[1].split("```", 1)[0]
    program = parse_file(EXAMPLES / "linear_regression.amz")
    printed = program_ir(program, MemoryConfig(4, 3, 1), 4, components=["learn"])
    assert "learn.2:  ; line 12" + quoted in printed

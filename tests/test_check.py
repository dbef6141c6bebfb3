"""amzc.check: addresses against the memory sizes, indices against F, allowed ops per
component function (docs/language.md, Errors)."""

from __future__ import annotations

import pytest

from amzc.check import MAX_MEMORY_BYTES, check, memory_bytes
from amzc.errors import AmzAddressError, AmzConfigError, AmzOpNotAllowedError, AmzSourceError
from amzc.ops import OPS_BY_NAME
from amzc.parse import parse
from amzc.syntax import Instruction, MemoryConfig, Program

MEM = MemoryConfig(4, 3, 1)

LINEAR = parse("""\
def Setup():
  s2 = 0.01
def Predict():
  s1 = dot(v0, v1)
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
""", file="lin.amz")


def test_a_fitting_program_passes():
    check(LINEAR, MEM, 4)
    check(LINEAR, MemoryConfig.fitting(LINEAR), 1)


def test_fitting_memory_is_the_smallest_that_holds_every_address():
    assert MemoryConfig.fitting(LINEAR) == MemoryConfig(4, 3, 0)
    assert MemoryConfig.fitting(Program()) == MemoryConfig(2, 1, 0)  # s0, s1 and v0 always
    p = parse("def Learn():\n  m4 = outer(v0, v7)\n  s9 = s1 + s1\n")
    assert MemoryConfig.fitting(p) == MemoryConfig(10, 8, 5)


@pytest.mark.parametrize(
    "line, fragment",
    [
        ("s4 = s1 + s2", "s4 is beyond the memory: it has 4 scalars (s0..s3)"),
        ("s1 = s1 + s4", "s4 is beyond the memory"),
        ("v3 = v1 + v2", "v3 is beyond the memory: it has 3 vectors (v0..v2)"),
        ("s1 = dot(v0, v3)", "v3 is beyond the memory"),
        ("m1 = m0 + m0", "m1 is beyond the memory: it has 1 matrix (m0..m0)"),
        ("v1 = dot(m1, v0)", "m1 is beyond"),
        ("s9 = gaussian(0.0, 1.0)", "s9 is beyond"),
    ],
)
def test_addresses_beyond_memory(line, fragment):
    program = parse(f"def Setup():\n  s1 = 1.0\ndef Learn():\n  {line}\n", file="p.amz")
    with pytest.raises(AmzAddressError) as e:
        check(program, MEM, 4)
    text = str(e.value)
    assert fragment in text
    assert text.startswith("p.amz:4:3: address error:")
    assert f"in '{line}'" in text
    assert f"\n    {line}\n" in text and "--memory (now 4,3,1)" in text


def test_plural_of_matrix():
    program = parse("def Predict():\n  m2 = m0 + m0\n")
    with pytest.raises(AmzAddressError, match=r"it has 2 matrices \(m0\.\.m1\)"):
        check(program, MemoryConfig(2, 1, 2), 4)


def test_no_matrices_at_all():
    program = parse("def Predict():\n  m0 = m0 + m0\n")
    with pytest.raises(AmzAddressError, match="it has no matrices"):
        check(program, MemoryConfig(2, 1, 0), 4)


@pytest.mark.parametrize(
    "line, ok_f, bad_f",
    [("v1[3] = 1.0", 4, 3), ("m0[3, 0] = 1.0", 4, 3), ("m0[0, 7] = 1.0", 8, 7)],
)
def test_indices_against_f(line, ok_f, bad_f):
    program = parse(f"def Setup():\n  {line}\n")
    check(program, MEM, ok_f)
    with pytest.raises(AmzAddressError, match=f"beyond the feature size F = {bad_f}") as e:
        check(program, MEM, bad_f)
    assert (e.value.line, e.value.column) == (2, 3)
    assert f"indices are 0..{bad_f - 1}" in str(e.value)


def test_the_first_problem_in_program_order_is_reported():
    program = parse("def Setup():\n  s1 = 1.0\ndef Predict():\n  s7 = s1 + s1\n"
                    "def Learn():\n  v9 = v1 + v1\n")
    with pytest.raises(AmzAddressError, match="s7") as e:
        check(program, MEM, 4)
    assert e.value.line == 4


def test_allowed_ops_per_component():
    allowed = {
        "setup": {OPS_BY_NAME["scalar_const_set"]},
        "predict": {OPS_BY_NAME["vector_inner_product"]},
        "learn": {OPS_BY_NAME[n] for n in ("scalar_diff", "scalar_product",
                                           "scalar_vector_product", "vector_sum")},
    }
    check(LINEAR, MEM, 4, allowed_ops=allowed)
    allowed["learn"].discard(OPS_BY_NAME["vector_sum"])
    with pytest.raises(AmzOpNotAllowedError, match="vector_sum is not allowed in Learn") as e:
        check(LINEAR, MEM, 4, allowed_ops=allowed)
    assert (e.value.file, e.value.line) == ("lin.amz", 9)
    with pytest.raises(AmzOpNotAllowedError, match="not allowed in Setup"):
        check(LINEAR, MEM, 4, allowed_ops={"predict": allowed["predict"]})


def test_instructions_without_position_name_their_function():
    program = Program(learn=(Instruction(OPS_BY_NAME["scalar_sum"], 1, (5, 0)),))
    with pytest.raises(AmzAddressError) as e:
        check(program, MEM, 4)
    assert "in 's1 = s5 + s0' (Learn)" in str(e.value)
    assert e.value.file == "<program>"
    with pytest.raises(AmzAddressError) as e:
        check(program, MEM, 4, file="given.amz")
    assert str(e.value).startswith("given.amz: address error:")


def test_check_errors_are_source_errors():
    assert issubclass(AmzAddressError, AmzSourceError)
    assert issubclass(AmzOpNotAllowedError, AmzSourceError)


@pytest.mark.parametrize(
    "text, expected",
    [("4,3,1", MemoryConfig(4, 3, 1)), ("5/9/2", MemoryConfig(5, 9, 2)),
     ("2,1,0", MemoryConfig(2, 1, 0))],
)
def test_memory_config_parse(text, expected):
    assert MemoryConfig.parse(text) == expected
    assert MemoryConfig.parse(str(expected)) == expected


@pytest.mark.parametrize("text", ["4,3", "a,b,c", "4,3,1,1", "4,3,-1", "1,1,1", "2,0,0", ""])
def test_memory_config_parse_rejects(text):
    with pytest.raises(ValueError):
        MemoryConfig.parse(text)


# A memory too large to hold: refused before anything is allocated, at the address asking it


def test_memory_bytes():
    assert memory_bytes(MemoryConfig(4, 3, 1), 10) == 8 * (4 + 30 + 100)


@pytest.mark.parametrize("line, features", [
    ("s199999999 = 0.5", 4), ("s1 = s2147483647 + s0", 4), ("v1 = v700000 + v0", 256),
    ("m1 = m2100 * m0", 256), ("v1 = v0 + v0", 2**27),
])
def test_an_address_no_memory_can_hold_is_located(line, features):
    program = parse(f"def Setup():\n  s2 = 0.5\n  {line}\n", file="big.amz")
    with pytest.raises(AmzAddressError) as info:
        check(program, MemoryConfig.fitting(program), features)
    e = info.value
    assert (e.file, e.line, e.column) == ("big.amz", 3, 3)
    assert "more than amzc can hold" in e.message


def test_the_memory_limit_is_exact():
    program = parse("def Setup():\n  s2 = 0.5\n")
    largest = MAX_MEMORY_BYTES // 8 - 1  # scalars beside one vector of F = 1
    check(program, MemoryConfig(largest, 1, 0), 1)
    with pytest.raises(AmzConfigError, match="more than amzc can hold"):
        check(program, MemoryConfig(largest + 1, 1, 0), 1)


def test_a_memory_too_large_only_together_is_a_config_error():
    program = parse("def Setup():\n  m1 = m2 * m0\n")
    check(program, MemoryConfig(4, 3, 3), 4096)
    with pytest.raises(AmzConfigError, match=r"memory 4,3,9 with F = 4096 takes 1\.13 GiB"):
        check(program, MemoryConfig(4, 3, 9), 4096)


def test_the_check_command(tmp_path):
    from typer.testing import CliRunner

    from amzc.cli import app

    path = tmp_path / "lr[test].amz"
    path.write_text("def Setup():\n  s2 = 0.5\n")
    runner = CliRunner()
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0 and f"{path}: ok" in result.stdout  # the name, not markup
    result = runner.invoke(app, ["check", str(path), "--features", "-5"])
    assert result.exit_code == 2 and "Invalid value for '--features'" in result.output
    path.write_text("def Setup():\n  s99999999999999999999 = 0.5\n")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and ":2:3: syntax error: address" in result.output
    path.write_text("def Setup():\n  s2147483647 = 0.5\n")
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 2 and "more than amzc can hold" in result.output

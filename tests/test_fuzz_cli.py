"""Whole CLI invocations on fuzzed program files: `amzc check`, `fmt`, `run` and `ir` either
succeed or exit 2 with one message, never a traceback, whatever bytes the file holds.

Files are random bytes, near-valid text made of the grammar's tokens, and mutations of the
examples: characters str.splitlines would break lines at (which the grammar does not), huge
numbers, and dropped, doubled or swapped pieces. Each property runs a bounded number of
examples so the suite stays fast."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from amzc.cli import app
from amzc.parse import MAX_INTEGER

EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.amz"))]
NOT_LINE_BREAKS = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]
HUGE = ["99999999999999999999", "9" * 4400, str(MAX_INTEGER), str(MAX_INTEGER + 1),
        "0" * 30 + "7", "199999999", "1e99999"]
TOKENS = [
    "def", " Setup", " Predict", " Learn", "(", ")", ":", "\n", "\n  ", " ", "\t", "\r\n",
    "s0", "s1", "v0", "v2", "m1", "s1[0]", "m1[1, 2]", "=", "+", "-", "*", "/", "1", "0.5",
    "-1e-10", "inf", "nan", ",", "axis=0", "axis=1", "n_features", "dot", "outer", "matmul",
    "norm", "mean", "heaviside", "uniform", "gaussian", "abs", "no_op()", "pass", "# c",
    "#[bold]x[/]", *NOT_LINE_BREAKS, *HUGE,
]

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_example(draw) -> str:
    """An example program with a few pieces inserted, dropped, doubled or replaced."""
    text = draw(st.sampled_from(EXAMPLE_TEXTS))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "drop", "double", "digits"]))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        elif kind == "drop":
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
        elif kind == "double":
            text = text[:at] + text[at:at + 12] + text[at:]
        else:  # make a number (an address, index or constant) huge
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if digits:
                i = draw(st.sampled_from(digits))
                text = text[:i] + draw(st.sampled_from(HUGE)) + text[i + 1:]
    return text


token_text = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
near_valid = st.builds(lambda body: "def Learn():\n  " + body, token_text) | token_text
program_bytes = (
    st.binary(max_size=200)
    | (near_valid | mutated_example()).map(lambda t: t.encode("utf-8"))
    | mutated_example().map(lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"))  # a BOM
)

COMMANDS = {
    "check": ["check"],
    "fmt": ["fmt"],
    # both backends: fuzzed addresses ask for memories of any size (large ones live off the
    # LLVM backend's stack)
    "run": ["run", "--task", "linear", "--features", "2", "--train", "4", "--valid", "3",
            "--tasks", "2"],
    "run-numpy": ["run", "--task", "linear", "--features", "2", "--train", "4", "--valid", "3",
                  "--tasks", "2", "--backend", "numpy"],
    "ir": ["ir", "--features", "2", "--tasks", "2"],
}

runner = CliRunner()
_folder = tempfile.TemporaryDirectory(prefix="amzc-fuzz-")


def invoke(command: str, data: bytes):
    path = Path(_folder.name) / "fuzz.amz"
    path.write_bytes(data)
    args = [*COMMANDS[command][:1], str(path), *COMMANDS[command][1:]]
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"amzc {' '.join(args)} raised {result.exception!r} on {data!r}")
    assert result.exit_code in (0, 2), (result.exit_code, result.output, data)
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert result.stdout == ""
        first, *rest = result.stderr.rstrip("\n").split("\n")
        assert first.startswith(str(path)), result.stderr  # one message, naming the file
        # the rest is at most the source line, its caret and a hint
        assert all(line.startswith("  ") for line in rest), result.stderr
    return result, path


@pytest.mark.parametrize("command", COMMANDS)
@SETTINGS
@given(data=program_bytes)
def test_cli_on_fuzzed_files_exits_0_or_2_with_one_message(command, data):
    invoke(command, data)


@SETTINGS
@given(data=program_bytes)
def test_fmt_output_is_a_fixed_point(data):
    result, path = invoke("fmt", data)
    if result.exit_code == 0:
        assert runner.invoke(app, ["fmt", "--write", str(path)]).exit_code == 0
        assert runner.invoke(app, ["fmt", "--check", str(path)]).exit_code == 0
        assert path.read_bytes() == result.stdout_bytes


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("bad", [
    "def Setup():\n  s99999999999999999999 = 0.5\n",
    "def Setup():\n  s" + "9" * 5000 + " = 0.5\n",
    "def Setup():\n  v1[" + "9" * 5000 + "] = 0.5\n",
    "def Predict():\n  v1 = mean(m1, axis=" + "9" * 5000 + ")\n",
    f"def Setup():\n  s{MAX_INTEGER} = 0.5\n",
    "def Setup():\n  # a\x0bb\n  s2 = 0.5\x0b\n",
    "def Setup():\n  # a\u2028b\n  s2 = 0.5 \u2028 s3\n",
    "\xff",
], ids=["20-digit address", "5000-digit address", "5000-digit index", "5000-digit axis",
        "address too large to hold", "\\x0b", "U+2028", "latin-1"])
def test_known_bad_files_are_one_message(command, bad):
    data = bad.encode("latin-1") if bad == "\xff" else bad.encode("utf-8")
    result, path = invoke(command, data)
    if command == "fmt" and "s2147483647" in bad:
        assert result.exit_code == 0  # formatting needs no memory
        return
    assert result.exit_code == 2
    assert result.stderr.count(str(path)) == 1

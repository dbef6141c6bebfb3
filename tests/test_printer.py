"""amzc.printer: canonical text, ``parse(print(p)) == p``, ``amzc fmt`` and the golden programs
in tests/programs (the paper's and the reference code's programs, plus one with every op)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import PROGRAMS
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from amzc.cli import app
from amzc.ops import NO_OP, OPS
from amzc.parse import parse, parse_file
from amzc.printer import format_number, print_instruction, print_program
from amzc.syntax import Instruction, Program

# ---------------------------------------------------------------------------------------------
# Random programs over the whole op table

ADDRESS = st.integers(0, 2**20) | st.integers(0, 20)
SPECIAL = st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300,
                           1.7976931348623157e308, -1e308, math.inf, -math.inf, math.nan,
                           0.1, 1 / 3, 4.1, -1e-10, 9e-09, 1e16, 123456789.0])
DATA = st.floats(allow_nan=True, allow_infinity=True) | SPECIAL


@st.composite
def instructions(draw, op=None):
    op = draw(st.sampled_from(OPS)) if op is None else op
    if op is NO_OP:
        return Instruction(NO_OP)
    return Instruction(
        op,
        draw(ADDRESS),
        tuple(draw(ADDRESS) for _ in op.inputs),
        tuple(draw(st.integers(0, 10_000)) for _ in range(op.n_index)),
        tuple(draw(DATA) for _ in range(op.n_data)),
    )


body = st.lists(instructions(), max_size=12).map(tuple)
programs = st.builds(Program, body, body, body)


def same_instruction(a: Instruction, b: Instruction) -> bool:
    """Equality with NaN equal to NaN (whatever object or sign bit it has)."""
    if (a.op, a.out, a.inputs, a.index) != (b.op, b.out, b.inputs, b.index):
        return False
    return all((x == y and math.copysign(1, x) == math.copysign(1, y))
               or (math.isnan(x) and math.isnan(y)) for x, y in zip(a.data, b.data, strict=True))


def same_program(a: Program, b: Program) -> bool:
    return all(
        len(a.component(c)) == len(b.component(c))
        and all(same_instruction(x, y) for x, y in zip(a.component(c), b.component(c),
                                                        strict=True))
        for c in ("setup", "predict", "learn")
    )


@given(programs)
def test_parse_of_print_is_the_program(program):
    text = print_program(program)
    again = parse(text)
    assert same_program(again, program)  # values bit for bit (signed zeros), NaN as NaN
    assert again == program  # and the AST's own equality agrees
    assert print_program(again) == text


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.name)
@settings(max_examples=25)
@given(data=st.data())
def test_every_op_round_trips(op, data):
    ins = data.draw(instructions(op))
    program = Program(setup=(ins,))
    again = parse(print_program(program))
    assert again.setup[0].op is op
    assert same_program(again, program)


@given(st.floats(allow_nan=False) | SPECIAL.filter(lambda x: not math.isnan(x)))
def test_numbers_print_shortest_and_exactly(value):
    text = format_number(value)
    assert float(text) == value and math.copysign(1, float(text)) == math.copysign(1, value)
    assert text == repr(value)


def test_number_formats():
    assert [format_number(x) for x in (0.01, 4.1, 3.0, -1e-10, 1e16, math.inf, -math.inf)] == \
        ["0.01", "4.1", "3.0", "-1e-10", "1e+16", "inf", "-inf", ]
    assert format_number(math.nan) == "nan" and format_number(-math.nan) == "nan"


# ---------------------------------------------------------------------------------------------
# Canonical forms (docs/language.md, Instructions)


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("NoOp()", "no_op()"),
        ("v2 = v1 * s1", "v2 = s1 * v1"),
        ("m2 = m1 * s1", "m2 = s1 * m1"),
        ("v3 = heaviside(v6, 1.0)", "v3 = heaviside(v6)"),
        ("v1 = uniform(0.4, 0.8, n_features)", "v1 = uniform(0.4, 0.8)"),
        ("m1 = gaussian(-2, 1.3, (n_features, n_features))", "m1 = gaussian(-2.0, 1.3)"),
        ("s2 = 3", "s2 = 3.0"),
        ("s2 = +1e3", "s2 = 1000.0"),
        ("s2 = 1e999", "s2 = inf"),
        ("m2[1,3]   =   -0.03", "m2[1, 3] = -0.03"),
        ("v2 = norm(m1,axis=0)", "v2 = norm(m1, axis=0)"),
        ("s3=s1/s2", "s3 = s1 / s2"),
        ("s3 = 1/s2", "s3 = 1 / s2"),
    ],
)
def test_canonical_forms(text, canonical):
    (ins,) = parse(f"def Setup():\n  {text}\n").setup
    assert print_instruction(ins) == canonical


def test_empty_program_prints_three_headers():
    assert print_program(Program()) == "def Setup():\ndef Predict():\ndef Learn():\n"


def test_indent_option():
    text = print_program(parse("def Learn():\n  s2 = s0 - s1\n"), indent="    ")
    assert text.endswith("def Learn():\n    s2 = s0 - s1\n")


FREE_FORM = [
    "def Learn(v0, s0):\n\ts3 = s0-s1  # err\n\n\tv2 = v0 * s3\n"
    "def Predict(v0):\n  s1=dot(v0,v1)\n",
    "# only a comment\n",
    "def Setup():\n  pass\n  NoOp()\n  m1 = gaussian(-1e-10, 9e-09, (n_features, n_features))\n",
    "def Predict():\r\n  v7 = maximum(v6, v5)\r\n  s1 = dot(v7, v4)\r\n",
]


@pytest.mark.parametrize("text", FREE_FORM)
def test_formatting_is_idempotent(text):
    once = print_program(parse(text))
    assert print_program(parse(once)) == once
    assert parse(once) == parse(text)


# statements in free form, the paper's variants included
variant_statement = st.sampled_from([
    "s1 = dot(v0,v1)", "v2 = v1 * s1", "v2 = s1*v1", "m1 = m0 * s2", "v3 = heaviside(v6, 1.0)",
    "NoOp()", "no_op()", "pass", "v1 = uniform(0.4, 0.8, n_features)", "s2 = -1e-10",
    "m0 = gaussian(0, 1, (n_features, n_features))", "v2[3] = 4", "m2[0,1]=nan", "s2 = inf",
    "v4 = norm(m1, axis=0)", "v4 = mean(m1, axis=1)", "m1 = bcast(v1, axis=1)",
    "s2 = 1 / s3", "s1 = s0 - s1  # comment",
])
free_program = st.lists(
    st.tuples(st.sampled_from(["Setup", "Predict", "Learn"]),
              st.sampled_from(["()", "(v0)", "(v0, s0)"]),
              st.lists(st.tuples(st.sampled_from(["  ", "\t", "    ", ""]), variant_statement),
                       max_size=6)),
    max_size=3, unique_by=lambda f: f[0],
).map(lambda fns: "".join(f"def {name}{args}:\n" + "".join(f"{ws}{s}\n" for ws, s in body)
                          for name, args, body in fns))


@given(free_program)
def test_fmt_is_idempotent_on_free_form_programs(text):
    program = parse(text)
    once = print_program(program)
    assert print_program(parse(once)) == once
    assert parse(once) == program


# ---------------------------------------------------------------------------------------------
# Golden programs (tests/programs/*.amz): canonical text, and each one's instructions
# as (op id, out, inputs, data)

GOLDEN = sorted(PROGRAMS.glob("*.amz"))

EXPECTED = {
    "readme_linear_regressor": (  # the AutoML-Zero README's program
        [(56, 2, (), (0.001,))],
        [(27, 1, (0, 1), ())],
        [(2, 3, (0, 1), ()), (3, 4, (3, 2), ()), (18, 2, (4, 0), ()), (23, 1, (1, 2), ())],
    ),
    "figure5_two_layer_nn": (  # paper Figure 5
        [(64, 1, (), (-1e-10, 9e-09)), (56, 3, (), (4.1,)), (63, 4, (), (-0.033, 0.01))],
        [(31, 6, (1, 0), ()), (48, 7, (6, 5), ()), (27, 1, (7, 4), ())],
        [(16, 3, (6,), ()), (2, 1, (0, 1), ()), (3, 2, (1, 3), ()), (18, 2, (2, 3), ()),
         (25, 3, (2, 4), ()), (28, 0, (3, 0), ()), (39, 1, (1, 0), ()), (23, 4, (2, 4), ())],
    ),
    "linear_algorithm": (  # the reference's LINEAR_ALGORITHM
        [(56, 2, (), (0.01,))],
        [(27, 1, (1, 0), ())],
        [(2, 3, (0, 1), ()), (3, 3, (2, 3), ()), (18, 2, (3, 0), ()), (23, 1, (1, 2), ())],
    ),
    "neural_net_algorithm": (  # the reference's NEURAL_NET_ALGORITHM
        [(63, 2, (), (0.0, 0.1)), (64, 0, (), (0.0, 0.1)), (56, 3, (), (0.01,))],
        [(31, 3, (0, 0), ()), (23, 3, (3, 1), ()), (48, 4, (3, 5), ()), (27, 1, (4, 2), ()),
         (1, 1, (1, 2), ())],
        [(2, 4, (0, 1), ()), (3, 4, (3, 4), ()), (1, 2, (2, 4), ()), (18, 6, (4, 4), ()),
         (23, 2, (2, 6), ()), (18, 7, (4, 2), ()), (16, 8, (3,), ()), (25, 7, (8, 7), ()),
         (23, 1, (1, 7), ()), (28, 1, (7, 0), ()), (39, 0, (0, 1), ())],
    ),
    "best_evolved_pruned": (  # paper Figure S1b
        [],
        [(24, 1, (0, 9), ()), (23, 5, (0, 9), ()), (31, 6, (1, 5), ()), (29, 1, (2, 2), ()),
         (27, 1, (6, 1), ())],
        [(2, 4, (0, 1), ()), (28, 1, (1, 0), ()), (7, 5, (4,), ()), (34, 2, (1,), ()),
         (4, 7, (5, 2), ()), (18, 11, (7, 1), ()), (28, 1, (11, 5), ()), (39, 0, (1, 0), ()),
         (60, 9, (), (0.002, 0.7)), (55, 4, (0,), ()), (39, 2, (2, 0), ()),
         (29, 1, (4, 0), ())],
    ),
}


def test_golden_programs_exist():
    names = {p.stem for p in GOLDEN}
    assert set(EXPECTED) | {"every_op"} <= names


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_programs_are_canonical(path):
    assert print_program(parse_file(path)) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_programs_hold_the_papers_instructions(name):
    program = parse_file(PROGRAMS / f"{name}.amz")
    for component, expected in zip(("setup", "predict", "learn"), EXPECTED[name], strict=True):
        got = [(i.op.id, i.out, i.inputs, i.data) for i in program.component(component)]
        assert got == expected, component


def test_every_op_program_has_each_op_once():
    program = parse_file(PROGRAMS / "every_op.amz")
    ids = sorted(i.op.id for _, i in program.instructions())
    assert ids == [op.id for op in OPS]
    assert all(i.op.is_data_op for i in program.setup)


def test_fmt_check_passes_on_golden_programs():
    result = CliRunner().invoke(app, ["fmt", "--check", *map(str, GOLDEN)])
    assert result.exit_code == 0, result.output


def test_fmt_check_flags_non_canonical_files(tmp_path):
    messy = tmp_path / "messy.amz"
    messy.write_text("def Predict(v0):\n  s1 = dot(v0,v1)\n")
    runner = CliRunner()
    result = runner.invoke(app, ["fmt", "--check", str(messy)])
    assert result.exit_code == 1 and "not canonical" in result.output
    assert messy.read_text() == "def Predict(v0):\n  s1 = dot(v0,v1)\n"  # unchanged


def test_fmt_prints_and_writes_canonical_text(tmp_path):
    messy = tmp_path / "messy.amz"
    messy.write_text("def Predict(v0):\n  s1 = dot(v0,v1)\n")
    canonical = "def Setup():\ndef Predict():\n  s1 = dot(v0, v1)\ndef Learn():\n"
    runner = CliRunner()
    result = runner.invoke(app, ["fmt", str(messy)])
    assert result.exit_code == 0 and result.stdout == canonical
    result = runner.invoke(app, ["fmt", "--write", str(messy)])
    assert result.exit_code == 0 and messy.read_text() == canonical
    result = runner.invoke(app, ["fmt", "--check", str(messy)])
    assert result.exit_code == 0  # formatting twice changes nothing


# ---------------------------------------------------------------------------------------------
# Comments survive formatting

COMMENTED = """# file comment
def Learn(v0, s0):   # learn header
  # before s3
  s3 = s0 - s1 # error
  pass  # dropped pass, kept comment
  v1 = v1 + v2
  v2 = s3 * v0     # long trailing
# before Predict
def Predict():
  s1 = dot(v0, v1)
# at the end
"""

COMMENTED_CANONICAL = """def Setup():
# before Predict
def Predict():
  s1 = dot(v0, v1)
# file comment
def Learn():  # learn header
  # before s3
  s3 = s0 - s1  # error
  pass          # dropped pass, kept comment
  v1 = v1 + v2
  v2 = s3 * v0  # long trailing
# at the end
"""


def test_fmt_keeps_comments_and_aligns_end_of_line_comments():
    # `pass  # ...` keeps its comment on its line, aligned with the function's other ones
    program = parse(COMMENTED)
    assert print_program(program) == COMMENTED_CANONICAL
    assert print_program(parse(COMMENTED_CANONICAL)) == COMMENTED_CANONICAL
    assert parse(COMMENTED_CANONICAL) == program  # comments take no part in equality


def test_printing_without_comments():
    text = print_program(parse(COMMENTED), comments=False)
    assert "#" not in text and parse(text) == parse(COMMENTED)


def test_end_of_line_comments_align_within_a_function():
    text = "def Learn():\n  s3 = s0 - s1  # a\n  v2 = s3 * v0\n  m0 = outer(v3, v0)  # b\n"
    assert print_program(parse(text)).splitlines()[-3:] == [
        "  s3 = s0 - s1        # a", "  v2 = s3 * v0", "  m0 = outer(v3, v0)  # b"]


def test_examples_are_canonical_with_their_comments():
    examples = Path(__file__).resolve().parent.parent / "examples"
    for path in sorted(examples.glob("*.amz")):
        text = path.read_text()
        assert print_program(parse(text)) == text, f"amzc fmt --write {path}"
        assert "#" in text


# Every character str.splitlines breaks at but the grammar does not (only \n ends a line)
NOT_LINE_BREAKS = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=repr)
def test_comments_holding_other_line_breaks_stay_whole_and_in_place(char, tmp_path):
    text = (f"# top{char}of file\ndef Setup():\n  s2 = 0.5  # a{char}b\n  # c{char}d\n"
            f"def Predict():\n  s1 = dot(v0, v1)\n# e{char}f\ndef Learn():\n  s3 = s0 - s1\n")
    assert print_program(parse(text)) == text
    path = tmp_path / "p.amz"
    path.write_bytes(text.encode())
    runner = CliRunner()
    result = runner.invoke(app, ["fmt", str(path)])
    assert result.exit_code == 0 and result.stdout_bytes == text.encode()
    assert runner.invoke(app, ["fmt", "--check", str(path)]).exit_code == 0
    assert runner.invoke(app, ["fmt", "--write", str(path)]).exit_code == 0
    assert path.read_bytes() == text.encode()


def test_pass_keeps_its_end_of_line_comment():
    text = "def Setup():\n  pass  # todo\ndef Predict():\n  pass\ndef Learn():\n  pass  # later\n"
    assert print_program(parse(text)) == \
        "def Setup():\n  pass  # todo\ndef Predict():\ndef Learn():\n  pass  # later\n"


def test_comments_after_a_functions_last_instruction_stay_in_that_function():
    text = ("def Setup():\n  s2 = 0.5\n  # end of Setup\n  pass  # todo\n# about Predict\n"
            "  # also about Predict\ndef Predict():\n  s1 = dot(v0, v1)\n  # end of Predict\n"
            "def Learn():\n  s3 = s0 - s1\n  # end of Learn\n# end of file\n")
    canonical = print_program(parse(text))
    assert canonical == (
        "def Setup():\n  s2 = 0.5\n  # end of Setup\n  pass  # todo\n# about Predict\n"
        "# also about Predict\ndef Predict():\n  s1 = dot(v0, v1)\n  # end of Predict\n"
        "def Learn():\n  s3 = s0 - s1\n  # end of Learn\n# end of file\n")
    assert print_program(parse(canonical)) == canonical


def test_end_comments_of_a_function_follow_it_when_functions_are_reordered():
    text = "def Learn():\n  s3 = s0 - s1\n  # end of Learn\ndef Setup():\n  # end of Setup\n"
    assert print_program(parse(text)) == ("def Setup():\n  # end of Setup\ndef Predict():\n"
                                          "def Learn():\n  s3 = s0 - s1\n  # end of Learn\n")


# free-form programs with comments everywhere a user may put them
comment_text = st.text(st.sampled_from("ab #[]" + "".join(NOT_LINE_BREAKS)), max_size=6)
comment_line = st.builds(lambda ws, c: f"{ws}#{c}", st.sampled_from(["", "  ", "\t", "\x0c"]),
                         comment_text)
commented_line = st.one_of(
    comment_line,
    st.builds(lambda ws, c: f"{ws}pass  #{c}", st.sampled_from(["", "  "]), comment_text),
    st.builds(lambda s, c: f"  {s}  #{c}", variant_statement, comment_text),
    variant_statement.map(lambda s: "  " + s),
    st.just(""),
)
commented_program = st.lists(
    st.tuples(st.lists(comment_line | st.just(""), max_size=3),
              st.sampled_from(["Setup", "Predict", "Learn"]),
              st.sampled_from(["", "  # header"]),
              st.lists(commented_line, max_size=6)),
    max_size=3, unique_by=lambda f: f[1],
).map(lambda fns: "".join("".join(f"{line}\n" for line in before) + f"def {name}():{end}\n"
                          + "".join(f"{line}\n" for line in body)
                          for before, name, end, body in fns))


def comment_texts(text: str) -> list[str]:
    return sorted(line.partition("#")[2].rstrip() for line in text.split("\n") if "#" in line)


@settings(max_examples=100)
@given(commented_program)
def test_fmt_keeps_every_comment_and_is_idempotent(text):
    program = parse(text)
    once = print_program(program)
    assert print_program(parse(once)) == once
    assert parse(once) == program
    assert comment_texts(once) == comment_texts(text)

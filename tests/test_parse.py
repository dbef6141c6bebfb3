"""amzc.parse: text → AST, the paper's variants, and errors a user can read (docs/language.md)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amzc.errors import AmzError, AmzSyntaxError, AmzTypeError
from amzc.ops import OPS_BY_NAME
from amzc.parse import MAX_INTEGER, parse, parse_file
from amzc.syntax import Instruction, Program


def ins_of(text: str, component: str = "predict") -> Instruction:
    """The single instruction of a one-line function body."""
    header = {"setup": "Setup", "predict": "Predict", "learn": "Learn"}[component]
    program = parse(f"def {header}():\n  {text}\n")
    (instruction,) = program.component(component)  # type: ignore[arg-type]
    return instruction


def op_id(text: str) -> int:
    return ins_of(text).op.id


# ---------------------------------------------------------------------------------------------
# Structure


LINEAR = """\
# Linear regression by SGD (comments run to end of line)
def Setup():
  s2 = 0.01
def Predict():          # v0 = features; s1 = prediction
  s1 = dot(v0, v1)
def Learn():            # s0 = label
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
"""


def test_the_language_example_parses_to_the_expected_instructions():
    p = parse(LINEAR)
    assert [i.op.id for i in p.setup] == [56]
    assert [i.op.id for i in p.predict] == [27]
    assert [i.op.id for i in p.learn] == [2, 3, 18, 23]
    assert p.setup[0].out == 2 and p.setup[0].data == (0.01,)
    assert (p.predict[0].out, p.predict[0].inputs) == (1, (0, 1))
    assert (p.learn[2].out, p.learn[2].inputs) == (2, (3, 0))  # scalar operand first


def test_functions_in_any_order_give_the_same_program():
    reordered = """\
def Learn():
  s3 = s0 - s1
  s3 = s2 * s3
  v2 = s3 * v0
  v1 = v1 + v2
def Predict():
  s1 = dot(v0, v1)
def Setup():
  s2 = 0.01
"""
    assert parse(reordered) == parse(LINEAR)


def test_missing_functions_are_empty():
    p = parse("def Predict():\n  s1 = dot(v0, v1)\n")
    assert p.setup == () and p.learn == () and len(p.predict) == 1
    assert parse("") == Program()
    assert parse("# nothing\n\n") == Program()


@pytest.mark.parametrize("body", ["", "  pass\n", "  pass\n  pass\n", "\n  # just a comment\n"])
def test_empty_bodies(body):
    assert parse(f"def Setup():\n{body}def Predict():\n{body}def Learn():\n{body}") == Program()


def test_pass_mixes_with_instructions():
    p = parse("def Learn():\n  pass\n  s2 = s0 - s1\n  pass\n")
    assert [i.op.name for i in p.learn] == ["scalar_diff"]


@pytest.mark.parametrize("header", ["def Predict(v0):", "def Learn(v0, s0):", "def Setup( ):",
                                    "def Predict( v0 , s0 ):"])
def test_header_argument_lists_are_accepted_and_ignored(header):
    name = header.split()[1].split("(")[0]
    assert parse(f"{header}\n  s1 = s2 + s3\n") == parse(f"def {name}():\n  s1 = s2 + s3\n")


def test_layout_is_free():
    canonical = parse("def Setup():\n  s2 = 1.0\ndef Predict():\n  s1 = s2 + s2\n")
    for text in [
        "def Setup():\r\n  s2 = 1.0\r\ndef Predict():\r\n  s1 = s2 + s2\r\n",
        "def Setup():\n\ts2 = 1.0\ndef Predict():\n        s1 = s2+s2",
        "\n\n# head\ndef Setup():  # c\n\n  s2 = 1.0   # c\n\ndef Predict():\ns1 = s2 + s2\n\n",
        "def Setup():\n  s2 = 1\ndef Predict():\n  s1=s2  +   s2\n",
    ]:
        assert parse(text) == canonical


def test_duplicate_function_is_an_error():
    with pytest.raises(AmzSyntaxError, match="defined twice") as e:
        parse("def Setup():\ndef Predict():\ndef Setup():\n")
    assert e.value.line == 3


def test_unknown_function_name_is_an_error():
    with pytest.raises(AmzSyntaxError, match="Setup, Predict or Learn"):
        parse("def Train():\n  s1 = s2 + s3\n")


def test_instruction_outside_a_function_is_an_error():
    with pytest.raises(AmzSyntaxError, match="outside a function") as e:
        parse("\ns1 = s2 + s3\ndef Setup():\n")
    assert (e.value.line, e.value.column) == (2, 1)


# ---------------------------------------------------------------------------------------------
# Literals


@pytest.mark.parametrize(
    "text, value",
    [("-1e-10", -1e-10), ("4.1", 4.1), ("3", 3.0), ("+2.5", 2.5), (".5", 0.5), ("5.", 5.0),
     ("1E3", 1000.0), ("-0.0", -0.0), ("1e-320", 1e-320), ("1e999", math.inf), ("inf", math.inf),
     ("-inf", -math.inf), ("+inf", math.inf), ("0.1", 0.1), ("9007199254740993", 2.0**53)],
)
def test_number_literals(text, value):
    (data,) = ins_of(f"s2 = {text}").data
    assert data == value and math.copysign(1, data) == math.copysign(1, value)


def test_nan_literal():
    (data,) = ins_of("s2 = nan").data
    assert math.isnan(data)
    assert math.isnan(ins_of("s2 = -nan").data[0])


# ---------------------------------------------------------------------------------------------
# Op resolution by notation and operand types


@pytest.mark.parametrize(
    "text, expected",
    [
        ("s3 = s1 * s2", 3), ("v3 = s1 * v2", 18), ("v3 = v1 * v2", 25), ("m3 = s1 * m2", 29),
        ("m3 = m1 * m2", 41), ("s3 = dot(v1, v2)", 27), ("v3 = dot(m1, v2)", 31),
        ("s3 = 1 / s1", 6), ("v3 = 1 / v1", 20), ("m3 = 1 / m1", 30), ("s3 = s1 / s2", 4),
        ("s3 = abs(s1)", 5), ("v3 = abs(v1)", 22), ("m3 = abs(m1)", 38),
        ("s2 = norm(v1)", 21), ("s2 = norm(m1)", 34), ("v2 = norm(m1, axis=0)", 35),
        ("v2 = norm(m1, axis=1)", 36), ("v2 = bcast(s1)", 19), ("m2 = bcast(v1, axis=0)", 32),
        ("m2 = bcast(v1, axis=1)", 33), ("s2 = mean(v1)", 50), ("s2 = mean(m1)", 51),
        ("v2 = mean(m1, axis=1)", 52), ("v2 = std(m1, axis=1)", 53), ("s2 = std(v1)", 54),
        ("s2 = std(m1)", 55), ("m3 = outer(v1, v2)", 28), ("m3 = matmul(m1, m2)", 43),
        ("m2 = transpose(m1)", 37), ("s3 = minimum(s1, s2)", 44), ("m3 = maximum(m1, m2)", 49),
        ("s2 = heaviside(s1)", 15), ("v2 = heaviside(v1)", 16), ("m2 = heaviside(m1)", 17),
        ("s2 = 0.5", 56), ("v2[1] = 0.5", 57), ("m2[1, 0] = 0.5", 58),
        ("s2 = uniform(0, 1)", 59), ("v2 = uniform(0, 1)", 60), ("m2 = uniform(0, 1)", 61),
        ("s2 = gaussian(0, 1)", 62), ("v2 = gaussian(0, 1)", 63), ("m2 = gaussian(0, 1)", 64),
        ("no_op()", 0),
    ],
)
def test_ops_are_chosen_by_notation_and_types(text, expected):
    assert op_id(text) == expected


# The paper's variants, accepted and printed canonically (docs/language.md)


def test_paper_noop():
    assert ins_of("NoOp()") == ins_of("no_op()") == Instruction(OPS_BY_NAME["no_op"])


@pytest.mark.parametrize("variant, canonical", [("v2 = v1 * s1", "v2 = s1 * v1"),
                                                ("m2 = m1 * s3", "m2 = s3 * m1")])
def test_paper_scalar_on_the_right(variant, canonical):
    assert ins_of(variant) == ins_of(canonical)
    assert ins_of(variant).inputs == ins_of(canonical).inputs


@pytest.mark.parametrize("kind", ["s", "v", "m"])
def test_paper_heaviside_with_one(kind):
    assert ins_of(f"{kind}3 = heaviside({kind}6, 1.0)") == ins_of(f"{kind}3 = heaviside({kind}6)")
    assert ins_of(f"{kind}3 = heaviside({kind}6, 1)") == ins_of(f"{kind}3 = heaviside({kind}6)")


@pytest.mark.parametrize(
    "variant, canonical",
    [
        ("v1 = uniform(0.4, 0.8, n_features)", "v1 = uniform(0.4, 0.8)"),
        ("m0 = uniform(-0.5, 0.6, (n_features, n_features))", "m0 = uniform(-0.5, 0.6)"),
        ("v8 = gaussian(0.4, 1, n_features)", "v8 = gaussian(0.4, 1)"),
        ("m2 = gaussian(-2, 1.3, (n_features, n_features))", "m2 = gaussian(-2, 1.3)"),
    ],
)
def test_paper_random_fills_with_size_argument(variant, canonical):
    assert ins_of(variant, "setup") == ins_of(canonical, "setup")


def test_random_fill_data_order():
    assert ins_of("m1 = gaussian(-1e-10, 9e-09)").data == (-1e-10, 9e-09)
    assert ins_of("v9 = uniform(0.7, 0.002)").data == (0.7, 0.002)  # not sorted


def test_index_order_is_row_then_column():
    ins = ins_of("m2[1, 3] = -0.03")
    assert ins.index == (1, 3) and ins.data == (-0.03,) and ins.out == 2


# ---------------------------------------------------------------------------------------------
# Errors


def error_of(text: str, cls: type[AmzError] = AmzError, file: str = "<input>") -> AmzError:
    with pytest.raises(cls) as e:
        parse(text, file=file)
    return e.value


def test_row_statistics_with_axis_0_are_rejected_with_an_explanation():
    for fn in ("mean", "std"):
        e = error_of(f"def Predict():\n  v2 = {fn}(m1, axis=0)\n", AmzTypeError)
        text = str(e)
        assert "axis=1" in text and "row" in text and "Table S1" in text
        assert (e.line, e.column) == (2, 8)


def test_type_error_names_the_instruction_and_suggests_forms():
    e = error_of("def Predict():\n  s1 = dot(v0, s2)\n", AmzTypeError, file="prog.amz")
    text = str(e)
    assert text.startswith("prog.amz:2:8: type error: no op dot(vector, scalar)")
    assert "dot(v0, s2)" in text
    assert "s = dot(v, v)" in text and "v = dot(m, v)" in text
    assert "s3 = s2 * v0" in text  # the scalar-times-vector hint
    assert "    s1 = dot(v0, s2)\n" in text and text.splitlines()[2] == " " * 9 + "^"


def test_syntax_error_shows_file_line_column_caret_and_expectation():
    e = error_of("def Setup():\n  s2 = 1.0\n  s1 = s2 +\n", AmzSyntaxError, file="x.amz")
    lines = str(e).splitlines()
    assert lines[0].startswith("x.amz:3:12: syntax error: unexpected end of line; expected")
    assert "an address" in lines[0] and "a number" in lines[0]
    assert lines[1] == "    s1 = s2 +"
    assert lines[2] == "  " + " " * 11 + "^"
    assert (e.file, e.line, e.column) == ("x.amz", 3, 12)


def test_unexpected_character():
    e = error_of("def Setup():\n  s1 = s2 $ s3\n", AmzSyntaxError)
    assert "unexpected character '$'" in str(e) and (e.line, e.column) == (2, 11)


def test_error_at_end_of_input_points_after_the_last_line():
    e = error_of("def Setup(", AmzSyntaxError)
    assert e.line == 1 and e.column is not None and e.column >= 10


@pytest.mark.parametrize(
    "text, cls, fragment",
    [
        ("s1 = frob(s2)", AmzTypeError, "unknown op 'frob'"),
        ("s1 = s2", AmzTypeError, "no copy op"),
        ("s3 = s2 * 0.5", AmzTypeError, "constant cannot be an operand"),
        ("v7 = maximum(0, v6)", AmzTypeError, "constant cannot be an operand"),
        ("s1 = 2 / s2", AmzTypeError, "only '1 / x'"),
        ("v1 = s2 + v1", AmzTypeError, "no op scalar + vector"),
        ("s1 = s2 * v1", AmzTypeError, "gives a vector, not a scalar"),
        ("s1 = abs(s2, s3)", AmzTypeError, "no op abs(scalar, scalar)"),
        ("v1 = norm(m1, axis=2)", AmzTypeError, "no op norm(matrix, axis=2)"),
        ("v1 = norm(m1, side=1)", AmzTypeError, "unexpected argument"),
        ("v1 = 1.0", AmzTypeError, "v1[i] = c"),
        ("m1[2] = 1.0", AmzTypeError, "m1[i, j] = c"),
        ("s1[0] = 1.0", AmzTypeError, "s1 = c"),
        ("v1[0] = s2 + s3", AmzTypeError, "only a constant"),
        ("v1 = gaussian(1)", AmzTypeError, "two numbers"),
        ("v1 = gaussian(s1, 2)", AmzTypeError, "two numbers"),
        ("v1 = uniform(0, 1, n_samples)", AmzTypeError, "n_features"),
        ("s1 = no_op()", AmzTypeError, "no result"),
        ("s1 = heaviside(s2, 2.0)", AmzTypeError, "constant cannot be an operand"),
        ("s1 = heaviside(1.0, s2)", AmzTypeError, "constant cannot be an operand"),
        ("v1 = norm(m1, axis=0, axis=1)", AmzTypeError, "axis is given twice"),
        ("dot(v0, v1)", AmzSyntaxError, "dot(...) is not an instruction"),
        ("frob()", AmzSyntaxError, "not an instruction"),
        ("s1 = -s2", AmzSyntaxError, "unexpected '-'"),
        ("s1 = s2 + s3 + s4", AmzSyntaxError, "unexpected '+'"),
        ("x1 = s2 + s3", AmzSyntaxError, "unexpected"),
        ("s1 = 0x10", AmzSyntaxError, "unexpected"),
        ("def Setup(): s1 = 1", AmzSyntaxError, "unexpected"),
    ],
)
def test_errors_are_located_and_explained(text, cls, fragment):
    e = error_of(f"def Predict():\n  {text}\n", cls, file="f.amz")
    assert fragment in str(e)
    assert e.line == 2 and e.column is not None and e.file == "f.amz"
    assert str(e).startswith(f"f.amz:2:{e.column}: ")


def test_every_unknown_function_error_lists_known_functions():
    e = error_of("def Setup():\n  s1 = sqrt(s2)\n", AmzTypeError)
    assert "known functions" in str(e) and "dot" in str(e) and "heaviside" in str(e)


def test_repeated_axis_is_rejected():
    with pytest.raises(AmzTypeError):
        parse("def Setup():\n  v1 = norm(m1, axis=0, axis=1)\n")


# ---------------------------------------------------------------------------------------------
# Positions


def test_instructions_remember_their_position():
    p = parse(LINEAR, file="lin.amz")
    pos = p.learn[1].pos
    assert pos is not None and (pos.file, pos.line, pos.column) == ("lin.amz", 8, 3)
    assert pos.source_line == "  s3 = s2 * s3"


def test_parse_file(tmp_path):
    path = tmp_path / "prog.amz"
    path.write_text(LINEAR)
    p = parse_file(path)
    assert p == parse(LINEAR) and p.name == "prog"
    assert p.predict[0].pos is not None and p.predict[0].pos.file == str(path)


def test_parse_file_errors(tmp_path):
    with pytest.raises(AmzError, match="no such file"):
        parse_file(tmp_path / "missing.amz")
    bad = tmp_path / "bad.amz"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AmzError, match="cannot read"):
        parse_file(bad)


# ---------------------------------------------------------------------------------------------
# Robustness: nothing but AmzError ever escapes parse()


def parse_or_user_error(text: str) -> None:
    try:
        parse(text)
    except AmzError as e:
        assert str(e)  # every error renders to a message
        line = getattr(e, "line", None)
        if line is not None:
            lines = [t.removesuffix("\r") for t in text.split("\n")]  # only \n ends a line
            assert 1 <= line <= len(lines)
            if e.source_line is not None:
                assert e.source_line == lines[line - 1]  # the line the message is about


@given(st.text(max_size=200))
def test_garbage_text_raises_only_amz_errors(text):
    parse_or_user_error(text)


@given(st.text(alphabet="defSetupPrdicLarn():=+-*/.,[]#0123456789svm_xna \t\n\r\x0c\x0b\x85\u2028",
               max_size=200))
def test_garbage_from_the_language_alphabet_raises_only_amz_errors(text):
    parse_or_user_error(text)


TOKENS = [
    "def", "Setup", "Predict", "Learn", "Foo", "(", ")", ":", "\n", "\n  ", " ", "\t", "\r\n",
    "s0", "s1", "v0", "v2", "m1", "m99", "s1[0]", "m1[1, 2]", "[", "]", "=", "+", "-", "*",
    "/", "1", "1.0", "-1e-10", "inf", "-inf", "nan", "1e999", "99999999999999999999", ",",
    "axis", "axis=0", "axis=1", "axis=7", "n_features", "(n_features, n_features)", "dot",
    "outer", "matmul", "norm", "mean", "std", "bcast", "heaviside", "uniform", "gaussian",
    "minimum", "maximum", "transpose", "abs", "sin", "log", "no_op", "NoOp", "pass", "#", "#c\n",
    "frob", "x", "\x0c", "\x0b", "\x85", "\u2028", "#\x0c#\u2028\x85\x0b", "9" * 4400,
]
token_programs = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)


@given(token_programs)
def test_garbage_from_language_tokens_raises_only_amz_errors(text):
    parse_or_user_error(text)


@given(token_programs)
def test_garbage_inside_a_function_raises_only_amz_errors(text):
    parse_or_user_error("def Predict(v0):\n  " + text)


statement = st.builds(
    lambda out, fn, args: f"{out} = {fn}({', '.join(args)})",
    st.sampled_from(["s1", "v2", "m1", "s1[0]", "v1[2]", "m0[1, 1]"]),
    st.sampled_from(["dot", "outer", "matmul", "norm", "mean", "std", "bcast", "heaviside",
                     "uniform", "gaussian", "minimum", "maximum", "transpose", "abs", "frob",
                     "no_op", "NoOp"]),
    st.lists(st.sampled_from(["s1", "v0", "m1", "1.0", "1", "0.5", "-2", "axis=0", "axis=1",
                              "axis=3", "n_features", "(n_features, n_features)", "x", "nan"]),
             max_size=4),
)


@given(statement)
def test_well_formed_calls_either_parse_or_give_a_type_error(line):
    try:
        p = parse(f"def Setup():\n  {line}\n")
    except (AmzTypeError, AmzSyntaxError) as e:
        assert e.line == 2
    else:
        assert len(p.setup) == 1


@pytest.mark.parametrize("text, message", [
    ("s1 = heaviside(s2, 1.0, 1.0)", "constant cannot be an operand"),
    ("s1 = heaviside(1.0, s2)", "constant cannot be an operand"),
    ("v1 = uniform(0.0, 1.0, n_features, n_features)", "size argument"),
    ("s1 = uniform(0.0, 1.0, n_features)", "for a scalar"),
    ("m1 = gaussian(0.0, 1.0, n_features)", "(n_features, n_features)"),
    ("v1 = gaussian(0.0, 1.0, (n_features, n_features))", "for a vector"),
    ("dot(v0, v1)", "is not an instruction"),
    ("NoOp(s1)", "takes no arguments"),
])
def test_paper_variants_are_accepted_only_in_their_exact_form(text, message):
    with pytest.raises(AmzError) as info:
        parse("def Learn():\n  " + text + "\n")
    assert message in str(info.value)


# ---------------------------------------------------------------------------------------------
# One notion of line: only \n ends one, as lark counts; other characters str.splitlines breaks
# at are characters of their line


NOT_LINE_BREAKS = ["\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]


@pytest.mark.parametrize("char", NOT_LINE_BREAKS + ["\x0c"], ids=repr)
def test_a_comment_holding_another_line_break_is_one_line(char):
    program = parse(f"def Setup():\n  # a{char}b\n  s2 = 1.0  # c{char}d\n  s3 = s0 - s1\n")
    first, second = program.setup
    assert first.leading == (f"# a{char}b",) and first.comment == f"# c{char}d"
    assert first.pos.line == 3 and second.pos.line == 4
    assert second.pos.source_line == "  s3 = s0 - s1"


@pytest.mark.parametrize("char", NOT_LINE_BREAKS, ids=repr)
def test_another_line_break_in_code_is_an_error_on_its_own_line(char):
    text = f"def Setup():\n  # x{char}y\n  s2 = 1.0{char} \n"
    e = error_of(text, AmzSyntaxError)
    assert (e.line, e.column) == (3, 11) and e.source_line == f"  s2 = 1.0{char} "
    assert f"unexpected character {char!r}" in e.message
    header, shown, caret = str(e).split("\n")
    assert shown == "    s2 = 1.0" and char not in str(e).replace(repr(char), "")
    assert caret.index("^") == len("    s2 = 1.0")  # under the character


def test_a_form_feed_in_code_is_blank_space():
    (ins,) = parse("def Setup():\n  s2 =\x0c1.0\n").setup
    assert ins.data == (1.0,)
    e = error_of("def Setup():\n\x0c  s2 = 1.0 s3\n", AmzSyntaxError)
    assert e.line == 2 and str(e).split("\n")[1] == "     s2 = 1.0 s3"  # shown as a space


def test_a_long_line_is_shown_around_the_column():
    e = error_of("def Setup():\n  s2 = 1.0" + " " * 500 + "s3\n", AmzSyntaxError)
    header, shown, caret = str(e).split("\n")
    assert len(shown) < 110 and shown.startswith("  …") and shown.endswith("s3")
    assert shown[caret.index("^")] == "s"


# ---------------------------------------------------------------------------------------------
# Numbers too large for an address, index or axis: a located error, whatever their length


@pytest.mark.parametrize("digits", [len(str(MAX_INTEGER)) + 1, 25, 4301, 10_000])
@pytest.mark.parametrize("template, what, column", [
    ("s{n} = 0.5", "address", 3), ("s1 = s{n} + s2", "address", 8),
    ("v1[{n}] = 0.5", "index", 6), ("m1[0, {n}] = 0.5", "index", 9),
    ("v1 = mean(m1, axis={n})", "axis", 22),
])
def test_huge_integers_are_located_errors(digits, template, what, column):
    text = "def Setup():\n  " + template.format(n="9" * digits) + "\n"
    e = error_of(text, AmzSyntaxError)
    assert (e.line, e.column) == (2, column)
    assert f"{what} " in e.message and "too large" in e.message
    assert len(str(e)) < 400  # the number is not printed whole


def test_the_largest_integer_is_accepted():
    (ins,) = parse(f"def Setup():\n  s{MAX_INTEGER} = 0.5\n  v1[00{MAX_INTEGER}] = 1\n").setup[:1]
    assert ins.out == MAX_INTEGER
    error_of(f"def Setup():\n  s{MAX_INTEGER + 1} = 0.5\n", AmzSyntaxError)


# ---------------------------------------------------------------------------------------------
# Files


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.amz"
    path.write_bytes("\ufeffdef Setup():\n  s2 = 0.5\n".encode())
    assert len(parse_file(path).setup) == 1


def test_a_lone_carriage_return_in_a_file_is_not_a_line_break(tmp_path):
    path = tmp_path / "cr.amz"
    path.write_bytes(b"def Setup():\n  # a\rb\n  s2 = 0.5\r\n  s3 = x\n")
    e = error_of_file(path)
    assert e.line == 4 and e.source_line == "  s3 = x"


def test_bytes_that_are_not_utf8_are_located(tmp_path):
    path = tmp_path / "latin1.amz"
    path.write_bytes("def Setup():\n  # caf\xe9\n".encode("latin-1"))
    e = error_of_file(path)
    assert (e.line, e.column) == (2, 8) and "not UTF-8" in e.message


def error_of_file(path):
    with pytest.raises(AmzSyntaxError) as info:
        parse_file(path)
    return info.value

"""Syntax highlighting of .amz text for HTML, with a Pygments lexer (Pygments comes with rich)."""

from __future__ import annotations

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import RegexLexer, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Text

from amzc.ops import FUNCTION_NAMES


class AmzLexer(RegexLexer):
    name = "amz"
    aliases = ["amz"]
    filenames = ["*.amz"]

    tokens = {
        "root": [
            (r"#.*$", Comment.Single),
            (r"\bdef\b", Keyword),
            (r"\b(Setup|Predict|Learn)\b", Name.Function),
            (words(sorted(FUNCTION_NAMES | {"no_op", "NoOp", "pass"}), suffix=r"\b"), Name.Builtin),
            (r"\b[s][0-9]+\b", Name.Variable),
            (r"\b[v][0-9]+\b", Name.Variable.Class),
            (r"\b[m][0-9]+\b", Name.Variable.Global),
            (r"[+-]?(inf|nan)\b", Number.Float),
            (r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", Number.Float),
            (r"axis", Name.Attribute),
            (r"[=+\-*/]", Operator),
            (r"[()\[\],:]", Punctuation),
            (r"\s+", Text),
            (r".", Text),
        ]
    }


def amz_to_html(text: str) -> str:
    """A self-contained ``<pre>`` block (inline styles, no stylesheet needed)."""
    return highlight(text, AmzLexer(), HtmlFormatter(noclasses=True, style="friendly"))

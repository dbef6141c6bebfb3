"""One exception type per user-facing failure. Each carries where it happened, and ``str()`` is
the message the CLI prints (no traceback)."""

from __future__ import annotations


class AmzError(Exception):
    """Base of every error amzc reports to a user."""


class AmzSourceError(AmzError):
    """An error located in program text: file, line, column, and the line with a caret."""

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        file: str = "<input>",
        line: int | None = None,
        column: int | None = None,
        source_line: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.source_line = source_line
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.kind}: {self.message}"
        if self.source_line is not None:
            shown, caret = _excerpt(self.source_line, self.column)
            text += f"\n  {shown.rstrip()}"
            if caret is not None:
                text += "\n  " + " " * caret + "^"
        if self.hint:
            text += f"\n{self.hint}"
        return text


_EXCERPT = 100  # characters of a long source line shown, around the column


def _excerpt(line: str, column: int | None) -> tuple[str, int | None]:
    """The source line as shown under a message, and the caret's offset in it. One character
    shows as one: a tab, form feed or other space as a space, a control character as '?', so
    that the caret stays under its column and nothing the line holds moves the terminal's
    cursor. A long line is cut to a window around the column."""
    shown = "".join(c if c.isprintable() else " " if c.isspace() else "?" for c in line)
    caret = None if column is None else column - 1
    if len(shown) > _EXCERPT:
        start = max(0, min((caret or 0) - _EXCERPT // 2, len(shown) - _EXCERPT))
        cut = shown[start : start + _EXCERPT]
        shown = ("…" if start else "") + cut + ("…" if start + _EXCERPT < len(shown) else "")
        caret = None if caret is None else caret - start + (1 if start else 0)
    return shown, caret


class AmzSyntaxError(AmzSourceError):
    kind = "syntax error"


class AmzTypeError(AmzSourceError):
    kind = "type error"


class AmzAddressError(AmzSourceError):
    """An address beyond the memory configuration, or an index beyond F."""

    kind = "address error"


class AmzOpNotAllowedError(AmzSourceError):
    kind = "op not allowed"


class AmzConfigError(AmzError):
    """A bad option, task name, config file value or data file."""


class AmzCheckpointError(AmzError):
    """A run folder that cannot be resumed."""


class AmzResourceError(AmzConfigError):
    """Sizes (examples, features, memory) too large for the memory this machine has left."""


class AmzRunFolderBusy(AmzError):
    """A run folder that another process is writing."""

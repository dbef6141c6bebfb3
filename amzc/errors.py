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
            text += f"\n  {self.source_line.rstrip()}"
            if self.column is not None:
                text += "\n  " + " " * (self.column - 1) + "^"
        if self.hint:
            text += f"\n{self.hint}"
        return text


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


class AmzRunFolderBusy(AmzError):
    """A run folder that another process is writing."""

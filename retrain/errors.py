"""Errors of the retraining room."""

from __future__ import annotations

from modgate.errors import ModgateError


class RetrainError(ModgateError):
    """Root of retraining errors."""


class DataError(RetrainError):
    """A labelled data file is malformed (unknown label, missing column) or too small."""


class EvalInputError(DataError):
    """An evaluation file or its column mapping is unusable. The message names the file (or
    option), and where known the line and column, so the user can fix the input."""

    def __init__(
        self, source: object, message: str, *, line: int | None = None, column: str = ""
    ) -> None:
        where = str(source)
        if line is not None:
            where += f", line {line}"
        if column:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
        self.source = str(source)
        self.line = line
        self.column = column

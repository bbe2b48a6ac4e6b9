"""How every ``modgate`` subcommand reports a user error: one line on stderr and exit code 2
(1 for a failed operation), never a traceback."""

from __future__ import annotations

from typing import NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)

"""What every `ringfence` command shares: how a bad input from the person at the console is reported."""

from __future__ import annotations

import os
import sqlite3
from typing import IO, Any

import click

from firmware.errors import ExitCode, InputError, LinkError, RingfenceError


# click types exit_code as a plain int; ours are ExitCode members (ints), which mypy cannot see through two bases.
class UserError(InputError, click.ClickException):  # type: ignore[misc]
    """A bad input from the person at the console: one clear line on stderr and exit status 2."""

    def __init__(self, message: str) -> None:
        click.ClickException.__init__(self, message)

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"ringfence: error: {self.message}", err=True)


def os_error_line(exc: OSError) -> str:
    """`PATH: reason` for an error the operating system gave about a path, else its own words."""
    reason = (exc.strerror or str(exc)).lower()
    return f"{exc.filename}: {reason}" if exc.filename else reason


def one_line(exc: Exception) -> tuple[str, ExitCode] | None:
    """The line and exit status for an error that reached the command line, or None to let click handle it."""
    if isinstance(exc, RingfenceError):
        return str(exc), exc.exit_code
    if isinstance(exc, click.ClickException | click.exceptions.Exit | click.Abort):
        return None
    if isinstance(exc, ConnectionError | TimeoutError):
        return os_error_line(exc), LinkError.exit_code
    if isinstance(exc, OSError):
        return os_error_line(exc), InputError.exit_code
    if isinstance(exc, sqlite3.OperationalError):  # a database file that cannot be opened or written
        return f"database: {exc}", InputError.exit_code
    if os.environ.get("RINGFENCE_DEBUG"):
        return None
    return (f"internal error: {type(exc).__name__}: {exc} (RINGFENCE_DEBUG=1 shows where)", ExitCode.INTERNAL)

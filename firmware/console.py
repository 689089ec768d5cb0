"""What every `ringfence` command shares: how a bad input from the person at the console is reported."""

from __future__ import annotations

import click


class UserError(click.ClickException):
    """A bad input from the person at the console: one clear line on stderr and exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"ringfence: error: {self.message}", err=True)

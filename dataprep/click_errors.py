"""Click's own errors (a missing option, a bad value) as one line on stderr.

Shared by the `dataprep` CLI and `python -m dataprep.train`, which must not import the CLI.
"""
from __future__ import annotations

import sys
from typing import Any

import click

_HELP_ERRORS: tuple[type[click.ClickException], ...] = tuple(
    e for e in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if e is not None)


class OneLineErrors:
    """Click's own errors (a missing option, a bad value) as one line, like every other error.

    Click prints usage, a hint and the message on four lines; this prints
    `error: MESSAGE (see 'dataprep CMD --help')` and keeps Click's exit code (2).
    Mixed into the top-level group and into commands run on their own.
    """

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)  # type: ignore[misc]
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)  # type: ignore[misc]
        except _HELP_ERRORS as exc:  # a group run without a command: its help, as Click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"error: {one_line(exc)}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:  # Click's word for a Ctrl-C before the command ran (exit 1 read as "data problems")
            click.echo("interrupted", err=True)
            sys.exit(130)
        # Without standalone mode Click returns the code of an explicit exit (e.g. after --help).
        sys.exit(rv if isinstance(rv, int) else 0)


def one_line(exc: click.ClickException) -> str:
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


class OneLineCommand(OneLineErrors, click.Command):
    """A click.Command with one-line errors when run on its own."""

"""`python -m dataprep.train --config train.yaml` (and `torchrun ... -m dataprep.train ...`).

The same options as `dataprep train` (a test checks that they agree), parsed here
and handed to the library (`dataprep.train.entry`), without importing the CLI.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from .. import io, lifecycle
from ..click_errors import OneLineCommand
from ..errors import EXIT_DATA_PROBLEM, DataprepError
from ..train_options import train_options

PROG = "python -m dataprep.train"


@click.command("train", cls=OneLineCommand)
@train_options
def main(config_path: Path, quiet: bool, **options) -> None:
    """Train the reference UNet on a prepared manifest; validate, log and checkpoint every epoch."""
    lifecycle.install_sigterm()  # `kill PID` unwinds like Ctrl-C, and the trainer saves last.pt
    from .entry import summary_lines, train_from_options  # torch: only once the options parsed

    try:
        if os.environ.get(io.MAX_PIXELS_ENV):  # a bad value: one usage error, not one per file
            io.max_image_pixels()
        result = train_from_options(config_path, quiet=quiet, **options)
    except DataprepError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:  # the trainer has saved last.pt and said how to resume
        sys.exit(lifecycle.EXIT_TERMINATED if isinstance(exc, lifecycle.Terminated) else 130)
    except OSError as exc:
        click.echo(f"error: {f'{exc.filename}: ' if exc.filename else ''}{exc.strerror or exc}", err=True)
        sys.exit(EXIT_DATA_PROBLEM)
    for line in summary_lines(result):
        click.echo(line)


if __name__ == "__main__":
    main(prog_name=PROG)

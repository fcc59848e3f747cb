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
from ..errors import EXIT_DATA_PROBLEM, DataprepError

PROG = "python -m dataprep.train"


class _Command(click.Command):
    """Click errors as one line on stderr, naming the help to read."""

    def main(self, *args, **kwargs):  # type: ignore[override]
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            message = " ".join(exc.format_message().split())
            if isinstance(exc, click.UsageError) and getattr(exc, "ctx", None) is not None:
                message += f" (see '{exc.ctx.command_path} --help')"
            click.echo(f"error: {message}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.command("train", cls=_Command)
@click.option("-c", "--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Trainer config YAML (see pipelines/train_sample.yaml).")
@click.option("--fold", type=click.IntRange(min=0), default=None,
              help="Train on a kfold manifest's other folds, validate on this one (data.fold).")
@click.option("--engine", type=click.Choice(["cpu", "dali"]), default=None,
              show_default="the config's data.engine, else cpu", help="Data loading engine (data.engine).")
@click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Continue from a checkpoint (e.g. OUTPUT_DIR/last.pt).")
@click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where checkpoints and logs go (train.output_dir).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="train.epochs")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many optimizer steps; also the schedule's length (train.max_steps).")
@click.option("--device", default=None, show_default="the config's train.device, else auto",
              help="auto (CUDA when available, else CPU), cpu, cuda or cuda:N (train.device).")
@click.option("--set", "settings", multiple=True, metavar="SECTION.FIELD=VALUE",
              help="Override any config field, e.g. --set optim.lr=3e-4 --set data.batch_size=4 (repeatable).")
@click.option("--overwrite", is_flag=True, help="Start afresh in an output folder that already holds a run.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars or progress messages (bars are drawn only on a terminal anyway; "
                   "DATAPREP_PROGRESS=1 draws them in logs too).")
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

"""`dataprep train` (also `python -m dataprep.train` and `torchrun -m dataprep.train`)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..train_options import train_options
from .common import Command, reports_errors


@click.command("train", cls=Command)
@train_options
@reports_errors
def train_command(config_path: Path, fold: int | None, engine: str | None, resume: Path | None,
                  output_dir: Path | None, epochs: int | None, max_steps: int | None, device: str | None,
                  settings: tuple[str, ...], overwrite: bool, quiet: bool) -> None:
    """Train the reference UNet on a prepared manifest; validate, log and checkpoint every epoch.

    Launch with torchrun for several GPUs or machines (only rank 0 writes).

    \b
    Examples:
      dataprep train --config pipelines/train_sample.yaml
      dataprep train --config pipelines/train_sample.yaml --fold 1 -o runs/fold1
      dataprep train --config pipelines/train_sample.yaml --resume runs/sample/last.pt
      torchrun --nproc_per_node 2 -m dataprep.train --config pipelines/train_sample.yaml
    """
    # torch is imported here, not at module level: `dataprep --help` must stay fast.
    from ..train.entry import summary_lines, train_from_options

    try:
        result = train_from_options(config_path, fold=fold, engine=engine, resume=resume, output_dir=output_dir,
                                    epochs=epochs, max_steps=max_steps, device=device, settings=settings,
                                    overwrite=overwrite, quiet=quiet)
    except KeyboardInterrupt as exc:  # the trainer has saved last.pt and said how to resume
        sys.exit(143 if type(exc).__name__ == "Terminated" else 130)
    for line in summary_lines(result):
        click.echo(line)

"""`dataprep train` (also `python -m dataprep.train` and `torchrun -m dataprep.train`)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .common import Command, quiet_option, reports_errors


@click.command("train", cls=Command)
@click.option("-c", "--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="Trainer config YAML (see pipelines/train_sample.yaml).")
@click.option("--fold", type=click.IntRange(min=0), default=None,
              help="Train on a kfold manifest's other folds, validate on this one (data.fold).")
@click.option("--engine", type=click.Choice(["cpu", "dali"]), default=None, show_default="the config's data.engine, else cpu",
              help="Data loading engine (data.engine).")
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
@quiet_option
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

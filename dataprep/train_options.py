"""The options of `dataprep train`, shared with `python -m dataprep.train`.

A module of its own (click only, no torch): the CLI imports it at start-up, and
`python -m dataprep.train` uses it without importing the CLI.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable)

_OPTIONS = (
    click.option("-c", "--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 required=True, help="Trainer config YAML (see pipelines/train_sample.yaml)."),
    click.option("--fold", type=click.IntRange(min=0), default=None,
                 help="Train on a kfold manifest's other folds, validate on this one (data.fold)."),
    click.option("--engine", type=click.Choice(["cpu", "dali"]), default=None,
                 show_default="the config's data.engine, else cpu", help="Data loading engine (data.engine)."),
    click.option("--resume", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                 help="Continue from a checkpoint (e.g. OUTPUT_DIR/last.pt)."),
    click.option("-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                 help="Where checkpoints and logs go (train.output_dir)."),
    click.option("--epochs", type=click.IntRange(min=1), default=None, help="train.epochs"),
    click.option("--max-steps", type=click.IntRange(min=1), default=None,
                 help="Stop after this many optimizer steps; also the schedule's length (train.max_steps)."),
    click.option("--device", default=None, show_default="the config's train.device, else auto",
                 help="auto (CUDA when available, else CPU), cpu, cuda or cuda:N (train.device)."),
    click.option("--set", "settings", multiple=True, metavar="SECTION.FIELD=VALUE",
                 help="Override any config field, e.g. --set optim.lr=3e-4 --set data.batch_size=4 (repeatable)."),
    click.option("--overwrite", is_flag=True, help="Start afresh in an output folder that already holds a run."),
    click.option("-q", "--quiet", is_flag=True,
                 help="No progress bars or progress messages (bars are drawn only on a terminal anyway; "
                      "DATAPREP_PROGRESS=1 draws them in logs too)."),
)


def train_options(fn: F) -> F:
    """Apply every `dataprep train` option to `fn`, in the order `--help` lists them."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn

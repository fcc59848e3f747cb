"""The trainer's command-line options as a library call, shared by `dataprep train` and
`python -m dataprep.train`: options -> overrides -> config -> `run_training`, and the closing summary."""
from __future__ import annotations

import math
import os
from collections.abc import Iterable

from .config import check_inputs, load_config, parse_override
from .loop import TrainResult, run_training


def train_from_options(config_path: str | os.PathLike[str], *, fold: int | None = None, engine: str | None = None,
                       resume: str | os.PathLike[str] | None = None,
                       output_dir: str | os.PathLike[str] | None = None, epochs: int | None = None,
                       max_steps: int | None = None, device: str | None = None, settings: Iterable[str] = (),
                       overwrite: bool = False, quiet: bool = False) -> TrainResult:
    """Train with the config file at `config_path`, `settings` ("section.field=value") and the named
    options laid over it (an option given wins over a setting of the same field)."""
    overrides = dict(parse_override(s) for s in settings)
    flags = {"data.fold": fold, "data.engine": engine, "train.output_dir": str(output_dir) if output_dir else None,
             "train.epochs": epochs, "train.max_steps": max_steps, "train.device": device}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    config = load_config(config_path, overrides)
    check_inputs(config)
    return run_training(config, resume=resume, overwrite=overwrite, quiet=quiet)


def summary_lines(result: TrainResult) -> list[str]:
    """What a finished run reports (rank 0 only: other ranks get no lines)."""
    if not result.is_main:
        return []
    best = "" if result.best_miou is None or math.isnan(result.best_miou) else \
        f", best val mIoU {100 * result.best_miou:.2f}%"
    checkpoints = f"checkpoints: {result.last_checkpoint}" + (f", {result.best_checkpoint}"
                                                              if result.best_checkpoint else "")
    steps = len(result.step_losses)
    # A resumed run: "done: 7 steps" read as a run of 7 at step 14.
    done = f"{steps} steps" if result.step <= steps else f"{steps} steps (step {result.step} of the run)"
    return [f"\ndone: {done}{best}", checkpoints,
            f"logs: {result.output_dir / 'metrics.csv'}, {result.output_dir / 'metrics.jsonl'}"]


__all__ = ["summary_lines", "train_from_options"]

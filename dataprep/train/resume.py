"""Checkpoint-resume glue of the loop: where a run starts (fresh, or from a checkpoint's epoch, batch and step)
and the checkpoints it writes (`last.pt` after every epoch and on Ctrl-C, `best.pt` when mIoU improved)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from .checkpoint import load_checkpoint, restore, save_checkpoint, training_state
from .optim import apply_schedule
from .runlog import METRICS_JSONL, Console, read_history

LAST, BEST = "last.pt", "best.pt"


@dataclass
class StartPoint:
    """Where the loop starts: epoch 0 of a fresh run, or the position a checkpoint recorded."""

    epoch: int = 0
    skip_batches: int = 0  # batches of `epoch` the interrupted run already used
    step: int = 0
    best_miou: float | None = None
    carried: dict[str, float] = field(default_factory=dict)  # the interrupted epoch's running sums
    history: list[dict[str, Any]] = field(default_factory=list)  # the completed epochs' records


def start_point(resume: str | os.PathLike[str] | None, *, net: nn.Module, optimizer: Any, scheduler: Any,
                scaler: Any, device: torch.device, batches: int, out: Path, console: Console,
                meta: Mapping[str, Any] | None = None) -> StartPoint:
    """A fresh start, or the checkpoint `resume` restored into the model and optimization state.

    `meta`: this run's checkpoint meta; a checkpoint of another model (classes, channels, width, ...) is refused
    naming what differs."""
    if resume is None:
        return StartPoint()
    state = load_checkpoint(resume, map_location=device)
    if meta is not None:
        check_same_model(state.get("meta") or {}, meta, resume)
    restore(state, model=net, optimizer=optimizer, scheduler=scheduler, scaler=scaler, source=resume)
    apply_schedule(optimizer, scheduler)  # this run's schedule from the first resumed step (--epochs may differ)
    start_epoch, skip_batches, step = int(state["epoch"]), int(state["batch_in_epoch"]), int(state["step"])
    best_miou, carried = state.get("best_miou"), dict(state.get("running") or {})
    if skip_batches >= batches:
        start_epoch, skip_batches, carried = start_epoch + 1, 0, {}
    history = read_history(out / METRICS_JSONL, completed_epochs=start_epoch)
    where = (f"in epoch {start_epoch + 1} at batch {skip_batches}" if skip_batches else
             f"after epoch {start_epoch}")  # not "epoch 16" for a finished 15-epoch run
    console.echo(f"resumed from {resume} {where}, step {step}")
    return StartPoint(start_epoch, skip_batches, step, best_miou, carried, history)


def check_same_model(saved: Mapping[str, Any], meta: Mapping[str, Any], source: str | os.PathLike[str]) -> None:
    """Refuse a checkpoint whose model differs from the config's: torch's load_state_dict said only
    "Error(s) in loading state_dict for UNet:" (its details on lines after), exit 1."""
    saved_model = (saved.get("config") or {}).get("model") or {}
    model = (meta.get("config") or {}).get("model") or {}
    fields = [("classes", saved.get("num_classes"), meta.get("num_classes")),
              ("input channels", saved.get("in_channels"), meta.get("in_channels"))]
    fields += [(f"model.{k}", saved_model.get(k), model.get(k)) for k in ("width", "depth", "up")]
    differ = [(name, a, b) for name, a, b in fields if a is not None and b is not None and a != b]
    if not differ:
        return

    def said(values: list[tuple[str, Any]]) -> str:
        # "11 classes", "1 input channel", "model.width 8"
        return " and ".join(f"{name} {v}" if name.startswith("model.") else f"{v} {name[:-1] if v == 1 else name}"
                            for name, v in values)

    raise UsageError(source, f"a checkpoint of another model: it has {said([(n, a) for n, a, _ in differ])}, the "
                             f"config {said([(n, b) for n, _, b in differ])}; resume a checkpoint of this config's "
                             "model, or start fresh without --resume")


@dataclass(frozen=True)
class Checkpointer:
    """Writes the run's checkpoints into `out` (rank 0 only calls it)."""

    out: Path
    net: nn.Module  # unwrapped from DDP
    optimizer: Any
    scheduler: Any
    scaler: Any
    meta: dict[str, Any]  # config, channels, classes, ignore index, normalization: what predict needs

    def state(self, epoch: int, batch: int, step: int, best_miou: float | None,
              sums: Mapping[str, float]) -> dict[str, Any]:
        return training_state(model=self.net, optimizer=self.optimizer, scheduler=self.scheduler,
                              scaler=self.scaler, epoch=epoch, batch_in_epoch=batch, step=step, best_miou=best_miou,
                              running=sums, meta=self.meta)

    def save_interrupted(self, epoch: int, position: Mapping[str, Any], best_miou: float | None) -> Path:
        """`last.pt` at the last optimizer step (`position`), for a run stopped inside an epoch."""
        state = self.state(epoch, position["batch"], position["step"], best_miou, position["sums"])
        return save_checkpoint(self.out / LAST, state)

    def save_epoch_end(self, epoch: int, position: Mapping[str, Any], step: int, batches: int,
                       best_miou: float | None, improved: bool) -> tuple[Path, Path | None]:
        """`last.pt` (and `best.pt` when `improved`) after an epoch; the paths written."""
        if position["batch"] >= batches:  # the epoch is complete: the next run starts the next one
            state = self.state(epoch + 1, 0, step, best_miou, {})
        else:  # max_steps ended the epoch early
            state = self.state(epoch, position["batch"], step, best_miou, position["sums"])
        last = save_checkpoint(self.out / LAST, state)
        return last, save_checkpoint(self.out / BEST, state) if improved else None

    def clear(self) -> None:
        """A fresh run (--overwrite) removes the checkpoints of the run before it: a best.pt left behind was
        reported as this run's, and a failed start left last.pt beside a config.yaml of another run."""
        for name in (LAST, BEST):
            (self.out / name).unlink(missing_ok=True)

    def existing(self) -> tuple[Path | None, Path | None]:
        """`last.pt` and `best.pt` where they exist (a run that trained nothing still reports them)."""
        last, best = self.out / LAST, self.out / BEST
        return (last if last.exists() else None), (best if best.exists() else None)

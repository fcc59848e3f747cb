"""What one epoch of training works with: the run's fixed parts, and the progress carried from step to step."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .datainfo import DataInfo
from .losses import SegmentationLoss


@dataclass(frozen=True)
class StepInfo:
    """Passed to `on_step` after every optimizer step."""

    step: int  # optimizer steps done so far (1 after the first)
    epoch: int  # 0-based
    batch: int  # batches of this epoch used so far
    loss: float  # mean loss of the step's batches on this rank
    lr: float
    ids: list[str]  # sample ids of the step's batches on this rank


@dataclass(frozen=True)
class EpochParts:
    """What an epoch of training uses, built once per run by `train`."""

    model: nn.Module  # the model as trained (DDP-wrapped under torchrun)
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: Any  # a GradScaler under float16 AMP, else None
    criterion: SegmentationLoss
    amp: torch.dtype | None
    device: torch.device
    data: DataInfo
    loader: Any  # the training loader (`set_epoch`, iterable)
    batches: int  # batches per epoch, equal on every rank
    total_steps: int
    accumulate: int
    clip_grad_norm: float | None
    epochs: int


class BufferSnapshot:
    """The model's buffers (BatchNorm running statistics and num_batches_tracked) as of the last optimizer step.

    A Ctrl-C lands inside a step, after its forward passes updated them; the checkpoint written then records the
    position of the last completed step, so `restore` puts these back first, or the resumed run went on from
    statistics one step ahead (num_batches_tracked 10 at step 9) and ended unlike an uninterrupted run. The
    buffers are small (two vectors per BatchNorm layer): one copy per step costs well under a millisecond.
    """

    def __init__(self, model: nn.Module) -> None:
        self.live = list(model.buffers())
        self.saved = [b.detach().clone() for b in self.live]

    def take(self) -> None:
        if self.live:
            torch._foreach_copy_(self.saved, self.live)

    def restore(self) -> None:
        if self.live:
            with torch.no_grad():
                torch._foreach_copy_(self.live, self.saved)


@dataclass
class LoopProgress:
    """What carries over from one optimizer step to the next, across epochs."""

    step: int  # optimizer steps done
    first_batch: bool  # the next batch is the run's first: its inputs and loss are checked
    stopped: bool  # max_steps reached
    step_losses: list[float] = field(default_factory=list)  # this run's per-step losses
    warned_classes: bool = False  # the fewer-than-2-classes line is said once per run
    # Where the last optimizer step left off: what a checkpoint written on Ctrl-C records.
    position: dict[str, Any] = field(default_factory=dict)
    buffers: BufferSnapshot | None = None  # the model's buffers at `position`

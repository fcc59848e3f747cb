"""The training loop: `train` drives the run and `train_epoch` trains one epoch.

Their pieces live beside: `parts` (what an epoch works with), `steps` (the optimizer step and the batch checks),
`validate`, `prepare` (seeding, the loss, batch-size checks) and `resume` (start point and checkpoints).

Per epoch: set the loader's epoch (reshuffles, redraws augmentations), train
over its batches with gradient accumulation, average BatchNorm statistics over
ranks, validate (confusion matrix -> IoU table), then rank 0 writes the logs
and the `last` (and, when mIoU improved, `best`) checkpoint.

A step is one optimizer step (`train.accumulate` batches). Runs are
reproducible from the seed: the model is initialised from it and the loader
derives every shuffle and augmentation from (seed, epoch, sample). That is what
makes `--resume` exact: a checkpoint records the epoch and how many of its
batches were used, and the resumed run skips those batches of the same epoch.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ..errors import DataprepError, UsageError
from ..lifecycle import signals_held
from ..progress import bars_disabled
from . import distributed as D
from .config import TrainConfig
from .datainfo import build_loaders, describe_data
from .metrics import SegmentationScores, format_table
from .model import UNet, count_parameters
from .optim import amp_dtype, amp_name, build_optimizer, build_scheduler
from .parts import BufferSnapshot, EpochParts, LoopProgress, StepInfo
from .prepare import build_loss, check_batches, restoring_torch_flags, seed_everything
from .resume import BEST, LAST, Checkpointer, start_point
from .runlog import Console, RunLogs, epoch_line
from .steps import check_first_labels, check_first_loss, check_inputs, check_labels, optimizer_step, reduce_epoch
from .validate import evaluate, validate_epoch

# The loop's pieces stay importable from here, where they were.
__all__ = [
    "BEST", "LAST", "EpochParts", "LoopProgress", "StepInfo", "TrainResult", "build_loss", "check_batches",
    "check_first_labels", "check_first_loss", "check_inputs", "check_labels", "evaluate", "optimizer_step",
    "reduce_epoch", "run_training", "seed_everything", "train", "train_epoch", "validate_epoch",
]


@dataclass
class TrainResult:
    output_dir: Path
    history: list[dict[str, Any]]  # one record per epoch, as in metrics.jsonl
    step_losses: list[float]  # this run's per-step losses (this rank's), in order
    best_miou: float | None
    last_checkpoint: Path | None  # None on ranks other than 0 (they write nothing)
    best_checkpoint: Path | None
    model: nn.Module  # the trained model (unwrapped from DDP)
    scores: SegmentationScores | None  # the last validation
    class_names: list[str] | None = None
    is_main: bool = True  # rank 0 (or a single process): the one that wrote the files
    step: int = 0  # the optimizer steps of the whole run, those before a resume included


# --------------------------------------------------------------------------- entry points


def run_training(
    config: TrainConfig,
    *,
    resume: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    on_step: Callable[[StepInfo], None] | None = None,
) -> TrainResult:
    """Train as `config` says, in this process or as one rank of a torchrun launch."""
    info = D.env_info()
    device = D.resolve_device(config.train.device, info)
    D.setup(device, info)
    try:
        with restoring_torch_flags():
            result = train(config, device=device, info=info, resume=resume, overwrite=overwrite, quiet=quiet,
                           on_step=on_step)
    except BaseException:
        D.teardown(synchronize=False)  # peers may be inside a collective: no final barrier
        raise
    D.teardown()
    return result


def train(
    config: TrainConfig,
    *,
    device: torch.device | None = None,
    info: D.DistInfo | None = None,
    resume: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    on_step: Callable[[StepInfo], None] | None = None,
) -> TrainResult:
    """The loop itself, for an already set-up process (see `run_training`)."""
    info = info or D.DistInfo()
    device = device or torch.device("cpu")
    cfg, loop = config, config.train
    out = Path(loop.output_dir)
    console = Console(enabled=info.is_main, quiet=quiet)
    if resume is None and not overwrite and (out / LAST).exists():
        raise UsageError(out, f"already holds a checkpoint; continue it with --resume {out / LAST}, "
                              "or pass --overwrite, or choose another --output-dir (in Python: resume=, "
                              "overwrite=True, train.output_dir)")

    # ---- data, model, optimization
    seed_everything(loop.seed, loop.deterministic, device)
    data = describe_data(cfg)
    for line in data.warnings:
        console.warn(line)
    val_batch = check_batches(cfg, console)
    train_loader, val_loader = build_loaders(cfg, info, device, val_batch_size=val_batch, data=data)
    batches = D.all_reduce_min_int(len(train_loader), device)  # equal on every rank, or DDP would hang
    if batches == 0:
        raise DataprepError(cfg.data.manifest, f"no training batches (fewer samples than batch_size "
                                               f"{cfg.data.batch_size} with drop_last, or an empty fold)")
    total_steps = loop.epochs * math.ceil(batches / loop.accumulate)
    if loop.max_steps is not None:
        total_steps = min(total_steps, loop.max_steps)

    torch.manual_seed(loop.seed)  # the same initial weights on every rank and in every run
    net = UNet(data.in_channels, data.num_classes, width=cfg.model.width, depth=cfg.model.depth, up=cfg.model.up)
    net = net.to(device, memory_format=torch.channels_last if device.type == "cuda" else torch.contiguous_format)
    model = D.wrap_model(net, device, sync_bn=cfg.model.sync_bn)
    optimizer = build_optimizer(net, cfg)
    scheduler = build_scheduler(optimizer, cfg, total_steps)
    amp, amp_warning = amp_dtype(loop.amp, device)
    if amp_warning:
        console.warn(amp_warning)
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    criterion = build_loss(cfg, data).to(device)
    parts = EpochParts(model, optimizer, scheduler, scaler, criterion, amp, device, data, train_loader, batches,
                       total_steps, loop.accumulate, loop.clip_grad_norm, loop.epochs)

    # ---- where to start
    meta = {"config": cfg.to_dict(), "in_channels": data.in_channels, "num_classes": data.num_classes,
            "ignore_index": data.ignore_index, "class_names": data.class_names,
            "normalization": data.normalization(cfg)}
    start = start_point(resume, net=net, optimizer=optimizer, scheduler=scheduler, scaler=scaler, device=device,
                        batches=batches, out=out, console=console, meta=meta)
    start_epoch, skip_batches, step, best_miou = start.epoch, start.skip_batches, start.step, start.best_miou
    carried, history = start.carried, start.history
    checkpoints = Checkpointer(out, net, optimizer, scheduler, scaler, meta)
    if resume is None and info.is_main:
        checkpoints.clear()

    logs = RunLogs(out, enabled=info.is_main, fresh=resume is None, keep_until_step=step)
    logs.write_config(cfg)
    console.echo(
        f"training UNet (width {cfg.model.width}, depth {cfg.model.depth}, {count_parameters(net) / 1e6:.2f}M params) "
        f"on {device}{f' x{info.world_size} ranks' if info.distributed else ''}: {data.num_classes} classes, "
        f"{batches} batches/epoch per rank, {total_steps} steps, amp {amp_name(amp)}"
    )

    if step >= total_steps or start_epoch >= loop.epochs:
        console.echo(f"nothing to train: the checkpoint is at epoch {start_epoch}, step {step}; "
                     f"raise --epochs (now {loop.epochs}) or --max-steps (now {loop.max_steps})")

    # ---- the loop
    # --max-steps may end the run epochs early: "epoch 4/15" for a 4-epoch run read as a run cut short.
    planned_epochs = min(loop.epochs, math.ceil(total_steps / max(1, math.ceil(batches / loop.accumulate))))
    progress = LoopProgress(step=step, first_batch=resume is None, stopped=step >= total_steps,
                            buffers=BufferSnapshot(net))
    last_scores: SegmentationScores | None = None
    last_path = best_path = None
    for epoch in range(start_epoch, loop.epochs):
        if progress.stopped:
            break
        try:
            sums, last_lr = train_epoch(parts, progress, epoch, skip_batches, carried, console, logs, on_step)
        except KeyboardInterrupt:
            if progress.buffers is not None:  # the model as of the last completed step, which `position` names
                progress.buffers.restore()
            if info.is_main:
                path = checkpoints.save_interrupted(epoch, progress.position, best_miou)
                logs.flush_steps()
                console.warn(f"interrupted at step {progress.position['step']}; continue with --resume {path}")
            raise
        skip_batches, carried, step = 0, {}, progress.step

        # ---- end of epoch: statistics, validation, logs, checkpoints
        D.average_buffers(model)
        train_loss, timing = reduce_epoch(sums, device)
        record: dict[str, Any] = {"epoch": epoch + 1, "step": step, "lr": last_lr, "train_loss": train_loss, **timing}
        validate = val_loader is not None and ((epoch + 1) % loop.val_every == 0 or epoch + 1 == loop.epochs
                                               or progress.stopped)
        improved = False
        if validate:
            last_scores = validate_epoch(parts, net, val_loader, info, console, record, progress)
            improved = not math.isnan(last_scores.miou) and (best_miou is None or last_scores.miou > best_miou)
            if improved:
                best_miou = last_scores.miou
        history.append(record)
        console.echo(epoch_line(record, planned_epochs))
        if validate and last_scores is not None:
            console.echo(format_table(last_scores, data.class_names))

        if info.is_main:
            last_path, best = checkpoints.save_epoch_end(epoch, progress.position, step, batches, best_miou, improved)
            best_path = best or best_path
            logs.write_epochs(history)
        D.barrier()

    if info.is_main:
        logs.flush_steps()
        existing_last, existing_best = checkpoints.existing()
        last_path, best_path = last_path or existing_last, best_path or existing_best
    return TrainResult(out, history, progress.step_losses, best_miou, last_path, best_path, net, last_scores,
                       data.class_names, info.is_main, progress.step)


def train_epoch(parts: EpochParts, progress: LoopProgress, epoch: int, start: int, carried: Mapping[str, float],
                console: Console, logs: RunLogs,
                on_step: Callable[[StepInfo], None] | None = None) -> tuple[dict[str, float], float]:
    """Train one epoch from batch `start` (skipping the batches a resumed run already used); updates
    `progress` after every optimizer step. Returns the epoch's running sums and the last learning rate."""
    p = parts
    model, optimizer, scaler, criterion, amp, device, batches = (p.model, p.optimizer, p.scaler, p.criterion, p.amp,
                                                                 p.device, p.batches)
    sums = {"loss": 0.0, "weight": 0.0, "data_time": 0.0, "step_time": 0.0, "batches": 0.0, **carried}
    progress.position = {"batch": start, "step": progress.step, "sums": dict(sums)}
    if progress.buffers is not None:
        progress.buffers.take()
    p.loader.set_epoch(epoch)
    model.train()
    batch_iter = iter(p.loader)
    for _ in range(start):  # resuming inside an epoch: the same batches, not trained on again
        next(batch_iter)
    bar = tqdm(total=batches, initial=start, desc=f"epoch {epoch + 1}/{p.epochs}", leave=False,
               disable=bars_disabled(console.silent), dynamic_ncols=True)
    micro_losses: list[torch.Tensor] = []
    step_ids: list[str] = []
    last_lr = float(optimizer.param_groups[0]["lr"])
    try:
        tick = time.perf_counter()
        for b in range(start, batches):
            batch = next(batch_iter)
            got = time.perf_counter()
            sums["data_time"] += got - tick
            image = batch["image"].to(device, non_blocking=True)
            mask = batch["mask"].to(device, non_blocking=True)
            check_labels(mask, batch["id"], p.data)
            if device.type == "cuda":
                image = image.contiguous(memory_format=torch.channels_last)
            if progress.first_batch:
                check_inputs(image, console)
                check_first_labels(mask, p.data, console)

            boundary = (b + 1) % p.accumulate == 0 or b + 1 == batches
            # Under DDP, gradients are all-reduced only on the step's last batch.
            sync = model.no_sync() if not boundary and hasattr(model, "no_sync") else contextlib.nullcontext()
            with sync:
                with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                    logits = model(image)
                loss_sum, weight_sum = criterion.sums(logits, mask)
                loss = loss_sum.sum() / weight_sum.sum().clamp_min(1e-12)
                # The step's gradient is the mean over its batches (an epoch's last group may be short).
                group = min(p.accumulate, batches - (b // p.accumulate) * p.accumulate)
                (scaler.scale(loss / group) if scaler else loss / group).backward()
            sums["loss"] += float(loss_sum.detach().sum())
            sums["weight"] += float(weight_sum.detach().sum())
            sums["batches"] += 1
            micro_losses.append(loss.detach())
            step_ids.extend(batch["id"])
            if progress.first_batch:
                check_first_loss(float(loss.detach()), criterion, console)
                progress.first_batch = False

            if boundary:
                with signals_held():  # the weights, the step count and the logs of one step, or none
                    last_lr = optimizer_step(model, optimizer, scaler, p.clip_grad_norm)
                    p.scheduler.step()
                    progress.step += 1
                    step = progress.step
                    progress.position = {"batch": b + 1, "step": step, "sums": dict(sums)}
                    if progress.buffers is not None:
                        progress.buffers.take()
                    step_loss = float(torch.stack(micro_losses).mean())
                    if not math.isfinite(step_loss):
                        raise DataprepError(None, f"training diverged: the loss is {step_loss} at step {step} "
                                                  "(lower optim.lr, set train.clip_grad_norm, or try amp: off)")
                    progress.step_losses.append(step_loss)
                    logs.add_step(step, epoch, step_loss, last_lr)
                    bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{last_lr:.2e}", refresh=False)
                if on_step is not None:
                    on_step(StepInfo(step, epoch, b + 1, step_loss, last_lr, step_ids))
                micro_losses, step_ids = [], []
                progress.stopped = step >= p.total_steps
            bar.update(1)
            tick = time.perf_counter()
            sums["step_time"] += tick - got
            if progress.stopped:
                break
    finally:
        bar.close()
    return sums, last_lr

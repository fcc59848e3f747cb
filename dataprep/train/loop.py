"""The training loop: `train` drives the run, `train_epoch` trains one epoch, and the per-step pieces they use.

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
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..errors import DataprepError, UsageError
from ..progress import bars_disabled
from . import distributed as D
from .checkpoint import load_checkpoint, restore, save_checkpoint, training_state
from .config import TrainConfig
from .datainfo import DataInfo, build_loaders, describe_data
from .losses import SegmentationLoss, class_weights_from_stats
from .batchcheck import first_size_mismatch
from .metrics import SegmentationScores, class_names, format_table, per_sample_confusion, scores
from .model import UNet, count_parameters
from .optim import amp_dtype, amp_name, build_optimizer, build_scheduler
from .runlog import METRICS_JSONL, Console, RunLogs, epoch_line, read_history

LAST, BEST = "last.pt", "best.pt"


@dataclass(frozen=True)
class StepInfo:
    """Passed to `on_step` after every optimizer step."""

    step: int  # optimizer steps done so far (1 after the first)
    epoch: int  # 0-based
    batch: int  # batches of this epoch used so far
    loss: float  # mean loss of the step's batches on this rank
    lr: float
    ids: list[str]  # sample ids of the step's batches on this rank


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
        with _restoring_torch_flags():
            result = train(config, device=device, info=info, resume=resume, overwrite=overwrite, quiet=quiet,
                           on_step=on_step)
    except BaseException:
        D.teardown(synchronize=False)  # peers may be inside a collective: no final barrier
        raise
    D.teardown()
    return result


@contextlib.contextmanager
def _restoring_torch_flags() -> Iterator[None]:
    """Put back the process-wide flags `seed_everything` sets, so a run in a notebook or test leaves no trace."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]


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
                              "or pass --overwrite, or choose another --output-dir")

    # ---- data, model, optimization
    seed_everything(loop.seed, loop.deterministic, device)
    data = describe_data(cfg)
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
    start_epoch, skip_batches, step, best_miou = 0, 0, 0, None
    carried: dict[str, float] = {}  # the interrupted epoch's running sums
    history: list[dict[str, Any]] = []
    if resume is not None:
        state = load_checkpoint(resume, map_location=device)
        restore(state, model=net, optimizer=optimizer, scheduler=scheduler, scaler=scaler, source=resume)
        start_epoch, skip_batches, step = int(state["epoch"]), int(state["batch_in_epoch"]), int(state["step"])
        best_miou, carried = state.get("best_miou"), dict(state.get("running") or {})
        if skip_batches >= batches:
            start_epoch, skip_batches, carried = start_epoch + 1, 0, {}
        history = read_history(out / METRICS_JSONL, completed_epochs=start_epoch)
        console.echo(f"resumed from {resume}: epoch {start_epoch + 1}, batch {skip_batches}, step {step}")

    meta = {"config": cfg.to_dict(), "in_channels": data.in_channels, "num_classes": data.num_classes,
            "ignore_index": data.ignore_index, "class_names": data.class_names,
            "normalization": data.normalization(cfg)}

    def checkpoint(epoch: int, batch: int, at_step: int, sums: Mapping[str, float]) -> dict[str, Any]:
        return training_state(model=net, optimizer=optimizer, scheduler=scheduler, scaler=scaler, epoch=epoch,
                              batch_in_epoch=batch, step=at_step, best_miou=best_miou, running=sums, meta=meta)

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
    progress = LoopProgress(step=step, first_batch=resume is None, stopped=step >= total_steps)
    last_scores: SegmentationScores | None = None
    last_path = best_path = None
    for epoch in range(start_epoch, loop.epochs):
        if progress.stopped:
            break
        try:
            sums, last_lr = train_epoch(parts, progress, epoch, skip_batches, carried, console, logs, on_step)
        except KeyboardInterrupt:
            if info.is_main:
                at = progress.position
                path = save_checkpoint(out / LAST, checkpoint(epoch, at["batch"], at["step"], at["sums"]))
                logs.flush_steps()
                console.warn(f"interrupted at step {at['step']}; continue with --resume {path}")
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
        console.echo(epoch_line(record, loop.epochs))
        if validate and last_scores is not None:
            console.echo(format_table(last_scores, data.class_names))

        if info.is_main:
            position = progress.position
            if position["batch"] >= batches:  # the epoch is complete: the next run starts the next one
                state = checkpoint(epoch + 1, 0, step, {})
            else:  # max_steps ended the epoch early
                state = checkpoint(epoch, position["batch"], step, position["sums"])
            last_path = save_checkpoint(out / LAST, state)
            if improved:
                best_path = save_checkpoint(out / BEST, state)
            logs.write_epochs(history)
        D.barrier()

    if info.is_main:
        logs.flush_steps()
        last_path = last_path or ((out / LAST) if (out / LAST).exists() else None)
        best_path = best_path or ((out / BEST) if (out / BEST).exists() else None)
    return TrainResult(out, history, progress.step_losses, best_miou, last_path, best_path, net, last_scores,
                       data.class_names, info.is_main)


# --------------------------------------------------------------------------- one epoch


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
                last_lr = optimizer_step(model, optimizer, scaler, p.clip_grad_norm)
                p.scheduler.step()
                progress.step += 1
                step = progress.step
                progress.position = {"batch": b + 1, "step": step, "sums": dict(sums)}
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


def validate_epoch(parts: EpochParts, net: nn.Module, val_loader: Any, info: D.DistInfo, console: Console,
                   record: dict[str, Any], progress: LoopProgress) -> SegmentationScores:
    """Validate after an epoch; adds the validation fields to the epoch's `record`."""
    data = parts.data
    scores_, val_loss = evaluate(net, val_loader, parts.criterion, data, parts.device, parts.amp, info, console)
    record.update({"val_loss": val_loss, "val_miou": _finite(scores_.miou),
                   "val_pixel_accuracy": _finite(scores_.pixel_accuracy),
                   "val_iou": scores_.to_dict(data.class_names)["iou"]})
    present = [n for n, a in zip(class_names(data.class_names, len(scores_.accuracy)), scores_.accuracy)
               if not math.isnan(a)]
    record["val_classes_present"] = len(present)
    if len(present) < 2 and not progress.warned_classes:
        progress.warned_classes = True
        console.warn(f"the validation ground truth holds {len(present)} class(es) "
                     f"({', '.join(present) or 'none'}): an mIoU over fewer than 2 classes means nothing "
                     "(binary 0/255 masks converted with 255 as ignore? see masks2labels --remap 255:1)")
    return scores_


# --------------------------------------------------------------------------- set-up pieces


def check_batches(cfg: TrainConfig, console: Console) -> int | None:
    """Refuse training batches that cannot be formed; the validation batch size to use (1 when its
    samples differ in size after the val recipe), or None for the configured one."""
    d = cfg.data
    split = {"fold": d.fold, "split": "train"} if d.fold is not None else {}
    if d.batch_size > 1:
        mismatch = first_size_mismatch(d.manifest, d.train_recipe, **split)
        if mismatch is not None:
            raise DataprepError(mismatch.other.image, f"training batches of {d.batch_size} cannot be formed: "
                                f"{mismatch.describe()} after the train recipe; add a fixed-size resize or crop "
                                "to data.train_recipe, or set batch_size 1")
    val_batch = d.val_batch_size or d.batch_size
    source = d.manifest if d.fold is not None else d.val_manifest
    if not source or val_batch <= 1:
        return None
    mismatch = first_size_mismatch(source, d.val_recipe, **({"fold": d.fold, "split": "val"} if d.fold is not None
                                                             else {}))
    if mismatch is None:
        return None
    console.warn(f"{mismatch.other.image}: validation batches of {val_batch} cannot be formed "
                 f"({mismatch.describe()} after the val recipe); validating with batch size 1")
    return 1


def seed_everything(seed: int, deterministic: bool, device: torch.device) -> None:
    """Seed python, numpy and torch; in deterministic mode ask torch for reproducible kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS needs this set before its first use to be reproducible.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels


def build_loss(cfg: TrainConfig, data: DataInfo) -> SegmentationLoss:
    weights = None
    if cfg.loss.class_weights not in (None, "none"):
        if data.stats is None:
            raise UsageError(cfg.source, f"loss.class_weights: {cfg.loss.class_weights} needs data.stats (a stats.json)")
        weights = class_weights_from_stats(data.stats, cfg.loss.class_weights, data.num_classes, cfg.data.stats)
    return SegmentationLoss(
        data.num_classes, ignore_index=data.ignore_index, class_weights=weights,
        label_smoothing=cfg.loss.label_smoothing, focal_gamma=cfg.loss.focal_gamma,
    )


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


# --------------------------------------------------------------------------- per-step pieces


def optimizer_step(model: nn.Module, optimizer: torch.optim.Optimizer, scaler: Any, clip: float | None) -> float:
    """Unscale (fp16), clip, step, zero the gradients; returns the learning rate used."""
    if clip is not None:
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    lr = float(optimizer.param_groups[0]["lr"])
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return lr


def check_labels(mask: torch.Tensor, ids: Iterable[str], data: DataInfo) -> None:
    """Raise naming the mask file if a label is outside 0..C-1 and is not the ignore index.

    On CUDA such a label would otherwise surface as an opaque "device-side
    assert triggered" inside cross-entropy.
    """
    bad = (mask < 0) | ((mask >= data.num_classes) & (mask != data.ignore_index))
    if not bool(bad.any()):
        return
    i = int(bad.flatten(1).any(1).nonzero()[0])
    sid = list(ids)[i]
    values = torch.unique(mask[i][bad[i]]).tolist()
    shown = ", ".join(map(str, values[:8])) + (", ..." if len(values) > 8 else "")
    raise DataprepError(
        data.mask_paths.get(sid, f"sample {sid}"),
        f"sample {sid!r} has label value(s) {shown}, outside 0..{data.num_classes - 1} and not the ignore index "
        f"{data.ignore_index}; check model.num_classes / data.ignore_index, or convert the masks with masks2labels",
    )


def check_inputs(image: torch.Tensor, console: Console) -> None:
    """Warn when the first batch looks unnormalized (raw 0-255 values)."""
    mean, std = float(image.float().mean()), float(image.float().std())
    if abs(mean) > 5 or std > 20:
        console.warn(f"the first batch has mean {mean:.1f} and std {std:.1f}: images look unnormalized "
                     "(pass data.stats, or check the recipe's normalize step)")


def check_first_loss(loss: float, criterion: SegmentationLoss, console: Console) -> None:
    """An untrained model predicts about uniformly, so the first loss should be near ln(C)."""
    expected = criterion.expected_initial()
    if loss == 0.0:
        console.warn("the first batch's loss is 0: are all its pixels the ignore index?")
    elif not 0.5 * expected <= loss <= 2.0 * expected:
        console.warn(f"the first batch's loss {loss:.3f} is far from ln({criterion.num_classes}) = {expected:.3f} "
                     "expected of an untrained model: check normalization, num_classes and the labels")


def reduce_epoch(sums: Mapping[str, float], device: torch.device) -> tuple[float | None, dict[str, float]]:
    """Train loss (pixel-weighted over all ranks) and the slowest rank's timings."""
    t = D.all_reduce_sum(torch.tensor([sums["loss"], sums["weight"]], dtype=torch.float64, device=device))
    loss = float(t[0] / t[1]) if float(t[1]) > 0 else None
    n = max(1.0, sums["batches"])
    # Every rank waits for the slowest at each gradient sync, so the slowest rank's times are the run's.
    times = D.all_reduce_max(torch.tensor([sums["data_time"], sums["step_time"]], dtype=torch.float64, device=device))
    data_time, step_time = float(times[0]), float(times[1])
    total = data_time + step_time
    timing = {
        "data_time": round(data_time / n, 5), "step_time": round(step_time / n, 5),
        "data_fraction": round(data_time / total, 4) if total > 0 else 0.0,
    }
    return loss, timing


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Any,
    criterion: SegmentationLoss,
    data: DataInfo,
    device: torch.device,
    amp: torch.dtype | None,
    info: D.DistInfo,
    console: Console,
) -> tuple[SegmentationScores, float | None]:
    """Confusion matrix over the validation set (every sample counted once across ranks) -> scores.

    `model` is the unwrapped module: each rank runs its own shard without the
    collectives a DDP forward would make, so ranks with unequal shards never wait.
    """
    model.eval()
    ids: list[str] = []
    cms: list[torch.Tensor] = []
    losses: list[torch.Tensor] = []
    weights: list[torch.Tensor] = []
    for batch in tqdm(loader, desc="validate", leave=False, disable=bars_disabled(console.silent), dynamic_ncols=True):
        image = batch["image"].to(device, non_blocking=True)
        mask = batch["mask"].to(device, non_blocking=True)
        check_labels(mask, batch["id"], data)
        if device.type == "cuda":
            image = image.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = model(image)
        cm = per_sample_confusion(logits.argmax(1), mask, data.num_classes)
        loss_sum, weight_sum = criterion.sums(logits, mask)
        cms.append(cm.cpu())
        losses.append(loss_sum.double().cpu())
        weights.append(weight_sum.double().cpu())
        ids.extend(batch["id"])
    model.train()
    keep = torch.tensor(D.first_occurrences(D.all_gather_objects(ids), info.rank), dtype=torch.bool)
    k = data.num_classes
    cm_total = torch.zeros(k, k, dtype=torch.int64)
    loss_total = torch.zeros(2, dtype=torch.float64)
    if ids:
        cm_total = torch.cat(cms)[keep].sum(0)
        loss_total = torch.stack([torch.cat(losses)[keep].sum(), torch.cat(weights)[keep].sum()])
    cm_total = D.all_reduce_sum(cm_total.to(device)).cpu()
    loss_total = D.all_reduce_sum(loss_total.to(device)).cpu()
    val_loss = float(loss_total[0] / loss_total[1]) if float(loss_total[1]) > 0 else None
    return scores(cm_total), val_loss

"""Optimizer, learning-rate schedule and mixed precision settings."""
from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD; no weight decay on BatchNorm parameters and biases (decaying them only hurts)."""
    o = cfg.optim
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if o.name == "sgd":
        return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.momentum > 0)
    return torch.optim.AdamW(groups, lr=o.lr)


def lr_factor(step: int, cfg: TrainConfig, total_steps: int) -> float:
    """Multiplier of optim.lr for the `step`-th optimizer step (0-based).

    cosine:   linear warm-up to lr, then a half cosine down to schedule.min_lr
    constant: linear warm-up to lr, then lr
    onecycle: cosine from lr/25 up to lr over warmup_steps (default 30% of the
              run), then cosine down to lr/25e4 (torch OneCycleLR's shape,
              without its momentum cycle)
    """
    s = cfg.schedule
    warm = s.warmup_steps
    if s.name == "onecycle":
        warm = warm or max(1, int(0.3 * total_steps))
        start, end = 1 / 25, 1 / 25e4
        if step < warm:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * step / warm))
        t = min(1.0, (step - warm) / max(1, total_steps - warm - 1))
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * t))
    if step < warm:
        return (step + 1) / (warm + 1)
    if s.name == "constant":
        return 1.0
    floor = s.min_lr / cfg.optim.lr
    t = min(1.0, (step - warm) / max(1, total_steps - warm))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per optimizer step. Its state is just the step count, so it resumes from any checkpoint."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, cfg, total_steps))


def apply_schedule(optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LambdaLR) -> None:
    """Set the optimizer's lr to the schedule's value at the scheduler's step count, after a resume.

    The restored optimizer holds the lr the old run used last; a resume with more --epochs or --max-steps has a
    longer schedule, and its first step trained with the old value (0 at the end of a cosine) before the scheduler
    stepped. Equal schedules give the very lr that was saved, so an exact resume stays exact.
    """
    step = scheduler.last_epoch
    for group, base, factor in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
        group["lr"] = base * factor(step)
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]  # what get_last_lr() reports


def amp_dtype(setting: str, device: torch.device) -> tuple[torch.dtype | None, str | None]:
    """(autocast dtype or None for float32, a warning or None): bf16 where the GPU has it, else fp16; off on CPU."""
    if setting == "off":
        return None, None
    if device.type != "cuda":
        warning = None if setting == "auto" else f"train.amp: {setting} is used on CUDA only; training in float32 on {device}"
        return None, warning
    if setting == "fp16" or (setting == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16, None
    return torch.bfloat16, None


def amp_name(dtype: torch.dtype | None) -> str:
    return {None: "off", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]

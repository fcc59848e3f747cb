"""Segmentation loss: cross-entropy with ignore index, class weights, label smoothing, focal term.

The loss is a weighted mean over the pixels that are not ignored:

    sum_p w[y_p] * (1 - pt_p)**gamma * ce_p  /  sum_p w[y_p]

where ce_p is the (label-smoothed) cross-entropy of pixel p, pt_p the model's
probability of its true class and w the class weights (all 1 without weights).
With gamma = 0 and no smoothing this is exactly torch's
`F.cross_entropy(..., weight=w, ignore_index=...)`. A batch whose pixels are all
ignored gives 0 (with zero gradients) instead of torch's NaN.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..contracts import Stats
from ..errors import DataprepError, UsageError


class SegmentationLoss(nn.Module):
    def __init__(
        self,
        num_classes: int,
        *,
        ignore_index: int = 255,
        class_weights: Sequence[float] | torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        focal_gamma: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.label_smoothing = float(label_smoothing)
        self.focal_gamma = float(focal_gamma)
        weight = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        if weight is not None and weight.shape != (num_classes,):
            raise ValueError(f"class_weights: expected {num_classes} values, got {tuple(weight.shape)}")
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss_sum, weight_sum = self.sums(logits, target)
        return loss_sum.sum() / weight_sum.sum().clamp_min(1e-12)

    def sums(self, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample (weighted loss sum [B], weight sum [B]): exact means across batches and ranks."""
        logits = logits.float()  # the softmax in float32 even under autocast
        ce = F.cross_entropy(
            logits, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction="none", label_smoothing=self.label_smoothing,
        )
        valid = target != self.ignore_index
        if self.focal_gamma > 0:
            safe = torch.where(valid, target, torch.zeros_like(target))
            log_pt = F.log_softmax(logits, dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
            ce = ce * (1.0 - log_pt.exp()).clamp_min(0.0).pow(self.focal_gamma)
        if self.weight is None:
            pixel_weight = valid.to(ce.dtype)
        else:
            safe = torch.where(valid, target, torch.zeros_like(target))
            pixel_weight = self.weight[safe] * valid
        return ce.flatten(1).sum(1), pixel_weight.flatten(1).sum(1)

    def expected_initial(self) -> float:
        """The loss of a model that predicts every class equally: ln(C), times the focal factor."""
        c = self.num_classes
        return math.log(c) * (1.0 - 1.0 / c) ** self.focal_gamma


def class_weights_from_stats(stats: Stats | Mapping[str, Any], scheme: str, num_classes: int,
                             source: str | None = None) -> list[float]:
    """The `scheme` weights ("inverse_frequency", "median_frequency", "enet") from stats.json (`Stats` or its dict)."""
    classes = Stats.from_json(stats, source).classes if isinstance(stats, (Stats, Mapping)) else None
    if classes is None:
        raise DataprepError(source, "has no class statistics (was it computed from a manifest without masks?)")
    weights = classes.weights.get(scheme)
    if weights is None:
        raise DataprepError(source, f"has no {scheme!r} class weights; known: {sorted(classes.weights)}")
    if len(weights) != num_classes:
        # The stats and the model disagree on the class count: a setting to change (exit 2), not a bad file.
        raise UsageError(source, f"{scheme} weights have {len(weights)} classes but the model has {num_classes}: "
                                 f"set model.num_classes to {len(weights)}, or measure the stats on this "
                                 "model's label maps")
    if any(not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0 for w in weights):
        raise DataprepError(source, f"{scheme} weights must be finite and >= 0, got {weights}")
    return [float(w) for w in weights]

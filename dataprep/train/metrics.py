"""Segmentation metrics from a confusion matrix: per-class IoU, mIoU, pixel accuracy.

The confusion matrix `cm[t, p]` counts pixels of true class t predicted as p;
pixels whose target is the ignore index (or any value outside 0..C-1) are left
out. Confusion matrices add up, so per-batch, per-sample and per-rank results
combine exactly.

A class that appears neither in the targets nor in the predictions has IoU NaN
(undefined) and is left out of the mean, as in MMSegmentation and torchmetrics.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int | None = None) -> torch.Tensor:
    """cm [C, C] int64 of one batch; `pred` and `target` are integer tensors of the same shape."""
    return per_sample_confusion(pred.reshape(1, -1), target.reshape(1, -1), num_classes, ignore_index)[0]


def per_sample_confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                         ignore_index: int | None = None) -> torch.Tensor:
    """cm [B, C, C] int64, one matrix per sample of a [B, ...] batch, in a single bincount.

    `ignore_index` pixels are left out also when it is one of the classes (CamVid's void 11 with 12 classes: the
    loss ignored it, the scores counted it as a class of IoU 0)."""
    b = pred.shape[0]
    pred, target = pred.reshape(b, -1).long(), target.reshape(b, -1).long()
    valid = (target >= 0) & (target < num_classes) & (pred >= 0) & (pred < num_classes)
    if ignore_index is not None:
        valid &= target != ignore_index
    sample = torch.arange(b, device=pred.device).unsqueeze(1).expand_as(target)
    index = (sample * num_classes + target) * num_classes + pred
    counts = torch.bincount(index[valid], minlength=b * num_classes * num_classes)
    return counts.reshape(b, num_classes, num_classes)


@dataclass(frozen=True)
class SegmentationScores:
    iou: list[float]  # per class; NaN where the class is absent from targets and predictions
    accuracy: list[float]  # per class recall; NaN where the class is absent from targets
    miou: float
    pixel_accuracy: float
    pixels: int  # pixels counted (ignore excluded)

    def to_dict(self, names: Sequence[str] | None = None) -> dict:
        names = class_names(names, len(self.iou))
        return {
            "miou": _json_float(self.miou),
            "pixel_accuracy": _json_float(self.pixel_accuracy),
            "pixels": self.pixels,
            "iou": {n: _json_float(v) for n, v in zip(names, self.iou)},
            "accuracy": {n: _json_float(v) for n, v in zip(names, self.accuracy)},
        }


def scores(cm: torch.Tensor) -> SegmentationScores:
    """Per-class IoU and accuracy, mIoU (mean over defined classes) and pixel accuracy."""
    cm = cm.double().cpu()
    tp = cm.diag()
    true_count = cm.sum(1)
    pred_count = cm.sum(0)
    union = true_count + pred_count - tp
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    iou = torch.where(union > 0, tp / union.clamp_min(1), nan)
    acc = torch.where(true_count > 0, tp / true_count.clamp_min(1), nan)
    defined = ~torch.isnan(iou)
    miou = float(iou[defined].mean()) if defined.any() else float("nan")
    total = float(cm.sum())
    pixel_acc = float(tp.sum()) / total if total > 0 else float("nan")
    return SegmentationScores(iou.tolist(), acc.tolist(), miou, pixel_acc, int(total))


def class_names(names: Sequence[str] | None, num_classes: int) -> list[str]:
    if names is not None and len(names) == num_classes:
        return [str(n) for n in names]
    return [f"class_{i}" for i in range(num_classes)]


def format_table(result: SegmentationScores, names: Sequence[str] | None = None) -> str:
    """A markdown table of per-class IoU and accuracy, then mIoU and pixel accuracy."""
    names = class_names(names, len(result.iou))
    width = max(5, *(len(n) for n in names))
    lines = [f"| {'class'.ljust(width)} |   IoU  |   Acc  |", f"|{'-' * (width + 2)}|--------|--------|"]
    for name, iou, acc in zip(names, result.iou, result.accuracy):
        lines.append(f"| {name.ljust(width)} | {_pct(iou)} | {_pct(acc)} |")
    lines.append(f"| {'mean'.ljust(width)} | {_pct(result.miou)} | {_pct(_nanmean(result.accuracy))} |")
    lines.append(f"mIoU {_pct(result.miou).strip()}  pixel accuracy {_pct(result.pixel_accuracy).strip()}  ({result.pixels} pixels)")
    return "\n".join(lines)


def _pct(value: float) -> str:
    return "    - " if math.isnan(value) else f"{100 * value:6.2f}"


def _nanmean(values: Sequence[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else float("nan")


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)

"""Validation after an epoch: the confusion matrix over every validation sample once across ranks -> scores."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ..progress import bars_disabled
from . import distributed as D
from .datainfo import DataInfo
from .losses import SegmentationLoss
from .metrics import SegmentationScores, class_names, per_sample_confusion, scores
from .parts import EpochParts, LoopProgress
from .runlog import Console
from .steps import check_labels


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


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


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
        cm = per_sample_confusion(logits.argmax(1), mask, data.num_classes, data.ignore_index)
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

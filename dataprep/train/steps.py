"""The per-step pieces of the loop: the optimizer step, the checks on the first batch and on every batch's
labels, and the epoch's reduction over ranks."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from ..errors import DataprepError
from . import distributed as D
from .datainfo import DataInfo
from .losses import SegmentationLoss
from .runlog import Console


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


def check_first_labels(mask: torch.Tensor, data: DataInfo, console: Console) -> None:
    """Warn when the first batch is mostly the ignore index with one class besides: raw 0/255 masks (ISBI's
    membranes) fed as they are train on background alone, at a loss that looks fine."""
    ignored = float((mask == data.ignore_index).float().mean())
    present = torch.unique(mask[mask != data.ignore_index]).tolist()
    if ignored <= 0.5 or len(present) != 1:
        return
    name = data.class_names[present[0]] if data.class_names and present[0] < len(data.class_names) else present[0]
    console.warn(f"the first batch's labels are {ignored:.0%} the ignore index {data.ignore_index} and hold one "
                 f"class ({name}) besides: binary masks whose foreground is stored as {data.ignore_index}? convert "
                 "them with `dataprep masks2labels -p binary MANIFEST DEST`")


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

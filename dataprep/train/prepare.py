"""Set-up pieces of a run: refusing batches that cannot be formed, seeding, the loss, and putting back the
process-wide torch flags seeding changes."""
from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch

from ..errors import DataprepError, UsageError
from .batchcheck import first_size_mismatch
from .config import TrainConfig
from .datainfo import DataInfo
from .losses import SegmentationLoss, class_weights_from_stats
from .runlog import Console


@contextlib.contextmanager
def restoring_torch_flags() -> Iterator[None]:
    """Put back the process-wide flags `seed_everything` sets, so a run in a notebook or test leaves no trace."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]


def check_batches(cfg: TrainConfig, console: Console) -> int | None:
    """Refuse training batches that cannot be formed; the validation batch size to use (1 when its
    samples differ in size after the val recipe), or None for the configured one."""
    d = cfg.data
    if d.batch_size > 1:
        mismatch = first_size_mismatch(d.manifest, d.train_recipe, **d.train_rows())
        if mismatch is not None:
            raise DataprepError(mismatch.other.image, f"training batches of {d.batch_size} cannot be formed: "
                                f"{mismatch.describe()} after the train recipe; add a fixed-size resize or crop "
                                "to data.train_recipe, or set batch_size 1")
    val_batch = d.val_batch_size or d.batch_size
    validation = d.val_rows()
    if validation is None or val_batch <= 1:
        return None
    source, rows = validation
    mismatch = first_size_mismatch(source, d.val_recipe, **rows)
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

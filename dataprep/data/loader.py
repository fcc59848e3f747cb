"""`make_loader`: one call for either engine, the same batches out.

Both engines yield {"image": float32 [B,C,H,W], "mask": int64 [B,H,W],
"id": list[str]}, have `len()` (batches per epoch) and `set_epoch(epoch)`, read
the same rows in the same per-epoch order (`epoch_order`) and draw the same
augmentation params for the same (seed, epoch, sample).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .. import recipe as R
from ..contracts import DatasetInfo, Stats
from ..errors import UsageError
from ..io import PathLike
from ..manifest import Manifest
from .cpu import CpuLoader
from .dataset import SegmentationDataset, check_sharding
from .sampler import loader_repeat_factors

ENGINES = ("cpu", "dali")


def whole_number(value: Any, name: str) -> int:
    """`value` as an int; numpy integers are ints to the user. A str (the RANK from the environment), a float or
    a bool was a raw TypeError ('<' not supported between 'str' and 'int'), numpy's batch_size 4 torch's
    "batch_size should be a positive integer value, but got batch_size=4", True a batch of 1 on DALI."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    hint = f" (pass {name}=int({value!r}))" if isinstance(value, str) else ""
    raise UsageError(None, f"{name} must be an int, not {type(value).__name__} {value!r}{hint}")


def make_loader(
    manifest: Manifest | PathLike,
    recipe: R.Recipe | PathLike | Mapping[str, Any] | None = None,
    stats: Stats | Mapping[str, Any] | PathLike | None = None,
    engine: str = "cpu",
    *,
    batch_size: int = 8,
    shuffle: bool = True,
    num_workers: int = 2,
    seed: int = 0,
    fold: int | None = None,
    split: str | None = None,
    drop_last: bool = False,
    shard_id: int = 0,
    num_shards: int = 1,
    pin_memory: bool = False,
    device: torch.device | str | None = None,
    ignore_index: int | None = None,
    class_balance: float | None = None,
    start_method: str | None = None,
    info: DatasetInfo | None = None,
):
    """A batch iterator over `manifest` with `engine` "cpu" (torch DataLoader + albumentations) or "dali".

    `num_workers`: DataLoader worker processes (cpu) or DALI CPU threads (dali).
    `shard_id`/`num_shards`: this process's share for distributed training.
    `device`: where batches end up; for "dali" it also picks the GPU the
    pipeline runs on (default: the current CUDA device when CUDA is usable,
    else DALI's CPU backend).
    `ignore_index`: mask fill for padding and rotated-in corners (default: the
    palette beside the manifest, else stats.json, else the recipe's).
    `info`: a `DatasetInfo` resolved by the caller (the trainer): its ignore
    index and normalization are used, so the loss and the loader agree.
    `class_balance`: repeat-factor sampling with this threshold t (e.g. 0.3):
    images with classes seen in fewer than t of the images (stats.json's image
    counts) come back more often; see `dataprep.data.sampler`.
    `start_method`: how cpu workers start, "fork", "forkserver" or "spawn"
    (default: fork on Linux, as torch's DataLoader; the platform's default
    elsewhere). Batches are the same whichever it is.
    """
    if engine not in ENGINES:
        raise UsageError(None, f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    batch_size, num_workers = whole_number(batch_size, "batch_size"), whole_number(num_workers, "num_workers")
    shard_id, num_shards = whole_number(shard_id, "shard_id"), whole_number(num_shards, "num_shards")
    if batch_size < 1:
        raise UsageError(None, f"batch_size must be >= 1, got {batch_size}")
    if num_workers < 0:
        raise UsageError(None, f"num_workers must be >= 0, got {num_workers}")
    check_sharding(shard_id, num_shards)
    if engine == "dali":
        from .dali import DaliLoader  # it checks the data first, then that DALI is installed

        return DaliLoader(
            manifest, recipe, stats, fold=fold, split=split, seed=seed, ignore_index=ignore_index,
            batch_size=batch_size, shuffle=shuffle,
            num_threads=max(1, num_workers), drop_last=drop_last, shard_id=shard_id, num_shards=num_shards,
            device=device, class_balance=class_balance, info=info,
        )
    dataset = SegmentationDataset(manifest, recipe, stats, fold=fold, split=split, seed=seed, ignore_index=ignore_index,
                                  info=info)
    return CpuLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers, seed=seed, drop_last=drop_last,
        shard_id=shard_id, num_shards=num_shards, pin_memory=pin_memory, device=device, start_method=start_method,
        repeat_factors=loader_repeat_factors(dataset.rows, stats, class_balance),
    )


__all__ = ["ENGINES", "SegmentationDataset", "make_loader"]

"""The CPU engine: a torch DataLoader over `SegmentationDataset` (albumentations transforms).

The sampler yields `(epoch, index, copy)` keys rather than bare indices: workers
hold their own copy of the dataset (and keep it across epochs with persistent
workers), so an epoch set on the main-process dataset would never reach them;
an epoch that travels with each index always does. With per-sample seeds from
(seed, epoch, index), a batch is the same whatever `num_workers` is.
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, get_worker_info

from ..errors import DataprepError, UsageError
from ..forking import (can_fork, check_start_method, opencv_on_one_thread, single_threaded_opencv,
                       unstartable_main)
from .dataset import SegmentationDataset, describe_sizes, epoch_order
from .sampler import EpochRepeatGuard, epoch_length, repeated_order


class EpochSampler(Sampler):
    """This shard's indices for the current epoch, as (epoch, index, copy) keys (see `epoch_order`)."""

    def __init__(self, size: int, *, shuffle: bool, seed: int, shard_id: int = 0, num_shards: int = 1,
                 factors: np.ndarray | None = None) -> None:
        self.size = size
        self.factors = factors  # repeat factors (class-balanced sampling), or None: each row once
        self.shuffle = shuffle
        self.seed = seed
        self.shard_id = shard_id
        self.num_shards = num_shards
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self, copies: bool = False):
        """This shard's indices (`copies`: and their copy numbers, see `shard_order`)."""
        if self.factors is not None:
            return repeated_order(self.factors, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle,
                                  shard_id=self.shard_id, num_shards=self.num_shards, copies=copies)
        return epoch_order(
            self.size, seed=self.seed, epoch=self.epoch, shuffle=self.shuffle,
            shard_id=self.shard_id, num_shards=self.num_shards, copies=copies,
        )

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        epoch = self.epoch
        indices, copies = self.indices(copies=True)
        return iter([(epoch, int(i), int(c)) for i, c in zip(indices, copies)])

    def __len__(self) -> int:
        total = epoch_length(self.factors) if self.factors is not None else self.size
        return -(-total // self.num_shards)


class _Failure:
    """A DataprepError caught in a worker, carried back to the main process as data.

    (DataLoader re-raises worker exceptions by calling their type with one
    formatted-traceback argument, which turns a DataprepError(path, reason)
    into a RuntimeError with a traceback; the one-line message would be lost.)
    """

    def __init__(self, error: DataprepError) -> None:
        self.kind, self.path, self.reason = type(error), error.path, error.reason

    def raise_(self) -> None:
        raise self.kind(self.path, self.reason)


class _Capturing(torch.utils.data.Dataset):
    def __init__(self, dataset: SegmentationDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        try:
            return self.dataset[key]
        except DataprepError as exc:
            return _Failure(exc)


def collate_samples(samples: Sequence[dict[str, Any]]) -> dict[str, Any] | _Failure:
    """Stack samples into {"image": [B,C,H,W], "mask": [B,H,W], "id": [...]}, with a clear error for mixed sizes."""
    for s in samples:
        if isinstance(s, _Failure):
            return s
    ids = [s["id"] for s in samples]
    shapes = [tuple(s["image"].shape) for s in samples]
    if len(set(shapes)) > 1:
        return _Failure(DataprepError(
            None,
            f"cannot batch samples of different sizes ({describe_sizes(ids, shapes)}); "
            "add a resize or crop step with a recipe `size`, or use batch_size=1",
        ))
    return {
        "image": torch.stack([s["image"] for s in samples]),
        "mask": torch.stack([s["mask"] for s in samples]),
        "id": ids,
    }


def seed_worker(worker_id: int) -> None:
    """Set up a loader worker: seed its global RNGs, keep OpenCV to one thread.

    Augmentations draw from per-sample seeds; the global seeds cover anything
    else. Each worker is already one process per core: OpenCV's own pool would
    only oversubscribe (torch sets its intra-op threads to 1 in workers itself).
    """
    info = get_worker_info()
    seed = (info.seed if info is not None else torch.initial_seed()) % 2**32
    random.seed(seed)
    np.random.seed(seed)
    single_threaded_opencv()


def worker_context(start_method: str | None = None) -> str | None:
    """How loader workers start: `start_method` if given, else fork where a plain DataLoader forks.

    Fork is what torch's DataLoader uses on Linux, so scripts without an
    `if __name__ == "__main__":` guard, or piped to `python -`, work, and workers
    start in milliseconds instead of re-importing torch and albumentations.
    It is safe here: torch resets its thread pools in a forked child, and the
    workers fork while OpenCV runs no pool threads (`dataprep.forking`), so
    they run OpenCV serially, one process per core. macOS and
    Windows get their platform default (spawn), as with a plain DataLoader;
    "forkserver" or "spawn" can be asked for, e.g. when the training process
    runs threads of its own that hold locks while the workers start.
    """
    if start_method is not None:
        return check_start_method(start_method)
    if can_fork():
        return "fork"
    return None  # the platform's default, as torch's DataLoader


def batch_device(device: torch.device | str | None) -> torch.device | None:
    """The device batches are moved to, refused here when torch cannot reach it: a CUDA device without CUDA
    was accepted and the first batch raised torch's raw "Torch not compiled with CUDA enabled" (the DALI
    engine refuses it at construction in the same words)."""
    if device is None:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise UsageError(None, f"device {device!r} is not a torch device ({exc})") from exc
    if dev.type == "cuda":
        if not (torch.cuda.is_available() and torch.cuda.device_count() > 0):
            raise DataprepError(None, f"device {dev} asked for, but CUDA is not available to torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DataprepError(None, f"device {dev} asked for, but torch sees {torch.cuda.device_count()} CUDA "
                                      "device(s)")
    return dev


class CpuLoader:
    """Batches from a torch DataLoader; `len()` is batches per epoch, `set_epoch` reshuffles and redraws."""

    engine = "cpu"

    def __init__(
        self,
        dataset: SegmentationDataset,
        *,
        batch_size: int = 8,
        shuffle: bool = True,
        num_workers: int = 2,
        seed: int = 0,
        drop_last: bool = False,
        shard_id: int = 0,
        num_shards: int = 1,
        pin_memory: bool = False,
        device: torch.device | str | None = None,
        repeat_factors: np.ndarray | None = None,
        start_method: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.device = batch_device(device)
        self.sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, shard_id=shard_id, num_shards=num_shards,
                                    factors=repeat_factors)
        self._non_blocking = bool(pin_memory)
        self._repeats = EpochRepeatGuard(shuffle)
        context = worker_context(start_method)
        refusal = unstartable_main(context) if num_workers > 0 else None
        if refusal:
            raise UsageError(None, refusal)
        self._forks = num_workers > 0 and context == "fork"
        self.loader = DataLoader(
            _Capturing(dataset),
            batch_size=batch_size,
            sampler=self.sampler,
            num_workers=num_workers,
            collate_fn=collate_samples,
            pin_memory=pin_memory,
            drop_last=drop_last,
            persistent_workers=num_workers > 0,
            worker_init_fn=seed_worker,
            multiprocessing_context=context if num_workers > 0 else None,
            generator=torch.Generator().manual_seed(int(seed) & 0x7FFFFFFFFFFFFFFF),
        )

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._repeats.starting(self.epoch)
        # Persistent workers start with the first epoch's iterator, and only then.
        starting = self._forks and getattr(self.loader, "_iterator", None) is None
        with opencv_on_one_thread() if starting else nullcontext():
            batches = iter(self.loader)
        for batch in batches:
            if isinstance(batch, _Failure):
                batch.raise_()
            if self.device is not None:
                batch["image"] = batch["image"].to(self.device, non_blocking=self._non_blocking)
                batch["mask"] = batch["mask"].to(self.device, non_blocking=self._non_blocking)
            yield batch

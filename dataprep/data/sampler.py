"""Class-balanced sampling by repeat factors (LVIS, Gupta et al. 2019; Detectron2's RepeatFactorTrainingSampler).

A class c seen in a fraction f_c of the images gets the repeat factor
r_c = max(1, sqrt(t / f_c)), for a threshold t: classes in at least t of the
images are not repeated, rarer ones more the rarer they are. An image is
repeated by the largest factor of the classes it contains, so images with a
rare class come back more often in an epoch.

f_c comes from stats.json (`classes.image_count / classes.num_images`), the
classes present in each image from its label map (read once, when the loader
is built). Unlike Detectron2, an epoch has a fixed length, round(sum of the
image factors), so `len(loader)` and learning-rate schedules stay constant:
each image appears floor(r_i) or ceil(r_i) times, the extra appearances drawn
by systematic sampling with probabilities proportional to the fractional parts
(scaled so that they fill the epoch), so on average image i appears r_i times
up to that rounding of the epoch length.
Draws come from (seed, epoch) only, so they do not depend on workers, and the
engines share them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import io
from ..contracts import Stats
from ..errors import DataprepError, UsageError
from ..extra_masks import read_row_mask
from ..manifest import ManifestRow

_STREAM = 0x5EED  # keeps these draws apart from the shuffle's permutation of the same (seed, epoch)


def class_repeat_factors(stats: Stats | Mapping[str, Any], threshold: float) -> np.ndarray:
    """r_c = max(1, sqrt(threshold / f_c)) per class, f_c = share of images containing class c (stats.json)."""
    if not 0.0 < threshold <= 1.0:
        raise UsageError(None, f"class_balance: the repeat threshold must be in (0, 1], got {threshold}")
    if isinstance(stats, Mapping) and not stats.get("classes"):
        classes = None  # no image block needed to say there are no class statistics
    else:
        classes = Stats.from_json(stats).classes
    if classes is None or not classes.num_images or classes.image_count is None:
        raise UsageError(None, "class_balance needs a stats.json with class statistics (run `dataprep stats` "
                               "on a manifest of label maps)")
    counts = np.asarray(classes.image_count, np.float64)
    frequency = counts / float(classes.num_images)
    with np.errstate(divide="ignore"):
        factors = np.sqrt(threshold / frequency)
    return np.maximum(1.0, np.where(counts > 0, factors, 1.0))


def class_presence(rows: Sequence[ManifestRow], num_classes: int) -> np.ndarray:
    """(images, classes) bool: which classes each row's label map contains (values >= num_classes ignored)."""
    out = np.zeros((len(rows), num_classes), bool)
    for i, row in enumerate(rows):
        if row.mask is None:
            raise DataprepError(row.image, "no mask; class-balanced sampling needs label maps")
        mask = read_row_mask(row)
        if mask.ndim != 2:
            raise DataprepError(row.mask, "colour mask; run `dataprep masks2labels` first")
        values = np.unique(mask)
        values = values[(values >= 0) & (values < num_classes)]
        out[i, values.astype(np.intp)] = True
    return out


def image_repeat_factors(rows: Sequence[ManifestRow], stats: Stats | Mapping[str, Any], threshold: float) -> np.ndarray:
    """r_i = the largest r_c over the classes in image i (1 for an image with no counted class)."""
    per_class = class_repeat_factors(stats, threshold)
    presence = class_presence(rows, len(per_class))
    return np.where(presence, per_class[None, :], 1.0).max(axis=1, initial=1.0)


def loader_repeat_factors(rows: Sequence[ManifestRow], stats: Stats | Mapping[str, Any] | io.PathLike | None,
                          class_balance: float | None) -> np.ndarray | None:
    """The per-row factors a loader samples with, or None when `class_balance` (the threshold t) is None."""
    if class_balance is None:
        return None
    from .dataset import load_stats_arg

    loaded, _ = load_stats_arg(stats)
    if loaded is None:
        raise UsageError(None, "class_balance needs stats (a stats.json from `dataprep stats`): its per-class "
                               "image counts give the repeat factors")
    return image_repeat_factors(rows, loaded, float(class_balance))


def epoch_length(factors: np.ndarray) -> int:
    """Samples per epoch (all shards together): round(sum of the factors), at least the number of images."""
    return max(len(factors), int(round(float(np.sum(factors)))))


def order_words(seed: int, epoch: int, *stream: int) -> list[int]:
    """The words an epoch's order is drawn from. Seeds are 63-bit: their high word joins only when it is not 0
    (orders of seeds below 2**32 are as they were); without it seeds 1 and 2**32 + 1 shuffled alike."""
    high = (int(seed) >> 32) & 0xFFFFFFFF
    return [int(seed) & 0xFFFFFFFF, int(epoch) & 0xFFFFFFFF, *stream, *([high] if high else [])]


def shard_order(order: np.ndarray, shard_id: int, num_shards: int, copies: bool = False):
    """This shard's part of one epoch's `order` (all shards'), as torch's DistributedSampler: padded with its own
    first indices to a multiple of `num_shards`, then every `num_shards`-th from `shard_id`.

    `copies`: also return each index's copy number, how often the padded epoch holds it before this place (0 for
    its first appearance). Samples are augmented by (seed, epoch, index, copy): an image repeated for class
    balance came back with the very same crop, flip and colours each time (3 byte-identical copies of a CamVid
    image in one epoch), and shard padding gave two ranks the same sample twice."""
    per_shard = -(-len(order) // num_shards)
    padded = per_shard * num_shards
    if padded > len(order):
        order = np.concatenate([order, np.resize(order, padded - len(order))])
    mine = order[shard_id:padded:num_shards]
    if not copies:
        return mine
    return mine, copy_numbers(order)[shard_id:padded:num_shards]


def copy_numbers(order: np.ndarray) -> np.ndarray:
    """For each place of `order`, how many times its index appeared before it."""
    places = np.argsort(order, kind="stable")
    sorted_order = order[places]
    starts = np.flatnonzero(np.r_[True, sorted_order[1:] != sorted_order[:-1]])
    runs = np.diff(np.r_[starts, len(order)])
    out = np.empty(len(order), np.int64)
    out[places] = np.arange(len(order)) - np.repeat(starts, runs)
    return out


def repeated_order(factors: np.ndarray, *, seed: int, epoch: int, shuffle: bool, shard_id: int = 0,
                   num_shards: int = 1, copies: bool = False):
    """This shard's indices for one epoch, each image about `factors[i]` times (see the module docstring);
    `copies`: with their copy numbers (`shard_order`)."""
    n = len(factors)
    rng = np.random.default_rng(order_words(seed, epoch, _STREAM))
    whole = np.floor(factors).astype(np.int64)
    total = epoch_length(factors)
    extra = total - int(whole.sum())
    fraction = factors - whole
    counts = whole + _systematic(_inclusion(fraction, extra), rng)
    order = np.repeat(np.arange(n), counts)
    if shuffle:
        order = order[rng.permutation(len(order))]
    return shard_order(order, shard_id, num_shards, copies)


def _inclusion(fraction: np.ndarray, extra: int) -> np.ndarray:
    """Probabilities, each <= 1 and summing to `extra`, proportional to the fractional parts where possible."""
    weights = fraction if fraction.sum() > 0 else np.ones(len(fraction))
    pi = np.zeros(len(weights))
    free = weights > 0
    left = float(extra)
    while left > 1e-12 and free.any():
        pi[free] = weights[free] * left / weights[free].sum()
        over = free & (pi >= 1.0)
        if not over.any():
            break
        pi[over] = 1.0
        free &= ~over
        left = float(extra) - pi[~free].sum()
    return pi


def _systematic(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0/1 per item, item i chosen with probability pi[i], exactly round(sum(pi)) chosen (systematic sampling)."""
    order = rng.permutation(len(pi))
    edges = np.concatenate([[0.0], np.cumsum(pi[order])])
    points = rng.random() + np.arange(int(round(edges[-1])))
    hits = np.searchsorted(edges, points, side="right") - 1
    chosen = np.zeros(len(pi), np.int64)
    chosen[order[np.clip(hits, 0, len(pi) - 1)]] = 1
    return chosen


class EpochRepeatGuard:
    """Warns once when a shuffling loader is iterated again at the epoch it last ran: without `set_epoch(e)`
    every epoch repeated the same order and the same augmentations (0 of 24 samples changed). A loader that
    does not shuffle (validation) may run one epoch as often as it likes."""

    def __init__(self, varies: bool) -> None:
        self.varies = varies  # shuffled: epochs are meant to differ
        self.last: int | None = None
        self.warned = False

    def starting(self, epoch: int) -> None:
        if self.varies and self.last == epoch and not self.warned:
            import warnings

            self.warned = True
            warnings.warn(f"the loader runs epoch {epoch} again: call loader.set_epoch(epoch) before each epoch, "
                          "or every epoch repeats the same order and augmentations", stacklevel=3)
        self.last = epoch


__all__ = ["EpochRepeatGuard", "class_presence", "class_repeat_factors", "copy_numbers", "epoch_length",
           "image_repeat_factors", "loader_repeat_factors", "order_words", "repeated_order", "shard_order"]

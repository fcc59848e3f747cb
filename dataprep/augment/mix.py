"""Two-sample mixing: mixup (blend images) and cutmix (paste a box of image and mask).

A class-index mask cannot be blended, so mixup keeps the mask of the dominant
sample (the one with weight >= 0.5). Training with soft targets needs the other
sample's share too: mixup then attaches per-class weights for the whole image
(lam * class fractions of the first + (1 - lam) * those of the second, ignore
excluded), computed at mixup time; the runner writes them as an .npz.
The second sample is resized to the first one's size when they differ.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..recipe import CutMix, Mixup
from ..sample import Sample
from .base import OpParams, Size, conform, ignore_of, record, require_mask, widen_to_colour

SOFT_LABEL_KEY = "soft_label"  # SampleMeta.extra key: per-class weights (list of floats)


@dataclass(frozen=True)
class MixupParams(OpParams):
    lam: float  # weight of the first sample's image
    soft_labels: bool
    ignore_index: int


@dataclass(frozen=True)
class CutMixParams(OpParams):
    """Box [y, y+height) x [x, x+width) of the second sample replaces the first's, in image and mask."""

    y: int
    x: int
    height: int
    width: int


def sample_mixup(rng: np.random.Generator, inputs: Sequence[Sample], step: Mixup, size: Size) -> MixupParams:
    lam = float(rng.beta(step.alpha, step.alpha))
    return MixupParams(round(lam, 6), step.soft_labels, ignore_of(inputs))


def _class_fractions(mask: np.ndarray, ignore: int, length: int) -> np.ndarray:
    labels = mask[mask != ignore].astype(np.int64)
    counts = np.bincount(labels, minlength=length)[:length].astype(np.float64)
    return counts / max(1, labels.size)


def apply_mixup(inputs: Sequence[Sample], p: MixupParams) -> Sample:
    first, second = widen_to_colour(inputs[0], inputs[1:2]), inputs[1]
    other_image, other_mask = conform(second, first)
    blend = p.lam * first.image.astype(np.float32) + (1.0 - p.lam) * other_image.astype(np.float32)
    info = np.iinfo(first.image.dtype) if np.issubdtype(first.image.dtype, np.integer) else None
    if info is not None:
        blend = np.clip(np.rint(blend), info.min, info.max)
    image = blend.astype(first.image.dtype)
    first_mask = require_mask(first)
    mask = first_mask.astype(other_mask.dtype, copy=False) if p.lam >= 0.5 else other_mask
    extra = dict(first.meta.extra)
    if p.soft_labels:
        valid = np.concatenate([first_mask[first_mask != p.ignore_index], other_mask[other_mask != p.ignore_index]])
        length = int(valid.max()) + 1 if valid.size else 0
        weights = p.lam * _class_fractions(first_mask, p.ignore_index, length) + (1.0 - p.lam) * _class_fractions(
            other_mask, p.ignore_index, length
        )
        extra[SOFT_LABEL_KEY] = [round(float(w), 6) for w in weights]
    return first.evolve(image, mask, "mixup", record(p), extra=extra)


def sample_cutmix(rng: np.random.Generator, inputs: Sequence[Sample], step: CutMix, size: Size) -> CutMixParams:
    h, w = inputs[0].height, inputs[0].width
    lam = float(rng.beta(step.alpha, step.alpha))
    cut = np.sqrt(1.0 - lam)  # box side fraction, so the box area is (1 - lam) of the image
    bh, bw = int(round(h * cut)), int(round(w * cut))
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, x0 = max(0, cy - bh // 2), max(0, cx - bw // 2)
    y1, x1 = min(h, cy - bh // 2 + bh), min(w, cx - bw // 2 + bw)
    return CutMixParams(y0, x0, max(0, y1 - y0), max(0, x1 - x0))


def apply_cutmix(inputs: Sequence[Sample], p: CutMixParams) -> Sample:
    first, second = widen_to_colour(inputs[0], inputs[1:2]), inputs[1]
    other_image, other_mask = conform(second, first)
    first_mask = require_mask(first)
    image = first.image.copy()
    mask = first_mask.astype(np.result_type(first_mask.dtype, other_mask.dtype), copy=True)
    box = (slice(p.y, p.y + p.height), slice(p.x, p.x + p.width))
    image[box] = other_image[box]
    mask[box] = other_mask[box]
    return first.evolve(image, mask, "cutmix", record(p))

"""Crop to the output size: random, or class-aware; optional rescale first; pads with the ignore index."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataprepError
from ..io import max_image_pixels
from ..recipe import Crop
from ..sample import Sample
from .base import OpParams, Size, crop_pad, ignore_of, record, require_mask, resize_image, resize_mask, uniform


@dataclass(frozen=True)
class CropParams(OpParams):
    """Input rescaled to `scaled_height` x `scaled_width`, then the window at (`y`, `x`) of the
    output size; a negative offset or a window past the edge pads."""

    scaled_height: int
    scaled_width: int
    y: int
    x: int
    height: int
    width: int
    image_fill: int
    ignore_index: int


def _offset_range(length: int, window: int) -> tuple[int, int]:
    # Larger input: the window slides inside it. Smaller: the input slides inside the window.
    return (0, length - window) if length >= window else (length - window, 0)


def _dominant_ratio(mask: np.ndarray, ignore: int) -> float:
    """Share of the window's labelled pixels held by its most frequent class (1.0 for one class or none)."""
    labels = mask[mask != ignore]
    if labels.size == 0:
        return 1.0
    counts = np.bincount(labels.ravel().astype(np.int64))
    counts = counts[counts > 0]
    return 1.0 if counts.size < 2 else float(counts.max() / labels.size)


def sample_crop(rng: np.random.Generator, inputs: Sequence[Sample], step: Crop, size: Size) -> CropParams:
    src = inputs[0]
    ignore = ignore_of(inputs)
    height, width = size
    sh, sw = src.height, src.width
    if step.scale is not None:
        cover = max(height / src.height, width / src.width)
        s = cover * uniform(rng, step.scale)
        sh, sw = max(1, int(round(src.height * s))), max(1, int(round(src.width * s)))
        limit = max_image_pixels()
        if limit is not None and sh * sw > limit:  # a 1x20000 strip covering 512x512 asked for 46 GB, then OOM
            raise DataprepError(
                src.meta.image_path or src.meta.id,
                f"crop's scale makes this {src.width}x{src.height} image {sw}x{sh} to cover the {width}x{height} "
                f"crop ({sw * sh:,} pixels, over the {limit:,} limit): its shape is far from the crop's; leave it "
                "out, or cut it into tiles first (dataprep tile)",
            )
    if not step.pad_if_needed and (sh < height or sw < width):
        raise DataprepError(
            src.meta.image_path or src.meta.id,
            f"{sw}x{sh} is smaller than the {width}x{height} crop and pad_if_needed is false",
        )
    mask = resize_mask(require_mask(src), sh, sw)
    (y_lo, y_hi), (x_lo, x_hi) = _offset_range(sh, height), _offset_range(sw, width)

    def window(y: int, x: int) -> CropParams:
        return CropParams(sh, sw, y, x, height, width, step.image_fill, ignore)

    if step.focus_classes:
        present = [c for c in step.focus_classes if np.any(mask == c)]
        if present:
            cls = present[int(rng.integers(len(present)))]
            ys, xs = np.nonzero(mask == cls)
            k = int(rng.integers(ys.size))
            # Centre on the chosen pixel, clamped so the window stays as inside as it can.
            y = int(np.clip(ys[k] - height // 2, y_lo, y_hi))
            x = int(np.clip(xs[k] - width // 2, x_lo, x_hi))
            return window(y, x)

    best, best_ratio = (0, 0), 2.0
    for _ in range(step.max_tries):
        y = int(rng.integers(y_lo, y_hi + 1))
        x = int(rng.integers(x_lo, x_hi + 1))
        if step.cat_max_ratio >= 1.0:
            return window(y, x)
        ratio = _dominant_ratio(crop_pad(mask, y, x, height, width, ignore), ignore)
        if ratio <= step.cat_max_ratio:
            return window(y, x)
        if ratio < best_ratio:  # no window qualified: keep the most balanced one seen
            best, best_ratio = (y, x), ratio
    return window(*best)


def apply_crop(inputs: Sequence[Sample], p: CropParams) -> Sample:
    src = inputs[0]
    image = resize_image(src.image, p.scaled_height, p.scaled_width)
    mask = resize_mask(require_mask(src), p.scaled_height, p.scaled_width)
    image = crop_pad(image, p.y, p.x, p.height, p.width, p.image_fill)
    mask = crop_pad(mask, p.y, p.x, p.height, p.width, p.ignore_index)
    return src.evolve(image, mask, "crop", record(p))

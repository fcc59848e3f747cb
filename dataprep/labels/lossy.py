"""JPEG index masks: compression spreads each stored value over its neighbours (0 and 255 over 0..12 and
240..255), so under `--unknown nearest` each value snaps to the nearest value the palette gives a meaning. Binary
masks drawn or resized with anti-aliasing (grey values on their edges only) are read the same way."""
from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from ..palette import Palette
from .converted import Converted, _histogram, _narrow, _value_counts
from .options import UnknownKey


def snap_lossy_values(values: np.ndarray, palette: Palette, remap: Mapping[int, int] | None = None) -> Converted:
    """A JPEG index mask: each value to the class of the nearest value the palette (or `remap`) gives a meaning.

    Compression spreads 0 and 255 over 0..12 and 240..255. Read as they are under `-p binary`, the noise
    value 1 was the foreground and 254 the ignore index (Kvasir's polyps all lost). Under a `remap` the values
    are those it maps and the palette's own; a palette that stores a class at the ignore value (binary: 0/1
    or 0/255) takes the ids when the mask holds bright values, the indices otherwise; a palette with other ids
    (Oxford-IIIT Pet's trimaps store 1, 2, 3) takes whichever of its ids and its indices lies nearer the mask's
    pixels; others their indices and the ignore value.
    """
    counts = _value_counts(values)
    ids = palette.ids()
    classes = {c.index: c.index for c in palette.classes if not c.ignore}
    indices = {**classes, palette.ignore_index: palette.ignore_index}
    if remap:
        meaning = {**indices, **remap}  # as an index mask converts under it: valid values kept unless remapped
    elif ids.get(palette.ignore_index, palette.ignore_index) != palette.ignore_index:
        meaning = ids if counts[128:].any() else classes
    elif ids and ids != {k: v for k, v in ids.items() if k == v}:
        meaning = min((indices, ids), key=lambda m: _distance(counts, m))  # a tie keeps the indices
    else:
        meaning = indices
    lut = np.array([meaning[int(v)] for v in _nearest_stored(np.array(sorted(meaning), np.int64))],
                   palette.label_dtype)
    labels = cv2.LUT(values, lut) if lut.dtype == np.uint8 else np.take(lut, values)
    found: dict[UnknownKey, int] = {int(v): int(counts[v]) for v in np.flatnonzero(counts) if int(v) not in meaning}
    size = palette.max_value + 1
    return Converted(_narrow(labels, palette), _histogram(labels, size)[:size], found)


def _nearest_stored(stored: np.ndarray) -> np.ndarray:
    """For each level 0..255, the nearest of the sorted `stored` values (a tie: the lower)."""
    levels = np.arange(256)
    right = np.clip(np.searchsorted(stored, levels), 0, len(stored) - 1)
    left = np.clip(right - 1, 0, len(stored) - 1)
    return np.where(np.abs(stored[left] - levels) <= np.abs(stored[right] - levels), stored[left], stored[right])


def _distance(counts: np.ndarray, meaning: Mapping[int, int]) -> int:
    """Pixels times levels between each pixel's value and the nearest value of `meaning`."""
    nearest = _nearest_stored(np.array(sorted(meaning), np.int64))
    return int((counts * np.abs(nearest - np.arange(256))).sum())


JPEG_NOISE_LEVELS = 16  # how far JPEG moves a flat region's value at its edges (0 and 255 spread over 0..12)


def jpeg_classes_too_close(values: np.ndarray, labels: np.ndarray, ignore_index: int) -> bool:
    """A JPEG index mask holding two classes within JPEG_NOISE_LEVELS of each other, both filling regions (the
    values a class's interior keeps): the compression noise on one's edges is the other's value, and no
    conversion can tell them apart (class ids 0..5 saved as JPEG: 5% of the pixels in another class)."""
    if values.ndim != 2 or values.dtype != np.uint8 or values.shape != labels.shape:
        return False
    from ..regions import solid_counts

    present = np.flatnonzero(np.bincount(values.ravel(), minlength=256))
    filling = present[solid_counts(values, present) > 0]
    if len(filling) < 2:
        return False
    class_of = np.zeros(256, np.int64)
    class_of[values.ravel()] = labels.ravel()  # a 2-D mask converts value by value: one class per value
    classes = class_of[filling]
    kept = classes != ignore_index
    filling, classes = filling[kept], classes[kept]
    gaps = np.diff(filling) <= JPEG_NOISE_LEVELS
    return bool((gaps & (classes[1:] != classes[:-1])).any())


SOFT_EDGE_VALUES = 3  # distinct values besides 0 and 255 that a soft-edged binary mask shows at least
SOFT_EDGE_SHARE = 0.25  # of the pixels, at most, on those edges


def soft_edged(mask: np.ndarray) -> bool:
    """A binary mask with anti-aliased edges: only 0 and 255 fill 3x3 blocks, and a few grey values (a minority
    of the pixels) lie between them (or beside 0 alone) on thin edges. Read as indices, the magnetic-tile defect
    masks lost every 255 to the ignore index (their edge value 1 made them 0/1/255 masks)."""
    if mask.ndim != 2 or mask.dtype != np.uint8 or mask.size == 0:
        return False
    counts = np.bincount(mask.ravel(), minlength=256)
    grey = np.flatnonzero(counts[1:255]) + 1
    # 255 may be missing: a defect so small that no pixel of it reached full white is still a soft-edged blob
    if len(grey) < SOFT_EDGE_VALUES or not counts[0] or counts[grey].sum() > SOFT_EDGE_SHARE * mask.size:
        return False
    from ..regions import solid_counts

    return not solid_counts(mask, grey).any()

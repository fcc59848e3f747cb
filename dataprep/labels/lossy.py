"""JPEG index masks: compression spreads each stored value over its neighbours (0 and 255 over 0..12 and
240..255), so under `--unknown nearest` each value snaps to the nearest value the palette gives a meaning."""
from __future__ import annotations

import cv2
import numpy as np

from ..palette import Palette
from .converted import Converted, _histogram, _narrow, _value_counts
from .options import UnknownKey


def snap_lossy_values(values: np.ndarray, palette: Palette) -> Converted:
    """A JPEG index mask: each value to the class of the nearest value the palette gives a meaning.

    Compression spreads 0 and 255 over 0..12 and 240..255. Read as they are under `-p binary`, the noise
    value 1 was the foreground and 254 the ignore index (Kvasir's polyps all lost). A palette that stores a
    class at the ignore value (binary: 0/1 or 0/255) takes the ids when the mask holds bright values, the
    indices otherwise; other palettes take their indices and the ignore value.
    """
    counts = _value_counts(values)
    ids = palette.ids()
    classes = {c.index: c.index for c in palette.classes if not c.ignore}
    if ids.get(palette.ignore_index, palette.ignore_index) != palette.ignore_index:
        meaning = ids if counts[128:].any() else classes
    else:
        meaning = {**classes, palette.ignore_index: palette.ignore_index}
    stored = np.array(sorted(meaning), np.int64)
    levels = np.arange(256)
    right = np.clip(np.searchsorted(stored, levels), 0, len(stored) - 1)
    left = np.clip(right - 1, 0, len(stored) - 1)
    nearest = np.where(np.abs(stored[left] - levels) <= np.abs(stored[right] - levels), stored[left], stored[right])
    lut = np.array([meaning[int(v)] for v in nearest], palette.label_dtype)
    labels = cv2.LUT(values, lut) if lut.dtype == np.uint8 else np.take(lut, values)
    found: dict[UnknownKey, int] = {int(v): int(counts[v]) for v in np.flatnonzero(counts) if int(v) not in meaning}
    size = palette.max_value + 1
    return Converted(_narrow(labels, palette), _histogram(labels, size)[:size], found)

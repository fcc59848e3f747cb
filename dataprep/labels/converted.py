"""What a conversion returns (`Converted`) and the pixel counting every conversion path shares."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..histogram import channel_histograms
from ..palette import Palette
from .options import UnknownKey


def _histogram(labels: np.ndarray, size: int) -> np.ndarray:
    """Exact per-value pixel counts, int64, length `size`."""
    if labels.dtype == np.uint8:
        hist = channel_histograms(labels)[0]  # several times faster than bincount on uint8
    else:
        hist = np.bincount(labels.ravel(), minlength=size)
    return _padded(hist, size)


def _padded(hist: np.ndarray, size: int) -> np.ndarray:
    """`hist` cut or zero-padded to `size` bins."""
    if len(hist) < size:
        hist = np.pad(hist, (0, size - len(hist)))
    return hist[:size] if len(hist) > size else hist


@dataclass
class Converted:
    labels: np.ndarray  # (H, W) uint8 or uint16 class indices
    counts: np.ndarray  # pixels per value 0..palette.max_value
    unknown: dict[UnknownKey, int]  # colours/values not in the palette (and what they were replaced by, see mode)
    by_colour: bool = False  # a palette-mode mask converted through its own colour table, not its indices
    grey_levels: bool = False  # a colour mask of grey pixels only converted by its grey values (an index mask)
    by_ids: bool = False  # an index mask of ids alone, one of them a class stored at the ignore value (binary 0/255)
    kept_ignore: bool = False  # one holding that value among others (0/1/255): kept as ignore
    transparent: int = 0  # pixels of alpha 0 (RGBA masks), made ignore whatever their colour


def _value_counts(values: np.ndarray) -> np.ndarray | None:
    """Pixels per stored value of a uint8/uint16 index mask (None for other types)."""
    if values.dtype not in (np.uint8, np.uint16):
        return None
    return _histogram(values, 256 if values.dtype == np.uint8 else 65536)


def _narrow(labels: np.ndarray, palette: Palette) -> np.ndarray:
    return labels if labels.dtype == palette.label_dtype else labels.astype(palette.label_dtype)

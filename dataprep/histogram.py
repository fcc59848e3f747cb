"""Exact per-channel value counts of 8- and 16-bit images and label maps.

8-bit data goes through `dataprep._histogram`, a small C kernel that counts all
channels in one pass, when it was built at install time; otherwise, and for
16-bit data, through `cv2.calcHist` (one pass per channel). cv2 counts in
float32, exact up to 2**24 per bin, so bigger images are counted in bands.
"""
from __future__ import annotations

import cv2
import numpy as np

try:
    from . import _histogram
except ImportError:  # built without a C compiler: cv2 does the same counts
    _histogram = None

# calcHist counts in float32, exact up to 2**24 per bin; bigger images are
# counted in bands of at most that many pixels.
FLOAT32_EXACT = 1 << 24


def channel_histograms(array: np.ndarray) -> np.ndarray:
    """(C, 256) or (C, 65536) int64 counts of a (H, W, C) or (H, W) uint8/uint16 array."""
    if array.ndim == 2:
        array = array[:, :, None]
    # The kernel counts into several sub-histograms; calcHist into one, which stalls on runs of
    # one value (label maps are mostly runs): 3x slower on a 2048x1024 label map, 5x on 16x16.
    if array.dtype == np.uint8 and _histogram is not None:
        out = np.zeros((array.shape[2], 256), np.int64)
        _histogram.add_u8(array, out)
        return out
    if array.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"histograms need uint8 or uint16 data, got {array.dtype}")
    return _calc_hist(array, 256 if array.dtype == np.uint8 else 65536)


def lookup_rgb_and_count(rgb: np.ndarray, lut: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """`(labels, counts)`: `lut[r | g << 8 | b << 16]` for each pixel of an (H, W, 3) uint8 image, and the
    (256,) int64 counts of those labels, in one pass by the C kernel.

    None where the kernel does not apply (not built, a uint16 table, pixels not packed along the rows):
    callers then pack keys and gather with numpy.
    """
    if _histogram is None or lut.dtype != np.uint8 or lut.size != 1 << 24 or rgb.ndim != 3 or rgb.shape[2] != 3 \
            or rgb.dtype != np.uint8 or rgb.strides[1:] != (3, 1):
        return None
    labels = np.empty(rgb.shape[:2], np.uint8)
    counts = np.zeros(256, np.int64)
    _histogram.lookup_rgb_u8(rgb, np.ascontiguousarray(lut), labels, counts)
    return labels, counts


def _calc_hist(array: np.ndarray, bins: int) -> np.ndarray:
    h, w, c = array.shape
    rows = max(1, FLOAT32_EXACT // max(1, w))
    out = np.zeros((c, bins), np.int64)
    for top in range(0, h, rows):
        band = np.ascontiguousarray(array[top : top + rows])
        for ch in range(c):
            out[ch] += cv2.calcHist([band], [ch], None, [bins], [0, bins]).reshape(-1).astype(np.int64)
    return out

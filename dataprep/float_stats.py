"""Float images for `dataprep.stats`: exact mergeable sums and fixed-bin percentiles.

No histogram of float values is a sufficient statistic, so a float image's
partial carries, per band: min, max, and its float64 sums of x and of squared
deviations from the image's own mean, held as exact fractions -- merging adds
fractions, which is exact, so the result is the same bits whatever the merge
order or the split across workers. Percentiles come from a fixed 65536-bin
histogram of the float32 bit patterns (`float_keys`), interpolated within the
bin: the error is below one bin, 2**-7 of the value.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import DataprepError
from .histogram import channel_histograms
from .pixeltypes import is_nodata


def float_keys(values: np.ndarray) -> np.ndarray:
    """uint16 bins of float32 values, in value order: the top 16 bits of the order-preserving bit pattern.

    Each bin holds 2**16 adjacent float32 values (one sign, exponent and the top
    7 mantissa bits), so a bin is at most 2**-7 of its values wide, relatively.
    """
    bits = np.ascontiguousarray(values, np.float32).view(np.uint32)
    ordered = np.where(bits & np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000))
    return (ordered >> np.uint32(16)).astype(np.uint16)


def key_bounds(key: int) -> tuple[float, float]:
    """The smallest and largest float32 value of a `float_keys` bin."""
    def value(ordered: int) -> float:
        bits = ordered & 0x7FFFFFFF if ordered & 0x80000000 else ~ordered & 0xFFFFFFFF
        return float(np.array([bits], np.uint32).view(np.float32)[0])
    a, b = value(key << 16), value((key << 16) | 0xFFFF)
    return (a, b) if a <= b else (b, a)


def float_partial(array: np.ndarray, source: str, make: Any, nodata: float | None = None) -> Any:
    """The float32 `stats.PixelPartial` of one (H, W, C) float image (`make` builds it; no import cycle).

    `nodata`: each band's pixels holding it (`pixeltypes.is_nodata`) are left
    out of that band's sums, extremes and histogram, so bands may count
    different numbers of pixels (the histogram's row sums).
    """
    channels = array.shape[2]
    flat = array.reshape(-1, channels)
    keys = float_keys(array)
    hist = channel_histograms(keys)
    invalid = is_nodata(flat, nodata) if nodata is not None else None
    if invalid is None or not invalid.any():
        moments = [_band_moments(flat)]
    else:
        flat_keys = keys.reshape(-1, channels)
        for c in range(channels):
            hist[c] -= np.bincount(flat_keys[invalid[:, c], c], minlength=hist.shape[1])
        moments = [_band_moments(flat[~invalid[:, c], c : c + 1]) for c in range(channels)]
    counts, lo, hi, sums, m2 = (np.concatenate(v) for v in zip(*moments))
    if not (np.isfinite(lo[counts > 0]).all() and np.isfinite(hi[counts > 0]).all()):
        raise DataprepError(source or None, "has NaN or infinite pixel values; stats need finite values")
    means = sums / np.maximum(counts, 1)
    # Squares about the image's own mean keep their precision; the exact identity
    # sum(x^2) = M2 + 2 m s - n m^2 then gives a mergeable sum of squares.
    exact_sums = tuple(Fraction(float(v)) for v in sums)
    squares = tuple(Fraction(float(q)) + 2 * Fraction(float(m)) * s - int(n) * Fraction(float(m)) ** 2
                    for q, m, s, n in zip(m2, means, exact_sums, counts))
    occupied = np.flatnonzero(hist.any(axis=0))
    offset = 0
    if occupied.size:
        offset = int(occupied[0])
        hist = np.ascontiguousarray(hist[:, offset : occupied[-1] + 1])
    return make("float32", flat.shape[0], hist, offset, source, exact_sums, squares,
                tuple(float(v) for v in lo), tuple(float(v) for v in hi))


def _band_moments(flat: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per column of (N, C) `flat`: count, min, max (inf, -inf when empty), float64 sum, squares about the mean."""
    n = flat.shape[0]
    if n == 0:
        empty = np.zeros(flat.shape[1])
        return np.zeros(flat.shape[1], np.int64), empty + np.inf, empty - np.inf, empty, empty
    sums = flat.sum(axis=0, dtype=np.float64)
    deviation = flat.astype(np.float64) - sums / n
    return (np.full(flat.shape[1], n, np.int64), flat.min(axis=0).astype(np.float64),
            flat.max(axis=0).astype(np.float64), sums, np.einsum("ij,ij->j", deviation, deviation))


def exact_moments(n: int, s: Fraction, q: Fraction) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    return float(s / n), math.sqrt(max(Fraction(0), (n * q - s * s) / (n * n)))


def float_percentile(hist: np.ndarray, q: float, offset: int, lows: Sequence[float],
                     highs: Sequence[float]) -> np.ndarray:
    """Per-band q-th percentile of float data from its `float_keys` histogram.

    As numpy's linear method: the values of ranks floor(r) and floor(r) + 1,
    r = (n - 1) * q / 100, interpolated. Each of those values is found in its
    bin exactly and placed within the bin by its rank there (the bin's bounds
    clipped to the band's measured min and max), so each is off by less than
    one bin, 2**-7 of the value, relatively. (With few pixels the two ranks
    often fall in different bins: 5 valid pixels put p1 between the smallest
    two values, not inside the smallest one's bin.)
    """
    out = np.zeros(hist.shape[0], np.float64)
    for ch, h in enumerate(hist):
        n = int(h.sum())
        if n == 0:
            continue
        cum = np.cumsum(h)
        rank = (n - 1) * (q / 100)
        below = math.floor(rank)
        low = _ranked_value(h, cum, below, offset, lows[ch], highs[ch])
        high = _ranked_value(h, cum, min(below + 1, n - 1), offset, lows[ch], highs[ch])
        out[ch] = low + (high - low) * (rank - below)
    return out


def _ranked_value(h: np.ndarray, cum: np.ndarray, k: int, offset: int, low: float, high: float) -> float:
    """The estimated k-th smallest value (0-based) of one band's `float_keys` histogram."""
    index = int(np.searchsorted(cum, k, side="right"))
    before = int(cum[index - 1]) if index else 0
    a, b = key_bounds(index + offset)
    a, b = max(a, low), min(b, high)
    within = (k - before + 0.5) / int(h[index])
    return min(max(a + (b - a) * min(within, 1.0), low), high)

"""The image side of `dataprep stats`: per-band exact histograms of one image, their merge, the final numbers.

For 8- and 16-bit data a per-band histogram is a sufficient statistic -- count,
sum, sum of squares, min, max and every percentile follow from it exactly --
and counting is the cheapest pass over the pixels there is (`histogram.py`: one
pass for all bands). Merging adds integer counts, so it is exact, associative
and commutative. Mean and std are computed from exact integer sums and
correctly rounded; percentiles equal `numpy.percentile` (linear interpolation)
over all pixels. int16 values are counted shifted by 32768. Float images carry
exact fraction sums and a histogram of their bit patterns (`float_stats.py`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import DataprepError
from .float_stats import exact_moments, float_partial, float_percentile
from .histogram import channel_histograms

PERCENTILES = (1.0, 99.0)

# Integer types: exact histograms over every value the type has (int16 shifted by 32768).
MAX_VALUE = {"uint8": 255, "uint16": 65535, "int16": 32767, "float32": 1.0}
BINS = {"uint8": 256, "uint16": 65536, "int16": 65536, "float32": 65536}
BASE = {"uint8": 0, "uint16": 0, "int16": -32768, "float32": 0}
_DTYPE_NAMES = {np.dtype(t).char: t for t in ("uint8", "uint16", "int16", "float32", "float64")}


@dataclass
class PixelPartial:
    """Image side of a partial: exact per-channel histograms, from which every image statistic follows."""

    dtype: str  # "uint8" | "uint16" | "int16" | "float32"
    count: int  # pixels per channel
    # (C, B) int64, counts of values hist_offset .. hist_offset + B - 1; float32: of
    # `float_keys` (the top 16 bits of each value's order-preserving bit pattern).
    hist: np.ndarray
    hist_offset: int = 0
    source: str = ""  # first image, for messages about mismatched channels/depth
    # float32 only, one entry per band: exact sums of x and x*x of the per-image
    # float64 partials (Fractions add exactly, so any merge order gives the same bits).
    sums: tuple[Fraction, ...] | None = None
    squares: tuple[Fraction, ...] | None = None
    lo: tuple[float, ...] | None = None
    hi: tuple[float, ...] | None = None

    @property
    def channels(self) -> int:
        return int(self.hist.shape[0])


def image_partial(image: np.ndarray, source: str = "", *, bgr: bool = False,
                  nodata: float | None = None) -> PixelPartial:
    """Exact per-channel histograms (float: exact sums too) of one (H, W, C) or (H, W) image.

    Pixel types: uint8, uint16, int16, float32 (float64 is measured as float32
    for percentiles, its sums in float64). `bgr`: the colour channels come in
    BGR order (as `io.read_pixels` may give them); the result is in RGB order.
    `nodata`: a GeoTIFF's GDAL nodata value; each band's pixels holding it are
    left out of that band, as `gdalinfo -stats` counts them.
    """
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    # Not dtype.name: it is slow enough to show up once per image.
    dtype = _DTYPE_NAMES.get(array.dtype.char) if array.dtype.isnative else None
    if dtype is None:
        raise DataprepError(source or None, f"{array.dtype} images are not supported; stats need uint8, uint16, "
                            "int16 or float32 images")
    if dtype in ("float32", "float64"):
        return float_partial(array[:, :, ::-1] if bgr else array, source, PixelPartial, nodata)
    if dtype == "int16":
        # value + 32768 as uint16: the same exact counting, shifted back by _BASE.
        array = (array.view(np.uint16) ^ np.uint16(0x8000))
    hist = channel_histograms(array)
    if nodata is not None and nodata.is_integer() and 0 <= nodata - BASE[dtype] < hist.shape[1]:
        hist[:, int(nodata) - BASE[dtype]] = 0
    if bgr:
        hist = np.ascontiguousarray(hist[::-1])
    offset = 0
    if dtype != "uint8":
        # 16-bit: ship only the occupied range (12-bit data fills a sixteenth of it).
        occupied = np.flatnonzero(hist.any(axis=0))
        if occupied.size:
            offset = int(occupied[0])
            hist = np.ascontiguousarray(hist[:, offset : occupied[-1] + 1])
    return PixelPartial(dtype, int(array.shape[0] * array.shape[1]), hist, offset + BASE[dtype], source)


class PixelAccumulator:
    """Adds PixelPartials (full-width histograms; exact fraction sums for float data)."""

    def __init__(self, first: PixelPartial) -> None:
        self.dtype = first.dtype
        self.source = first.source
        self.count = 0
        # Full width: partials carry only their occupied bins.
        self.hist = np.zeros((first.channels, BINS[self.dtype]), np.int64)
        self.floats = first.sums is not None
        if self.floats:
            c = first.channels
            self.sums, self.squares = [Fraction(0)] * c, [Fraction(0)] * c
            self.lo, self.hi = [math.inf] * c, [-math.inf] * c
        self.add(first)

    def add(self, p: PixelPartial) -> None:
        hist = p.hist
        if p.channels != self.hist.shape[0]:
            # Grayscale images among colour ones count as the Dataset loads them: gray in R, G and B.
            if (p.channels, self.hist.shape[0]) == (1, 3):
                hist = np.repeat(hist, 3, axis=0)
            elif (p.channels, self.hist.shape[0]) == (3, 1):
                self.hist, self.source = np.repeat(self.hist, 3, axis=0), p.source  # messages name a colour image
                if self.floats:
                    self.sums, self.squares, self.lo, self.hi = (v * 3 for v in (self.sums, self.squares, self.lo, self.hi))
            else:
                raise DataprepError(p.source or None, f"has {p.channels} channel(s) but {self.source} has "
                                    f"{self.hist.shape[0]}; all images must have the same channels "
                                    "(grayscale and RGB may mix)")
        if p.dtype != self.dtype:
            raise DataprepError(p.source or None, f"is {p.dtype} but {self.source} is {self.dtype}; "
                                "all images must have the same bit depth")
        self.count += p.count
        if hist.shape[1]:
            start = p.hist_offset - BASE[self.dtype]
            self.hist[:, start : start + hist.shape[1]] += hist
        if self.floats and p.count:
            k = self.hist.shape[0] // len(p.sums)  # 3 for a grayscale image among colour ones
            sums, squares, lo, hi = (list(v) * k for v in (p.sums, p.squares, p.lo, p.hi))
            self.sums = [a + b for a, b in zip(self.sums, sums)]
            self.squares = [a + b for a, b in zip(self.squares, squares)]
            self.lo = [min(a, b) for a, b in zip(self.lo, lo)]
            self.hi = [max(a, b) for a, b in zip(self.hi, hi)]

    def result(self) -> PixelPartial:
        if not self.floats:
            return PixelPartial(self.dtype, self.count, self.hist, BASE[self.dtype], self.source)
        return PixelPartial(self.dtype, self.count, self.hist, 0, self.source, tuple(self.sums), tuple(self.squares),
                            tuple(self.lo), tuple(self.hi))



def narrow_sixteen_bit_warning(dtype: str, largest: float, where: str) -> str | None:
    """16-bit images whose values stay within 8 bits (DSB2018's nuclei, max 235): scaled 0-1 by 65535, as
    mean_01 and a plain scale do, they are about 0.0005 +- 0.0004, inputs a model hardly sees."""
    if dtype != "uint16" or largest > 255:
        return None
    return (f"{where} are 16-bit but hold 8-bit values (at most {largest:g}): divided by 65535 (mean_01, or a "
            "Dataset without stats) they are all near 0; normalize with stats.json's mean/std (raw units), or save "
            "them as 8-bit")


def image_summary(p: PixelPartial) -> dict[str, Any]:
    """The `image` block of stats.json from a merged PixelPartial: per-channel lists and one entry per band."""
    max_value = MAX_VALUE[p.dtype]
    valid = [int(n) for n in p.hist.sum(axis=1)]  # per band: nodata pixels are not counted
    if p.sums is not None:
        moments = [exact_moments(n, s, q) for n, s, q in zip(valid, p.sums, p.squares)]
        lows = [lo if n else 0.0 for n, lo in zip(valid, p.lo)]
        highs = [hi if n else 0.0 for n, hi in zip(valid, p.hi)]
        p_lo, p_hi = (float_percentile(p.hist, q, p.hist_offset, lows, highs) for q in PERCENTILES)
    else:
        moments = [hist_moments(h, p.hist_offset) for h in p.hist]
        occupied = p.hist > 0
        lows = [p.hist_offset + int(np.argmax(o)) if o.any() else 0 for o in occupied]
        highs = [p.hist_offset + o.size - 1 - int(np.argmax(o[::-1])) if o.any() else 0 for o in occupied]
        p_lo, p_hi = (hist_percentile(p.hist, q, p.hist_offset) for q in PERCENTILES)
    mean = np.array([m[0] for m in moments])
    std = np.array([m[1] for m in moments])
    summary = {
        "channels": p.channels,
        "dtype": p.dtype,
        "max_value": max_value,
        "pixels": int(p.count),
        "valid_pixels": valid,
        "mean": _floats(mean),
        "std": _floats(std),
        "mean_01": _floats(mean / max_value),
        "std_01": _floats(std / max_value),
        "min": lows,
        "max": highs,
        "p1": _floats(p_lo),
        "p99": _floats(p_hi),
    }
    keys = ("mean", "std", "min", "max", "p1", "p99", "valid_pixels")
    summary["bands"] = [{"band": c, **{k: summary[k][c] for k in keys}} for c in range(p.channels)]
    return summary


def hist_moments(hist: np.ndarray, offset: int = 0) -> tuple[float, float]:
    """Mean and population std of the values counted in a 1-D histogram, correctly rounded.

    Sums of values and of squares are exact integers (int64 where they cannot
    overflow, Python integers otherwise); the only roundings are the final
    division and square root.
    """
    hist = np.asarray(hist, np.int64)
    n = int(hist.sum())
    if n == 0:
        return 0.0, 0.0
    top = offset + hist.size - 1
    if n * max(top * top, offset * offset) < 2**62:
        values = np.arange(offset, top + 1, dtype=np.int64)
        s, q = int(hist @ values), int(hist @ (values * values))
    else:
        occupied = np.flatnonzero(hist)
        counts, values = hist[occupied].tolist(), (occupied + offset).tolist()
        s = sum(c * v for c, v in zip(counts, values))
        q = sum(c * v * v for c, v in zip(counts, values))
    return s / n, math.sqrt(Fraction(n * q - s * s, n * n))


def hist_percentile(hist: np.ndarray, q: float, offset: int = 0) -> np.ndarray:
    """Per-channel q-th percentile of the values counted in (C, B) `hist`, as numpy.percentile (linear) gives."""
    out = np.zeros(hist.shape[0], np.float64)
    for ch, h in enumerate(hist):
        n = int(h.sum())
        if n == 0:
            continue
        cum = np.cumsum(h)
        # numpy: virtual index (n - 1) * q/100, then linear interpolation between neighbours.
        virtual = (n - 1) * (np.float64(q) / 100)
        below = math.floor(virtual)
        above = min(below + 1, n - 1)
        gamma = virtual - below
        a = float(np.searchsorted(cum, below, side="right") + offset)
        b = float(np.searchsorted(cum, above, side="right") + offset)
        diff = b - a
        out[ch] = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return out


def _floats(a: Iterable[float]) -> list[float]:
    return [float(v) for v in a]


__all__ = ["BASE", "BINS", "MAX_VALUE", "PERCENTILES", "PixelAccumulator", "PixelPartial", "hist_moments",
           "hist_percentile", "image_partial", "image_summary", "narrow_sixteen_bit_warning"]

"""Dataset statistics: per-channel image moments and percentiles, class pixel counts and weights.

One streaming pass over the manifest. Every row becomes a small `Partial`
(exact per-channel histograms of the image, class pixel counts of the label
map); `merge_partials` combines them; the final numbers are computed once from
the merged partial.

Why histograms: for 8- and 16-bit data a per-channel histogram is a sufficient
statistic -- count, sum, sum of squares, min, max and every percentile follow
from it exactly -- and counting is the cheapest pass over the pixels there is
(`histogram.py`: one pass for all channels). Merging adds integer counts, so it
is exact, associative and commutative: a serial run, a process pool and a Dask
tree reduction give the same bits in any order, which a floating-point
Chan/Welford merge of per-image (mean, M2) guarantees only for one fixed merge
order. Mean and std are then computed from exact integer sums and correctly
rounded; percentiles equal `numpy.percentile` (linear interpolation) over all
pixels.

Float data (no histogram is a sufficient statistic there): per-image float64
sums of x and of squares, held as exact fractions so that merging is exact in
any order too; percentiles from a fixed 65536-bin histogram of the float32 bit
patterns (`float_keys`), interpolated within the bin (error < 2**-7 of the value).

Float images are handled by `float_stats.py`.

The result is the `stats.json` contract documented in docs/stats_kfold.md, read
back as `contracts.Stats`.
"""
from __future__ import annotations

import functools
import json
import math
import operator
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tqdm import tqdm

from .contracts import STATS_VERSION, Stats
from .errors import DataprepError, UsageError, all_failed
from .executor import Executor, OnError, run_items
from .float_stats import exact_moments, float_partial, float_percentile
from .histogram import channel_histograms
from .io import PathLike, atomic_write_text, load_sample
from .manifest import Manifest, ManifestRow, read_manifest
from .palette import Palette, resolve_palette
from .progress import bars_disabled
from .sample import DEFAULT_IGNORE_INDEX
from .sampleio import load_row_mask

# `ignore_index="auto"`: the palette's ignore index, else 255.
AUTO: Literal["auto"] = "auto"
IgnoreIndex = int | None | Literal["auto"]

ENET_C = 1.02  # ENet's class-weight constant: w = 1 / ln(c + p)
PERCENTILES = (1.0, 99.0)

# Integer types: exact histograms over every value the type has (int16 shifted by 32768).
_MAX_VALUE = {"uint8": 255, "uint16": 65535, "int16": 32767, "float32": 1.0}
_BINS = {"uint8": 256, "uint16": 65536, "int16": 65536, "float32": 65536}
_BASE = {"uint8": 0, "uint16": 0, "int16": -32768, "float32": 0}
_DTYPE_NAMES = {np.dtype(t).char: t for t in ("uint8", "uint16", "int16", "float32", "float64")}
# Rows per run_items call: bounds the partials held in memory at once.
_BLOCK = 1024


# --------------------------------------------------------------------------- partials


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


@dataclass
class LabelPartial:
    """Label side of a partial. Arrays are indexed by class and may be shorter than num_classes."""

    pixels: np.ndarray  # (L,) int64 pixels per class, ignore excluded
    images: np.ndarray  # (L,) int64 label maps containing the class
    present_pixels: np.ndarray  # (L,) int64 labelled pixels of the label maps containing the class
    ignored: int = 0
    num_images: int = 0


@dataclass
class Partial:
    """What one row (or a merged run of rows) contributes to the statistics."""

    num_images: int = 0
    image: PixelPartial | None = None
    labels: LabelPartial | None = None


def image_partial(image: np.ndarray, source: str = "", *, bgr: bool = False) -> PixelPartial:
    """Exact per-channel histograms (float: exact sums too) of one (H, W, C) or (H, W) image.

    Pixel types: uint8, uint16, int16, float32 (float64 is measured as float32
    for percentiles, its sums in float64). `bgr`: the colour channels come in
    BGR order (as `io.read_pixels` may give them); the result is in RGB order.
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
        return float_partial(array[:, :, ::-1] if bgr else array, source, PixelPartial)
    if dtype == "int16":
        # value + 32768 as uint16: the same exact counting, shifted back by _BASE.
        array = (array.view(np.uint16) ^ np.uint16(0x8000))
    hist = channel_histograms(array)
    if bgr:
        hist = np.ascontiguousarray(hist[::-1])
    offset = 0
    if dtype != "uint8":
        # 16-bit: ship only the occupied range (12-bit data fills a sixteenth of it).
        occupied = np.flatnonzero(hist.any(axis=0))
        if occupied.size:
            offset = int(occupied[0])
            hist = np.ascontiguousarray(hist[:, offset : occupied[-1] + 1])
    return PixelPartial(dtype, int(array.shape[0] * array.shape[1]), hist, offset + _BASE[dtype], source)


def label_partial(mask: np.ndarray, *, num_classes: int | None = None, ignore_index: int | None = DEFAULT_IGNORE_INDEX,
                  source: str = "") -> LabelPartial:
    """Class pixel counts of one (H, W) label map; `ignore_index` pixels are counted apart."""
    src = source or None
    mask = np.asarray(mask)
    if mask.ndim == 3:
        raise DataprepError(src, "colour mask; run `dataprep masks2labels` first")
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise DataprepError(src, f"label map must be a 2-D integer array, got {mask.dtype} of shape {mask.shape}")
    ignored = 0
    if mask.dtype == np.uint8:
        counts = channel_histograms(mask)[0]
    else:
        flat = mask.ravel()
        if flat.size and mask.dtype.kind == "i" and flat.min() < 0:
            # Some tools store ignore as -1 (.npy label maps); any other negative value is an error.
            negative = flat < 0
            if ignore_index is None or ignore_index >= 0 or np.any(flat[negative] != ignore_index):
                bad = np.unique(flat[negative])[:5].tolist()
                raise DataprepError(src, f"negative label value(s) {bad} (ignore index is {ignore_index})")
            ignored = int(negative.sum())
            flat = flat[~negative]
        if flat.size and int(flat.max()) > 65535:
            raise DataprepError(src, f"label value {int(flat.max())} is too large for a class index (max 65535)")
        counts = np.bincount(flat).astype(np.int64) if flat.size else np.zeros(0, np.int64)
    if ignore_index is not None and 0 <= ignore_index < counts.size:
        ignored += int(counts[ignore_index])
        counts[ignore_index] = 0
    counts = _trim(counts)
    if num_classes is not None and counts.size > num_classes:
        bad = (np.flatnonzero(counts[num_classes:]) + num_classes)[:5].tolist()
        ign = "no ignore index" if ignore_index is None else f"ignore index {ignore_index}"
        raise DataprepError(src, f"label value(s) {bad} outside the classes 0..{num_classes - 1} ({ign}); "
                            "check --num-classes, --ignore-index or the palette")
    present = counts > 0
    labelled = int(counts.sum())
    return LabelPartial(counts, present.astype(np.int64), np.where(present, labelled, 0).astype(np.int64), ignored, 1)


def _trim(counts: np.ndarray) -> np.ndarray:
    nz = np.flatnonzero(counts)
    return counts[: nz[-1] + 1] if nz.size else counts[:0]


def per_image_partial(row: ManifestRow, *, images: bool = True, labels: bool = True, num_classes: int | None = None,
                      ignore_index: int | None = DEFAULT_IGNORE_INDEX) -> Partial:
    """Read one manifest row and measure it. Top-level and picklable, for any executor."""
    part = Partial(num_images=1)
    if images:
        # Counting needs neither RGB order nor a contiguous copy (counting=True).
        sample = load_sample(row, mask="optional" if labels else "skip", purpose="stats", counting=True)
        part.image = image_partial(sample.image, str(row.image), bgr=sample.meta.extra.get("bgr", False))
        mask = sample.mask
    else:
        mask = load_row_mask(row, required=False, purpose="stats") if labels else None
    if mask is not None:
        part.labels = label_partial(mask, num_classes=num_classes, ignore_index=ignore_index, source=str(row.mask))
    return part


# --------------------------------------------------------------------------- merging


def merge_partials(partials: Iterable[Partial | None]) -> Partial:
    """Combine partials (None entries are skipped); the result is a Partial too, so merges nest.

    Every field is an integer count and merging adds them, so the result is
    exact and the same whatever the order or grouping of the merges (serial,
    process pool, a tree reduction on a cluster).
    """
    num_images = 0
    image_acc: _PixelAccumulator | None = None
    label_acc = _LabelAccumulator()
    for p in partials:
        if p is None:
            continue
        num_images += p.num_images
        if p.image is not None:
            if image_acc is None:
                image_acc = _PixelAccumulator(p.image)
            else:
                image_acc.add(p.image)
        if p.labels is not None:
            label_acc.add(p.labels)
    return Partial(
        num_images=num_images,
        image=image_acc.result() if image_acc is not None else None,
        labels=label_acc.result() if label_acc.num_images else None,
    )


class _PixelAccumulator:
    def __init__(self, first: PixelPartial) -> None:
        self.dtype = first.dtype
        self.source = first.source
        self.count = 0
        # Full width: partials carry only their occupied bins.
        self.hist = np.zeros((first.channels, _BINS[self.dtype]), np.int64)
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
            start = p.hist_offset - _BASE[self.dtype]
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
            return PixelPartial(self.dtype, self.count, self.hist, _BASE[self.dtype], self.source)
        return PixelPartial(self.dtype, self.count, self.hist, 0, self.source, tuple(self.sums), tuple(self.squares),
                            tuple(self.lo), tuple(self.hi))


class _LabelAccumulator:
    def __init__(self) -> None:
        self.pixels = np.zeros(0, np.int64)
        self.images = np.zeros(0, np.int64)
        self.present_pixels = np.zeros(0, np.int64)
        self.ignored = 0
        self.num_images = 0

    def add(self, p: LabelPartial) -> None:
        n = max(self.pixels.size, p.pixels.size)
        if n > self.pixels.size:
            self.pixels, self.images, self.present_pixels = (
                np.pad(a, (0, n - a.size)) for a in (self.pixels, self.images, self.present_pixels))
        k = p.pixels.size
        self.pixels[:k] += p.pixels
        self.images[:k] += p.images
        self.present_pixels[:k] += p.present_pixels
        self.ignored += p.ignored
        self.num_images += p.num_images

    def result(self) -> LabelPartial:
        return LabelPartial(self.pixels, self.images, self.present_pixels, self.ignored, self.num_images)


# --------------------------------------------------------------------------- final numbers


def image_summary(p: PixelPartial) -> dict[str, Any]:
    """The `image` block of stats.json from a merged PixelPartial: per-channel lists and one entry per band."""
    max_value = _MAX_VALUE[p.dtype]
    if p.sums is not None:
        moments = [exact_moments(p.count, s, q) for s, q in zip(p.sums, p.squares)]
        lows = list(p.lo) if p.count else [0.0] * p.channels
        highs = list(p.hi) if p.count else [0.0] * p.channels
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
        "mean": _floats(mean),
        "std": _floats(std),
        "mean_01": _floats(mean / max_value),
        "std_01": _floats(std / max_value),
        "min": lows,
        "max": highs,
        "p1": _floats(p_lo),
        "p99": _floats(p_hi),
    }
    keys = ("mean", "std", "min", "max", "p1", "p99")
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


def class_summary(p: LabelPartial, *, num_classes: int | None = None, ignore_index: int | None = DEFAULT_IGNORE_INDEX,
                  names: Sequence[str] | None = None) -> dict[str, Any]:
    """The `classes` block of stats.json from a merged LabelPartial."""
    k = int(num_classes) if num_classes is not None else int(p.pixels.size)
    pixels, images, present_pixels = (_fit(a, k) for a in (p.pixels, p.images, p.present_pixels))
    total = int(pixels.sum())
    freq = pixels / total if total else np.zeros(k)
    weights = class_weights(pixels, present_pixels)
    return {
        "ignore_index": ignore_index,
        "num_classes": k,
        "names": list(names)[:k] if names is not None else None,
        "num_images": int(p.num_images),
        "pixel_count": [int(v) for v in pixels],
        "frequency": _floats(freq),
        "image_count": [int(v) for v in images],
        "ignored_pixels": int(p.ignored),
        "weights": {key: _floats(w) for key, w in weights.items()},
    }


def class_weights(pixels: np.ndarray, present_pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse-frequency, median-frequency (SegNet) and ENet weights; absent classes get 0.

    - inverse_frequency: 1 / f_c with f_c = pixels_c / all labelled pixels,
      scaled so the mean over present classes is 1;
    - median_frequency: median(freq) / freq_c with freq_c = pixels_c / labelled
      pixels of the images that contain c (median over present classes);
    - enet: 1 / ln(1.02 + f_c).
    """
    pixels = np.asarray(pixels, np.float64)
    present = pixels > 0
    k = pixels.size
    inv, med, enet = np.zeros(k), np.zeros(k), np.zeros(k)
    total = pixels.sum()
    if present.any():
        f = pixels[present] / total
        raw = 1.0 / f
        inv[present] = raw / raw.mean()
        freq = pixels[present] / np.asarray(present_pixels, np.float64)[present]
        med[present] = np.median(freq) / freq
        enet[present] = 1.0 / np.log(ENET_C + f)
    return {"inverse_frequency": inv, "median_frequency": med, "enet": enet}


def _fit(a: np.ndarray, k: int) -> np.ndarray:
    return a[:k] if a.size >= k else np.pad(a, (0, k - a.size))


def _floats(a: Iterable[float]) -> list[float]:
    return [float(v) for v in a]


# --------------------------------------------------------------------------- classes from a palette


@dataclass(frozen=True)
class ClassInfo:
    """What the statistics need to know about classes: count, names and the ignore index."""

    num_classes: int | None
    names: list[str] | None
    ignore_index: int | None


def resolve_classes(manifest: Manifest, *, palette: Palette | PathLike | None = None, num_classes: int | None = None,
                    ignore_index: IgnoreIndex = AUTO) -> ClassInfo:
    """Combine explicit options with `palette` (file or built-in name) or the palette file beside the manifest.

    Explicit options win; without a palette num_classes stays None (the
    largest label + 1 is used later) and the ignore index defaults to 255.
    """
    found = resolve_palette(palette, manifest.path)
    if num_classes is not None and num_classes < 1:
        raise UsageError(None, f"num_classes must be at least 1, not {num_classes}")
    k = num_classes if num_classes is not None else (found.num_classes if found is not None else None)
    names = found.names if found is not None else None
    if names is not None and k is not None and len(names) != k:
        names = [names[i] if i < len(names) else f"class_{i}" for i in range(k)]
    if ignore_index == AUTO:
        ignore: int | None = found.ignore_index if found is not None else DEFAULT_IGNORE_INDEX
    elif ignore_index is None:
        ignore = None
    else:
        try:
            ignore = operator.index(ignore_index)
        except TypeError:
            raise UsageError(None, f"ignore_index must be an integer, None or 'auto', not {ignore_index!r}") from None
    return ClassInfo(k, names, ignore)


# --------------------------------------------------------------------------- the whole pass


@dataclass
class StatsResult:
    stats: dict[str, Any]  # the stats.json content
    errors: list[str]  # one line per skipped row
    warnings: list[str] = field(default_factory=list)  # valid results that are most likely not what was meant


def one_class_warning(pixel_count: Sequence[int], names: Sequence[str] | None = None) -> str | None:
    """A warning line when fewer than two classes have pixels: nothing to tell apart, and an mIoU of 100%."""
    present = [i for i, n in enumerate(pixel_count) if n]
    if len(present) >= 2:
        return None
    if present:
        i = present[0]
        what = f"only one class ({names[i] if names is not None and i < len(names) else f'class_{i}'}) has"
    else:
        what = "no class has"
    return (f"{what} pixels in the label maps: a model has nothing to tell apart and its mIoU means nothing; "
            "binary 0/255 masks converted with 255 as ignore? convert them with --remap 255:1 (or with the palette "
            "'dataprep palette infer' writes)")


def collect_partials(rows: Sequence[ManifestRow], fn: Callable[[ManifestRow], Partial], *,
                     executor: Executor | None = None, on_error: OnError = "skip", quiet: bool = False,
                     desc: str = "stats", merge: bool = False) -> tuple[list[Partial | None], list[str]]:
    """Run `fn` over `rows` on `executor`; partials in input order (None for failed rows) and the error lines.

    With `merge=True` the partials are folded block by block as they arrive, so
    memory stays flat on huge manifests; the list then holds the one merged
    Partial, bit-identical to merging them all at once.
    """
    out: list[Partial | None] = []
    errors: list[str] = []
    with tqdm(total=len(rows), desc=desc, unit="file", disable=bars_disabled(quiet), delay=1.0, leave=False, file=sys.stderr) as bar:
        for start in range(0, len(rows), _BLOCK):
            block = rows[start : start + _BLOCK]
            results = run_items(fn, block, executor=executor, on_error=on_error, quiet=True)
            errors.extend(r.error for r in results if r.error is not None)
            partials = [r.value for r in results]
            out = [merge_partials([*out, *partials])] if merge else [*out, *partials]
            bar.update(len(block))
    if merge and not out:
        out = [Partial()]
    return out, errors


def collect_stats(manifest: Manifest | PathLike, *, palette: PathLike | None = None, num_classes: int | None = None,
                  ignore_index: IgnoreIndex = AUTO, executor: Executor | None = None, on_error: OnError = "skip",
                  quiet: bool = False) -> StatsResult:
    """Measure every row of the manifest; return the stats.json dict and the rows skipped."""
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    if len(manifest) == 0:
        raise DataprepError(manifest.path, "manifest has no rows")
    info = resolve_classes(manifest, palette=palette, num_classes=num_classes, ignore_index=ignore_index)
    fn = functools.partial(per_image_partial, num_classes=info.num_classes, ignore_index=info.ignore_index)
    (merged,), errors = collect_partials(manifest.rows, fn, executor=executor, on_error=on_error, quiet=quiet,
                                         merge=True)
    if errors and len(errors) == len(manifest):
        raise all_failed(manifest.path, errors, "rows")
    if merged.image is None:
        raise DataprepError(manifest.path, f"no readable images ({len(errors)} failed)"
                            + (f"; first: {errors[0]}" if errors else ""))
    has_masks = any(r.mask is not None for r in manifest.rows)
    classes = None
    if has_masks:
        labels = merged.labels or LabelPartial(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        classes = class_summary(labels, num_classes=info.num_classes, ignore_index=info.ignore_index, names=info.names)
    stats = {
        "version": STATS_VERSION,
        "num_images": merged.num_images,
        "image": image_summary(merged.image),
        "classes": classes,
    }
    warning = one_class_warning(classes["pixel_count"], classes["names"]) if classes else None
    return StatsResult(stats, errors, [warning] if warning else [])


def compute_stats(manifest: Manifest | PathLike, *, palette: PathLike | None = None, num_classes: int | None = None,
                  ignore_index: IgnoreIndex = AUTO, executor: Executor | None = None, on_error: OnError = "skip",
                  quiet: bool = False) -> dict[str, Any]:
    """The stats.json content for a manifest (rows that fail are skipped unless on_error="fail").

    `ignore_index`: "auto" (the palette's, else 255), an integer, or None for no ignore index.
    `num_classes`: explicit, else from the palette, else the largest label + 1.
    """
    return collect_stats(manifest, palette=palette, num_classes=num_classes, ignore_index=ignore_index,
                         executor=executor, on_error=on_error, quiet=quiet).stats


def write_stats(stats: "dict[str, Any] | Stats", path: PathLike) -> Path:
    """Write stats.json atomically."""
    if isinstance(stats, Stats):
        stats = stats.to_json()
    path = Path(path)
    atomic_write_text(path, to_json(stats))
    return path


def to_json(data: Any, indent: int = 2, _level: int = 0) -> str:
    """JSON with objects indented and lists of plain values on one line (per-class lists stay readable)."""
    pad, inner = " " * (indent * _level), " " * (indent * (_level + 1))
    if isinstance(data, dict) and data:
        items = [f"{inner}{json.dumps(str(k))}: {to_json(v, indent, _level + 1)}" for k, v in data.items()]
        text = "{\n" + ",\n".join(items) + f"\n{pad}}}"
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        text = "[\n" + ",\n".join(f"{inner}{to_json(v, indent, _level + 1)}" for v in data) + f"\n{pad}]"
    else:
        text = json.dumps(data)
    return text + ("\n" if _level == 0 else "")


def load_stats(path: "PathLike | Stats | dict[str, Any]") -> Stats:
    """Read a stats.json (or check a parsed one) into the typed `Stats` every reader uses."""
    return Stats.from_json(path)


__all__ = [
    "AUTO",
    "ClassInfo",
    "LabelPartial",
    "Partial",
    "PixelPartial",
    "Stats",
    "StatsResult",
    "class_summary",
    "class_weights",
    "collect_stats",
    "compute_stats",
    "hist_percentile",
    "image_partial",
    "image_summary",
    "label_partial",
    "load_stats",
    "merge_partials",
    "per_image_partial",
    "resolve_classes",
    "to_json",
    "write_stats",
]

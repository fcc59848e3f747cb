"""The label side of `dataprep stats`: class pixel counts of one label map, their merge, frequencies and weights.

Also what the statistics (and `kfold`) know about the classes: `resolve_classes`
combines the command's options with the palette through the one resolver,
`contracts.resolve_dataset_info`.
"""
from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .contracts import refuse_unconverted_palette, resolve_dataset_info
from .errors import DataprepError, UsageError
from .histogram import channel_histograms
from .io import PathLike
from .manifest import Manifest
from .option_ranges import ignore_index_refusal
from .palette import Palette, resolve_palette
from .sample import DEFAULT_IGNORE_INDEX

# `ignore_index="auto"`: the palette's ignore index, else 255.
AUTO: Literal["auto"] = "auto"
IgnoreIndex = int | None | Literal["auto"]

ENET_C = 1.02  # ENet's class-weight constant: w = 1 / ln(c + p)


@dataclass
class LabelPartial:
    """Label side of a partial. Arrays are indexed by class and may be shorter than num_classes."""

    pixels: np.ndarray  # (L,) int64 pixels per class, ignore excluded
    images: np.ndarray  # (L,) int64 label maps containing the class
    present_pixels: np.ndarray  # (L,) int64 labelled pixels of the label maps containing the class
    ignored: int = 0
    num_images: int = 0


def label_partial(mask: np.ndarray, *, num_classes: int | None = None, ignore_index: int | None = DEFAULT_IGNORE_INDEX,
                  source: str = "") -> LabelPartial:
    """Class pixel counts of one (H, W) label map; `ignore_index` pixels are counted apart."""
    counts, ignored = class_counts(mask, num_classes=num_classes, ignore_index=ignore_index, source=source)
    present = counts > 0
    labelled = int(counts.sum())
    return LabelPartial(counts, present.astype(np.int64), np.where(present, labelled, 0).astype(np.int64), ignored, 1)


def class_counts(mask: np.ndarray, *, num_classes: int | None = None, ignore_index: int | None = DEFAULT_IGNORE_INDEX,
                 source: str = "") -> tuple[np.ndarray, int]:
    """(int64 pixels per class up to the highest class present, ignored pixels) of one (H, W) label map.

    Values outside the classes (and negative ones other than a negative ignore index) are refused, naming `source`.
    """
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
                raise DataprepError(src, f"negative label value(s) {bad} (ignore index is {ignore_index}): pass "
                                          f"--ignore-index {bad[0]} if it means ignore, or make it the ignore "
                                          f"index first (masks2labels --remap={bad[0]}:255)")
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
        fix = "check --num-classes, --ignore-index or the palette"
        if bad == [num_classes]:  # LoveDA's 0..7 under its 7 classes: never converted, every class one off
            fix += (f"; {num_classes} is one past the last class: a class the count or palette lacks, a void "
                    f"value (SegNet CamVid's 11: --ignore-index {num_classes}), or masks that store class + 1 with 0 "
                    "as no-data, never converted (LoveDA: `dataprep masks2labels --remap reduce-zero` first)?")
        raise DataprepError(src, f"label value(s) {bad} outside the classes 0..{num_classes - 1} ({ign}); {fix}")
    return counts, ignored


def _trim(counts: np.ndarray) -> np.ndarray:
    nz = counts.nonzero()[0]  # 1-D: flatnonzero's ravel and wrapping cost more than the search on 256 counts
    return counts[: nz[-1] + 1] if nz.size else counts[:0]


class LabelAccumulator:
    """Adds LabelPartials, padding the per-class arrays to the longest."""

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

    Through `contracts.resolve_dataset_info` (explicit > palette > default), so
    stats.json and kfold count classes as the Dataset and the trainer see them:
    without a palette num_classes stays None (the largest label + 1 is used
    later) and the ignore index defaults to 255. `ignore_index=None` means no
    ignore index at all (every value counts as a class), which only the
    statistics allow. The palette's names are kept, padded with `class_i` (or
    cut) when an explicit count differs.
    """
    found = resolve_palette(palette, manifest.path)
    if found is not None:
        refuse_unconverted_palette(found, manifest.path)
    if ignore_index is None or ignore_index == AUTO:
        explicit = None
    else:
        try:
            explicit = operator.index(ignore_index)  # type: ignore[arg-type]
        except TypeError:
            raise UsageError(None, f"ignore_index must be an integer, None or 'auto', not {ignore_index!r}") from None
        if refusal := ignore_index_refusal(explicit):  # up front, not once per file
            raise UsageError(None, f"ignore_index {refusal}")
    info = resolve_dataset_info(ignore_index=explicit, num_classes=num_classes, palette=found)
    k = info.num_classes
    names = list(found.names) if found is not None else None
    if names is not None and k is not None and len(names) != k:
        names = [names[i] if i < len(names) else f"class_{i}" for i in range(k)]
    return ClassInfo(k, names, None if ignore_index is None else info.ignore_index)


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
            "'dataprep palette infer' writes); an import whose regions are all crowd (CVAT's COCO masks)? rerun "
            "dataprep import with --keep-crowd")


def ignore_is_a_class_warning(num_classes: int | None, ignore_index: int | None) -> str | None:
    """A warning when the ignore index is one of the classes 0..K-1 (`--ignore-index 11 --num-classes 12` on
    CamVid): its pixels are left out of the counts and the loss, so that class is never learned, while a model
    of K classes still predicts it."""
    if num_classes is None or ignore_index is None or not 0 <= ignore_index < num_classes:
        return None
    fix = f"--num-classes {num_classes - 1}" if ignore_index == num_classes - 1 else "renumber the classes"
    return (f"the ignore index {ignore_index} is one of the {num_classes} classes (0..{num_classes - 1}): its pixels "
            f"are left out, so class {ignore_index} is never learned; if {ignore_index} is void, {fix}")


def ignore_inside_classes_warning(pixel_count: Sequence[int], ignored: int, ignore_index: int | None) -> str | None:
    """Label values past the default ignore index 255 (16-bit maps of 299 classes): 255 is a class there, and
    its pixels were left out of the counts and weights without a word."""
    if ignore_index is None or not ignored or len(pixel_count) <= ignore_index + 1:
        return None
    if not (pixel_count[ignore_index - 1] and pixel_count[ignore_index + 1]):
        return None  # classes below it and a few void values above (255 and 65535): 255 is void as well
    return (f"label values run past the ignore index {ignore_index} (up to {len(pixel_count) - 1}), so "
            f"{ignore_index} is most likely a class, but its {ignored:,} pixels were left out as ignore: give "
            "--ignore-index none (or 65535), or the palette masks2labels wrote beside the label maps")


def unconverted_warning(pixel_count: Sequence[int]) -> str | None:
    """A warning line when label maps without a palette look like masks never converted to class indices.

    Oxford-IIIT Pet's raw trimaps (1, 2, 3) gave a class 0 of no pixel and their border band as a class with
    the largest weight; grey JPEG masks gave 255 classes, 244 empty, noise values weighted 60x.
    """
    k = len(pixel_count)
    total = sum(pixel_count)
    if k < 2 or not total:
        return None
    present = [i for i, n in enumerate(pixel_count) if n]
    rare = [i for i, n in enumerate(pixel_count) if n < 1e-4 * total]
    if k > 64 and len(rare) > k / 2:  # over 64 values: no label set this wide leaves half its classes empty
        return (f"{len(rare)} of {k} classes hold no pixel or under 0.01% of the pixels: masks that are not label "
                "maps (JPEG noise, grey levels, 0/255 values)? convert them first: `dataprep palette infer` on the "
                "masks, then `dataprep masks2labels --palette THAT_FILE`")
    if pixel_count[0] == 0 and len(present) > 1:
        return (f"no label map holds class 0 (values start at {present[0]}): masks not converted to class indices? "
                "(Oxford-IIIT Pet's trimaps store 1, 2, 3: `dataprep masks2labels -p oxford_pet --remap ids`)")
    return None


def ignore_as_class_warning(values: Sequence[int], ignore_index: int | None, where: str) -> str | None:
    """A warning when a label map without a palette holds the ignore index and a single class besides: raw
    binary masks (ISBI's 0/255 membranes, Kvasir's polyps) whose foreground is stored as 255, so that a loss
    with that ignore index learns the background alone, at a loss that looks fine."""
    if ignore_index is None or ignore_index not in values or len(values) != 2:
        return None
    other = min(values) if max(values) == ignore_index else max(values)
    return (f"{where} holds the values {other} and {ignore_index} alone, and {ignore_index} is the ignore index: "
            f"binary masks whose foreground is stored as {ignore_index}? a loss ignoring it learns class {other} "
            "alone; convert them with `dataprep masks2labels -p binary MANIFEST DEST` (foreground 1)")


def segnet_void_warning(pixel_count: Sequence[int], image_count: Sequence[int], num_images: int) -> str | None:
    """Values 0..11 with 11 in every label map and no palette: SegNet's CamVid, whose 11 is void, counted as a
    twelfth class with a weight of its own (as its pixels went into every image's loss)."""
    if len(pixel_count) != 12 or not num_images or image_count[11] < num_images or not all(pixel_count):
        return None
    return ("values 0..11, with 11 in every label map and no palette: SegNet's CamVid, whose 11 is void? it is "
            "counted as a class here; pass --ignore-index 11 --num-classes 11, or convert the masks with "
            "`dataprep masks2labels --palette camvid11 --remap ids`")


__all__ = ["AUTO", "ClassInfo", "IgnoreIndex", "LabelAccumulator", "LabelPartial", "class_summary", "class_weights",
           "ignore_inside_classes_warning", "label_partial", "one_class_warning", "resolve_classes",
           "segnet_void_warning", "unconverted_warning"]

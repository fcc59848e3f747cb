"""`palette infer`: count the distinct colours (or values) of masks and propose a palette to edit."""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataprepError, UsageError
from ..io import PathLike
from ..sample import DEFAULT_IGNORE_INDEX
from .artefacts import _infer_colours
from .ade20k import FULL_RELEASE_SEG_SUFFIX, full_release_codes
from .builtins import ADE20K_PREFIXES, BUILTIN_PALETTES, CAMVID_SEQUENCES, OXFORD_PET_TRIMAP_VALUES, builtin_palette
from .inferred import InferredColour, InferredPalette
from .keys import pack_rgb
from .lossy_values import BINARY_FOREGROUND, _infer_lossy_values, _looks_lossy
from .model import MAX_INDEX, Colour, Palette, PaletteClass, _colour, voc_colormap

LOSSY_SUFFIXES = (".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class _Counted:
    """What one mask holds, for `infer_palette`."""

    kind: str  # "colour" or "index"
    keys: np.ndarray  # sorted distinct colour keys or stored values (int64)
    pixels: np.ndarray  # pixels per key
    solid: np.ndarray  # per key, pixels whose 3x3 neighbourhood is all that key
    transparent: int = 0
    table: np.ndarray | None = None  # (256, 3) colour table of a palette-mode mask
    ignore_pixels: int = 0  # index masks: pixels holding the ignore value ...
    ignore_interior: int = 0  # ... and those of them inside regions wider than a boundary band
    as_index: "_Counted | None" = None  # an opaque colour mask of grey pixels only: the index mask it may be
    lossy: bool = False  # an 8-bit index mask read from a JPEG/WebP file: its values carry compression noise


def _count_distinct(path: Path, ignore_index: int = DEFAULT_IGNORE_INDEX,
                    extras: Mapping[Path, Sequence[str]] | None = None) -> _Counted:
    from ..extra_masks import read_mask_with_extras
    from ..regions import solid_counts

    mask = read_mask_with_extras(path, (extras or {}).get(path, ()))  # a row's extra masks: one label map
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim == 3:
        if mask.dtype != np.uint8 or mask.shape[2] not in (3, 4):
            raise DataprepError(path, f"colour mask must be 8-bit RGB(A), got {mask.dtype} {mask.shape}")
        keys, transparent = pack_rgb(mask)
        hidden = 0
        if transparent is not None:
            hidden = int(transparent.sum())
            keys = keys.copy()
            keys[transparent] = 1 << 24  # no colour has this key: never counted
        uniq, counts = np.unique(keys.ravel(), return_counts=True)
        if hidden:
            uniq, counts = uniq[:-1], counts[:-1]
        grey = not hidden and bool(np.all(uniq % 0x010101 == 0))  # every key v * 0x010101: (v, v, v)
        return _Counted("colour", uniq.astype(np.int64), counts.astype(np.int64), solid_counts(keys, uniq), hidden,
                        as_index=_count_values(mask[:, :, 0], path, ignore_index) if grey else None)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise DataprepError(path, f"not a mask: {mask.dtype} array of shape {mask.shape}")
    return _count_values(mask, path, ignore_index)


def _count_values(mask: np.ndarray, path: Path, ignore_index: int) -> _Counted:
    from ..io import read_png_palette
    from ..regions import interior_pixels, solid_counts

    uniq, counts = np.unique(mask.ravel(), return_counts=True)
    table = None
    if mask.dtype == np.uint8 and path.suffix.lower() != ".npy":
        raw = read_png_palette(path)
        if raw is not None and len(raw):
            table = np.zeros((256, 3), np.uint8)
            table[: min(256, len(raw))] = raw[:256]
            if np.array_equal(table[uniq], np.repeat(uniq[:, None], 3, axis=1)):
                table = None  # a grey ramp carries no colours: the indices are the data
    where = mask == ignore_index
    lossy = mask.dtype == np.uint8 and path.suffix.lower() in LOSSY_SUFFIXES
    return _Counted("index", uniq.astype(np.int64), counts.astype(np.int64), solid_counts(mask, uniq), 0, table,
                    int(where.sum()), interior_pixels(where), lossy=lossy)


def _as_colours(c: _Counted) -> _Counted:
    """A palette-mode mask's counts by colour (table[index]), merging indices that share a colour."""
    assert c.table is not None
    t = c.table[c.keys].astype(np.int64)
    keys = t[:, 0] | (t[:, 1] << 8) | (t[:, 2] << 16)
    uniq, inverse = np.unique(keys, return_inverse=True)
    return _Counted("colour", uniq, np.bincount(inverse, weights=c.pixels, minlength=len(uniq)).astype(np.int64),
                    np.bincount(inverse, weights=c.solid, minlength=len(uniq)).astype(np.int64))


def _tables_agree(counted: list[_Counted]) -> bool:
    """Whether every palette-mode mask's table gives the same colour to every index any of them holds.

    Comparing each file only on its own indices would pass tables shuffled per file whose
    files happen to hold different indices; converting by colour is right either way.
    """
    tables = [c for c in counted if c.table is not None]
    if not tables:
        return True
    used = np.unique(np.concatenate([c.keys for c in tables]))
    used = used[used < 256]
    reference = tables[0].table[used]
    return all(np.array_equal(c.table[used], reference) for c in tables[1:])


def infer_palette(sources: Iterable[PathLike] | PathLike, *, ignore_index: int = DEFAULT_IGNORE_INDEX,
                  name: str = "inferred", reduce_zero: bool = False, executor: Any = None, on_error: str = "skip",
                  quiet: bool = False) -> InferredPalette:
    """Count the distinct colours (or values) of masks and propose a palette to edit.

    `sources`: mask files, folders (walked for masks) or manifest CSVs (their mask column).
    Colour masks: one class per colour, most pixels first, indices 0, 1, ...;
    rare colours on thin bands near a frequent one (or on the line between two) are
    flagged as artefacts and grouped into that class; on lossless masks a colour
    that fills regions is always a class. Palette-mode PNGs count as colour masks
    (table[index]) when their tables differ from file to file or sit beside RGB
    masks. Index masks: one class per value, value == index, `ignore_index` marked
    ignore; sparse values (0/64/128/...) get compact indices with the value as `id`.
    `reduce_zero=True` (index masks storing class k as k + 1 and 0 as "not
    labelled", ADE20K): classes 0..max-1, value 0 counted as ignore, for
    `masks2labels --remap reduce-zero`.
    Unreadable masks are listed in `errors` and left out (on_error="fail": the first one raises).
    """
    from functools import partial

    from ..executor import run_items
    from ..maskfiles import collect_masks

    paths, extras = collect_masks(sources)
    if not paths:
        raise DataprepError(None, "no masks found to infer a palette from")
    results = run_items(partial(_count_distinct, ignore_index=ignore_index, extras=extras), paths, executor=executor,
                        on_error=on_error, desc="palette infer", quiet=quiet)
    ok: list[_Counted] = [r.value for r in results if r.ok]
    errors = [r.error for r in results if not r.ok]
    if not ok:
        raise DataprepError(None, f"no mask could be read ({errors[0]})")
    with_table = sum(1 for c in ok if c.table is not None)
    by_colour = 0
    if with_table and (any(c.kind == "colour" for c in ok) or not _tables_agree(ok)):
        ok = [_as_colours(c) if c.table is not None else c for c in ok]
        by_colour = with_table
    kinds = {c.kind for c in ok}
    read = [path for path, r in zip(paths, results) if r.ok]
    grey_rgb = 0
    if "colour" in kinds and all(c.as_index is not None for c in ok if c.kind == "colour") and (
            len(kinds) > 1 or _grey_index_masks([c.as_index for c in ok if c.as_index is not None])):
        # Black-and-white masks some saved as RGB (BUSI's normal cases, one of PH2's BMPs) among grey ones, or
        # index masks all saved as (v, v, v): counted by colour, CamVid's 0..11 got indices by pixel share
        # (void 11 a class, road 3 -> 0); masks2labels converts such masks by their values too.
        grey_rgb = sum(1 for c in ok if c.kind == "colour")
        ok = [c.as_index if c.as_index is not None else c for c in ok]
        kinds = {"index"}
    if len(kinds) > 1:
        colour = [p for p, c in zip(read, ok) if c.kind == "colour"]
        index = [p for p, c in zip(read, ok) if c.kind != "colour"]
        raise DataprepError(None, f"the masks mix colour ({len(colour)}, e.g. {colour[0]}) and index "
                                  f"({len(index)}, e.g. {index[0]}) masks; infer each kind separately")
    kind = kinds.pop()
    keys = np.concatenate([c.keys for c in ok])
    counts = np.concatenate([c.pixels for c in ok])
    solid_in = np.concatenate([c.solid for c in ok])
    uniq, inverse = np.unique(keys, return_inverse=True)
    pixels = np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64)
    images = np.bincount(inverse, minlength=len(uniq)).astype(np.int64)
    solid = np.bincount(inverse, weights=solid_in, minlength=len(uniq)).astype(np.int64)
    order = np.lexsort((uniq, -pixels))  # most pixels first, ties by key: deterministic
    uniq, pixels, images, solid = uniq[order], pixels[order], images[order], solid[order]
    transparent = sum(c.transparent for c in ok)
    if kind == "colour" and reduce_zero:
        raise UsageError(None, "--reduce-zero is for index masks (class k stored as k + 1); these are colour masks")
    if kind == "colour":
        jpeg = any(os.path.splitext(str(p))[1].lower() in LOSSY_SUFFIXES for p in paths)
        result = _infer_colours(uniq, pixels, images, ignore_index, name, jpeg, solid)
    else:
        table = next((c.table for c in ok if c.table is not None), None)
        if table is not None:  # tables agree: every index has one colour; fill indices only some files hold
            table = table.copy()
            for c in ok:
                if c.table is not None:
                    table[c.keys] = c.table[c.keys]
        spread = (sum(c.ignore_pixels for c in ok), sum(c.ignore_interior for c in ok))
        if reduce_zero:
            result = _infer_reduced_zero(uniq, pixels, images, ignore_index, name, table)
        elif any(c.lossy for c in ok) or _looks_lossy(uniq, pixels, solid):
            result = _infer_lossy_values(uniq, pixels, images, ignore_index, name, solid)
        else:
            result = _infer_values(uniq, pixels, images, ignore_index, name, table, spread)
    result.files, result.pixels, result.transparent_pixels, result.errors = len(ok), int(pixels.sum()), transparent, errors
    result.by_colour_files = by_colour
    result.grey_rgb_files = grey_rgb
    if kind == "colour":
        result.ade20k_full_classes = _ade20k_full_classes(uniq, read)
    if kind == "index":
        result.binary_encodings = _binary_encodings(read, ok)
        result.dataset_builtin = _dataset_builtin(result, read)
        # The palette says how its masks' values convert, so masks2labels without --remap gets it right (ISBI's
        # 255 became ignore: 78% of the pixels, and no membrane left).
        if result.reduced_zero:
            result.palette = replace(result.palette, remap="reduce-zero")
        elif result.binary or result.sparse or result.lossy:
            result.palette = replace(result.palette, remap="ids")
    return result


def _grey_index_masks(counted: list[_Counted]) -> bool:
    """Whether grey RGB masks hold index values: levels besides black and white, each filling regions somewhere.

    Black-and-white masks stay colour masks (their classes by colour), and so do those with
    antialiased edges, whose grey levels lie on thin bands only (grouped as artefacts there).
    """
    levels = np.concatenate([c.keys for c in counted])
    solid = np.concatenate([c.solid for c in counted])
    uniq, inverse = np.unique(levels, return_inverse=True)
    if set(uniq.tolist()) <= {0, 255}:
        return False
    return bool(np.all(np.bincount(inverse, weights=solid, minlength=len(uniq)) > 0))


def _ade20k_full_classes(keys: np.ndarray, paths: list[Path]) -> int | None:
    """How many classes ADE20K full-release `_seg.png` masks hold (their colours are class codes and instances:
    a street of 4 classes was 20 colours), or None for other masks."""
    if not paths or not all(p.name.endswith(FULL_RELEASE_SEG_SUFFIX) for p in paths):
        return None
    rgb = np.stack([keys & 255, (keys >> 8) & 255], axis=1).astype(np.uint8)
    codes = full_release_codes(rgb)
    return None if codes is None else len(set(codes.tolist()) - {0})


def _dataset_builtin(result: InferredPalette, paths: list[Path]) -> str | None:
    """The built-in for these index masks' dataset, told by their file names or values."""
    if paths and all(p.name.startswith(ADE20K_PREFIXES) for p in paths):
        return "ade20k"
    if sorted(c.value for c in result.classes) == list(OXFORD_PET_TRIMAP_VALUES):
        return "oxford_pet"
    values = [c.value for c in result.colours if c.value is not None]
    if paths and values and max(values) <= 11 and all(p.name.startswith(CAMVID_SEQUENCES) for p in paths):
        return "camvid11"  # SegNet's CamVid: 0..10 and 11 (void), as `-p camvid` would not say
    return None


def _binary_encodings(paths: list[Path], counted: list[_Counted]) -> tuple[int, int, str] | None:
    """(masks of 0/1, masks of 0/255, one of the latter) when binary masks store their foreground both ways."""
    ones = [p for p, c in zip(paths, counted) if 1 in c.keys and set(c.keys.tolist()) <= {0, 1}]
    full = [p for p, c in zip(paths, counted) if BINARY_FOREGROUND in c.keys
            and set(c.keys.tolist()) <= {0, BINARY_FOREGROUND}]
    if not ones or not full or any(1 in c.keys and BINARY_FOREGROUND in c.keys for c in counted):
        return None
    return len(ones), len(full), str(full[0])


# A stored value equal to the ignore index is a class of sparse index masks (0/64/128/192/255
# cloud masks) when it fills regions and covers at least this share of the pixels.
IGNORE_MINOR_SHARE = 0.02


def _infer_values(values: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                  name: str, table: np.ndarray | None = None,
                  ignore_spread: tuple[int, int] = (0, 0)) -> InferredPalette:
    if values.min() < 0 or values.max() > MAX_INDEX:
        raise DataprepError(None, f"index masks hold values {values.min()}..{values.max()}; "
                                  f"a palette needs 0..{MAX_INDEX} (use --remap when converting)")
    if set(values.tolist()) == {0, BINARY_FOREGROUND} and ignore_index != 1:
        return _infer_binary(values, pixels, images, ignore_index, name)
    stored = sorted(int(v) for v in values)
    # Classes run past the ignore value (16-bit label maps of 299 classes: 254, 255 and 256 all there): it is one
    # of them, and the ignore index moves past every class (65535, itself the no-data of such maps). Made ignore,
    # its class_255 gap clashed with it and masks2labels refused the palette.
    runs_past = {ignore_index - 1, ignore_index, ignore_index + 1} <= set(stored) and ignore_index < MAX_INDEX
    if runs_past:
        ignore_index = MAX_INDEX
    kept = [v for v in stored if v != ignore_index]
    builtin = _builtin_of_table(table, kept) if table is not None else None
    # A subset of VOC's indices (a table drawn with its colormap) is dense, however few classes it holds.
    # Values 1..K without 0 (Oxford-IIIT Pet trimaps) are 1-based labels: compacted too, or index 0 would be a
    # class no pixel has.
    one_based = bool(kept) and 0 not in kept and kept == list(range(1, max(kept) + 1))
    sparse = builtin is None and bool(kept) and (max(kept) + 1 > 2 * len(kept) or one_based)
    ignore_is_class = runs_past and not sparse  # said as such; sparse values say their own
    if sparse and ignore_index in stored and not runs_past:
        # Void boundaries are thin and minor; a class fills regions (a cloud mask's 255 = cloud).
        n_ignore, interior = ignore_spread
        share = n_ignore / max(int(pixels.sum()), 1)
        ignore_is_class = interior >= 0.5 * n_ignore and share >= IGNORE_MINOR_SHARE
        if ignore_is_class:
            kept.append(ignore_index)
    if sparse:
        index_of = {v: i for i, v in enumerate(kept)}
    else:
        index_of = {v: v for v in kept}
    index_of.update({v: ignore_index for v in stored if v not in index_of})  # the ignore value
    cmap = voc_colormap(max(index_of.values()) + 1)

    def colour_of(v: int) -> Colour:
        return _colour(table[v]) if table is not None and v < 256 else _colour(cmap[index_of[v]])

    if table is not None and len({colour_of(v) for v in stored}) < len(stored):
        table = None  # two values share a table colour: a palette needs one colour per class
    colours = [InferredColour(colour_of(int(v)), int(v), int(n), int(m), index_of[int(v)])
               for v, n, m in zip(values, pixels, images)]
    known = builtin_palette(builtin).names if builtin else []
    classes = []
    for c in sorted(colours, key=lambda c: c.index):
        ignored = c.index == ignore_index
        label = "ignore" if ignored else (known[c.index] if c.index < len(known) else f"class_{c.value}")
        classes.append(PaletteClass(label, c.color, c.index, ignored, c.value if sparse and not ignored else None))
    return InferredPalette(Palette(name, tuple(classes), ignore_index), colours, "index", 0, 0, sparse=sparse,
                           ignore_is_class=ignore_is_class, suggestion=builtin)


def _infer_reduced_zero(values: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                        name: str, table: np.ndarray | None) -> InferredPalette:
    """Index masks under MMSegmentation's reduce_zero_label: stored k + 1 is class k, stored 0 is not labelled.

    Every class up to the largest stored value gets an entry (absent ones too), so
    that a value this sample lacks still converts where it appears later.
    """
    stored = [int(v) for v in values]
    if max(stored) > MAX_INDEX + 1:
        raise DataprepError(None, f"index masks hold values up to {max(stored)}; a palette needs 0..{MAX_INDEX}")
    top = max((v for v in stored if v not in (0, ignore_index)), default=0)
    if top == 0:
        raise DataprepError(None, "--reduce-zero: the masks hold no value above 0 (no class at all)")
    cmap = voc_colormap(top)
    colour_of = {k: _colour(table[k + 1]) if table is not None and k + 1 < 256 else _colour(cmap[k]) for k in range(top)}
    if len(set(colour_of.values())) < top:
        colour_of = {k: _colour(cmap[k]) for k in range(top)}
    classes = tuple(PaletteClass(f"class_{k}", colour_of[k], k) for k in range(top))
    colours = [InferredColour(colour_of[v - 1] if 0 < v <= top else (0, 0, 0), v, int(n), int(m),
                              v - 1 if 0 < v <= top else ignore_index)
               for v, n, m in zip(stored, pixels, images)]
    return InferredPalette(Palette(name, classes, ignore_index), colours, "index", 0, 0, reduced_zero=True)


def _builtin_of_table(table: np.ndarray, values: list[int]) -> str | None:
    """The built-in palette whose index colours a palette-mode table uses for every value, if any."""
    for name in BUILTIN_PALETTES:
        colours = builtin_palette(name).index_colours()
        if values and all(v in colours and colours[v] == _colour(table[v]) for v in values if v < 256):
            return name
    return None


def _infer_binary(values: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                  name: str) -> InferredPalette:
    """Masks of only 0 and 255: background and foreground, stored values kept as the classes' ids.

    255 is the foreground of binary masks (ISBI membranes, most medical and
    matting masks), not VOC's ignore: a dataset whose only other value were
    ignore would have a single class to learn. The ids make `--remap ids`
    turn 255 into index 1.
    """
    kept = {0: ("background", (0, 0, 0), 0), BINARY_FOREGROUND: ("foreground", (255, 255, 255), 1)}
    colours = [InferredColour(kept[int(v)][1], int(v), int(n), int(m), kept[int(v)][2])
               for v, n, m in zip(values, pixels, images)]
    classes = tuple(PaletteClass(label, colour, index, id=value) for value, (label, colour, index) in kept.items())
    return InferredPalette(Palette(name, classes, ignore_index), colours, "index", 0, 0, binary=True)

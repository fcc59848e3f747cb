"""Pure conversion of one mask (array in, array out): colours or stored values -> class indices, and back.

Every input mode ends up as one table gather per pixel, never a loop over classes:
- colour masks (RGB, RGBA): pixels are packed to 24-bit keys and looked up in a
  2^24-entry table (16 MB for uint8 labels) that a `ConversionContext` holds for
  the run; RGBA pixels with alpha 0 become the ignore index;
- index masks (grayscale, palette-mode PNGs, 16-bit, .npy): the stored values are
  kept, or remapped (`remap`), through a 256/65536-entry table;
- palette-mode PNGs whose own colour table disagrees with the palette (tools that
  order their table per file) are converted by colour: table[index] -> colour ->
  class. Their indices are used only where the table agrees with the palette for
  every index present (or under `remap` / `png_indices`, where the user says so).

Values the palette does not know (colours not in it, indices that are no class)
are handled by `unknown`: "error" fails the file naming the colours and counts,
"ignore" writes the ignore index, "nearest" writes the class of the nearest
palette colour (for index masks, where "nearest" has no meaning, the ignore index).

Unknown pixels are found without an extra pass: the table maps unknown keys to a
sentinel value that no class uses, and the per-file class histogram (needed for
the summary anyway) shows whether the sentinel occurred.
"""
from __future__ import annotations

import dataclasses
import sys

import cv2
import numpy as np

from ..errors import DataprepError
from ..histogram import channel_histograms, lookup_rgb_and_count
from ..io import PathLike, read_mask_palette
from ..palette import Colour, Palette, PaletteClass, load_palette, pack_rgb, unpack_key
from .context import SCRATCH_MAX_PIXELS, ConversionContext, Remap
from .converted import Converted, _histogram, _narrow, _padded, _value_counts
from .lossy import snap_lossy_values
from .options import Unknown, UnknownKey, UnknownValuesError, _check_remap, _check_unknown, _unknown_error

# The labels API's name for io's reader: the colour table `mask_to_labels(table=...)` takes.
read_mask_table = read_mask_palette


def colours_to_labels(rgb: np.ndarray, palette: Palette | PathLike, *, unknown: Unknown = "error",
                      ignore_index: int | None = None,
                      context: ConversionContext | None = None) -> tuple[np.ndarray, dict[Colour, int]]:
    """(H, W, 3|4) uint8 colour mask -> ((H, W) label map, {unknown colour: pixels}).

    RGBA pixels with alpha 0 get the ignore index. Raises UnknownValuesError under
    `unknown="error"` when a colour is not in the palette. Converting many masks,
    pass one `context` to all calls: it keeps the 16 MB colour table between them.
    """
    palette = _palette(palette, ignore_index)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3|4) colour mask, got shape {rgb.shape}")
    result = _convert_colours(rgb, palette, unknown, context or ConversionContext())
    return result.labels, result.unknown  # type: ignore[return-value]


def values_to_labels(values: np.ndarray, palette: Palette | PathLike, *, remap: Remap | None = None,
                     unknown: Unknown = "error", ignore_index: int | None = None,
                     context: ConversionContext | None = None) -> tuple[np.ndarray, dict[int, int]]:
    """(H, W) index mask -> ((H, W) label map, {unknown value: pixels}); values kept unless `remap` says otherwise."""
    palette = _palette(palette, ignore_index)
    result = _convert_values(values, palette, _check_remap(remap, palette), unknown, context or ConversionContext())
    return result.labels, result.unknown  # type: ignore[return-value]


def mask_to_labels(mask: np.ndarray, palette: Palette | PathLike, *, remap: Remap | None = None,
                   unknown: Unknown = "error", ignore_index: int | None = None,
                   table: np.ndarray | None = None, context: ConversionContext | None = None,
                   lossy: bool = False) -> Converted:
    """Any mask as `io.read_mask` returns it -> label map, per-value counts and unknowns.

    `table`: the (N, 3) colour table of a palette-mode mask (`io.read_png_palette`).
    When it disagrees with the palette for an index present, the mask is converted
    by colour (`Converted.by_colour`); without it, or under `remap`, its indices are used.
    `context`: tables and buffers to reuse across calls (see `ConversionContext`).
    `lossy`: the mask was stored lossily (JPEG): under `unknown="nearest"` an index mask's values snap to the
    nearest value with a meaning (`lossy.snap_lossy_values`).
    """
    palette = _palette(palette, ignore_index)
    context = context or ConversionContext()
    if mask.ndim == 3 and mask.shape[2] in (3, 4):
        if mask.dtype != np.uint8:
            raise DataprepError(None, f"colour mask must be 8-bit, got {mask.dtype}")
        return _convert_colours_or_grey(mask, palette, remap, unknown, context)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2:
        raise DataprepError(None, f"mask must be (H, W) indices or (H, W, 3|4) colours, got shape {mask.shape}")
    if table is not None and not remap:
        rgb = palette_mode_colours(mask, table, palette)
        if rgb is not None:
            try:
                result = _convert_colours(rgb, palette, unknown, context)
            except UnknownValuesError as exc:
                raise UnknownValuesError(None, exc.reason + _BY_COLOUR_HINT, exc.counts) from None
            result.by_colour = True
            return result
    if lossy and unknown == "nearest" and mask.dtype == np.uint8:
        return snap_lossy_values(mask, palette, _check_remap(remap, palette))
    if not remap:
        counts = _value_counts(mask)  # counted once: for the ids check and the conversion
        ids, held = _ids_when_foreground_is_stored_at_ignore(mask, palette, counts)
        if ids is not None:
            result = _convert_values(mask, palette, ids, unknown, context, counts)
            result.by_ids = True
            return result
        result = _convert_values(mask, palette, None, unknown, context, counts)
        result.kept_ignore = held
        return result
    return _convert_values(mask, palette, _check_remap(remap, palette), unknown, context)


def _ids_when_foreground_is_stored_at_ignore(values: np.ndarray, palette: Palette,
                                             counts: np.ndarray | None) -> tuple[dict[int, int] | None, bool]:
    """The palette's ids, when an index mask stores a class at the ignore value and holds nothing but ids; and
    whether a mask holding that value besides other ones keeps it as ignore (said when a set does both).

    The binary palette gives the foreground the id 255, the ignore index too: 0/255 masks
    (ISBI's membranes, DRIVE's vessels, most medical sets) lost every foreground pixel to
    ignore under `-p binary`, exit 0. A mask of ids alone (0 and 255) means its 255 is that
    class; one holding 1 as well (0/1/255: 255 a boundary) keeps 255 as ignore. Values that are neither
    (stray 128s of a 0/255 mask) say nothing of it: they are left to --unknown (`nearest` had turned a 0/255
    mask with 8 such pixels into background and ignore alone).
    """
    ids = palette.ids()
    ignore = palette.ignore_index
    if ids.get(ignore, ignore) == ignore or counts is None:
        return None, False  # no class stored at the ignore value
    present = np.flatnonzero(counts)
    if ignore not in present:
        return None, False
    valid = palette.valid_values
    if any(v not in ids and v in valid for v in present.tolist()):  # a class index that is no id: 0/1/255
        return None, True
    return ids, False


_BY_COLOUR_HINT = ("; a palette-mode mask (PNG, GIF) whose colour table differs from the palette is converted by "
                   "colour: if its indices are the classes, pass --png-indices")


def palette_mode_colours(values: np.ndarray, table: np.ndarray, palette: Palette) -> np.ndarray | None:
    """(H, W, 3) colours of a palette-mode mask when its table disagrees with `palette`, else None.

    The indices may stand for classes only when, for every index present, the
    table's colour is a colour the palette gives that index. Tolerated: a grey
    ramp (index v drawn (v, v, v): a table that carries no colours), and an
    unknown colour on the ignore index (VOC's boundary band in a palette with
    another void colour).
    """
    if values.dtype != np.uint8 or table is None or not len(table):
        return None
    full = np.zeros((256, 3), np.uint8)
    full[: min(256, len(table))] = np.asarray(table, np.uint8).reshape(-1, 3)[:256]
    present = np.flatnonzero(channel_histograms(values)[0])
    colours = full[present]
    if np.array_equal(colours, np.repeat(present[:, None], 3, axis=1)):
        return None
    lookup = palette.colour_to_index()
    for v, colour in zip(present.tolist(), map(tuple, colours.tolist())):
        index = lookup.get(colour)  # type: ignore[arg-type]
        if index != v and not (index is None and v == palette.ignore_index):
            return np.take(full, values, axis=0)
    return None


def _palette(palette: Palette | PathLike, ignore_index: int | None) -> Palette:
    palette = load_palette(palette)
    return palette if ignore_index is None else palette.with_ignore_index(ignore_index)


def _convert_colours(rgb: np.ndarray, palette: Palette, unknown: Unknown, context: ConversionContext) -> Converted:
    _check_unknown(unknown)
    table = context.colour_table(palette)
    size = palette.max_value + 1
    fast = lookup_rgb_and_count(rgb, table.lut)
    if fast is not None and not fast[1][table.sentinel]:  # every colour known: done in one pass
        labels, hist = fast
        return Converted(_narrow(labels, palette), _padded(hist, size), {})
    keys, transparent = _packed_keys(rgb, context)  # the unknown colours are named from their keys
    if fast is not None:  # the kernel's labels and counts stand; only the keys were missing
        labels, hist = fast
    else:
        labels = np.take(table.lut, keys)
        hist = _histogram(labels, max(size, table.sentinel + 1))
    found: dict[UnknownKey, int] = {}
    if hist[table.sentinel]:
        where = labels == table.sentinel
        if transparent is not None:
            where &= ~transparent
        if where.any():
            uniq, counts = np.unique(keys[where], return_counts=True)
            found = {unpack_key(k): int(n) for k, n in zip(uniq, counts)}
            if unknown == "error":
                raise _unknown_error(found, palette, colours=True)
            if unknown == "ignore":
                labels[where] = palette.ignore_index
            else:
                nearest = _nearest_indices(uniq, palette)
                labels[where] = nearest[np.searchsorted(uniq, keys[where])]
        hist = None
    clear = int(np.count_nonzero(transparent)) if transparent is not None else 0
    if clear:
        labels[transparent] = palette.ignore_index
        hist = None
    if hist is None:
        hist = _histogram(labels, size)
    return Converted(_narrow(labels, palette), hist[:size], found, transparent=clear)


def _convert_colours_or_grey(rgb: np.ndarray, palette: Palette, remap: Remap | None, unknown: Unknown,
                             context: ConversionContext) -> Converted:
    """A colour mask by colour; an index mask saved as RGB (every pixel (v, v, v)) by its grey values.

    The grey values are taken only when the palette lacks some of the mask's colours and knows
    every one of its values (as indices, or as ids under `remap`): torchgeo's Inria sample
    stores buildings as (1, 1, 1), and `--unknown nearest` made them black, the background,
    for all 448 pixels. Black-and-white masks with antialiased grey edges keep their colour
    conversion: their edge values are no class.
    """
    try:
        return _convert_colours(rgb, palette, "error", context)
    except UnknownValuesError as exc:
        levels = _grey_levels(rgb, exc.counts)
        if levels is not None:
            checked = _check_remap(remap, palette)
            table = context.value_table(palette, checked)
            present = np.flatnonzero(_histogram(levels, 256))
            if not np.any(table.lut[present] == table.sentinel):
                result = _convert_values(levels, palette, checked, "error", context)
                result.grey_levels = True
                return result
        if unknown == "error":
            raise
    return _convert_colours(rgb, palette, unknown, context)


def _grey_levels(rgb: np.ndarray, unknown: dict[UnknownKey, int]) -> np.ndarray | None:
    """The (H, W) grey values of an opaque mask whose every pixel is grey, else None."""
    if not all(isinstance(k, tuple) and k[0] == k[1] == k[2] for k in unknown):
        return None
    if rgb.shape[2] == 4 and not np.all(rgb[:, :, 3] == 255):
        return None
    red = rgb[:, :, 0]
    if not (np.array_equal(red, rgb[:, :, 1]) and np.array_equal(red, rgb[:, :, 2])):
        return None
    return np.ascontiguousarray(red)


def _packed_keys(rgb: np.ndarray, context: ConversionContext) -> tuple[np.ndarray, np.ndarray | None]:
    """`pack_rgb`, writing into the context's buffers; keys come out as intp, which `np.take` uses without a copy."""
    h, w, channels = rgb.shape
    if channels != 3 or rgb.dtype != np.uint8 or h * w > SCRATCH_MAX_PIXELS or sys.byteorder != "little":
        keys, transparent = pack_rgb(rgb)
        return keys, transparent
    rgba = context.scratch("rgba", (h, w, 4), np.uint8)
    cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2RGBA, dst=rgba)
    keys32 = rgba.view(np.uint32)[..., 0]
    np.bitwise_and(keys32, 0xFFFFFF, out=keys32)
    keys = context.scratch("keys", (h, w), np.intp)
    np.copyto(keys, keys32)
    return keys, None


def _convert_values(values: np.ndarray, palette: Palette, remap: Remap | None, unknown: Unknown,
                    context: ConversionContext, counts: np.ndarray | None = None) -> Converted:
    _check_unknown(unknown)
    if values.dtype == np.bool_:
        values = values.view(np.uint8)
    if not np.issubdtype(values.dtype, np.integer):
        raise DataprepError(None, f"index mask must hold integers, got {values.dtype}")
    if values.dtype not in (np.uint8, np.uint16):
        return _convert_other_ints(values, palette, remap, unknown)
    size = palette.max_value + 1
    hist_in = _value_counts(values) if counts is None else counts
    present = np.flatnonzero(hist_in)
    table = context.value_table(palette, remap)
    lut = table.lut[:256] if values.dtype == np.uint8 else table.lut
    bad = present[lut[present] == table.sentinel]
    if not remap:
        labels = values  # values are kept: nothing to gather
        hist = hist_in
    elif values.dtype == np.uint8 and lut.dtype == np.uint8:
        labels = cv2.LUT(values, lut)
        hist = None
    else:
        labels = np.take(lut, values)
        hist = None
    found: dict[UnknownKey, int] = {int(v): int(hist_in[v]) for v in bad}
    if found:
        if unknown == "error":
            raise _unknown_error(found, palette, colours=False)
        labels = labels.copy() if labels is values else labels
        labels[np.isin(values, bad.astype(values.dtype))] = palette.ignore_index
        hist = None
    if hist is None:
        hist = _histogram(labels, size)
    return Converted(_narrow(labels, palette), hist[:size], found)


def _convert_other_ints(values: np.ndarray, palette: Palette, remap: Remap | None, unknown: Unknown) -> Converted:
    """int32/int64 arrays (.npy masks, -1 for void): map the few distinct values, then gather."""
    uniq, inverse = np.unique(values, return_inverse=True)
    valid = palette.valid_values
    mapped = np.empty(len(uniq), np.int64)
    found: dict[UnknownKey, int] = {}
    counts = np.bincount(inverse.ravel(), minlength=len(uniq))
    for i, v in enumerate(uniq.tolist()):
        if remap and v in remap:
            mapped[i] = remap[v]
        elif v in valid:
            mapped[i] = v
        else:
            found[int(v)] = int(counts[i])
            mapped[i] = palette.ignore_index
    if found and unknown == "error":
        raise _unknown_error(found, palette, colours=False)
    labels = mapped[inverse].reshape(values.shape).astype(palette.label_dtype)
    size = palette.max_value + 1
    return Converted(labels, np.bincount(labels.ravel(), minlength=size)[:size], found)


def _nearest_indices(keys: np.ndarray, palette: Palette) -> np.ndarray:
    """Index of the palette colour nearest (Euclidean RGB) to each packed key."""
    table = palette.colour_to_index()
    if not table:
        raise DataprepError(None, f"palette {palette.name!r} has no colours to take the nearest of")
    colours = np.array(list(table), dtype=np.int64)
    indices = np.array(list(table.values()), dtype=np.int64)
    k = keys.astype(np.int64)
    rgb = np.stack([k & 255, (k >> 8) & 255, (k >> 16) & 255], axis=1)
    d = ((rgb[:, None, :] - colours[None, :, :]) ** 2).sum(axis=2)
    return indices[d.argmin(axis=1)]


def labels_to_colours(labels: np.ndarray, palette: Palette | PathLike) -> np.ndarray:
    """(H, W) label map -> (H, W, 3) uint8 RGB, each index drawn in its first palette colour."""
    palette = load_palette(palette)
    if labels.ndim == 3 and labels.shape[2] == 1:
        labels = labels[:, :, 0]
    if labels.ndim != 2:
        raise DataprepError(None, f"label map must be (H, W), got shape {labels.shape}; is it a colour mask already?")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataprepError(None, f"label map must hold integers, got {labels.dtype}")
    palette = with_ignore_drawn(palette)
    coloured = palette.index_colours()
    size = max(palette.max_value, max(coloured, default=0)) + 1
    if labels.dtype not in (np.uint8, np.uint16) and labels.size and (labels.min() < 0 or labels.max() >= size):
        raise DataprepError(None, f"label values {labels.min()}..{labels.max()} are outside the palette")
    hist = _histogram(labels.astype(np.uint16, copy=False) if labels.dtype != np.uint8 else labels,
                      256 if labels.dtype == np.uint8 else 65536)
    missing = [int(v) for v in np.flatnonzero(hist) if int(v) not in coloured]
    if missing:
        listed = ", ".join(f"{v} x {int(hist[v]):,}" for v in missing[:5])
        raise UnknownValuesError(None, f"label values with no colour in palette {palette.name!r}: {listed}",
                                 {v: int(hist[v]) for v in missing})
    table = palette.colour_table(max(size, 256))
    return np.take(table, labels, axis=0)


def with_ignore_drawn(palette: Palette) -> Palette:
    """`palette` with a colour for its ignore index where no entry gives one (the schema allows none): the colour
    the label palette draws it in, black unless a class has it. Every file failed ('255 has no colour'), and the
    colour drawn must be the one written beside the masks, or masks2labels cannot read them back."""
    if palette.ignore_index in palette.index_colours():
        return palette
    colour = palette.label_palette().index_colours()[palette.ignore_index]
    classes, done = [], False
    for c in palette.classes:
        if c.ignore and c.index == palette.ignore_index and c.color is None and not done:
            c, done = dataclasses.replace(c, color=colour), True
        classes.append(c)
    if not done:
        classes.append(PaletteClass("ignore", colour, palette.ignore_index, ignore=True))
    return dataclasses.replace(palette, classes=tuple(classes))

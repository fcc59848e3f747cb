"""A contact sheet to check image/mask sync at a glance: image | colourized mask | overlay, per sample.

Works on any manifest: index label maps are colourized with the palette (from
`--palette`, a file or a built-in name, else the palette file beside the
manifest, else a fixed generated colour table); colour masks are shown as they are, and so are
palette-mode PNGs whose colour table disagrees with the palette (masks2labels converts those by
colour too). Ignore pixels are hatched so they never pass for a class.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from . import io
from .errors import DataprepError, UsageError
from .option_ranges import check_seed
from .extra_masks import read_row_mask
from .labels import ConversionContext, mask_to_labels, palette_mode_colours, read_mask_table
from .manifest import Manifest, ManifestRow, read_manifest, require_rows
from .palette import Palette, resolve_palette
from .paths import Inputs
from .sample import DEFAULT_IGNORE_INDEX
from .sampleio import manifest_size

SHEET_EXTENSIONS = (".png", ".jpg", ".jpeg")
THUMB_HEIGHT = 160  # pixels per panel row; sheets stay small whatever the image size
CAPTION = 18
PAD = 6
BACKGROUND = 255
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_LONG_LEGEND = 8  # legend rows past which entries are narrowed to three per row


def generated_colours(size: int = 256) -> np.ndarray:
    """A fixed, well-spread colour per index (golden-ratio hues), for label maps without a palette."""
    hues = (np.arange(size) * 0.618033988749895 * 180) % 180
    hsv = np.stack([hues, np.full(size, 200), np.where(np.arange(size) % 2, 230, 170)], axis=1)
    return cv2.cvtColor(hsv.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0].copy()


def colour_table(palette: Palette | None, size: int = 256) -> np.ndarray:
    """(size, 3) uint8 index -> colour: the palette's, generated ones for indices it does not colour."""
    table = generated_colours(size)
    if palette is not None:
        for index, colour in palette.index_colours().items():
            if 0 <= index < size:
                table[index] = colour
    return table


def _names(palette: Palette | None) -> dict[int, str]:
    names: dict[int, str] = {}
    # Artefact entries (from `palette infer`) come last: an index is named by its real entry.
    for c in palette.entries_by_kind() if palette else ():
        names.setdefault(c.index, c.name)
    return names


def colourize(mask: np.ndarray, palette: Palette | None, ignore_index: int | None) -> np.ndarray:
    """(H, W, 3) colours for a label map; ignore pixels hatched dark grey on black."""
    rgb = colour_table(palette, max(256, int(mask.max()) + 1 if mask.size else 0))[mask.astype(np.intp)]
    if ignore_index is not None:
        ignored = mask == ignore_index
        if ignored.any():
            yy, xx = np.indices(mask.shape)
            rgb[ignored] = 0
            rgb[ignored & (((yy + xx) % 8) < 2)] = 90
    return rgb


_STRETCH_PERCENTILES = (1.0, 99.0)
_STRETCH_SAMPLES = 1_000_000  # pixels the percentiles are taken over (an even spread beyond that)


def _display_image(image: np.ndarray) -> np.ndarray:
    """8-bit RGB for display: other pixel types stretched from their 1st to their 99th percentile (one hot
    pixel at 6615 against a p99 of 1219 left SpaceNet's 16-bit pan chips black under a min-max stretch);
    the first band as gray when there are fewer than 3, the first 3 bands as RGB when there are more."""
    image = image[:, :, :3] if image.shape[2] >= 3 else image[:, :, :1]
    if image.dtype != np.uint8:
        values = image.astype(np.float32)
        finite = values[np.isfinite(values)]
        finite = finite[:: max(1, finite.size // _STRETCH_SAMPLES)]
        lo, hi = (float(v) for v in np.percentile(finite, _STRETCH_PERCENTILES)) if finite.size else (0.0, 1.0)
        values = np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo)
        image = ((values - lo) * (255.0 / max(hi - lo, 1e-12 if image.dtype.kind == "f" else 1.0))).clip(0, 255)
        image = image.astype(np.uint8)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image)


def _fit(panel: np.ndarray, height: int, width: int, nearest: bool) -> np.ndarray:
    """Scale into a height x width box keeping aspect ratio, centred on the background."""
    h, w = panel.shape[:2]
    s = min(height / h, width / w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    scaled = cv2.resize(panel, (nw, nh), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)
    out = np.full((height, width, 3), BACKGROUND, np.uint8)
    y, x = (height - nh) // 2, (width - nw) // 2
    out[y : y + nh, x : x + nw] = scaled.reshape(nh, nw, 3)
    return out


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float = 0.4) -> None:
    cv2.putText(canvas, text, (x, y), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _masks_hold_ids(masks: Sequence[np.ndarray | None], palette: Palette) -> bool:
    """A palette that says its masks store ids (`remap: ids`, as palette infer writes for 0/255 masks): the masks
    shown hold ids when any of them holds a value that is an id and no class index, and then each shows every id
    as its class, as masks2labels converts them (Cityscapes' road, id 7, was drawn as class 7, traffic sign; a
    frame of ids below 19 alone as if converted). Masks of class indices alone are taken as converted already."""
    ids = {v for v in palette.ids() if 0 <= v < 65536}
    classes = set(palette.class_indices)
    return any(mask is not None and mask.ndim == 2 and mask.dtype.kind in "ui"
               and any(v in ids and v not in classes for v in np.unique(mask).tolist()) for mask in masks)


def _as_indices(mask: np.ndarray, values: dict[int, int]) -> np.ndarray:
    """A mask of stored values (ids, class + 1) as the class indices `values` maps them to (others as they are)."""
    ids = {v: i for v, i in values.items() if 0 <= v < 65536}
    if not mask.size or mask.dtype.kind not in "ui" or int(mask.min()) < 0:
        return mask
    table = np.arange(max(int(mask.max()), *ids) + 1, dtype=np.int64)
    for value, index in ids.items():
        table[value] = index
    return table[mask].astype(mask.dtype if table.max() <= np.iinfo(mask.dtype).max else np.int64)


def _stored_values(palette: Palette | None, masks: Sequence[np.ndarray | None]) -> dict[int, int] | None:
    """How the masks shown store their classes, as masks2labels reads them under the palette: its ids where they
    hold ids (`_masks_hold_ids`); class + 1 with 0 as no-data under `remap: reduce-zero` (LoveDA's 0..7 were drawn
    one class off, 0 as class 0 and the last class as a value of no class)."""
    if palette is None:
        return None
    if palette.remap == "reduce-zero":
        return {**{c.index + 1: c.index for c in palette.classes if c.index != palette.ignore_index},
                0: palette.ignore_index}
    if palette.remap == "ids" and palette.ids() and _masks_hold_ids(masks, palette):
        return palette.ids()
    return None


def _cell(row: ManifestRow, palette: Palette | None, ignore: int | None, width: int,
          context: ConversionContext, stored: dict[int, int] | None = None, mask: np.ndarray | None = None
          ) -> tuple[np.ndarray, set[int]]:
    """One entry of the sheet and the label values it shows; `mask`: the row's mask, read already."""
    image = _display_image(io.load_sample(row, mask="skip", purpose="preview").image)
    panels, seen = [image], set()
    if row.mask is None:
        blank = np.full_like(image, 200)
        _text(blank, "no mask", 8, 20)
        panels += [blank, image]
    else:
        if mask is None:  # colour masks too: they are shown as they are
            mask = read_row_mask(row, expect=manifest_size(row))
        if mask.ndim == 2 and palette is not None and stored:
            mask = _as_indices(mask, stored)
        by_colour = None
        # values the palette says are stored data: their indices count, not a colour table (as masks2labels)
        if mask.ndim == 2 and palette is not None and palette.remap != "reduce-zero":
            # A palette-mode PNG whose own table disagrees with the palette shows its own colours,
            # as masks2labels converts it; its indices would draw the wrong classes.
            by_colour = palette_mode_colours(mask, read_mask_table(row.mask), palette)
        if by_colour is not None:
            coloured = by_colour
            seen = {int(v) for v in np.flatnonzero(mask_to_labels(by_colour, palette, unknown="ignore", context=context).counts)}
        elif mask.ndim == 3:  # a colour mask: already colours
            coloured = mask[:, :, :3].astype(np.uint8)
        else:
            coloured = colourize(mask, palette, ignore)
            seen = {int(v) for v in np.unique(mask)}
        if coloured.shape[:2] != image.shape[:2]:
            raise DataprepError(row.mask, f"mask is {coloured.shape[1]}x{coloured.shape[0]} but the image is "
                                          f"{image.shape[1]}x{image.shape[0]}")
        overlay = (0.5 * image.astype(np.float32) + 0.5 * coloured.astype(np.float32)).astype(np.uint8)
        panels += [coloured, overlay]
    fitted = [_fit(p, THUMB_HEIGHT, width, nearest=k == 1) for k, p in enumerate(panels)]
    gap = np.full((THUMB_HEIGHT, 2, 3), BACKGROUND, np.uint8)
    strip = np.concatenate([fitted[0], gap, fitted[1], gap, fitted[2]], axis=1)
    caption = np.full((CAPTION, strip.shape[1], 3), BACKGROUND, np.uint8)
    label = row.id if len(row.id) <= 60 else "..." + row.id[-57:]
    _text(caption, label, 2, CAPTION - 5)
    return np.concatenate([caption, strip], axis=0), seen


def _fit_text(text: str, width: int) -> str:
    """`text`, cut with "..." to fit `width` pixels in the legend's font."""
    if cv2.getTextSize(text, _FONT, 0.4, 1)[0][0] <= width:
        return text
    while len(text) > 1 and cv2.getTextSize(text + "...", _FONT, 0.4, 1)[0][0] > width:
        text = text[:-1]
    return text + "..."


def _legend(palette: Palette | None, indices: Sequence[int], ignore: int | None, width: int) -> np.ndarray:
    entries = []
    table = colour_table(palette, max([256, *(i + 1 for i in indices)]))
    names = _names(palette)
    for index in sorted(indices):
        if index == ignore:
            continue
        name = names.get(index, f"not in {palette.name}" if palette else str(index))
        entries.append((f"{index} {name}", tuple(int(c) for c in table[index]), False))
    if not entries and palette is None:
        # Colour masks and no palette: nothing to name.
        legend = np.full((20 + PAD, width, 3), BACKGROUND, np.uint8)
        _text(legend, "masks shown as stored (colour masks; pass --palette for a legend)", PAD, PAD + 11)
        return legend
    if ignore is not None and ignore in indices:  # an ignore value no mask shown holds is no entry
        name = names.get(ignore, "ignore")
        entries.append((f"{ignore} {name} (ignored)", (0, 0, 0), True))
    # Columns as wide as the longest name (SUIM's "reefs and invertebrates" ran into the next swatch), at most
    # the sheet; a longer name is cut with an ellipsis.
    longest = max(cv2.getTextSize(text, _FONT, 0.4, 1)[0][0] for text, _, _ in entries)
    item_w, row_h = min(max(170, 20 + longest + 12), width - PAD), 20
    # A long legend keeps at least three columns (names cut): one of ADE20K-full's 847 names is 700 pixels wide,
    # and the legend of one sample was a single column 17,000 pixels tall.
    narrow = max(170, (width - PAD) // 3)
    if item_w > narrow and len(entries) > _LONG_LEGEND * max(1, width // item_w):
        item_w = narrow
    per_row = max(1, width // item_w)
    entries = [(_fit_text(text, item_w - 32), colour, hatched) for text, colour, hatched in entries]
    rows = max(1, -(-len(entries) // per_row))
    legend = np.full((rows * row_h + PAD, width, 3), BACKGROUND, np.uint8)
    for k, (text, colour, hatched) in enumerate(entries):
        x, y = (k % per_row) * item_w + PAD, (k // per_row) * row_h + PAD
        cv2.rectangle(legend, (x, y), (x + 14, y + 12), colour, -1)
        if hatched:
            for d in range(-12, 14, 4):
                cv2.line(legend, (x + max(0, d), y + max(0, -d)), (x + min(14, d + 12), y + min(12, 12 - d)), (90, 90, 90), 1)
        cv2.rectangle(legend, (x, y), (x + 14, y + 12), (0, 0, 0), 1)
        _text(legend, text, x + 20, y + 11)
    return legend


@dataclass
class ContactSheet:
    """A drawn sheet, and the label values its masks hold that are neither a class of the palette nor ignored."""

    pixels: np.ndarray
    outside_palette: list[int] = field(default_factory=list)


def make_contact_sheet(manifest: Manifest | io.PathLike, **options: Any) -> np.ndarray:
    """The pixels of `draw_contact_sheet(manifest, **options)`: an (H, W, 3) uint8 RGB sheet."""
    return draw_contact_sheet(manifest, **options).pixels


def draw_contact_sheet(
    manifest: Manifest | io.PathLike,
    n: int = 8,
    palette: Palette | str | io.PathLike | None = None,
    seed: int = 0,
    columns: int = 3,
    ignore_index: int | None = None,
) -> ContactSheet:
    """An (H, W, 3) uint8 RGB sheet of `n` rows picked with `seed` (all when n >= rows), `columns` per line, and
    the values shown that the palette does not name; `ignore_index` overrides the palette's (or 255 without one).

    Each entry is image | colourized mask | overlay (alpha 0.5) under the sample id;
    a legend of the classes shown (palette colours and names) ends the sheet.
    """
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    if n < 1 or columns < 1:
        raise DataprepError(None, "n and columns must be >= 1")
    seed = check_seed(seed)  # numpy's raw "expected non-negative integer" otherwise
    require_rows(manifest)
    palette = resolve_palette(palette, manifest.path)
    ignore = ignore_index if ignore_index is not None else palette.ignore_index if palette else DEFAULT_IGNORE_INDEX
    count = min(n, len(manifest))
    picks = sorted(np.random.default_rng(seed).choice(len(manifest), size=count, replace=False).tolist())
    rows = [manifest[i] for i in picks]
    first = rows[0]
    aspect = first.width / max(1, first.height)
    panel_w = max(40, min(3 * THUMB_HEIGHT, round(THUMB_HEIGHT * aspect)))
    cells, seen = [], set()
    context = ConversionContext()  # one colour table for every by-colour mask of the sheet
    masks: list[np.ndarray | None] = [None] * len(rows)
    if palette is not None and palette.remap == "ids" and palette.ids():  # decided over every mask shown
        masks = [read_row_mask(r, expect=manifest_size(r)) if r.mask is not None else None for r in rows]
    stored = _stored_values(palette, masks)
    for row, mask in zip(rows, masks):
        cell, labels = _cell(row, palette, ignore, panel_w, context, stored, mask)
        cells.append(cell)
        seen |= labels
    cell_h, cell_w = cells[0].shape[:2]
    columns = min(columns, len(cells))
    lines = -(-len(cells) // columns)
    sheet_w = columns * cell_w + (columns + 1) * PAD * 2
    sheet = np.full((lines * (cell_h + PAD * 2) + PAD, sheet_w, 3), BACKGROUND, np.uint8)
    for k, cell in enumerate(cells):
        y = (k // columns) * (cell_h + PAD * 2) + PAD
        x = (k % columns) * (cell_w + PAD * 2) + PAD * 2
        sheet[y : y + cell_h, x : x + cell_w] = cell
    # Colour masks give no indices: show the whole palette then.
    shown = seen if seen or palette is None else set(palette.index_colours())
    legend = _legend(palette, sorted(shown), ignore, sheet_w)
    named = set(_names(palette))
    outside = sorted(v for v in seen if v != ignore and v not in named) if palette else []
    return ContactSheet(np.concatenate([sheet, legend], axis=0), outside)


def write_contact_sheet(
    manifest: Manifest | io.PathLike,
    output: io.PathLike,
    n: int = 8,
    palette: Palette | str | io.PathLike | None = None,
    seed: int = 0,
    columns: int = 3,
    ignore_index: int | None = None,
) -> ContactSheet:
    """draw_contact_sheet, written atomically (format by extension)."""
    if Path(output).suffix.lower() not in SHEET_EXTENSIONS:  # before the drawing, not after it
        raise UsageError(output, "a contact sheet is written as .png, .jpg or .jpeg; name it so")
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    Inputs.of_manifest(manifest).guard_file(output)
    sheet = draw_contact_sheet(manifest, n=n, palette=palette, seed=seed, columns=columns, ignore_index=ignore_index)
    io.write_image(output, sheet.pixels, quality=90)
    return sheet

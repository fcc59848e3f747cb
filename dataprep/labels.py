"""Masks -> class-index label maps (`masks2labels`) and back to colours (`labels2masks`).

Every input mode ends up as one table gather per pixel, never a loop over classes:
- colour masks (RGB, RGBA): pixels are packed to 24-bit keys and looked up in a
  2^24-entry table built once per palette and process (16 MB for uint8 labels);
  RGBA pixels with alpha 0 become the ignore index;
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

import json
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import yaml

from .errors import DataprepError, UsageError
from .executor import Executor, OnError, run_items
from .histogram import channel_histograms
from .io import MASK_EXTENSIONS, PathLike, atomic_write_text, read_mask, read_png_palette, write_mask
from .manifest import Manifest, ManifestRow, read_manifest, write_manifest
from .palette import Colour, Palette, colour_key, find_palette, load_palette, pack_rgb, palette_from_file, unpack_key
from .paths import Inputs, walk_files
from .strict_load import load_yaml
from .regions import BOUNDARY_WIDTH, interior_pixels

Unknown = Literal["error", "ignore", "nearest"]
UNKNOWN_MODES: tuple[str, ...] = ("error", "ignore", "nearest")
Remap = Mapping[int, int]
UnknownKey = Colour | int  # a colour (colour masks) or a stored value (index masks)

_STATE_FILE = ".dataprep-{command}.json"  # settings of the run that wrote an output folder


class UnknownValuesError(DataprepError):
    """A mask holds colours or values that the palette does not know."""

    def __init__(self, path: PathLike | None, reason: str, counts: Mapping[UnknownKey, int] | None = None) -> None:
        super().__init__(path, reason)
        self.counts = dict(counts or {})

    def __reduce__(self):
        return (type(self), (self.path, self.reason, self.counts))


# --------------------------------------------------------------------------- lookup tables


@dataclass(frozen=True)
class _Table:
    """A lookup table input value -> label; cached per process, never pickled."""

    lut: np.ndarray
    sentinel: int  # the table's value for "not in the palette"; no class uses it


_TABLES: dict[tuple[str, str], _Table] = {}


def _cached(key: tuple[str, str], build) -> _Table:
    table = _TABLES.get(key)
    if table is None:
        if len(_TABLES) >= 4:  # a colour table is 16-32 MB; a process rarely needs more than one
            _TABLES.pop(next(iter(_TABLES)))
        table = _TABLES[key] = build()
    return table


def _sentinel(palette: Palette) -> tuple[type[np.unsignedinteger], int]:
    """Table dtype and a value no class uses; uint16 when all 256 uint8 values are taken."""
    valid = palette.valid_values
    if palette.label_dtype == np.uint8:
        free = [v for v in range(255, -1, -1) if v not in valid]
        if free:
            return np.uint8, free[0]
    return np.uint16, next(v for v in range(65535, -1, -1) if v not in valid)


def _colour_table(palette: Palette) -> _Table:
    """2^24 entries: packed colour key -> index, or the sentinel."""

    def build() -> _Table:
        dtype, sentinel = _sentinel(palette)
        lut = np.full(1 << 24, sentinel, dtype)
        for colour, index in palette.colour_to_index().items():
            lut[colour_key(colour)] = index
        return _Table(lut, sentinel)

    return _cached((palette.fingerprint, "colours"), build)


def _value_table(palette: Palette, remap: Remap | None) -> _Table:
    """65536 entries: stored index value -> index (itself unless remapped), or the sentinel."""

    def build() -> _Table:
        dtype, sentinel = _sentinel(palette)
        lut = np.full(65536, sentinel, dtype)
        for v in palette.valid_values:
            lut[v] = v
        for src, dst in (remap or {}).items():
            if 0 <= src <= 65535:
                lut[src] = dst
        return _Table(lut, sentinel)

    return _cached((palette.fingerprint, json.dumps(sorted((remap or {}).items()))), build)


def _histogram(labels: np.ndarray, size: int) -> np.ndarray:
    """Exact per-value pixel counts, int64, length `size`."""
    if labels.dtype == np.uint8:
        hist = channel_histograms(labels)[0]  # several times faster than bincount on uint8
    else:
        hist = np.bincount(labels.ravel(), minlength=size)
    if len(hist) < size:
        hist = np.pad(hist, (0, size - len(hist)))
    return hist[:size] if len(hist) > size else hist


# --------------------------------------------------------------------------- one mask


@dataclass
class Converted:
    labels: np.ndarray  # (H, W) uint8 or uint16 class indices
    counts: np.ndarray  # pixels per value 0..palette.max_value
    unknown: dict[UnknownKey, int]  # colours/values not in the palette (and what they were replaced by, see mode)
    by_colour: bool = False  # a palette-mode mask converted through its own colour table, not its indices


def colours_to_labels(rgb: np.ndarray, palette: Palette | PathLike, *, unknown: Unknown = "error",
                      ignore_index: int | None = None) -> tuple[np.ndarray, dict[Colour, int]]:
    """(H, W, 3|4) uint8 colour mask -> ((H, W) label map, {unknown colour: pixels}).

    RGBA pixels with alpha 0 get the ignore index. Raises UnknownValuesError under
    `unknown="error"` when a colour is not in the palette.
    """
    palette = _palette(palette, ignore_index)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3|4) colour mask, got shape {rgb.shape}")
    result = _convert_colours(rgb, palette, unknown)
    return result.labels, result.unknown  # type: ignore[return-value]


def values_to_labels(values: np.ndarray, palette: Palette | PathLike, *, remap: Remap | None = None,
                     unknown: Unknown = "error", ignore_index: int | None = None) -> tuple[np.ndarray, dict[int, int]]:
    """(H, W) index mask -> ((H, W) label map, {unknown value: pixels}); values kept unless `remap` says otherwise."""
    palette = _palette(palette, ignore_index)
    result = _convert_values(values, palette, _check_remap(remap, palette), unknown)
    return result.labels, result.unknown  # type: ignore[return-value]


def mask_to_labels(mask: np.ndarray, palette: Palette | PathLike, *, remap: Remap | None = None,
                   unknown: Unknown = "error", ignore_index: int | None = None,
                   table: np.ndarray | None = None) -> Converted:
    """Any mask as `io.read_mask` returns it -> label map, per-value counts and unknowns.

    `table`: the (N, 3) colour table of a palette-mode mask (`io.read_png_palette`).
    When it disagrees with the palette for an index present, the mask is converted
    by colour (`Converted.by_colour`); without it, or under `remap`, its indices are used.
    """
    palette = _palette(palette, ignore_index)
    if mask.ndim == 3 and mask.shape[2] in (3, 4):
        if mask.dtype != np.uint8:
            raise DataprepError(None, f"colour mask must be 8-bit, got {mask.dtype}")
        return _convert_colours(mask, palette, unknown)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim != 2:
        raise DataprepError(None, f"mask must be (H, W) indices or (H, W, 3|4) colours, got shape {mask.shape}")
    if table is not None and not remap:
        rgb = palette_mode_colours(mask, table, palette)
        if rgb is not None:
            try:
                result = _convert_colours(rgb, palette, unknown)
            except UnknownValuesError as exc:
                raise UnknownValuesError(None, exc.reason + _BY_COLOUR_HINT, exc.counts) from None
            result.by_colour = True
            return result
    return _convert_values(mask, palette, _check_remap(remap, palette), unknown)


_BY_COLOUR_HINT = ("; a palette-mode PNG whose colour table differs from the palette is converted by colour: "
                   "if its indices are the classes, pass --png-indices")


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


def read_mask_table(path: PathLike) -> np.ndarray | None:
    """The colour table of a palette-mode mask file, or None (other modes, .npy)."""
    if Path(path).suffix.lower() == ".npy":
        return None
    try:
        return read_png_palette(path)
    except (OSError, ValueError):
        return None


def _palette(palette: Palette | PathLike, ignore_index: int | None) -> Palette:
    palette = load_palette(palette)
    return palette if ignore_index is None else palette.with_ignore_index(ignore_index)


def _check_unknown(unknown: str) -> None:
    if unknown not in UNKNOWN_MODES:
        raise UsageError(None, f"unknown must be one of {', '.join(UNKNOWN_MODES)}, not {unknown!r}")


def _convert_colours(rgb: np.ndarray, palette: Palette, unknown: Unknown) -> Converted:
    _check_unknown(unknown)
    table = _colour_table(palette)
    keys, transparent = _packed_keys(rgb)
    labels = np.take(table.lut, keys)
    size = palette.max_value + 1
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
    if transparent is not None and transparent.any():
        labels[transparent] = palette.ignore_index
        hist = None
    if hist is None:
        hist = _histogram(labels, size)
    return Converted(_narrow(labels, palette), hist[:size], found)


# Per-thread scratch arrays for the packed keys: fresh 8-24 MB temporaries per mask
# make the allocator hand memory back and fault it in again on every file, which
# costs as much as the conversion itself. Masks above SCRATCH_MAX_PIXELS get
# fresh arrays so that a huge mask does not pin its memory for the process's life.
SCRATCH_MAX_PIXELS = 1 << 24
_scratch = threading.local()


def _scratch_array(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    arrays = _scratch.__dict__.setdefault("arrays", {})
    array = arrays.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = arrays[name] = np.empty(shape, dtype)
    return array


def _packed_keys(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """`pack_rgb`, writing into reused buffers; keys come out as intp, which `np.take` uses without a copy."""
    h, w, channels = rgb.shape
    if channels != 3 or rgb.dtype != np.uint8 or h * w > SCRATCH_MAX_PIXELS or sys.byteorder != "little":
        keys, transparent = pack_rgb(rgb)
        return keys, transparent
    rgba = _scratch_array("rgba", (h, w, 4), np.uint8)
    cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2RGBA, dst=rgba)
    keys32 = rgba.view(np.uint32)[..., 0]
    np.bitwise_and(keys32, 0xFFFFFF, out=keys32)
    keys = _scratch_array("keys", (h, w), np.intp)
    np.copyto(keys, keys32)
    return keys, None


def _convert_values(values: np.ndarray, palette: Palette, remap: Remap | None, unknown: Unknown) -> Converted:
    _check_unknown(unknown)
    if values.dtype == np.bool_:
        values = values.view(np.uint8)
    if not np.issubdtype(values.dtype, np.integer):
        raise DataprepError(None, f"index mask must hold integers, got {values.dtype}")
    if values.dtype not in (np.uint8, np.uint16):
        return _convert_other_ints(values, palette, remap, unknown)
    size = palette.max_value + 1
    hist_in = _histogram(values, 256 if values.dtype == np.uint8 else 65536)
    present = np.flatnonzero(hist_in)
    table = _value_table(palette, remap)
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


def _narrow(labels: np.ndarray, palette: Palette) -> np.ndarray:
    return labels if labels.dtype == palette.label_dtype else labels.astype(palette.label_dtype)


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


def _unknown_error(found: Mapping[UnknownKey, int], palette: Palette, *, colours: bool) -> UnknownValuesError:
    total = sum(found.values())
    what = "colour" if colours else "value"
    listed = ", ".join(f"{format_unknown(k)} x {n:,}" for k, n in _top(found, 5))
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    hint = "use --unknown ignore|nearest or add them to the palette" if colours else \
        "use --remap, --unknown ignore or add them to the palette"
    ids = palette.ids()
    if not colours and ids and all(k in ids for k in found):
        # Cityscapes labelIds given with the cityscapes palette: --unknown ignore would keep the
        # values that happen to be valid indices, each the wrong class.
        hint = (f"they are ids of palette {palette.name!r} (e.g. Cityscapes labelIds), so every value of these masks "
                "is an id, not an index: use --remap ids")
    levels = {k[0] for k in found if k[0] == k[1] == k[2]} if colours else set()  # type: ignore[index]
    # Index masks saved as RGB give several grey levels; a few black pixels alone say nothing.
    if colours and len(levels) == len(found) and len(levels) >= 2 and not levels <= {0, 255}:
        hint += "; all grey: an index mask saved as RGB?"
    plural = "s" if len(found) > 1 else ""
    reason = (f"{total:,} pixels in {len(found)} {what}{plural} not in palette {palette.name!r}: "
              f"{listed}{more}; {hint}")
    return UnknownValuesError(None, reason, found)


def _top(found: Mapping[UnknownKey, int], n: int) -> list[tuple[UnknownKey, int]]:
    return sorted(found.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


def format_unknown(key: UnknownKey) -> str:
    return "({},{},{})".format(*key) if isinstance(key, tuple) else f"value {key}"


def labels_to_colours(labels: np.ndarray, palette: Palette | PathLike) -> np.ndarray:
    """(H, W) label map -> (H, W, 3) uint8 RGB, each index drawn in its first palette colour."""
    palette = load_palette(palette)
    if labels.ndim == 3 and labels.shape[2] == 1:
        labels = labels[:, :, 0]
    if labels.ndim != 2:
        raise DataprepError(None, f"label map must be (H, W), got shape {labels.shape}; is it a colour mask already?")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataprepError(None, f"label map must hold integers, got {labels.dtype}")
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


def parse_remap(spec: str | PathLike | Mapping[Any, Any] | None) -> dict[int, int] | Literal["ids"] | None:
    """`--remap`: "ids", a JSON/YAML file {old: new}, or inline "old:new,old:new"."""
    if spec is None or spec == "":
        return None
    if isinstance(spec, Mapping):
        items = spec.items()
    else:
        text = os.fspath(spec)
        if text == "ids":
            return "ids"
        path = Path(text)
        if path.is_file():
            try:
                data = load_yaml(path.read_text(encoding="utf-8"))  # JSON is YAML too
            except (OSError, yaml.YAMLError) as exc:
                raise DataprepError(path, f"unreadable remap file: {str(exc).splitlines()[0]}") from None
            if not isinstance(data, Mapping):
                raise DataprepError(path, "remap file must hold a mapping {old value: new index}")
            items = data.items()
        else:
            pairs = [p.strip() for p in text.split(",") if p.strip()]
            if not pairs or any(p.count(":") != 1 for p in pairs):
                raise UsageError(None, f"--remap must be 'ids', a JSON/YAML file or 'old:new,...', not {text!r}")
            items = [tuple(p.split(":")) for p in pairs]  # type: ignore[misc]
    try:
        return {int(k): int(v) for k, v in items}
    except (TypeError, ValueError):
        raise UsageError(None, f"--remap values must be integers: {spec!r}") from None


def _check_remap(remap: Remap | Literal["ids"] | None, palette: Palette) -> dict[int, int] | None:
    if remap == "ids":
        ids = palette.ids()
        if not ids:
            raise UsageError(None, f"--remap ids: palette {palette.name!r} declares no ids")
        return ids
    if not remap:
        return None
    bad = sorted(v for v in remap.values() if v not in palette.valid_values)
    if bad:
        raise UsageError(None, f"--remap targets {bad} are neither class indices of palette {palette.name!r} "
                               f"nor its ignore index {palette.ignore_index}")
    return dict(remap)


# --------------------------------------------------------------------------- finding masks


@dataclass(frozen=True)
class _Job:
    id: str
    src: Path
    dst: Path
    size: tuple[int, int] | None  # (width, height) the manifest promises, or None


def _walk_files(root: Path, extensions: frozenset[str], exclude: Iterable[Path] = ()) -> list[Path]:
    return [root / rel for rel in walk_files(root, extensions, skip=exclude)]


def collect_mask_paths(sources: Iterable[PathLike] | PathLike) -> list[Path]:
    """Mask files named directly, found under folders, or listed in manifests (.csv), without duplicates."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    out: dict[Path, None] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            out.update(dict.fromkeys(_walk_files(path, MASK_EXTENSIONS)))
        elif path.suffix.lower() == ".csv":
            out.update(dict.fromkeys(row.mask for row in read_manifest(path) if row.mask is not None))
        elif path.is_file():
            out[path] = None
        else:
            raise DataprepError(path, "not found")
    return list(out)


def _common_root(paths: list[Path]) -> Path:
    if not paths:
        return Path(".")
    return Path(os.path.commonpath([os.path.abspath(p.parent) for p in paths]))


@dataclass
class _Source:
    manifest: Manifest | None
    root: Path  # the folder whose layout the outputs mirror
    jobs: list[_Job]
    inputs: list[Path]


def _resolve_source(source: Manifest | PathLike, out_dir: Path, force: bool, extensions: frozenset[str]) -> _Source:
    if isinstance(source, Manifest):
        manifest = source
    elif Path(source).is_dir():
        manifest = None
    elif Path(source).is_file():
        manifest = read_manifest(source)
    else:
        raise DataprepError(source, "not found (expected a manifest CSV or a folder of masks)")
    if manifest is not None:
        masks = [row.mask for row in manifest if row.mask is not None]
        root = _common_root(masks)
        if masks:  # not into the masks' tree either: the next scan would take the label maps for masks
            Inputs(Inputs.of_manifest(manifest).files, trees=[root]).guard_folder(out_dir, force=force)
        seen: dict[Path, _Job] = {}
        for row in manifest:
            if row.mask is not None and row.mask not in seen:
                seen[row.mask] = _Job(row.id, row.mask, _output_path(out_dir, root, row.mask), (row.width, row.height))
        jobs = list(seen.values())
    else:
        root = Path(os.path.abspath(source))
        Inputs(trees=[root]).guard_folder(out_dir, force=force)
        files = _walk_files(root, extensions, exclude=[out_dir])
        jobs = [_Job(Path(os.path.relpath(p, root)).with_suffix("").as_posix(), p, _output_path(out_dir, root, p), None)
                for p in files]
    _check_outputs(jobs)
    # Never over an input (the images too), even with --force.
    inputs = Inputs.of_manifest(manifest) if manifest is not None else Inputs(j.src for j in jobs)
    inputs.check_written(j.dst for j in jobs)
    return _Source(manifest, root, jobs, [j.src for j in jobs])


def _output_path(out_dir: Path, root: Path, src: Path) -> Path:
    rel = Path(os.path.relpath(os.path.abspath(src), root)).with_suffix(".png")
    return Path(os.path.abspath(out_dir)) / rel


def _check_outputs(jobs: list[_Job]) -> None:
    by_out: dict[Path, _Job] = {}
    sources = {Path(os.path.realpath(j.src)) for j in jobs}
    for job in jobs:
        other = by_out.setdefault(job.dst, job)
        if other is not job:
            raise UsageError(job.src, f"would be written to the same file as {other.src}: {job.dst}")
        if Path(os.path.realpath(job.dst)) in sources:
            raise UsageError(job.dst, "output would overwrite an input mask; choose another output folder")


# --------------------------------------------------------------------------- many masks


# More ignored pixels than this share of a conversion's pixels gets a warning.
MOSTLY_IGNORED = 0.5
# Ignored pixels inside regions wider than a boundary band (see regions.py), over this share of
# all pixels and a quarter of the ignored ones, look like a class lost to ignore (a binary mask's
# 255) rather than VOC-style void boundaries (under 1% of the pixels, a tenth of the void, on VOC).
LARGE_IGNORED = 0.02


@dataclass
class ConversionReport:
    """What `masks_to_labels` / `labels_to_masks` did."""

    palette: Palette  # the palette of the label maps (one entry per index)
    out_dir: Path
    converted: int = 0
    skipped: int = 0  # outputs already up to date
    failed: int = 0
    pixel_counts: list[int] = field(default_factory=list)  # per class index 0..num_classes-1
    ignored_pixels: int = 0
    ignored_interior: int = 0  # ignored pixels inside regions, not on thin boundaries
    unknown: dict[UnknownKey, int] = field(default_factory=dict)  # replaced under "ignore"/"nearest"
    unknown_first_file: dict[UnknownKey, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    manifest_path: Path | None = None
    palette_path: Path | None = None
    by_colour: list[str] = field(default_factory=list)  # palette-mode masks converted through their colour table

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def total_pixels(self) -> int:
        return sum(self.pixel_counts) + self.ignored_pixels

    @property
    def warnings(self) -> list[str]:
        """Results that are valid but most likely not what was meant."""
        out = []
        total, ignored = self.total_pixels, self.ignored_pixels
        if not total or not ignored:
            return out
        reasons = []
        if ignored > MOSTLY_IGNORED * total:
            reasons.append("most of them")
        if self.ignored_interior > LARGE_IGNORED * total and self.ignored_interior >= 0.25 * ignored:
            reasons.append("in large regions, not thin boundaries")
        present = [i for i, n in enumerate(self.pixel_counts) if n]
        if len(present) == 1:
            reasons.append(f"and the label maps hold a single class ({self.palette.names[present[0]]}) besides "
                           "ignore: nothing to tell apart")
        if reasons:
            out.append(f"{ignored / total:.1%} of the pixels became the ignore index {self.palette.ignore_index} "
                       f"({'; '.join(reasons)}), so they will not be trained on; if that value is a class (in binary "
                       "0/255 masks 255 is usually the foreground), give it a class index: --remap 255:1 with a "
                       "palette that has class 1, or the palette 'dataprep palette infer' writes for these masks "
                       "with --remap ids")
        return out

    @property
    def notes(self) -> list[str]:
        """What was done differently from the plain rule, said once per run."""
        out = []
        if self.by_colour:
            n = len(self.by_colour)
            out.append(f"{n} palette-mode PNG{'s' if n > 1 else ''} (first: {self.by_colour[0]}) had a colour table "
                       "that differs from the palette, so their pixels were converted by colour (table index -> "
                       "colour -> class), not by index; --png-indices would use the indices")
        return out

    def class_rows(self) -> list[tuple[int, str, int, float]]:
        """(index, name, pixels, share of all pixels) per class, then the ignore index."""
        total = self.total_pixels or 1
        names = self.palette.names
        rows = [(i, names[i], n, n / total) for i, n in enumerate(self.pixel_counts)]
        ignore_name = next((c.name for c in self.palette.classes if c.ignore), "ignore")
        rows.append((self.palette.ignore_index, ignore_name, self.ignored_pixels, self.ignored_pixels / total))
        return rows


@dataclass(frozen=True)
class _FileResult:
    status: Literal["converted", "skipped"]
    counts: np.ndarray
    unknown: dict[UnknownKey, int]
    by_colour: bool = False
    ignored_interior: int = 0


def _ignored_interior(labels: np.ndarray, counts: np.ndarray, ignore_index: int) -> int:
    """Ignored pixels of one label map inside regions (see `ConversionReport.warnings`).

    Files where under LARGE_IGNORED of the pixels are ignored are not measured: they cannot
    hold a large ignored region, and the erosion costs a tenth of a conversion.
    """
    if ignore_index >= len(counts) or counts[ignore_index] <= LARGE_IGNORED * labels.size:
        return 0
    step, width = 1, BOUNDARY_WIDTH
    if min(labels.shape) >= 256:  # every other pixel is plenty to tell bands from regions, at a quarter the cost
        step, width = 2, (BOUNDARY_WIDTH + 1) // 2
    view = labels[::step, ::step]
    where = cv2.compare(view, ignore_index, cv2.CMP_EQ) if view.dtype == np.uint8 else view == ignore_index
    return step * step * interior_pixels(where, width)


def _with_path(exc: DataprepError, path: Path) -> DataprepError:
    if exc.path is not None:
        return exc
    if isinstance(exc, UnknownValuesError):
        return UnknownValuesError(path, exc.reason, exc.counts)
    return DataprepError(path, exc.reason)


def _up_to_date(src: Path, dst: Path) -> bool:
    try:
        return dst.stat().st_mtime_ns >= src.stat().st_mtime_ns
    except FileNotFoundError:
        return False


class _MaskConverter:
    """The per-file work of masks2labels; small and picklable (tables live in a per-process cache)."""

    def __init__(self, palette: Palette, remap: dict[int, int] | None, unknown: Unknown, overwrite: bool,
                 png_indices: bool = False) -> None:
        self.palette, self.remap, self.unknown, self.overwrite = palette, remap, unknown, overwrite
        self.png_indices = png_indices
        self.colour_table = palette.label_palette().colour_table(256)

    def __call__(self, job: _Job) -> _FileResult:
        size = self.palette.max_value + 1
        if not self.overwrite and _up_to_date(job.src, job.dst):
            try:
                labels = read_mask(job.dst)
            except DataprepError:
                labels = None  # a damaged output is simply redone
            if labels is not None and labels.ndim == 2 and int(labels.max(initial=0)) < size:
                counts = _histogram(labels, size)[:size]
                return _FileResult("skipped", counts, {},
                                   ignored_interior=_ignored_interior(labels, counts, self.palette.ignore_index))
        mask = read_mask(job.src)
        if job.size is not None and (mask.shape[1], mask.shape[0]) != job.size:
            raise DataprepError(job.src, f"mask is {mask.shape[1]}x{mask.shape[0]} "
                                         f"but its image is {job.size[0]}x{job.size[1]}")
        table = None if mask.ndim != 2 or self.remap or self.png_indices else read_mask_table(job.src)
        try:
            result = mask_to_labels(mask, self.palette, remap=self.remap, unknown=self.unknown, table=table)
        except DataprepError as exc:
            raise _with_path(exc, job.src) from None
        write_mask(job.dst, result.labels, palette=self.colour_table)
        return _FileResult("converted", result.counts, result.unknown, result.by_colour,
                           _ignored_interior(result.labels, result.counts, self.palette.ignore_index))


def masks_to_labels(source: Manifest | PathLike, out_dir: PathLike, palette: Palette | PathLike | None = None, *,
                    unknown: Unknown = "error", ignore_index: int | None = None,
                    remap: Remap | Literal["ids"] | str | None = None, overwrite: bool = False, force: bool = False,
                    executor: Executor | None = None, on_error: OnError = "skip",
                    quiet: bool = False, png_indices: bool = False) -> ConversionReport:
    """Convert every mask of a manifest (or a folder) to single-channel class-index PNGs under `out_dir`.

    Outputs mirror the masks' layout below their common folder; `out_dir` gets
    `palette.json` (one entry per index) and, for a manifest source, `manifest.csv`
    (same rows and columns, `mask` pointing at the label maps; rows whose mask
    failed are left out). Outputs newer than their mask are kept unless
    `overwrite`. A folder source gets no manifest (its images are unknown).
    Palette-mode PNGs whose colour table disagrees with the palette are converted
    by colour (listed in `report.by_colour`) unless `png_indices` or `remap`.
    """
    _check_unknown(unknown)
    out_dir = Path(out_dir)
    palette = _resolve_palette(palette, source)
    if ignore_index is not None:
        palette = palette.with_ignore_index(ignore_index)
    remap_map = _check_remap(parse_remap(remap), palette)
    src = _resolve_source(source, out_dir, force, MASK_EXTENSIONS)
    out_palette = palette.label_palette()
    settings: dict[str, Any] = {"palette": palette.to_dict(), "unknown": unknown,
                                "remap": [[k, v] for k, v in sorted((remap_map or {}).items())]}
    if png_indices:  # only when set, so folders made before the option existed still resume
        settings["png_indices"] = True
    _claim_output(out_dir, "masks2labels", settings, overwrite)
    _colour_table(palette)  # serial runs reuse it; each worker process builds its own on first use
    results = run_items(_MaskConverter(palette, remap_map, unknown, overwrite, png_indices), src.jobs, executor=executor,
                        on_error=on_error, desc="masks2labels", quiet=quiet)
    report = ConversionReport(out_palette, out_dir)
    _collect(report, src.jobs, results, out_palette)
    report.palette_path = out_palette.save(out_dir / "palette.json")
    if src.manifest is not None:
        report.manifest_path = _write_derived_manifest(src.manifest, src.jobs, results, out_dir)
    return report


def _resolve_palette(palette: Palette | PathLike | None, source: Manifest | PathLike) -> Palette:
    """`palette`, else the palette file in a source folder or beside it (`sample_data/palette.json`
    for `sample_data/masks`), else beside a manifest."""
    if palette is not None:
        return load_palette(palette)
    place = source.path if isinstance(source, Manifest) else Path(source)
    looked: list[Path] = []
    if place is not None:
        place = Path(place)
        folders = [place, place.parent] if place.is_dir() else [place.parent]
        for folder in folders:
            found = find_palette(folder)
            if found is not None:
                return palette_from_file(found)
            looked.append(folder)
    where = " or ".join(str(f) for f in looked) or "the source"
    raise UsageError(None, f"no --palette given and no palette.json (or .yaml) in {where}; "
                           "pass --palette NAME|FILE (run 'dataprep palette infer' to make one)")


def _claim_output(out_dir: Path, command: str, settings: dict[str, Any], overwrite: bool) -> None:
    """Refuse to resume into a folder made with other settings: old and new outputs would silently mix.

    `unknown` may change from "error" to anything: outputs made under "error"
    hold no replaced pixels, so they are right under every mode.
    """
    state = out_dir / _STATE_FILE.format(command=command)
    if state.is_file() and not overwrite:
        try:
            previous = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if previous.get("unknown") == "error" and "unknown" in settings:
            previous["unknown"] = settings["unknown"]
        if previous != json.loads(json.dumps(settings)):
            changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
            raise UsageError(out_dir, f"holds {command} outputs made with other settings ({', '.join(changed)}); "
                                      "pass --overwrite to redo every file, or pick another folder")
    atomic_write_text(state, json.dumps(settings, sort_keys=True) + "\n")


def _collect(report: ConversionReport, jobs: list[_Job], results, palette: Palette) -> None:
    size = palette.max_value + 1
    totals = np.zeros(size, np.int64)
    for job, res in zip(jobs, results):
        if not res.ok:
            report.failed += 1
            report.errors.append(res.error)
            continue
        value: _FileResult = res.value
        if value.status == "skipped":
            report.skipped += 1
        else:
            report.converted += 1
        report.outputs.append(job.dst)
        if value.by_colour:
            report.by_colour.append(str(job.src))
        report.ignored_interior += value.ignored_interior
        totals[: len(value.counts)] += value.counts
        for key, n in value.unknown.items():
            report.unknown[key] = report.unknown.get(key, 0) + n
            report.unknown_first_file.setdefault(key, str(job.src))
    report.pixel_counts = [int(v) for v in totals[: palette.num_classes]]
    report.ignored_pixels = int(totals[palette.ignore_index])


def _write_derived_manifest(manifest: Manifest, jobs: list[_Job], results, out_dir: Path) -> Path:
    done = {job.src: job.dst for job, res in zip(jobs, results) if res.ok}
    failed = {job.src for job, res in zip(jobs, results) if not res.ok}
    rows: list[ManifestRow] = []
    for row in manifest:
        if row.mask is None:
            rows.append(row)
        elif row.mask not in failed:
            rows.append(ManifestRow(row.id, row.image, done[row.mask], row.width, row.height, dict(row.extra)))
    return write_manifest(Manifest(rows), out_dir / "manifest.csv", columns=manifest.extra_columns)


# --------------------------------------------------------------------------- labels -> colours


class _MaskPainter:
    def __init__(self, palette: Palette, overwrite: bool) -> None:
        self.palette, self.overwrite = palette, overwrite

    def __call__(self, job: _Job) -> _FileResult:
        size = self.palette.max_value + 1
        labels = None
        if not self.overwrite and _up_to_date(job.src, job.dst):
            status = "skipped"
            labels = read_mask(job.src)
        else:
            status = "converted"
            labels = read_mask(job.src)
            try:
                colours = labels_to_colours(labels, self.palette)
            except DataprepError as exc:
                raise _with_path(exc, job.src) from None
            write_mask(job.dst, colours)
        if labels.ndim != 2:
            raise DataprepError(job.src, f"not a label map (shape {labels.shape})")
        counts = np.bincount(labels.ravel().astype(np.int64), minlength=size)[:size]
        return _FileResult(status, counts, {})


def labels_to_masks(source: Manifest | PathLike, out_dir: PathLike, palette: Palette | PathLike | None = None, *,
                    overwrite: bool = False, force: bool = False, executor: Executor | None = None,
                    on_error: OnError = "skip", quiet: bool = False) -> ConversionReport:
    """Draw label maps in their palette colours (RGB PNGs) for viewing; the inverse of `masks_to_labels`.

    Each index gets the first colour listed for it, so for palettes without
    grouping RGB -> labels -> RGB gives back the same pixels.
    """
    out_dir = Path(out_dir)
    palette = _resolve_palette(palette, source)
    src = _resolve_source(source, out_dir, force, frozenset({".png", ".npy", ".tif", ".tiff", ".bmp"}))
    _claim_output(out_dir, "labels2masks", {"palette": palette.to_dict()}, overwrite)
    results = run_items(_MaskPainter(palette, overwrite), src.jobs, executor=executor, on_error=on_error,
                        desc="labels2masks", quiet=quiet)
    report = ConversionReport(palette.label_palette(), out_dir)
    _collect(report, src.jobs, results, palette)
    report.palette_path = palette.save(out_dir / "palette.json")
    if src.manifest is not None:
        report.manifest_path = _write_derived_manifest(src.manifest, src.jobs, results, out_dir)
    return report


__all__ = [
    "ConversionReport",
    "Converted",
    "UNKNOWN_MODES",
    "UnknownValuesError",
    "collect_mask_paths",
    "colours_to_labels",
    "format_unknown",
    "labels_to_colours",
    "labels_to_masks",
    "mask_to_labels",
    "masks_to_labels",
    "palette_mode_colours",
    "parse_remap",
    "read_mask_table",
    "values_to_labels",
]

"""`dataprep stitch`: put tiles back together into full-size images, label maps and probability maps.

Input: a tiles manifest as `dataprep tile` writes it (or `dataprep predict` run
on one): rows with `source_id`, `tile_y`, `tile_x`, `source_width`,
`source_height`. Each source is rebuilt from its tiles:

- images and masks / predicted class maps: **centre rule**. Along each axis,
  two overlapping tiles meet in the middle of their overlap (the first tile
  keeps the pixels before `(start_of_next + end_of_this) // 2`), so every pixel
  comes from the tile in which it lies farthest from a tile edge, where a
  model's context is best. Each pixel is copied from exactly one tile, so
  `tile` followed by `stitch` gives back the original pixels exactly. Padding
  beyond the source is cut off.
- probability maps (a `probabilities` column of float TIFFs, as `dataprep
  predict --probabilities` writes): **blended** -- each tile's probabilities
  weighted by a window that falls off towards its edges (`gaussian`: sigma
  = 1/8 of the tile size, as MONAI's sliding-window inference; `cosine`: a
  Hann window; `mean`: flat), summed, divided by the summed weights; `centre`
  uses the centre rule instead.

Tiles dropped by `tile --min-labelled/--keep-empty/--max-nodata` leave holes: where an
overlapping neighbour reaches into a dropped tile's area, the first such
neighbour (in manifest order) supplies those pixels; a pixel no tile covers
stays 0 in images and probabilities and the ignore index in masks, and the
report counts those pixels.

Each source is built in memory (one output image, mask and probability map at
a time per worker).
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DataprepError, UsageError, all_failed
from .executor import Executor, OnError, errors_of, run_items
from .folder_settings import mark_owner
from .io import PathLike, read_mask_palette, staged
from .manifest import ORIGINAL_SIZE_COLUMNS, Manifest, ManifestRow, read_manifest, require_rows, write_manifest
from .outputs import OutputReport, missing_folders, remove_empty
from .palette import resolve_palette
from .paths import Inputs, inside
from .pixeltypes import nodata_fill
from .raster import RasterReader, is_tiff, read_raster, write_raster
from .sample import DEFAULT_IGNORE_INDEX
from .tiling import TILE_COLUMNS, tiling_settings

BLEND_MODES = ("gaussian", "cosine", "mean", "centre")
PROBABILITIES_COLUMN = "probabilities"


@dataclass
class StitchReport(OutputReport):
    sources: int = 0
    tiles: int = 0
    uncovered: dict[str, int] = field(default_factory=dict)  # source id -> pixels no tile covers


@dataclass(frozen=True)
class _Tile:
    y: int
    x: int
    row: ManifestRow
    probabilities: Path | None


@dataclass(frozen=True)
class _Job:
    id: str
    height: int
    width: int
    tiles: tuple[_Tile, ...]


def owned_intervals(starts_sizes: list[tuple[int, int]], length: int) -> dict[int, tuple[int, int]]:
    """Centre rule along one axis: tile start -> [a, b) of the pixels that tile supplies.

    Overlapping neighbours meet at `(next_start + this_end) // 2`; a gap between
    tiles (dropped tiles) stays unowned.
    """
    spans = sorted({s: max(n for s2, n in starts_sizes if s2 == s) for s, _ in starts_sizes}.items())
    owned: dict[int, tuple[int, int]] = {}
    for i, (start, size) in enumerate(spans):
        end = min(start + size, length)
        a, b = max(start, 0), end
        if i > 0:
            prev_start, prev_size = spans[i - 1]
            prev_end = min(prev_start + prev_size, length)
            if prev_end > start:
                a = (start + prev_end) // 2
        if i + 1 < len(spans):
            next_start = spans[i + 1][0]
            if end > next_start:
                b = (next_start + end) // 2
        owned[start] = (a, b)
    return owned


def blend_window(height: int, width: int, mode: str) -> np.ndarray:
    """(height, width) float32 weights, largest in the middle, never zero (edges still count a little)."""
    if mode not in BLEND_MODES:
        raise UsageError(None, f"--blend must be one of {', '.join(BLEND_MODES)}, not {mode!r}")

    def axis(n: int) -> np.ndarray:
        i = np.arange(n, dtype=np.float64) + 0.5
        if mode == "gaussian":
            sigma = max(n / 8.0, 1e-3)
            w = np.exp(-0.5 * ((i - n / 2.0) / sigma) ** 2)
        elif mode == "cosine":
            w = 0.5 - 0.5 * np.cos(2.0 * np.pi * i / n)
        else:
            w = np.ones(n)
        return np.maximum(w, 1e-4)

    return np.outer(axis(height), axis(width)).astype(np.float32)


def stitch_manifest(
    manifest: Manifest | PathLike,
    out_dir: PathLike,
    *,
    blend: str = "gaussian",
    ignore_index: int | None = None,
    force: bool = False,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> StitchReport:
    """Rebuild every source of a tiles manifest into `out_dir` (images/, masks/, probabilities/, manifest.csv).

    `blend` applies to probability maps only; images and masks always use the
    centre rule. `ignore_index` (default: the one `tile` used, from its
    tiling.json; else the palette's beside the manifest, else 255) fills mask
    pixels no tile covers.
    """
    src = require_rows(manifest if isinstance(manifest, Manifest) else read_manifest(manifest))
    if blend not in BLEND_MODES:
        raise UsageError(None, f"--blend must be one of {', '.join(BLEND_MODES)}, not {blend!r}")
    out = Path(out_dir)
    inputs = Inputs.of_manifest(src)
    inputs.guard_folder(out, force=force, command="stitch")
    inputs.check_written([out / "manifest.csv"])
    settings = tiling_settings(src.path)
    jobs = _group(src, padded=settings.get("pad") != "none")  # no tiling.json (predict's outputs): may be padded
    if ignore_index is None:
        ignore_index = settings.get("ignore_index")
    if ignore_index is None:
        palette = resolve_palette(None, src.path) if src.path is not None else None
        ignore_index = palette.ignore_index if palette is not None else DEFAULT_IGNORE_INDEX
    fresh = missing_folders(out, (job.id for job in jobs), ("images", "masks", "probabilities"))
    results = run_items(_Stitcher(out, blend, int(ignore_index)), jobs, executor=executor, on_error=on_error,
                        desc="stitch", quiet=quiet, unit="image")
    report = StitchReport(out, sources=len(jobs), tiles=len(src))
    rows = []
    for job, result in zip(jobs, results):
        if result.ok:
            row, uncovered = result.value
            rows.append(row)
            if uncovered:
                report.uncovered[job.id] = uncovered
    report.errors = errors_of(results)
    if report.errors and not rows:  # an empty manifest would read as a finished run
        remove_empty(fresh)  # the failed sources wrote no file (staged): nor do they leave their folders
        raise all_failed(src.path, report.errors, "sources")
    report.manifest_path = write_manifest(rows, out / "manifest.csv")
    mark_owner(out, "stitch")
    return report


def _group(src: Manifest, padded: bool = False) -> list[_Job]:
    """The tiles of each source, checked to rebuild it: a hand-edited or mixed manifest (a tile at -5, two tiles at
    one place, tiles of two runs' sizes) was stitched into wrong pixels, exit 0, or failed in numpy. Tiles run past
    the source only where `tile` padded them."""
    missing = [c for c in TILE_COLUMNS if c not in src.extra_columns]
    if missing:
        raise UsageError(src.path, f"not a tiles manifest: missing column(s) {', '.join(missing)} "
                                   "(write one with 'dataprep tile')")
    base = Path(os.path.abspath(src.path.parent)) if src.path is not None else Path.cwd()
    tiles: dict[str, list[_Tile]] = defaultdict(list)
    sizes: dict[str, tuple[int, int]] = {}
    for row in src:
        e = row.extra
        try:
            sid, y, x = e["source_id"], int(e["tile_y"]), int(e["tile_x"])
            size = (int(e["source_height"]), int(e["source_width"]))
        except ValueError:
            raise DataprepError(src.path, f"row {row.id!r}: tile_y, tile_x, source_width and source_height "
                                          "must be integers") from None
        resized = tuple(e.get(c) for c in ORIGINAL_SIZE_COLUMNS)
        if all(resized) and resized != (str(row.width), str(row.height)):
            raise DataprepError(src.path, f"row {row.id!r}: the tile was resized (from {resized[0]}x{resized[1]} to "
                                          f"{row.width}x{row.height}), but its tile_y/tile_x are pixels of the source "
                                          "at its own size; stitch the tiles as cut, then resize the result")
        if sizes.setdefault(sid, size) != size:
            raise DataprepError(src.path, f"row {row.id!r}: source {sid!r} has two sizes "
                                          f"({sizes[sid][1]}x{sizes[sid][0]} and {size[1]}x{size[0]})")
        _check_place(src.path, row, sid, y, x, size, padded)
        prob = e.get(PROBABILITIES_COLUMN) or None
        tiles[sid].append(_Tile(y, x, row, (base / prob) if prob else None))
    for sid, ts in tiles.items():
        _check_one_grid(src.path, sid, ts)
    return [_Job(sid, *sizes[sid], tuple(ts)) for sid, ts in tiles.items()]


def _check_place(path: Path | None, row: ManifestRow, sid: str, y: int, x: int, size: tuple[int, int],
                 padded: bool) -> None:
    height, width = size
    starts_inside = 0 <= y < height and 0 <= x < width
    if not starts_inside or (not padded and (y + row.height > height or x + row.width > width)):
        raise DataprepError(path, f"row {row.id!r}: a {row.width}x{row.height} tile at tile_y {y}, tile_x {x} "
                                  f"{'runs past' if starts_inside else 'lies outside'} its {width}x{height} source "
                                  f"{sid!r}; was the manifest edited?")


def _check_one_grid(path: Path | None, sid: str, tiles: list[_Tile]) -> None:
    seen: dict[tuple[int, int], str] = {}
    for t in tiles:
        if (t.y, t.x) in seen:
            raise DataprepError(path, f"rows {seen[t.y, t.x]!r} and {t.row.id!r}: two tiles of source {sid!r} at "
                                      f"tile_y {t.y}, tile_x {t.x}")
        seen[t.y, t.x] = t.row.id
    first = tiles[0].row
    other = next((t.row for t in tiles if (t.row.width, t.row.height) != (first.width, first.height)), None)
    if other is not None:
        raise DataprepError(path, f"rows {first.id!r} and {other.id!r}: tiles of source {sid!r} of two sizes "
                                  f"({first.width}x{first.height}, {other.width}x{other.height}): the tiles of one "
                                  "`tile` run rebuild a source, not a mix of runs")


class _Stitcher:
    def __init__(self, out_dir: Path, blend: str, ignore_index: int) -> None:
        self.out_dir, self.blend, self.ignore_index = out_dir, blend, ignore_index

    def __call__(self, job: _Job) -> tuple[ManifestRow, int]:
        H, W = job.height, job.width
        ys = owned_intervals([(t.y, t.row.height) for t in job.tiles], H)
        xs = owned_intervals([(t.x, t.row.width) for t in job.tiles], W)
        first = job.tiles[0].row
        owned = sum(max(0, ys[t.y][1] - ys[t.y][0]) * max(0, xs[t.x][1] - xs[t.x][0]) for t in job.tiles)
        holes = None
        if owned < H * W:  # dropped tiles: the pixels no present tile owns
            holes = np.ones((H, W), bool)
            for t in job.tiles:
                holes[slice(*ys[t.y]), slice(*xs[t.x])] = False
        # Everything is built before anything is written: a source whose mask tiles failed left its image behind.
        image, geo, photometric, alpha = self._stitch_images(job, ys, xs, _copy(holes))
        mask = palette = probs = None
        if any(t.row.mask for t in job.tiles):
            mask, palette = self._stitch_masks(job, ys, xs, _copy(holes))
        if any(t.probabilities for t in job.tiles):
            probs = self._stitch_probabilities(job, ys, xs, _copy(holes))
        image_path = inside(self.out_dir, "images", f"{job.id}{first.image.suffix.lower()}")
        mask_path = None
        extra = {k: v for k, v in first.extra.items() if k not in TILE_COLUMNS and k != PROBABILITIES_COLUMN}
        with staged():  # and written all-or-nothing: a full disk at the mask left the image behind
            write_raster(image_path, image, geo=geo, photometric=photometric, alpha=alpha)
            if mask is not None:
                mask_ext = next(t.row.mask.suffix.lower() for t in job.tiles if t.row.mask)
                mask_path = inside(self.out_dir, "masks", f"{job.id}{mask_ext}")
                mask_geo = geo.placement() if geo is not None and is_tiff(mask_path) else None
                write_raster(mask_path, mask, mask=True, palette=palette, geo=mask_geo)
            if probs is not None:
                rel = Path("probabilities") / f"{job.id}.tif"
                write_raster(inside(self.out_dir, rel.as_posix()), probs)
                extra[PROBABILITIES_COLUMN] = rel.as_posix()
        uncovered = 0
        if holes is not None:
            for t in job.tiles:  # what no tile reaches at all
                holes[t.y : t.y + t.row.height, t.x : t.x + t.row.width] = False
            uncovered = int(np.count_nonzero(holes))
        return ManifestRow(job.id, image_path, mask_path, W, H, extra), uncovered

    def _stitch_images(self, job: _Job, ys, xs, holes):
        out = None
        geo = photometric = None
        alpha: str | None = None
        for t in job.tiles:
            with RasterReader(t.row.image, upright=True) as reader:
                tile = reader.read_all()
                if out is None:
                    # What no tile covers is nodata where the tiles say what that is (0 is a value there).
                    fill = nodata_fill(reader.geo.nodata if reader.geo is not None else None, tile.dtype)
                    out = np.full((job.height, job.width, tile.shape[2]), fill, tile.dtype)
                    geo = reader.geo.shifted(-t.y, -t.x) if reader.geo is not None else None
                    photometric, alpha = reader.photometric, reader.alpha_sample
            _check_tile(t.row.image, tile, out, t.row)
            _paste(out, tile, t.y, t.x, ys[t.y], xs[t.x], holes)
        return out, geo, photometric, alpha

    def _stitch_masks(self, job: _Job, ys, xs, holes):
        out = None
        palette = None
        for t in job.tiles:
            if t.row.mask is None:
                raise DataprepError(t.row.image, f"tile {t.row.id!r} has no mask but other tiles of {job.id!r} do")
            tile = read_raster(t.row.mask, mask=True)
            if tile.ndim != 2:
                raise DataprepError(t.row.mask, "stitch needs class-index label maps, not colour masks")
            if out is None:
                if tile.dtype.kind in "iu" and not (np.iinfo(tile.dtype).min <= self.ignore_index
                                                    <= np.iinfo(tile.dtype).max):
                    raise DataprepError(t.row.mask, f"ignore index {self.ignore_index} does not fit this "
                                                    f"{tile.dtype} mask")
                out = np.full((job.height, job.width), self.ignore_index, dtype=tile.dtype)
                palette = read_mask_palette(t.row.mask)  # a palette TIFF's too
            _check_tile(t.row.mask, tile, out, t.row)
            _paste(out, tile, t.y, t.x, ys[t.y], xs[t.x], holes)
        return out, palette

    def _stitch_probabilities(self, job: _Job, ys, xs, holes) -> np.ndarray:
        acc = weights = None
        for t in job.tiles:
            if t.probabilities is None:
                raise DataprepError(t.row.image, f"tile {t.row.id!r} has no probabilities but other tiles of {job.id!r} do")
            tile = read_raster(t.probabilities).astype(np.float32, copy=False)
            if acc is None:
                acc = np.zeros((job.height, job.width, tile.shape[2]), np.float32)
                weights = np.zeros((job.height, job.width), np.float32)
            _check_tile(t.probabilities, tile, acc, t.row, same_dtype=False)
            if self.blend == "centre":
                _paste(acc, tile, t.y, t.x, ys[t.y], xs[t.x], holes, clear=False)
                _paste(weights, np.ones(tile.shape[:2], np.float32), t.y, t.x, ys[t.y], xs[t.x], holes)
                continue
            h, w = min(tile.shape[0], job.height - t.y), min(tile.shape[1], job.width - t.x)
            win = blend_window(tile.shape[0], tile.shape[1], self.blend)[:h, :w]
            acc[t.y : t.y + h, t.x : t.x + w] += tile[:h, :w] * win[:, :, None]
            weights[t.y : t.y + h, t.x : t.x + w] += win
        np.divide(acc, weights[:, :, None], out=acc, where=weights[:, :, None] > 0)
        return acc


def _check_tile(path: Path, tile: np.ndarray, out: np.ndarray, row: ManifestRow, *, same_dtype: bool = True) -> None:
    if same_dtype and tile.dtype != out.dtype:
        raise DataprepError(path, f"tile is {tile.dtype}, the other tiles of its source {out.dtype}")
    if tile.shape[:2] != (row.height, row.width):
        raise DataprepError(path, f"tile is {tile.shape[1]}x{tile.shape[0]} but the manifest says "
                                  f"{row.width}x{row.height}")
    if tile.ndim != out.ndim or (tile.ndim == 3 and tile.shape[2] != out.shape[2]):
        raise DataprepError(path, f"tile has {tile.shape[2] if tile.ndim == 3 else 1} band(s), "
                                  f"the other tiles of its source {out.shape[2] if out.ndim == 3 else 1}")


def _paste(out: np.ndarray, tile: np.ndarray, y: int, x: int, rows: tuple[int, int], cols: tuple[int, int],
           holes: np.ndarray | None = None, *, clear: bool = True) -> None:
    """Copy the tile's own (centre-rule) rectangle; then fill holes it covers that no present tile owns.

    Holes are pixels whose owner was dropped; the first tile that reaches one
    fills it (`clear` marks it filled). Owned rectangles never contain holes,
    so the order of the tiles does not change the owned pixels.
    """
    (a, b), (c, d) = rows, cols
    if a < b and c < d:
        out[a:b, c:d] = tile[a - y : b - y, c - x : d - x]
    if holes is None:
        return
    h, w = min(tile.shape[0], out.shape[0] - y), min(tile.shape[1], out.shape[1] - x)
    region = holes[y : y + h, x : x + w]
    if region.any():
        out[y : y + h, x : x + w][region] = tile[:h, :w][region]
        if clear:
            region[:] = False


def _copy(holes: np.ndarray | None) -> np.ndarray | None:
    return None if holes is None else holes.copy()

"""`dataprep tile`: cut large images and their label maps into a grid of tiles.

The grid covers every pixel. Along each axis of length L with tile size T and
stride S (= T - overlap), tiles start at 0, S, 2S, ... and then:

- `pad="none"` (default, as MMSegmentation's `clip_big_image`): the last tile is
  shifted inward to end exactly at L, so every tile is T pixels and holds only
  real pixels; it overlaps its neighbour by more than the others do;
- `pad="ignore"` / `"reflect"`: the last tile starts on the stride grid and
  runs past L; the part outside is filled: images with 0 (`ignore`) or their
  mirror image (`reflect`, numpy's "reflect" = OpenCV's BORDER_REFLECT_101),
  masks always with the ignore index, so padding never counts as a class.

An axis shorter than T gets one tile: L pixels long with `pad="none"`, T
pixels with padding.

Tiles keep the data's own pixel type: TIFF sources give TIFF tiles (any number
of bands, uint8/uint16/float, georeference shifted to each tile), other
sources PNG tiles when PNG holds the pixels exactly, else TIFF. Masks become
PNG label maps (palette PNGs keep their palette).

The tiles manifest has the tile's `id`, `image`, `mask`, `width`, `height`,
every column of its source row, and `source_id`, `tile_y`, `tile_x` (the
tile's top-left pixel in the source), `source_width`, `source_height` and
`group` (the source's own `group`, else its id), so `dataprep kfold
--group-column group` keeps each scene in one fold, and `dataprep stitch` can
put the tiles back.

Memory: TIFF sources are read one band of tile rows at a time (only the
strips/tiles of the file under that band are decoded, see dataprep.raster),
so a scene larger than RAM can be tiled when its TIFF is striped or tiled.
Other formats are decoded whole, once per source.
"""
from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import DataprepError, UsageError, all_failed
from .option_ranges import check_seed, ignore_index_refusal
from .executor import Executor, OnError, errors_of, run_items
from .extra_masks import refuse_extra_masks
from .folder_settings import claim_folder, release_folder
from .io import (PathLike, atomic_write_bytes, atomic_write_text, check_manifest_size, mask_size_error,
                 read_mask_palette, staged)
from .manifest import Manifest, ManifestRow, read_manifest, require_rows, write_manifest
from .outputs import OutputReport, missing_folders, remove_empty
from .palette import find_palette, resolve_palette
from .paths import Inputs, inside
from .pixeltypes import is_nodata, nodata_fill
from .raster import RasterReader, is_tiff, png_can_hold, write_raster
from .sample import DEFAULT_IGNORE_INDEX

PAD_MODES = ("none", "ignore", "reflect")
# Columns `tile` adds; `stitch` removes them again.
TILE_COLUMNS = ("source_id", "tile_y", "tile_x", "source_width", "source_height")
TILING_FILE = "tiling.json"  # the settings stitch reads back (ignore index, grid) beside the tiles manifest


NODATA_MASK_MODES: tuple[str, ...] = ("ignore", "keep")
MASK_FORMATS: tuple[str, ...] = ("png", "tif")


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """'256' -> (256, 256); '256x320' -> (height 256, width 320). `option` names it in errors."""
    parts = str(text).lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise UsageError(None, f"{option} {text!r}: expected H or HxW in pixels, e.g. 512 or 512x768") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2 or min(values) < 1:
        raise UsageError(None, f"{option} {text!r}: expected H or HxW with positive sizes")
    return values[0], values[1]


def tile_starts(length: int, size: int, stride: int, *, pad: bool) -> list[int]:
    """Top (or left) pixel of each tile along one axis; the tiles cover 0..length-1.

    Without padding the last tile is shifted inward to end at `length`; with
    padding it stays on the stride grid and runs past the end.
    """
    if stride < 1 or stride > size:
        raise UsageError(None, f"stride {stride} must be between 1 and the tile size {size}")
    if length <= size:
        return [0]
    if pad:
        return [i * stride for i in range(math.ceil((length - size) / stride) + 1)]
    return [*range(0, length - size, stride), length - size]


@dataclass(frozen=True)
class TileParams:
    size: tuple[int, int]  # (height, width)
    stride: tuple[int, int]
    pad: str = "none"
    min_labelled: float = 0.0  # share of a tile's pixels that must be labelled (not ignore)
    keep_empty: float = 1.0  # share of empty tiles kept (no class but background and ignore)
    background: int = 0
    ignore_index: int = DEFAULT_IGNORE_INDEX
    seed: int = 0
    max_nodata: float = 1.0  # share of a tile's pixels that may be GeoTIFF nodata (every band the nodata value)
    nodata_mask: str = "ignore"  # ignore: masks get the ignore index where the image is nodata; keep: as stored
    mask_format: str = "png"  # png (palette PNGs), or tif: GeoTIFF label maps placed where their image tiles are

    def __post_init__(self) -> None:
        if self.pad not in PAD_MODES:
            raise UsageError(None, f"--pad must be one of {', '.join(PAD_MODES)}, not {self.pad!r}")
        for s, t in zip(self.stride, self.size):
            if not 1 <= s <= t:
                raise UsageError(None, f"stride {s} must be between 1 and the tile size {t} (overlap below the size)")
        if not 0.0 <= self.min_labelled <= 1.0:
            raise UsageError(None, f"--min-labelled must be a fraction in 0..1, not {self.min_labelled}")
        if not 0.0 <= self.keep_empty <= 1.0:
            raise UsageError(None, f"--keep-empty must be in 0..100%, not {100 * self.keep_empty:g}%")
        refusal = ignore_index_refusal(self.ignore_index)
        if refusal:
            raise UsageError(None, f"--ignore-index {refusal}")
        check_seed(self.seed)  # numpy refused -1 in each worker, after the other tiles and the manifest were written
        if not 0.0 <= self.max_nodata <= 1.0:
            raise UsageError(None, f"--max-nodata must be a fraction in 0..1, not {self.max_nodata}")
        if self.nodata_mask not in NODATA_MASK_MODES:
            raise UsageError(None, f"--nodata-mask must be one of {', '.join(NODATA_MASK_MODES)}, "
                                   f"not {self.nodata_mask!r}")
        if self.mask_format not in MASK_FORMATS:
            raise UsageError(None, f"--mask-format must be one of {', '.join(MASK_FORMATS)}, not {self.mask_format!r}")

    def grid(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """(y, x, tile height, tile width) of every tile of a height x width source, row by row."""
        padded = self.pad != "none"
        th = self.size[0] if padded else min(self.size[0], height)
        tw = self.size[1] if padded else min(self.size[1], width)
        ys = tile_starts(height, self.size[0], self.stride[0], pad=padded)
        xs = tile_starts(width, self.size[1], self.stride[1], pad=padded)
        return [(y, x, th, tw) for y in ys for x in xs]


@dataclass
class TileReport(OutputReport):
    sources: int = 0
    tiles: int = 0
    dropped_unlabelled: int = 0  # below --min-labelled
    dropped_empty: int = 0  # empty tiles not kept by --keep-empty
    dropped_nodata: int = 0  # above --max-nodata
    nodata_ignored: int = 0  # tile mask pixels set to ignore because the image is nodata there (per tile)
    smaller: int = 0  # tiles of images smaller than a tile (pad none): not the tile size
    size: tuple[int, int] = (0, 0)  # the tile size asked for (height, width)

    @property
    def failed(self) -> int:
        return len(self.errors)


@dataclass(frozen=True)
class _SourceResult:
    rows: list[ManifestRow]
    dropped_unlabelled: int
    dropped_empty: int
    dropped_nodata: int
    nodata_ignored: int = 0


def tile_manifest(
    manifest: Manifest | PathLike,
    out_dir: PathLike,
    *,
    size: int | tuple[int, int],
    overlap: int | tuple[int, int] | None = None,
    stride: int | tuple[int, int] | None = None,
    pad: str = "none",
    min_labelled: float = 0.0,
    keep_empty: float = 1.0,
    background: int = 0,
    ignore_index: int | None = None,
    seed: int = 0,
    max_nodata: float = 1.0,
    nodata_mask: str = "ignore",
    mask_format: str = "png",
    force: bool = False,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> TileReport:
    """Tile every row of `manifest` into `out_dir` (images/, masks/, manifest.csv); see the module docstring.

    `overlap` or `stride` (not both; default overlap 0) set the step between
    tiles. `ignore_index` defaults to the palette's beside the manifest, else 255.
    `max_nodata` drops tiles of which more than that share is a GeoTIFF's nodata
    (pixels whose every band holds the GDAL_NODATA value; padding is not nodata).
    `nodata_mask="ignore"` writes the ignore index into the masks where the image
    is nodata (what a sensor did not see is not background); "keep" leaves them.
    `mask_format="tif"` writes the label maps as TIFF, placed (GeoTIFF tags, no
    nodata) where their image tiles are when the image is a GeoTIFF.
    """
    src = require_rows(manifest if isinstance(manifest, Manifest) else read_manifest(manifest))
    for row in src:
        refuse_extra_masks(row, "tile")
    out = Path(out_dir)
    # trees: not into the images' or masks' folders, whose next scan would take the outputs for data
    inputs = Inputs.of_manifest(src, trees=True)
    inputs.guard_folder(out, force=force, command="tile")
    inputs.check_written([out / "manifest.csv"])
    params = TileParams(_pair(size), _stride(_pair(size), overlap, stride), pad, min_labelled, keep_empty,
                        background, _ignore_index(ignore_index, src), seed, max_nodata, nodata_mask, mask_format)
    fresh = missing_folders(out, (r.id for r in src.rows), ("images", "masks"))  # before claim_folder makes `out`
    claimed = claim_folder(out, "tile", asdict(params), src.rows)
    results = run_items(_Tiler(params, out), src.rows, executor=executor, on_error=on_error,
                        desc="tile", quiet=quiet)
    report = TileReport(out, sources=len(src))
    rows: list[ManifestRow] = []
    for result in results:
        if result.ok and result.value is not None:
            rows.extend(result.value.rows)
            report.dropped_unlabelled += result.value.dropped_unlabelled
            report.dropped_empty += result.value.dropped_empty
            report.dropped_nodata += result.value.dropped_nodata
            report.nodata_ignored += result.value.nodata_ignored
    report.tiles = len(rows)
    report.size = params.size
    report.smaller = sum(1 for r in rows if (r.height, r.width) != params.size)
    report.errors = errors_of(results)
    if report.errors and not any(r.ok for r in results):  # an empty manifest and tiling.json beside nothing
        remove_empty(fresh)  # the failed sources left no tiles (staged): nor do they leave their folders
        if claimed:
            release_folder(out, "tile")
        raise all_failed(src.path, report.errors, "sources")
    report.manifest_path = write_manifest(rows, out / "manifest.csv")
    # What `stitch` needs and the manifest does not say: CamVid tiled with --ignore-index 11 was stitched with
    # 255 in every pixel no tile covers, a label outside its classes.
    atomic_write_text(out / TILING_FILE, json.dumps({"ignore_index": params.ignore_index, "size": params.size,
                                                     "stride": params.stride, "pad": params.pad}) + "\n")
    if src.path is not None:
        palette_file = find_palette(Path(src.path).parent)
        if palette_file is not None and Path(palette_file).resolve() != (out / Path(palette_file).name).resolve():
            atomic_write_bytes(out / Path(palette_file).name, Path(palette_file).read_bytes())
    return report


def tiling_settings(manifest_path: PathLike | None) -> dict:
    """The settings `tile` wrote beside a tiles manifest ({} when there are none)."""
    if manifest_path is None:
        return {}
    path = Path(manifest_path).parent / TILING_FILE
    try:
        settings = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    a, b = value
    return int(a), int(b)


def _stride(size: tuple[int, int], overlap, stride) -> tuple[int, int]:
    if overlap is not None and stride is not None:
        raise UsageError(None, "give --overlap or --stride, not both")
    if stride is not None:
        return _pair(stride)
    oy, ox = _pair(overlap or 0)
    if not (0 <= oy < size[0] and 0 <= ox < size[1]):
        raise UsageError(None, f"--overlap {overlap} must be at least 0 and below the tile size {size[0]}x{size[1]}")
    return size[0] - oy, size[1] - ox


def _ignore_index(value: int | None, manifest: Manifest) -> int:
    if value is not None:
        return int(value)
    palette = resolve_palette(None, manifest.path) if manifest.path is not None else None
    return palette.ignore_index if palette is not None else DEFAULT_IGNORE_INDEX


class _Tiler:
    """Tiles one source row (runs in worker processes: plain, picklable state)."""

    def __init__(self, params: TileParams, out_dir: Path) -> None:
        self.params, self.out_dir = params, out_dir

    def __call__(self, row: ManifestRow) -> _SourceResult:
        with RasterReader(row.image, upright=True) as image:
            # The tiles' source sizes are the file's: a row whose size is not (a file swapped since scan) is
            # refused as stats refuses it, not tiled by whatever the file now holds.
            check_manifest_size(row.image, (image.width, image.height), (row.width, row.height))
            mask_reader = RasterReader(row.mask, mask=True) if row.mask else None
            try:
                if mask_reader is not None:
                    self._check_mask(row, image, mask_reader)
                # A source's tiles are all-or-nothing: one failing at tile 3 (a full disk, a tile over the
                # file-size limit) left tiles 1-2 beside "all sources failed; nothing written", or beside a
                # manifest without them. Held back until the last is written, they never replace a previous run's.
                with staged():
                    return self._tile(row, image, mask_reader)
            finally:
                if mask_reader is not None:
                    mask_reader.close()

    def _check_mask(self, row: ManifestRow, image: RasterReader, mask: RasterReader) -> None:
        if (mask.height, mask.width) != (image.height, image.width):
            raise mask_size_error(row.mask, (mask.width, mask.height), (image.width, image.height))
        if mask.bands != 1:
            raise DataprepError(row.mask, "tile needs class-index label maps (colour masks: run masks2labels first)")
        if mask.dtype.kind not in "iu":
            raise DataprepError(row.mask, f"tile needs class-index label maps of whole numbers, not {mask.dtype} "
                                          "(save them as integer class indices, uint8 or uint16)")
        info = np.iinfo(mask.dtype)
        if not info.min <= self.params.ignore_index <= info.max:
            raise DataprepError(row.mask, f"ignore index {self.params.ignore_index} does not fit this {mask.dtype} mask")

    def _tile(self, row: ManifestRow, image: RasterReader, mask: RasterReader | None) -> _SourceResult:
        p = self.params
        H, W = image.height, image.width
        grid = p.grid(H, W)
        digits = len(str(max(H, W)))
        ext = ".tif" if is_tiff(row.image) or not _png_dtype(image) else ".png"
        png_mask = p.mask_format == "png" and (mask is None or mask.dtype in (np.uint8, np.uint16))
        mask_ext = ".png" if png_mask else ".tif"
        palette = read_mask_palette(row.mask) if row.mask else None  # a palette TIFF's colours too
        rows: list[ManifestRow] = []
        dropped_unlabelled = dropped_empty = dropped_nodata = nodata_ignored = 0
        wanted = p.max_nodata < 1.0 or (mask is not None and p.nodata_mask == "ignore")
        nodata = image.geo.nodata if image.geo is not None and wanted else None
        key = zlib.crc32(row.id.encode("utf-8"))
        band_y: int | None = None
        band_img = band_mask = None
        for y, x, th, tw in grid:
            if y != band_y:  # one band of tile rows at a time: bounded memory on striped TIFFs
                band_y = y
                band_img = self._read_band(image, y, th, W)
                band_mask = self._read_band(mask, y, th, W, is_mask=True) if mask is not None else None
            tile_mask = self._cut(band_mask, y, x, th, tw, H, W, is_mask=True) if band_mask is not None else None
            unseen, scene_pixels = None, th * tw
            if nodata is not None:
                window = band_img.data[y - band_img.top : y - band_img.top + th, x : x + tw]
                found = is_nodata(window, nodata).all(axis=-1)
                # --max-nodata is a share of the scene's pixels: an edge tile is mostly padding
                scene_pixels = found.size
                if found.any():
                    unseen = np.zeros((th, tw), bool)  # padding (beyond the image) is not nodata
                    unseen[: found.shape[0], : found.shape[1]] = found
            hidden = tile_mask is not None and unseen is not None and p.nodata_mask == "ignore"
            changed_to_ignore = 0
            if hidden:
                # Before the labelled-share rules: nodata pixels are not labelled.
                ignore = np.asarray(p.ignore_index, tile_mask.dtype)
                # The pixels changed, as the summary says: masks often mark the nodata collar ignore already.
                changed_to_ignore = int(np.count_nonzero(unseen & (tile_mask != ignore)))
                tile_mask = np.where(unseen, ignore, tile_mask)
            if tile_mask is not None:
                labelled = np.count_nonzero(tile_mask != p.ignore_index)
                if labelled < p.min_labelled * tile_mask.size or (p.min_labelled > 0 and labelled == 0):
                    dropped_unlabelled += 1
                    continue
                present = (tile_mask != p.ignore_index) & (tile_mask != p.background)
                if not present.any() and p.keep_empty < 1.0:
                    draw = np.random.default_rng([p.seed, key, y, x]).random()
                    if draw >= p.keep_empty:
                        dropped_empty += 1
                        continue
            unseen_pixels = int(np.count_nonzero(unseen)) if unseen is not None else 0
            if unseen_pixels > p.max_nodata * scene_pixels:
                dropped_nodata += 1
                continue
            nodata_ignored += changed_to_ignore
            fill = nodata_fill(image.geo.nodata if image.geo is not None else None, image.dtype)
            tile_img = self._cut(band_img, y, x, th, tw, H, W, fill=fill)
            tid = f"{row.id}_{y:0{digits}d}_{x:0{digits}d}"
            img_path = inside(self.out_dir, "images", f"{tid}{ext}")
            geo = image.geo.shifted(y, x) if image.geo is not None and ext == ".tif" else None
            write_raster(img_path, tile_img, geo=geo, photometric=image.photometric or _photometric(tile_img),
                         alpha=image.alpha_sample)
            mask_path = None
            if tile_mask is not None:
                mask_path = inside(self.out_dir, "masks", f"{tid}{mask_ext}")
                mask_geo = image.geo.shifted(y, x).placement() if image.geo is not None and not png_mask else None
                write_raster(mask_path, tile_mask, mask=True, palette=palette, geo=mask_geo)
            extra = {**row.extra, "source_id": row.id, "tile_y": str(y), "tile_x": str(x),
                     "source_width": str(W), "source_height": str(H),
                     "group": row.extra.get("group") or row.id}
            rows.append(ManifestRow(tid, img_path, mask_path, tw, th, extra))
        return _SourceResult(rows, dropped_unlabelled, dropped_empty, dropped_nodata, nodata_ignored)

    def _read_band(self, reader: RasterReader, y: int, th: int, W: int, *, is_mask: bool = False) -> "_Band":
        """Rows y..y+th of the source, plus, for reflect padding, the rows the mirror needs."""
        H = reader.height
        top = y
        if self.params.pad == "reflect" and not is_mask and y + th > H:
            top = min(y, max(0, H - 1 - (y + th - H)))
        return _Band(reader.read(top, y + th, 0, W), top)

    def _cut(self, band: "_Band", y: int, x: int, th: int, tw: int, H: int, W: int, *, is_mask: bool = False,
             fill: float = 0) -> np.ndarray:
        p = self.params
        data, top = band.data, band.top
        x0 = x
        if p.pad == "reflect" and not is_mask and x + tw > W:
            x0 = min(x, max(0, W - 1 - (x + tw - W)))
        block = data[:, x0 : x + tw]  # rows top..min(H, y+th), columns x0..min(W, x+tw)
        pad_y, pad_x = y + th - (top + block.shape[0]), x + tw - (x0 + block.shape[1])
        if pad_y or pad_x:
            widths = ((0, pad_y), (0, pad_x), (0, 0))
            if is_mask:
                block = np.pad(block, widths, mode="constant", constant_values=p.ignore_index)
            elif p.pad == "reflect":
                block = _reflect(block, widths)
            else:
                block = np.pad(block, widths, mode="constant", constant_values=fill)  # a tagged nodata value, else 0
        block = block[y - top :, x - x0 :]
        return np.ascontiguousarray(block[:, :, 0] if is_mask else block)


@dataclass(frozen=True)
class _Band:
    data: np.ndarray
    top: int


def _reflect(block: np.ndarray, widths) -> np.ndarray:
    # numpy's reflect needs at least 2 pixels along a padded axis; 1 pixel can only repeat.
    if (widths[0][1] and block.shape[0] < 2) or (widths[1][1] and block.shape[1] < 2):
        return np.pad(block, widths, mode="edge")
    return np.pad(block, widths, mode="reflect")


def _png_dtype(reader: RasterReader) -> bool:
    return png_can_hold(np.empty((1, 1, reader.bands), reader.dtype))


def _photometric(array: np.ndarray) -> str | None:
    return "rgb" if array.ndim == 3 and array.shape[2] in (3, 4) and array.dtype == np.uint8 else None

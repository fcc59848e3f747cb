"""`dataprep merge-bands`: one file per band (38-Cloud, Landsat scenes) to one multi-band image per sample.

Satellite sets often store each band of a scene in a file of its own:
38-Cloud keeps `train_red/red_patch_X.TIF`, `train_green/green_patch_X.TIF`,
`train_blue/...`, `train_nir/...` and the mask `train_gt/gt_patch_X.TIF`; a
Landsat scene is `..._B1.TIF` to `..._B11.TIF`. Every other command reads one
image per sample, so the bands are merged first:

- each `--band` is a path pattern with `{id}` (any text without a `/`) in its
  file name, and in its folders too where each sample has one (`{id}/{id}_B4.TIF`);
  the samples are the ids of the first pattern's files, and every other band
  must have its file for each of them;
- `DEST/images/<id>.tif` holds the bands in the order given (each file's
  bands, so a 3-band RGB file and a 1-band NIR file give 4), pixels and dtype
  as stored, no alpha tag, the GeoTIFF tags of the first georeferenced band's file (every
  band must lie on its grid, CRS, pixel size and origin, and declare its nodata
  value: one file holds one of each);
- `--mask` (a pattern too) pairs each sample with its mask where it lies (not
  copied), as `scan` would; DEST/manifest.csv lists the pairs.

Every band of a sample must have the same size and dtype, and the mask that
size; a sample that fails is named with its file and left out. Samples are
merged one at a time (memory: one sample), in worker processes with `-j`.
"""
from __future__ import annotations

import glob
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import io
from .errors import DataprepError, UsageError, all_failed
from .executor import Executor, OnError, errors_of, run_items
from .folder_settings import mark_owner
from .io import PathLike
from .manifest import ManifestRow, write_manifest
from .outputs import OutputReport, missing_folders, remove_empty
from .paths import Inputs, inside
from .raster import GeoTags, RasterReader, write_raster

ID_FIELD = "{id}"


@dataclass
class MergeBandsReport(OutputReport):
    samples: int = 0  # ids found in the first band's pattern
    # Per other pattern with files the first band lacks: (pattern, how many, one of them); those are left out.
    unmatched: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BandPattern:
    """A path with `{id}` in it, once (`train_red/red_{id}.TIF`) or more, always the same text
    (a Landsat download, one folder per scene: `{id}/{id}_B4.TIF`)."""

    text: str

    def __post_init__(self) -> None:
        if ID_FIELD not in os.path.basename(self.text):
            raise UsageError(None, f"pattern {self.text!r} needs {ID_FIELD} in its file name "
                                   f"(e.g. train_red/red_{ID_FIELD}.TIF)")

    def path(self, sample_id: str) -> Path:
        return Path(self.text.replace(ID_FIELD, sample_id))

    @property
    def folder(self) -> Path:
        """The folder above every file of the pattern: where the text before the first {id} ends."""
        return Path(os.path.dirname(self.text.split(ID_FIELD, 1)[0]) or ".")

    def ids(self) -> list[str]:
        """The ids of the files that exist, sorted."""
        parts = self.text.split(ID_FIELD)
        found = glob.glob("*".join(glob.escape(p) for p in parts))
        # The first {id} captures, the others must repeat it.
        pattern = re.escape(parts[0]) + "([^/]+)" + "".join(r"\1" + re.escape(p) if i else re.escape(p)
                                                            for i, p in enumerate(parts[1:]))
        match = re.compile(pattern)
        return sorted({m.group(1) for f in found if (m := match.fullmatch(f.replace(os.sep, "/"))) and
                       os.path.isfile(f)})


def merge_bands(
    bands: Sequence[str | BandPattern],
    out_dir: PathLike,
    *,
    mask: str | BandPattern | None = None,
    force: bool = False,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> MergeBandsReport:
    """Merge each sample's band files into `out_dir/images/<id>.tif`; see the module docstring."""
    patterns = [b if isinstance(b, BandPattern) else BandPattern(b) for b in bands]
    if len(patterns) < 2:
        raise UsageError(None, "give at least two --band patterns (one file per band, merged in that order)")
    mask_pattern = mask if isinstance(mask, BandPattern) or mask is None else BandPattern(mask)
    ids = patterns[0].ids()
    if not ids:
        raise DataprepError(None, f"no file matches the first band's pattern {patterns[0].text!r}")
    out = Path(out_dir)
    sources = [p.path(i) for i in ids for p in patterns]
    if mask_pattern is not None:
        sources += [mask_pattern.path(i) for i in ids]
    # Not into a band's folder: the next scan (or glob) would take the outputs for data.
    folders = {p.folder for p in [*patterns, *([mask_pattern] if mask_pattern else [])]}
    inputs = Inputs([s for s in sources if s.exists()], sorted(folders))
    inputs.guard_folder(out, force=force, command="merge-bands")
    inputs.check_written([out / "manifest.csv"])
    fresh = missing_folders(out, ids, ("images",))  # before the first sample makes them
    results = run_items(_SampleMerger(tuple(patterns), mask_pattern, out), ids, executor=executor,
                        on_error=on_error, desc="merge-bands", quiet=quiet, unit="sample")
    rows = [r.value for r in results if r.ok and r.value is not None]
    report = MergeBandsReport(out, errors=errors_of(results), samples=len(ids))
    if report.errors and not rows:
        # A NIR band without the others' nodata tag failed every sample: one error per sample and a header-only
        # manifest that read as a merged, empty dataset (exit 1 all the same).
        remove_empty(fresh)
        raise all_failed(patterns[0].text, report.errors, "samples")
    known = set(ids)
    for pattern in [*patterns[1:], *([mask_pattern] if mask_pattern else [])]:
        extra = [i for i in pattern.ids() if i not in known]
        if extra:
            report.unmatched.append((pattern.text, len(extra), str(pattern.path(extra[0]))))
    report.manifest_path = write_manifest(rows, out / "manifest.csv")
    mark_owner(out, "merge-bands")
    return report


@dataclass(frozen=True)
class _SampleMerger:
    """Merges one sample's bands (runs in worker processes: plain, picklable state)."""

    bands: tuple[BandPattern, ...]
    mask: BandPattern | None
    out_dir: Path

    def __call__(self, sample_id: str) -> ManifestRow:
        first = self.bands[0].path(sample_id)
        arrays: list[np.ndarray] = []
        geo = None
        # The first band that says where it lies: the merged file's georeference, whichever band it is (the
        # output had none when the first band had none), and the grid every other georeferenced band must share.
        placed: tuple[Path, GeoTags] | None = None
        for pattern in self.bands:
            path = pattern.path(sample_id)
            if not path.is_file():
                raise DataprepError(path, f"missing: band {pattern.text!r} has no file for sample {sample_id!r}")
            with RasterReader(path, upright=True) as reader:
                pixels, band_geo = reader.read_all(), reader.geo
            if not arrays:
                geo = band_geo
            if arrays and (pixels.shape[:2] != arrays[0].shape[:2] or pixels.dtype != arrays[0].dtype):
                raise DataprepError(path, f"is {_describe(pixels)} but {first} is {_describe(arrays[0])}; "
                                          "the bands of a sample must have one size and dtype")
            if arrays:
                _check_same_nodata(path, band_geo, first, geo, pixels.dtype)
            if band_geo is not None and band_geo.georeferenced:
                if placed is not None:
                    _check_same_grid(path, band_geo, *placed)
                else:
                    placed = (path, band_geo)
            arrays.append(pixels)
        if placed is not None:
            geo = placed[1]  # its nodata is every band's (checked above)
        image = np.concatenate(arrays, axis=2)
        mask_path = None
        if self.mask is not None:
            mask_path = self.mask.path(sample_id)
            if not mask_path.is_file():
                raise DataprepError(mask_path, f"missing: the mask of sample {sample_id!r}")
            info = io.read_info(mask_path)
            if (info.height, info.width) != image.shape[:2]:
                raise DataprepError(mask_path, f"is {info.width}x{info.height} but its bands are "
                                               f"{image.shape[1]}x{image.shape[0]}")
        image_path = inside(self.out_dir, "images", f"{sample_id}.tif")
        write_raster(image_path, image, geo=geo)
        return ManifestRow(sample_id, image_path, mask_path, image.shape[1], image.shape[0])


def _check_same_grid(path: Path, band: GeoTags, first: Path, first_geo: GeoTags) -> None:
    """One file holds one georeference for all its bands: bands of another grid (a 20 m Sentinel-2 band beside
    10 m ones, another UTM zone) were merged under the first band's."""
    if what := first_geo.grid_difference(band):
        raise DataprepError(path, f"its {what} differs from {first}'s: bands of a sample must lie on one grid "
                                  "(resample or reproject it first)")


def _check_same_nodata(path: Path, band: GeoTags | None, first: Path, first_geo: GeoTags | None,
                       dtype: np.dtype) -> None:
    """One file holds one nodata value for all its bands."""
    mine, theirs = (g.nodata if g is not None else None for g in (band, first_geo))
    if not _same_nodata(mine, theirs, dtype):
        shown = [_nodata(v, precise=_nodata(mine) == _nodata(theirs)) for v in (mine, theirs)]
        raise DataprepError(path, f"declares nodata {shown[0]} but {first} declares {shown[1]}: a merged file "
                                  "holds one nodata value for every band")


def _same_nodata(a: float | None, b: float | None, dtype: np.dtype) -> bool:
    """The same value in the pixels' dtype. float32's lowest is written -3.4028234663852886e+38 or -3.40282e+38,
    which GDAL reads as one (GDALAdjustNoDataCloseToFloatMax)."""
    if a is None or b is None:
        return a is b
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    if dtype.kind == "f":
        top = float(np.finfo(dtype).max)
        a, b = (math.copysign(top, v) if abs(abs(v) - top) <= top * 1e-5 else v for v in (a, b))
        with np.errstate(over="ignore"):
            return bool(np.asarray(a).astype(dtype) == np.asarray(b).astype(dtype))
    return a == b


def _nodata(value: float | None, precise: bool = False) -> str:
    return "none" if value is None else repr(value) if precise else f"{value:g}"


def _describe(pixels: np.ndarray) -> str:
    return f"{pixels.shape[1]}x{pixels.shape[0]} {pixels.dtype}"


__all__ = ["BandPattern", "MergeBandsReport", "merge_bands"]

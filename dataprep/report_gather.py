"""What `dataprep report` shows, gathered before any HTML is written: the manifest, stats.json, the folds'
report.json, file problems from the headers, per-band pixel histograms and the sample previews."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import io
from .contracts import Stats
from .errors import DataprepError
from .foldreport import FoldReport, load_fold_report
from .manifest import Manifest, read_manifest, require_rows
from .palette import Palette, resolve_palette
from .pixeltypes import is_nodata
from .preview import make_contact_sheet
from .sampleio import BGR_KEY, nodata_of
from .stats import image_partial, load_stats
from .split_column import SPLIT_COLUMN
from .stats_origin import training_row_sets, origin_warning

HIST_BINS = 64


@dataclass
class ReportData:
    """Everything the page shows, gathered before any HTML is written."""

    manifest: Manifest
    stats: Stats | None
    folds: FoldReport | None
    palette: Palette | None
    histograms: np.ndarray | None  # (channels, HIST_BINS) pixel counts
    hist_range: tuple[float, float]  # pixel values covered by the bins (float images: the measured range)
    hist_images: int  # images the histograms were measured on
    sizes: Counter[tuple[int, int]]
    problems: list[str] = field(default_factory=list)
    preview_jpeg: bytes | None = None
    warnings: list[str] = field(default_factory=list)  # e.g. a stats.json measured on other rows


# --------------------------------------------------------------------------- gathering


def check_files(manifest: Manifest) -> list[str]:
    """One line per problem found from the files' headers: missing, unreadable, or sizes the manifest does not say."""
    problems: list[str] = []
    for row in manifest.rows:
        for kind, path in (("image", row.image), ("mask", row.mask)):
            if path is None:
                continue
            try:
                info = io.read_info(path)
            except DataprepError as exc:
                problems.append(str(exc))
                continue
            if (info.width, info.height) != (row.width, row.height):
                problems.append(f"{path}: {kind} is {info.width}x{info.height} but the manifest says "
                                f"{row.width}x{row.height}")
    return problems


def band_histograms(manifest: Manifest, max_images: int, seed: int = 0
                    ) -> tuple[np.ndarray | None, tuple[float, float], int]:
    """Per-band pixel histograms in HIST_BINS bins, from up to `max_images` images (an evenly spread pick).

    Integer images: bins over every value the type has (uint8 0..255, uint16
    0..65535, int16 -32768..32767), from the exact histograms `dataprep stats`
    counts. Float images: bins over the measured range (the smallest to the
    largest value of any band of the picked images), which takes a second read
    of each image, as the range is known only once all are seen. The first
    readable image's pixel type and band count decide; images of another kind
    are left out (stats refuses those mixes).
    """
    n = len(manifest)
    if n == 0 or max_images <= 0:
        return None, (0, 255), 0
    picks = np.arange(n) if n <= max_images else np.sort(
        np.random.default_rng(seed).choice(n, size=max_images, replace=False))
    total: np.ndarray | None = None
    kind: tuple[str, int] | None = None
    used: list[int] = []
    lo, hi = math.inf, -math.inf
    for i in picks:
        row = manifest.rows[int(i)]
        try:
            image, bgr, nodata = _band_image(row)
            this = (image.dtype.name, image.shape[2])
            if kind is not None and this != kind:
                continue  # another band count or pixel type: keep the first kind
            if image.dtype.kind == "f":
                values = _valid_values(image, nodata)
                if not np.isfinite(values).all():
                    continue  # stats refuses NaN/inf pixels too
                hist = None
                if values.size:
                    lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
            else:
                partial = image_partial(image, str(row.image), bgr=bgr, nodata=nodata)  # nodata left out, as stats
                hist = _full_histogram(partial.dtype, partial.hist, partial.hist_offset)
        except DataprepError:
            continue  # listed under problems when the file itself is bad
        kind = this
        used.append(int(i))
        if hist is not None:
            total = hist if total is None else total + hist
    if kind is None:
        return None, (0, 255), 0
    if kind[0] not in _INT_RANGE:  # float: a second pass, now that the range is known
        if not math.isfinite(lo):
            lo, hi = 0.0, 1.0
        total = np.zeros((kind[1], HIST_BINS), np.int64)
        for i in used:
            image, bgr, nodata = _band_image(manifest.rows[i])
            for c in range(kind[1]):
                band = _valid_values(image[:, :, kind[1] - 1 - c if bgr else c], nodata)
                # In float64: numpy bins float32 data at float32 edges, 95,644 of 2M pixels off in a bin (the
                # charted counts are exact ones, for scripts)
                total[c] += np.histogram(band.astype(np.float64), bins=HIST_BINS, range=(lo, hi))[0]
        return total, (lo, hi), len(used)
    assert total is not None
    return total.reshape(total.shape[0], HIST_BINS, -1).sum(axis=2), _INT_RANGE[kind[0]], len(used)


# Pixel values the bins of an integer image cover: every value its type has.
_INT_RANGE = {"uint8": (0, 255), "uint16": (0, 65535), "int16": (-32768, 32767)}


def _valid_values(pixels: np.ndarray, nodata: float | None) -> np.ndarray:
    """The values of `pixels` that are not a GeoTIFF's nodata (all of them, flattened, without a nodata value)."""
    return pixels.ravel() if nodata is None else pixels[~is_nodata(pixels, nodata)]


def _band_image(row: Any) -> tuple[np.ndarray, bool, float | None]:
    """The row's image as (H, W, C), read for counting, whether its colour bands come in BGR order, its GDAL nodata."""
    sample = io.load_sample(row, mask="skip", purpose="report", counting=True)
    image = sample.image if sample.image.ndim == 3 else sample.image[:, :, None]
    return image, bool(sample.meta.extra.get(BGR_KEY, False)), nodata_of(sample)


def _full_histogram(dtype: str, hist: np.ndarray, offset: int) -> np.ndarray:
    """A partial's occupied bins placed in a histogram over every value of its integer type."""
    low, high = _INT_RANGE[dtype]
    full = np.zeros((hist.shape[0], high - low + 1), np.int64)
    full[:, offset - low : offset - low + hist.shape[1]] = hist
    return full


def folds_origin_warning(splits: io.PathLike, folds: FoldReport, manifest: Manifest) -> str | None:
    """The line to warn with when the folds of `splits` were made from other rows than `manifest`'s.

    The split manifest beside report.json names the rows the folds were made from; without it (a lone
    report.json) only the row counts can be compared."""
    folder = Path(splits) if Path(splits).is_dir() else Path(splits).parent
    rows_name = f"the {len(manifest)} rows of {manifest.path}" if manifest.path else f"these {len(manifest)} rows"
    advice = "its fold balance describes other data: rerun `dataprep kfold` on this manifest"
    try:
        split_rows = read_manifest(folder / "manifest.csv").rows
        split_ids = {r.id for r in split_rows}
        if len(split_ids) != folds.num_samples:  # not the manifest kfold wrote with this report
            raise OSError
    except (DataprepError, OSError):
        if folds.num_samples == len(manifest):
            return None
        return f"{splits}: folds of {folds.num_samples} rows, not of {rows_name}; {advice}"
    ids = {r.id for r in manifest.rows}
    if split_ids == ids:
        return None
    # `kfold --split train,val`: the held-out split is left out on purpose, and must stay out of the folds.
    folded = {r.extra.get(SPLIT_COLUMN, "") for r in split_rows}
    left_out = [r for r in manifest.rows if r.id not in split_ids]
    if split_ids <= ids and left_out and all(r.extra.get(SPLIT_COLUMN, "") not in folded for r in left_out):
        return None
    missing = len(ids - split_ids)
    return (f"{splits}: folds made from {len(split_ids)} rows of {folder / 'manifest.csv'}, not from {rows_name} "
            f"({missing} of them in no fold); {advice}")


def classes_mismatch_warning(source: io.PathLike, classes: Any, palette: Palette | None) -> str | None:
    """The line to warn with when a stats.json's or report.json's classes (`num_classes`, `names`) are not the
    palette's: the same ids, another dataset's folds (ISBI's two classes shown under CamVid's names)."""
    if classes is None or palette is None:
        return None
    names: dict[int, str] = {}
    for c in palette.classes:
        if not c.ignore:
            names.setdefault(c.index, c.name)
    counted = f"{classes.num_classes} classes"
    if classes.names and not all(n == f"class_{i}" for i, n in enumerate(classes.names)):  # kfold's, no palette
        if tuple(classes.names) == tuple(names.get(i, f"class_{i}") for i in range(classes.num_classes)):
            return None
        counted += f" ({', '.join(classes.names[:3])}{', ...' if len(classes.names) > 3 else ''})"
    elif classes.num_classes == palette.num_classes:
        return None
    elif classes.num_classes < palette.num_classes:  # counted up to the largest label present, without a palette
        return (f"{source}: measured {counted} (up to the largest label present, without a palette?), not the "
                f"{palette.num_classes} of palette {palette.name!r}: rerun it with --palette or --num-classes "
                f"{palette.num_classes}")
    return (f"{source}: measured {counted}, not the {palette.num_classes} of palette {palette.name!r}; its class "
            "figures describe other data or another palette")


def gather(manifest: Manifest | io.PathLike, *, stats: io.PathLike | None = None, splits: io.PathLike | None = None,
           palette: Palette | str | io.PathLike | None = None, samples: int = 9, seed: int = 0,
           max_images: int = 200) -> ReportData:
    """Read the manifest, stats.json, the folds' report.json and the files behind them."""
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    require_rows(manifest)
    stats_data = load_stats(stats) if stats is not None else None
    warnings = []
    if stats_data is not None:
        rows = manifest.rows
        origin = origin_warning(stats_data.measured_on, rows, stats_name=str(stats),
                                rows_name=f"the {len(rows)} rows of {manifest.path}" if manifest.path else None,
                                alternatives=training_row_sets(rows))
        warnings = [origin] if origin else []
    folds = load_fold_report(splits) if splits is not None else None
    if folds is not None:
        mismatch = folds_origin_warning(splits, folds, manifest)
        warnings += [mismatch] if mismatch else []
    resolved = resolve_palette(palette, manifest.path)
    for source, classes in ((stats, stats_data and stats_data.classes), (splits, folds and folds.classes)):
        mismatch = classes_mismatch_warning(source, classes, resolved) if source is not None else None
        warnings += [mismatch] if mismatch else []
    problems = check_files(manifest)
    hist, hist_range, used = band_histograms(manifest, max_images, seed)
    sizes = Counter((r.width, r.height) for r in manifest.rows)
    preview = None
    if samples > 0:
        try:
            sheet = make_contact_sheet(manifest, n=samples, palette=resolved, seed=seed, columns=3)
            preview = io.encode_image(sheet, ".jpg", quality=85)  # photos: a tenth of the PNG's size
        except DataprepError as exc:  # a bad sample file: the page still shows everything else
            problems.append(f"previews: {exc}")
    return ReportData(manifest, stats_data, folds, resolved, hist, hist_range, used, sizes, problems, preview,
                      warnings)


__all__ = ["HIST_BINS", "ReportData", "band_histograms", "check_files", "folds_origin_warning", "gather"]

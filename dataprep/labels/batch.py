"""The batch jobs: `masks2labels` (masks -> class-index label maps) and `labels2masks` (back to colours).

Each run makes one `ConversionContext` for its tables and buffers and hands it to
the per-file worker; outputs mirror the masks' layout, and a rerun resumes
(see `resume`).
"""
from __future__ import annotations

import re

from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..contracts import refuse_unconverted_palette
from ..errors import DataprepError, UsageError
from ..executor import Executor, OnError
from ..extra_masks import EXTRA_MASKS_COLUMN, merge_mask
from ..io import LOSSY_EXTENSIONS, MASK_EXTENSIONS, PathLike, mask_size_error, read_mask, write_mask
from ..manifest import Manifest, ManifestRow, write_manifest
from ..palette import BUILTIN_PALETTES, Palette, builtin_palette, find_palette, load_palette, palette_from_file
from ..palette.ade20k import FULL_RELEASE_SEG_SUFFIX, full_release_codes
from ..run_lock import exclusive_settings
from .context import ConversionContext, Remap
from .convert import _histogram, labels_to_colours, mask_to_labels, read_mask_table, with_ignore_drawn
from .lossy import jpeg_classes_too_close, soft_edged
from .options import ALL_GREY_HINT, Unknown, UnknownValuesError, _check_remap, _check_unknown, parse_remap
from .report import ConversionReport, _collect, _FileResult, _ignored_interior, reordered_id, skipped_indices_warning
from .resume import _claim_output, _unclaim_output, _up_to_date, run_recording_sources, source_stamp
from .sources import _Job, _resolve_source


def _with_path(exc: DataprepError, path: Path) -> DataprepError:
    if exc.path is not None:
        return exc
    if isinstance(exc, UnknownValuesError):
        return UnknownValuesError(path, exc.reason, exc.counts)
    return DataprepError(path, exc.reason)


class _MaskConverter:
    """The per-file work of masks2labels; small and picklable (its context travels without its tables)."""

    def __init__(self, palette: Palette, remap: dict[int, int] | None, unknown: Unknown, overwrite: bool,
                 png_indices: bool = False, context: ConversionContext | None = None, *,
                 check_instances: bool = True) -> None:
        self.palette, self.remap, self.unknown, self.overwrite = palette, remap, unknown, overwrite
        self.png_indices = png_indices
        self.check_instances = check_instances  # a --remap of the user's own may be what makes objects classes
        self.context = context or ConversionContext()
        self.colour_table = palette.label_palette().colour_table(256)

    def __call__(self, job: _Job) -> _FileResult:
        size = self.palette.max_value + 1
        stamp = source_stamp(job)  # before the reads: a mask rewritten meanwhile is converted again next time
        if not self.overwrite and _up_to_date(job, stamp):
            try:
                labels = read_mask(job.dst)
            except DataprepError:
                labels = None  # a damaged output is simply redone
            if labels is not None and labels.ndim == 2 and int(labels.max(initial=0)) < size:
                counts = _histogram(labels, size)[:size]
                return _FileResult("skipped", counts, {}, sources=stamp,
                                   ignored_interior=_ignored_interior(labels, counts, self.palette.ignore_index))
        mask = read_mask(job.src)
        if job.size is not None and (mask.shape[1], mask.shape[0]) != job.size:
            raise mask_size_error(job.src, mask.shape[1::-1], job.size)
        table = None if mask.ndim != 2 or self.remap or self.png_indices else read_mask_table(job.src)
        for extra in job.extras:
            extra_table = read_mask_table(extra) if table is not None else None
            if extra_table is not None and not np.array_equal(extra_table, table):
                raise DataprepError(extra, f"extra mask's PNG palette differs from its main mask's ({job.src.name}): "
                                           "their indices mean different colours")
            mask = merge_mask(mask, read_mask(extra), job.src, extra)
        if _ade20k_full_release(job.src, mask):  # whatever --unknown says: no palette lists class codes
            raise DataprepError(job.src, _ADE20K_CODES + ": convert the set with `dataprep import ade20k ROOT DEST`")
        instances = _instance_map(job.src, mask) if self.check_instances else None
        if instances:  # whatever --unknown says
            raise DataprepError(job.src, instances)
        jpeg = job.src.suffix.lower() in LOSSY_EXTENSIONS
        # Looked for only where it changes the result (the default `error` looks in its message alone).
        soft = self.unknown != "error" and not jpeg and table is None and soft_edged(mask)
        remap = self.remap
        ignore = self.palette.ignore_index
        if soft and self.unknown == "ignore" and not remap and self.palette.ids().get(ignore, ignore) != ignore:
            remap = self.palette.ids()  # 255 is the binary foreground's id; its grey edges alone are ignore
        try:
            result = mask_to_labels(mask, self.palette, remap=remap, unknown=self.unknown, table=table,
                                    lossy=jpeg or soft, context=self.context)
        except UnknownValuesError as exc:
            exc = _ade20k_hint(_train_ids_hint(exc, job.src), job.src, mask)
            if not jpeg and table is None and soft_edged(mask):
                exc = UnknownValuesError(exc.path, exc.reason.replace(ALL_GREY_HINT, "") + "; the mask is binary "
                                         "with grey values on thin edges only (anti-aliased, or JPEG-compressed "
                                         "before a lossless save): --unknown nearest snaps each to 0 or 255 "
                                         "(threshold 128)", exc.counts)
            if job.src.suffix.lower() in LOSSY_EXTENSIONS:
                nearest = ("snaps each to the nearest class value" if mask.ndim == 2 else
                           "gives each pixel the class of its nearest palette colour")
                # JPEG noise of a black-and-white mask is grey, which says nothing of an index mask saved as RGB.
                exc = UnknownValuesError(exc.path, exc.reason.replace(ALL_GREY_HINT, "") + "; the mask is a JPEG, "
                                         "whose compression scatters "
                                         f"its {'values' if mask.ndim == 2 else 'colours'}: --unknown nearest "
                                         f"{nearest}", exc.counts)
            raise _with_path(exc, job.src) from None
        except DataprepError as exc:
            raise _with_path(exc, job.src) from None
        write_mask(job.dst, result.labels, palette=self.colour_table)
        held = None
        # Which values of a --remap of the user's own (not ids) it held: one that no mask holds changed nothing.
        if self.remap and not self.check_instances and mask.ndim == 2 and mask.dtype in (np.uint8, np.uint16):
            values = _histogram(mask, 256 if mask.dtype == np.uint8 else 65536)
            held = frozenset(k for k in self.remap if 0 <= k < values.size and values[k])
        return _FileResult("converted", result.counts, result.unknown, result.by_colour,
                           _ignored_interior(result.labels, result.counts, self.palette.ignore_index),
                           result.grey_levels, result.by_ids, result.kept_ignore,
                           colours=(mask.ndim == 3 and not result.grey_levels) or result.by_colour,
                           transparent=result.transparent, sources=stamp,
                           jpeg_close_classes=jpeg and jpeg_classes_too_close(mask, result.labels, ignore),
                           remap_held=held)


def _train_ids_hint(exc: UnknownValuesError, path: Path) -> UnknownValuesError:
    """A Cityscapes labelTrainIds map holds train ids (the cityscapes palette's indices), never labelIds: the
    'use --remap ids' advice turned datumaro's train ids 19/14/11 into ids (person -> building), exit 0."""
    marker = "they are ids of palette"
    if "labeltrainids" not in path.name.lower() or marker not in exc.reason:
        return exc
    head = exc.reason[: exc.reason.index(marker)]
    return UnknownValuesError(exc.path, head + "the file is a labelTrainIds map: its values should be train ids "
                                               "(0..18, 255 ignore), the palette's indices, so --remap ids would "
                                               "misread it; fix how the file was made, or pass --unknown ignore",
                              exc.counts)


_ADE20K_CODES = ("an ADE20K full-release mask, whose colours are codes (red / 10 * 256 + green the class, blue "
                 "the instance)")


def _ade20k_full_release(path: Path, mask: np.ndarray) -> bool:
    """An `ADE_*_seg.png` of class codes: --unknown nearest snapped 95% of a street to ADE150's colours, exit 0."""
    return (path.name.startswith("ADE_") and path.name.endswith(FULL_RELEASE_SEG_SUFFIX) and mask.ndim == 3
            and full_release_codes(mask) is not None)


def _ade20k_hint(exc: UnknownValuesError, path: Path, mask: np.ndarray) -> UnknownValuesError:
    """Another `_seg.png` of class codes (renamed): the error says what it may be."""
    if not path.name.endswith(FULL_RELEASE_SEG_SUFFIX) or mask.ndim != 3 or full_release_codes(mask) is None:
        return exc
    return UnknownValuesError(exc.path, exc.reason + f"; the file may be {_ADE20K_CODES}: convert the set with "
                                                     "`dataprep import ade20k ROOT DEST`", exc.counts)


# Mask names that say their values are a palette's ids (what `--remap ids` maps), not its indices.
_ID_MASK_NAMES = (
    (re.compile(r"(?i)_labelids\.png$"), "a Cityscapes labelIds map (7 road, 26 car), not train ids"),
    (re.compile(r"^ADE_(train|val)_\d+\.png$"), "an ADEChallengeData2016 (SceneParsing) mask: 0 is 'other' and "
                                                "classes are 1..150, one above the palette's indices"),
)


_INDEX_MASK_NAMES = (
    (re.compile(r"(?i)_labeltrainids\.png$"), "a labelTrainIds map (train ids, Cityscapes' 0 road, 13 car): its "
                                              "values are the palette's indices already"),
)


_CITYSCAPES_INSTANCES = re.compile(r"(?i)_instanceids\.png$")
_VOC_OBJECTS = re.compile(r"(?i)^segmentationobject/[^/]+\.png$")


def _colour_sharers(palette: Palette) -> tuple[str, ...]:
    """Entries known by id alone because their colour is a class's (Cityscapes' polegroup, in pole's colour): what
    colour masks convert into that class. Void entries of no colour at all in a palette of one's own are none."""
    if palette.name not in BUILTIN_PALETTES:
        return ()
    shared = {c.name for c in builtin_palette(palette.name).classes if c.color is None}
    return tuple(c.name for c in palette.classes if c.color is None and c.id is not None and c.name in shared)


def _instance_map(path: Path, mask: np.ndarray) -> str | None:
    """Why a mask named as an instance map is one, or None: a Cityscapes instanceIds map holding a value of 1000
    or more (class id x 1000 + object; its stuff pixels are label ids below 1000, so --unknown ignore, which the
    first error offered, made road traffic sign and building person, exit 0), or a VOC SegmentationObject mask
    (object 1 became an aeroplane, unsaid). Colour masks, and datumaro's instanceIds of label ids alone, are none."""
    if mask.ndim != 2:
        return None
    if _CITYSCAPES_INSTANCES.search(path.name) and mask.size and int(mask.max()) >= 1000:
        return ("a Cityscapes instanceIds map (a car pixel holds 26000 + its number, other classes their label id), "
                "not class masks: convert the _gtFine_labelTrainIds masks (or _gtFine_labelIds with --remap ids)")
    if _VOC_OBJECTS.search(f"{path.parent.name}/{path.name}"):
        return ("a VOC SegmentationObject mask (objects numbered 1, 2, ... in each image), not class masks: convert "
                "SegmentationClass")
    return None


def _refuse_indices_read_as_ids(jobs: list[_Job]) -> None:
    """With --remap ids, masks named as index maps would have each index read as an id: scan pairs Cityscapes'
    _labelTrainIds first, and the documented --remap ids for labelIds made 65% of their pixels wrong, exit 0."""
    for pattern, what in _INDEX_MASK_NAMES:
        named = [job.src for job in jobs if pattern.search(job.src.name)]
        if named:
            raise UsageError(named[0], f"{what}, as its name says ({len(named)} of {len(jobs)} masks are named so); "
                                       "drop --remap ids, which maps label ids")


def _refuse_ids_read_as_indices(jobs: list[_Job], palette: Palette) -> None:
    """Without --remap, masks named as id maps would be read as indices: a file whose ids all happen to be valid
    indices converts without a word, every pixel the wrong class (ADE20K's wall became building, 'other' wall)."""
    ids = palette.ids()
    if not ids or all(ids.get(i) == i for i in range(palette.num_classes)):
        return
    # ADE_train_*.png are SceneParsing's only under a palette of its shape (class k stored as k + 1): an
    # `import ade20k` of the full release writes label maps of that name under a palette of ADE's codes.
    scene_parsing = all(ids.get(i + 1) == i for i in range(palette.num_classes))
    for pattern, what in _ID_MASK_NAMES:
        if what.startswith("an ADEChallengeData2016") and not scene_parsing:
            continue
        named = [job.src for job in jobs if pattern.search(job.src.name)]
        if named:
            raise UsageError(named[0], f"{what}, as its name says ({len(named)} of {len(jobs)} masks are named so); "
                                       f"use --remap ids to map the ids of palette {palette.name!r} to its indices")


def masks_to_labels(source: Manifest | PathLike, out_dir: PathLike, palette: Palette | PathLike | None = None, *,
                    unknown: Unknown = "error", ignore_index: int | None = None,
                    remap: Remap | Literal["ids", "reduce-zero"] | str | None = None, overwrite: bool = False, force: bool = False,
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
    palette_name = str(palette) if isinstance(palette, (str, Path)) else None
    palette = _resolve_palette(palette, source)
    if ignore_index is not None:
        palette = palette.with_ignore_index(ignore_index)
    from_palette = remap is None and palette.remap is not None
    remap_spec = parse_remap(palette.remap if from_palette else remap)
    remap_map = _check_remap(remap_spec, palette)
    src = _resolve_source(source, out_dir, force, MASK_EXTENSIONS, "masks2labels")
    if remap_spec is None:
        _refuse_ids_read_as_indices(src.jobs, palette)
    elif remap_spec == "ids" and not from_palette:
        _refuse_indices_read_as_ids(src.jobs)
    out_palette = palette.label_palette()
    settings: dict[str, Any] = {"palette": palette.to_dict(), "unknown": unknown,
                                "remap": [[k, v] for k, v in sorted((remap_map or {}).items())]}
    if png_indices:  # only when set, so folders made before the option existed still resume
        settings["png_indices"] = True
    created = not out_dir.exists()
    with exclusive_settings(out_dir, "masks2labels", settings):  # a run of other settings: refused, not mixed in
        _claim_output(out_dir, "masks2labels", settings, overwrite, [j.dst for j in src.jobs])
        context = ConversionContext()  # this run's tables and buffers
        # Built before the first chunk, which the executor times to decide whether workers pay off; workers
        # get the context without its tables: forked ones use these (inherited), spawned ones build theirs once.
        context.colour_table(palette)
        converter = _MaskConverter(palette, remap_map, unknown, overwrite, png_indices, context,
                                   check_instances=not isinstance(remap_spec, dict))
        results = run_recording_sources(converter, src.jobs, out_dir, "masks2labels", executor=executor,
                                        on_error=on_error, desc="masks2labels", quiet=quiet)
    if isinstance(remap_spec, dict):
        asked = sorted(v for v, to in remap_spec.items() if to == palette.ignore_index)
    elif remap_spec == "ids":  # the palette's ignore entries with ids say which stored values are ignore
        asked = sorted({c.id for c in palette.classes if c.ignore and c.id is not None})
    else:
        asked = []
    report = ConversionReport(out_palette, out_dir, zero_unlabelled=remap_spec == "reduce-zero",
                              asked_ignore=tuple(asked), ignore_by_ids=remap_spec == "ids",
                              unknown_ignored=unknown == "ignore",
                              # The stored value of ignore is its entry's id only where ids are read (Cityscapes'
                              # unlabeled id 0 was named for trainIds masks, whose 0 is road).
                              ignore_value=next((c.id for c in palette.classes if c.ignore and c.id is not None), None)
                              if remap_spec == "ids" else None,
                              palette_remap=palette.remap if from_palette else None,
                              remap_given=remap_spec is not None and not from_palette,
                              ignore_colours=tuple(dict.fromkeys(c.color for c in palette.classes
                                                                 if c.ignore and c.color)),
                              ids_are_indices=all(palette.ids().get(i) == i for i in range(palette.num_classes)),
                              ids_one_up=remap_spec is None and palette.num_classes > 1 and all(
                                  c.id == c.index + 1 for c in palette.classes if not c.ignore),
                              ids_reordered=reordered_id(palette) if remap_spec is None else None,
                              class_at_ignore=next((c.name for c in palette.classes
                                                    if c.id == palette.ignore_index and not c.ignore), "a class"),
                              index_at_ignore=next((c.index for c in palette.classes
                                                    if c.id == palette.ignore_index and not c.ignore), None),
                              void_classes=sum(1 for c in palette.classes if c.ignore),
                              colourless=_colour_sharers(palette),
                              skipped_indices=skipped_indices_warning(palette, palette_name or repr(palette.name)))
    _collect(report, src.jobs, results, out_palette, remap_map if isinstance(remap_spec, dict) else None)
    if report.failed and not (report.converted or report.skipped):
        _unclaim_output(out_dir, "masks2labels", created)  # no palette and empty manifest beside nothing
        return report
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


def _write_derived_manifest(manifest: Manifest, jobs: list[_Job], results, out_dir: Path) -> Path:
    done = {job.src: job.dst for job, res in zip(jobs, results) if res.ok}
    failed = {job.src for job, res in zip(jobs, results) if not res.ok}
    rows: list[ManifestRow] = []
    for row in manifest:
        if row.mask is None:
            rows.append(row)
        elif row.mask not in failed:
            extra = {k: v for k, v in row.extra.items() if k != EXTRA_MASKS_COLUMN}  # merged into the label map
            rows.append(ManifestRow(row.id, row.image, done[row.mask], row.width, row.height, extra))
    columns = [c for c in manifest.extra_columns if c != EXTRA_MASKS_COLUMN]
    return write_manifest(Manifest(rows), out_dir / "manifest.csv", columns=columns)


# --------------------------------------------------------------------------- labels -> colours


class _MaskPainter:
    def __init__(self, palette: Palette, overwrite: bool) -> None:
        self.palette, self.overwrite = palette, overwrite

    def __call__(self, job: _Job) -> _FileResult:
        size = self.palette.max_value + 1
        labels = None
        stamp = source_stamp(job)
        if not self.overwrite and _up_to_date(job, stamp):
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
        return _FileResult(status, counts, {}, sources=stamp)


def labels_to_masks(source: Manifest | PathLike, out_dir: PathLike, palette: Palette | PathLike | None = None, *,
                    overwrite: bool = False, force: bool = False, executor: Executor | None = None,
                    on_error: OnError = "skip", quiet: bool = False) -> ConversionReport:
    """Draw label maps in their palette colours (RGB PNGs) for viewing; the inverse of `masks_to_labels`.

    Each index gets the first colour listed for it, so for palettes without
    grouping RGB -> labels -> RGB gives back the same pixels.
    """
    out_dir = Path(out_dir)
    resolved = _resolve_palette(palette, source)
    # ISBI's 0/255 masks beside their inferred palette (255 the foreground's id) came out 77% ignore, exit 0
    refuse_unconverted_palette(resolved, source.path if isinstance(source, Manifest) else source)
    palette = with_ignore_drawn(resolved)  # the colours drawn are the ones written beside
    src = _resolve_source(source, out_dir, force, frozenset({".png", ".npy", ".tif", ".tiff", ".bmp"}), "labels2masks")
    settings = {"palette": palette.to_dict()}
    with exclusive_settings(out_dir, "labels2masks", settings):
        _claim_output(out_dir, "labels2masks", settings, overwrite, [j.dst for j in src.jobs])
        results = run_recording_sources(_MaskPainter(palette, overwrite), src.jobs, out_dir, "labels2masks",
                                        executor=executor, on_error=on_error, desc="labels2masks", quiet=quiet)
    report = ConversionReport(palette.label_palette(), out_dir)
    _collect(report, src.jobs, results, palette)
    report.palette_path = palette.save(out_dir / "palette.json")
    if src.manifest is not None:
        report.manifest_path = _write_derived_manifest(src.manifest, src.jobs, results, out_dir)
    return report

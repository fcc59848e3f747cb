"""The shared half of every importer: check sizes, rasterize, paint, write label maps, palette and manifest."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import DataprepError, UsageError
from ..executor import Executor, OnError, run_items
from ..folder_settings import mark_owner
from ..histogram import channel_histograms
from ..io import read_info, write_mask
from ..labels import ConversionReport
from ..layout import split_named_in
from ..manifest import Manifest, ManifestRow, write_manifest
from ..palette import Palette
from ..paths import Inputs, inside
from ..run_lock import exclusive_settings
from .base import Entry, ImportPlan
from .copies import GROUP_COLUMN, copies_note, copy_groups, roboflow_source
from .paint import ORDERS, OVERLAPS, Drawn, Order, Overlap, paint
from .raster import INSTANCE_PARTS, LABEL_IMAGES, RASTERIZERS, rasterize

LABELS_DIR = "labels"
INSTANCES_DIR = "instances"
# Formats whose label maps are read whole, without shapes to number: their instance maps hold nothing.
NO_INSTANCES = {"cvat-mask": "SegmentationObject/ is not read", "mat": "a .mat label map is classes only",
                "ade20k": "the _seg.png blue instance numbers are not read"}


@dataclass
class ImportReport(ConversionReport):
    """What `import_dataset` did; `skipped` counts images left out by `skip_empty`."""

    format: str = ""
    parse_notes: list[str] = field(default_factory=list)  # from parsing the export (shapes left out, ...)
    instance_dir: Path | None = None
    copies: str | None = None  # the summary's line on copies of one photo that the group column keeps together

    @property
    def notes(self) -> list[str]:
        return self.parse_notes + super().notes + self._empty_classes()

    def _ignore_fix(self) -> str:
        # An import's ignore pixels are what the export left unlabelled or marked crowd, never a mask's stored 255.
        crowd = " (COCO crowd regions are ignore unless --keep-crowd)" if self.format.startswith("coco") else ""
        return (f"they are pixels the export labels with no class{crowd}: check that its regions cover what they "
                "should")

    def _empty_classes(self) -> list[str]:
        """Classes no written label map holds: a category nothing uses, a split without it, or labels from 1."""
        if not self.converted or len(self.pixel_counts) < 2:
            return []
        empty = [name for name, n in zip(self.palette.names, self.pixel_counts) if n == 0]
        if not empty:
            return []
        shown = ", ".join(empty[:4]) + (", ..." if len(empty) > 4 else "")
        note = (f"{len(empty)} of {len(self.pixel_counts)} classes have no pixel in any label map ({shown}): a "
                "category no annotation uses, or a part of the data without it")
        if self.pixel_counts[0] == 0 and self.format == "mat":  # stored values are the indices there
            note += ("; no map holds 0: if the classes start at 1, shift them with `dataprep masks2labels "
                     f"{self.out_dir / 'manifest.csv'} DEST --remap 1:0,2:1,...`")
        return [note]


@dataclass(frozen=True)
class _Result:
    counts: np.ndarray
    width: int
    height: int


class _EntryWriter:
    """Per-image work; small and picklable, so it runs on any executor."""

    def __init__(self, out_dir: Path, palette: Palette, order: Order, overlap: Overlap, instances: bool,
                 background: int | None) -> None:
        self.out_dir, self.palette, self.order, self.overlap = out_dir, palette, order, overlap
        self.instances, self.background = instances, background
        self.colour_table = palette.colour_table(256) if palette.label_dtype == np.uint8 else None

    def __call__(self, entry: Entry) -> _Result:
        width, height = image_size(entry)
        if len(entry.regions) == 1 and entry.regions[0].kind in LABEL_IMAGES:
            labels = LABEL_IMAGES[entry.regions[0].kind](entry.regions[0].data, height, width,
                                                         self.palette.ignore_index, self.palette.label_dtype)
            inst = np.zeros(labels.shape, np.uint16) if self.instances else None
            return self._write(entry, labels, inst, width, height)
        drawn = []
        for position, region in enumerate(entry.regions):
            try:
                parts = rasterize(region.kind, region.label, region.data, height, width)
            except DataprepError:
                raise
            except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:  # Overflow: an infinite point
                where = f"{entry.where}: " if entry.where else ""
                raise DataprepError(entry.source, f"{where}{region.where or f'shape #{position}'}: {exc}") from None
            # Without a number of its own, each shape is one instance (a COCO annotation, a YOLO line).
            instance = max(region.instance, 0) if region.instance else (
                position + 1 if len(parts) == 1 and region.kind in RASTERIZERS else 0)
            numbers = range(1, len(parts) + 1) if region.kind in INSTANCE_PARTS else [instance] * len(parts)
            drawn += [Drawn(label, starts, ends, region.z, position, number)
                      for number, (label, (starts, ends)) in zip(numbers, parts)]
        labels, inst = paint(drawn, height, width, ignore_index=self.palette.ignore_index,
                             num_classes=self.palette.num_classes, order=self.order, overlap=self.overlap,
                             background=self.background, instances=self.instances)
        return self._write(entry, labels, inst, width, height)

    def _write(self, entry: Entry, labels: np.ndarray, inst: np.ndarray | None, width: int, height: int) -> _Result:
        write_mask(label_path(self.out_dir, entry), labels, palette=self.colour_table)
        if inst is not None:
            write_mask(inside(self.out_dir, INSTANCES_DIR, f"{entry.id}.png"), inst)
        return _Result(_histogram(labels, self.palette.max_value + 1), width, height)


def _histogram(labels: np.ndarray, size: int) -> np.ndarray:
    """Pixels per value 0..size-1."""
    if labels.dtype == np.uint8:
        hist = channel_histograms(labels)[0]  # several times faster than bincount on uint8
    else:
        hist = np.bincount(labels.ravel(), minlength=size)
    return np.pad(hist, (0, max(0, size - len(hist))))[:size]


def label_path(out_dir: Path, entry: Entry) -> Path:
    return inside(out_dir, LABELS_DIR, f"{entry.id}.png")


def image_size(entry: Entry) -> tuple[int, int]:
    """(width, height) of the image as displayed; an error naming both files when the annotation disagrees."""
    try:
        info = read_info(entry.image)
    except DataprepError as exc:
        where = f" ({entry.where})" if entry.where else ""
        raise DataprepError(entry.image, f"{exc.reason}; listed in {entry.source}{where}") from None
    if entry.size is not None and entry.size != (info.width, info.height):
        aw, ah = entry.size
        where = f"{entry.where}: " if entry.where else ""
        if entry.size == (info.stored_width, info.stored_height):
            raise DataprepError(entry.source, f"{where}annotation says {aw}x{ah}, the stored size of image "
                                              f"{entry.image}; its EXIF orientation {info.orientation} shows it "
                                              f"as {info.width}x{info.height}, the size annotations are drawn on")
        raise DataprepError(entry.source, f"{where}annotation says {aw}x{ah} but image {entry.image} is "
                                          f"{info.width}x{info.height}")
    return info.width, info.height


def import_dataset(plan: ImportPlan, out_dir: os.PathLike[str] | str, *, order: Order = "file",
                   overlap: Overlap = "last", skip_empty: bool = False, ignore_index: int | None = None,
                   instances: bool = False, background: int | None = 0, force: bool = False,
                   inputs: Inputs | None = None, executor: Executor | None = None, on_error: OnError = "skip",
                   quiet: bool = False) -> ImportReport:
    """Write `out_dir/labels/<id>.png`, `palette.json` and `manifest.csv` for a parsed export.

    Images that fail (missing, size mismatch, bad shape) are listed in the
    report's errors and left out of the manifest; the others are written.
    """
    if order not in ORDERS:
        raise UsageError(None, f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if overlap not in OVERLAPS:
        raise UsageError(None, f"overlap must be one of {', '.join(OVERLAPS)}, not {overlap!r}")
    out_dir = Path(out_dir)
    inputs = inputs or Inputs()
    inputs.guard_folder(out_dir, force=force, command="import")
    plan.entries, outside = contained_ids(plan.entries)
    if outside:
        plan.warnings.append(outside)
    _check_ids(plan.entries)
    # The images stay where they are; even with --force no output may replace one (or the export).
    inputs.with_files([*(e.image for e in plan.entries), *(e.source for e in plan.entries)]).check_written(
        [out_dir / "palette.json", out_dir / "manifest.csv",
         *(p for e in plan.entries for p in (label_path(out_dir, e), out_dir / INSTANCES_DIR / f"{e.id}.png"))])
    palette = plan.palette(ignore_index)
    entries = [e for e in plan.entries if e.regions or not skip_empty]
    report = ImportReport(palette, out_dir, format=plan.format, parse_notes=list(plan.warnings))
    if instances and plan.format in NO_INSTANCES:  # all-zero instance maps, announced as written, said nothing
        report.parse_notes.append(f"--instances: {plan.format} imports read no instances "
                                  f"({NO_INSTANCES[plan.format]}): every map in {INSTANCES_DIR}/ is 0")
    report.skipped = len(plan.entries) - len(entries)
    report.errors.extend(plan.errors)
    report.failed = len(plan.errors)
    if on_error == "fail" and plan.errors:
        raise DataprepError(None, plan.errors[0])
    # Runs of other classes, rules or exports into this folder at the same time are refused: their label maps
    # would interleave under one palette.json.
    settings = {"format": plan.format, "palette": palette.to_dict(), "order": order, "overlap": overlap,
                "skip_empty": skip_empty, "instances": instances, "background": background,
                "entries": [[e.id, str(e.source), str(e.image)] for e in entries]}
    with exclusive_settings(out_dir, "import", settings):
        writer = _EntryWriter(out_dir, palette, order, overlap, instances, background)
        results = run_items(writer, entries, executor=executor, on_error=on_error, desc=f"import {plan.format}",
                            quiet=quiet, unit="image")
        size = palette.max_value + 1
        totals = np.zeros(size, np.int64)
        rows: list[ManifestRow] = []
        splits: list[str] = []
        sources: list[str | None] = []  # the photo each written image is a copy of, when it is one
        for entry, res in zip(entries, results):
            if not res.ok:
                report.failed += 1
                report.errors.append(res.error)
                continue
            value: _Result = res.value
            report.converted += 1
            totals += value.counts
            dst = label_path(out_dir, entry)
            report.outputs.append(dst)
            rows.append(ManifestRow(entry.id, Path(os.path.abspath(entry.image)), Path(os.path.abspath(dst)),
                                    value.width, value.height))
            splits.append(entry.split or split_named_in(entry.id.rpartition("/")[0]) or "")  # folders, not the name
            sources.append(entry.source_photo or roboflow_source(entry.image.name))
        if not report.converted:  # no empty manifest and palette beside nothing (a Label Studio export of
            return report          # `completions`, read as unlabelled tasks, wrote both and exited 0)
        if len(set(splits) - {""}) > 1:  # a split column as scan writes it: only when the export has several
            rows = [row.with_extra(split=split) for row, split in zip(rows, splits)]
        groups = copy_groups([row.id for row in rows], sources)
        if groups is not None:  # kfold reads it by default: copies of one photo in two folds leak it into validation
            rows = [row.with_extra(**{GROUP_COLUMN: group}) for row, group in zip(rows, groups)]
            report.copies = copies_note(sources)
        report.pixel_counts = [int(v) for v in totals[: palette.num_classes]]
        report.ignored_pixels = int(totals[palette.ignore_index])
        report.palette_path = palette.save(out_dir / "palette.json")
        report.manifest_path = write_manifest(Manifest(rows), out_dir / "manifest.csv")
        mark_owner(out_dir, "import")
    if instances:
        report.instance_dir = out_dir / INSTANCES_DIR
    return report


def contained_ids(entries: list[Entry]) -> tuple[list[Entry], str | None]:
    """The entries with ids that stay below labels/, and a note when some had to change.

    An export may name its images by absolute paths ('/data/shots/a.jpg', 'C:\\shots\\a.jpg') or reach out of
    the images folder ('../a.jpg'); as ids they would put label maps outside the output (next to the images,
    where the next scan pairs them). Absolute names keep their path below the folder they all share, the
    others lose their '..' steps; two that become one id are refused by `_check_ids`.
    """
    parts = [_id_parts(e.id) for e in entries]
    rooted = [p[1:-1] for p in parts if p[0]]
    shared = 0
    if rooted:  # how many leading folders every absolute name has in common
        shortest = min(len(r) for r in rooted)
        while shared < shortest and len({r[shared] for r in rooted}) == 1:
            shared += 1
    changed: list[tuple[str, str]] = []
    out: list[Entry] = []
    for entry, (root, *path) in zip(entries, parts):
        kept = path[shared:] if root else [step for step in path if step != ".."]
        new_id = "/".join(kept)
        if new_id != entry.id:
            changed.append((entry.id, new_id))
            entry = replace(entry, id=new_id)
        out.append(entry)
    if not changed:
        return out, None
    old, new = changed[0]
    more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
    return out, (f"{len(changed)} image name(s) are absolute or reach out of the images folder ({old!r}{more}): "
                 f"their label maps are written below {LABELS_DIR}/ ({new!r}{more and ', ...'})")


def _id_parts(entry_id: str) -> list[str]:
    """[root or '', folder, ..., name] of an id, '.' steps and 'a/..' pairs resolved; a drive ('C:') is a root."""
    steps = entry_id.replace("\\", "/").split("/")
    root = ""
    if steps and (steps[0] == "" or re.fullmatch(r"[A-Za-z]:", steps[0])) and len(steps) > 1:
        root = steps.pop(0) or "/"
    path: list[str] = []
    for step in steps:
        if step in ("", "."):
            continue
        if step == ".." and path and path[-1] != "..":
            path.pop()
        elif not (step == ".." and root):
            path.append(step)
    return [root, *path]


def _check_ids(entries: list[Entry]) -> None:
    seen: dict[str, Entry] = {}
    by_image: dict[str, Entry] = {}
    for entry in entries:
        # One file under two names in one export ('/data/q/a.jpg' and '../../q/a.jpg'): two ids, train/val leakage.
        first = by_image.setdefault(os.path.realpath(entry.image), entry)
        if first is not entry and first.id != entry.id and first.source == entry.source:
            raise UsageError(entry.image, f"image is listed twice in {entry.source}, as {first.id!r} and {entry.id!r}")
        other = seen.setdefault(entry.id, entry)
        if other is entry:
            continue
        if other.image == entry.image:
            listed = (f"twice in {entry.source}" if other.source == entry.source else
                      f"by both {other.source} and {entry.source} (two exports of the same images? import one)")
            raise UsageError(entry.image, f"image is listed {listed}")
        raise UsageError(entry.source, f"images {other.image} and {entry.image} would both be written as "
                                       f"{LABELS_DIR}/{entry.id}.png")



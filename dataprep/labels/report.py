"""What a batch job did: the `ConversionReport`, its per-file results, and the warnings it gives."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from ..palette import Colour, EntryKind, Palette, class_gaps
from ..regions import BOUNDARY_WIDTH, interior_pixels
from .options import CLASS_PLUS_ONE, IDS_NOT_INDICES, UnknownKey
from .sources import _Job


# More ignored pixels than this share of a conversion's pixels gets a warning.
MOSTLY_IGNORED = 0.5
# Ignored pixels inside regions wider than a boundary band (see regions.py), over this share of
# all pixels and a quarter of the ignored ones, look like a class lost to ignore (a binary mask's
# 255) rather than VOC-style void boundaries (under 1% of the pixels, a tenth of the void, on VOC).
LARGE_IGNORED = 0.02


CAMVID11_VALUES = 12  # SegNet's CamVid stores 0..10 and 11 (void)


def reordered_id(palette: Palette) -> tuple[int, str, str] | None:
    """(value, class of that id, class of that index) for the first value read two ways, when the palette's ids
    are its class indices 0..n-1 in another order; else None."""
    ids = {v: i for v, i in palette.ids().items() if i < palette.num_classes}
    if not set(ids) == set(ids.values()) == set(range(palette.num_classes)):
        return None
    moved = next((v for v in sorted(ids) if ids[v] != v), None)
    return None if moved is None else (moved, palette.names[ids[moved]], palette.names[moved])


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
    grey_levels: list[str] = field(default_factory=list)  # RGB masks of grey pixels converted by their grey values
    by_ids: list[str] = field(default_factory=list)  # 0/255 masks whose 255 is a class's id (binary): by the ids
    class_at_ignore: str = "a class"  # the class whose id is the ignore value (binary: foreground)
    index_at_ignore: int | None = None  # its index
    void_classes: int = 0  # the palette's ignore entries (Cityscapes names 15: unlabeled, ego vehicle, ...)
    colourless: tuple[str, ...] = ()  # entries known by id alone: a colour mask draws them as another class
    skipped_indices: str | None = None  # the palette's unused indices below its last class, in words
    kept_ignore: list[str] = field(default_factory=list)  # masks of that value among others: kept as ignore
    colours: list[str] = field(default_factory=list)  # masks converted by colour, not by stored value
    transparent_pixels: int = 0  # pixels of alpha 0, ignore whatever their colour
    ignore_colours: tuple[Colour, ...] = ()  # the source palette's ignore colours (Cityscapes has ten)
    zero_unlabelled: bool = False  # --remap reduce-zero: value 0 became ignore on request
    asked_ignore: tuple[int, ...] = ()  # values an explicit --remap (or the palette's ignore ids) sent to ignore
    ignore_by_ids: bool = False  # asked_ignore came from the palette's ignore entries (--remap ids)
    unknown_ignored: bool = False  # --unknown ignore: the `unknown` pixels became the ignore index
    ignore_value: int | None = None  # the value the masks store for ignore (the ignore entry's id), if not the index
    palette_remap: str | None = None  # no --remap given: the palette's own (an inferred binary palette's ids)
    remap_given: bool = False  # --remap was given: it maps stored values, which colour masks do not have
    remap_unheld: tuple[int, ...] = ()  # --remap values no converted index mask held (-1 on PNG masks)
    ids_are_indices: bool = False  # every class's id is its index (camvid11): only ignore ids differ
    ids_one_up: bool = False  # no remap, and every class's id is its index + 1 (the ade20k built-in)
    ids_reordered: tuple[int, str, str] | None = None  # no remap, ids are the indices reordered: `reordered_id`
    jpeg_close_classes: list[str] = field(default_factory=list)  # JPEG index masks of classes a few values apart

    @property
    def ok(self) -> bool:
        return self.failed == 0

    @property
    def total_pixels(self) -> int:
        return sum(self.pixel_counts) + self.ignored_pixels

    @property
    def warnings(self) -> list[str]:
        """Results that are valid but most likely not what was meant."""
        out = self._camvid_index_masks() + self._ignore_value_both_ways() + self._ids_in_some() + \
            self._class_plus_one_in_some() + self._stored_ids_one_up() + self._ids_in_another_order() + \
            self._jpeg_close_classes()
        if self.skipped_indices:
            out.append(self.skipped_indices)
        if self.remap_unheld:  # --remap -1:2 on PNG masks: a no-op, exit 0
            shown = ", ".join(map(str, self.remap_unheld[:8])) + (", ..." if len(self.remap_unheld) > 8 else "")
            out.append(f"--remap names value(s) {shown} that no mask held, so they changed nothing: a typo, or "
                       "values of other masks?")
        if self.remap_given and self.colours:  # --remap 1:2 on colour masks: the output was the same, no word
            n = len(self.colours)
            out.append(f"--remap maps the stored values of index masks; {n} mask{'s' if n > 1 else ''} (first: "
                       f"{self.colours[0]}) {'were' if n > 1 else 'was'} converted by colour, and it changed nothing "
                       "there: to merge or move their classes, edit the palette (give a colour another index)")
        total, ignored = self.total_pixels, self.ignored_pixels
        if not total or not ignored:
            return out
        reasons = []
        if ignored > MOSTLY_IGNORED * total:
            reasons.append("most of them")
        # Large ignored regions are what `--remap V:ignore` asks for (trimap borders, void areas), and what a palette
        # of several void classes stores at the ignore index (Cityscapes' train ids: ego vehicle, unlabeled, ...).
        if not self.asked_ignore and self.void_classes < 2 and self.ignored_interior > LARGE_IGNORED * total \
                and self.ignored_interior >= 0.25 * ignored:
            reasons.append("in large regions, not thin boundaries")
        present = [i for i, n in enumerate(self.pixel_counts) if n]
        if len(present) == 1:
            reasons.append(f"and the label maps hold a single class ({self.palette.names[present[0]]}) besides "
                           "ignore: nothing to tell apart")
        if reasons:
            out.append(f"{ignored / total:.1%} of the pixels became the ignore index {self.palette.ignore_index} "
                       f"({'; '.join(reasons)}), so they will not be trained on; {self._ignore_fix()}")
        return out

    def _ignore_value_both_ways(self) -> list[str]:
        """Masks of 0 and 255 alone took 255 as the class, others of 0/1/255 kept it as ignore: one convention
        per mask, and a set whose foreground-free masks hold an ignore band would label that band."""
        if not (self.by_ids and self.kept_ignore):
            return []
        stored = self.palette.ignore_index
        return [f"{len(self.by_ids)} mask(s) of ids alone (first: {self.by_ids[0]}) took {stored} as "
                f"{self.class_at_ignore!r}, while {len(self.kept_ignore)} holding other values too (first: "
                f"{self.kept_ignore[0]}) kept it as ignore: if {stored} means one thing in every mask, say which: "
                f"--remap ids ({self.class_at_ignore}) or --remap {stored}:{stored} (ignore)"]

    def _ids_in_some(self) -> list[str]:
        """Some masks failed as ids of the palette (a value no index has): the ones converted may be ids too, each
        of whose values happens to be a valid index (a Cityscapes street without sky or car), every pixel wrong."""
        failed = sum(1 for line in self.errors if IDS_NOT_INDICES in line)
        if not failed or not self.converted or self.ids_are_indices:
            return []
        return [f"{failed} mask(s) failed as ids of palette {self.palette.name!r}, not indices; the {self.converted} "
                "converted were read as indices: if they hold ids too, every pixel of them has the wrong class: "
                "rerun with --remap ids --overwrite"]

    def _class_plus_one_in_some(self) -> list[str]:
        """Some masks failed on the value one past the last class (LoveDA's agricultural 7 of 0..6): the converted
        ones store class + 1 too, read as indices every pixel one class off (no-data became the first class)."""
        failed = sum(1 for line in self.errors if CLASS_PLUS_ONE in line)
        if not failed or not self.converted:
            return []
        return [f"{failed} mask(s) failed on {self.palette.num_classes}, one past the last class; the "
                f"{self.converted} converted were read as indices: if they store class + 1 with 0 as no-data too, "
                "every pixel of them is one class off: rerun with --remap reduce-zero --overwrite"]

    def _stored_ids_one_up(self) -> list[str]:
        """A palette whose ids are its indices + 1 (ade20k) and masks read as indices that hold 0 but never the
        ignore value: raw ADE20K annotations (0 = other) under other names, every pixel one class off, exit 0.
        Label maps converted before hold the ignore value where ADE's 0 was."""
        if not self.ids_one_up or not self.converted or self.ignored_pixels or not self.pixel_counts \
                or not self.pixel_counts[0]:
            return []
        first = self.palette.names[0] if self.palette.names else "class 0"
        return [f"palette {self.palette.name!r} gives each class the id index + 1, and these masks, read as indices, "
                f"hold 0 (now {first!r}) but never the ignore value {self.palette.ignore_index}: raw annotations "
                "that store class + 1 with 0 as 'other' (ADE20K's)? then every pixel is one class off: rerun with "
                "--remap ids --overwrite"]

    def _ids_in_another_order(self) -> list[str]:
        """A palette file whose id column numbers the classes 0..n-1 in another order than its rows (2 road, 0 sky,
        1 car): index masks read as indices took each value for the class of that row, not of that id, exit 0."""
        if self.ids_reordered is None or self.converted <= len(self.colours):
            return []
        value, by_id, by_index = self.ids_reordered
        return [f"the palette gives its classes ids in another order than their indices (id {value} is {by_id!r}, "
                f"index {value} {by_index!r}), and the index masks were read as indices: if they store the ids, "
                "every pixel of a moved class has the wrong class: rerun with --remap ids --overwrite"]

    def _jpeg_close_classes(self) -> list[str]:
        """JPEG index masks whose classes are stored a few values apart (ids 0, 1, 2, ...): the compression noise
        on one class's edges is another class's value, so those pixels were converted to it, exit 0."""
        if not self.jpeg_close_classes:
            return []
        first, n = self.jpeg_close_classes[0], len(self.jpeg_close_classes)
        return [f"{n} JPEG mask(s) (first: {first}) store classes a few values apart: JPEG moves the pixels on a "
                "class's edges to nearby values, which are other classes here, so some of those pixels have the "
                "wrong class and no conversion can tell which; get the masks as PNG (lossless) if the source has "
                "them"]

    def _camvid_index_masks(self) -> list[str]:
        """SegNet's CamVid (index masks 0..11, 11 void) under `-p camvid`, the 32 colour classes of the original
        release: every value kept as an index of the 32 (road 3 became Bridge, void a class), exit 0."""
        counts = self.pixel_counts
        if self.palette.name != "camvid" or len(counts) <= CAMVID11_VALUES or any(counts[CAMVID11_VALUES:]) \
                or not any(counts):
            return []
        return ["every pixel is one of the first 12 of palette 'camvid' (CamVid's 32 colour classes): index "
                "masks of SegNet's CamVid (0..10, 11 void)? convert those with -p camvid11 --remap ids"]

    def _ignore_fix(self) -> str:
        """What to do about many ignored pixels, from where they came: a remap, unknown values, the masks' own."""
        ignore = self.palette.ignore_index
        unknown = sum(self.unknown.values()) if self.unknown_ignored else 0
        if unknown > 0.25 * self.ignored_pixels and unknown >= self.ignored_pixels - unknown:
            return (f"{unknown:,} of them are values or colours not in the palette that --unknown ignore "
                    "replaced: add them to the palette")
        if self.zero_unlabelled:
            return "--remap reduce-zero made every stored 0 ('not labelled') ignore; check that 0 means that here"
        if self.asked_ignore:
            values = ",".join(map(str, self.asked_ignore))
            if self.ignore_by_ids:
                return (f"the palette's ignore entries (ids {values}) asked for them; if one is a class, give "
                        "it a class index in the palette")
            return (f"--remap asked for value(s) {values} to be ignore; if one is a class, remap it to a class "
                    "index instead")
        if unknown > 0.25 * self.ignored_pixels:
            return (f"{unknown:,} of them are values or colours not in the palette that --unknown ignore "
                    "replaced: add them to the palette")
        if self.transparent_pixels * 2 > self.ignored_pixels:  # masks whose background is see-through
            return (f"{self.transparent_pixels:,} of them are transparent (alpha 0), which is ignore whatever their "
                    "colour: if transparency means background, flatten the masks onto black (or the background's "
                    "colour) first, e.g. PIL Image.alpha_composite")
        if len(self.colours) * 2 > self.converted:  # colour masks: --remap takes stored values, they have none
            colours = self.ignore_colours or tuple(c.color for c in self.palette.classes if c.ignore and c.color)
            shown = ", ".join(str(tuple(c)) for c in colours[:3]) + (f" and {len(colours) - 3} more"
                                                                     if len(colours) > 3 else "")
            what = f"one of the palette's {len(colours)} ignore colours" if len(colours) > 1 else \
                "the palette's ignore colour"
            return (f"they have {what}{f' ({shown})' if shown else ''}: if one is a class, give it a class index "
                    "in the palette")
        present = [i for i, n in enumerate(self.pixel_counts) if n]
        free = max(present) + 1 if present else 0  # binary 0/255 masks: class 1
        stored = ignore if self.ignore_value is None else self.ignore_value
        if self.kept_ignore and self.index_at_ignore is not None:  # -p binary: 0/255 masks with a few stray 1s
            return (f"{len(self.kept_ignore)} mask(s) (first: {self.kept_ignore[0]}) hold other class values "
                    f"beside {stored}, so {stored} was kept as ignore there; if it is {self.class_at_ignore!r} "
                    f"(the others stray pixels), pass --remap {stored}:{self.index_at_ignore}")
        remap = (f"--remap {stored}:{free} with a palette that has class {free}" if free != ignore
                 else "a palette with a class for it and another ignore index")
        binary = " (in binary 0/255 masks 255 is usually the foreground)" if stored == 255 else ""
        return (f"if value {stored} is a class{binary}, give it a class index: {remap}, or the palette "
                "'dataprep palette infer' writes for these masks with --remap ids")

    @property
    def notes(self) -> list[str]:
        """What was done differently from the plain rule, said once per run."""
        out = []
        if self.colours and self.colourless:  # Cityscapes' colour maps draw polegroup (ignored) in pole's colour
            out.append(f"{len(self.colours)} mask(s) converted by colour: {', '.join(self.colourless[:3])} of palette "
                       f"{self.palette.name!r} share another class's colour, so their pixels are that class; masks "
                       "of ids keep them apart")
        if self.palette_remap:
            out.append(f"stored values converted by the palette's remap ({self.palette_remap}), as palette infer wrote "
                       "it for these masks; --remap overrides it")
        if self.by_colour:
            n = len(self.by_colour)
            out.append(f"{n} palette-mode mask{'s' if n > 1 else ''} (first: {self.by_colour[0]}) had a colour table "
                       "that differs from the palette, so their pixels were converted by colour (table index -> "
                       "colour -> class), not by index; --png-indices would use the indices")
        if self.by_ids:
            n = len(self.by_ids)
            stored = self.palette.ignore_index
            out.append(f"{n} index mask{'s' if n > 1 else ''} (first: {self.by_ids[0]}) held ids alone, {stored} "
                       f"among them: their {stored} is {self.class_at_ignore!r} (its id), not ignore; masks that "
                       f"hold the class's index too keep {stored} as ignore")
        if self.grey_levels:
            n = len(self.grey_levels)
            out.append(f"{n} RGB mask{'s' if n > 1 else ''} (first: {self.grey_levels[0]}) held grey pixels (v,v,v) "
                       "only, colours the palette lacks: converted by their values v, as the index masks they are")
        return out

    def class_rows(self) -> list[tuple[int, str, int, float]]:
        """(index, name, pixels, share of all pixels) per class, then the ignore index."""
        total = self.total_pixels or 1
        names = self.palette.names
        rows = [(i, names[i], n, n / total) for i, n in enumerate(self.pixel_counts)]
        ignore_name = next((c.name for c in self.palette.classes if c.kind is EntryKind.IGNORE), "ignore")
        rows.append((self.palette.ignore_index, ignore_name, self.ignored_pixels, self.ignored_pixels / total))
        return rows


@dataclass(frozen=True)
class _FileResult:
    status: Literal["converted", "skipped"]
    counts: np.ndarray
    unknown: dict[UnknownKey, int]
    by_colour: bool = False
    ignored_interior: int = 0
    grey_levels: bool = False
    by_ids: bool = False
    kept_ignore: bool = False
    colours: bool = False  # converted by colour (an RGB mask, or a palette-mode one through its table)
    transparent: int = 0
    jpeg_close_classes: bool = False
    sources: tuple[tuple[str, int, int], ...] | None = None  # the stamp of the files it was made from
    remap_held: frozenset[int] | None = None  # the --remap values this index mask held (None: not looked at)


_FILE_FLAGS = ("by_colour", "grey_levels", "by_ids", "kept_ignore", "colours", "jpeg_close_classes")


def skipped_indices_warning(palette: Palette, source: str) -> str | None:
    """The palette's class indices skip some below its last: the label maps' palette.json gets a class_N there
    that no pixel holds, and a model an output it never sees (a copied entry's index left unchanged)."""
    skipped = class_gaps(palette.class_indices) if palette.class_indices else ()
    if not skipped:
        return None
    by_index: dict[int, list[str]] = {}
    for c in palette.classes:
        if not c.ignore and c.name not in by_index.setdefault(c.index, []):
            by_index[c.index].append(c.name)
    shared = next(((index, names) for index, names in by_index.items() if len(names) > 1), None)
    also = f" ({' and '.join(shared[1][:2])} share index {shared[0]})" if shared else ""
    numbers = ", ".join(map(str, skipped[:5])) + (", ..." if len(skipped) > 5 else "")
    return (f"palette {source} gives no class index {numbers} of 0..{palette.num_classes - 1}{also}: the label "
            f"maps' palette.json names {'it' if len(skipped) == 1 else 'them'} "
            f"{', '.join(f'class_{i}' for i in skipped[:3])}{', ...' if len(skipped) > 3 else ''}, a model gets "
            "an output no pixel trains; if an index was copied unchanged, fix it and rerun with --overwrite")


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


def _collect(report: ConversionReport, jobs: list[_Job], results, palette: Palette,
             remap: Mapping[int, int] | None = None) -> None:
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
        for flag in _FILE_FLAGS:  # each a _FileResult bool and the report's list of the files that had it
            if getattr(value, flag):
                getattr(report, flag).append(str(job.src))
        report.ignored_interior += value.ignored_interior
        report.transparent_pixels += value.transparent
        totals[: len(value.counts)] += value.counts
        for key, n in value.unknown.items():
            report.unknown[key] = report.unknown.get(key, 0) + n
            report.unknown_first_file.setdefault(key, str(job.src))
    report.pixel_counts = [int(v) for v in totals[: palette.num_classes]]
    report.ignored_pixels = int(totals[palette.ignore_index])
    looked = [res.value.remap_held for res in results if res.ok]
    if looked and all(held is not None for held in looked):  # every mask looked at (none skipped, none colour)
        held = frozenset().union(*looked)
        report.remap_unheld = tuple(sorted(set(remap or {}) - held))

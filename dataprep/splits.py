"""K-fold splits: plain, stratified by dominant class, multilabel-stratified, optionally grouped.

Every mode runs the same assignment: iterative stratification (Sechidis,
Tsoumakas and Vlahavas, 2011, as in iterstrat's MultilabelStratifiedKFold),
generalised to units that carry several samples so that groups (a city, a video
sequence) are assigned whole and never straddle train and val:

- plain:       no labels, so only fold sizes are balanced (a shuffled K-fold);
- stratified:  one label per image, its dominant class (most pixels);
- multilabel:  one label per class present in the image; for the classes nearly every image
               holds, the pixels of the rarest of them (a binary set's foreground) instead.

For a group, a label's weight is the number of its images that carry it.
Class pixel counts come from the same per-image partial as `dataprep stats`.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .class_stats import class_counts
from .dedup import duplicates_across_folds
from .errors import DataprepError, UsageError, all_failed
from .option_ranges import check_seed
from .executor import Executor, OnError, iter_items
from .extra_masks import extra_mask_paths
from .foldfiles import write_folds
from .foldreport import FoldReport, fold_report
from .io import PathLike
from .manifest import Manifest, ManifestRow, read_manifest, relative_path, require_rows
from .palette import Palette, resolve_palette
from .repeats import join_units, repeated_files, repeated_files_warnings
from .split_column import select_splits, split_mix
from .sampleio import load_label_map, manifest_size
from .stats import AUTO, IgnoreIndex, one_class_warning, resolve_classes, unconverted_warning

Mode = Literal["plain", "stratified", "multilabel"]
MODES: tuple[str, ...] = ("plain", "stratified", "multilabel")


# --------------------------------------------------------------------------- the assignment


def iterative_stratification(labels: np.ndarray, k: int, rng: np.random.Generator,
                             sizes: np.ndarray | None = None) -> np.ndarray:
    """Fold (0..k-1) of each unit, balancing fold sizes and every label's count across folds.

    `labels` is (U, L): how many of a unit's samples carry each label (0/1 for
    single images); `sizes` is (U,): samples per unit (default 1). Units are
    shuffled first; then, rarest label first, each unit carrying it goes to the
    fold that most lacks that label, ties broken by the fold that most lacks
    samples, then at random. Units without labels fill the folds that lack samples.

    One refinement over Sechidis et al.: a fold that already holds its share of
    samples (within half a unit) takes no more while another fold still lacks
    some, so fold sizes stay within one sample of each other for single images.
    """
    labels = np.asarray(labels)
    # Signed integer counts stay as they are (int8 flags: an eighth of float64's memory at 100k rows).
    if labels.dtype.kind == "b":
        labels = labels.astype(np.int8)
    elif labels.dtype.kind != "i":
        labels = labels.astype(np.float64)
    if labels.ndim != 2:
        raise ValueError(f"labels must be (units, labels), got shape {labels.shape}")
    n_units = labels.shape[0]
    sizes = np.ones(n_units) if sizes is None else np.asarray(sizes, dtype=np.float64)
    order = rng.permutation(n_units)
    labels, sizes = labels[order], sizes[order]
    has = labels > 0
    # Per unit the work is on k numbers: Python floats and lists, where numpy's per-call cost was 20 us a unit.
    # The arithmetic is the same float64 arithmetic in the same order, so the folds are the same as numpy's.
    want_size = [float(sizes.sum() / k)] * k
    want_label = np.outer(np.full(k, 1.0 / k), labels.sum(axis=0))  # (k, L)
    unit_size = sizes.tolist()
    fold = np.full(n_units, -1, dtype=np.int64)
    left = np.ones(n_units, dtype=bool)
    folds = range(k)

    def place(unit: int, need: list[float] | None) -> int:
        # Folds that can take the unit without overshooting their share by half
        # of it or more; when none can, the emptiest ones. Plain iterative
        # stratification lets label need override size and drifts by several samples.
        size = unit_size[unit]
        # Folds the unit fits without overshooting first: letting every fold overshoot by less than half a
        # unit gave 23 images in 5 folds as 5, 5, 5, 5, 3 (each fold wanted 4.6 and took a fifth).
        candidates = [f for f in folds if want_size[f] >= size - 1e-9]
        if not candidates:
            candidates = [f for f in folds if want_size[f] > size / 2]
        if not candidates:
            most = max(want_size)
            candidates = [f for f in folds if want_size[f] == most]
        if need is not None and len(candidates) > 1:
            most = max(need[f] for f in candidates)
            candidates = [f for f in candidates if need[f] == most]
        if len(candidates) > 1:
            most = max(want_size[f] for f in candidates)
            candidates = [f for f in candidates if want_size[f] == most]
        f = candidates[int(rng.integers(len(candidates)))] if len(candidates) > 1 else candidates[0]
        want_size[f] -= size
        return f

    while left.any():
        remaining = has[left].sum(axis=0)
        if not remaining.any():
            # Unlabelled units, biggest first: packing large groups early keeps sizes even.
            rest = np.flatnonzero(left)
            for unit in rest[np.argsort(-sizes[rest], kind="stable")].tolist():
                fold[unit] = place(unit, None)
            left[rest] = False
            break
        rarest = np.flatnonzero(remaining == remaining[remaining > 0].min())
        label = int(rarest[rng.integers(rarest.size)]) if rarest.size > 1 else int(rarest[0])
        units = np.flatnonzero(has[:, label] & left)
        units = units[np.argsort(-labels[units, label], kind="stable")]
        # Only this label's column is read while its units are placed: it is kept as a list, and the other
        # columns are brought up to date afterwards, each element's subtractions in the order they happened.
        need = want_label[:, label].tolist()
        for unit, carried in zip(units.tolist(), labels[units, label].tolist()):
            f = fold[unit] = place(unit, need)
            need[f] -= carried
        np.subtract.at(want_label, fold[units], labels[units])
        left[units] = False
    out = np.empty(n_units, dtype=np.int64)
    out[order] = fold
    return out


# --------------------------------------------------------------------------- groups


def group_keys(manifest: Manifest, *, group_by: str | None = None, group_column: str | None = None) -> list[str]:
    """Group of each row: `group_by` regex on the image path relative to the manifest's folder, or a column.

    The key is the regex's first capturing group that took part in the match
    (the whole match when the regex has no groups).
    """
    if group_by is not None and group_column is not None:
        raise UsageError(None, "use either --group-by or --group-column, not both")
    if group_column is not None:
        keys = []
        for row in manifest.rows:
            if group_column not in row.extra:
                columns = ", ".join(manifest.extra_columns) or "none"
                raise UsageError(manifest.path, f"no column {group_column!r} (extra columns: {columns})")
            if not row.extra[group_column]:
                raise DataprepError(manifest.path, f"row {row.id!r} has an empty {group_column!r}")
            keys.append(row.extra[group_column])
        return keys
    if group_by is None:
        raise UsageError(None, "group_keys needs group_by or group_column")
    try:
        pattern = re.compile(group_by)
    except re.error as exc:
        raise UsageError(None, f"--group-by '{group_by}' is not a valid regular expression: {exc}") from None
    base = os.path.abspath(manifest.path.parent) if manifest.path is not None else None
    keys, unmatched = [], []
    folders: dict[str, str] = {}
    for row in manifest.rows:
        text = relative_path(base, row.image_str, folders) if base is not None else Path(row.image_str).as_posix()
        m = pattern.search(text)
        if m is None:
            unmatched.append(text)
            keys.append("")
            continue
        key = next((g for g in m.groups() if g is not None), None) if pattern.groups else m.group(0)
        keys.append(key if key is not None else m.group(0))
    if unmatched and len(unmatched) == len(keys):
        raise UsageError(None, f"--group-by '{group_by}' matches none of the {len(keys)} image paths "
                         f"(e.g. {unmatched[0]!r})")
    if unmatched:
        raise DataprepError(unmatched[0], f"does not match --group-by '{group_by}' ({len(unmatched)} of {len(keys)} "
                            "image paths do not); every row needs a group")
    return keys


# --------------------------------------------------------------------------- the split


@dataclass
class FoldResult:
    manifest: Manifest  # the input rows with a `fold` column (and `group` for --group-by)
    folds: np.ndarray  # fold of each row
    groups: list[str] | None
    report: FoldReport
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # rows whose masks could not be read
    palette: Palette | None = None  # written beside every manifest of the folds folder

    @property
    def k(self) -> int:
        return self.report.k


def split_folds(manifest: Manifest | PathLike, k: int = 5, *, mode: Mode = "multilabel", group_by: str | None = None,
                group_column: str | None = None, seed: int = 0, palette: PathLike | None = None,
                num_classes: int | None = None, ignore_index: IgnoreIndex = AUTO, executor: Executor | None = None,
                on_error: OnError = "skip", quiet: bool = False, splits: Sequence[str] | None = None) -> FoldResult:
    """Assign every row of the manifest to one of `k` validation folds.

    `splits` keeps only the rows whose `split` column (as `scan` writes it) is one
    of them, e.g. ("train", "val"); the folds and the written manifests hold those
    rows alone. Without it, a manifest of several splits is folded whole, with a
    warning: the dataset's own test images would train in some folds.

    Masks (when the manifest has them) are read for the stratification and the
    report. Rows whose mask cannot be read count as unlabelled and are listed in
    `errors` (on_error="fail" raises instead); in plain mode, which does not use
    labels, they only leave the report incomplete and are summed up in a warning.
    """
    owned = not isinstance(manifest, Manifest)  # read here: its rows can be replaced in place
    if owned:
        manifest = read_manifest(manifest)
    if mode not in MODES:
        raise UsageError(None, f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if k < 2:
        raise UsageError(None, f"k must be at least 2, not {k}")
    seed = check_seed(seed)  # before the masks are read: numpy refused -1 only at the shuffle
    n = len(require_rows(manifest))
    mix = split_mix(manifest) if splits is None else None
    if splits is not None:
        manifest = select_splits(manifest, splits)
        n = len(manifest)
    if group_by is None and group_column is None and _groups_by_default(manifest, k):
        group_column = "group"
    grouped = group_by is not None or group_column is not None
    keys = group_keys(manifest, group_by=group_by, group_column=group_column) if grouped else [r.id for r in manifest]
    repeats = repeated_files(manifest.rows)
    if repeats:  # one image under two ids (manifests joined): one unit, or it trains and validates in one split
        keys = join_units(keys, repeats)
    by_unit = grouped or bool(repeats)
    # Units (samples or groups) in a canonical order, so row order in the manifest does not matter.
    unit, n_units = _unit_index(keys)
    if k > n_units:
        what = "groups" if grouped else "samples"
        found = ""
        if grouped:  # a --group-by that caught the split folder made one group: 'train'
            names = sorted(set(map(str, keys)))
            found = f": {', '.join(repr(g) for g in names[:3])}{', ...' if len(names) > 3 else ''}"
            found += f" (from {'--group-by ' + repr(group_by) if group_by else '--group-column ' + str(group_column)})"
        raise UsageError(manifest.path, f"k={k} is larger than the number of {what} ({n_units}{found})")

    has_masks = any(r.mask is not None for r in manifest.rows)
    info = resolve_classes(manifest, palette=palette, num_classes=num_classes, ignore_index=ignore_index)
    pixels = np.zeros((n, 0), np.uint32)
    errors: list[str] = []
    if has_masks:
        pixels, errors = class_pixel_matrix(manifest.rows, num_classes=info.num_classes,
                                            ignore_index=info.ignore_index, executor=executor, on_error=on_error,
                                            quiet=quiet)
        if errors and len(errors) == n:  # nothing to stratify or report on: refuse rather than write blind folds
            raise all_failed(manifest.path, errors, "masks")
    num_k = pixels.shape[1]

    sizes = np.bincount(unit, minlength=n_units)
    per_image = _image_labels(pixels, mode)
    if n_units == n:  # one row per unit: a permutation
        unit_labels = np.empty_like(per_image)
        unit_labels[unit] = per_image
    else:
        unit_labels = np.zeros((n_units, per_image.shape[1]), np.int64 if per_image.dtype == np.int64 else np.int32)
        np.add.at(unit_labels, unit, per_image)
    del per_image
    rng = np.random.default_rng(seed)
    unit_fold = iterative_stratification(unit_labels, k, rng, sizes)
    folds = unit_fold[unit]
    del unit_labels

    names = info.names or [f"class_{c}" for c in range(num_k)]
    warnings = _rarity_warnings(pixels, unit, k, names, grouped, has_masks)
    warnings += repeated_files_warnings(manifest.rows, repeats, consequence="their rows are kept in one fold")
    if mix is not None:
        warnings.insert(0, mix.warning("kfold", "train in some folds"))
    lonely = one_class_warning(pixels.sum(axis=0).tolist(), names) if has_masks else None
    if lonely:
        warnings.append(lonely)
    raw = unconverted_warning(pixels.sum(axis=0).tolist()) if has_masks and info.names is None else None
    if raw:
        warnings.append(raw)
    if not has_masks and mode != "plain":
        warnings.append(f"the manifest has no masks, so mode {mode} cannot stratify: folds are plain shuffled")
    warnings += duplicates_across_folds(manifest.rows, folds) + tiles_across_folds(manifest.rows, folds)
    if not grouped:
        warnings += windows_across_folds(manifest.rows, folds) + slices_across_folds(manifest.rows, folds)
    unreadable = len(errors)
    if errors and mode == "plain":
        warnings.append(f"the class balance report leaves out {len(errors)} row(s) whose mask could not be read "
                        f"(first: {errors[0]})")
        errors = []
    # In place when the rows are ours: at 100k rows a second set of rows is a third of the peak memory.
    rows = manifest.rows if owned else list(manifest.rows)
    fold_text = [str(f) for f in range(k)]
    # Rows without other columns share one {"fold": f} per fold (rows never change their extra).
    shared = [{"fold": text} for text in fold_text]
    for i, f in enumerate(folds.tolist()):
        row = rows[i]
        if group_by is None and not row.extra:
            rows[i] = row.with_columns(shared[f])
        else:
            rows[i] = row.with_extra(fold=fold_text[f], **({"group": keys[i]} if group_by is not None else {}))
    report = fold_report(pixels if has_masks else None, folds, k, unit=unit if by_unit else None, names=names,
                         mode=mode, seed=seed, group_by=group_by, group_column=group_column,
                         ignore_index=info.ignore_index, warnings=tuple(warnings), unreadable_masks=unreadable)
    out = Manifest(rows, manifest.path)
    return FoldResult(out, folds, keys if grouped else None, report, warnings, errors,
                      resolve_palette(palette, manifest.path))


def _groups_by_default(manifest: Manifest, k: int) -> bool:
    """Whether the manifest's `group` column says which rows must share a fold: a tiles manifest's (`tile`: tiles
    of one scene overlap), an import's (copies of one source photo) or one written by hand. Dedup's (beside
    `duplicate_of`) are guessed clusters, grouped by only when asked (--group-column group), as its warning says.
    A column with empty cells or fewer than k groups (two manifests joined) folds as before, by row: the error
    would name an option nobody gave."""
    present = set(manifest.extra_columns)
    if not ({"source_id", "group"} <= present or "group" in present and "duplicate_of" not in present):
        return False
    if {"source_id", "group"} <= present:
        return True  # tiles: always, as before
    values = [row.extra.get("group", "") for row in manifest.rows]
    return all(values) and len(set(values)) >= k


def _mask_class_pixels(job: tuple[str, tuple[int, int] | None, list[str]], *, num_classes: int | None,
                       ignore_index: int | None) -> bytes:
    """Class pixel counts (stats' counts and checks) of the label map at `job` = (path, size the manifest
    promises, extra masks merged into it), as int64 bytes.

    A (str, tuple) job travels to a worker in a tenth of a manifest row's pickling time, and
    bytes in a fifteenth of an array's: at 40 us of work per row, transfers were a third of it.
    """
    path, size, extras = job
    mask = load_label_map(path, expect=size, purpose="kfold", extras=extras)
    return class_counts(mask, num_classes=num_classes, ignore_index=ignore_index, source=path)[0].tobytes()


def class_pixel_matrix(rows: Sequence[ManifestRow], *, num_classes: int | None, ignore_index: int | None,
                       executor: Executor | None = None, on_error: OnError = "skip",
                       quiet: bool = False) -> tuple[np.ndarray, list[str]]:
    """(rows, K) class pixel counts (zero for failed rows and rows without masks) and the error lines.

    Filled as the results stream in, into one array: 4 bytes per class and row, where a
    list of per-row stats partials cost kilobytes each (500 MB at 100k rows).
    K is `num_classes`, else the highest class seen + 1.
    """
    # uint32 holds any image's count (the manifest gives the sizes), at half int64's memory.
    largest = max((r.width * r.height for r in rows), default=0)
    out = np.zeros((len(rows), num_classes or 0), np.uint32 if largest < 2**32 else np.int64)
    where = [i for i, r in enumerate(rows) if r.mask_str is not None]  # job index -> row index
    jobs = [(rows[i].mask_str, manifest_size(rows[i]), extra_mask_paths(rows[i])) for i in where]
    failed: list[tuple[int, str]] = []
    fn = functools.partial(_mask_class_pixels, num_classes=num_classes, ignore_index=ignore_index)
    stream = iter_items(fn, jobs, executor=executor, on_error=on_error, desc="kfold", quiet=quiet)
    with contextlib.closing(stream):  # stopped early (an error): the pool drops the chunks in flight
        for r in stream:
            if r.error is not None:
                failed.append((r.index, r.error))
                continue
            counts = np.frombuffer(r.value, np.int64)
            if num_classes is None and counts.size > out.shape[1]:
                out = np.pad(out, ((0, 0), (0, counts.size - out.shape[1])))
            width = min(counts.size, out.shape[1])
            out[where[r.index], :width] = counts[:width]
    return out, [error for _index, error in sorted(failed)]  # in row order, however the workers finished


def _unit_index(keys: Sequence[str]) -> tuple[np.ndarray, int]:
    """Each key's rank among the distinct keys in sorted order, and how many distinct keys there are.

    Arrays, not a dict of 100k names: the same ranks as `sorted(set(keys)).index`.
    """
    values = np.array(keys, dtype=object)
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    starts = np.ones(len(keys), np.int64)
    starts[1:] = ranked[1:] != ranked[:-1]
    unit = np.empty(len(keys), np.int64)
    unit[order] = np.cumsum(starts) - 1
    return unit, int(unit.max()) + 1 if len(keys) else 0


def _image_labels(pixels: np.ndarray, mode: str) -> np.ndarray:
    # int8 0/1 flags, (rows x classes) like the pixel counts: an eighth of int64's memory.
    if mode == "plain" or pixels.shape[1] == 0:
        return np.zeros((pixels.shape[0], 0), np.int8)
    if mode == "multilabel":
        return _multilabel(pixels)
    dominant = np.zeros(pixels.shape, np.int8)
    labelled = pixels.sum(axis=1) > 0
    dominant[np.flatnonzero(labelled), pixels[labelled].argmax(axis=1)] = 1
    return dominant


# A class in at least this share of the images says nothing by its presence (a binary set's foreground is in
# every image: CrackForest, 118 of 118). Its pixels are what differs from image to image.
COMMON_CLASS_SHARE = 0.9


def _multilabel(pixels: np.ndarray) -> np.ndarray:
    """One flag per class present, except for the classes nearly every image holds: for the one of those with
    the fewest pixels (a binary set's foreground) its pixel count, so that its images are placed largest first
    into the fold that lacks most of its pixels. With flags alone every fold of CrackForest got 23-24 images
    with cracks, and the crack share of the folds ran from 1.5% to 3.0%."""
    flags = pixels > 0
    labelled = pixels.sum(axis=1) > 0
    if not labelled.any():
        return flags.astype(np.int8)
    common = np.flatnonzero(flags[labelled].mean(axis=0) >= COMMON_CLASS_SHARE)
    if len(common) == 0:
        return flags.astype(np.int8)
    minority = common[int(np.argmin(pixels[:, common].sum(axis=0, dtype=np.int64)))]
    rest = np.setdiff1d(np.arange(pixels.shape[1]), common)
    return np.hstack([flags[:, rest].astype(np.int64), _octave_steps(pixels[:, minority])[:, None]])


def _octave_steps(counts: np.ndarray) -> np.ndarray:
    """Counts rounded to quarter octaves (within 9%): images of about the same size tie, and the seeded
    shuffle orders them. Exact counts left the seed nothing to decide: on CrackForest two seeds put 97% of the
    image pairs together, against 24% for these steps (19% plain), for a crack share within 13% across folds
    instead of 12%."""
    counts = counts.astype(np.float64)
    steps = np.round(np.log2(np.maximum(counts, 1.0)) * 4) / 4
    return np.where(counts > 0, np.round(np.exp2(steps)), 0).astype(np.int64)


def _spread_over_folds(keys: Sequence[str | None], folds: Sequence[int]) -> tuple[list[str], int]:
    """(the keys, one per row, whose rows sit in several folds, sorted; how many keys there are), no key left out."""
    folds_of: dict[str, set[int]] = defaultdict(set)
    for key, fold in zip(keys, folds):
        if key:
            folds_of[key].add(int(fold))
    return sorted(v for v, f in folds_of.items() if len(f) > 1), len(folds_of)


def tiles_across_folds(rows: Sequence[ManifestRow], folds: Sequence[int]) -> list[str]:
    """A warning when tiles of one source image (`tile`'s source_id column) sit in several folds: tiles overlap
    and neighbours share a scene, so validation would see training pixels (SpaceNet tiles grouped by tile row)."""
    split, sources = _spread_over_folds([row.extra.get("source_id") for row in rows], folds)
    if not split:
        return []
    return [f"tiles of {len(split)} of {sources} source images span several folds, e.g. {split[0]!r}: "
            "overlapping and neighbouring tiles put the same scene in train and val; split with the tile "
            "manifest's own group column (the default) or --group-column source_id"]


def slices_across_folds(rows: Sequence[ManifestRow], folds: Sequence[int]) -> list[str]:
    """A warning when slices of one volume (`unstack`'s stack column) sit in several folds: neighbouring slices
    are nearly the same picture, so validation would see its training images again."""
    split, volumes = _spread_over_folds([row.extra.get("stack") for row in rows], folds)
    if not split or volumes < 2:  # one volume: its slices are all there is to split
        return []
    return [f"slices of {len(split)} of {volumes} volumes span several folds, e.g. {split[0]!r}: neighbouring "
            "slices are nearly the same picture in train and val; keep each volume in one fold with "
            "--group-column stack"]


# MMSegmentation's Potsdam and Vaihingen converters name each crop SCENE_X0_Y0_X1_Y1, at 50% overlap.
_WINDOW_NAME = re.compile(r"^(.+?)_(\d+)_(\d+)_(\d+)_(\d+)$")
WINDOW_GROUP_BY = r"([^/]+?)_\d+_\d+_\d+_\d+\.[^/.]+$"


def _window(row: ManifestRow) -> re.Match[str] | None:
    """The SCENE_X0_Y0_X1_Y1 parts of the row's image name, when it is named so (X1 > X0, Y1 > Y0)."""
    m = _WINDOW_NAME.match(Path(row.image_str).stem)
    return m if m is not None and int(m[4]) > int(m[2]) and int(m[5]) > int(m[3]) else None


def windows_across_folds(rows: Sequence[ManifestRow], folds: Sequence[int]) -> list[str]:
    """A warning when images named as windows of a larger scene (`2_10_0_0_512_512.png`: scene 2_10, x 0..512,
    y 0..512) sit in several folds: overlapping crops of one scene trained and validated on the same pixels."""
    windows = [_window(row) for row in rows]
    sizes = Counter((int(m[4]) - int(m[2]), int(m[5]) - int(m[3])) for m in windows if m is not None)
    split, scenes = _spread_over_folds([m[1] if m is not None else None for m in windows], folds)
    # Most images so named, in more than one scene, most windows of one size (a crop size): else the numbers are
    # something else (dates such as cam_01_06_2021_12).
    if not split or scenes < 2 or sum(sizes.values()) * 2 < len(rows) \
            or sizes.most_common(1)[0][1] * 2 < sum(sizes.values()):
        return []
    return [f"the images are named as windows of larger scenes (SCENE_X0_Y0_X1_Y1, as MMSegmentation's Potsdam "
            f"and Vaihingen crops are) and windows of {len(split)} of {scenes} scenes span several "
            f"folds, e.g. {split[0]!r}: overlapping crops put the same pixels in train and val; keep each scene in "
            f"one fold with --group-by '{WINDOW_GROUP_BY}'"]


def _rarity_warnings(pixels: np.ndarray, unit: np.ndarray, k: int, names: Sequence[str], grouped: bool,
                     has_masks: bool) -> list[str]:
    if not has_masks:
        return []
    what = "groups" if grouped else "images"
    absent, rare = [], []
    for c in range(pixels.shape[1]):
        carriers = np.unique(unit[pixels[:, c] > 0]).size
        name = names[c] if c < len(names) else f"class_{c}"
        if carriers == 0:
            absent.append(f"{c} ({name})")
        elif carriers < k:
            rare.append(f"class {c} ({name}) occurs in only {carriers} {what}, fewer than k={k}: "
                        f"{k - carriers} validation fold(s) will have none")
    out = []
    # One line for the absent ones: 300 classes of which 280 absent printed 280 lines.
    if len(absent) == 1:
        out.append(f"class {absent[0]} does not occur in any image")
    elif absent:
        shown = ", ".join(absent[:_LISTED]) + (f" and {len(absent) - _LISTED} more" if len(absent) > _LISTED else "")
        out.append(f"{len(absent)} classes do not occur in any image: {shown}")
    out += rare[:_LISTED]
    if len(rare) > _LISTED:
        out.append(f"and {len(rare) - _LISTED} more classes occur in fewer than k={k} {what}")
    return out


_LISTED = 8  # classes named one by one in a warning; the rest are counted


def kfold(manifest: PathLike, out_dir: PathLike, k: int = 5, **options: Any) -> FoldResult:
    """Split a manifest file and write the folds folder; `options` as for `split_folds`."""
    result = split_folds(manifest, k, **options)
    write_folds(result, out_dir, source=manifest)
    return result


__all__ = ["FoldReport", "FoldResult", "MODES", "fold_report", "group_keys", "iterative_stratification", "kfold", "split_folds",
           "write_folds"]

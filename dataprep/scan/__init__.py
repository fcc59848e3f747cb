"""Walk a dataset tree, pair images with masks, validate each pair, build a manifest.

Pairing rules come from `layout` (which folders and name suffixes pair);
a file's *key* under a rule is its path below the rule's image (or mask)
folder with that side's suffix removed, and an image pairs with the mask of the
same key. So

    images/downtown/a.jpg               <-> masks/downtown/a.png
    train/0001TP_006690.png             <-> trainannot/0001TP_006690.png       (CamVid, SegNet)
    val/0016E5_07959.png                <-> val_labels/0016E5_07959_L.png      (Kaggle CamVid)
    leftImg8bit/train/x_leftImg8bit.png <-> gtFine/train/x_gtFine_color.png    (Cityscapes)
    samples/1_image.png                 <-> samples/1_target.png               (suffixes only)

Validation reads headers only (size, EXIF orientation) plus the last bytes of
each file (truncation) unless `check="decode"` asks for a full decode.

Modules: `pairing` (keys, candidate pairs, orphans and copies), `orphans` (orphans
that are further masks, one class's masks, another annotator's, or near names),
`validate` (one pair's checks, in workers), `problems` (what is reported).
"""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .. import io
from ..errors import DataprepError, UsageError
from ..executor import Executor, OnError, run_items
from ..extra_masks import EXTRA_MASKS_COLUMN, encode_extra_masks
from ..hints import ANNOTATION_EXTENSIONS, Hint, find_hints
from ..layout import (AmbiguousLayout, PairingRule, SuffixHint, choose_rules, looks_like_a_mask_name,
                      suggest_suffixes, with_pairs)
from ..manifest import Manifest, ManifestRow
from ..palette.ade20k import FULL_RELEASE_SEG_SUFFIX
from ..paths import walk_files
from ..split_column import SPLIT_COLUMN
from .orphans import (OTHER_ANNOTATOR_SUFFIXES, attach_extra_masks, mask_subfolders, mask_variants, near_named,
                      other_annotator, part_masks, unlabelled_folders)
from .pairing import pair_files
from .problems import Candidate, Problem, ScanProblem
from .split_lists import read_split_lists
from .validate import Check, ValidatePair

if TYPE_CHECKING:
    from ..dedup import DedupResult

__all__ = ["OTHER_ANNOTATOR_SUFFIXES", "AmbiguousLayout", "Check", "PairingRule", "Problem", "ScanProblem",
           "ScanResult", "scan"]


@dataclass
class ScanResult:
    root: Path
    rules: list[PairingRule]  # each with the number of pairs it made
    rows: list[ManifestRow]
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    images_seen: int = 0
    masks_seen: int = 0
    unpaired_files: int = 0  # image-like files no rule took (other mask variants, stray files)
    hints: list[Hint | SuffixHint] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)  # values of the `split` column, when there is one
    splits_from: str | None = None  # the folder of the split lists that gave it, where no folder names splits
    duplicates: "DedupResult | None" = None
    notes: list[str] = field(default_factory=list)  # warnings about the whole set (duplicates across splits,
    # masks of another mask word)

    @property
    def manifest(self) -> Manifest:
        return Manifest(self.rows)

    def problem_counts(self) -> Counter[ScanProblem]:
        return Counter(p.kind for p in self.problems)


def scan(
    root: str | os.PathLike[str],
    *,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    image_suffix: str | None = None,
    mask_suffix: str | None = None,
    mask_word: str | None = None,
    exclude: Sequence[str] = (),
    check: Check = "header",
    duplicates: bool = False,
    keep_scaled_masks: bool = False,
    executor: Executor | None = None,
    on_error: OnError = "skip",
    quiet: bool = False,
) -> ScanResult:
    """Find, pair and validate every image/mask pair under `root`.

    Problems (orphans, duplicates, unreadable or truncated files, size
    mismatches) are returned, and their files left out of the rows
    (`on_error="fail"` raises a DataprepError for the first problem instead). When the
    folders name several splits, every row gets a `split` column. When nothing
    pairs, `rules` and `rows` are empty and `hints` say what the tree looks like.
    `duplicates=True` also looks for duplicate images (see `dataprep.dedup`) and
    gives every row `group` and `duplicate_of` columns. `keep_scaled_masks=True`
    keeps pairs whose mask is its image at another scale (a warning, not a
    problem; the row has the image's size) for `dataprep resize --to image`.
    `mask_word` names a word mask names add to their image's (KITTI road's `road`); found by itself
    when no suffix pairs.

    Raises `AmbiguousLayout` (a usage error) when two folders found by the same convention could hold
    the masks of one image folder.
    """
    # Absolute, so that workers on other machines (Dask) find the same files.
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise UsageError(root, "not a directory")
    if check not in ("header", "decode"):
        raise UsageError(None, f"check must be 'header' or 'decode', not {check!r}")
    walked = list(walk_files(root, io.IMAGE_EXTENSIONS | io.MASK_EXTENSIONS | ANNOTATION_EXTENSIONS | _UNREAD_WALKED,
                             exclude=exclude))
    kinds = [_unread_kind(f) for f in walked]
    unread = Counter(kind for kind in kinds if kind)
    everything = [f for f, kind in zip(walked, kinds) if not kind and not io.has_extension(f, _UNREAD_WALKED)]
    files = [f for f in everything if io.has_extension(f, io.IMAGE_EXTENSIONS | io.MASK_EXTENSIONS)]
    if unread and (image_dir or mask_dir):
        _check_unread_folders(walked, image_dir, mask_dir)
    rules = choose_rules(files, image_dir=image_dir, mask_dir=mask_dir, image_suffix=image_suffix,
                         mask_suffix=mask_suffix, mask_word=mask_word)
    candidates, problems, n_images, n_masks, pairs_per_rule, used = pair_files(files, rules, root)
    candidates, problems, pairing_warnings = attach_extra_masks(candidates, problems, files, used)
    n_images -= sum(1 for w in pairing_warnings if w.path in used)  # side by side: counted as unpaired images
    n_masks += len(pairing_warnings)
    used |= {w.path for w in pairing_warnings}
    problems, subfolders = mask_subfolders(candidates, problems)  # counted as masks already
    pairing_warnings += subfolders
    problems, variants = mask_variants(candidates, problems)
    pairing_warnings += variants
    problems, annotators, as_images = other_annotator(candidates, problems, rules)
    n_images -= as_images  # side by side they were counted as images without a mask
    n_masks += as_images
    pairing_warnings += annotators
    problems, parts, as_images = part_masks(candidates, problems)
    n_images -= as_images
    n_masks += as_images
    pairing_warnings += parts
    problems = near_named(problems, rules, files, used)
    problems, unlabelled = unlabelled_folders(candidates, problems)
    pairing_warnings += unlabelled
    copies = (ScanProblem.JPEG_COPY, ScanProblem.SAME_BYTES)
    pairing_warnings += [p for p in problems if p.kind in copies]  # warnings: the pair is kept
    problems = [p for p in problems if p.kind not in copies]
    if on_error not in ("skip", "fail"):
        raise UsageError(None, f"on_error must be 'skip' or 'fail', not {on_error!r}")
    if on_error == "fail":
        _fail_on_first(root, problems)
    rules = [with_pairs(r, n) for r, n in zip(rules, pairs_per_rule)]
    hints: list[Hint | SuffixHint] = list(find_hints(root, everything)) if len(used) < len(everything) else []
    suffixes = suggest_suffixes(files) if not any(r.pairs for r in rules) and not hints else None
    if suffixes is not None:
        hints.append(suffixes)

    results = run_items(
        ValidatePair(str(root), check, keep_scaled_masks), candidates, executor=executor, on_error="skip",
        desc="validating", quiet=quiet, unit="pair",
    )
    rows: list[ManifestRow] = []
    warnings: list[Problem] = list(pairing_warnings)
    splits = sorted({c.split for c in candidates if c.split})
    for cand, res in zip(candidates, results):
        if res.error is not None:  # an unexpected failure, not a finding
            problems.append(Problem(cand.image, ScanProblem.UNREADABLE, res.error))
            continue
        row, found, warned = res.value
        problems.extend(found)
        warnings.extend(warned)
        if row is not None:
            if len(splits) > 1:
                row = row.with_extra(**{SPLIT_COLUMN: cand.split or ""})
            rows.append(row)
    if any(c.extras for c in candidates):
        names = {c.id: encode_extra_masks([os.path.basename(e) for e in c.extras]) for c in candidates}
        rows = [r.with_extra(**{EXTRA_MASKS_COLUMN: names[r.id]}) for r in rows]
    rows.sort(key=lambda r: r.id)
    problems.sort(key=lambda p: (p.path, p.kind))
    if on_error == "fail":
        _fail_on_first(root, problems)
    list_notes: list[str] = []
    lists_folder = None
    if len(splits) <= 1 and rows:
        listed = _splits_from_lists(root, [f for f in everything if f.lower().endswith(".txt")], rows, problems)
        if listed is not None:
            rows, splits, lists_folder, list_notes = listed.rows, listed.splits, listed.folder, listed.notes
            problems = [p for p in problems if p not in listed.unlisted_orphans]
            warnings += listed.warnings
    result = ScanResult(root, rules, rows, problems, warnings, n_images, n_masks, len(files) - len(used), hints,
                        splits if len(splits) > 1 or lists_folder else [], lists_folder)
    if duplicates and rows:
        from ..dedup import duplicates_across_splits, find_duplicates, with_groups

        result.duplicates = find_duplicates(Manifest(rows), executor=executor, quiet=quiet)
        result.rows = with_groups(rows, result.duplicates)
        result.notes = result.duplicates.warnings + duplicates_across_splits(result.rows)
    result.notes += [f"{r.mask_dir}: {n} masks add the word {word} where the paired ones add {r.mask_word}: not "
                     f"paired; --mask-word {word} pairs them instead" for r in rules for word, n in r.other_mask_words]
    result.notes += [f"{r.image_dir}: paired with {r.mask_dir} ({r.pairs} pairs), but {name} pairs {n}: "
                     f"--mask-dir {name} takes those" for r in rules for name, n in r.larger_mask_folders]
    # datumaro's Cityscapes sample has instanceIds alone: paired as class masks, unsaid.
    result.notes += [f"{r.describe()}: Cityscapes instanceIds maps are no class masks (a pixel of an object holds "
                     "its class id x 1000 + the object's number); pair the _gtFine_labelIds (or _labelTrainIds) "
                     "masks instead: --mask-suffix _gtFine_labelIds"
                     for r in rules if r.pairs and r.mask_suffix.lower().endswith("instanceids")]
    result.notes += _instance_folders(rules)
    result.notes += _ade20k_full_release(root, rows)
    result.notes += _splits_of_some(candidates) + list_notes
    arrays = sum(1 for f in files if f.lower().endswith(".npy") and f not in used)
    if arrays:  # HSI Drive's hyperspectral cubes: "other image files 6" and nothing said why
        result.notes.append(f"{arrays} .npy file(s) are not paired: dataprep reads .npy arrays as masks (label maps) "
                            "only, never as images; save image arrays as TIFF (tifffile.imwrite keeps every band "
                            "and the dtype)")
    result.notes += _jpeg2000_masks(files, used, rules)
    if unread:
        listed = ", ".join(f"{kind} x {n}" for kind, n in unread.most_common())
        result.notes.append(f"{sum(unread.values())} file(s) of kinds dataprep does not read ({listed}) are left "
                            "out: convert them to PNG or TIFF first (a NIfTI or DICOM volume to one image per slice)")
    return result


# Image-like files scan cannot read, said rather than left out unsaid (BraTS' imagesTr/*.nii.gz: "no folder").
UNREAD_KINDS = (".nii.gz", ".nii", ".dcm", ".mha", ".mhd", ".nrrd", ".heic", ".heif", ".avif", ".svs", ".ndpi",
                ".czi")
_UNREAD_WALKED = frozenset({".gz", *(k for k in UNREAD_KINDS if k.count(".") == 1)})


def _unread_kind(path: str) -> str | None:
    name = path.lower()
    kind = next((kind for kind in UNREAD_KINDS if name.endswith(kind)), None)
    if kind is None and io.has_extension(name, io.JPEG2000_EXTENSIONS) and not io.jpeg2000_decodable():
        return os.path.splitext(name)[1]  # neither OpenCV nor PIL was built with OpenJPEG
    return kind


def _jpeg2000_masks(files: list[str], used: set[str], rules: list[PairingRule]) -> list[str]:
    """JPEG 2000 files left unpaired where a mask would be (in a mask folder, or named as masks are): read as
    images only, so they pair with nothing. GeoNRW's x_rgb.jp2 images were told to be saved as PNG masks."""
    mask_dirs = {r.mask_dir for r in rules if r.mask_dir}
    left = sorted(f for f in files if io.has_extension(f, io.JPEG2000_EXTENSIONS) and f not in used
                  and (os.path.dirname(f) in mask_dirs or looks_like_a_mask_name(os.path.basename(f))))
    if not left:
        return []
    return [f"{len(left)} JPEG 2000 file(s) (e.g. {left[0]}) are not paired: dataprep reads JPEG 2000 as images "
            "only, never as masks (its compression is lossy in general, as JPEG's); save masks as PNG"]


def _check_unread_folders(walked: list[str], image_dir: str | None, mask_dir: str | None) -> None:
    """--image-dir/--mask-dir naming a folder that holds only files scan cannot read: said so, not 'no folder'."""
    for value, what in ((image_dir, "--image-dir"), (mask_dir, "--mask-dir")):
        if not value:
            continue
        inside = [f for f in walked if value in f.split("/")[:-1] or f.startswith(value.rstrip("/") + "/")]
        kinds = {_unread_kind(f) for f in inside}
        if inside and None not in kinds:
            raise UsageError(value, f"{what}: its folder holds only {', '.join(sorted(kinds))} files, which dataprep "
                                    "does not read: convert them to PNG or TIFF first")


def _instance_folders(rules: list[PairingRule]) -> list[str]:
    """Masks from a folder of object ids, paired as class masks: masks2labels made VOC's objects 1, 2, 3
    aeroplane, bicycle, bird, and --unknown ignore turned KITTI's class x 256 + object into wrong classes."""
    notes = []
    for rule in rules:
        leaf = (rule.mask_dir or "").rsplit("/", 1)[-1]
        if not rule.pairs or not leaf:
            continue
        if leaf.lower() == "segmentationobject":
            notes.append(f"{rule.describe()}: VOC SegmentationObject masks number the objects of each image (1, 2, "
                         "...), not their classes; pair SegmentationClass instead: --mask-dir SegmentationClass")
        elif leaf.lower() in ("instance", "instances", "instance_masks", "instanceids"):
            notes.append(f"{rule.describe()}: a folder of instance masks: each value is an object (KITTI, Mapillary: "
                         "class x 256 + object; MOTS: class x 1000 + object), not a class index; pair the class "
                         "masks beside it (--mask-dir), or map value ranges to classes with masks2labels --remap")
    return notes


class _ListedSplits(NamedTuple):
    rows: list[ManifestRow]
    splits: list[str]
    folder: str | None  # None: the lists gave no column
    notes: list[str]
    unlisted_orphans: list[Problem]  # images without a mask that no list names: left to `warnings`
    warnings: list[Problem]


def _splits_from_lists(root: Path, text_files: list[str], rows: list[ManifestRow],
                       problems: list[Problem]) -> _ListedSplits | None:
    """The rows with the split their lists give (see `split_lists`), and what to say of them; the orphan images
    the lists do not name are one warning: VOC's JPEGImages holds 14,212 photos of the detection task beside its
    2,913 pairs, each an 'image has no mask' problem. None where no lists give a column."""
    found = read_split_lists(str(root), text_files, {r.image.stem for r in rows})
    if found is None:
        return None
    if found.listed_twice:
        return _ListedSplits(rows, [], None, [f"{found.listed_twice} pair(s) are listed in two split lists of "
                                              f"{found.folder}: no split column is written from them"], [], [])
    values = [found.split_of.get(r.image.stem, "") for r in rows]
    if len(set(values)) < 2:  # one list of every pair says nothing
        return None
    unlisted = values.count("")
    notes = [f"{unlisted} pair(s) are in none of the split lists of {found.folder}: their split is empty"
             ] if unlisted else []
    others = [p for p in problems if p.kind == ScanProblem.ORPHAN_IMAGE and p.reason == "image has no mask"
              and os.path.splitext(os.path.basename(p.path))[0] not in found.listed]
    warned = [Problem(others[0].path, ScanProblem.UNLABELLED_FOLDER,
                      f"{len(others)} images without a mask are in none of the split lists of {found.folder} "
                      "(another task's images, as VOC's detection-only photos): left out")] if others else []
    return _ListedSplits([r.with_extra(**{SPLIT_COLUMN: v}) for r, v in zip(rows, values)],
                         sorted(set(values) - {""}), found.folder, notes, others, warned)


def _splits_of_some(candidates: list[Candidate]) -> list[str]:
    """Some pairs under a folder named as a split (TEST/), the others under none: no split column can tell the
    held-out rows apart, and kfold and stats would take them in."""
    named = Counter(c.split for c in candidates if c.split)
    unnamed = [c for c in candidates if not c.split]
    if not named or not unnamed:
        return []
    folders = Counter(c.image.split("/", 1)[0] if "/" in c.image else "." for c in unnamed)
    listed = ", ".join(f"{s} {n}" for s, n in sorted(named.items()))
    where = ", ".join(f"{f}/ {n}" for f, n in folders.most_common(3))
    return [f"{len(candidates) - len(unnamed)} pairs are under folders named as splits ({listed}) and "
            f"{len(unnamed)} under none ({where}): no split column is written, so kfold, stats and augment mix them; "
            "rename the folders (train/, val/, test/) or scan each part on its own"]


def _ade20k_full_release(root: Path, rows: list[ManifestRow]) -> list[str]:
    """ADE20K's full release pairs as x.jpg <-> x_seg.png, whose colours are class codes and instances that no
    palette lists (palette infer made a street's 4 classes 20)."""
    seg = [r.mask_str for r in rows if r.mask_str and os.path.basename(r.mask_str).startswith("ADE_")
           and r.mask_str.endswith(FULL_RELEASE_SEG_SUFFIX)]
    if not seg:
        return []
    return [f"{len(seg)} masks (e.g. {seg[0]}) are ADE20K full-release _seg.png files, whose colours are codes "
            f"(red / 10 * 256 + green the class, blue the instance): `dataprep import ade20k {root} DEST` makes "
            "label maps of them"]


def _fail_on_first(root: Path, problems: list[Problem]) -> None:
    if problems:
        first = min(problems, key=lambda p: (p.path, p.kind))
        raise DataprepError(root / first.path, f"{first.reason} (the first problem found; --on-error skip "
                                                "lists them all and leaves them out)")

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
"""
from __future__ import annotations

import filecmp
import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from . import io
from .errors import DataprepError, StackError, TruncatedError, UsageError
from .executor import Executor, OnError, run_items
from .extra_masks import EXTRA_MASKS_COLUMN, encode_extra_masks
from .hints import ANNOTATION_EXTENSIONS, Hint, find_hints
from .layout import (CONTAINER_DIRS, AmbiguousLayout, PairingRule, SuffixHint, choose_rules, split_of,
                     suggest_suffixes, with_pairs)
from .manifest import Manifest, ManifestRow
from .near_names import ExpectedMask, near_named_masks, rename_advice
from .paths import walk_files
from .split_column import SPLIT_COLUMN

if TYPE_CHECKING:
    from .dedup import DedupResult

__all__ = ["AmbiguousLayout", "PairingRule", "Problem", "ScanProblem", "ScanResult", "scan"]

Check = Literal["header", "decode"]


class ScanProblem(StrEnum):
    """What is wrong with a file `scan` found. Members are strings too ("orphan_image"), so they print and
    compare as the names earlier versions used."""

    # problems: the pair is left out of the manifest
    UNREADABLE = "unreadable"
    TRUNCATED = "truncated"
    STACK = "stack"  # a multi-page TIFF (`dataprep unstack` first) or an animated GIF/PNG
    SIZE_MISMATCH = "size_mismatch"
    EXIF_ROTATION = "exif_rotation"
    ORPHAN_IMAGE = "orphan_image"
    ORPHAN_MASK = "orphan_mask"
    DUPLICATE = "duplicate"
    # warnings: the pair is kept
    WRONG_EXTENSION = "wrong_extension"
    LOSSY_MASK = "lossy_mask"
    SCALED_MASK = "scaled_mask"  # kept only with keep_scaled_masks, for `dataprep resize --to image`
    ALPHA_BAND = "alpha_band"  # a TIFF image's last band is tagged alpha: every reader leaves it out
    EXTRA_MASK = "extra_mask"  # x_mask_1.png beside the pair's x_mask.png: a second mask of one image
    JPEG_COPY = "jpeg_copy"  # x.jpg beside the mask x.png (or .bmp, .tif): the lossless one is paired
    SAME_BYTES = "same_bytes"  # a byte-identical copy of another file of the same stem: the original is paired
    MASK_SUBFOLDER = "mask_subfolder"  # masks/FV/x.bmp beside the paired masks/x.bmp: one class's masks (SUIM)
    OTHER_ANNOTATOR = "other_annotator"  # x_2ndHO.png beside the paired x_1stHO.png (CHASE_DB1)

    @property
    def label(self) -> str:
        """How the summary names it: 'orphan image'."""
        return self.value.replace("_", " ")

    @classmethod
    def of_error(cls, exc: DataprepError) -> "ScanProblem":
        if isinstance(exc, StackError):
            return cls.STACK
        return cls.TRUNCATED if isinstance(exc, TruncatedError) else cls.UNREADABLE


@dataclass(frozen=True)
class Problem:
    path: str
    kind: ScanProblem
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ScanProblem(self.kind))  # a plain name is checked and converted

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


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
    duplicates: "DedupResult | None" = None
    notes: list[str] = field(default_factory=list)  # warnings about the whole set (duplicates across splits)

    @property
    def manifest(self) -> Manifest:
        return Manifest(self.rows)

    def problem_counts(self) -> Counter[ScanProblem]:
        return Counter(p.kind for p in self.problems)


@dataclass(frozen=True, slots=True)  # slots: one per pair, 1M pairs feasible
class _Candidate:
    id: str
    image: str
    mask: str
    split: str | None = None
    extras: tuple[str, ...] = ()  # further masks of the image (`extra_masks`), relative to the root


def scan(
    root: str | os.PathLike[str],
    *,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    image_suffix: str | None = None,
    mask_suffix: str | None = None,
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

    Raises `AmbiguousLayout` (a usage error) when two folders found by the same convention could hold
    the masks of one image folder.
    """
    # Absolute, so that workers on other machines (Dask) find the same files.
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise UsageError(root, "not a directory")
    if check not in ("header", "decode"):
        raise UsageError(None, f"check must be 'header' or 'decode', not {check!r}")
    everything = list(walk_files(root, io.IMAGE_EXTENSIONS | io.MASK_EXTENSIONS | ANNOTATION_EXTENSIONS,
                                 exclude=exclude))
    files = [f for f in everything if io.has_extension(f, io.IMAGE_EXTENSIONS | io.MASK_EXTENSIONS)]
    rules = choose_rules(files, image_dir=image_dir, mask_dir=mask_dir, image_suffix=image_suffix,
                         mask_suffix=mask_suffix)
    candidates, problems, n_images, n_masks, pairs_per_rule, used = _pair(files, rules, root)
    candidates, problems, extra_masks = _extra_masks(candidates, problems, files, used)
    n_images -= sum(1 for w in extra_masks if w.path in used)  # side by side: counted as images without a mask
    n_masks += len(extra_masks)
    used |= {w.path for w in extra_masks}
    problems, subfolders = _mask_subfolders(candidates, problems)  # counted as masks already
    extra_masks += subfolders
    problems, annotators, as_images = _other_annotator(candidates, problems, rules)
    n_images -= as_images  # side by side they were counted as images without a mask
    n_masks += as_images
    extra_masks += annotators
    problems = _near_named(problems, rules, files, used)
    copies = (ScanProblem.JPEG_COPY, ScanProblem.SAME_BYTES)
    extra_masks += [p for p in problems if p.kind in copies]  # warnings: the pair is kept
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
        _ValidatePair(str(root), check, keep_scaled_masks), candidates, executor=executor, on_error="skip",
        desc="validating", quiet=quiet, unit="pair",
    )
    rows: list[ManifestRow] = []
    warnings: list[Problem] = list(extra_masks)
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
    result = ScanResult(root, rules, rows, problems, warnings, n_images, n_masks, len(files) - len(used), hints,
                        splits if len(splits) > 1 else [])
    if duplicates and rows:
        from .dedup import duplicates_across_splits, find_duplicates, with_groups

        result.duplicates = find_duplicates(Manifest(rows), executor=executor, quiet=quiet)
        result.rows = with_groups(rows, result.duplicates)
        result.notes = duplicates_across_splits(result.rows)
    return result


def _fail_on_first(root: Path, problems: list[Problem]) -> None:
    if problems:
        first = min(problems, key=lambda p: (p.path, p.kind))
        raise DataprepError(root / first.path, f"{first.reason} (the first problem found; --on-error skip "
                                                "lists them all and leaves them out)")


# --------------------------------------------------------------------------- pairing


def _side_key(rel: str, rule: PairingRule, side: Literal["image", "mask"]) -> tuple[str, str] | None:
    """(key, id) for a file under `rule`, or None when the file is not on that side."""
    stem, ext = os.path.splitext(rel)
    if ext.lower() not in (io.IMAGE_EXTENSIONS if side == "image" else io.MASK_EXTENSIONS):
        return None
    suffix = rule.image_suffix if side == "image" else rule.mask_suffix
    other_suffix = rule.mask_suffix if side == "image" else rule.image_suffix
    if rule.image_dir is not None and rule.image_dir != rule.mask_dir:
        folder = (rule.image_dir if side == "image" else rule.mask_dir) + "/"
        if not rel.startswith(folder):
            return None
        below = stem[len(folder):]
        # An image keeps counting without its suffix; a mask folder's other variants (x_gtFine_labelIds
        # beside x_gtFine_color) are not masks of this rule.
        if side == "mask" and suffix and not below.endswith(suffix):
            return None
        key = io.strip_suffix(below, suffix)
        return key, _join_id(_id_prefix(rule.image_dir), key)
    # Side by side (the whole tree, or one folder): the longer suffix decides, so that
    # a mask suffix "_mask" does not read as an image with suffix "".
    if rule.image_dir is not None:
        if not rel.startswith(rule.image_dir + "/"):
            return None
    if rule.mask_extension is not None:  # one name, told apart by format
        if (ext.lower() == rule.mask_extension) != (side == "mask"):
            return None
        return stem, stem
    name = stem.rsplit("/", 1)[-1]
    if suffix and not name.endswith(suffix):
        return None
    if len(other_suffix) > len(suffix) and name.endswith(other_suffix):
        return None
    key = io.strip_suffix(stem, suffix)
    return key, key


def _id_prefix(folder: str) -> str:
    return "/".join(p for p in folder.split("/") if p.lower() not in CONTAINER_DIRS)


def _join_id(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


def _drop_copies(group: list[str], originals: list[str], root: Path, what: str,
                 problems: list[Problem]) -> list[str]:
    """`group` without files byte-identical to one of `originals` or to a file before them in the group
    (shallowest path first): a stray copy (`masks/old/x.png`, the mask saved into the image folder) would
    otherwise make the stem a duplicate and lose the pair."""
    kept: list[str] = []
    for path in sorted(group, key=lambda f: (f.count("/"), f)):
        same = next((o for o in originals + kept if filecmp.cmp(root / o, root / path, shallow=False)), None)
        if same is None:
            kept.append(path)
        else:
            role = "the mask" if same in originals else f"the {what}"
            problems.append(Problem(path, ScanProblem.SAME_BYTES,
                                    f"the same bytes as {role} {same}, which is paired instead; left out"))
    return kept


def _mask_hint(root: Path, rel: str) -> str:
    """A note for an unpaired "image" that is stored as masks are (palette or 1-bit): a stray mask, whose photo
    is missing, is likelier than a photo without one. Header only."""
    if io.has_extension(rel, io.LOSSY_EXTENSIONS):
        return ""
    try:
        mode = io.read_info(root / rel).mode
    except DataprepError:
        return ""
    if mode not in ("P", "1"):
        return ""
    kind = "palette" if mode == "P" else "1-bit"
    return f" (a {kind} image, as masks are stored: a mask without its photo?)"


def _pair(files: list[str], rules: list[PairingRule], root: Path):
    """Candidates, pairing problems, image and mask counts, pairs per rule, and the files the rules took."""
    images: dict[tuple[int, str], list[str]] = defaultdict(list)
    masks: dict[tuple[int, str], list[str]] = defaultdict(list)
    ids: dict[tuple[int, str], str] = {}
    used: set[str] = set()
    # Each file is tried only against the rules of its folders (thousands of per-folder rules stay fast).
    by_folder: dict[str, list[int]] = defaultdict(list)
    whole_tree: list[int] = []
    for r, rule in enumerate(rules):
        if rule.image_dir is None:
            whole_tree.append(r)
        else:
            for folder in dict.fromkeys((rule.image_dir, rule.mask_dir)):
                by_folder[folder].append(r)  # type: ignore[index]
    for f in files:
        parts = f.split("/")[:-1]
        tried = sorted({r for i in range(1, len(parts) + 1) for r in by_folder.get("/".join(parts[:i]), ())})
        for r in tried + whole_tree:
            rule = rules[r]
            key = None
            for side, table in (("mask", masks), ("image", images)):
                key = _side_key(f, rule, side)  # type: ignore[arg-type]
                if key is not None:
                    table[(r, key[0])].append(f)
                    if side == "image":
                        ids[(r, key[0])] = key[1]
                    used.add(f)
                    break
            if key is not None:
                break
    problems: list[Problem] = []
    candidates: list[_Candidate] = []
    per_rule = [0] * len(rules)
    for key in sorted(images.keys() | masks.keys()):
        imgs, msks = images.get(key, []), masks.get(key, [])
        lossless = [m for m in msks if not io.has_extension(m, io.LOSSY_EXTENSIONS)]
        if len(msks) > 1 and len(lossless) == 1:
            # PH2's copies: a JPEG of each lossless mask beside it; JPEG adds stray labels, the original has none.
            copy_of = f"a JPEG copy of the mask {lossless[0]}, which is paired instead; left out"
            problems.extend(Problem(m, ScanProblem.JPEG_COPY, copy_of) for m in msks if m not in lossless)
            msks = lossless
        if len(msks) > 1:
            msks = _drop_copies(msks, [], root, "mask", problems)
        if len(imgs) > 1:
            imgs = _drop_copies(imgs, msks if len(msks) == 1 else [], root, "image", problems)
        for group, what in ((imgs, "image"), (msks, "mask")):
            if len(group) > 1:
                for path in group:
                    others = ", ".join(g for g in group if g != path)
                    problems.append(Problem(path, ScanProblem.DUPLICATE, f"duplicate {what} stem (also {others}); left out"))
        if len(imgs) > 1 or len(msks) > 1:
            continue
        if not msks:
            reason = "image has no mask" + _mask_hint(root, imgs[0])
            problems.append(Problem(imgs[0], ScanProblem.ORPHAN_IMAGE, reason))
        elif not imgs:
            problems.append(Problem(msks[0], ScanProblem.ORPHAN_MASK, "mask has no image"))
        else:
            rule = rules[key[0]]
            split = split_of(rule, os.path.dirname(imgs[0]))
            candidates.append(_Candidate(ids[key], imgs[0], msks[0], split))
            per_rule[key[0]] += 1
    # Ids drop container folder names; fall back to the full path where two would collide.
    counts = Counter(c.id for c in candidates)
    candidates = [
        c if counts[c.id] == 1 else _Candidate(os.path.splitext(c.image)[0], c.image, c.mask, c.split)
        for c in candidates
    ]
    n_images = sum(len(v) for v in images.values())
    n_masks = sum(len(v) for v in masks.values())
    return candidates, problems, n_images, n_masks, per_rule, used


def _extra_masks(candidates: list[_Candidate], problems: list[Problem], files: list[str],
                 used: set[str]) -> tuple[list[_Candidate], list[Problem], list[Problem]]:
    """Files named like a pair's mask plus `_N` (BUSI's `x_mask_1.png` beside `x_mask.png`): further masks of
    that image, which no rule pairs (an orphan image, or a file no rule took). Returns the candidates with
    their extra masks (in number order: `_2` before `_10`), the problems without those files and one warning
    per such file."""
    by_stem = {os.path.splitext(c.mask)[0]: i for i, c in enumerate(candidates)}
    orphans = {p.path for p in problems if p.kind == ScanProblem.ORPHAN_IMAGE}
    warnings = []
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)  # candidate -> (number, file)
    for f in sorted(orphans | (set(files) - used)):
        base, _, number = os.path.splitext(f)[0].rpartition("_")
        i = by_stem.get(base) if number.isdigit() else None
        if i is not None:
            cand = candidates[i]
            found[i].append((int(number), f))
            warnings.append(Problem(f, ScanProblem.EXTRA_MASK,
                                    f"a further mask of {cand.image} (beside {cand.mask}): listed in the row's "
                                    f"{EXTRA_MASKS_COLUMN} column, merged into that mask by masks2labels"))
    taken = {w.path for w in warnings}
    with_extras = [replace(c, extras=tuple(f for _, f in sorted(found[i]))) if i in found else c
                   for i, c in enumerate(candidates)]
    return with_extras, [p for p in problems if p.path not in taken], warnings


def _mask_subfolders(candidates: list[_Candidate], problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
    """Orphan masks in a subfolder of a mask folder, named like the masks paired there (SUIM's test set:
    `masks/FV/x.bmp`, one folder per class, beside the paired `masks/x.bmp`): other forms of masks that
    are paired, not masks without an image. One warning per such folder; the files are left unpaired."""
    paired = {os.path.splitext(c.mask)[0] for c in candidates}
    pairing = {os.path.dirname(c.mask) for c in candidates}  # a folder of pairs mirrors an image folder
    by_folder: dict[str, list[str]] = defaultdict(list)
    for p in problems:
        if p.kind == ScanProblem.ORPHAN_MASK:
            folder, name = os.path.split(p.path)
            if folder not in pairing and os.path.join(os.path.dirname(folder), os.path.splitext(name)[0]) in paired:
                by_folder[folder].append(p.path)
    taken = {path for paths in by_folder.values() for path in paths}
    warnings = [Problem(folder, ScanProblem.MASK_SUBFOLDER,
                        f"{len(paths)} masks named like the masks paired in {os.path.dirname(folder) or '.'}/ "
                        f"(one class's masks?); not paired")
                for folder, paths in sorted(by_folder.items())]
    return [p for p in problems if p.path not in taken], warnings


# A mask suffix -> the suffix of the same images' masks by the other annotator (the first one's are the
# usual ground truth, the second's the human baseline).
OTHER_ANNOTATOR_SUFFIXES = {"_1stHO": "_2ndHO", "_2ndHO": "_1stHO", "_manual1": "_manual2", "_manual2": "_manual1"}


def _other_annotator(candidates: list[_Candidate], problems: list[Problem],
                      rules: list[PairingRule]) -> tuple[list[Problem], list[Problem], int]:
    """Orphans that are another annotator's masks of paired images (CHASE_DB1's `x_2ndHO.png` beside the
    paired `x_1stHO.png`): one warning per rule instead of an orphan per file. Returns the problems without
    them, the warnings and how many of them had been taken for images."""
    paired = {os.path.splitext(c.mask)[0] for c in candidates}
    warnings, taken = [], set()
    for rule in rules:
        other = OTHER_ANNOTATOR_SUFFIXES.get(rule.mask_suffix)
        if other is None:
            continue
        found = [p.path for p in problems if p.kind in (ScanProblem.ORPHAN_IMAGE, ScanProblem.ORPHAN_MASK)
                 and p.path not in taken and (stem := os.path.splitext(p.path)[0]).endswith(other)
                 and stem[:-len(other)] + rule.mask_suffix in paired]
        if found:
            taken.update(found)
            warnings.append(Problem(found[0], ScanProblem.OTHER_ANNOTATOR,
                                    f"{len(found)} masks of another annotator ({other}) beside the paired "
                                    f"{rule.mask_suffix} masks: not paired; "
                                    f"--mask-suffix {other} pairs them instead"))
    as_images = sum(1 for p in problems if p.path in taken and p.kind == ScanProblem.ORPHAN_IMAGE)
    return [p for p in problems if p.path not in taken], warnings, as_images


def _near_named(problems: list[Problem], rules: list[PairingRule], files: list[str],
                used: set[str]) -> list[Problem]:
    """The problems, where an orphan image's mask is there under a near name (see `near_names`) saying which
    file it is, in the orphan's problem and, when that file is an orphan mask, in its problem too."""
    in_order = [r for r in rules if r.image_dir is not None] + [r for r in rules if r.image_dir is None]
    expected: list[ExpectedMask] = []
    for p in problems:
        if p.kind != ScanProblem.ORPHAN_IMAGE:
            continue
        for rule in in_order:
            key = None if rule.mask_extension is not None else _side_key(p.path, rule, "image")
            if key is not None:
                apart = rule.image_dir is not None and rule.image_dir != rule.mask_dir
                folder, name = os.path.split(f"{rule.mask_dir}/{key[0]}" if apart else key[0])
                expected.append(ExpectedMask(p.path, folder, name + rule.mask_suffix))
                break
    orphan_masks = [p.path for p in problems if p.kind == ScanProblem.ORPHAN_MASK]
    unpaired = [f for f in set(files) - used if io.has_extension(f, io.MASK_EXTENSIONS)] + orphan_masks
    found = near_named_masks(expected, unpaired)
    if not found:
        return problems
    names = {e.image: e.name for e in expected}
    image_of = {mask: image for image, mask in found.items()}
    out = []
    for p in problems:
        if p.kind == ScanProblem.ORPHAN_IMAGE and p.path in found:
            p = replace(p, reason=p.reason + rename_advice(found[p.path], names[p.path]))
        elif p.kind == ScanProblem.ORPHAN_MASK and p.path in image_of:
            p = replace(p, reason=f"{p.reason}; named like the mask of {image_of[p.path]} but for case, spaces "
                                  "or punctuation")
        out.append(p)
    return out


# --------------------------------------------------------------------------- validation

# What most pairs report: one shared empty tuple, not two new lists per pair.
_NONE: tuple[Problem, ...] = ()


class _ValidatePair:
    """Checks one pair; picklable so it runs in worker processes."""

    def __init__(self, root: str, check: Check, keep_scaled_masks: bool = False) -> None:
        self.root = root
        self.check = check
        self.keep_scaled_masks = keep_scaled_masks

    def __call__(self, cand: _Candidate) -> tuple[ManifestRow | None, Sequence[Problem], Sequence[Problem]]:
        image_path = os.path.join(self.root, cand.image)
        mask_path = os.path.join(self.root, cand.mask)
        problems: list[Problem] = []
        warnings: list[Problem] = []
        infos = {}
        files = [(cand.image, image_path), (cand.mask, mask_path)]
        files += [(rel, os.path.join(self.root, rel)) for rel in cand.extras]
        for rel, path in files:
            try:
                truncated = io.check_complete(path)
                if truncated:
                    problems.append(Problem(rel, ScanProblem.TRUNCATED, truncated))
                    continue
                info = io.read_info(path)
                mismatch = io.content_mismatch(path)  # "PNG data in a .jpg file": readers go by content
                if mismatch:
                    warnings.append(Problem(rel, ScanProblem.WRONG_EXTENSION, f"{mismatch}; rename it to match its content"))
                if self.check == "decode":
                    (io.read_image if rel == cand.image else io.read_mask)(path)
                infos[rel] = info
            except DataprepError as exc:
                problems.append(Problem(rel, ScanProblem.of_error(exc), exc.reason))
        if problems:
            return None, problems, warnings or _NONE
        img, msk = infos[cand.image], infos[cand.mask]
        for rel in cand.extras:
            other = infos[rel]
            if (other.width, other.height) != (msk.width, msk.height):
                reason = f"extra mask is {other.width}x{other.height} but mask {cand.mask} is {msk.width}x{msk.height}"
                return None, [Problem(rel, ScanProblem.SIZE_MISMATCH, reason)], warnings
        if img.alpha and img.format == "TIFF":
            # tifffile.imwrite tags the 4th band of an (H, W, 4) array as alpha: a stacked NIR band vanished.
            warnings.append(Problem(cand.image, ScanProblem.ALPHA_BAND,
                                    f"band {img.bands} is tagged alpha (TIFF ExtraSamples) and is left out: "
                                    f"read as {img.bands - 1} bands; if it is data, rewrite the file with "
                                    "extrasamples='unspecified' (tifffile) or without an alpha band"))
        if io.has_extension(cand.mask, io.LOSSY_EXTENSIONS):
            warnings.append(Problem(cand.mask, ScanProblem.LOSSY_MASK, "mask is JPEG: compression adds stray colours/labels"))
        if (img.width, img.height) != (msk.width, msk.height):
            if img.orientation != 1 and (img.stored_width, img.stored_height) == (msk.width, msk.height):
                reason = (
                    f"EXIF orientation {img.orientation} shows the image as {img.width}x{img.height}, but the mask "
                    f"is {msk.width}x{msk.height} (matches the stored, unrotated pixels)"
                )
                return None, [Problem(cand.image, ScanProblem.EXIF_ROTATION, reason)], warnings
            reason = f"image is {img.width}x{img.height} but mask {cand.mask} is {msk.width}x{msk.height}"
            if not io.is_scaled_copy((img.width, img.height), (msk.width, msk.height)):
                return None, [Problem(cand.image, ScanProblem.SIZE_MISMATCH, reason)], warnings
            scaled = f"the same shape at {msk.width / img.width:.2f}x: a label map saved at another resolution"
            if not self.keep_scaled_masks:
                reason += (f" ({scaled}; scan with --keep-scaled-masks, then `dataprep resize --to image` resizes "
                           f"it to {img.width}x{img.height} by nearest neighbour, never bilinear)")
                return None, [Problem(cand.image, ScanProblem.SIZE_MISMATCH, reason)], warnings
            warnings.append(Problem(cand.mask, ScanProblem.SCALED_MASK,
                                    f"mask is {msk.width}x{msk.height} but its image {cand.image} is "
                                    f"{img.width}x{img.height} ({scaled}); kept: run `dataprep resize --to image` "
                                    "before other commands"))
        # Strings: the root is absolute already, and the walk gives normal relative paths.
        row = ManifestRow(cand.id, image_path, mask_path, img.width, img.height)
        return row, _NONE, warnings or _NONE

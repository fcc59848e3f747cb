"""Orphans that are something else: further masks of a paired image (BUSI), one class's masks in a
subfolder (SUIM), another annotator's masks (CHASE_DB1, DRIVE), and masks under a near name (DRIVE copies)."""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from dataclasses import replace

from .. import io
from ..extra_masks import EXTRA_MASKS_COLUMN
from ..layout import PairingRule
from .near_names import ExpectedMask, near_named_masks, rename_advice
from .pairing import side_key
from .problems import Candidate, Problem, ScanProblem


def attach_extra_masks(candidates: list[Candidate], problems: list[Problem], files: list[str],
                       used: set[str]) -> tuple[list[Candidate], list[Problem], list[Problem]]:
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


def mask_subfolders(candidates: list[Candidate], problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
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


MIN_VARIANTS = 3


def mask_variants(candidates: list[Candidate], problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
    """Orphan masks named as a paired mask plus a suffix, in its folder (COCO-Stuff 164k's x_labelTrainIds.png
    beside the paired x.png): another form of a paired mask, not a mask without an image (123,287 orphan lines on
    the real set). Only a suffix that half the paired masks of a folder (and three at least) carry: x_1_2 beside
    the paired x_1 is a mask whose image is missing. One warning per suffix; the files are left unpaired."""
    paired = {os.path.splitext(c.mask)[0] for c in candidates}
    per_folder = Counter(os.path.dirname(c.mask) for c in candidates)
    by_suffix: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in problems:
        if p.kind == ScanProblem.ORPHAN_MASK:
            stem = os.path.splitext(p.path)[0]
            for cut in range(len(stem) - 1, len(os.path.dirname(stem)), -1):
                if stem[cut] in "_-." and stem[:cut] in paired:
                    by_suffix[(os.path.dirname(p.path), stem[cut:])].append(p.path)
                    break
    variants: dict[str, list[str]] = defaultdict(list)
    for (folder, suffix), paths in by_suffix.items():
        if len(paths) >= max(MIN_VARIANTS, per_folder[folder] / 2):
            variants[suffix] += paths
    taken = {path for paths in variants.values() for path in paths}
    warnings = [Problem(paths[0], ScanProblem.MASK_VARIANT,
                        f"{len(paths)} masks named as paired masks plus {suffix} (e.g. this one): another form of "
                        f"them, not paired; --mask-suffix {suffix} pairs them instead")
                for suffix, paths in sorted(variants.items())]
    return [p for p in problems if p.path not in taken], warnings


UNLABELLED_AT_LEAST = 3  # fewer orphans of a folder stay a problem each


def unlabelled_folders(candidates: list[Candidate], problems: list[Problem]) -> tuple[list[Problem], list[Problem]]:
    """Orphan images of a folder in which no image pairs, in a set where other folders pair and no mask is left
    over (DeepGlobe's valid/ and test/ beside train/, side by side: 343 'image has no mask' problems): an
    unlabelled split, one warning per folder. Where a mask is left over, names may be what went wrong, and
    orphans with a word on where their mask may be stay problems too."""
    if not candidates or any(p.kind == ScanProblem.ORPHAN_MASK for p in problems):
        return problems, []
    paired = {os.path.dirname(c.image) for c in candidates}
    by_folder: dict[str, list[str]] = defaultdict(list)
    for p in problems:
        folder = os.path.dirname(p.path)
        if p.kind == ScanProblem.ORPHAN_IMAGE and p.reason == "image has no mask" and folder not in paired:
            by_folder[folder].append(p.path)
    folders = {f: paths for f, paths in by_folder.items() if len(paths) >= UNLABELLED_AT_LEAST}
    taken = {path for paths in folders.values() for path in paths}
    warnings = [Problem(paths[0], ScanProblem.UNLABELLED_FOLDER,
                        f"none of the {len(paths)} images in {folder or '.'}/ has a mask (an unlabelled split?): "
                        "left out")
                for folder, paths in sorted(folders.items())]
    return [p for p in problems if p.path not in taken], warnings


# A mask suffix -> the suffix of the same images' masks by the other annotator (the first one's are the
# usual ground truth, the second's the human baseline).
OTHER_ANNOTATOR_SUFFIXES = {"_1stHO": "_2ndHO", "_2ndHO": "_1stHO", "_manual1": "_manual2", "_manual2": "_manual1"}


def other_annotator(candidates: list[Candidate], problems: list[Problem],
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


# ADE20K's full release: x_parts_1.png (object parts, level 1, 2, ...) beside the paired x_seg.png, and (2021)
# x/instance_000_ADE_train_x.png, one mask per object.
_ADE_PARTS = re.compile(r"^(?P<stem>.+)_parts_\d+$")
_ADE_INSTANCE = re.compile(r"^(?P<stem>.+)/instance_\d+_[^/]+$")
# ISIC 2017: x_superpixels.png beside each x.jpg, the superpixels its lesion was outlined on (2,000 orphan images).
_ISIC_SUPERPIXELS = re.compile(r"^(?P<stem>.+)_superpixels$")
_COMPANIONS = (
    ("part", _ADE_PARTS, "ADE20K part masks of paired images (e.g. this one): not paired, object parts, not the "
                         "scene's classes"),
    ("instance", _ADE_INSTANCE, "ADE20K instance masks of paired images (e.g. this one): not paired, one object "
                                "each, not the scene's classes"),
    ("superpixels", _ISIC_SUPERPIXELS, "superpixel maps of paired images (ISIC 2017's, e.g. this one): not paired, "
                                       "the superpixels the masks were drawn on, not classes"),
)


def part_masks(candidates: list[Candidate], problems: list[Problem]) -> tuple[list[Problem], list[Problem], int]:
    """Orphans that are ADE20K part or instance masks (or ISIC superpixel maps) of a paired image: one warning
    per kind instead of an orphan per file (ADE's 2017 sample: 3 'image has no mask' problems). Returns the
    problems without them, the warnings and how many of them had been taken for images."""
    paired = {os.path.splitext(c.image)[0] for c in candidates}
    found: dict[str, list[str]] = {kind: [] for kind, _, _ in _COMPANIONS}
    for p in problems:
        if p.kind not in (ScanProblem.ORPHAN_IMAGE, ScanProblem.ORPHAN_MASK):
            continue
        stem = os.path.splitext(p.path)[0]
        for kind, pattern, _ in _COMPANIONS:
            match = pattern.match(stem)
            if match and match["stem"] in paired:
                found[kind].append(p.path)
    taken = {path for paths in found.values() for path in paths}
    warnings = [Problem(found[kind][0], ScanProblem.PART_MASK, f"{len(found[kind])} {what}")
                for kind, _, what in _COMPANIONS if found[kind]]
    as_images = sum(1 for p in problems if p.path in taken and p.kind == ScanProblem.ORPHAN_IMAGE)
    return [p for p in problems if p.path not in taken], warnings, as_images


def near_named(problems: list[Problem], rules: list[PairingRule], files: list[str],
               used: set[str]) -> list[Problem]:
    """The problems, where an orphan image's mask is there under a near name (see `near_names`) saying which
    file it is, in the orphan's problem and, when that file is an orphan mask, in its problem too."""
    in_order = [r for r in rules if r.image_dir is not None] + [r for r in rules if r.image_dir is None]
    expected: list[ExpectedMask] = []
    for p in problems:
        if p.kind != ScanProblem.ORPHAN_IMAGE:
            continue
        for rule in in_order:
            key = None if rule.mask_extension is not None else side_key(p.path, rule, "image")
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

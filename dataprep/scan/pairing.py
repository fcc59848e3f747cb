"""Pairing files by the layout's rules: a file's key under a rule, candidate pairs, and the orphans,
duplicates and copies pairing leaves."""
from __future__ import annotations

import filecmp
import os
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Literal

from .. import io
from ..errors import DataprepError
from ..layout import CONTAINER_DIRS, PairingRule, drop_mask_word, split_of
from .problems import Candidate, Problem, ScanProblem


def side_key(rel: str, rule: PairingRule, side: Literal["image", "mask"]) -> tuple[str, str] | None:
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
        if side == "mask" and rule.mask_word:
            dropped = drop_mask_word(below, rule.mask_word)
            if dropped is None:  # another word's masks (KITTI's um_lane_ beside um_road_): not this rule's
                return None
            below = dropped
        elif side == "image" and rule.image_word:  # img_0001 <-> mask_0001; an image without it still counts
            below = drop_mask_word(below, rule.image_word) or below
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
    if rule.mask_word:  # sample_mask_1 beside sample_1
        folder, _, name = stem.rpartition("/")
        dropped = drop_mask_word(name, rule.mask_word)
        if (dropped is not None) != (side == "mask"):
            return None
        key = stem if dropped is None else (f"{folder}/{dropped}" if folder else dropped)
        return key, key
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


def pair_files(files: list[str], rules: list[PairingRule], root: Path):
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
                key = side_key(f, rule, side)  # type: ignore[arg-type]
                if key is not None:
                    # Names compared in one Unicode form: macOS (and zips made there) store 'café' decomposed,
                    # most other tools composed, and the same name read as two left both files orphans.
                    match = unicodedata.normalize("NFC", key[0])
                    table[(r, match)].append(f)
                    if side == "image":
                        ids[(r, match)] = key[1]
                    used.add(f)
                    break
            if key is not None:
                break
    problems: list[Problem] = []
    candidates: list[Candidate] = []
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
                    problems.append(Problem(path, ScanProblem.DUPLICATE,
                                            f"duplicate {what} stem (also {others}); left out"))
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
            candidates.append(Candidate(ids[key], imgs[0], msks[0], split))
            per_rule[key[0]] += 1
    # Ids drop container folder names; fall back to the full path where two would collide.
    counts = Counter(c.id for c in candidates)
    candidates = [
        c if counts[c.id] == 1 else Candidate(os.path.splitext(c.image)[0], c.image, c.mask, c.split)
        for c in candidates
    ]
    n_images = sum(len(v) for v in images.values())
    n_masks = sum(len(v) for v in masks.values())
    return candidates, problems, n_images, n_masks, per_rule, used

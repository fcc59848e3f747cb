"""Walk a dataset tree, pair images with masks, validate each pair, build a manifest.

Pairing: a file's *key* is its path relative to the root with the image (or
mask) folder component replaced by a placeholder and the stem's image (or mask)
suffix removed; an image and a mask pair when their keys are equal. So

    images/downtown/a.jpg            <-> masks/downtown/a.png
    train/0001TP_006690.png          <-> trainannot/0001TP_006690.png         (CamVid)
    leftImg8bit/train/x_leftImg8bit.png <-> gtFine/train/x_gtFine_color.png   (Cityscapes)
    samples/1_image.png              <-> samples/1_target.png                 (suffixes only)

Validation reads headers only (size, EXIF orientation) plus the last bytes of
each file (truncation) unless `check="decode"` asks for a full decode.
"""
from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from . import io
from .errors import DataprepError, UsageError
from .executor import Executor, run_items
from .manifest import Manifest, ManifestRow
from .paths import walk_files

Check = Literal["header", "decode"]

# (image folder, mask folder) names seen in the wild, tried when none are given.
KNOWN_DIR_PAIRS: tuple[tuple[str, str], ...] = (
    ("images", "masks"),
    ("images", "labels"),
    ("images", "annotations"),
    ("images", "gt"),
    ("image", "label"),
    ("image", "mask"),
    ("img", "mask"),
    ("imgs", "masks"),
    ("JPEGImages", "SegmentationClass"),
    ("leftImg8bit", "gtFine"),
)
# Folder names that only say "these are images"; dropped from sample ids.
_CONTAINER_DIRS = {"images", "image", "img", "imgs", "jpegimages", "leftimg8bit"}
# Stem suffix pairs for image and mask side by side in one folder.
KNOWN_SUFFIX_PAIRS: tuple[tuple[str, str], ...] = (
    ("_image", "_target"),
    ("_image", "_mask"),
    ("_img", "_mask"),
    ("", "_mask"),
    ("", "_label"),
    ("", "_labels"),
    ("", "_gt"),
)
_CITYSCAPES_SUFFIXES = ("_leftImg8bit", "_gtFine_color")


@dataclass(frozen=True)
class PairingRule:
    """How images and masks are told apart and matched."""

    image_dir: str | None = None  # folder name holding images (None: same folder as masks)
    mask_dir: str | None = None
    image_suffix: str = ""  # removed from image stems before matching
    mask_suffix: str = ""

    def describe(self) -> str:
        dirs = f"{self.image_dir or '.'} <-> {self.mask_dir or '.'}"
        sfx = f", suffixes {self.image_suffix or '(none)'} <-> {self.mask_suffix or '(none)'}"
        return dirs + (sfx if self.image_suffix or self.mask_suffix else "")


@dataclass(frozen=True)
class Problem:
    path: str
    kind: str  # unreadable | truncated | size_mismatch | exif_rotation | orphan_image | orphan_mask | duplicate
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class ScanResult:
    root: Path
    rules: list[PairingRule]
    rows: list[ManifestRow]
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    images_seen: int = 0
    masks_seen: int = 0

    @property
    def manifest(self) -> Manifest:
        return Manifest(self.rows)

    def problem_counts(self) -> Counter[str]:
        return Counter(p.kind for p in self.problems)


@dataclass(frozen=True)
class _Candidate:
    id: str
    image: str
    mask: str


def scan(
    root: str | os.PathLike[str],
    *,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    image_suffix: str | None = None,
    mask_suffix: str | None = None,
    exclude: Sequence[str] = (),
    check: Check = "header",
    executor: Executor | None = None,
    quiet: bool = False,
) -> ScanResult:
    """Find, pair and validate every image/mask pair under `root`.

    Problems (orphans, duplicates, unreadable or truncated files, size
    mismatches) are returned, and their files left out of the rows.
    """
    # Absolute, so that workers on other machines (Dask) find the same files.
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        raise UsageError(root, "not a directory")
    if check not in ("header", "decode"):
        raise UsageError(None, f"check must be 'header' or 'decode', not {check!r}")
    files = list(walk_files(root, io.IMAGE_EXTENSIONS | io.MASK_EXTENSIONS, exclude=exclude))
    rules = _choose_rules(files, image_dir, mask_dir, image_suffix, mask_suffix)
    candidates, problems, n_images, n_masks = _pair(files, rules)

    results = run_items(
        _ValidatePair(str(root), check), candidates, executor=executor, on_error="skip",
        desc="validating", quiet=quiet, unit="pair",
    )
    rows: list[ManifestRow] = []
    warnings: list[Problem] = []
    for cand, res in zip(candidates, results):
        if res.error is not None:  # an unexpected failure, not a finding
            problems.append(Problem(cand.image, "unreadable", res.error))
            continue
        row, found, warned = res.value
        problems.extend(found)
        warnings.extend(warned)
        if row is not None:
            rows.append(row)
    rows.sort(key=lambda r: r.id)
    problems.sort(key=lambda p: (p.path, p.kind))
    return ScanResult(root, rules, rows, problems, warnings, n_images, n_masks)


# --------------------------------------------------------------------------- pairing


def _choose_rules(
    files: list[str],
    image_dir: str | None,
    mask_dir: str | None,
    image_suffix: str | None,
    mask_suffix: str | None,
) -> list[PairingRule]:
    if (image_dir is None) != (mask_dir is None):
        raise UsageError(None, "give both --image-dir and --mask-dir, or neither")
    if image_dir is not None and image_dir == mask_dir and (image_suffix or "") == (mask_suffix or ""):
        raise UsageError(None, "images and masks in one folder need different --image-suffix/--mask-suffix")
    if image_dir is not None:
        return [PairingRule(image_dir, mask_dir, image_suffix or "", mask_suffix or "")]
    dir_names = {part for f in files for part in f.split("/")[:-1]}
    pairs = [p for p in KNOWN_DIR_PAIRS if p[0] in dir_names and p[1] in dir_names]
    # CamVid/SegNet style: `train` beside `trainannot`.
    pairs += sorted((d, d + "annot") for d in dir_names if d + "annot" in dir_names)
    rules = []
    for img, msk in pairs:
        if (img, msk) == ("leftImg8bit", "gtFine") and image_suffix is None and mask_suffix is None:
            rules.append(PairingRule(img, msk, *_CITYSCAPES_SUFFIXES))
        else:
            rules.append(PairingRule(img, msk, image_suffix or "", mask_suffix or ""))
    if rules:
        return rules
    if image_suffix is not None or mask_suffix is not None:
        if (image_suffix or "") == (mask_suffix or ""):
            raise UsageError(None, "images and masks in one folder need different --image-suffix/--mask-suffix")
        return [PairingRule(None, None, image_suffix or "", mask_suffix or "")]
    best = max(KNOWN_SUFFIX_PAIRS, key=lambda sp: _count_suffix_pairs(files, sp))
    if _count_suffix_pairs(files, best) == 0:
        raise UsageError(
            None,
            "cannot tell images from masks: no known folder pair (e.g. images/ + masks/) or name suffix "
            "(e.g. _mask); use --image-dir/--mask-dir or --image-suffix/--mask-suffix",
        )
    return [PairingRule(None, None, *best)]


def _count_suffix_pairs(files: list[str], suffixes: tuple[str, str]) -> int:
    img_sfx, msk_sfx = suffixes
    stems = {os.path.splitext(f)[0] for f in files}
    return sum(1 for s in stems if s.endswith(msk_sfx) and io.strip_suffix(s, msk_sfx) + img_sfx in stems)


def _file_key(rel: str, rule: PairingRule, side: Literal["image", "mask"]) -> tuple[str, str] | None:
    """(key, id) for a file under `rule`, or None when the file is not on that side."""
    parts = rel.split("/")
    folder = rule.image_dir if side == "image" else rule.mask_dir
    suffix = rule.image_suffix if side == "image" else rule.mask_suffix
    other_suffix = rule.mask_suffix if side == "image" else rule.image_suffix
    stem, ext = os.path.splitext(parts[-1])
    allowed = io.IMAGE_EXTENSIONS if side == "image" else io.MASK_EXTENSIONS
    if ext.lower() not in allowed:
        return None
    if folder is None:
        # Side by side: the longer suffix decides (a mask suffix "_mask" must not read as an image with suffix "").
        if suffix and not stem.endswith(suffix):
            return None
        if len(other_suffix) > len(suffix) and stem.endswith(other_suffix):
            return None
        dirs = parts[:-1]
        id_dirs = dirs
    else:
        # The deepest folder with that name is the one that holds this side.
        idx = max((i for i, p in enumerate(parts[:-1]) if p == folder), default=None)
        if idx is None:
            return None
        if suffix and not stem.endswith(suffix):
            return None
        dirs = parts[:idx] + ["\0"] + parts[idx + 1 : -1]
        id_dirs = parts[:idx] + ([] if folder.lower() in _CONTAINER_DIRS else [folder]) + parts[idx + 1 : -1]
    base = io.strip_suffix(stem, suffix)
    return "/".join([*dirs, base]), "/".join([*id_dirs, base])


def _pair(files: list[str], rules: list[PairingRule]) -> tuple[list[_Candidate], list[Problem], int, int]:
    images: dict[tuple[int, str], list[str]] = defaultdict(list)
    masks: dict[tuple[int, str], list[str]] = defaultdict(list)
    ids: dict[tuple[int, str], str] = {}
    for f in files:
        for r, rule in enumerate(rules):
            for side, table in (("mask", masks), ("image", images)):
                key = _file_key(f, rule, side)  # type: ignore[arg-type]
                if key is not None:
                    table[(r, key[0])].append(f)
                    if side == "image":
                        ids[(r, key[0])] = key[1]
                    break
            else:
                continue
            break
    problems: list[Problem] = []
    candidates: list[_Candidate] = []
    for key in sorted(images.keys() | masks.keys()):
        imgs, msks = images.get(key, []), masks.get(key, [])
        for group, what in ((imgs, "image"), (msks, "mask")):
            if len(group) > 1:
                for path in group:
                    others = ", ".join(g for g in group if g != path)
                    problems.append(Problem(path, "duplicate", f"duplicate {what} stem (also {others}); left out"))
        if len(imgs) > 1 or len(msks) > 1:
            continue
        if not msks:
            problems.append(Problem(imgs[0], "orphan_image", "image has no mask"))
        elif not imgs:
            problems.append(Problem(msks[0], "orphan_mask", "mask has no image"))
        else:
            candidates.append(_Candidate(ids[key], imgs[0], msks[0]))
    # Ids drop container folder names; fall back to the full path where two would collide.
    counts = Counter(c.id for c in candidates)
    candidates = [
        c if counts[c.id] == 1 else _Candidate(os.path.splitext(c.image)[0], c.image, c.mask) for c in candidates
    ]
    n_images = sum(len(v) for v in images.values())
    n_masks = sum(len(v) for v in masks.values())
    return candidates, problems, n_images, n_masks


# --------------------------------------------------------------------------- validation


class _ValidatePair:
    """Checks one pair; picklable so it runs in worker processes."""

    def __init__(self, root: str, check: Check) -> None:
        self.root = root
        self.check = check

    def __call__(self, cand: _Candidate) -> tuple[ManifestRow | None, list[Problem], list[Problem]]:
        image_path = os.path.join(self.root, cand.image)
        mask_path = os.path.join(self.root, cand.mask)
        problems: list[Problem] = []
        warnings: list[Problem] = []
        infos = {}
        for rel, path in ((cand.image, image_path), (cand.mask, mask_path)):
            try:
                truncated = io.check_complete(path)
                if truncated:
                    problems.append(Problem(rel, "truncated", truncated))
                    continue
                info = io.read_info(path)
                mismatch = io.content_mismatch(path)  # "PNG data in a .jpg file": readers go by content
                if mismatch:
                    warnings.append(Problem(rel, "wrong_extension", f"{mismatch}; rename it to match its content"))
                if self.check == "decode":
                    (io.read_image if rel == cand.image else io.read_mask)(path)
                infos[rel] = info
            except DataprepError as exc:
                kind = "truncated" if "truncated" in exc.reason else "unreadable"
                problems.append(Problem(rel, kind, exc.reason))
        if problems:
            return None, problems, warnings
        img, msk = infos[cand.image], infos[cand.mask]
        if io.has_extension(cand.mask, io.LOSSY_EXTENSIONS):
            warnings.append(Problem(cand.mask, "lossy_mask", "mask is JPEG: compression adds stray colours/labels"))
        if (img.width, img.height) != (msk.width, msk.height):
            if img.orientation != 1 and (img.stored_width, img.stored_height) == (msk.width, msk.height):
                reason = (
                    f"EXIF orientation {img.orientation} shows the image as {img.width}x{img.height}, but the mask "
                    f"is {msk.width}x{msk.height} (matches the stored, unrotated pixels)"
                )
                return None, [Problem(cand.image, "exif_rotation", reason)], warnings
            reason = f"image is {img.width}x{img.height} but mask {cand.mask} is {msk.width}x{msk.height}"
            return None, [Problem(cand.image, "size_mismatch", reason)], warnings
        row = ManifestRow(cand.id, Path(image_path).absolute(), Path(mask_path).absolute(), img.width, img.height)
        return row, problems, warnings


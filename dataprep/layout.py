"""Which files are images, which are masks, and which image goes with which mask.

A *rule* pairs the files under an image folder with the files under a mask
folder by their path relative to each folder, once a name suffix is taken off
each side (`train/x.png` <-> `train_labels/x_L.png`); or, with no folders,
files side by side told apart by their suffixes (`x_image.png` <-> `x_target.png`).

Folder pairs are found among sibling folders, in tiers: names seen in the wild
(`images`/`masks`, `JPEGImages`/`SegmentationClass`, `leftImg8bit`/`gtFine`, ...)
and a folder beside its annotated twin (`train`/`trainannot`, `val`/`val_labels`),
then any image-like name beside any mask-like name (`images`/`1st_manual`), and
last a mask-like folder inside a folder of images (`res/x.jpg`, `res/label/x.png`).
The suffixes are read from the data: every split of a name at its last `_`/`-`/`.`
separators is tried, and the pair of suffixes that matches the most files wins
(known conventions such as `_L`, `_mask`, `_gtFine_color` break ties).
An image folder with two mask folders found by the same convention is a question for the user,
never a guess.
"""
from __future__ import annotations

import bisect
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace

from . import io
from .errors import UsageError

# (image folder, mask folder) names seen in the wild (compared case-insensitively).
KNOWN_DIR_PAIRS: tuple[tuple[str, str], ...] = (
    ("images", "masks"),
    ("images", "labels"),
    ("images", "annotations"),
    ("images", "gt"),
    ("image", "label"),
    ("image", "mask"),
    ("img", "mask"),
    ("imgs", "masks"),
    ("img", "gt"),
    ("jpegimages", "segmentationclass"),
    ("leftimg8bit", "gtfine"),
    ("img_dir", "ann_dir"),  # MMSegmentation's layout for custom datasets (LoveDA, Potsdam, Vaihingen, iSAID)
    ("top", "gts"),  # ISPRS Vaihingen: top/top_mosaic_09cm_area1.tif <-> gts_for_participants/..., one name
    ("top", "gts_for_participants"),
    ("top", "gts_eroded_for_participants"),
)
# `X` beside `X<suffix>` is a folder and its masks (CamVid/SegNet `trainannot`, Kaggle CamVid `train_labels`).
MASK_DIR_SUFFIXES: tuple[str, ...] = (
    "annot", "_annot", "_annots", "_annotations", "_labels", "_label", "_masks", "_mask", "_gt", "_seg", "labels",
)
# `_Data` ends ISIC 2016/2017's image folders (`ISIC-2017_Training_Data` beside `..._Part1_GroundTruth`).
_IMAGE_WORDS = re.compile(r"image|img|photo|rgb|leftimg8bit|picture|input|raw|[_-]data$", re.I)
# `semantic` alone is a mask word (KITTI's semantic/), `semantic_images` a folder of images.
_MASK_WORDS = re.compile(r"mask|label|annot|gt|seg|semantic(?![_-]?im(?:age|g))|manual|truth|target|lesion", re.I)
# Folder names that only say "these are images"; dropped from sample ids.
CONTAINER_DIRS = frozenset({"images", "image", "img", "imgs", "img_dir", "jpegimages", "leftimg8bit"})
SPLIT_NAMES = frozenset({"train", "training", "val", "valid", "validation", "test", "testing", "trainval", "dev"})

# Known name suffixes, most likely first: they break ties between equally good suffix pairs.
KNOWN_MASK_SUFFIXES: tuple[str, ...] = (
    "", "_L", "_mask", "_masks", "_label", "_labels", "_labelIds", "_gt", "_seg", "_target", "_annot",
    # Cityscapes: train ids (MMSegmentation's), then label ids (torchvision's), then colours, in which polegroup
    # (ignored) is drawn as pole: the colour maps, first in this list, were paired beside label ids.
    "_gtFine_labelTrainIds", "_gtFine_labelIds", "_gtFine_color", "_gtFine_instanceIds", "_gtCoarse_labelTrainIds",
    "_gtCoarse_labelIds", "_gtCoarse_color", "_manual1", "_segmentation", "_1stHO",
)
KNOWN_IMAGE_SUFFIXES: tuple[str, ...] = ("", "_leftImg8bit", "_image", "_img", "_rgb", "_sat")
# Side by side in one folder: (image suffix, mask suffix).
KNOWN_SUFFIX_PAIRS: tuple[tuple[str, str], ...] = (
    ("_image", "_target"),
    ("_image", "_mask"),
    ("_img", "_mask"),
    ("_sat", "_mask"),  # DeepGlobe land cover and roads: 119_sat.jpg beside 119_mask.png
    ("", "_mask"),
    ("", "_label"),
    ("", "_labels"),
    ("", "_gt"),
    ("", "_seg"),
    ("", "_L"),
    ("", "_1stHO"),  # CHASE_DB1: the first annotator's vessels; _2ndHO, the second's, is the human baseline
    ("", "_manual1"),  # DRIVE's first observer, side by side (_manual2: the second)
)
_MAX_SUFFIX_TOKENS = 3
# Masks further down than their folder pair: how deep to look, and how many folders before it is per-sample ones.
_MAX_MASK_DEPTH = 3
_MAX_DEEPER_FOLDERS = 64
# A folder of the labels drawn in colour (BDD100K's colormaps/), named so in full: not `colour_corrected`.
_COLOUR_COPY = re.compile(r"(?:^|/)colou?r(?:s|maps?|_?labels?)?(?:/|$)", re.I)


@dataclass(frozen=True)
class PairingRule:
    """How one set of images is matched with its masks.

    `image_dir`/`mask_dir` are folder paths relative to the scanned root (None:
    both sides in the whole tree, told apart by their suffixes). An image's
    suffix is removed when present (an image without it still counts); a mask
    must carry the mask suffix.
    """

    image_dir: str | None = None
    mask_dir: str | None = None
    image_suffix: str = ""
    mask_suffix: str = ""
    split: str | None = None  # train/val/test... when the folders say so
    how: str = ""  # which convention found it, for the summary
    pairs: int = 0  # image/mask name matches it makes
    mask_extension: str | None = None  # side by side with one name: masks are the files of this extension (".png")
    mask_word: str = ""  # a word mask names add, with a separator (KITTI road: um_road_000000 for um_000000)
    image_word: str = ""  # the word of the image names the mask word stands for (img_0001 <-> mask_0001)
    other_mask_words: tuple[tuple[str, int], ...] = ()  # other such words that pair too (lane), with their pairs
    larger_mask_folders: tuple[tuple[str, int], ...] = ()  # folders of a weaker convention that pair more, and how many

    def describe(self) -> str:
        dirs = f"{self.image_dir or '.'} <-> {self.mask_dir or '.'}"
        sfx = []
        if self.image_suffix:
            sfx.append(f"image suffix {self.image_suffix}")
        if self.mask_suffix:
            sfx.append(f"mask suffix {self.mask_suffix}")
        if self.mask_extension:
            sfx.append(f"masks *{self.mask_extension}, images the other extensions")
        if self.mask_word and self.image_word:
            sfx.append(f"image names' word {self.image_word} is {self.mask_word} in mask names")
        elif self.mask_word:
            sfx.append(f"mask names add the word {self.mask_word}")
        return dirs + (f" ({', '.join(sfx)})" if sfx else "")


class AmbiguousLayout(UsageError):
    """Two folders, found by the same convention, could hold the masks: the user says which."""


def choose_rules(
    files: list[str],
    *,
    image_dir: str | None = None,
    mask_dir: str | None = None,
    image_suffix: str | None = None,
    mask_suffix: str | None = None,
    mask_word: str | None = None,
) -> list[PairingRule]:
    """The rules that pair `files` (relative POSIX paths); [] when nothing pairs.

    Explicit folders narrow the search: both given as paths (`a/b`) pair those two
    trees by relative path; names pick sibling folders of those names anywhere;
    one name alone picks among the detected pairs (the answer to an ambiguity).
    """
    for value, what in ((image_dir, "--image-dir"), (mask_dir, "--mask-dir")):
        if value is not None and (not value.strip("/") or value.startswith("/") or ".." in value.split("/")):
            raise UsageError(None, f"{what} must be a folder name or a path relative to the scanned root, "
                                   f"not {value!r}")
    files = sorted(files)
    image_dir = image_dir.strip("/") if image_dir else None
    mask_dir = mask_dir.strip("/") if mask_dir else None
    if image_dir is not None and image_dir == mask_dir:
        if (image_suffix or "") == (mask_suffix or ""):
            raise UsageError(None, "images and masks in one folder need different --image-suffix/--mask-suffix")
        rule = PairingRule(image_dir, mask_dir, image_suffix or "", mask_suffix or "", how="explicit")
        return [rule]
    if image_dir is not None and mask_dir is not None and "/" in image_dir + mask_dir:
        return _explicit_roots(files, image_dir, mask_dir, image_suffix, mask_suffix, mask_word)
    if image_dir is not None and "/" in image_dir:
        raise UsageError(None, "a folder path (with '/') as --image-dir needs --mask-dir too")
    if mask_dir is not None and mask_dir.count("/") > 1:
        raise UsageError(None, "a folder path alone as --mask-dir names a mask folder inside a sibling or the image "
                               "folder (v2.0/labels); for a longer one give both --image-dir and --mask-dir, as paths "
                               "from the scanned root")
    folder_names = {part for f in files for part in f.split("/")[:-1]}
    if mask_dir is not None and "/" in mask_dir:
        # The name of a mask folder inside a sibling (Mapillary's v2.0/labels beside images), under any parent
        folder_names = {d for f in files for d in _tails(f.rpartition("/")[0], mask_dir.count("/") + 1)}
    for value, what in ((image_dir, "--image-dir"), (mask_dir, "--mask-dir")):
        if value is not None and value not in folder_names:
            raise UsageError(value, f"{what}: no folder of this name (holding image files) under the scanned root")
    by_image: dict[str, list[tuple[int, PairingRule, str]]] = defaultdict(list)
    for parent, img_name, msk_name, tier, how in _folder_candidates(files, image_dir, mask_dir):
        img_path, msk_path = _join(parent, img_name), _join(parent, msk_name)
        rule = fit_suffixes(files, img_path, msk_path, image_suffix, mask_suffix, how=how, mask_word=mask_word)
        if not rule.pairs and tier > 0:
            rule = _deeper_pairs(files, img_path, msk_path, image_suffix, mask_suffix, how, mask_word) or rule
        if rule.pairs or tier == 0:  # folders the user named count even when nothing in them pairs
            by_image[img_path].append((tier, rule, msk_name))
    rules = []
    for img_path, found in sorted(by_image.items()):
        best_tier = min(t for t, _, _ in found)
        best = [(r, name) for t, r, name in found if t == best_tier]
        if len(best) > 1:
            # The name --mask-dir takes: iSAID's masks one folder down were both offered as "images".
            options = ", ".join(f"{name} ({r.pairs} pairs)" for r, name in best)
            raise AmbiguousLayout(img_path, f"which folder holds the masks: {options}? say it with --mask-dir NAME")
        # VOC-aug: SegmentationClassAug (10,582 masks) beside SegmentationClass (2,913, a known pair) was unsaid.
        larger = tuple((name, r.pairs) for t, r, name in found if t > best_tier and r.pairs > best[0][0].pairs)
        rules.append(replace(best[0][0], larger_mask_folders=larger) if larger else best[0][0])
    if rules or image_dir is not None or mask_dir is not None:
        return rules
    return _side_by_side(files, image_suffix, mask_suffix)


def _folders_below(files: list[str], folder: str, depth: int) -> list[str]:
    """The folders up to `depth` levels below `folder` that hold files, as paths relative to it, shallowest first."""
    prefix = folder + "/"
    found: set[str] = set()
    for f in files[bisect.bisect_left(files, prefix):]:
        if not f.startswith(prefix):
            break
        parts = f[len(prefix):].split("/")[:-1]
        found.update("/".join(parts[:i]) for i in range(1, min(depth, len(parts)) + 1))
    return sorted(found, key=lambda p: (p.count("/"), p))


def _holds_files(files: list[str], folder: str) -> bool:
    prefix = folder + "/"
    return any("/" not in f[len(prefix):] for f in files[bisect.bisect_left(files, prefix):]
               if f.startswith(prefix))


def _deeper_pairs(files: list[str], image_dir: str, mask_dir: str, image_suffix: str | None,
                  mask_suffix: str | None, how: str, mask_word: str | None = None) -> PairingRule | None:
    """The folders below `mask_dir` (up to three levels) and `image_dir` (one, when it holds only folders) that
    pair when the two themselves do not; the shallowest that pair.

    Oxford-IIIT Pet: images/x.jpg <-> annotations/trimaps/x.png, beside annotations/xmls/. BDD100K:
    images/10k/train/x.jpg <-> labels/sem_seg/masks/train/x.png, beside labels/sem_seg/colormaps/ (the same labels
    drawn in colour, left aside when a folder of labels pairs too). Two that pair alike are a question for the user.
    """
    mask_subs = _folders_below(files, mask_dir, _MAX_MASK_DEPTH)
    if len(mask_subs) > _MAX_DEEPER_FOLDERS:  # per-sample folders: one level, as always
        mask_subs = [s for s in mask_subs if "/" not in s]
    image_subs = [""] if _holds_files(files, image_dir) else ["", *_folders_below(files, image_dir, 1)]
    by_depth: dict[int, list[PairingRule]] = defaultdict(list)
    for i in image_subs[:_MAX_DEEPER_FOLDERS]:
        for m in mask_subs:
            rule = fit_suffixes(files, _join(image_dir, i) if i else image_dir, f"{mask_dir}/{m}", image_suffix,
                                mask_suffix, how=f"{how}, {'folders' if i else 'masks'} further down",
                                mask_word=mask_word)
            if rule.pairs:
                by_depth[bool(i) + m.count("/")].append(rule)
    if not by_depth:
        return None
    found = by_depth[min(by_depth)]
    labels = [r for r in found if not _COLOUR_COPY.search(r.mask_dir[len(mask_dir):])]  # type: ignore[index]
    found = labels or found
    if len(found) > 1:
        same_images = len({r.image_dir for r in found}) == 1
        options = ", ".join(f"{r.mask_dir if same_images else r.describe().split(' (')[0]} ({r.pairs} pairs)"
                            for r in found)
        raise AmbiguousLayout(image_dir, f"which folder holds the masks: {options}? say it with "
                                         f"--image-dir {found[0].image_dir if same_images else 'PATH'} "
                                         "--mask-dir PATH")
    return found[0]


def _explicit_roots(files: list[str], image_dir: str, mask_dir: str, image_suffix: str | None,
                    mask_suffix: str | None, mask_word: str | None = None) -> list[PairingRule]:
    for path, what in ((image_dir, "--image-dir"), (mask_dir, "--mask-dir")):
        if not any(f.startswith(path + "/") for f in files):
            raise UsageError(path, f"{what}: no image files in this folder under the scanned root")
    return [fit_suffixes(files, image_dir, mask_dir, image_suffix, mask_suffix, how="explicit folders",
                         mask_word=mask_word)]


def _folder_candidates(files: list[str], image_dir: str | None, mask_dir: str | None):
    """(parent, image folder name, mask folder name, tier, how) for sibling folders that may pair."""
    children: dict[str, set[str]] = defaultdict(set)
    for f in files:
        parts = f.split("/")[:-1]
        for i in range(len(parts)):
            children["/".join(parts[:i])].add(parts[i])
    holding_files = {f.rpartition("/")[0] for f in files}
    for parent in sorted(children):
        names = sorted(children[parent])
        if image_dir is not None and mask_dir is not None:
            if image_dir in names and mask_dir in names:
                yield parent, image_dir, mask_dir, 0, "explicit folder names"
            continue
        # Lookups, not all pairs of names: a folder may hold tens of thousands of per-sample folders.
        lower = {n.lower(): n for n in names}
        mask_like = [n for n in names if _is_mask_name(n)]
        for a in names:
            if image_dir is not None and a != image_dir:
                continue
            la = a.lower()
            partners: dict[str, tuple[int, str]] = {}
            if _is_image_name(a):
                for b in mask_like:
                    partners[b] = (2, "image-like and mask-like folder names")
            for s in MASK_DIR_SUFFIXES:
                if la + s in lower:
                    b = lower[la + s]
                    partners[b] = (1, f"folder beside its '{b[len(a):]}' twin")
            for img, msk in KNOWN_DIR_PAIRS:
                if la == img and msk in lower:
                    partners[lower[msk]] = (1, "known folder names")
            for b, (tier, how) in sorted(partners.items()):
                if b != a and (mask_dir is None or b == mask_dir):
                    yield parent, a, b, tier, how
            # Last resort, after every sibling: the masks in a folder inside the image folder (`res/x.jpg`
            # beside `res/label/x.png`).
            inside = _join(parent, a)
            if inside in holding_files and not _is_mask_name(a):
                for b in sorted(children.get(inside, ())):
                    # The question names these `a/b`: that answer picks them as well as `b` alone does
                    if _is_mask_name(b) and (mask_dir is None or mask_dir in (b, f"{a}/{b}")):
                        yield parent, a, f"{a}/{b}", 3, "mask folder inside the image folder"
            # Later still, masks inside a sibling of no kind (Mapillary Vistas: training/images/x.jpg beside
            # training/v2.0/labels/x.png and training/v1.2/labels/x.png, a question then).
            if _is_image_name(a):
                for b in names:
                    if b == a or _is_image_name(b) or _is_mask_name(b):
                        continue
                    for c in sorted(children.get(_join(parent, b), ())):
                        if _is_mask_name(c) and (mask_dir is None or f"{b}/{c}" == mask_dir):
                            yield parent, a, f"{b}/{c}", 4, "mask folder inside a sibling folder"


def _tails(folder: str, parts: int) -> Iterator[str]:
    """Every run of `parts` consecutive folder names in `folder` (a/b/c, 2: a/b, b/c)."""
    names = folder.split("/") if folder else []
    return ("/".join(names[i:i + parts]) for i in range(len(names) - parts + 1))


def _is_image_name(name: str) -> bool:
    return bool(_IMAGE_WORDS.search(name)) and not _MASK_WORDS.search(name)


def _is_mask_name(name: str) -> bool:
    return bool(_MASK_WORDS.search(name)) and not _is_image_name(name)


def fit_suffixes(files: list[str], image_dir: str, mask_dir: str, image_suffix: str | None = None,
                 mask_suffix: str | None = None, *, how: str = "", mask_word: str | None = None) -> PairingRule:
    """The rule pairing `image_dir` with `mask_dir` by relative path, with the suffixes that match the most files;
    when no suffix pairs any, the word mask names add that pairs the most (see `fit_mask_word`).

    `files` must be sorted.
    """
    images = _stems_under(files, image_dir, io.IMAGE_EXTENSIONS)
    masks = _stems_under(files, mask_dir, io.MASK_EXTENSIONS)
    split = split_named_in(image_dir)
    if mask_word is not None:
        fit = fit_mask_word(images, masks, image_dir, mask_word) or MaskWords("", mask_word, 0, ())
        return fit.rule(image_dir, mask_dir, split, how)
    mask_index: dict[str, set[str]] = defaultdict(set)
    carried: Counter[str] = Counter()  # how many masks carry each suffix
    for d, stem in masks:
        for base, sfx in _splits(stem, mask_suffix):
            mask_index[d + base].add(sfx)
            carried[sfx] += 1
    counts: Counter[tuple[str, str]] = Counter()
    paired: dict[tuple[str, str], set[str]] = defaultdict(set)  # the masks each suffix pair reaches
    for d, stem in images:
        for base, isfx in _splits(stem, image_suffix, optional=True):
            for msfx in mask_index.get(d + base, ()):
                counts[(isfx, msfx)] += 1
                paired[(isfx, msfx)].add(d + base)
    # A suffix of no known convention must be what most masks carry: one image beside many
    # differently named masks (one per object) is not a pairing. One the user gave is taken as given (COCO-Stuff's
    # _labelTrainIds beside the plain maps: dropped, the plain maps were paired as images).
    for isfx, msfx in list(counts):
        if msfx not in KNOWN_MASK_SUFFIXES and msfx != mask_suffix and 2 * carried[msfx] <= len(masks):
            del counts[(isfx, msfx)]
    if not counts:
        worded = fit_mask_word(images, masks, image_dir) if image_suffix is None and mask_suffix is None else None
        if worded is not None:
            return worded.rule(image_dir, mask_dir, split, how)
        return PairingRule(image_dir, mask_dir, image_suffix or "", mask_suffix or "", split, how, 0)
    (isfx, msfx), n = max(counts.items(), key=lambda kv: (kv[1], -_preference(kv[0][1], KNOWN_MASK_SUFFIXES),
                                                          -_preference(kv[0][0], KNOWN_IMAGE_SUFFIXES), kv[0]))
    _check_one_image_per_mask(image_dir, (isfx, msfx), n, counts, paired)
    return PairingRule(image_dir, mask_dir, isfx, msfx, split, how, n)


def _check_one_image_per_mask(image_dir: str, best: tuple[str, str], n: int, counts: Counter[tuple[str, str]],
                              paired: dict[tuple[str, str], set[str]]) -> None:
    """Images of two suffixes pairing the same masks as well (nnU-Net's case_0000 and case_0001: two channels of
    one case) are a question: the larger suffix won silently, and each _0000 image was called an orphan."""
    rivals = sorted(isfx for (isfx, msfx), count in counts.items() if count == n and msfx == best[1]
                    and isfx not in (best[0], "") and paired[(isfx, msfx)] & paired[best])
    if rivals and best[0]:  # a plain name beside a suffixed one is the image (ISIC 2017: x.jpg, x_superpixels.png)
        suffixes = ", ".join(sorted([best[0], *rivals]))
        raise AmbiguousLayout(image_dir, f"several images for each mask, named with {suffixes} ({n} masks each; "
                                         "the channels of one case?): say which with --image-suffix (--exclude "
                                         "the others), or merge them into one image per case first (dataprep "
                                         "merge-bands)")


# A word of 1-3 letter tokens (road; Delmon_CompleteMM) at the start or after a separator, followed by one.
_INSERTED_WORD = re.compile(r"(?:(?<=[_.-])|^)(?=([A-Za-z]+(?:[_-][A-Za-z]+){0,2})[_.-])")


def word_cuts(stem: str) -> Iterator[tuple[str, str]]:
    """(word, the stem without it and one separator beside it) for every word a name may have had added:
    um_road_000000 -> (road, um_000000), mask_0001 -> (mask, 0001), a lung CT slice's
    x_1018_Delmon_CompleteMM.raw_251 -> (Delmon_CompleteMM, x_1018.raw_251)."""
    for m in _INSERTED_WORD.finditer(stem):
        start = m.start()
        tokens = re.split(r"[_-]", m.group(1))
        for n in range(1, len(tokens) + 1):
            end = start + len("_".join(tokens[:n]))
            if stem[end] not in "_.-":  # the tokens' own separators may be '-': take the word as written
                continue
            word = stem[start:end]
            rest = stem[end + 1:] if start == 0 else stem[:start - 1] + stem[end:]
            yield word, rest


def _wider_reading(image_word: str, mask_word: str) -> bool:
    """Whether `image_word` -> `mask_word` is an added word read wider: um -> um_road is road added."""
    tokens, inner = re.split(r"[_-]", mask_word), re.split(r"[_-]", image_word) if image_word else []
    return bool(inner) and len(tokens) > len(inner) and (tokens[:len(inner)] == inner or tokens[-len(inner):] == inner)


def drop_mask_word(stem: str, word: str) -> str | None:
    """`stem` without its first word `word` and a separator beside it (um_road_000000 -> um_000000,
    mask_0001 -> 0001); None without."""
    return next((rest for w, rest in word_cuts(stem) if w == word), None)


@dataclass(frozen=True)
class MaskWords:
    """How mask names differ from image names by one word: added (image word ""), or in place of one."""

    image_word: str
    mask_word: str
    pairs: int
    others: tuple[tuple[str, int], ...]  # other mask words (with the same image word) and their pairs

    def rule(self, image_dir: str, mask_dir: str, split: str | None, how: str) -> PairingRule:
        return PairingRule(image_dir, mask_dir, "", "", split, how, self.pairs, mask_word=self.mask_word,
                           image_word=self.image_word, other_mask_words=self.others)


def fit_mask_word(images: list[tuple[str, str]], masks: list[tuple[str, str]], image_dir: str,
                  word: str | None = None) -> MaskWords | None:
    """When mask names are image names with one word added (KITTI road: gt_image_2/um_road_000000.png and
    um_lane_000000.png for image_2/um_000000.png) or put in place of one (img_0001.png <-> mask_0001.png):
    the words that pair the most, or those with mask word `word`. None under 2 pairs or half the images. Two
    readings pairing as many are a question (AmbiguousLayout)."""
    image_keys: dict[str, set[str]] = defaultdict(set)  # a key -> the image words whose removal gives it
    for d, stem in images:
        image_keys[d + stem].add("")
        for cut, rest in word_cuts(stem):
            image_keys[d + rest].add(cut)
    pairs: Counter[tuple[str, str]] = Counter()
    for d, stem in masks:
        for cut, rest in word_cuts(stem):
            for image_word in image_keys.get(d + rest, ()):
                if not _wider_reading(image_word, cut):
                    pairs[(image_word, cut)] += 1
    if word is not None:
        pairs = Counter({k: n for k, n in pairs.items() if k[1] == word})
    if not pairs:
        return None
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
    (image_word, mask_word), n = ranked[0]
    if word is None and (n < 2 or 2 * n < len(images)):
        return None
    if word is None and len(ranked) > 1 and ranked[1][1] == n:
        options = ", ".join(f"{f'{i} -> ' if i else ''}{w} ({k} pairs)" for (i, w), k in ranked if k == n)
        raise AmbiguousLayout(image_dir, f"the mask names add a word to the image names: {options}? "
                                         "say it with --mask-word WORD")
    others = tuple(sorted((w, k) for (i, w), k in ranked[1:] if i == image_word))
    return MaskWords(image_word, mask_word, n, others)


def _preference(suffix: str, known: tuple[str, ...]) -> int:
    return known.index(suffix) if suffix in known else len(known) + len(suffix)


def _stems_under(files: list[str], folder: str, extensions: frozenset[str]) -> list[tuple[str, str]]:
    """(subfolder path with trailing '/', stem) of the files below `folder`; `files` sorted."""
    prefix = folder + "/"
    out = []
    for f in files[bisect.bisect_left(files, prefix):]:
        if not f.startswith(prefix):
            break
        rel = f[len(prefix):]
        d, _, name = rel.rpartition("/")
        stem, dot, ext = name.rpartition(".")
        if dot and stem and "." + ext.lower() in extensions:
            out.append((d + "/" if d else "", stem))
    return out


def _splits(stem: str, fixed: str | None, optional: bool = False) -> list[tuple[str, str]]:
    """(base, suffix) readings of a name: the whole stem, then cuts at its last separators.

    With a `fixed` suffix only that reading; a name without it reads as itself when
    `optional` (images), and not at all otherwise (masks must carry theirs).
    """
    if fixed is not None:
        if fixed and stem.endswith(fixed) and len(stem) > len(fixed):
            return [(stem[: -len(fixed)], fixed)]
        return [(stem, "")] if optional or not fixed else []
    out = [(stem, "")]
    for i in range(len(stem) - 1, 0, -1):
        if stem[i] in "_-.":  # '.': STARE's labels-ah/im0001.ah.ppm for stare-images/im0001.ppm
            out.append((stem[:i], stem[i:]))
            if len(out) > _MAX_SUFFIX_TOKENS:
                break
    return out


def _side_by_side(files: list[str], image_suffix: str | None, mask_suffix: str | None) -> list[PairingRule]:
    if image_suffix is not None or mask_suffix is not None:
        if (image_suffix or "") == (mask_suffix or ""):
            raise UsageError(None, "images and masks in one folder need different --image-suffix/--mask-suffix")
        pairs = [(image_suffix or "", mask_suffix or "")]
        how = "explicit suffixes"
    else:
        pairs = list(KNOWN_SUFFIX_PAIRS)
        how = "known name suffixes"
    stems = {os.path.splitext(f)[0] for f in files}
    best = max(pairs, key=lambda sp: count_suffix_pairs(stems, sp))
    n = count_suffix_pairs(stems, best)
    if n == 0 and how != "explicit suffixes":
        return _extension_pairs(files) or _flat_mask_word(files)
    return [PairingRule(None, None, *best, split=None, how=how, pairs=n)]


def _flat_mask_word(files: list[str]) -> list[PairingRule]:
    """sample_1.tif beside sample_mask_1.tif (solaris' datagen sample): one folder, mask names adding a mask word
    (mask, label, gt, ...) inside the name, where no suffix tells them apart. Only when a quarter of the names
    or more pair so."""
    stems = {os.path.splitext(f)[0] for f in files if io.has_extension(f, io.IMAGE_EXTENSIONS)}
    counts: Counter[str] = Counter()
    for stem in stems:
        folder, _, name = stem.rpartition("/")
        for cut, rest in word_cuts(name):
            if _MASK_WORDS.search(cut) and not _IMAGE_WORDS.search(cut) and _join(folder, rest) in stems:
                counts[cut] += 1
    if not counts:
        return []
    word, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    if n < 2 or 4 * n < len(stems):
        return []
    return [PairingRule(None, None, split=None, how="one folder, mask names add a mask word", pairs=n,
                        mask_word=word)]


# Side by side under one name, told apart by format: a photo is JPEG, its label map lossless.
_PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg"})
_LABEL_EXTENSIONS = (".png", ".gif", ".bmp", ".tif", ".tiff")


def _extension_pairs(files: list[str]) -> list[PairingRule]:
    """x.jpg beside x.png (no suffix, no folder tells them apart): the rule taking the lossless files as masks.

    Only when at least half of the names are such a pair, so a folder of unrelated
    JPEGs and PNGs is not paired by chance.
    """
    by_stem: dict[str, list[str]] = defaultdict(list)
    for f in files:
        stem, ext = os.path.splitext(f)
        by_stem[stem].append(ext.lower())
    counts: Counter[str] = Counter()
    for exts in by_stem.values():
        if len(exts) == 2 and len(_PHOTO_EXTENSIONS.intersection(exts)) == 1:
            other = next(e for e in exts if e not in _PHOTO_EXTENSIONS)
            if other in _LABEL_EXTENSIONS:
                counts[other] += 1
    if not counts:
        return []
    mask_extension, n = counts.most_common(1)[0]
    if n < len(by_stem) / 2:
        return []
    return [PairingRule(None, None, split=None, how="one name, JPEG image beside a lossless mask", pairs=n,
                        mask_extension=mask_extension)]


@dataclass(frozen=True)
class SuffixHint:
    """Names side by side that come in pairs by a suffix no convention knows (`t01_ortho.tif`, `t01_classes.tif`)."""

    image_suffix: str
    mask_suffix: str
    pairs: int
    example: str  # one of the would-be masks, relative to the root
    sure: bool  # the mask side is told by its name (a mask word) or its format (lossless beside JPEG)

    def describe(self, root: str | os.PathLike[str] | None = None) -> str:
        example = os.path.join(root, self.example) if root else self.example
        image = f"--image-suffix {self.image_suffix} " if self.image_suffix else ""
        ends = f"{self.image_suffix or 'nothing'} and {self.mask_suffix}"
        maybe = "" if self.sure else f"if the {self.mask_suffix} files are the masks, "
        return (f"{example}: {self.pairs} names come in pairs ending in {ends}; {maybe}scan with "
                f"{image}--mask-suffix {self.mask_suffix}")


_SUGGESTED_IMAGE_SUFFIXES = frozenset(KNOWN_IMAGE_SUFFIXES) - {""}


def looks_like_a_mask_name(name: str) -> bool:
    """Whether a file or folder name has a word masks are named with (mask, label, gt, seg, ...)."""
    return bool(_MASK_WORDS.search(os.path.splitext(name)[0]))


def suggest_suffixes(files: list[str]) -> SuffixHint | None:
    """The suffix pair that most names side by side come in, when nothing else paired; None under 2 pairs or
    when fewer than half of the files would pair."""
    found: dict[str, dict[str, str]] = defaultdict(dict)  # folder/base -> suffix -> file
    for f in files:
        if not io.has_extension(f, io.IMAGE_EXTENSIONS | io.MASK_EXTENSIONS):
            continue
        stem = os.path.splitext(f)[0]
        for base, suffix in _splits(stem, None):
            if "/" not in suffix:  # a cut inside a folder name is no suffix
                found[base].setdefault(suffix, f)
    counts: Counter[tuple[str, str]] = Counter()
    for by_suffix in found.values():
        # Names that differ by a number alone are frames or copies (KITTI's um_lane_000000 / _000001), never an
        # image and its mask.
        if len(by_suffix) == 2 and not all(_NUMBER.fullmatch(s) for s in by_suffix):
            counts[tuple(sorted(by_suffix))] += 1  # type: ignore[index]
        elif len(by_suffix) > 2:  # GeoNRW: x_rgb.jp2, x_dem.tif, x_seg.tif; the one mask word pairs with each
            masks = [s for s in by_suffix if _MASK_WORDS.search(s)]
            if len(masks) == 1:
                for other in by_suffix.keys() - {masks[0]}:
                    counts[tuple(sorted((other, masks[0])))] += 1  # type: ignore[index]
    if not counts:
        return None
    (a, b), n = max(counts.items(), key=lambda kv: (kv[1], bool({kv[0][0], kv[0][1]} & _SUGGESTED_IMAGE_SUFFIXES),
                                                    kv[0]))
    if n < 2 or 2 * n < len(files) / 2:
        return None
    examples = [by for by in found.values() if {a, b} <= by.keys()]
    image_side, mask_side, sure = _mask_side(a, b, examples)
    return SuffixHint(image_side, mask_side, n, examples[0][mask_side], sure)


def _mask_side(a: str, b: str, examples: list[dict[str, str]]) -> tuple[str, str, bool]:
    """(image suffix, mask suffix, sure) of a suffix pair: a mask word in one name, else the lossless side
    beside JPEGs, else a guess (the longer suffix: `x` and `x_label`)."""
    words = [bool(_MASK_WORDS.search(s)) for s in (a, b)]
    if words[0] != words[1]:
        return (b, a, True) if words[0] else (a, b, True)
    photo = [all(io.has_extension(e[s], _PHOTO_EXTENSIONS) for e in examples) for s in (a, b)]
    if photo[0] != photo[1]:
        return (a, b, True) if photo[0] else (b, a, True)
    return (a, b, False) if len(a) <= len(b) else (b, a, False)


def count_suffix_pairs(stems: set[str], suffixes: tuple[str, str]) -> int:
    img_sfx, msk_sfx = suffixes
    return sum(1 for s in stems if s.endswith(msk_sfx) and io.strip_suffix(s, msk_sfx) + img_sfx in stems)


def strip_mask_suffix(stem: str) -> str:
    """`stem` less a known mask suffix (`_GT`, `_gt`, `_mask`, `_label`, ...; case aside), else `stem`."""
    for suffix in sorted((s for s in KNOWN_MASK_SUFFIXES if s), key=len, reverse=True):
        if stem.lower().endswith(suffix.lower()) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def split_named_in(path: str) -> str | None:
    """The first folder of `path` named as a split, as written: `train`, `val`, ...; a folder whose name holds
    one split word (`train_images` and `train_masks` on Kaggle, ISIC's `ISIC2018_Task1-2_Training_Input`,
    COCO's `val2017`) gives that word."""
    for part in path.split("/"):
        if part.lower() in SPLIT_NAMES:
            return part
        words = [w for w in _NAME_WORDS.split(part) if _SPLIT_WORD.fullmatch(w)]
        if len(words) == 1:
            return words[0]
        together = _TRAIN_VAL.search(part)  # SUIM's train_val/ beside TEST/: one split, as `trainval` is
        if together and len(words) == 2:
            return together.group(0)
    return None


_NAME_WORDS = re.compile(r"[-_. ]+")
_TRAIN_VAL = re.compile(r"(?i)(?<![a-z])train[-_. ]?val(?![a-z])")
_NUMBER = re.compile(r"[-_. ]*\d*")
_SPLIT_WORD = re.compile(rf"(?i:{'|'.join(sorted(SPLIT_NAMES, key=len, reverse=True))})\d*")


def split_of(rule: PairingRule, relative_dir: str) -> str | None:
    """The split a file belongs to: named by the rule's folders, else by a folder below them (Cityscapes)."""
    return rule.split or split_named_in(relative_dir)


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name


def with_pairs(rule: PairingRule, pairs: int) -> PairingRule:
    return replace(rule, pairs=pairs)

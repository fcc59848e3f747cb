"""Split lists beside the data: VOC's `ImageSets/Segmentation/train.txt` and `val.txt`, Oxford-IIIT Pet's
`annotations/trainval.txt` and `test.txt`. Where no folder names a split, they give the `split` column: without
them VOC's val images went into kfold, stats and augment with the training ones, and nothing said so.

A list is a text file named as a split, one sample a line, its first token an image name, a stem or a path
(CamVid's `train.txt` lists `/SegNet/CamVid/train/x.png /SegNet/CamVid/trainannot/x.png`). The lists of one
folder are read together, the folder whose lists name the most pairs (on a tie, one named for segmentation), and
only two lists or more (one list of some pairs may be any subset); `trainval` beside `train` and `val` is their
union, left out. A pair listed in two lists of that folder makes no split column, said in a note.
"""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..layout import SPLIT_NAMES

MAX_LIST_BYTES = 64 << 20  # a text file this large is no list of image names


@dataclass(frozen=True)
class SplitLists:
    """Where the lists are and the split of each image stem they name."""

    folder: str
    split_of: dict[str, str]
    listed_twice: int = 0
    listed: frozenset[str] = frozenset()  # every name the lists hold, paired or not


def read_split_lists(root: str, text_files: list[str], stems: set[str]) -> SplitLists | None:
    """The lists (relative paths of `.txt` files under `root`) that name the most of `stems`, or None."""
    by_folder: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for rel in text_files:
        path = PurePosixPath(rel)
        if path.suffix.lower() == ".txt" and path.stem.lower() in SPLIT_NAMES:
            names = _listed(os.path.join(root, rel))
            if names:
                by_folder[str(path.parent)][path.stem] = names
    best: SplitLists | None = None
    best_key = (0, False)
    for folder, lists in sorted(by_folder.items()):
        lower = {name.lower(): name for name in lists}
        if "trainval" in lower and "train" in lower and "val" in lower:
            del lists[lower["trainval"]]
        seen: dict[str, list[str]] = defaultdict(list)
        for split, names in sorted(lists.items()):
            for stem in names & stems:
                seen[stem].append(split)
        if len({split for splits in seen.values() for split in splits}) < 2:
            continue  # one list naming some pairs may be any subset of them, not a split
        # Most pairs named, then a folder that says segmentation: VOC's ImageSets/Main lists the same ids otherwise.
        key = (len(seen), "seg" in folder.rsplit("/", 1)[-1].lower())
        if key > best_key:
            twice = sum(1 for splits in seen.values() if len(splits) > 1)
            best = SplitLists(folder, {s: v[0] for s, v in seen.items() if len(v) == 1}, twice,
                              frozenset().union(*lists.values()))
            best_key = key
    return best


def _listed(path: str) -> set[str]:
    """The image stems a list names (the first token of each line, its folders and extension dropped)."""
    try:
        if os.path.getsize(path) > MAX_LIST_BYTES:
            return set()
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return set()
    names = set()
    for line in lines:
        token = line.split(maxsplit=1)[0] if line.strip() else ""
        if token and not token.startswith("#"):
            name = token.replace("\\", "/").rsplit("/", 1)[-1]
            names.update((name, os.path.splitext(name)[0]))  # a path's file name, or a stem that holds a dot
    return names

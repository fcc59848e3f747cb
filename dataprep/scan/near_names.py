"""Masks whose names miss their image's expected mask name by case, spaces or punctuation: DRIVE copies hold
`34manual1.gif` and `51_manual1).gif` beside `33_manual1.gif`, and `23_training_mask .gif`. No rule pairs
them, so their images are orphans; the orphan's problem names the file, instead of leaving the user to look
through a folder of hundreds for it. Nothing is paired by this guess: a wrong pair is worse than an orphan."""
from __future__ import annotations

import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_NOT_NAME = re.compile(r"[\W_]+")


def loose_name(name: str) -> str:
    """`name` without case, spaces and punctuation: '51_Manual1)' -> '51manual1'."""
    return _NOT_NAME.sub("", name.casefold())


@dataclass(frozen=True)
class ExpectedMask:
    """Where an orphan image's mask would be, and its name there without the extension."""

    image: str
    folder: str  # relative to the scanned root; "" for the root
    name: str  # "34_manual1"


def near_named_masks(expected: Iterable[ExpectedMask], unpaired: Iterable[str]) -> dict[str, str]:
    """image -> the unpaired file in its mask folder whose name is the expected one but for case, spaces or
    punctuation. An image with several such files, and a file that several images would take, are left out:
    no single answer to give."""
    by_place: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in unpaired:
        folder, name = os.path.split(f)
        by_place[(folder, loose_name(os.path.splitext(name)[0]))].append(f)
    found = {}
    for e in expected:
        files = by_place.get((e.folder, loose_name(e.name)), [])
        if len(files) == 1:
            found[e.image] = files[0]
    claims = Counter(found.values())
    return {image: f for image, f in found.items() if claims[f] == 1}


def rename_advice(mask: str, expected_name: str) -> str:
    """The words an orphan's problem ends with."""
    ext = os.path.splitext(mask)[1]
    return (f"; {mask}, which no rule pairs, is named like its mask but for case, spaces or punctuation: "
            f"rename it to {expected_name}{ext} to pair them")

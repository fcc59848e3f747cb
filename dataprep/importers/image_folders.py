"""Where the images an annotation export lists are, when no `--images` says it.

Exports name images by file name (COCO `file_name`, VIA `filename`, CVAT `name`), relative to a folder they
do not record. The usual places are tried (the export's folder, its `images/`, its parent and the parent's
`images/`), the one holding most of the first images listed is taken, and an image missing there is looked
for in the others: Roboflow's exports put most images beside `_annotations.coco.json` and some in `images/`.
When none holds any, the folders below the export's are searched (CVAT's `images/raw/`, panopticapi's
`input_images/`).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

PROBES = 20  # listed images tried per folder
SEARCH_DEPTH = 3  # folder levels below the export's searched when no usual place holds an image
SEARCH_FOLDERS = 2000  # folders looked at, at most, in that search

Exists = Callable[[Path, str], bool]


def _is_file(folder: Path, name: str) -> bool:
    return (folder / name).is_file()


class ImageLocator:
    """`locator(name)`: the path of a listed image; `folder`: where most of them are; `looked_in`: the folders
    tried, for the message of an image found in none."""

    def __init__(self, export: Path, images_dir: Path | None, file_names: Sequence[str],
                 exists: Exists = _is_file, usual: Sequence[Path] | None = None) -> None:
        self.exists, self.given = exists, images_dir is not None
        self.missing = 0  # listed images found in no folder tried
        if images_dir is not None:
            self.folder, self.others = images_dir, []
            return
        candidates = list(usual) if usual is not None else [
            export.parent, export.parent / "images", export.parent.parent, export.parent.parent / "images",
            export.parent.parent.parent / "images",  # Mapillary: val/v2.0/panoptic/panoptic_2020.json, val/images
            *_split_folders(export)]
        probes = list(file_names[:PROBES])
        hits = [sum(exists(folder, name) for name in probes) for folder in candidates]
        if max(hits, default=0) == 0:
            below = _search_below(export.parent, probes, exists)
            if below is not None:
                candidates, hits = [below, *candidates], [1, *hits]
        best = hits.index(max(hits)) if max(hits, default=0) else None
        if best is None:  # nothing found anywhere: name the folder the user most likely meant
            self.folder = next((c for c in candidates[1:2] if c.is_dir()), candidates[0])
        else:
            self.folder = candidates[best]
        self.others = [c for c in candidates if c != self.folder and c.is_dir()]

    @property
    def looked_in(self) -> list[Path]:
        return [self.folder, *self.others]

    def __call__(self, name: str) -> Path:
        if self.exists(self.folder, name):
            return self.folder / name
        found = next((folder for folder in self.others if self.exists(folder, name)), None)
        self.missing += found is None
        return (found or self.folder) / name

    def missing_note(self) -> str | None:
        """One line for the images found in none of the folders tried (with --images, each image's own error
        says it is not there)."""
        if not self.missing or self.given:
            return None
        folders = ", ".join(str(f) for f in self.looked_in[:4])
        return f"{self.missing} listed image(s) are in none of {folders}: --images DIR says where they are"


def _split_folders(export: Path) -> list[Path]:
    """COCO's own layout, annotations/instances_val2017.json beside val2017/ (datumaro's: images/val2017/): the
    folders named as the export's split. They were never tried, and a COCO folder did not import."""
    split = export.stem.rpartition("_")[2] if "_" in export.stem else ""
    if not split:
        return []
    root = export.parent.parent
    return [root / split, root / "images" / split, export.parent / split]


def _search_below(root: Path, probes: list[str], exists: Exists) -> Path | None:
    """The folder below `root` (breadth first, a few levels) holding most of the probed images."""
    best, best_hits, seen = None, 0, 0
    level = [root]
    for _ in range(SEARCH_DEPTH):
        below: list[Path] = []
        for folder in level:
            try:
                entries = sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
            except OSError:
                continue
            for name in entries:
                seen += 1
                if seen > SEARCH_FOLDERS:
                    return best
                sub = folder / name
                hits = sum(exists(sub, p) for p in probes)
                if hits > best_hits:
                    best, best_hits = sub, hits
                below.append(sub)
        level = below
    return best


def find_images_dir(export: Path, images_dir: Path | None, file_names: Sequence[str],
                    exists: Exists = _is_file) -> Path:
    """The folder holding most of the images listed (see `ImageLocator`)."""
    return ImageLocator(export, images_dir, file_names, exists).folder

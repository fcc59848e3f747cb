"""Recognise annotation layouts that `scan` cannot pair, and say how to convert them.

Polygon and box formats (labelme, COCO, CVAT, YOLO), run-length CSVs (Kaggle), MATLAB
label maps and per-instance mask folders (one file per object) are not image/mask
pairs; `dataprep import` turns them into label maps. Only the first bytes of a few
files are read, so a multi-gigabyte COCO file costs nothing.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from . import io
from .layout import strip_mask_suffix

ANNOTATION_EXTENSIONS = frozenset({".json", ".xml", ".txt", ".csv", ".mat"})
_HEAD_BYTES = 64 * 1024
_FILES_READ_PER_EXTENSION = 20
_YOLO_LINE = re.compile(r"^\d+(\s+-?\d*\.?\d+(e-?\d+)?){4,}\s*$", re.I)


@dataclass(frozen=True)
class Hint:
    format: str  # the `dataprep import` format: coco, labelme, cvat, yolo, instances
    what: str  # what the files look like
    count: int
    example: str  # one such path, relative to the root
    source: str = ""  # what `dataprep import FORMAT SRC DEST` takes as SRC: the file or folder, relative to the root
    unit: str = "files"  # what `count` counts (instances: sample folders)

    def __str__(self) -> str:
        return self.describe()

    def describe(self, root: str | os.PathLike[str] | None = None) -> str:
        """One line; paths joined to `root` when given, so that the command runs from anywhere."""
        example = os.path.join(root, self.example) if root else self.example
        source = os.path.join(root, self.source) if root else self.source
        return (f"{example}: looks like {self.what} ({self.count} {self.unit}); "
                f"convert with `dataprep import {self.format} {os.path.normpath(source or '.')} DEST`")


def _source(fmt: str, example: str, yaml_dir: str | None = None) -> str:
    """The SRC `dataprep import` takes for a format, from one of its files (relative paths); `yaml_dir`: the
    folder of the YOLO data.yaml above it, if any."""
    folder = os.path.dirname(example.rstrip("/"))
    if fmt in ("coco", "coco-panoptic", "cvat", "kaggle-rle"):
        return example  # the JSON / XML / CSV itself
    if fmt == "yolo":
        # The folder of the data.yaml (Roboflow's: beside train/ valid/ test/), else the dataset folder above
        # labels/ (ultralytics' images/ <-> labels/ rule).
        if yaml_dir is not None:
            return yaml_dir
        parts = example.split("/")
        return "/".join(parts[: max(i for i, p in enumerate(parts) if p == "labels")]) if "labels" in parts else folder
    return folder  # labelme: the folder of the JSON files; instances: the folder of the ID/ folders


def _ancestors(folder: str) -> list[str]:
    """`folder` and the folders above it, up to the root ("")."""
    out = [folder]
    while out[-1]:
        out.append(os.path.dirname(out[-1]))
    return out


def find_hints(root: str | os.PathLike[str], files: list[str]) -> list[Hint]:
    """Hints for the annotation files and per-instance mask folders among `files` (paths relative to `root`)."""
    root = Path(root)
    found: dict[str, list[str]] = defaultdict(list)
    ext_of: dict[str, str] = {}
    checked: dict[str, int] = defaultdict(int)
    stems = {os.path.splitext(f)[0] for f in files if io.has_extension(f, io.IMAGE_EXTENSIONS)}
    names = {os.path.basename(s) for s in stems}
    annotations = [f for f in files if os.path.splitext(f)[1].lower() in ANNOTATION_EXTENSIONS]
    for rel in annotations:
        ext = os.path.splitext(rel)[1].lower()
        if checked[ext] >= _FILES_READ_PER_EXTENSION:
            continue  # a sample tells the format; the rest are counted by folder below
        checked[ext] += 1
        fmt = _sniff(root / rel, ext, rel, stems, names)
        if fmt:
            found[fmt].append(rel)
            ext_of[fmt] = ext
    from .importers.yolo import YAML_NAMES

    # The nearest folder above the YOLO labels holding a data.yaml (the walk lists no .yaml files)
    yaml_dir = next((up for rel in found.get("yolo", ())[:1] for up in _ancestors(os.path.dirname(rel))
                     if any((root / up / name).is_file() for name in YAML_NAMES)), None)
    hints = []
    for fmt, paths in found.items():
        folders = {os.path.dirname(p) for p in paths}
        count = len(paths) if fmt == "kaggle-rle" else sum(  # one CSV of masks beside other CSVs
            1 for f in annotations if f.lower().endswith(ext_of[fmt]) and os.path.dirname(f) in folders)
        hints.append(Hint(fmt, _WHAT[fmt], count, paths[0], _source(fmt, paths[0], yaml_dir)))
    instances = _instance_folders(files)
    if instances:
        hints.append(Hint("instances", _WHAT["instances"], len(instances), instances[0],
                          _source("instances", instances[0]), unit="samples"))
    return sorted(hints, key=lambda h: h.format)


_WHAT = {
    "coco": "COCO annotations (JSON with images, annotations, categories)",
    "coco-panoptic": "COCO panoptic annotations (JSON with segments_info, beside PNGs of segment ids)",
    "labelme": "labelme polygon JSON",
    "cvat": "a CVAT for images XML export",
    "yolo": "YOLO label text files (class x y w h ... per line)",
    "instances": "per-instance masks (ID/images/ID.png + ID/masks/*.png, one file per object)",
    "mat": "MATLAB label maps (one .mat per image)",
    "kaggle-rle": "a run-length CSV (image, RLE 'start length ...' per row, as Kaggle competitions ship masks)",
}


def _sniff(path: Path, ext: str, rel: str, image_stems: set[str], image_names: set[str]) -> str | None:
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    if ext == ".json":
        if '"shapes"' in head and ('"points"' in head or '"imagePath"' in head):
            return "labelme"
        if '"images"' in head and ('"annotations"' in head or '"categories"' in head or '"file_name"' in head):
            # Panoptic JSONs list segments_info per image (Mapillary's panoptic_2018.json was sent to `coco`,
            # which then missed 'category_id'); the name says it where the head does not reach the annotations.
            panoptic = '"segments_info"' in head or "panoptic" in os.path.basename(rel).lower()
            return "coco-panoptic" if panoptic else "coco"
    elif ext == ".xml":
        if "<annotations" in head and ("<image " in head or "<track " in head):
            return "cvat"
    elif ext == ".mat":
        # A MATLAB 5 file named like an image somewhere in the tree: SBD's cls/x.mat for img/x.jpg.
        stem = os.path.basename(os.path.splitext(rel)[0])
        if head.startswith("MATLAB 5.0 MAT-file") and (stem in image_names or strip_mask_suffix(stem) in image_names):
            return "mat"  # MSRC v2: newsegmentations_mats/x_GT.mat for Images/x.bmp
    elif ext == ".csv":
        from .importers.kaggle_rle import looks_like_rle_csv

        if looks_like_rle_csv(head):
            return "kaggle-rle"
    elif ext == ".txt":
        lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
        stem = os.path.splitext(rel)[0]
        # An image of the same name beside it, or in a sibling images/ folder, makes a YOLO label file.
        twin = stem in image_stems or re.sub(r"(^|/)labels/", r"\1images/", stem) in image_stems
        if lines and twin and all(_YOLO_LINE.match(ln.strip()) for ln in lines):
            return "yolo"
    return None


def _instance_folders(files: list[str]) -> list[str]:
    """`ID/` folders holding `images/` with one image and `masks/` with files of other names."""
    images: dict[str, set[str]] = defaultdict(set)
    masks: dict[str, set[str]] = defaultdict(set)
    for f in files:
        parts = f.split("/")
        if len(parts) < 3:
            continue
        parent, folder, stem = "/".join(parts[:-2]), parts[-2].lower(), os.path.splitext(parts[-1])[0]
        if folder in ("images", "image") and io.has_extension(f, io.IMAGE_EXTENSIONS):
            images[parent].add(stem)
        elif folder in ("masks", "mask") and io.has_extension(f, io.MASK_EXTENSIONS):
            masks[parent].add(stem)
    return sorted(p + "/" for p, imgs in images.items()
                  if len(imgs) == 1 and masks.get(p) and not imgs & masks[p])

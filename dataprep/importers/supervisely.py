"""Supervisely projects (its JSON format): `meta.json` beside dataset folders of `ann/<image>.json` + `img/<image>`.

Objects are drawn as the Supervisely SDK draws them (`supervisely.geometry`): polygons with their points
floored, the exterior filled with cv2 and the interiors (holes) filled back out; bitmaps as the alpha of
their zlib-compressed PNG placed with its top-left pixel at `origin` [x, y]; rectangles filled, both corners
inclusive. Objects are painted in file order, later over earlier, as `Annotation.draw` paints them. Lines,
points, graphs (keypoints) and other shapes enclose no area and are left out with a warning.

Classes: background 0 (a class titled `background` or `__bg__` takes it), then the classes of `meta.json` in
the order it lists them, with their colours: the index order of the SDK's machine masks
(`obj_class_to_machine_color.json`).
"""
from __future__ import annotations

import base64
import binascii
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataprepError, UsageError
from ..io import decode_binary_bytes
from .base import ClassSpec, Entry, ImportPlan, Region, field_error, read_json, require
from .cvat import parse_colour

BACKGROUND_TITLES = ("background", "__bg__")
AREA_SHAPES = {"polygon": "sly_polygon", "rectangle": "sly_rectangle", "bitmap": "sly_bitmap"}


def decode_bitmap(encoded: str, source: Path | str | None = None) -> np.ndarray:
    """A Supervisely bitmap's (h, w) bool mask: its PNG's alpha band, or its non-zero pixels (the SDK's
    base64_2_data; a plain base64 PNG is read too)."""
    raw = base64.b64decode(encoded)
    try:
        raw = zlib.decompress(raw)
    except zlib.error:
        pass
    return decode_binary_bytes(raw, source)


def _project(src: Path) -> tuple[Path, Path]:
    """(project folder, meta.json) for a project folder, its meta.json, or one of its dataset folders."""
    if src.is_file():
        return src.parent, src
    for folder in (src, src.parent):
        if (folder / "meta.json").is_file():
            return folder, folder / "meta.json"
    raise UsageError(src, "no meta.json here or one folder up: give a Supervisely project folder")


def _classes(meta: Path) -> tuple[list[ClassSpec], dict[str, int]]:
    data = read_json(meta)
    classes = require(data, "classes", meta, "", list)
    specs, index = [ClassSpec("background", (0, 0, 0))], {}
    for n, cls in enumerate(classes):
        title = require(cls, "title", meta, f"classes[{n}]", str)
        colour = parse_colour(cls.get("color")) if isinstance(cls.get("color"), str) else None
        if title.strip().lower() in BACKGROUND_TITLES:
            index[title], specs[0] = 0, ClassSpec(title, colour or (0, 0, 0))
            continue
        if title in index:
            raise field_error(meta, f"classes[{n}]", f"class {title!r} is listed twice")
        index[title] = len(specs)
        specs.append(ClassSpec(title, colour))
    return specs, index


def _origin(value: Any, path: Path, where: str) -> tuple[int, int]:
    if isinstance(value, str):  # some exports write it as text: "[3439, 1917]"
        value = value.strip("[] ").split(",")
    try:
        x, y = (int(float(v)) for v in value)
    except (TypeError, ValueError):
        raise field_error(path, where, f"bitmap origin must be [x, y], not {value!r}") from None
    return x, y


def _region(obj: Any, label: int, path: Path, where: str) -> Region | None:
    kind = require(obj, "geometryType", path, where, str)
    if kind not in AREA_SHAPES:
        return None
    if kind == "bitmap":
        bitmap = require(obj, "bitmap", path, where, dict)
        encoded = require(bitmap, "data", path, where + ".bitmap", str)
        try:
            base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise field_error(path, where, "bitmap data is not base64") from None
        origin = _origin(bitmap.get("origin"), path, where)
        return Region(label, "sly_bitmap", (encoded, origin, f"{path}: {where}"), where=where)
    points = require(obj, "points", path, where, dict)
    exterior = require(points, "exterior", path, where + ".points", list)
    interiors = points.get("interior") or []
    try:
        outer = [(float(p[0]), float(p[1])) for p in exterior]
        holes = [[(float(p[0]), float(p[1])) for p in hole] for hole in interiors]
    except (TypeError, ValueError, IndexError):
        raise field_error(path, where, "points must be [[x, y], ...]") from None
    need = 2 if kind == "rectangle" else 3
    if len(outer) < need:
        raise field_error(path, where, f"a {kind} needs {'2' if need == 2 else 'at least 3'} points, got {len(outer)}")
    if kind == "rectangle":
        return Region(label, "sly_rectangle", outer[:2], where=where)
    return Region(label, "sly_polygon", (outer, holes), where=where)


def _annotation_files(root: Path) -> list[Path]:
    """`DATASET/ann/*.json`, and those of datasets nested as `PARENT/datasets/CHILD/ann/` (the SDK's layout
    since nested datasets: its "Fruits" sample lost every child dataset's images, unsaid)."""
    found = [f for f in root.rglob("ann/*.json")
             if f.parent.parent.parent == root or f.parent.parent.parent.name == NESTED_DATASETS]
    return sorted(found)


def _dataset_name(root: Path, folder: Path) -> str:
    """`Temperate/Apples` for `Temperate/datasets/Apples`: the datasets' names, not the SDK's folder."""
    return "/".join(part for part in folder.relative_to(root).parts if part != NESTED_DATASETS)


NESTED_DATASETS = "datasets"  # the SDK's folder of a dataset's child datasets


def read_supervisely(src: Path, *, images_dir: Path | None = None) -> ImportPlan:
    """Every `DATASET/ann/*.json` of the project; ids `DATASET/<image stem>`; images in `DATASET/img/` (or
    `images_dir/DATASET/`)."""
    root, meta = _project(Path(src))
    specs, index = _classes(meta)
    files = _annotation_files(root)
    if Path(src).is_dir() and Path(src) != root:  # one dataset folder of the project (and those nested in it)
        chosen = Path(src)
        files = [f for f in files if f.parent.parent == chosen or chosen in f.parent.parent.parents]
    if not files:
        raise UsageError(root, "no DATASET/ann/*.json annotation files found")
    plan = ImportPlan("supervisely", specs, [])
    left_out: Counter[str] = Counter()
    for path in files:
        dataset = _dataset_name(root, path.parent.parent)
        image_name = path.name.removesuffix(".json")
        try:
            data = read_json(path)
            size = require(data, "size", path, "", dict)
            width, height = require(size, "width", path, "size", int), require(size, "height", path, "size", int)
            regions = []
            for n, obj in enumerate(require(data, "objects", path, "", list)):
                where = f"objects[{n}]"
                title = require(obj, "classTitle", path, where, str)
                if title not in index:
                    raise field_error(path, where, f"class {title!r} is not in {meta}")
                region = _region(obj, index[title], path, where)
                if region is None:
                    left_out[obj["geometryType"]] += 1
                else:
                    regions.append(region)
        except DataprepError as exc:
            plan.errors.append(str(exc))
            continue
        folder = images_dir / dataset if images_dir is not None else path.parent.parent / "img"
        sid = f"{dataset}/{Path(image_name).stem}"
        plan.entries.append(Entry(sid, folder / image_name, path, tuple(regions), (width, height)))
    if left_out:
        listed = ", ".join(f"{n} {kind}" for kind, n in sorted(left_out.items()))
        plan.warnings.append(f"left out objects that enclose no area: {listed}")
    return plan

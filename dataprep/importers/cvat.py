"""CVAT for images 1.1 XML (`annotations.xml`): polygons, boxes (rotated too) and masks.

Polygons and boxes are rasterized with pycocotools, as CVAT's own mask export
(datumaro) does; masks are CVAT's RLE (row-major runs inside the mask's box).
Shapes are drawn by `z_order`, then in file order. Polylines, points, ellipses,
cuboids, skeletons and tags are left out with a warning.

Classes: background 0 (a label named "background" takes index 0), then the task's
(or project's) labels in their listed order, with their colours.
"""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from ..errors import DataprepError, UsageError
from .raster import require_pycocotools
from .base import ClassSpec, Entry, ImportPlan, Region, field_error
from .coco import entry_id
from .image_folders import ImageLocator

SKIPPED_SHAPES = ("polyline", "points", "ellipse", "cuboid", "skeleton", "tag")


def parse_colour(text: str | None) -> tuple[int, int, int] | None:
    if not text:
        return None
    text = text.strip().lstrip("#")
    if len(text) != 6:
        return None
    try:
        return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
    except ValueError:
        return None


def _float(el: ET.Element, key: str, path: Path, where: str) -> float:
    value = el.get(key)
    if value is None:
        raise field_error(path, where, f"<{el.tag}> has no {key!r} attribute")
    try:
        return float(value)
    except ValueError:
        raise field_error(path, where, f"<{el.tag}> attribute {key!r} is not a number: {value!r}") from None


def _int(el: ET.Element, key: str, path: Path, where: str) -> int:
    value = _float(el, key, path, where)
    if value != int(value) or value < 0:
        raise field_error(path, where, f"<{el.tag}> attribute {key!r} must be a non-negative integer, not {value}")
    return int(value)


def _box_polygon(el: ET.Element, path: Path, where: str) -> list[float]:
    x1, y1 = _float(el, "xtl", path, where), _float(el, "ytl", path, where)
    x2, y2 = _float(el, "xbr", path, where), _float(el, "ybr", path, where)
    corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    angle = _float(el, "rotation", path, where) if el.get("rotation") else 0.0
    if angle:
        # CVAT rotates boxes clockwise (in image coordinates, y down) about their centre.
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        corners = [(cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in corners]
    return [v for xy in corners for v in xy]


def _points(el: ET.Element, path: Path, where: str) -> list[float]:
    text = el.get("points")
    if not text:
        raise field_error(path, where, f"<{el.tag}> has no 'points' attribute")
    try:
        pairs = [[float(v) for v in pair.split(",")] for pair in text.strip().split(";")]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError
    except ValueError:
        raise field_error(path, where, f"<{el.tag}> points must be 'x,y;x,y;...', not {text[:40]!r}") from None
    return [v for pair in pairs for v in pair]


def read_cvat_xml(src: Path, *, images_dir: Path | None = None) -> ImportPlan:
    src = Path(src)
    path = src / "annotations.xml" if src.is_dir() else src
    if not path.is_file():
        raise UsageError(path, "not found (give a CVAT for images 1.1 annotations.xml)")
    if path.stat().st_size == 0:
        raise DataprepError(path, "empty file")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DataprepError(path, f"not valid XML: {exc}") from None
    require_pycocotools(path)
    if root.tag != "annotations":
        raise DataprepError(path, f"not a CVAT for images file: root element <{root.tag}>, expected <annotations>")
    labels = root.findall("./meta/task/labels/label") or root.findall("./meta/project/labels/label") \
        or root.findall("./meta/job/labels/label")
    specs = [ClassSpec("background", (0, 0, 0))]
    index: dict[str, int] = {}
    tags: list[str] = []
    for n, el in enumerate(labels):
        name = (el.findtext("name") or "").strip()
        if not name:
            raise field_error(path, f"label #{n}", "<label> has no <name>")
        if (el.findtext("type") or "").strip() == "tag":
            tags.append(name)  # an image-level tag (Daytime_Clear): labels an image, never a pixel
            continue
        if name.lower() == "background":
            index[name] = 0
            specs[0] = ClassSpec(name, parse_colour(el.findtext("color")) or (0, 0, 0))
            continue
        index[name] = len(specs)
        specs.append(ClassSpec(name, parse_colour(el.findtext("color"))))
    if not labels:
        raise field_error(path, "meta", "no <labels> in <meta><task> or <meta><project>")
    # A project export holds every subset, its images in images/<subset>/ (datumaro's export_project: img0.jpg
    # in Test, Train and Validation was "listed twice"): the subset is the first folder of the name.
    subsets = {image.get("subset") for image in root.iter("image")}
    by_subset = len(subsets) > 1 and None not in subsets

    def qualified(image: ET.Element) -> str:
        name = image.get("name") or ""
        return f"{image.get('subset')}/{name}" if by_subset and name else name

    listed = [qualified(image) for image in root.iter("image")]
    locate = ImageLocator(path, images_dir, listed, usual=[path.parent / "images", path.parent])
    plan = ImportPlan("cvat", specs, [])
    skipped: Counter[str] = Counter()
    if root.find("track") is not None:
        raise DataprepError(path, "holds <track>s: this is 'CVAT for video 1.1'; export as 'CVAT for images 1.1'")
    for n, image in enumerate(root.iter("image")):
        name = qualified(image)
        where = f"image #{n}" + (f" ({name})" if name else "")
        if not name:
            raise field_error(path, where, "<image> has no 'name' attribute")
        if Path(name.strip()).name in ("", ".", ".."):  # name="." was a ValueError traceback (an empty id)
            raise field_error(path, where, f"<image> name names no file: {image.get('name')!r}")
        width, height = _int(image, "width", path, where), _int(image, "height", path, where)
        regions: list[Region] = []
        for k, shape in enumerate(image):
            swhere = f"{where} <{shape.tag}> #{k}"
            if shape.tag in SKIPPED_SHAPES:
                skipped[shape.tag] += 1
                continue
            if shape.tag not in ("polygon", "box", "mask"):
                raise field_error(path, swhere, f"unknown shape <{shape.tag}>")
            label = shape.get("label")
            if label not in index:
                raise field_error(path, swhere, f"label {label!r} is not in the task's labels")
            z_value = _float(shape, "z_order", path, swhere) if shape.get("z_order") else 0.0
            if not math.isfinite(z_value):
                raise field_error(path, swhere, f"<{shape.tag}> attribute 'z_order' is not a number: {z_value}")
            z = int(z_value)
            if shape.tag == "polygon":
                pts = _points(shape, path, swhere)
                if len(pts) >= 6:
                    regions.append(Region(index[label], "coco_polygon", [pts], z, where=swhere))
                else:  # encloses nothing; counted, as COCO's, instead of a class losing it unsaid
                    skipped["polygon of fewer than 3 points"] += 1
            elif shape.tag == "box":
                regions.append(Region(index[label], "coco_polygon", [_box_polygon(shape, path, swhere)], z,
                                      where=swhere))
            else:
                rle = shape.get("rle")
                if not rle:
                    raise field_error(path, swhere, "<mask> has no 'rle' attribute")
                try:
                    counts = [int(v) for v in rle.split(",")]
                except ValueError:
                    raise field_error(path, swhere, "<mask> rle must be comma-separated integers") from None
                box = [_int(shape, key, path, swhere) for key in ("left", "top", "width", "height")]
                regions.append(Region(index[label], "cvat_rle", (*box, counts), z, where=swhere))
        plan.entries.append(Entry(entry_id(name), locate(name), path, tuple(regions), (width, height), where))
    if note := locate.missing_note():
        plan.warnings.append(note)
    if skipped:
        listed = ", ".join(f"{n} {tag}" for tag, n in sorted(skipped.items()))
        plan.warnings.append(f"left out shapes that enclose no area or are not supported: {listed}")
    if tags:
        plan.warnings.append(f"labels of type tag label images, not pixels, and get no index: {', '.join(tags)}")
    return plan

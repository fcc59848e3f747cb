"""COCO panoptic JSON + PNGs: segment id = R + 256 G + 256^2 B, listed per image in `segments_info`.

Classes: the categories sorted by id -> 0..K-1 (ids and colours kept in
palette.json); panoptic has no background class: unlabelled pixels (id 0) and,
unless `keep_crowd`, crowd segments get the ignore index.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .base import IGNORE, ClassSpec, Entry, ImportPlan, Region, field_error, require
from .coco import entry_id, parse_categories, parse_images, read_coco_json
from .image_folders import ImageLocator


def _default_masks_dir(path: Path, anns: list[Any]) -> Path:
    """COCO's annotations/panoptic_val2017/ beside panoptic_val2017.json; else the JSON's own folder when it holds
    the PNGs (Mapillary Vistas' v1.2/panoptic/panoptic_2018.json beside 2.png, which failed as not found)."""
    stem_dir = path.with_suffix("")
    first = next((a.get("file_name") for a in anns if isinstance(a, dict) and isinstance(a.get("file_name"), str)),
                 None)
    if not stem_dir.is_dir() and first is not None and (path.parent / first).is_file():
        return path.parent
    return stem_dir


def read_coco_panoptic(src: Path, *, images_dir: Path | None = None, masks_dir: Path | None = None,
                       keep_crowd: bool = False) -> ImportPlan:
    path, data = read_coco_json(src, "COCO panoptic", "JSON file (e.g. annotations/panoptic_val2017.json)", "")
    cats = parse_categories(data, path)
    index_of = {c["id"]: i for i, c in enumerate(cats)}
    images = parse_images(data, path)
    anns = require(data, "annotations", path, "", list)
    masks_dir = masks_dir or _default_masks_dir(path, anns)
    specs = [ClassSpec(c["name"], _colour(c.get("color")), c["id"]) for c in cats]
    plan = ImportPlan("coco-panoptic", specs, [])
    locate = ImageLocator(path, images_dir, [img["file_name"] for img in images.values()])
    annotated: dict[Any, tuple[str, dict[int, int]]] = {}
    for n, ann in enumerate(anns):
        where = f"annotations[{n}]"
        iid = require(ann, "image_id", path, where, (int, str))
        png = require(ann, "file_name", path, where, str)
        segments = require(ann, "segments_info", path, where, list)
        if iid not in images:
            raise field_error(path, where, f"image_id {iid} is not in images")
        table: dict[int, int] = {}
        for k, seg in enumerate(segments):
            swhere = f"{where}.segments_info[{k}]"
            sid = require(seg, "id", path, swhere, int)
            cid = require(seg, "category_id", path, swhere, int)
            if cid not in index_of:
                raise field_error(path, swhere, f"category_id {cid} is not in categories")
            table[sid] = IGNORE if seg.get("iscrowd") and not keep_crowd else index_of[cid]
        annotated[iid] = (png, table)
    for iid, img in images.items():
        size = (img["width"], img["height"]) if img.get("width") and img.get("height") else None
        if iid not in annotated:
            plan.errors.append(str(field_error(path, f"image id {iid}", "has no entry in annotations")))
            continue
        png, table = annotated[iid]
        regions = (Region(0, "panoptic_png", (str(masks_dir / png), table)),) if table else ()
        plan.entries.append(Entry(entry_id(img["file_name"]), locate(img["file_name"]), path, regions, size,
                                  f"image id {iid}"))
    if note := locate.missing_note():
        plan.warnings.append(note)
    return plan


def _colour(value: Any) -> tuple[int, int, int] | None:
    if isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in value):
        return (value[0], value[1], value[2])
    return None

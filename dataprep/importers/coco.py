"""COCO instances JSON (`instances_*.json`): polygons and RLE (compressed and uncompressed).

Classes: background is index 0 (a category named `background` or `_background_`, as
labelme2coco writes, is that class), the other categories follow sorted by id (1..K), each
keeping its COCO `id` in palette.json. `iscrowd` regions are drawn as the
ignore index unless `keep_crowd`. Images are found at `images_dir/file_name`.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import DataprepError, UsageError
from .image_folders import ImageLocator
from .names import shared_names
from .raster import require_pycocotools
from .base import BOX_MODES, IGNORE, ClassSpec, Entry, ImportPlan, Region, field_error, read_json, require


def entry_id(file_name: str) -> str:
    """The manifest id of an image: its path under the images folder, without extension (as `scan`)."""
    return Path(file_name).with_suffix("").as_posix()


def parse_categories(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    cats = require(data, "categories", path, "", list)
    seen: dict[int, str] = {}
    for n, cat in enumerate(cats):
        where = f"categories[{n}]"
        cid = require(cat, "id", path, where, int)
        name = require(cat, "name", path, where, str)
        if cid in seen:
            raise field_error(path, where, f"category id {cid} is listed twice ({seen[cid]!r} and {name!r})")
        seen[cid] = name
    return sorted(cats, key=lambda c: c["id"])


def parse_images(data: dict[str, Any], path: Path) -> dict[int, dict[str, Any]]:
    images = require(data, "images", path, "", list)
    by_id: dict[int, dict[str, Any]] = {}
    for n, img in enumerate(images):
        where = f"images[{n}]"
        iid = require(img, "id", path, where, (int, str))
        name = require(img, "file_name", path, where, str)
        if Path(name.strip()).name in ("", ".", ".."):  # "" and "." were a ValueError traceback (an empty id)
            raise field_error(path, where, f"field 'file_name' names no file: {name!r}")
        for key in ("width", "height"):
            if key in img and img[key] is not None and (not isinstance(img[key], int) or img[key] <= 0):
                raise field_error(path, where, f"field {key!r} must be a positive integer, not {img[key]!r}")
        if iid in by_id:
            raise field_error(path, where, f"image id {iid} is listed twice")
        # labelme2coco and other scripts run on Windows write JPEGImages\\a.jpg: a folder, not part of the name
        # (the image was not found, and its id was said to reach out of the images folder)
        by_id[iid] = {**img, "file_name": name.replace("\\", "/")} if "\\" in name else img
    return by_id


def _segmentation_region(ann: dict[str, Any], label: int, path: Path, where: str) -> Region | None:
    seg = require(ann, "segmentation", path, where, (list, dict))
    if isinstance(seg, dict):
        counts = require(seg, "counts", path, where + ".segmentation", (str, list))
        size = require(seg, "size", path, where + ".segmentation", list)
        if len(size) != 2 or not all(isinstance(v, int) for v in size):
            raise field_error(path, where, f"segmentation.size must be [height, width], not {size!r}")
        if isinstance(counts, list) and not all(isinstance(v, int) for v in counts):
            raise field_error(path, where, "segmentation.counts must be integers or an RLE string")
        return Region(label, "coco_rle", {"counts": counts, "size": size})
    polygons = []
    for k, poly in enumerate(seg):
        if not isinstance(poly, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in poly):
            raise field_error(path, where, f"segmentation[{k}] must be a list of numbers [x1, y1, x2, y2, ...]")
        if len(poly) % 2:
            raise field_error(path, where, f"segmentation[{k}] has an odd number of coordinates ({len(poly)})")
        if len(poly) >= 6:  # fewer than 3 points enclose nothing (pycocotools draws nothing either)
            polygons.append(poly)
    return Region(label, "coco_polygon", polygons) if polygons else None


BACKGROUND_NAMES = ("background", "_background_")


def _class_indices(cats: list[dict[str, Any]]) -> tuple[dict[int, int], list[ClassSpec]]:
    """Category id -> training index, and the classes in index order. A category named background (labelme2coco
    writes `_background_` as category 0) is index 0 itself, so the palette gets no second, empty background."""
    bg = next((c for c in cats if str(c["name"]).strip().lower() in BACKGROUND_NAMES), None)
    rest = [c for c in cats if c is not bg]
    specs = [ClassSpec(bg["name"], None, bg["id"]) if bg else ClassSpec("background")]
    specs += [ClassSpec(c["name"], None, c["id"]) for c in rest]
    index_of = {c["id"]: i + 1 for i, c in enumerate(rest)}
    if bg is not None:
        index_of[bg["id"]] = 0
    return index_of, specs


def _roboflow_placeholder(cats: list[dict[str, Any]], anns: list[Any]) -> dict[str, Any] | None:
    """Roboflow's COCO exports list the project as category 0 (supercategory "none"), the parent of every real
    category, which no annotation uses: as a class it would be an empty one, under a name a real class may share
    (a facade project's `facade` placeholder beside its `facade` class)."""
    if len(cats) < 2 or cats[0].get("supercategory") not in ("none", None, ""):
        return None
    first, rest = cats[0], cats[1:]
    if any(c.get("supercategory") != first["name"] for c in rest):
        return None
    if any(isinstance(a, dict) and a.get("category_id") == first["id"] for a in anns):
        return None
    return first


def read_coco_json(src: Path, what: str, example: str, expected: str) -> tuple[Path, dict[str, Any]]:
    """The path and top-level object of a COCO-style JSON file; one-line errors for a folder or a non-object."""
    path = Path(src)
    if path.is_dir():
        raise UsageError(path, f"{what}: give the {example}")
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataprepError(path, f"not a {what} file: expected a JSON object{expected}")
    return path, data


def _box_region(ann: dict[str, Any], label: int) -> Region | None:
    """A box-only annotation's `bbox` [x, y, w, h] as the 4-corner polygon pycocotools' frBbox draws."""
    box = ann.get("bbox")
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
        return None
    x, y, w, h = map(float, box)
    if w <= 0 or h <= 0:
        return None
    return Region(label, "coco_polygon", [[x, y, x, y + h, x + w, y + h, x + w, y]])


def coco_exports(folder: Path) -> list[Path]:
    """The COCO JSONs of an export folder: Roboflow's `*/_annotations.coco.json` (train, valid, test), else
    COCO's own `annotations/instances_*.json`."""
    found = sorted(folder.glob("_annotations.coco.json")) + sorted(folder.glob("*/_annotations.coco.json"))
    return found or sorted(folder.glob("instances_*.json")) + sorted(folder.glob("annotations/instances_*.json"))


def read_coco(src: Path, *, images_dir: Path | None = None, keep_crowd: bool = False,
              boxes: str = "skip") -> ImportPlan:
    """One COCO JSON, or the JSONs of an export folder (one per split: `coco_exports`) as one import whose ids
    start with the split (`train/x`) and whose manifest gets a split column; their categories must agree.

    `boxes`: what annotations with a box and no segmentation draw: nothing (skip), their box as the ignore
    index (the object is there, its outline unknown), or their box as their class (box supervision)."""
    src = Path(src)
    if not src.is_dir():
        return _plan_of_json(src, images_dir, keep_crowd, boxes)
    exports = coco_exports(src)
    if not exports:
        raise UsageError(src, "no COCO annotation JSON in this folder (Roboflow's */_annotations.coco.json, "
                              "COCO's annotations/instances_*.json): give the JSON file")
    if len(exports) == 1:
        return _plan_of_json(exports[0], images_dir, keep_crowd, boxes)
    plans = [(path, _plan_of_json(path, images_dir, keep_crowd, boxes)) for path in exports]
    first_path, merged = plans[0][0], ImportPlan("coco", plans[0][1].classes, [])
    said: dict[str, list[str]] = {}  # a warning -> the exports that gave it (Roboflow's placeholder: all three)
    for path, plan in plans:
        if [(c.name, c.id) for c in plan.classes] != [(c.name, c.id) for c in merged.classes]:
            raise DataprepError(path, f"its categories differ from those of {first_path}: import each alone")
        split = _split_of_export(path)
        merged.entries += [replace(e, id=f"{split}/{e.id}", split=split) for e in plan.entries]
        merged.errors += plan.errors
        for warning in plan.warnings:
            said.setdefault(warning, []).append(path.relative_to(src).as_posix())
    # "each": a count said by two exports was read as their total (4 images missing, 8 failed)
    merged.warnings = [f"{', '.join(where)}{' (each)' if len(where) > 1 else ''}: {warning}"
                       for warning, where in said.items()]
    return merged


def _split_of_export(path: Path) -> str:
    """train for train/_annotations.coco.json (Roboflow), val2017 for instances_val2017.json (COCO)."""
    return path.stem.removeprefix("instances_") if path.name.startswith("instances_") else path.parent.name


def _source_photo(img: dict[str, Any]) -> str | None:
    """The source photo's name Roboflow records for an augmented copy (`extra.name`), when the export has one."""
    extra = img.get("extra")
    name = extra.get("name") if isinstance(extra, dict) else None
    return (name.strip() or None) if isinstance(name, str) else None


def _plan_of_json(src: Path, images_dir: Path | None, keep_crowd: bool, boxes: str) -> ImportPlan:
    if boxes not in BOX_MODES:
        raise UsageError(None, f"--boxes must be one of {', '.join(BOX_MODES)}, not {boxes!r}")
    path, data = read_coco_json(src, "COCO", "annotation JSON file (e.g. annotations/instances_val2017.json)",
                                " with images/annotations/categories")
    require_pycocotools(path)
    cats = parse_categories(data, path)
    images = parse_images(data, path)
    anns = require(data, "annotations", path, "", list)
    placeholder = _roboflow_placeholder(cats, anns)
    cats = [c for c in cats if c is not placeholder]
    index_of, specs = _class_indices(cats)
    regions: dict[Any, list[Region]] = {iid: [] for iid in images}
    plan = ImportPlan("coco", specs, [])
    shared = shared_names((c["id"], c["name"]) for c in cats)
    if shared:
        plan.warnings.append(shared)
    if placeholder is not None:
        plan.warnings.append(f"category {placeholder['id']} {placeholder['name']!r} left out: no annotation uses it "
                             "and it is the supercategory of all the others (Roboflow's project placeholder)")
    crowd = boxed = 0
    undrawn: list[str] = []  # annotations without an area: boxes only (a detection export) or under 3 points
    for n, ann in enumerate(anns):
        where = f"annotations[{n}]" + (f" (id {ann['id']})" if isinstance(ann, dict) and "id" in ann else "")
        iid = require(ann, "image_id", path, where, (int, str))
        cid = require(ann, "category_id", path, where, int)
        if iid not in images:
            raise field_error(path, where, f"image_id {iid} is not in images")
        if cid not in index_of:
            raise field_error(path, where, f"category_id {cid} is not in categories "
                                           f"(known: {', '.join(map(str, sorted(index_of)))})")
        is_crowd = bool(ann.get("iscrowd", 0))
        crowd += is_crowd
        label = IGNORE if is_crowd and not keep_crowd else index_of[cid]
        region = _segmentation_region(ann, label, path, where)
        if region is None and boxes != "skip":
            region = _box_region(ann, IGNORE if boxes == "ignore" else label)
            boxed += region is not None
        if region is not None:
            regions[iid].append(Region(region.label, region.kind, region.data, where=where))
        else:
            undrawn.append(where)
    if anns and len(undrawn) == len(anns):
        # CVAT's "COCO 1.0" export of box annotations: every label map would be background.
        raise DataprepError(path, f"none of its {len(anns)} annotations has a segmentation (polygons or RLE), "
                                  "only boxes: a detection export; export the polygons or masks instead, or "
                                  "--boxes ignore|class to draw the boxes")
    if undrawn:
        hint = "; --boxes ignore draws their boxes as ignore" if boxes == "skip" else ""
        plan.warnings.append(f"{len(undrawn)} of {len(anns)} annotations have no segmentation (a box only, or "
                             f"fewer than 3 points) and draw nothing, e.g. {undrawn[0]}{hint}")
    if boxed:
        plan.warnings.append(f"{boxed} annotations without a segmentation drawn as their box "
                             f"({'the ignore index' if boxes == 'ignore' else 'their class'}, --boxes {boxes})")
    locate = ImageLocator(path, images_dir, [img["file_name"] for img in images.values()])
    for iid, img in images.items():
        size = (img["width"], img["height"]) if img.get("width") and img.get("height") else None
        plan.entries.append(Entry(entry_id(img["file_name"]), locate(img["file_name"]), path, tuple(regions[iid]),
                                  size, f"image id {iid}", source_photo=_source_photo(img)))
    if note := locate.missing_note():
        plan.warnings.append(note)
    if crowd and not keep_crowd:
        plan.warnings.append(f"{crowd} crowd (iscrowd) regions written as the ignore index; --keep-crowd keeps "
                             "their category (CVAT's COCO export marks every mask shape iscrowd: pass it there)")
    return plan

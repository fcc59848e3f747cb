"""labelme JSON files (one per image), parsed directly: labelme itself is not a dependency.

Shapes are drawn as labelme's `shape_to_mask` draws them (PIL ImageDraw, float
vertices, outline included): polygon, rectangle, circle (centre + a point on the
rim), line and linestrip (`line_width` pixels wide), mask (labelme 5). Points
enclose no area and are left out with a warning.

Classes: from a `labels.txt` (labelme's convention: one name per line,
`__ignore__` -> the ignore index, `_background_` -> 0, the rest 1, 2, ... in
file order), else `_background_` 0 and the labels sorted by name (numbers by value), never in order of first
appearance: a train and a val folder imported apart must number their classes alike.

Instances (`--instances`), as labelme's `shapes_to_label`: shapes sharing a label
and a `group_id` are one instance (an object split by an occluder), every shape
without a `group_id` is its own; numbers 1, 2, ... in order of first appearance,
`__ignore__` shapes counted but drawn as 0 (no instance), as labelme2voc does.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from pathlib import Path
from typing import Any


from ..errors import DataprepError, UsageError
from ..io import IMAGE_EXTENSIONS, atomic_write_bytes, decode_gray_bytes, has_extension, identify_bytes
from ..paths import inside
from .base import IGNORE, NO_INSTANCE, ClassSpec, Entry, ImportPlan, Region, field_error, read_json, require

IGNORE_LABEL = "__ignore__"
BACKGROUND_LABEL = "_background_"
DEFAULT_LINE_WIDTH = 10  # labelme's shape_to_mask default
_POINTS_NEEDED = {"rectangle": 2, "circle": 2, "line": 2}
_FOUR_CORNERS = ("oriented_rectangle", "rotation")
_FORMAT_EXT = {"JPEG": ".jpg", "PNG": ".png", "BMP": ".bmp", "TIFF": ".tif", "WEBP": ".webp"}


def read_labels_txt(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DataprepError(path, "empty file: expected one class name per line")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataprepError(path, f"class {dupes[0]!r} is listed twice")
    non_ignore = [n for n in names if n != IGNORE_LABEL]
    if BACKGROUND_LABEL in non_ignore and non_ignore[0] != BACKGROUND_LABEL:
        raise DataprepError(path, f"{BACKGROUND_LABEL} must be the first class (index 0), "
                                  f"not #{non_ignore.index(BACKGROUND_LABEL)}")
    return names


def _number_by_name(plan: ImportPlan, found: dict[str, int]) -> dict[str, int]:
    """Renumber classes numbered as found into the order of their sorted names, and say so once: train and val
    exports imported one after the other then number alike, whichever label each meets first."""
    from .names import sort_names

    named = sort_names(n for n in found if n not in (BACKGROUND_LABEL, IGNORE_LABEL))
    index = {BACKGROUND_LABEL: 0, IGNORE_LABEL: IGNORE, **{n: i for i, n in enumerate(named, 1)}}
    new_of = {found[n]: index[n] for n in found}
    plan.entries = [replace(e, regions=tuple(replace(r, label=new_of[r.label]) for r in e.regions))
                    for e in plan.entries]
    if named:
        plan.warnings.append(f"no labels.txt: classes numbered by sorted name ({', '.join(named[:4])}"
                             f"{', ...' if len(named) > 4 else ''}); write one (--labels) for an order of your own")
    return index


def _shape_region(shape: Any, label: int, path: Path, where: str, line_width: int) -> Region | None:
    points = require(shape, "points", path, where, list)
    kind = shape.get("shape_type") or "polygon"
    try:
        pts = [(float(p[0]), float(p[1])) for p in points]
        if any(len(p) != 2 for p in points):
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise field_error(path, where, "points must be [[x, y], ...]") from None
    if kind in _FOUR_CORNERS or (kind == "rectangle" and len(pts) == 4):
        # labelme's oriented_rectangle, X-AnyLabeling's rotation, and its rectangles (all four corners): polygons
        if len(pts) != 4:
            raise field_error(path, where, f"a {kind} needs 4 points, got {len(pts)}")
        return Region(label, "pil_polygon", (pts, None))
    need = _POINTS_NEEDED.get(kind)
    if need is not None and len(pts) != need:
        raise field_error(path, where, f"a {kind} needs {need} points, got {len(pts)}")
    if kind == "polygon":
        if len(pts) < 3:
            raise field_error(path, where, f"a polygon needs at least 3 points, got {len(pts)}")
        return Region(label, "pil_polygon", (pts, None))
    if kind == "rectangle":
        return Region(label, "pil_rectangle", (pts, None))
    if kind == "circle":
        return Region(label, "pil_circle", (pts, None))
    if kind in ("line", "linestrip"):
        if len(pts) < 2:
            raise field_error(path, where, f"a {kind} needs at least 2 points, got {len(pts)}")
        return Region(label, "pil_line" if kind == "line" else "pil_linestrip", (pts, line_width))
    if kind == "mask":
        raw = require(shape, "mask", path, where, str)
        try:
            mask = decode_gray_bytes(base64.b64decode(raw), path) > 0
        except (binascii.Error, DataprepError, ValueError):
            raise field_error(path, where, "field 'mask' is not a base64 PNG") from None
        return Region(label, "pil_mask", (pts[:2], mask))
    if kind == "point":
        return None
    raise field_error(path, where, f"unknown shape_type {kind!r} (polygon, rectangle, oriented_rectangle, "
                                   "rotation, circle, line, linestrip, point, mask)")


def _image_for(path: Path, data: dict[str, Any], out_dir: Path, sid: str) -> tuple[Path, bool]:
    """The image file: `imagePath` beside the JSON, or `imageData` written out under out_dir/images/ (then
    True)."""
    image_path = data.get("imagePath")
    if image_path is not None and not isinstance(image_path, str):
        raise field_error(path, "", f"field 'imagePath' must be a file name, not {type(image_path).__name__} "
                                    f"{image_path!r:.40}")
    if image_path:
        candidate = path.parent / image_path.replace("\\", "/")
        # labelme's own apc2016_obj3.json names itself: an imagePath that is no image falls back to imageData too
        if candidate.is_file() and (has_extension(candidate.name, IMAGE_EXTENSIONS) or not data.get("imageData")):
            return candidate, False
    raw = data.get("imageData")
    if not raw:
        if image_path:
            raise DataprepError(path.parent / image_path, f"file not found (imagePath of {path}, and no imageData)")
        raise field_error(path, "", "missing field 'imagePath' (and no imageData)")
    try:
        blob = base64.b64decode(raw)
        ext = _FORMAT_EXT.get(identify_bytes(blob, path), ".png")
    except (binascii.Error, DataprepError, ValueError, TypeError):
        raise field_error(path, "", "field 'imageData' is not a base64-encoded image") from None
    target = inside(out_dir, "images", f"{sid}{ext}")
    atomic_write_bytes(target, blob)
    return target, True


def read_labelme(src: Path, out_dir: Path, *, labels_file: Path | None = None,
                 line_width: int = DEFAULT_LINE_WIDTH) -> ImportPlan:
    """Every `*.json` under `src` (a folder, or one file); ids are the JSON paths without extension."""
    src = Path(src)
    root = src.parent if src.is_file() else src
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*.json") if not p.name.startswith("."))
    if not files:
        raise UsageError(src, "no labelme .json files found")
    if labels_file is None and (root / "labels.txt").is_file():
        labels_file = root / "labels.txt"
    names = read_labels_txt(labels_file) if labels_file else None
    plan = ImportPlan("labelme", [], [])
    index: dict[str, int] = {}
    if names is not None:
        listed = [n for n in names if n != IGNORE_LABEL]
        if BACKGROUND_LABEL not in listed:
            listed.insert(0, BACKGROUND_LABEL)
        index = {n: i for i, n in enumerate(listed)}
        if IGNORE_LABEL in names:
            index[IGNORE_LABEL] = IGNORE
    else:
        index = {BACKGROUND_LABEL: 0, IGNORE_LABEL: IGNORE}
    points_skipped = 0
    missing: list[str] = []  # imagePaths naming no file, whose imageData was used
    parsed: list[tuple[Path, dict[str, Any], str, list[Region]]] = []
    for path in files:
        sid = path.relative_to(root).with_suffix("").as_posix()
        try:
            data = read_json(path)
            if not isinstance(data, dict):
                raise DataprepError(path, "not a labelme file: expected a JSON object with 'shapes'")
            shapes = require(data, "shapes", path, "", list)
            regions: list[Region] = []
            instance_keys: dict[tuple[str, Any], int] = {}
            for n, shape in enumerate(shapes):
                where = f"shapes[{n}]"
                label = require(shape, "label", path, where, str)
                if label not in index:
                    if names is not None:
                        raise field_error(path, where, f"label {label!r} is not in {labels_file}")
                    index[label] = max([v for v in index.values()] + [0]) + 1
                region = _shape_region(shape, index[label], path, where, line_width)
                if region is None:
                    points_skipped += 1
                    continue
                group = shape.get("group_id")
                if group is not None and not isinstance(group, (int, str)):  # labelme writes an int or null
                    raise field_error(path, where, f"field 'group_id' must be an integer or null, not "
                                                   f"{type(group).__name__} {group!r:.40}")
                key = (label, n if group is None else ("group", group))
                number = instance_keys.setdefault(key, len(instance_keys) + 1)
                regions.append(replace(region, instance=NO_INSTANCE if region.label == IGNORE else number))
            parsed.append((path, data, sid, regions))
        except DataprepError as exc:
            plan.errors.append(str(exc))
    if parsed and not points_skipped and not any(data.get("shapes") for _, data, _, _ in parsed):
        # labelme's classification example (flags, no shapes) gave all-background label maps, exit 0.
        flags = sum(1 for _, data, _, _ in parsed if data.get("flags"))
        what = f" ({flags} with flags: a classification project?)" if flags else ""
        raise DataprepError(src, f"none of the {len(parsed)} labelme files holds a shape{what}: nothing to draw")
    for path, data, sid, regions in parsed:  # the images after the checks: a refused import writes nothing
        try:
            w, h = data.get("imageWidth"), data.get("imageHeight")
            size = (w, h) if isinstance(w, int) and isinstance(h, int) else None
            image, embedded = _image_for(path, data, out_dir, sid)
            if embedded and data.get("imagePath"):
                missing.append(f"{data['imagePath']} (of {path})")
            plan.entries.append(Entry(sid, image, path, tuple(regions), size))
        except DataprepError as exc:
            plan.errors.append(str(exc))
    if names is None:
        index = _number_by_name(plan, index)
    ordered = sorted((v, k) for k, v in index.items() if v != IGNORE)
    plan.classes = [ClassSpec(name) for _, name in ordered]
    if points_skipped:
        plan.warnings.append(f"{points_skipped} point shapes left out (a point covers no area)")
    if missing:  # Vatsalparsaniya/Yolo-Segmentation-Chess: imagePath ..\\images\\17.png, made elsewhere
        plan.warnings.append(f"{len(missing)} imagePath(s) name no image file, e.g. {missing[0]}: the images "
                             "embedded in the JSON (imageData) were written to DEST/images/ and used instead")
    return plan

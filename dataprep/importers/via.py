"""VGG Image Annotator (VIA) exports: VIA 1/2 region JSON (`via_region_data.json`), VIA 2 projects, VIA 3 projects.

VIA 1/2: an object keyed by file name + byte size, each entry with `filename`,
`size` and `regions` (a list; VIA 1: an object keyed "0", "1", ...), each
region a `shape_attributes` (polygon, rect, circle, ellipse, polyline, point)
and `region_attributes`. A VIA 2 project wraps that in `_via_img_metadata` and
declares the attributes in `_via_attributes`. VIA 3 keeps files, views and
`metadata` (a shape as `xy`: [shape id, coordinates...]) apart, attribute
values as option ids.

VIA stores no image size; images are read for it, and an image whose byte size
is not the one the export recorded is reported (a resized or re-encoded copy
would be labelled with the original's coordinates).

Class: the region attribute named by `attribute`, else the only one the regions
fill in (copies holding the same value everywhere count as one); regions
without it are `class_name`, or an error when none is given. Without any
attribute every region is `class_name` (Matterport's balloon export has none). Shapes are drawn as labelme's: PIL, float vertices, outline
included. Polylines and points enclose no area and are left out with a warning.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataprepError, UsageError
from ..io import read_info
from .base import Entry, ImportPlan, Region, field_error, read_json, require
from .image_folders import find_images_dir
from .names import case_variants, class_index
from .raster import ellipse_region

NO_AREA = ("polyline", "point", "line")
_VIA3_SHAPES = {1: "point", 2: "rect", 3: "circle", 4: "ellipse", 5: "line", 6: "polyline", 7: "polygon",
                8: "extreme_rect", 9: "extreme_circle"}
_FILE_ANCHOR = "_XY0"  # VIA 3 attributes of the whole file (captions), not of its regions: FILE1_Z0_XY0


def _circumcentre(c: list[float]) -> tuple[float, float] | None:
    (ax, ay), (bx, by), (cx, cy) = (c[0], c[1]), (c[2], c[3]), (c[4], c[5])
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if abs(d) < 1e-12:
        return None
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    x = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    return x, (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d


@dataclass
class _Shape:
    kind: str
    data: Any
    attributes: dict[str, Any]
    where: str


@dataclass
class _Image:
    filename: str
    size: int | None  # bytes, as VIA recorded them
    shapes: list[_Shape]
    source: Path
    where: str
    error: str | None = None  # a region that could not be read: the image fails alone


@dataclass
class _Export:
    images: list[_Image] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)  # attribute -> option names, in the tool's order
    no_area: int = 0


def _number(shape: dict[str, Any], key: str, path: Path, where: str) -> float:
    return float(require(shape, key, path, where, (int, float)))


def _via2_shape(shape: Any, path: Path, where: str) -> tuple[str, Any] | None:
    name = require(shape, "name", path, where, str)
    if name in ("polygon", "polyline"):
        xs = require(shape, "all_points_x", path, where, list)
        ys = require(shape, "all_points_y", path, where, list)
        if len(xs) != len(ys) or not all(isinstance(v, (int, float)) for v in xs + ys):
            raise field_error(path, where, "all_points_x and all_points_y must be numbers of the same length")
        if name == "polyline":
            return None
        if len(xs) < 3:
            raise field_error(path, where, f"a polygon needs at least 3 points, got {len(xs)}")
        return "pil_polygon", ([(float(x), float(y)) for x, y in zip(xs, ys)], None)
    if name == "rect":
        x, y = _number(shape, "x", path, where), _number(shape, "y", path, where)
        w, h = _number(shape, "width", path, where), _number(shape, "height", path, where)
        return "pil_rectangle", ([(x, y), (x + w, y + h)], None)
    if name == "circle":
        cx, cy, r = (_number(shape, k, path, where) for k in ("cx", "cy", "r"))
        return ellipse_region(cx, cy, r, r, 0.0)
    if name == "ellipse":
        cx, cy, rx, ry = (_number(shape, k, path, where) for k in ("cx", "cy", "rx", "ry"))
        return ellipse_region(cx, cy, rx, ry, float(shape.get("theta") or 0.0))  # radians, VIA 2.0.5+
    if name == "point":
        return None
    raise field_error(path, where, f"unknown shape {name!r} (polygon, rect, circle, ellipse, polyline, point)")


def _regions_list(regions: Any, path: Path, where: str) -> list[Any]:
    if isinstance(regions, dict):  # VIA 1: {"0": {...}, "1": {...}}
        # Numbered keys in number order; any other key after them (mixed, int < str was a TypeError traceback).
        return [regions[k] for k in sorted(regions, key=lambda k: (0, int(k), "") if k.isdigit() else (1, 0, k))]
    if isinstance(regions, list):
        return regions
    raise field_error(path, where, f"field 'regions' must be a list or an object, not {type(regions).__name__}")


def _read_via2(metadata: dict[str, Any], path: Path, export: _Export) -> None:
    for key, record in metadata.items():
        where = f"{key!r}"
        filename = require(record, "filename", path, where, str)
        size = record.get("size")
        image = _Image(filename, size if isinstance(size, int) and size > 0 else None, [], path, where)
        try:
            for n, region in enumerate(_regions_list(record.get("regions") or [], path, where)):
                rwhere = f"{where} regions[{n}]"
                shape = require(region, "shape_attributes", path, rwhere, dict)
                attributes = region.get("region_attributes") or {}
                if not isinstance(attributes, dict):
                    raise field_error(path, rwhere, "field 'region_attributes' must be an object")
                parsed = _via2_shape(shape, path, rwhere)
                if parsed is None:
                    export.no_area += 1
                    continue
                image.shapes.append(_Shape(parsed[0], parsed[1], attributes, rwhere))
        except DataprepError as exc:
            image.error = str(exc)
        export.images.append(image)


def _via2_options(declared: Any) -> dict[str, list[str]]:
    """Option names of the dropdown/radio/checkbox region attributes of a VIA 2 project."""
    out: dict[str, list[str]] = {}
    region = declared.get("region") if isinstance(declared, dict) else None
    for name, spec in (region or {}).items():
        options = spec.get("options") if isinstance(spec, dict) else None
        if isinstance(options, dict) and options:
            out[name] = [str(k) for k in options]
    return out


def _via3_shape(xy: Any, path: Path, where: str) -> tuple[str, Any] | None:
    if not isinstance(xy, list) or not xy or not all(isinstance(v, (int, float)) for v in xy):
        raise field_error(path, where, "field 'xy' must be [shape id, coordinates...]")
    kind, c = _VIA3_SHAPES.get(int(xy[0])), [float(v) for v in xy[1:]]
    need = {"rect": 4, "circle": 3, "ellipse": 4, "extreme_rect": 8, "extreme_circle": 6}.get(kind or "")
    if kind is None:
        raise field_error(path, where, f"shape id {xy[0]} is not drawn (1-9: point, rect, circle, ellipse, "
                                       "line, polyline, polygon, extreme rectangle, extreme circle)")
    if kind in ("point", "line", "polyline"):
        return None
    if need is not None and len(c) < need:
        raise field_error(path, where, f"a {kind} needs {need} numbers, got {len(c)}")
    if kind == "extreme_rect":  # four points on the object's edges: their bounding box, as VIA draws it
        xs, ys = c[0::2], c[1::2]
        return "pil_rectangle", ([(min(xs), min(ys)), (max(xs), max(ys))], None)
    if kind == "extreme_circle":  # three points on the rim: the circle through them
        centre = _circumcentre(c[:6])
        if centre is None:
            raise field_error(path, where, "an extreme circle's three points lie on one line")
        r = math.hypot(c[0] - centre[0], c[1] - centre[1])
        return ellipse_region(centre[0], centre[1], r, r, 0.0)
    if kind == "rect":
        return "pil_rectangle", ([(c[0], c[1]), (c[0] + c[2], c[1] + c[3])], None)
    if kind == "circle":
        return ellipse_region(c[0], c[1], c[2], c[2], 0.0)
    if kind == "ellipse":
        return ellipse_region(c[0], c[1], c[2], c[3], 0.0)
    if len(c) % 2 or len(c) < 6:
        raise field_error(path, where, f"a polygon needs 3 or more x, y pairs, got {len(c)} numbers")
    return "pil_polygon", (list(zip(c[0::2], c[1::2])), None)


def _read_via3(data: dict[str, Any], path: Path, export: _Export) -> None:
    files = require(data, "file", path, "", dict)
    views = require(data, "view", path, "", dict)
    attributes = data.get("attribute") or {}
    if not isinstance(attributes, dict):  # each of these was an AttributeError traceback
        raise field_error(path, "", f"field 'attribute' must be an object, not {type(attributes).__name__}")
    for aid, a in attributes.items():
        if isinstance(a, dict) and not isinstance(a.get("options") or {}, dict):
            raise field_error(path, f"attribute {aid}", "field 'options' must be an object of option ids")
    names = {aid: str(a.get("aname", aid)) for aid, a in attributes.items() if isinstance(a, dict)}
    file_level = {aid for aid, a in attributes.items()
                  if isinstance(a, dict) and str(a.get("anchor_id", "")).endswith(_FILE_ANCHOR)}
    option_names = {aid: {str(k): str(v) for k, v in (a.get("options") or {}).items()}
                    for aid, a in attributes.items() if isinstance(a, dict)}
    export.options = {names[aid]: list(opts.values()) for aid, opts in option_names.items() if opts}
    by_view: dict[str, _Image] = {}
    for vid, view in views.items():
        fids = require(view, "fid_list", path, f"view {vid}", list)
        if len(fids) != 1:
            continue  # several files in one view: a video/audio annotation, not an image
        record = files.get(str(fids[0]))
        if not isinstance(record, dict):
            raise field_error(path, f"view {vid}", f"file {fids[0]} is not in 'file'")
        filename = require(record, "fname", path, f"file {fids[0]}", str)
        src = record.get("src")
        if isinstance(src, str) and src and not src.startswith("data:"):
            filename = src
        by_view[str(vid)] = _Image(filename, None, [], path, f"file {fids[0]} ({filename})")
    for mid, meta in (require(data, "metadata", path, "", dict)).items():
        where = f"metadata {mid}"
        if not isinstance(meta, dict) or not isinstance(meta.get("av") or {}, dict):
            raise field_error(path, where, "expected an object with 'vid', 'xy' and an 'av' object")
        if meta.get("z"):
            continue  # a temporal segment (video), not a region
        image = by_view.get(str(meta.get("vid")))
        if image is None:
            raise field_error(path, where, f"view {meta.get('vid')!r} is not in 'view'")
        if meta.get("xy") == []:
            continue  # file-level metadata (a caption): `metadata_add(vid, [], [], {...})`, no region
        try:
            parsed = _via3_shape(meta.get("xy"), path, where)
        except DataprepError as exc:
            image.error = image.error or str(exc)
            continue
        if parsed is None:
            export.no_area += 1
            continue
        values = {}
        for aid, value in (meta.get("av") or {}).items():
            if aid in file_level:
                continue  # the demo's regions carry the file's caption too: it names no class
            options = option_names.get(aid) or {}
            values[names.get(aid, aid)] = options.get(str(value), value)
        image.shapes.append(_Shape(parsed[0], parsed[1], values, where))
    export.images.extend(by_view.values())


def _parse(path: Path, data: Any) -> _Export | None:
    """The images of one VIA file, or None when the JSON is some other format."""
    export = _Export()
    if not isinstance(data, dict):
        return None
    if "_via_img_metadata" in data:
        _read_via2(require(data, "_via_img_metadata", path, "", dict), path, export)
        export.options = _via2_options(data.get("_via_attributes"))
    elif {"project", "file", "metadata"} <= data.keys():
        _read_via3(data, path, export)
    elif data and all(isinstance(v, dict) and "filename" in v and "regions" in v for v in data.values()):
        _read_via2(data, path, export)
    else:
        return None
    return export


def _filled(value: Any) -> bool:
    return value not in ("", None, {})


def _class_of(shape: _Shape, attribute: str | None, class_name: str | None, path: Path) -> str:
    value = shape.attributes.get(attribute) if attribute is not None else None
    if isinstance(value, dict):  # a checkbox attribute: {"option": true, ...}
        chosen = [k for k, v in value.items() if v]
        if len(chosen) > 1:
            raise field_error(path, shape.where, f"attribute {attribute!r} ticks {len(chosen)} options "
                                                 f"({', '.join(chosen)}): one class per region")
        value = chosen[0] if chosen else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if class_name is not None:
        return class_name
    raise field_error(path, shape.where, f"region has no {attribute!r} attribute (its class); --class-name names "
                                         "the class of such regions")


def _class_or_none(shape: _Shape, attribute: str | None, class_name: str | None, path: Path) -> str | None:
    """The class, or None where the region names none (reported with its image, not here)."""
    try:
        return _class_of(shape, attribute, class_name, path)
    except DataprepError:
        return None


def _pick_attribute(exports: list[_Export], attribute: str | None, src: Path) -> tuple[str | None, list[str]]:
    """The attribute naming each region's class (the one given, else the only one regions fill in), and notes.
    Attributes that hold the same value in every region (a renamed copy) count as one."""
    keys: dict[str, None] = {}
    rows: list[dict[str, Any]] = []
    for export in exports:
        for image in export.images:
            for shape in image.shapes:
                filled = {k: v for k, v in shape.attributes.items() if _filled(v)}
                keys.update(dict.fromkeys(filled))
                rows.append(filled)
    if attribute is not None:
        if attribute not in keys and keys:
            raise UsageError(src, f"no region has attribute {attribute!r}; they have: {', '.join(keys)}")
        return (attribute if keys else None), []
    names = list(keys)
    if len(names) > 1 and all(len({str(r.get(k)) for k in names}) == 1 for r in rows):
        return names[0], [f"region attributes {', '.join(names)} hold the same value in every region: "
                          f"{names[0]!r} is read as the class"]
    if len(names) > 1:
        raise UsageError(src, f"regions carry {len(names)} attributes ({', '.join(names)}): pass --attribute to say "
                              "which one is the class")
    return (names[0] if names else None), []


def _image_path(image: _Image, folder: Path) -> Path:
    name = image.filename.replace("\\", "/")
    if "://" in name:  # a URL: the downloaded copy is looked for by its file name
        name = name.rsplit("/", 1)[-1].split("?", 1)[0]
    return folder / name


def _not_the_file(image: Path, size: int) -> bool:
    """Whether the byte size VIA recorded says `image` is another file than the one annotated. Scripts that write
    VIA JSON by hand often put width x height there (a droplet-tracking set: 1310720 for every 1280x1024 image):
    that is no byte size and says nothing."""
    if os.path.getsize(image) == size:
        return False
    try:
        info = read_info(image)
    except DataprepError:
        return True  # the reading of the image itself reports what is wrong with it
    return info.width * info.height != size


def read_via(src: Path, *, images_dir: Path | None = None, attribute: str | None = None,
             class_name: str | None = None, labels_file: Path | None = None) -> ImportPlan:
    """A VIA JSON file, or every VIA JSON under a folder (ids then start with the JSON's folder: train/, val/)."""
    src = Path(src)
    root = src.parent if src.is_file() else src
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*.json") if not p.name.startswith("."))
    exports: list[tuple[Path, _Export]] = []
    others: list[Path] = []
    for path in files:
        export = _parse(path, read_json(path))
        if export is None:
            if src.is_file():
                raise DataprepError(path, "not a VIA export: expected via_region_data.json (file name + size keys), "
                                          "a VIA 2 project (_via_img_metadata) or a VIA 3 project")
            others.append(path)
        else:
            exports.append((path, export))
    if not exports:
        raise UsageError(src, "no VIA JSON files found (via_region_data.json, VIA 2 or 3 projects)")
    attribute, notes = _pick_attribute([e for _, e in exports], attribute, src)
    declared = next((e.options[attribute] for _, e in exports if attribute in e.options), None)
    fallback = class_name if attribute is not None else class_name or "foreground"
    found = {name for p, e in exports for i in e.images for s in i.shapes
             if (name := _class_or_none(s, attribute, fallback, p)) is not None}
    index, classes, closed = class_index(found, labels_file=labels_file, declared=declared)
    plan = ImportPlan("via", classes, [], warnings=notes)
    resized: list[str] = []
    for path, export in exports:
        folder = find_images_dir(path, images_dir, [_image_path(i, Path()).as_posix() for i in export.images])
        prefix = path.parent.relative_to(root).as_posix() if src.is_dir() else "."
        for image in export.images:
            if image.error:
                plan.errors.append(image.error)
                continue
            try:
                regions = []
                for shape in image.shapes:
                    name = _class_of(shape, attribute, fallback, path)
                    if name not in index:
                        listed = labels_file or f"the options of attribute {attribute!r}"
                        raise field_error(path, shape.where, f"class {name!r} is not in {listed}")
                    regions.append(Region(index[name], shape.kind, shape.data, where=shape.where))
                target = _image_path(image, folder)
                # filename "" was a ValueError traceback (the id of an empty name)
                if _image_path(image, Path()).name.strip() in ("", ".", ".."):
                    raise field_error(path, image.where, f"filename names no file: {image.filename!r}")
                sid = Path(prefix, _image_path(image, Path()).with_suffix("")).as_posix()
                if image.size is not None and target.is_file() and _not_the_file(target, image.size):
                    resized.append(f"{target} ({os.path.getsize(target)} bytes, the export says {image.size})")
                plan.entries.append(Entry(sid.removeprefix("./"), target, path, tuple(regions), None, image.where))
            except DataprepError as exc:
                plan.errors.append(str(exc))
    if not closed and attribute is not None and len(classes) > 2:
        plan.warnings.append(f"classes numbered in sorted order of attribute {attribute!r} "
                             f"({', '.join(c.name for c in classes[1:])}); --labels fixes another order")
    if clash := case_variants(c.name for c in classes):
        plan.warnings.append(clash)
    if resized:
        plan.warnings.append(f"{len(resized)} image(s) are not the file the export was made on (byte size differs; "
                             f"a resized copy gets the original's coordinates), e.g. {resized[0]}")
    if export_no_area := sum(e.no_area for _, e in exports):
        plan.warnings.append(f"{export_no_area} polyline/point regions left out (they enclose no area)")
    if others:
        plan.warnings.append(f"{len(others)} JSON file(s) under {src} are not VIA exports and were skipped, "
                             f"e.g. {others[0]}")
    return plan


__all__ = ["read_via"]

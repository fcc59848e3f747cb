"""Label Studio JSON exports: a list of tasks (the "JSON" export), one task per file, or a folder of those.

A task's `annotations[].result[]` holds its regions; coordinates are percent of
`original_width` x `original_height`:
- polygonlabels (`points`), rectanglelabels (`x, y, width, height`, `rotation`
  in degrees clockwise about the top-left corner), ellipselabels (centre `x, y`,
  `radiusX, radiusY`, `rotation`): drawn as labelme's, PIL with outline.
- brushlabels and magic-wand regions (`format: rle`): Label Studio's RLE of the
  anti-aliased RGBA canvas, alpha > 128 (`ls_rle.py`).
- polygon/rectangle/ellipse/brush results whose class comes from a separate
  `labels` result with the same `id` (a `<Labels>` tag shared by several tools).
- keypoints enclose no area (left out, counted); choices, text and ratings are not regions.

One annotation per image: the first that was not cancelled. Tasks without one
are not labelled yet and are left out (counted), never written as background;
`predictions` (model pre-annotations) are not labels and are not read.

Images: `data.image` (or the one image-like value of `data`). Uploads are
stored as `/data/upload/<project>/<8 hex>-<name>`; the file is looked for
under that name and under `<name>` in the images folder, as are URLs, cloud
storage keys and `/data/local-files/?d=<path>` (also under its path).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from ..errors import DataprepError, UsageError
from .base import Entry, ImportPlan, Region, field_error, read_json, require
from .image_folders import find_images_dir
from .names import case_variants, class_index
from .raster import ellipse_region

SHAPE_TYPES = ("polygon", "rectangle", "ellipse", "brush", "magicwand")
NO_AREA_TYPES = ("keypoint",)
_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")


@dataclass
class _Task:
    image: str
    results: list[Any]
    source: Path
    where: str


@dataclass
class _Counts:
    unlabelled: int = 0
    several: int = 0
    no_area: int = 0


def _image_value(data: Any, path: Path, where: str) -> str:
    if not isinstance(data, dict):
        raise field_error(path, where, "field 'data' must be an object")
    if isinstance(data.get("image"), str):
        return data["image"]
    found = [v for v in data.values() if isinstance(v, str) and
             Path(urlparse(v).path).suffix.lower() in _IMAGE_EXTS]
    if len(found) != 1:
        raise field_error(path, where, f"data has no 'image' and {len(found)} image-like values: "
                                       f"{', '.join(map(str, data))}")
    return found[0]


def _tasks(path: Path, data: Any, counts: _Counts) -> list[_Task]:
    if isinstance(data, dict) and "task" in data and "result" in data:  # one annotation per file (target storage)
        data = [{**data["task"], "annotations": [data]}]
    elif isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise DataprepError(path, "not a Label Studio export: expected a list of tasks with 'data' and 'annotations'")
    tasks = []
    for n, task, where in _merged_json_min(data, path):
        image = _image_value(require(task, "data", path, where), path, where)
        # Exports before Label Studio 1.0 name them `completions`; skipped tasks keep an empty annotation.
        listed = task.get("annotations") if "annotations" in task else task.get("completions")
        done = [a for a in listed or [] if isinstance(a, dict) and not a.get("was_cancelled") and not a.get("skipped")]
        if not done:
            counts.unlabelled += 1
            continue
        counts.several += len(done) > 1
        results = require(done[0], "result", path, where, list)
        tasks.append(_Task(image, results, path, where))
    return tasks


def _merged_json_min(data: list[dict[str, Any]], path: Path) -> list[tuple[int, dict[str, Any], str]]:
    """(position, task, where) of every task; JSON-MIN writes one record per annotation, so the records of one
    task id are one task with several annotations, as in the JSON export (refused as "listed twice")."""
    out: list[tuple[int, dict[str, Any], str]] = []
    by_id: dict[Any, dict[str, Any]] = {}
    for n, task in enumerate(data):
        where = f"task {task['id']}" if "id" in task else f"tasks[{n}]"
        if "annotations" in task or "completions" in task or "data" in task:
            out.append((n, task, where))
            continue
        converted = _from_json_min(task, path, where)
        key = (converted["id"], _image_value(converted["data"], path, where))
        same = by_id.get(key) if converted["id"] is not None else None
        if same is not None:  # in the JSON export's order: by annotation id
            same["annotations"] = sorted(same["annotations"] + converted["annotations"],
                                         key=lambda a: (a["id"] is None, a["id"] if isinstance(a["id"], int) else 0))
            continue
        by_id[key] = converted
        out.append((n, converted, where))
    return out


def _geometry_kind(item: dict[str, Any]) -> str | None:
    if "rle" in item:
        return "brush"
    if "points" in item:
        return "polygon"
    if "radiusX" in item:
        return "ellipse"
    if "width" in item and "height" in item and "x" in item:  # a keypoint has x, y and a width (its size)
        return "rectangle"
    if "x" in item and "y" in item:
        return "keypoint"
    return None


def _from_json_min(task: dict[str, Any], path: Path, where: str) -> dict[str, Any]:
    """A JSON-MIN task (one list per control, regions flattened, no ids) as a JSON one. A region listed under a
    tool without its class and again under the labels control with it (brush + Labels) is drawn once."""
    results: list[dict[str, Any]] = []
    for name, items in task.items():
        if not isinstance(items, list) or not all(isinstance(i, dict) and "original_width" in i for i in items):
            continue
        for item in items:
            kind = _geometry_kind(item)
            if kind is None:
                continue
            value = {k: v for k, v in item.items() if k not in ("original_width", "original_height")}
            results.append({"type": f"{kind}labels", "value": value, "from_name": name,
                            "original_width": item["original_width"], "original_height": item["original_height"]})
    if not results and not isinstance(task.get("image"), str):
        raise field_error(path, where, "not a Label Studio task: no 'data' or 'annotations', nor JSON-MIN regions")

    def kind_of(r: dict[str, Any]) -> str:
        return _kind(r) or ""

    def geometry(r: dict[str, Any]) -> str:
        return repr(sorted((k, v) for k, v in r["value"].items() if not k.endswith("labels")))

    labelled = {geometry(r) for r in results if _class_names(r, kind_of(r), {})}
    kept = [r for r in results if _class_names(r, kind_of(r), {}) or geometry(r) not in labelled]
    data = {k: v for k, v in task.items() if isinstance(v, str)}
    return {"id": task.get("id"), "data": data, "annotations": [{"result": kept, "id": task.get("annotation_id")}]}


def _class_names(item: dict[str, Any], kind: str, shared: dict[str, list[str]]) -> list[str]:
    value = item.get("value") or {}
    names = value.get(f"{kind}labels") or value.get("labels") or shared.get(str(item.get("id")))
    return [str(n) for n in names] if isinstance(names, list) else []


def _shape(item: dict[str, Any], kind: str, width: int, height: int, path: Path, where: str) -> tuple[str, Any]:
    value = require(item, "value", path, where, dict)
    if kind in ("brush", "magicwand"):
        if value.get("format", "rle") != "rle":
            raise field_error(path, where, f"brush format {value.get('format')!r} is not read (rle)")
        rle = require(value, "rle", path, where, list)
        return "ls_brush", rle
    if kind == "polygon":
        points = require(value, "points", path, where, list)
        try:
            pts = [(float(x) * width / 100, float(y) * height / 100) for x, y in points]
        except (TypeError, ValueError):
            raise field_error(path, where, "points must be [[x%, y%], ...]") from None
        if len(pts) < 3:
            raise field_error(path, where, f"a polygon needs at least 3 points, got {len(pts)}")
        return "pil_polygon", (pts, None)
    number = {k: float(require(value, k, path, where, (int, float)))
              for k in (("x", "y", "width", "height") if kind == "rectangle" else ("x", "y", "radiusX", "radiusY"))}
    rotation = value.get("rotation") or 0.0
    if isinstance(rotation, bool) or not isinstance(rotation, (int, float)) or not math.isfinite(rotation):
        raise field_error(path, where, f"field 'rotation' must be a number of degrees, not {rotation!r:.40}")
    theta = math.radians(rotation)
    x, y = number["x"] * width / 100, number["y"] * height / 100
    if kind == "ellipse":
        rx, ry = number["radiusX"] * width / 100, number["radiusY"] * height / 100
        return ellipse_region(x, y, rx, ry, theta)
    w, h = number["width"] * width / 100, number["height"] * height / 100
    if theta == 0:
        return "pil_rectangle", ([(x, y), (x + w, y + h)], None)
    c, s = math.cos(theta), math.sin(theta)
    corners = [(x + c * dx - s * dy, y + s * dx + c * dy) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]
    return "pil_polygon", (corners, None)


def _kind(item: dict[str, Any]) -> str | None:
    kind = str(item.get("type", ""))
    kind = kind[: -len("labels")] if kind.endswith("labels") else kind
    return kind if kind in SHAPE_TYPES or kind in NO_AREA_TYPES else None


def _size(task: _Task) -> tuple[int, int] | None:
    sizes = {(r.get("original_width"), r.get("original_height")) for r in task.results
             if isinstance(r, dict) and _kind(r) and r.get("original_width")}
    if len(sizes) > 1:
        raise field_error(task.source, task.where, f"results give {len(sizes)} different original sizes: "
                                                   f"{', '.join(f'{w}x{h}' for w, h in sorted(sizes))}")
    if not sizes:
        return None
    w, h = sizes.pop()
    if not isinstance(w, int) or not isinstance(h, int) or w <= 0 or h <= 0:
        raise field_error(task.source, task.where, f"original_width/original_height must be positive integers, "
                                                   f"not {w!r}/{h!r}")
    return w, h


def candidate_paths(image: str, folder: Path) -> list[Path]:
    """Where the file of a task's image may be: uploads and URLs by file name, with and without the upload
    prefix; local files by their path, then their name."""
    parsed = urlparse(image)
    if parsed.path.startswith("/data/local-files/"):
        rel = _local_file(parsed.query)
        return [folder / rel, Path("/") / rel, folder / Path(rel).name]
    name = unquote(Path(parsed.path).name)
    if parsed.scheme or parsed.path.startswith("/data/"):
        stripped = _UPLOAD_PREFIX.sub("", name)
        return [folder / name] + ([folder / stripped] if stripped != name else [])
    return [folder / image, folder / name]


def _local_file(query: str) -> str:
    """The path a `/data/local-files/?d=` URL names. Label Studio on Windows writes its folders with backslashes
    (`?d=kc01%5Cframe_000000.jpg`): the image was looked for as one file named `kc01\\frame_000000.jpg`."""
    return unquote(parse_qs(query).get("d", [""])[0]).replace("\\", "/")


def _locate(image: str, folder: Path) -> Path:
    candidates = candidate_paths(image, folder)
    return next((p for p in candidates if p.is_file()), candidates[-1])


def _entry_id(image: str, keep_prefix: bool = False) -> str:
    parsed = urlparse(image)
    if parsed.path.startswith("/data/local-files/"):
        return Path(_local_file(parsed.query)).with_suffix("").as_posix()
    name = unquote(Path(parsed.path).name)
    return Path(name if keep_prefix else _UPLOAD_PREFIX.sub("", name)).stem


def _distinct_ids(entries: list[Entry], images: list[str]) -> list[Entry]:
    """Ids without the upload prefix, except where two uploads of one file name would share one (two images
    uploaded as photo.png were refused as 'would both be written as labels/photo.png'): those keep it."""
    sources: dict[str, set[Path]] = {}
    for entry in entries:
        sources.setdefault(entry.id, set()).add(entry.image)
    return [replace(entry, id=_entry_id(image, keep_prefix=True)) if len(sources[entry.id]) > 1 else entry
            for entry, image in zip(entries, images)]


def read_label_studio(src: Path, *, images_dir: Path | None = None, labels_file: Path | None = None) -> ImportPlan:
    """A Label Studio JSON export (file), or every task JSON under a folder."""
    src = Path(src)
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*.json") if not p.name.startswith("."))
    if not files:
        raise UsageError(src, "no Label Studio .json files found")
    counts = _Counts()
    tasks = [t for path in files for t in _tasks(path, read_json(path), counts)]
    shared: dict[int, dict[str, list[str]]] = {}
    found: set[str] = set()
    for n, task in enumerate(tasks):
        shared[n] = {str(r.get("id")): r["value"]["labels"] for r in task.results if isinstance(r, dict)
                     and r.get("type") == "labels" and isinstance((r.get("value") or {}).get("labels"), list)}
        for r in task.results:
            if isinstance(r, dict) and _kind(r) in SHAPE_TYPES:
                found.update(_class_names(r, _kind(r) or "", shared[n]))
    index, classes, closed = class_index(found, labels_file=labels_file)
    plan = ImportPlan("label-studio", classes, [])
    folders: dict[Path, Path] = {}
    listed_images: list[str] = []
    for n, task in enumerate(tasks):
        try:
            size = _size(task)
            regions = []
            for k, item in enumerate(task.results):
                kind = _kind(item) if isinstance(item, dict) else None
                if kind is None:
                    continue
                where = f"{task.where} result[{k}]" + (f" (id {item['id']})" if "id" in item else "")
                if kind in NO_AREA_TYPES:
                    counts.no_area += 1
                    continue
                names = _class_names(item, kind, shared[n])
                if len(names) != 1:
                    raise field_error(task.source, where, f"a region needs one class label, it has {len(names)}"
                                                          + (f" ({', '.join(names)})" if names else ""))
                if names[0] not in index:
                    raise field_error(task.source, where, f"class {names[0]!r} is not in {labels_file}")
                if size is None:
                    raise field_error(task.source, where, "missing field 'original_width'")
                shape_kind, data = _shape(item, kind, size[0], size[1], task.source, where)
                regions.append(Region(index[names[0]], shape_kind, data, where=where))
            if task.source not in folders:
                listed = [t.image for t in tasks if t.source == task.source]
                folders[task.source] = find_images_dir(task.source, images_dir, listed, lambda folder, image: any(
                    p.is_file() for p in candidate_paths(image, folder)))
            image = _locate(task.image, folders[task.source])
            plan.entries.append(Entry(_entry_id(task.image), image, task.source, tuple(regions), size,
                                      f"{task.where} ({task.image})"))
            listed_images.append(task.image)
        except DataprepError as exc:
            plan.errors.append(str(exc))
    plan.entries = _distinct_ids(plan.entries, listed_images)
    if not closed and len(classes) > 2:
        plan.warnings.append(f"classes numbered in sorted order ({', '.join(c.name for c in classes[1:])}); "
                             "--labels fixes another order (e.g. the labeling config's)")
    if clash := case_variants(c.name for c in classes):
        plan.warnings.append(clash)
    if counts.unlabelled:
        plan.warnings.append(f"{counts.unlabelled} task(s) have no annotation (not labelled yet, or skipped) and "
                             "are left out")
    if counts.several:
        plan.warnings.append(f"{counts.several} task(s) have several annotations: the first of each is used")
    if counts.no_area:
        plan.warnings.append(f"{counts.no_area} keypoint regions left out (they enclose no area)")
    return plan


__all__ = ["read_label_studio", "candidate_paths"]

"""YOLO segmentation labels (ultralytics): `data.yaml` + one `labels/.../NAME.txt` per image.

Each line is `class x1 y1 x2 y2 ...` with coordinates normalized to 0..1; a line
of exactly 5 numbers is a box (`class cx cy w h`): it draws nothing unless `boxes` says to draw it as the
ignore index or its class, and an export of boxes alone is refused (a detection export). Polygons
are scaled to pixels, truncated to integers and filled with `cv2.fillPoly`, as
ultralytics' `polygon2mask` does. An image without a label file, or with an
empty one, is background (YOLO's convention).

Classes: background 0, then YOLO class c at index c + 1 (its `id` in palette.json is c); a class named
background is index 0 itself, the others following it in order.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import DataprepError, UsageError
from ..io import IMAGE_EXTENSIONS
from ..paths import walk_files
from .base import BOX_MODES, IGNORE, ClassSpec, Entry, ImportPlan, Region, field_error

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml")
NAMES_FILES = ("classes.txt", "obj.names")
SPLITS = ("train", "val", "test")
_TOLERANCE = 1e-6


def _find_yaml(src: Path) -> Path:
    if src.is_file():
        return src
    for name in YAML_NAMES + NAMES_FILES:
        if (src / name).is_file():
            return src / name
    raise UsageError(src, f"no {' / '.join(YAML_NAMES)} (nor {' / '.join(NAMES_FILES)} beside images/ and "
                          "labels/) here; give the dataset's YAML file")


def _names_file_data(path: Path) -> dict[str, Any]:
    """A YOLO export without a YAML (Label Studio's, Darknet's): class names one per line, images/ beside it."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataprepError(path, f"unreadable: {exc}") from None
    while lines and not lines[-1]:
        lines.pop()
    if "" in lines:  # Darknet numbers lines, blank ones too: dropping it would shift every later class
        raise DataprepError(path, f"line {lines.index('') + 1} is blank: name that class or remove the line")
    names = lines
    if not names:
        raise DataprepError(path, "empty file: expected one class name per line")
    if not (path.parent / "images").is_dir():
        raise DataprepError(path, "no images/ folder beside it")
    return {"names": names, "train": "images"}


def _names(data: dict[str, Any], path: Path) -> list[str]:
    names = data.get("names")
    if names is None:
        raise field_error(path, "", "missing field 'names'")
    if isinstance(names, list):
        return [str(n) for n in names]
    if isinstance(names, dict):
        try:
            keys = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise field_error(path, "", "field 'names' must map class numbers to names") from None
        if keys != list(range(len(keys))):
            raise field_error(path, "", f"field 'names' must number classes 0..{len(keys) - 1} without gaps")
        return [str(names[k] if k in names else names[str(k)]) for k in keys]
    raise field_error(path, "", f"field 'names' must be a list or a mapping, not {type(names).__name__}")


def _root(data: dict[str, Any], path: Path) -> Path:
    value = data.get("path")
    if not value:
        return path.parent
    if not isinstance(value, str):  # path: 5 was a TypeError traceback
        raise field_error(path, "", f"field 'path' must be a folder, not {value!r:.40}")
    root = Path(value)
    if not root.is_absolute():
        root = path.parent / root
    return root if root.is_dir() else path.parent


def _split_images(root: Path, value: Any, path: Path, split: str) -> list[Path]:
    values = value if isinstance(value, list) else [value]
    images: list[Path] = []
    for v in values:
        if not isinstance(v, str):
            raise field_error(path, "", f"field {split!r} must be a folder or a .txt list, not {v!r}")
        place = root / v
        if not place.exists() and v.startswith("../"):
            # Roboflow writes `train: ../train/images` beside the train/ folder; ultralytics drops the "../" then.
            place = root / v[3:]
        if place.is_dir():
            images += [place / rel for rel in walk_files(place, IMAGE_EXTENSIONS)]
        elif place.is_file() and place.suffix == ".txt":
            try:
                listed = place.read_text(encoding="utf-8-sig").splitlines()
            except (OSError, UnicodeDecodeError) as exc:  # was a traceback
                raise DataprepError(place, f"unreadable ({split!r} list in {path}): {exc}") from None
            for line in listed:
                line = line.strip()
                if line:
                    p = Path(line)
                    images.append(p if p.is_absolute() else (place.parent / p if line.startswith(".") else root / p))
        else:
            raise DataprepError(place, f"not found ({split!r} in {path})")
    return images


def label_file(image: Path) -> Path:
    """ultralytics' rule: the last `images` folder of the path becomes `labels`, the extension `.txt`."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def class_indices(names: list[str]) -> list[int]:
    """The label index of each YOLO class: c + 1, except that a class named background (masks converted to YOLO
    often list `Background` as class 0) is index 0 itself and the rest follow it in order, as COCO's and CVAT's
    background category do (a second background at index 1, trained apart from the unlabelled pixels, before)."""
    bg = next((i for i, n in enumerate(names) if n.strip().lower() in ("background", "_background_")), None)
    if bg is None:
        return [c + 1 for c in range(len(names))]
    return [0 if c == bg else c + (c < bg) for c in range(len(names))]


def parse_label_file(path: Path, num_classes: int, boxes: str = "skip",
                     indices: list[int] | None = None) -> tuple[list[Region], int]:
    """The regions of one label file and how many of its lines are boxes (`class cx cy w h`); `boxes` says what
    those draw: nothing (skip), the ignore index, or their class; `indices`: each class's label index (c + 1)."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Notepad) made line 1 "not numbers"
    except UnicodeDecodeError:
        raise DataprepError(path, "not a text file") from None
    regions: list[Region] = []
    box_lines = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"line {line_no}"
        try:
            cls = int(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise field_error(path, where, "expected 'class x1 y1 x2 y2 ...' (numbers)") from None
        if not all(map(math.isfinite, values)):
            # float() reads "nan" and "inf"; the range check below passes NaN, and cv2 drew it as INT_MIN.
            bad = next(v for v in fields[1:] if not math.isfinite(float(v)))
            raise field_error(path, where, f"coordinates must be finite numbers, got {bad!r}")
        if not 0 <= cls < num_classes:
            raise field_error(path, where, f"class {cls} is not in names (0..{num_classes - 1})")
        if len(values) < 4 or len(values) % 2:
            raise field_error(path, where, f"expected an even number (>= 6) of coordinates, got {len(values)}")
        if min(values) < -_TOLERANCE or max(values) > 1 + _TOLERANCE:
            outside = max(values) if max(values) > 1 else min(values)
            # Pixel coordinates are rarely all within 0..2; a value a little past 1 is a point outside the image.
            hint = " (pixel coordinates given?)" if max(values) > 2 else ""
            raise field_error(path, where, f"coordinates must be normalized to 0..1, got {outside:g}{hint}")
        label = indices[cls] if indices is not None else cls + 1
        if len(values) == 4:  # a detection box
            box_lines += 1
            if boxes == "skip":
                continue
            label = IGNORE if boxes == "ignore" else label
            cx, cy, w, h = values
            regions.append(Region(label, "norm_box", [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
            continue
        regions.append(Region(label, "cv2_polygon", values))
    return regions, box_lines


def read_yolo(src: Path, *, boxes: str = "skip") -> ImportPlan:
    """`boxes`: what box lines draw: nothing (skip: a segmentation export's polygons are what is asked for, and an
    export of boxes alone is refused), the ignore index, or their class (box supervision)."""
    import yaml  # on demand: only this importer reads YAML with PyYAML's own rules

    if boxes not in BOX_MODES:
        raise UsageError(None, f"--boxes must be one of {', '.join(BOX_MODES)}, not {boxes!r}")

    path = _find_yaml(Path(src))
    if path.name in NAMES_FILES:
        data: Any = _names_file_data(path)
    else:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DataprepError(path, f"not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise DataprepError(path, "empty file" if data is None else "expected a mapping with names and train/val")
    names = _names(data, path)
    root = _root(data, path)
    indices = class_indices(names)
    specs = [ClassSpec("background")] + [ClassSpec(n, None, i) for i, n in enumerate(names)]
    if 0 in indices:  # the export's own background class is index 0, with its name and id
        specs = [specs[1:][indices.index(0)]] + [s for s, i in zip(specs[1:], indices) if i != 0]
    plan = ImportPlan("yolo", specs, [])
    splits = [s for s in SPLITS if data.get(s)]
    if not splits:
        raise field_error(path, "", "no 'train', 'val' or 'test' field")
    missing = empty = box_lines = lines = 0
    first_box: Path | None = None
    seen: set[Path] = set()
    for split in splits:
        for image in _split_images(root, data[split], path, split):
            if image in seen:
                continue
            seen.add(image)
            sid = Path(os.path.relpath(image, root)).with_suffix("").as_posix()
            lbl = label_file(image)
            try:
                regions, boxed = parse_label_file(lbl, len(names), boxes, indices) if lbl.is_file() else ([], 0)
            except DataprepError as exc:
                plan.errors.append(str(exc))
                continue
            missing += not lbl.is_file()
            empty += lbl.is_file() and not regions and not boxed
            box_lines += boxed
            lines += len(regions) + (boxed if boxes == "skip" else 0)  # skipped boxes are not among the regions
            first_box = first_box or (lbl if boxed else None)
            plan.entries.append(Entry(sid, image, lbl, tuple(regions), split=split))
    if box_lines and box_lines == lines and boxes == "skip":
        raise DataprepError(path, f"its {box_lines} label lines are boxes (class cx cy w h), no polygon: a detection "
                                  "export; export segmentation polygons, or --boxes ignore|class to draw the boxes")
    if box_lines:  # 2024uce0062-sys/crack-detection-ai: 15,241 boxes beside 2 polygons had filled 44% as "crack"
        drawn = {"skip": "draw nothing (ultralytics reads them as 2-point polygons in a segmentation set)",
                 "ignore": "drawn as the ignore index", "class": "drawn as their class"}[boxes]
        hint = "; --boxes ignore|class draws them" if boxes == "skip" else ""
        plan.warnings.append(f"{box_lines} of {lines} label lines are boxes (class cx cy w h), e.g. in {first_box}: "
                             f"{drawn}{hint}")
    if missing or empty:
        plan.warnings.append(f"{missing + empty} images have no label file ({missing}) or an empty one ({empty}) and "
                             "are background")
    return plan

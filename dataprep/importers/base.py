"""What every importer hands to the shared writer: classes, images and the regions drawn on them.

A format module only parses: it turns an export into an `ImportPlan` (the class
list and one `Entry` per image, each with its `Region`s in the order the tool
lists them). Rasterizing, overlap handling, size checks and writing are shared
(`raster.py`, `paint.py`, `run.py`), so every format gets the same options and
the same error messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataprepError, UsageError
from ..palette import Colour, Palette, PaletteClass, voc_colormap

IGNORE = -1  # a region's label when its pixels are to be ignored (crowd, __ignore__); the writer maps it


NO_INSTANCE = -1  # Region.instance of a shape that is no object (labelme __ignore__): 0 in the instance map


# COCO annotations with a box and no segmentation: draw nothing, the box as ignore, or the box as the class.
BOX_MODES: tuple[str, ...] = ("skip", "ignore", "class")

# Kaggle run-length CSVs: pixels numbered down each column, or along each row.
RLE_ORDERS: tuple[str, ...] = ("column", "row")


@dataclass(frozen=True)
class Region:
    """One annotated shape of one image.

    `kind` names the rasterizer (see `raster.RASTERIZERS`), `data` is what it
    needs (points, an RLE, a mask file); `label` is a class index or IGNORE;
    `z` is the tool's drawing order key (CVAT z_order), `instance` a 1-based
    instance number for instance maps (0: one of its own, by position;
    NO_INSTANCE: none, drawn as 0).
    """

    label: int
    kind: str
    data: Any
    z: int = 0
    instance: int = 0
    where: str = ""  # the shape's place in the export (e.g. "annotations[4] (id 5)"), for messages


@dataclass(frozen=True)
class Entry:
    """One image: its file, the size the annotation states (or None) and its regions in file order."""

    id: str
    image: Path
    source: Path  # the annotation file, named in messages
    regions: tuple[Region, ...]
    size: tuple[int, int] | None = None  # (width, height) as the annotation states it
    where: str = ""  # e.g. "image id 12": locates the entry inside a shared annotation file
    split: str | None = None  # train/val/test as the export says it (YOLO's data.yaml); else read from the id
    # The photo this image is a copy of, as the export records it (Roboflow's COCO `extra.name`); else the
    # writer reads it from a Roboflow file name (copies.py), so every format's copies share a group.
    source_photo: str | None = None


@dataclass(frozen=True)
class ClassSpec:
    name: str
    color: Colour | None = None  # from the source, when it has colours
    id: int | None = None  # the source's own id (COCO category_id), kept in palette.json


@dataclass
class ImportPlan:
    """A parsed export: classes (index = position, unless `background` shifts them) and entries."""

    format: str
    classes: list[ClassSpec]  # training indices 0..K-1 in this order
    entries: list[Entry]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # entries that could not be parsed (file: reason)
    ignore_name: str = "ignore"

    def palette(self, ignore_index: int | None = None) -> Palette:
        """The label maps' palette: source colours where given, else the VOC colormap entry of the index."""
        k = len(self.classes)
        if ignore_index is None:
            ignore_index = 255 if k <= 255 else 65535
        if ignore_index < k:
            raise UsageError(None, f"ignore index {ignore_index} is the index of class "
                                      f"{self.classes[ignore_index].name!r}; pick one >= {k}")
        cmap = [tuple(int(v) for v in row) for row in voc_colormap(256)]
        used: set[Colour] = {cmap[255]} if ignore_index == 255 else set()
        spare = iter(cmap[1:255])
        classes: list[PaletteClass] = []
        for index, spec in enumerate(self.classes):
            if spec.color is not None and spec.color in used:
                self.warnings.append(f"class {spec.name!r}: colour {spec.color} is already taken; "
                                     "palette.json gives it another")
            candidates = [spec.color] if spec.color is not None else []
            if index < 255:
                candidates.append(cmap[index])
            colour = next((c for c in candidates if c not in used), None)
            while colour is None or colour in used:
                colour = next(spare, None)
                if colour is None:
                    break  # more than 254 classes: the rest have no colour (16-bit maps carry none anyway)
            if colour is not None:
                used.add(colour)
            classes.append(PaletteClass(spec.name, colour, index, id=spec.id))
        ignore_colour = cmap[255] if ignore_index == 255 or cmap[255] not in used else None
        classes.append(PaletteClass(self.ignore_name, ignore_colour, ignore_index, ignore=True))
        return Palette(self.format, tuple(classes), ignore_index)


def field_error(path: Path | str, where: str, message: str) -> DataprepError:
    """`FILE: WHERE: MESSAGE`, the one line every format reports a malformed field with."""
    return DataprepError(path, f"{where}: {message}" if where else message)


def require(record: Any, key: str, path: Path | str, where: str, types: type | tuple[type, ...] | None = None) -> Any:
    """`record[key]`, or an error naming the file, the record and the field."""
    if not isinstance(record, dict):
        raise field_error(path, where, f"expected an object, got {type(record).__name__}")
    if key not in record or record[key] is None:
        raise field_error(path, where, f"missing field {key!r}")
    value = record[key]
    if types is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types)):
        names = "/".join(t.__name__ for t in _tuple(types))
        raise field_error(path, where, f"field {key!r} must be {names}, not {type(value).__name__} {value!r:.40}")
    return value


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def read_json(path: Path) -> Any:
    """Parse a JSON file; empty, unreadable or invalid files are one-line errors naming it."""
    import json

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataprepError(path, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataprepError(path, f"unreadable: {exc}") from None
    if not text.strip():
        raise DataprepError(path, "empty file")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DataprepError(path, f"not valid JSON: {exc}") from None

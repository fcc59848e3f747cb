"""Palettes: which mask colour (or stored value) means which class index.

A palette is a list of classes, each with a name, an RGB colour, the training
index its pixels get, and an ignore flag; plus the palette's ignore index. Several
classes may share an index (grouping, e.g. CamVid's 32 classes into 11), but one
colour can mean only one index.

File schema (JSON or YAML; `palette.json` beside a manifest describes its masks):

    {"name": "streets", "ignore_index": 255,
     "classes": [{"name": "sky",  "color": [70, 130, 180], "index": 0},
                 {"name": "void", "color": [0, 0, 0], "index": 255, "ignore": true}]}

Optional per class: `"id"`, the value the class has in *index* masks when that
differs from `index` (Cityscapes labelIds, SegNet CamVid's void 11); it is used
only when asked for (`--remap ids`). CSV files (e.g. `class_dict.csv`) need a
header with `name` and `r,g,b` (or `color` as `#rrggbb`), optionally `index`,
`id` and `ignore` columns; without `index` the row order gives the index.

Built-ins, selectable by name: `voc`, `cityscapes`, `camvid`, `camvid11`.

Colours are looked up through packed 24-bit keys (`r | g << 8 | b << 16`, the
bytes of an RGBA pixel with alpha zeroed read as a little-endian uint32), so a
whole mask maps through one table gather instead of a loop over classes.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from .errors import DataprepError, UsageError
from .io import PathLike, atomic_write_text
from .sample import DEFAULT_IGNORE_INDEX
from .strict_load import load_json, load_yaml

Colour = tuple[int, int, int]
MAX_INDEX = 65535
PALETTE_FILENAMES = ("palette.json", "palette.yaml", "palette.yml")


# --------------------------------------------------------------------------- the palette type


@dataclass(frozen=True)
class PaletteClass:
    name: str
    color: Colour | None  # None: reachable only through `id` (its colour belongs to another class)
    index: int  # training index written to label maps
    ignore: bool = False
    id: int | None = None  # value in index masks, when it differs from `index`

    def __post_init__(self) -> None:
        if self.color is not None and not isinstance(self.color, tuple):  # e.g. a list from JSON
            object.__setattr__(self, "color", tuple(self.color))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "color": list(self.color) if self.color else None, "index": self.index}
        if self.ignore:
            out["ignore"] = True
        if self.id is not None:
            out["id"] = self.id
        return out


@dataclass(frozen=True)
class Palette:
    """Classes with colours and indices; validated on creation (raises DataprepError)."""

    name: str
    classes: tuple[PaletteClass, ...]
    ignore_index: int = DEFAULT_IGNORE_INDEX
    source: str | None = field(default=None, compare=False)  # file or built-in name, for messages

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        _validate(self)

    # ---- what downstream code needs

    @property
    def num_classes(self) -> int:
        """Largest non-ignore index + 1 (indices need not be contiguous)."""
        indices = [c.index for c in self.classes if not c.ignore]
        return max(indices) + 1 if indices else 0

    @property
    def names(self) -> list[str]:
        """One name per index 0..num_classes-1: the first class listed with that index."""
        first: dict[int, str] = {}
        for c in self.classes:
            if not c.ignore:
                first.setdefault(c.index, c.name)
        return [first.get(i, f"class_{i}") for i in range(self.num_classes)]

    @property
    def max_value(self) -> int:
        """Largest value a label map can hold: the last class index or the ignore index."""
        return max(self.num_classes - 1, self.ignore_index)

    @property
    def label_dtype(self) -> type[np.unsignedinteger]:
        return np.uint8 if self.max_value <= 255 else np.uint16

    @cached_property
    def valid_values(self) -> frozenset[int]:
        """Values a label map made with this palette may contain."""
        return frozenset({c.index for c in self.classes} | {self.ignore_index})

    def colour_to_index(self) -> dict[Colour, int]:
        return {c.color: c.index for c in self.classes if c.color is not None}

    def index_colours(self) -> dict[int, Colour]:
        """index -> the colour of the first class listed with it (what label maps are drawn with)."""
        out: dict[int, Colour] = {}
        for c in self.classes:
            if c.color is not None:
                out.setdefault(c.index, c.color)
        return out

    def colour_table(self, size: int | None = None) -> np.ndarray:
        """(size, 3) uint8 table index -> colour; indices without a colour are black."""
        size = size or self.max_value + 1
        table = np.zeros((size, 3), np.uint8)
        for index, colour in self.index_colours().items():
            if index < size:
                table[index] = colour
        return table

    def ids(self) -> dict[int, int]:
        """Index-mask value -> index, for classes that declare an `id`."""
        return {c.id: c.index for c in self.classes if c.id is not None}

    # ---- derived palettes

    def with_ignore_index(self, ignore_index: int) -> "Palette":
        """The same palette with ignored classes moved to `ignore_index`."""
        if ignore_index == self.ignore_index:
            return self
        clash = [c.name for c in self.classes if not c.ignore and c.index == ignore_index]
        if clash:
            raise UsageError(None, f"ignore index {ignore_index} is the index of class {clash[0]!r} in palette {self.name!r}")
        classes = tuple(replace(c, index=ignore_index) if c.ignore else c for c in self.classes)
        return Palette(self.name, classes, ignore_index, self.source)

    def label_palette(self) -> "Palette":
        """The palette of label maps made with this one: one class per index 0..K-1, then the ignore entry.

        This is what `masks2labels` writes beside its outputs, so readers that
        expect one entry per index (names, num_classes, colours) need no grouping logic.
        """
        first: dict[int, PaletteClass] = {}
        for c in self.classes:
            if not c.ignore:
                first.setdefault(c.index, c)
        used = {c.color for c in self.classes if c.color is not None}
        spare = _spare_colours(used, self.source or self.name)
        classes: list[PaletteClass] = []
        for i in range(self.num_classes):
            c = first.get(i)
            if c is None:  # a gap in the indices: keep num_classes == number of entries
                classes.append(PaletteClass(f"class_{i}", next(spare), i))
            else:
                colour = c.color or self.index_colours().get(i) or next(spare)
                classes.append(PaletteClass(c.name, colour, i))
        ignored = [c for c in self.classes if c.ignore]
        ignore_name = ignored[0].name if ignored else "ignore"
        ignore_colour = next((c.color for c in ignored if c.color is not None), None)
        if ignore_colour is None:
            ignore_colour = (0, 0, 0) if (0, 0, 0) not in used else next(spare)
        classes.append(PaletteClass(ignore_name, ignore_colour, self.ignore_index, ignore=True))
        return Palette(self.name, tuple(classes), self.ignore_index, self.source)

    # ---- serialisation

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ignore_index": self.ignore_index, "classes": [c.to_dict() for c in self.classes]}

    def to_json(self) -> str:
        # One class per line: easy to read and to edit by hand.
        lines = ",\n".join("    " + json.dumps(c.to_dict()) for c in self.classes)
        head = f'{{\n  "name": {json.dumps(self.name)},\n  "ignore_index": {self.ignore_index},\n  "classes": [\n'
        return head + lines + "\n  ]\n}\n"

    def save(self, path: PathLike) -> Path:
        path = Path(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))
        else:
            atomic_write_text(path, self.to_json())
        return path

    @cached_property
    def fingerprint(self) -> str:
        """Short hash of the palette's content (names, colours, indices, ids)."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def _validate(p: Palette) -> None:
    where = p.source or p.name
    if not isinstance(p.ignore_index, int) or not 0 <= p.ignore_index <= MAX_INDEX:
        raise DataprepError(where, f"ignore_index must be an integer in 0..{MAX_INDEX}, not {p.ignore_index!r}")
    by_colour: dict[Colour, PaletteClass] = {}
    by_id: dict[int, PaletteClass] = {}
    for c in p.classes:
        if not c.name:
            raise DataprepError(where, "a class has an empty name")
        if not isinstance(c.index, int) or not 0 <= c.index <= MAX_INDEX:
            raise DataprepError(where, f"class {c.name!r}: index must be an integer in 0..{MAX_INDEX}, not {c.index!r}")
        if c.ignore and c.index != p.ignore_index:
            raise DataprepError(where, f"class {c.name!r} is marked ignore but has index {c.index}, "
                                       f"not the ignore_index {p.ignore_index}")
        if not c.ignore and c.index == p.ignore_index:
            raise DataprepError(where, f"class {c.name!r} has the ignore index {c.index} but is not marked ignore")
        if c.color is not None:
            if len(c.color) != 3 or not all(isinstance(v, int) and 0 <= v <= 255 for v in c.color):
                raise DataprepError(where, f"class {c.name!r}: colour must be three integers 0..255, not {c.color!r}")
            other = by_colour.setdefault(c.color, c)
            if other.index != c.index:
                raise DataprepError(where, f"colour {_fmt_colour(c.color)} is given to both {other.name!r} "
                                           f"(index {other.index}) and {c.name!r} (index {c.index})")
        if c.id is not None:
            other = by_id.setdefault(c.id, c)
            if other.index != c.index:
                raise DataprepError(where, f"id {c.id} is given to both {other.name!r} (index {other.index}) "
                                           f"and {c.name!r} (index {c.index})")


def _spare_colours(used: set[Colour], where: str | None = None) -> Iterable[Colour]:
    """Colours for entries that have none: VOC colormap entries not already taken.

    The colormap gives 2^24 distinct colours (its bit interleaving continues past
    index 255), so palettes of thousands of classes get one each.
    """
    for start in range(1, 1 << 24, 4096):
        for row in _voc_rows(np.arange(start, min(start + 4096, 1 << 24), dtype=np.int64)):
            colour = (int(row[0]), int(row[1]), int(row[2]))
            if colour not in used:
                used.add(colour)
                yield colour
    raise DataprepError(where, "no spare colour left for a palette entry")  # pragma: no cover - 2^24 colours taken


def _fmt_colour(colour: Sequence[int]) -> str:
    return "({},{},{})".format(*colour)


# --------------------------------------------------------------------------- packed colour keys


def colour_key(colour: Sequence[int]) -> int:
    """The packed key of one colour (same layout as `pack_rgb`)."""
    r, g, b = (int(v) for v in colour[:3])
    return r | (g << 8) | (b << 16)


def unpack_key(key: int) -> Colour:
    key = int(key)
    return (key & 255, (key >> 8) & 255, (key >> 16) & 255)


def pack_rgb(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3|4) uint8 -> ((H, W) uint32 keys, alpha == 0 mask or None for RGB).

    One SIMD colour conversion plus an in-place AND, then a free uint32 view:
    far cheaper than shifting three widened channels.
    """
    if mask.dtype != np.uint8 or mask.ndim != 3 or mask.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3|4) uint8 colour mask, got {mask.dtype} {mask.shape}")
    if sys.byteorder != "little":  # pragma: no cover - every platform we ship on is little-endian
        m = mask.astype(np.uint32)
        keys = m[..., 0] | (m[..., 1] << 8) | (m[..., 2] << 16)
        return keys, (mask[..., 3] == 0) if mask.shape[2] == 4 else None
    transparent = None
    if mask.shape[2] == 3:
        rgba = cv2.cvtColor(np.ascontiguousarray(mask), cv2.COLOR_RGB2RGBA)
    else:
        rgba = np.array(mask, copy=True, order="C")
        transparent = rgba[..., 3] == 0
    keys = rgba.view(np.uint32)[..., 0]
    np.bitwise_and(keys, 0xFFFFFF, out=keys)
    return keys, transparent


# --------------------------------------------------------------------------- loading


def load_palette(source: "Palette | PathLike | Mapping[str, Any]") -> Palette:
    """A palette from a file (.json/.yaml/.yml/.csv), a built-in name, a dict, or a Palette (returned as is)."""
    if isinstance(source, Palette):
        return source
    if isinstance(source, Mapping):
        return palette_from_dict(source)
    text = os.fspath(source)
    path = Path(text)
    if path.is_file():
        return palette_from_file(path)
    if text.lower() in BUILTIN_PALETTES:
        return builtin_palette(text.lower())
    if path.suffix or os.sep in text or "/" in text:
        raise UsageError(path, "palette file not found")
    raise UsageError(None, f"no palette file {text!r} and no built-in palette of that name "
                           f"(built-ins: {', '.join(BUILTIN_PALETTES)})")


def palette_from_file(path: PathLike) -> Palette:
    path = Path(path)
    ext = path.suffix.lower()
    try:
        if ext == ".csv":
            return _palette_from_csv(path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataprepError(path, "palette file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataprepError(path, f"unreadable palette: {exc}") from None
    try:
        data = load_json(text) if ext == ".json" else load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise DataprepError(path, f"not a palette file: {str(exc).splitlines()[0]}") from None
    return palette_from_dict(data, source=str(path), default_name=path.stem)


def palette_from_dict(data: Any, *, source: str | None = None, default_name: str = "palette") -> Palette:
    """Build from the JSON/YAML schema; a bare list of classes is accepted too."""
    where = source or default_name
    if isinstance(data, list):
        data = {"classes": data}
    if not isinstance(data, Mapping) or not isinstance(data.get("classes"), list):
        raise DataprepError(where, 'not a palette: expected {"classes": [...]} (see docs/labels.md)')
    try:
        ignore_index = int(data.get("ignore_index", DEFAULT_IGNORE_INDEX))
    except (TypeError, ValueError):
        raise DataprepError(where, f"ignore_index must be an integer, not {data.get('ignore_index')!r}") from None
    classes = []
    for n, entry in enumerate(data["classes"]):
        if not isinstance(entry, Mapping):
            raise DataprepError(where, f"class #{n}: expected a mapping with name/color/index, got {entry!r}")
        try:
            classes.append(_class_from_fields(entry, n, ignore_index))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataprepError(where, f"class #{n} ({entry.get('name', '?')}): {exc}") from None
    return Palette(str(data.get("name") or default_name), tuple(classes), ignore_index, source)


def _class_from_fields(entry: Mapping[str, Any], position: int, ignore_index: int) -> PaletteClass:
    # Supervisely (meta.json / classes.json) names a class `title`; its `id` is a database key, not a mask value.
    supervisely = "name" not in entry and "title" in entry
    name = str(entry.get("name", entry.get("title", f"class_{position}")))
    raw_colour = entry.get("color", entry.get("colour"))
    colour = None if raw_colour is None else _parse_colour(raw_colour)
    ignore = _truthy(entry.get("ignore", False))
    raw_index = entry.get("index", entry.get("train_id", entry.get("trainId")))
    if raw_index is None or raw_index == "":
        index = ignore_index if ignore else position
    else:
        index = int(raw_index)
    if index == ignore_index:
        ignore = True
    raw_id = None if supervisely else entry.get("id")
    return PaletteClass(name, colour, index, ignore, None if raw_id in (None, "") else int(raw_id))


def _parse_colour(value: Any) -> Colour:
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) == 6 and all(ch in "0123456789abcdefABCDEF" for ch in text):
            return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
        parts = text.replace(",", " ").split()
        value = parts
    values = [int(v) for v in value]
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"colour must be [r, g, b] with values 0..255 or '#rrggbb', not {value!r}")
    return (values[0], values[1], values[2])


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y")
    return bool(value)


_CSV_ALIASES = {
    "name": ("name", "class", "class_name", "label", "label_name"),
    "r": ("r", "red"),
    "g": ("g", "green"),
    "b": ("b", "blue"),
    "color": ("color", "colour", "hex", "rgb"),
    "index": ("index", "train_id", "trainid", "class_index", "label_index"),
    "id": ("id",),
    "ignore": ("ignore", "ignored", "void"),
}


def _palette_from_csv(path: Path) -> Palette:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DataprepError(path, "empty palette CSV")
    header = [h.strip().lower() for h in rows[0]]
    columns: dict[str, int] = {}
    for key, aliases in _CSV_ALIASES.items():
        for alias in aliases:
            if alias in header:
                columns[key] = header.index(alias)
                break
    has_rgb = all(k in columns for k in "rgb")
    if "name" not in columns or not (has_rgb or "color" in columns):
        raise DataprepError(path, f"palette CSV needs a header with name and r,g,b (or color); got {rows[0]}")
    entries = []
    for line_no, row in enumerate(rows[1:], start=2):
        def cell(key: str) -> str | None:
            i = columns.get(key)
            return row[i].strip() if i is not None and i < len(row) else None

        entry: dict[str, Any] = {"name": cell("name")}
        entry["color"] = [cell("r"), cell("g"), cell("b")] if has_rgb else cell("color")
        for key in ("index", "id", "ignore"):
            if cell(key):
                entry[key] = cell(key)
        entries.append(entry)
    try:
        return palette_from_dict({"name": path.stem, "classes": entries}, source=str(path), default_name=path.stem)
    except DataprepError as exc:
        raise DataprepError(path, exc.reason) from None


def find_palette(folder: PathLike) -> Path | None:
    """The palette file a folder carries (`palette.json`, `.yaml` or `.yml`), or None."""
    for name in PALETTE_FILENAMES:
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def resolve_palette(option: "Palette | PathLike | None", manifest_path: PathLike | None = None) -> Palette | None:
    """`--palette` if given, else the palette file beside the manifest (or in the folder), else None."""
    if option is not None:
        return load_palette(option)
    if manifest_path is None:
        return None
    place = Path(manifest_path)
    found = find_palette(place if place.is_dir() else place.parent)
    return palette_from_file(found) if found else None


# --------------------------------------------------------------------------- built-ins


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colormap: the bits of each index spread over R, G, B from the top bit down."""
    return _voc_rows(np.arange(n, dtype=np.int64))


def _voc_rows(index: np.ndarray) -> np.ndarray:
    cmap = np.zeros((len(index), 3), np.int64)
    for level in range(8):
        for channel in range(3):
            bit = (index >> (3 * level + channel)) & 1
            cmap[:, channel] |= bit << (7 - level)
    return cmap.astype(np.uint8)


VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def _voc() -> Palette:
    cmap = voc_colormap(256)
    classes = [PaletteClass(name, _colour(cmap[i]), i) for i, name in enumerate(VOC_CLASSES)]
    # 255 is the "boundary / difficult" band, drawn (224, 224, 192).
    classes.append(PaletteClass("boundary", _colour(cmap[255]), 255, ignore=True))
    return Palette("voc", tuple(classes), 255, "voc")


# Cityscapes labels (cityscapesScripts helpers/labels.py): name, labelId, trainId, colour.
# Colour masks (gtFine_color) use the colours; labelIds masks the ids; trainId 255 = ignore.
_CITYSCAPES = (
    ("unlabeled", 0, 255, (0, 0, 0)), ("ego vehicle", 1, 255, (0, 0, 0)),
    ("rectification border", 2, 255, (0, 0, 0)), ("out of roi", 3, 255, (0, 0, 0)),
    ("static", 4, 255, (0, 0, 0)), ("dynamic", 5, 255, (111, 74, 0)), ("ground", 6, 255, (81, 0, 81)),
    ("road", 7, 0, (128, 64, 128)), ("sidewalk", 8, 1, (244, 35, 232)), ("parking", 9, 255, (250, 170, 160)),
    ("rail track", 10, 255, (230, 150, 140)), ("building", 11, 2, (70, 70, 70)), ("wall", 12, 3, (102, 102, 156)),
    ("fence", 13, 4, (190, 153, 153)), ("guard rail", 14, 255, (180, 165, 180)), ("bridge", 15, 255, (150, 100, 100)),
    ("tunnel", 16, 255, (150, 120, 90)), ("pole", 17, 5, (153, 153, 153)),
    # polegroup shares pole's colour; a colour mask cannot tell them apart, so it keeps only its id.
    ("polegroup", 18, 255, None), ("traffic light", 19, 6, (250, 170, 30)), ("traffic sign", 20, 7, (220, 220, 0)),
    ("vegetation", 21, 8, (107, 142, 35)), ("terrain", 22, 9, (152, 251, 152)), ("sky", 23, 10, (70, 130, 180)),
    ("person", 24, 11, (220, 20, 60)), ("rider", 25, 12, (255, 0, 0)), ("car", 26, 13, (0, 0, 142)),
    ("truck", 27, 14, (0, 0, 70)), ("bus", 28, 15, (0, 60, 100)), ("caravan", 29, 255, (0, 0, 90)),
    ("trailer", 30, 255, (0, 0, 110)), ("train", 31, 16, (0, 80, 100)), ("motorcycle", 32, 17, (0, 0, 230)),
    ("bicycle", 33, 18, (119, 11, 32)),
)


def _cityscapes() -> Palette:
    # Listed train classes first so that each index's first entry is its real class.
    rows = sorted(_CITYSCAPES, key=lambda r: (r[2] == 255, r[2], r[1]))
    classes = tuple(PaletteClass(name, colour, train_id, train_id == 255, label_id)
                    for name, label_id, train_id, colour in rows)
    return Palette("cityscapes", classes, 255, "cityscapes")


# CamVid's 32 classes (class_dict.csv of the original release) and the 11-class
# grouping SegNet trains on; SegNet's index masks store void as 11.
_CAMVID32 = (
    ("Animal", (64, 128, 64), "Pedestrian"), ("Archway", (192, 0, 128), "Building"),
    ("Bicyclist", (0, 128, 192), "Bicyclist"), ("Bridge", (0, 128, 64), "Building"),
    ("Building", (128, 0, 0), "Building"), ("Car", (64, 0, 128), "Car"),
    ("CartLuggagePram", (64, 0, 192), "Pedestrian"), ("Child", (192, 128, 64), "Pedestrian"),
    ("Column_Pole", (192, 192, 128), "Pole"), ("Fence", (64, 64, 128), "Fence"),
    ("LaneMkgsDriv", (128, 0, 192), "Road"), ("LaneMkgsNonDriv", (192, 0, 64), "Road"),
    ("Misc_Text", (128, 128, 64), "SignSymbol"), ("MotorcycleScooter", (192, 0, 192), "Bicyclist"),
    ("OtherMoving", (128, 64, 64), "Car"), ("ParkingBlock", (64, 192, 128), "Pavement"),
    ("Pedestrian", (64, 64, 0), "Pedestrian"), ("Road", (128, 64, 128), "Road"),
    ("RoadShoulder", (128, 128, 192), "Pavement"), ("Sidewalk", (0, 0, 192), "Pavement"),
    ("SignSymbol", (192, 128, 128), "SignSymbol"), ("Sky", (128, 128, 128), "Sky"),
    ("SUVPickupTruck", (64, 128, 192), "Car"), ("TrafficCone", (0, 0, 64), "Pole"),
    ("TrafficLight", (0, 64, 64), "SignSymbol"), ("Train", (192, 64, 128), "Car"),
    ("Tree", (128, 128, 0), "Tree"), ("Truck_Bus", (192, 128, 192), "Car"),
    ("Tunnel", (64, 0, 64), "Building"), ("VegetationMisc", (192, 192, 0), "Tree"),
    ("Void", (0, 0, 0), None), ("Wall", (64, 192, 0), "Building"),
)
_CAMVID11 = (  # SegNet order, names and colours
    ("Sky", (128, 128, 128)), ("Building", (128, 0, 0)), ("Pole", (192, 192, 128)), ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)), ("Tree", (128, 128, 0)), ("SignSymbol", (192, 128, 128)),
    ("Fence", (64, 64, 128)), ("Car", (64, 0, 128)), ("Pedestrian", (64, 64, 0)), ("Bicyclist", (0, 128, 192)),
)


def _camvid() -> Palette:
    classes, index = [], 0
    for name, colour, _group in _CAMVID32:
        if name == "Void":
            classes.append(PaletteClass(name, colour, 255, ignore=True))
        else:
            classes.append(PaletteClass(name, colour, index))
            index += 1
    return Palette("camvid", tuple(classes), 255, "camvid")


def _camvid11() -> Palette:
    group_index = {name: i for i, (name, _) in enumerate(_CAMVID11)}
    classes = [PaletteClass(name, colour, i, id=i) for i, (name, colour) in enumerate(_CAMVID11)]
    classes.append(PaletteClass("Void", (0, 0, 0), 255, ignore=True, id=len(_CAMVID11)))
    seen = {c.color for c in classes}
    for name, colour, group in _CAMVID32:
        if group is not None and colour not in seen:
            classes.append(PaletteClass(name, colour, group_index[group]))
            seen.add(colour)
    return Palette("camvid11", tuple(classes), 255, "camvid11")


def _colour(row: np.ndarray) -> Colour:
    return (int(row[0]), int(row[1]), int(row[2]))


_BUILDERS = {"voc": _voc, "cityscapes": _cityscapes, "camvid": _camvid, "camvid11": _camvid11}
BUILTIN_PALETTES: tuple[str, ...] = tuple(_BUILDERS)
_BUILT: dict[str, Palette] = {}


def builtin_palette(name: str) -> Palette:
    if name not in _BUILDERS:
        raise UsageError(None, f"no built-in palette {name!r} (built-ins: {', '.join(BUILTIN_PALETTES)})")
    if name not in _BUILT:
        _BUILT[name] = _BUILDERS[name]()
    return _BUILT[name]


# --------------------------------------------------------------------------- inferring a palette

# Telling classes from artefacts (colours that only exist because of JPEG ringing
# or anti-aliased edges). Colours are visited most pixels first; a colour is an
# artefact of a class that has ARTEFACT_RATIO times its pixels when it lies within
# NEAR_DISTANCE of that class, or within the blend distance of the line between
# two classes with BLEND_RATIO times its pixels (a mix of the two at their border). Lossy masks (JPEG files, or
# more than LOSSY_COLOURS distinct colours) scatter every class over a cloud of
# near colours, so there colours are first pooled within LOSSY_RADIUS of a more
# frequent one, and pools under MIN_CLASS_SHARE of all pixels are not classes.
# Colours of a matching built-in palette are never artefacts.
ARTEFACT_RATIO = 10
BLEND_RATIO = 1.5  # a blend is rarer than both colours it mixes
NEAR_DISTANCE = 30.0
BLEND_DISTANCE = 8.0
LOSSY_BLEND_DISTANCE = 40.0
LOSSY_COLOURS = 1000
LOSSY_RADIUS = 32.0
MIN_CLASS_SHARE = 5e-4
BINARY_FOREGROUND = 255  # index masks of only 0 and this value are binary: it is a class, not ignore
BUILTIN_SHARE = 0.9  # a built-in palette is suggested when its colours cover this share of the pixels
BUILTIN_TOLERANCE = 16.0  # how far a lossy class colour may be from the built-in colour it is snapped to
MAX_CANDIDATES = 4096  # colours beyond this many (the rarest) go to their nearest class directly
MAX_ARTEFACT_ENTRIES = 256  # artefact colours written to the palette file (the rest: --unknown nearest)


@dataclass(frozen=True)
class InferredColour:
    """One distinct colour (colour masks) or value (index masks) found in the masks."""

    color: Colour
    value: int | None  # the stored value, for index masks
    pixels: int
    images: int  # masks it occurs in
    index: int  # the class index the inferred palette gives it
    artefact: bool = False  # likely a compression/blending artefact of class `index`


@dataclass
class InferredPalette:
    palette: Palette  # the classes, then artefact colours grouped into their class
    colours: list[InferredColour]  # every distinct colour/value, most pixels first
    kind: str  # "colour" or "index"
    files: int
    pixels: int
    transparent_pixels: int = 0
    suggestion: str | None = None  # a built-in palette holding (nearly) every class colour
    lossy: bool = False  # the masks look lossy (JPEG, or very many colours)
    binary: bool = False  # index masks of only 0 and 255: 255 taken as class 1 (convert with --remap ids)
    sparse: bool = False  # index values not 0..K-1: compact indices, values as ids (convert with --remap ids)
    ignore_is_class: bool = False  # sparse values: the ignore value fills regions, so it is a class
    errors: list[str] = field(default_factory=list)
    by_colour_files: int = 0  # palette-mode masks counted by their table's colours

    @property
    def classes(self) -> list[InferredColour]:
        return [c for c in self.colours if not c.artefact]

    @property
    def artefacts(self) -> list[InferredColour]:
        return [c for c in self.colours if c.artefact]

    def to_dict(self) -> dict[str, Any]:
        stats = {(c.color, c.artefact): c for c in self.colours}
        names = {c.index: c.name for c in self.palette.classes}
        entries = []
        for cls in self.palette.classes:
            entry = cls.to_dict()
            artefact = cls.name.endswith(" (artefact)")
            found = stats.get((cls.color, artefact)) if cls.color else None
            if found is not None:
                entry["pixels"], entry["images"] = found.pixels, found.images
                if artefact:
                    entry["artefact_of"] = names.get(found.index)
            entries.append(entry)
        return {
            "name": self.palette.name,
            "ignore_index": self.palette.ignore_index,
            "classes": entries,
            "inferred": {
                "kind": self.kind, "files": self.files, "pixels": self.pixels,
                "distinct": len(self.colours), "classes": len(self.classes), "artefacts": len(self.artefacts),
                "artefacts_listed": sum(1 for c in self.palette.classes if c.name.endswith(" (artefact)")),
                "transparent_pixels": self.transparent_pixels, "suggested_builtin": self.suggestion,
                "lossy": self.lossy, "binary": self.binary, "sparse": self.sparse,
                "ignore_is_class": self.ignore_is_class, "by_colour_files": self.by_colour_files,
            },
        }

    def save(self, path: PathLike) -> Path:
        """Write the palette for editing (JSON, or YAML by extension), with pixel counts per entry."""
        path = Path(path)
        data = self.to_dict()
        if path.suffix.lower() in (".yaml", ".yml"):
            atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))
            return path
        lines = ",\n".join("    " + json.dumps(c) for c in data["classes"])
        text = (f'{{\n  "name": {json.dumps(data["name"])},\n  "ignore_index": {data["ignore_index"]},\n'
                f'  "classes": [\n{lines}\n  ],\n  "inferred": {json.dumps(data["inferred"])}\n}}\n')
        atomic_write_text(path, text)
        return path


@dataclass(frozen=True)
class _Counted:
    """What one mask holds, for `infer_palette`."""

    kind: str  # "colour" or "index"
    keys: np.ndarray  # sorted distinct colour keys or stored values (int64)
    pixels: np.ndarray  # pixels per key
    solid: np.ndarray  # per key, pixels whose 3x3 neighbourhood is all that key
    transparent: int = 0
    table: np.ndarray | None = None  # (256, 3) colour table of a palette-mode mask
    ignore_pixels: int = 0  # index masks: pixels holding the ignore value ...
    ignore_interior: int = 0  # ... and those of them inside regions wider than a boundary band


def _count_distinct(path: Path, ignore_index: int = DEFAULT_IGNORE_INDEX) -> _Counted:
    from .io import read_mask, read_png_palette
    from .regions import interior_pixels, solid_counts

    mask = read_mask(path)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.ndim == 3:
        if mask.dtype != np.uint8 or mask.shape[2] not in (3, 4):
            raise DataprepError(path, f"colour mask must be 8-bit RGB(A), got {mask.dtype} {mask.shape}")
        keys, transparent = pack_rgb(mask)
        hidden = 0
        if transparent is not None:
            hidden = int(transparent.sum())
            keys = keys.copy()
            keys[transparent] = 1 << 24  # no colour has this key: never counted
        uniq, counts = np.unique(keys.ravel(), return_counts=True)
        if hidden:
            uniq, counts = uniq[:-1], counts[:-1]
        return _Counted("colour", uniq.astype(np.int64), counts.astype(np.int64), solid_counts(keys, uniq), hidden)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise DataprepError(path, f"not a mask: {mask.dtype} array of shape {mask.shape}")
    uniq, counts = np.unique(mask.ravel(), return_counts=True)
    table = None
    if mask.dtype == np.uint8 and path.suffix.lower() != ".npy":
        raw = read_png_palette(path)
        if raw is not None and len(raw):
            table = np.zeros((256, 3), np.uint8)
            table[: min(256, len(raw))] = raw[:256]
            if np.array_equal(table[uniq], np.repeat(uniq[:, None], 3, axis=1)):
                table = None  # a grey ramp carries no colours: the indices are the data
    where = mask == ignore_index
    return _Counted("index", uniq.astype(np.int64), counts.astype(np.int64), solid_counts(mask, uniq), 0, table,
                    int(where.sum()), interior_pixels(where))


def _as_colours(c: _Counted) -> _Counted:
    """A palette-mode mask's counts by colour (table[index]), merging indices that share a colour."""
    assert c.table is not None
    t = c.table[c.keys].astype(np.int64)
    keys = t[:, 0] | (t[:, 1] << 8) | (t[:, 2] << 16)
    uniq, inverse = np.unique(keys, return_inverse=True)
    return _Counted("colour", uniq, np.bincount(inverse, weights=c.pixels, minlength=len(uniq)).astype(np.int64),
                    np.bincount(inverse, weights=c.solid, minlength=len(uniq)).astype(np.int64))


def _tables_agree(counted: list[_Counted]) -> bool:
    """Whether every palette-mode mask's table gives the same colour to every index any of them holds.

    Comparing each file only on its own indices would pass tables shuffled per file whose
    files happen to hold different indices; converting by colour is right either way.
    """
    tables = [c for c in counted if c.table is not None]
    if not tables:
        return True
    used = np.unique(np.concatenate([c.keys for c in tables]))
    used = used[used < 256]
    reference = tables[0].table[used]
    return all(np.array_equal(c.table[used], reference) for c in tables[1:])


def infer_palette(sources: Iterable[PathLike] | PathLike, *, ignore_index: int = DEFAULT_IGNORE_INDEX,
                  name: str = "inferred", executor: Any = None, on_error: str = "skip",
                  quiet: bool = False) -> InferredPalette:
    """Count the distinct colours (or values) of masks and propose a palette to edit.

    `sources`: mask files, folders (walked for masks) or manifest CSVs (their mask column).
    Colour masks: one class per colour, most pixels first, indices 0, 1, ...;
    rare colours on thin bands near a frequent one (or on the line between two) are
    flagged as artefacts and grouped into that class; on lossless masks a colour
    that fills regions is always a class. Palette-mode PNGs count as colour masks
    (table[index]) when their tables differ from file to file or sit beside RGB
    masks. Index masks: one class per value, value == index, `ignore_index` marked
    ignore; sparse values (0/64/128/...) get compact indices with the value as `id`.
    Unreadable masks are listed in `errors` and left out (on_error="fail": the first one raises).
    """
    from functools import partial

    from .executor import run_items
    from .labels import collect_mask_paths

    paths = collect_mask_paths(sources)
    if not paths:
        raise DataprepError(None, "no masks found to infer a palette from")
    results = run_items(partial(_count_distinct, ignore_index=ignore_index), paths, executor=executor,
                        on_error=on_error, desc="palette infer", quiet=quiet)
    ok: list[_Counted] = [r.value for r in results if r.ok]
    errors = [r.error for r in results if not r.ok]
    if not ok:
        raise DataprepError(None, f"no mask could be read ({errors[0]})")
    with_table = sum(1 for c in ok if c.table is not None)
    by_colour = 0
    if with_table and (any(c.kind == "colour" for c in ok) or not _tables_agree(ok)):
        ok = [_as_colours(c) if c.table is not None else c for c in ok]
        by_colour = with_table
    kinds = {c.kind for c in ok}
    if len(kinds) > 1:
        n_colour = sum(1 for c in ok if c.kind == "colour")
        raise DataprepError(None, f"the masks mix colour ({n_colour}) and index ({len(ok) - n_colour}) masks; "
                                  "infer each kind separately")
    kind = kinds.pop()
    keys = np.concatenate([c.keys for c in ok])
    counts = np.concatenate([c.pixels for c in ok])
    solid_in = np.concatenate([c.solid for c in ok])
    uniq, inverse = np.unique(keys, return_inverse=True)
    pixels = np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64)
    images = np.bincount(inverse, minlength=len(uniq)).astype(np.int64)
    solid = np.bincount(inverse, weights=solid_in, minlength=len(uniq)).astype(np.int64)
    order = np.lexsort((uniq, -pixels))  # most pixels first, ties by key: deterministic
    uniq, pixels, images, solid = uniq[order], pixels[order], images[order], solid[order]
    transparent = sum(c.transparent for c in ok)
    if kind == "colour":
        jpeg = any(os.path.splitext(str(p))[1].lower() in (".jpg", ".jpeg", ".webp") for p in paths)
        result = _infer_colours(uniq, pixels, images, ignore_index, name, jpeg, solid)
    else:
        table = next((c.table for c in ok if c.table is not None), None)
        if table is not None:  # tables agree: every index has one colour; fill indices only some files hold
            table = table.copy()
            for c in ok:
                if c.table is not None:
                    table[c.keys] = c.table[c.keys]
        spread = (sum(c.ignore_pixels for c in ok), sum(c.ignore_interior for c in ok))
        result = _infer_values(uniq, pixels, images, ignore_index, name, table, spread)
    result.files, result.pixels, result.transparent_pixels, result.errors = len(ok), int(pixels.sum()), transparent, errors
    result.by_colour_files = by_colour
    return result


# A stored value equal to the ignore index is a class of sparse index masks (0/64/128/192/255
# cloud masks) when it fills regions and covers at least this share of the pixels.
IGNORE_MINOR_SHARE = 0.02


def _infer_values(values: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                  name: str, table: np.ndarray | None = None,
                  ignore_spread: tuple[int, int] = (0, 0)) -> InferredPalette:
    if values.min() < 0 or values.max() > MAX_INDEX:
        raise DataprepError(None, f"index masks hold values {values.min()}..{values.max()}; "
                                  f"a palette needs 0..{MAX_INDEX} (use --remap when converting)")
    if set(values.tolist()) == {0, BINARY_FOREGROUND} and ignore_index != 1:
        return _infer_binary(values, pixels, images, ignore_index, name)
    stored = sorted(int(v) for v in values)
    kept = [v for v in stored if v != ignore_index]
    builtin = _builtin_of_table(table, kept) if table is not None else None
    # A subset of VOC's indices (a table drawn with its colormap) is dense, however few classes it holds.
    sparse = builtin is None and bool(kept) and max(kept) + 1 > 2 * len(kept)
    ignore_is_class = False
    if sparse and ignore_index in stored:
        # Void boundaries are thin and minor; a class fills regions (a cloud mask's 255 = cloud).
        n_ignore, interior = ignore_spread
        share = n_ignore / max(int(pixels.sum()), 1)
        ignore_is_class = interior >= 0.5 * n_ignore and share >= IGNORE_MINOR_SHARE
        if ignore_is_class:
            kept.append(ignore_index)
    if sparse:
        index_of = {v: i for i, v in enumerate(kept)}
    else:
        index_of = {v: v for v in kept}
    index_of.update({v: ignore_index for v in stored if v not in index_of})  # the ignore value
    cmap = voc_colormap(max(index_of.values()) + 1)

    def colour_of(v: int) -> Colour:
        return _colour(table[v]) if table is not None and v < 256 else _colour(cmap[index_of[v]])

    if table is not None and len({colour_of(v) for v in stored}) < len(stored):
        table = None  # two values share a table colour: a palette needs one colour per class
    colours = [InferredColour(colour_of(int(v)), int(v), int(n), int(m), index_of[int(v)])
               for v, n, m in zip(values, pixels, images)]
    known = builtin_palette(builtin).names if builtin else []
    classes = []
    for c in sorted(colours, key=lambda c: c.index):
        ignored = c.index == ignore_index
        label = "ignore" if ignored else (known[c.index] if c.index < len(known) else f"class_{c.value}")
        classes.append(PaletteClass(label, c.color, c.index, ignored, c.value if sparse and not ignored else None))
    return InferredPalette(Palette(name, tuple(classes), ignore_index), colours, "index", 0, 0, sparse=sparse,
                           ignore_is_class=ignore_is_class, suggestion=builtin)


def _builtin_of_table(table: np.ndarray, values: list[int]) -> str | None:
    """The built-in palette whose index colours a palette-mode table uses for every value, if any."""
    for name in BUILTIN_PALETTES:
        colours = builtin_palette(name).index_colours()
        if values and all(v in colours and colours[v] == _colour(table[v]) for v in values if v < 256):
            return name
    return None


def _infer_binary(values: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                  name: str) -> InferredPalette:
    """Masks of only 0 and 255: background and foreground, stored values kept as the classes' ids.

    255 is the foreground of binary masks (ISBI membranes, most medical and
    matting masks), not VOC's ignore: a dataset whose only other value were
    ignore would have a single class to learn. The ids make `--remap ids`
    turn 255 into index 1.
    """
    kept = {0: ("background", (0, 0, 0), 0), BINARY_FOREGROUND: ("foreground", (255, 255, 255), 1)}
    colours = [InferredColour(kept[int(v)][1], int(v), int(n), int(m), kept[int(v)][2])
               for v, n, m in zip(values, pixels, images)]
    classes = tuple(PaletteClass(label, colour, index, id=value) for value, (label, colour, index) in kept.items())
    return InferredPalette(Palette(name, classes, ignore_index), colours, "index", 0, 0, binary=True)


def _infer_colours(keys: np.ndarray, pixels: np.ndarray, images: np.ndarray, ignore_index: int,
                   name: str, jpeg: bool, solid: np.ndarray | None = None) -> InferredPalette:
    rgb = np.stack([keys & 255, (keys >> 8) & 255, (keys >> 16) & 255], axis=1).astype(np.float64)
    suggestion, known = _best_builtin(rgb, pixels, 0.0)
    lossy = jpeg or len(keys) > LOSSY_COLOURS
    exact = _matches(rgb, known, 0.0) >= 0
    if not jpeg and solid is not None:
        # Lossless masks: a colour that fills any 3x3 block is drawn, not a blend; never an artefact.
        exact = exact | (solid > 0)
    owner = _find_artefacts(rgb, pixels, exact, lossy)  # -1: a class of its own; else the row of its class
    class_rows = np.flatnonzero(owner < 0)
    totals = pixels.astype(np.float64).copy()
    np.add.at(totals, owner[owner >= 0], pixels[owner >= 0])
    colour_of = {int(i): unpack_key(keys[i]) for i in class_rows}
    names: dict[int, tuple[str, bool]] = {}
    if suggestion is None and lossy:
        # Classes of lossy masks are rarely exact; match them to a built-in within a tolerance.
        suggestion, known = _best_builtin(rgb[class_rows], totals[class_rows], BUILTIN_TOLERANCE)
        if suggestion is not None:
            known_list = list(known)
            for i, k in zip(class_rows, _matches(rgb[class_rows], known, BUILTIN_TOLERANCE)):
                if k >= 0 and known_list[k] not in colour_of.values():
                    colour_of[int(i)] = known_list[k]
    for i in class_rows:
        names[int(i)] = known.get(colour_of[int(i)], (None, False))  # type: ignore[assignment]
    index_of: dict[int, int] = {}
    classes: list[PaletteClass] = []
    next_index = 0
    for i in sorted(class_rows.tolist(), key=lambda r: -totals[r]):
        label, ignored = names[i]
        if ignored:
            index_of[i] = ignore_index
        else:
            next_index += next_index == ignore_index
            index_of[i] = next_index
            next_index += 1
        classes.append(PaletteClass(label or f"class_{index_of[i]}", colour_of[i], index_of[i], ignored))
    colours = [InferredColour(unpack_key(keys[i]), None, int(pixels[i]), int(images[i]),
                              index_of[i] if owner[i] < 0 else index_of[int(owner[i])], bool(owner[i] >= 0))
               for i in range(len(keys))]
    by_index = {c.index: c.name for c in classes}
    taken = {c.color for c in classes}
    artefact_entries = [PaletteClass(f"{by_index[c.index]} (artefact)", c.color, c.index, c.index == ignore_index)
                        for c in colours if c.artefact and c.color not in taken][:MAX_ARTEFACT_ENTRIES]
    palette = Palette(name, tuple(classes + artefact_entries), ignore_index)
    return InferredPalette(palette, colours, "colour", 0, 0, suggestion=suggestion, lossy=lossy)


def _distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.sqrt(((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))


def _find_artefacts(rgb: np.ndarray, pixels: np.ndarray, exact: np.ndarray, lossy: bool) -> np.ndarray:
    """For each colour (most pixels first): -1 if it is a class, else the row of the class it is an artefact of."""
    n = len(rgb)
    head = min(n, MAX_CANDIDATES)
    pool = np.arange(n)
    if lossy:  # pool each colour into a more frequent one nearby
        centres: list[int] = []
        for i in range(head):
            if centres and not exact[i]:
                rows = np.asarray(centres)
                d = _distances(rgb[i : i + 1], rgb[rows])[0]
                if d.min() <= LOSSY_RADIUS:
                    pool[i] = rows[d.argmin()]
                    continue
            centres.append(i)
        if n > head:
            rows = np.asarray(centres)
            pool[head:] = rows[_distances(rgb[head:], rgb[rows]).argmin(axis=1)]
    pooled = np.bincount(pool, weights=pixels, minlength=n)
    candidates = [int(i) for i in np.unique(pool)]
    candidates.sort(key=lambda i: (-pooled[i], i))
    min_pixels = MIN_CLASS_SHARE * pixels.sum() if lossy else 0
    blend_distance = LOSSY_BLEND_DISTANCE if lossy else BLEND_DISTANCE
    owner_of_pool: dict[int, int] = {}
    classes: list[int] = []
    for i in candidates[:head]:
        if classes and not exact[i]:
            rows = np.asarray(classes)
            d = _distances(rgb[i : i + 1], rgb[rows])[0]
            if pooled[i] < min_pixels:
                owner_of_pool[i] = int(rows[d.argmin()])
                continue
            big = pooled[rows] >= ARTEFACT_RATIO * pooled[i]
            if big.any() and d[big].min() <= NEAR_DISTANCE:
                owner_of_pool[i] = int(rows[big][d[big].argmin()])
                continue
            bigger = pooled[rows] >= BLEND_RATIO * pooled[i]
            blend = _blend_of(rgb[i], rgb[rows[bigger]], blend_distance) if bigger.sum() >= 2 else None
            if blend is not None:
                owner_of_pool[i] = int(rows[bigger][blend])
                continue
        classes.append(i)
    rows = np.asarray(classes)
    for i in candidates[head:]:
        owner_of_pool[i] = int(rows[_distances(rgb[i : i + 1], rgb[rows])[0].argmin()])
    owner = np.full(n, -1, np.int64)
    for i in range(n):
        p = int(pool[i])
        if p in owner_of_pool:
            owner[i] = owner_of_pool[p]
        elif p != i:
            owner[i] = p
    return owner


def _blend_of(colour: np.ndarray, candidates: np.ndarray, tolerance: float) -> int | None:
    """If `colour` lies between two candidate colours, the position of the nearer one."""
    a_idx, b_idx = np.triu_indices(len(candidates), 1)
    a, b = candidates[a_idx], candidates[b_idx]
    ab = b - a
    t = ((colour - a) * ab).sum(axis=1) / np.maximum((ab * ab).sum(axis=1), 1e-9)
    inside = (t > 0.0) & (t < 1.0)
    dist = np.sqrt((((a + t[:, None] * ab) - colour) ** 2).sum(axis=1))
    hits = np.flatnonzero(inside & (dist <= tolerance))
    if not len(hits):
        return None
    k = hits[dist[hits].argmin()]
    return int(a_idx[k] if t[k] < 0.5 else b_idx[k])


def _matches(rgb: np.ndarray, known: Mapping[Colour, Any], tolerance: float) -> np.ndarray:
    """Position in `known` of the nearest colour within `tolerance`, else -1, per row of `rgb`."""
    if not known or not len(rgb):
        return np.full(len(rgb), -1, np.int64)
    table = np.array(list(known), dtype=np.float64)
    d = _distances(rgb, table)
    nearest = d.argmin(axis=1)
    return np.where(d[np.arange(len(rgb)), nearest] <= tolerance, nearest, -1)


def _best_builtin(rgb: np.ndarray, pixels: np.ndarray,
                  tolerance: float) -> tuple[str | None, dict[Colour, tuple[str, bool]]]:
    """The built-in palette whose colours (within `tolerance`) cover most pixels, if >= BUILTIN_SHARE."""
    total = max(float(pixels.sum()), 1.0)
    best, best_share, best_known = None, 0.0, {}
    for name in BUILTIN_PALETTES:
        known: dict[Colour, tuple[str, bool]] = {}
        for c in builtin_palette(name).classes:
            if c.color is not None:
                known.setdefault(c.color, (c.name, c.ignore))
        share = float(pixels[:MAX_CANDIDATES][_matches(rgb[:MAX_CANDIDATES], known, tolerance) >= 0].sum()) / total
        if share > best_share:
            best, best_share, best_known = name, share, known
    if best_share < BUILTIN_SHARE:
        return None, {}
    return best, best_known


__all__ = [
    "BUILTIN_PALETTES",
    "Colour",
    "Palette",
    "PaletteClass",
    "builtin_palette",
    "colour_key",
    "InferredColour",
    "InferredPalette",
    "find_palette",
    "infer_palette",
    "load_palette",
    "pack_rgb",
    "palette_from_dict",
    "palette_from_file",
    "resolve_palette",
    "unpack_key",
    "voc_colormap",
]

"""Reading palettes: files (JSON, YAML, CSV), dicts, built-in names, and the file beside a manifest.

File schema (JSON or YAML; `palette.json` beside a manifest describes its masks):

    {"name": "streets", "ignore_index": 255,
     "classes": [{"name": "sky",  "color": [70, 130, 180], "index": 0},
                 {"name": "void", "color": [0, 0, 0], "index": 255, "ignore": true}]}

Optional per class: `"id"`, the value the class has in *index* masks when that
differs from `index` (Cityscapes labelIds, SegNet CamVid's void 11); it is used
only when asked for (`--remap ids`). Text files list one class per line in index order:
`R G B name` (CamVid's and SYNTHIA's `label_colors.txt`) or `name:R,G,B::` (CVAT's `labelmap.txt`); a class
named ignore, ignored or void is the ignore entry, the others numbered in order without it. CSV files
(e.g. `class_dict.csv`) need a header with `name` and `r,g,b` (or `color` as `#rrggbb`), optionally `index`,
`id` and `ignore` columns; without `index` the row order gives the index. Roboflow's `_classes.csv`
(`Pixel Value, Class`) has no colours: each class gets the VOC colormap colour of its index.
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DataprepError, UsageError
from ..io import PathLike
from ..sample import DEFAULT_IGNORE_INDEX
from ..strict_load import load_json, load_yaml, yaml_error, yaml_reason
from .builtins import BUILTIN_PALETTES, builtin_palette
from .model import MAX_INDEX, Colour, Palette, PaletteClass, voc_colormap

PALETTE_FILENAMES = ("palette.json", "palette.yaml", "palette.yml")


def load_palette(source: "Palette | PathLike | Mapping[str, Any]") -> Palette:
    """A palette from a file (.json/.yaml/.yml/.csv/.txt), a built-in name, a dict, or a Palette (returned as is)."""
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
        if ext == ".txt":
            return _palette_from_txt(path)
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataprepError(path, "palette file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataprepError(path, f"unreadable palette: {exc}") from None
    try:
        data = load_json(text) if ext == ".json" else load_yaml(text)
    except (ValueError, yaml_error()) as exc:
        reason = str(exc).splitlines()[0] if isinstance(exc, ValueError) else yaml_reason(exc)
        raise DataprepError(path, f"not a palette file: {reason}") from None
    if ext != ".json":
        _refuse_commented_colours(text, path)
    return palette_from_dict(data, source=str(path), default_name=path.stem)


_YAML_HEX_COMMENT = re.compile(r"^\s*(?:-\s+)?colou?r\s*:\s*(#[0-9a-fA-F]{6})\b")


def _refuse_commented_colours(text: str, path: Path) -> None:
    """YAML reads an unquoted `color: #804080` as a comment: the palette loaded without a colour, and every mask
    then failed on a colour the file seemed to give."""
    for line_no, line in enumerate(text.splitlines(), start=1):
        found = _YAML_HEX_COMMENT.match(line)
        if found:
            raise DataprepError(path, f"line {line_no}: YAML reads `{found.group(1)}` after `color:` as a comment, "
                                      f"so the class has no colour; quote it: color: '{found.group(1)}'")


def palette_from_dict(data: Any, *, source: str | None = None, default_name: str = "palette") -> Palette:
    """Build from the JSON/YAML schema; a bare list of classes is accepted too."""
    where = source or default_name
    if isinstance(data, list):
        data = {"classes": data}
    if isinstance(data, Mapping) and "classes" not in data:
        data = _dataset_config(data, where) or data
    if not isinstance(data, Mapping) or not isinstance(data.get("classes"), list):
        raise DataprepError(where, 'not a palette: expected {"classes": [...]} (see docs/labels.md)')
    try:
        ignore_index = _whole(data.get("ignore_index", _default_ignore_index(data["classes"])))
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
    remap = data.get("remap")
    return Palette(str(data.get("name") or default_name), tuple(classes), ignore_index, source,
                   None if remap is None else str(remap))


def _default_ignore_index(entries: list[Any]) -> int:
    """The ignore index of a file that names none: 255, unless its classes run past 255 (ADE20K-full's 847,
    `pier` at 255), where 255 is one of them and 65535, the no-data of 16-bit label maps, is the ignore index
    (as `palette infer` chooses); 255 made the class at that place ignore without a word."""
    indices = set()
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or _truthy(entry.get("ignore", False)):
            continue
        raw = entry.get("index", entry.get("train_id", entry.get("trainId")))
        try:
            indices.add(position if raw is None or raw == "" else _whole(raw))
        except (TypeError, ValueError):
            continue  # reported where the class is read
    runs_past = DEFAULT_IGNORE_INDEX in indices and any(i > DEFAULT_IGNORE_INDEX for i in indices)
    return MAX_INDEX if runs_past and MAX_INDEX not in indices else DEFAULT_IGNORE_INDEX


def _dataset_config(data: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    """A dataset's own class table read as a palette: Mapillary Vistas' config_v1.2.json / config_v2.0.json
    (`labels`: colour, name, readable, evaluate; the position is the mask value, `evaluate: false` the ignored
    'Unlabeled') or datumaro's dataset_meta.json (`label_map` index -> name, `segmentation_colors`)."""
    labels = data.get("labels")
    if isinstance(labels, list) and labels and all(isinstance(e, Mapping) and "color" in e for e in labels):
        readable = [e.get("readable") for e in labels]
        names = readable if all(readable) and len(set(readable)) == len(readable) else [e.get("name") for e in labels]
        return {"name": data.get("name") or "mapillary", "classes": [
            {"name": str(name), "color": e["color"], **({"ignore": True} if e.get("evaluate") is False
                                                          else {"index": i})}
            for i, (name, e) in enumerate(zip(names, labels))]}
    label_map, colours = data.get("label_map"), data.get("segmentation_colors")
    if isinstance(label_map, Mapping) and isinstance(colours, list):
        try:
            ordered = sorted((int(k), str(v)) for k, v in label_map.items())
        except (TypeError, ValueError):
            raise DataprepError(where, "label_map: keys must be class indices") from None
        if ordered and ordered[0][0] < 0:
            raise DataprepError(where, f"label_map: keys must be class indices 0.., not {ordered[0][0]}")
        if len(colours) < len(ordered):
            raise DataprepError(where, f"segmentation_colors: {len(colours)} colours for {len(ordered)} classes")
        # Colours by index, as datumaro reads them; where the indices run past the list, datumaro's writer left
        # out the labels without a colour, and the list follows label_map (an IndexError traceback before).
        if ordered and ordered[-1][0] >= len(colours):
            if len(colours) != len(ordered):
                raise DataprepError(where, f"segmentation_colors: {len(colours)} colours, but label_map has "
                                           f"{len(ordered)} classes up to index {ordered[-1][0]}")
            colours = [None] * (ordered[-1][0] + 1)
            for (i, _), colour in zip(ordered, data["segmentation_colors"]):
                colours[i] = colour
        return {"name": data.get("name") or "dataset_meta",
                "classes": [{"name": name, "color": colours[i], "index": i} for i, name in ordered]}
    return None


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
        index = _whole(raw_index)
    if index == ignore_index:
        ignore = True
    raw_id = None if supervisely else entry.get("id")
    return PaletteClass(name, colour, index, ignore, None if raw_id in (None, "") else _whole(raw_id))


def _parse_colour(value: Any) -> Colour:
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) == 6 and all(ch in "0123456789abcdefABCDEF" for ch in text):
            return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
        parts = text.replace(",", " ").split()
        value = parts
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, float) for v in value) \
            and all(0 <= v <= 1 for v in value) and any(value):  # [1.0, 0.0, 0.0]: red, not (1, 0, 0)
        raise ValueError(f"colour {list(value)!r} is written as 0..1 fractions: give [r, g, b] in 0..255 "
                         "(each times 255)")
    values = [_whole(v) for v in value]
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"colour must be [r, g, b] with values 0..255 or '#rrggbb', not {value!r}")
    return (values[0], values[1], values[2])


def _whole(value: Any) -> int:
    """An integer field's value: whole numbers only (int() cut 128.6 to 128, a colour of 0..1 fractions to black,
    and took true for 1)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a whole number, not {value!r}")
    return int(value)


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
    "index": ("index", "train_id", "trainid", "class_index", "label_index", "pixel value", "pixel_value"),
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
    # Roboflow's semantic-mask exports list `Pixel Value, Class` alone: colours then come from the index.
    numbered = "index" in columns and not (has_rgb or "color" in columns)
    if "name" not in columns or not (has_rgb or "color" in columns or numbered):
        raise DataprepError(path, f"palette CSV needs a header with name and r,g,b (or color, or index); got {rows[0]}")
    entries = []
    for line_no, row in enumerate(rows[1:], start=2):
        def cell(key: str) -> str | None:
            i = columns.get(key)
            return row[i].strip() if i is not None and i < len(row) else None

        entry: dict[str, Any] = {"name": cell("name")}
        if numbered:
            entry["color"] = _index_colour(cell("index"), path, line_no)
        else:
            entry["color"] = [cell("r"), cell("g"), cell("b")] if has_rgb else cell("color")
        for key in ("index", "id", "ignore"):
            if cell(key):
                entry[key] = cell(key)
        entries.append(entry)
    try:
        return palette_from_dict({"name": path.stem, "classes": entries}, source=str(path), default_name=path.stem)
    except DataprepError as exc:
        raise DataprepError(path, exc.reason) from None


_TXT_IGNORE_NAMES = frozenset({"ignore", "ignored", "void"})


def _palette_from_txt(path: Path) -> Palette:
    """CamVid's and SYNTHIA's `label_colors.txt` (`R G B name` per line) or CVAT's / datumaro's VOC
    `labelmap.txt` (`name:R,G,B:parts:actions`): one class per line, the line order giving the index."""
    entries = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if ":" in text:
            name, _, rest = text.partition(":")
            colour = rest.split(":", 1)[0].split(",")
        else:
            tokens = text.split()
            colour, name = tokens[:3], " ".join(tokens[3:])
        if not any(ch.isdigit() for ch in text):
            raise DataprepError(path, f"line {line_no}: {text[:40]!r} is a class name without a colour: a list of "
                                      "names (labels.txt, classes.txt) is no palette; give it to `dataprep import` "
                                      "as --labels, or write 'R G B name' lines")
        if not name.strip() or len(colour) != 3 or not all(c.strip().isdigit() for c in colour):
            raise DataprepError(path, f"line {line_no}: expected 'R G B name' (CamVid's label_colors.txt) or "
                                      f"'name:R,G,B::' (CVAT's labelmap.txt), got {text[:60]!r}")
        # datumaro's VOC labelmap ends with `ignored:224,224,192::`, VOC's void colour; CamVid's with Void
        ignore = name.strip().lower() in _TXT_IGNORE_NAMES
        entry: dict[str, Any] = {"name": name.strip(), "color": [int(c) for c in colour], "ignore": ignore}
        if not ignore:  # the classes numbered in order, an ignore line anywhere leaving no gap (CamVid's Void)
            entry["index"] = sum(1 for e in entries if not e["ignore"])
        entries.append(entry)
    if not entries:
        raise DataprepError(path, "empty palette file")
    try:
        return palette_from_dict({"name": path.stem, "classes": entries}, source=str(path), default_name=path.stem)
    except DataprepError as exc:
        raise DataprepError(path, exc.reason) from None


def _index_colour(index: str | None, path: Path, line_no: int) -> list[int]:
    """The VOC colormap colour of a class index written in a CSV (a palette needs one colour per class)."""
    try:
        value = int(index or "")
    except ValueError:
        raise DataprepError(path, f"line {line_no}: index must be an integer, not {index!r}") from None
    if not 0 <= value <= 255:
        raise DataprepError(path, f"line {line_no}: index {value} is outside 0..255")
    return [int(v) for v in voc_colormap(256)[value]]


def find_palette(folder: PathLike) -> Path | None:
    """The palette file a folder carries (`palette.json`, `.yaml` or `.yml`), or None."""
    for name in PALETTE_FILENAMES:
        candidate = Path(folder) / name
        if candidate.is_file():
            return candidate
    return None


def palette_file(option: "Palette | PathLike | None", manifest_path: PathLike | None = None) -> Path | None:
    """The file `resolve_palette` reads (the option's, or the one beside the manifest), None for a built-in or
    none: an input of the run, which no output may replace."""
    if isinstance(option, Palette):
        return Path(option.source) if option.source and Path(option.source).is_file() else None
    if option is not None:
        return Path(option) if Path(option).is_file() else None
    if manifest_path is None:
        return None
    place = Path(manifest_path)
    return find_palette(place if place.is_dir() else place.parent)


def resolve_palette(option: "Palette | PathLike | None", manifest_path: PathLike | None = None) -> Palette | None:
    """`--palette` if given, else the palette file beside the manifest (or in the folder), else None."""
    if option is not None:
        return load_palette(option)
    if manifest_path is None:
        return None
    place = Path(manifest_path)
    found = find_palette(place if place.is_dir() else place.parent)
    return palette_from_file(found) if found else None

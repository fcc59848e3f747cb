"""The palette type: classes with a name, an RGB colour, the training index and a kind.

Several classes may share an index (grouping, e.g. CamVid's 32 classes into 11),
but one colour can mean only one index. Loading lives in `loaders`, the named
palettes in `builtins`, proposing one from masks in `infer`.
"""
from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataprepError, UsageError
from ..io import PathLike, atomic_write_text
from ..sample import DEFAULT_IGNORE_INDEX
from ..strict_load import dump_yaml

Colour = tuple[int, int, int]
MAX_INDEX = 65535


class EntryKind(str, Enum):
    """What a palette entry stands for.

    ARTEFACT entries come from `palette infer`: colours that only exist because of
    lossy compression or anti-aliased edges, listed so that `masks2labels` maps them
    to the class (or ignore) whose index they carry. In files they are marked by the
    name suffix ARTEFACT_SUFFIX, the one place that suffix is read or written.
    """

    CLASS = "class"
    IGNORE = "ignore"
    ARTEFACT = "artefact"


ARTEFACT_SUFFIX = " (artefact)"


def artefact_name(class_name: str) -> str:
    """The name an artefact entry of `class_name` is listed under."""
    return class_name + ARTEFACT_SUFFIX


def kind_of_name(name: str, ignore: bool) -> EntryKind:
    """The kind of an entry read from a file (artefacts are marked by their name)."""
    if name.endswith(ARTEFACT_SUFFIX):
        return EntryKind.ARTEFACT
    return EntryKind.IGNORE if ignore else EntryKind.CLASS


@dataclass(frozen=True)
class PaletteClass:
    name: str
    color: Colour | None  # None: reachable only through `id` (its colour belongs to another class)
    index: int  # training index written to label maps
    ignore: bool = False
    id: int | None = None  # value in index masks, when it differs from `index`
    # None: from the name and `ignore` (`kind_of_name`); ARTEFACT given here puts the suffix on the name,
    # so that name and kind never disagree and a saved palette keeps its artefact entries.
    kind: EntryKind | None = None

    def __post_init__(self) -> None:
        if self.color is not None and not isinstance(self.color, tuple):  # e.g. a list from JSON
            object.__setattr__(self, "color", tuple(self.color))
        kind = EntryKind(self.kind) if self.kind is not None else kind_of_name(self.name, self.ignore)
        if kind is EntryKind.ARTEFACT and not self.name.endswith(ARTEFACT_SUFFIX):
            object.__setattr__(self, "name", artefact_name(self.name))
        if kind is EntryKind.IGNORE:
            object.__setattr__(self, "ignore", True)
        elif kind is EntryKind.CLASS and self.ignore:
            kind = EntryKind.IGNORE
        object.__setattr__(self, "kind", kind)

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
    # How index masks' stored values become indices when masks2labels is given no --remap: "ids" (an inferred
    # binary or sparse palette: 255 is the foreground's id, not the ignore index) or "reduce-zero"; None: as stored.
    remap: str | None = None

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
        for c in self.entries_by_kind():
            if not c.ignore:
                first.setdefault(c.index, c.name)
        return [first.get(i, f"class_{i}") for i in range(self.num_classes)]

    @property
    def class_indices(self) -> tuple[int, ...]:
        """The indices its classes (not ignore) take, sorted."""
        return tuple(sorted({c.index for c in self.classes if not c.ignore}))

    @property
    def max_value(self) -> int:
        """Largest value a label map can hold: the last class index or the ignore index."""
        return max(self.num_classes - 1, self.ignore_index)

    @property
    def label_dtype(self) -> type[np.unsignedinteger]:
        return np.uint8 if self.max_value <= 255 else np.uint16

    def entries_by_kind(self) -> list[PaletteClass]:
        """The entries, artefacts after the rest: an index's name and colour come from a real entry."""
        return sorted(self.classes, key=lambda c: c.kind is EntryKind.ARTEFACT)

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
        return Palette(self.name, classes, ignore_index, self.source, self.remap)

    def label_palette(self) -> "Palette":
        """The palette of label maps made with this one: one class per index 0..K-1, then the ignore entry.

        This is what `masks2labels` writes beside its outputs, so readers that
        expect one entry per index (names, num_classes, colours) need no grouping logic.
        """
        first: dict[int, PaletteClass] = {}
        entries = self.entries_by_kind()
        for c in entries:
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
        ignored = [c for c in entries if c.ignore]
        ignore_name = ignored[0].name if ignored else "ignore"
        ignore_colour = next((c.color for c in ignored if c.color is not None), None)
        if ignore_colour is None:
            ignore_colour = (0, 0, 0) if (0, 0, 0) not in used else next(spare)
        classes.append(PaletteClass(ignore_name, ignore_colour, self.ignore_index, ignore=True))
        return Palette(self.name, tuple(classes), self.ignore_index, self.source)

    # ---- serialisation

    def to_dict(self) -> dict[str, Any]:
        out = {"name": self.name, "ignore_index": self.ignore_index}
        if self.remap is not None:
            out["remap"] = self.remap
        return {**out, "classes": [c.to_dict() for c in self.classes]}

    def to_json(self) -> str:
        # One class per line: easy to read and to edit by hand.
        lines = ",\n".join("    " + json.dumps(c.to_dict()) for c in self.classes)
        remap = f'  "remap": {json.dumps(self.remap)},\n' if self.remap is not None else ""
        head = f'{{\n  "name": {json.dumps(self.name)},\n  "ignore_index": {self.ignore_index},\n'
        return head + remap + '  "classes": [\n' + lines + "\n  ]\n}\n"

    def save(self, path: PathLike) -> Path:
        path = palette_output(path)
        if path.suffix.lower() in (".yaml", ".yml"):
            atomic_write_text(path, dump_yaml(self.to_dict()))
        else:
            atomic_write_text(path, self.to_json())
        return path

    @cached_property
    def fingerprint(self) -> str:
        """Short hash of the palette's content (names, colours, indices, ids)."""
        return hashlib.sha1(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


PALETTE_SUFFIXES = (".json", ".yaml", ".yml")


def palette_output(path: PathLike) -> Path:
    """`path` if it names a file a palette is written as: JSON went into `-o palette.csv` (or `.png`), which no
    palette reader then took."""
    path = Path(path)
    if path.suffix.lower() not in PALETTE_SUFFIXES:
        raise UsageError(path, "a palette is written as .json, .yaml or .yml; name it so")
    return path


PALETTE_REMAPS = ("ids", "reduce-zero")


def _validate(p: Palette) -> None:
    where = p.source or p.name
    if p.remap is not None and p.remap not in PALETTE_REMAPS:
        raise DataprepError(where, f"remap must be one of {', '.join(PALETTE_REMAPS)}, not {p.remap!r}")
    if p.remap == "ids" and not any(c.id is not None for c in p.classes):
        raise DataprepError(where, "remap is 'ids' but no class has an id")
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


@functools.lru_cache(maxsize=8)
def class_gaps(classes: tuple[int, ...]) -> tuple[int, ...]:
    """The indices below the last class that a palette (its class indices, sorted) skips; once per palette, not
    per sample."""
    return tuple(sorted(set(range(classes[-1] + 1)) - set(classes)))


def class_range(classes: tuple[int, ...]) -> str:
    """The palette's class indices (sorted) in words: '0..10', or '0..10 without 7' for a palette that skips one."""
    gaps = class_gaps(classes)
    without = f" without {', '.join(map(str, gaps[:5]))}{', ...' if len(gaps) > 5 else ''}" if gaps else ""
    return f"0..{classes[-1]}{without}"


def _fmt_colour(colour: Sequence[int]) -> str:
    return "({},{},{})".format(*colour)


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


def _colour(row: np.ndarray) -> Colour:
    return (int(row[0]), int(row[1]), int(row[2]))

"""What `palette infer` found: every distinct colour or value, and the palette it proposes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import PathLike, atomic_write_text
from ..strict_load import dump_yaml
from .model import Colour, EntryKind, Palette, palette_output


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
    # A built-in the index masks' values or file names point to (ade20k: ADE_* files; oxford_pet: values 1, 2, 3),
    # used with --remap ids.
    dataset_builtin: str | None = None
    ade20k_full_classes: int | None = None  # ADE20K full-release _seg.png masks: their classes (colours are codes)
    lossy: bool = False  # the masks look lossy (JPEG, or very many colours)
    binary: bool = False  # index masks of only 0 and 255: 255 taken as class 1 (convert with --remap ids)
    sparse: bool = False  # index values not 0..K-1: compact indices, values as ids (convert with --remap ids)
    ignore_is_class: bool = False  # sparse values: the ignore value fills regions, so it is a class
    errors: list[str] = field(default_factory=list)
    by_colour_files: int = 0  # palette-mode masks counted by their table's colours
    resampling_blends: list[Colour] = field(default_factory=list)  # classes that look made by resizing masks
    reduced_zero: bool = False  # inferred with reduce_zero: stored k + 1 is class k, 0 is not labelled
    grey_rgb_files: int = 0  # RGB masks of grey pixels only among index masks, counted by their grey values
    # Binary masks storing the foreground as 1 in some files and 255 in others: (0/1 masks, 0/255 masks, one of those)
    binary_encodings: tuple[int, int, str] | None = None

    @property
    def classes(self) -> list[InferredColour]:
        return [c for c in self.colours if not c.artefact]

    @property
    def artefacts(self) -> list[InferredColour]:
        return [c for c in self.colours if c.artefact]

    def to_dict(self) -> dict[str, Any]:
        stats = {(c.color, c.artefact): c for c in self.colours}
        # The class an artefact belongs to: its index's class entry, not a fellow artefact's.
        names = {c.index: c.name for c in self.palette.classes if c.kind is not EntryKind.ARTEFACT}
        entries = []
        for cls in self.palette.classes:
            entry = cls.to_dict()
            artefact = cls.kind is EntryKind.ARTEFACT
            found = stats.get((cls.color, artefact)) if cls.color else None
            if found is not None:
                entry["pixels"], entry["images"] = found.pixels, found.images
                if artefact:
                    entry["artefact_of"] = names.get(found.index)
            entries.append(entry)
        remap = {"remap": self.palette.remap} if self.palette.remap is not None else {}
        return {
            "name": self.palette.name,
            "ignore_index": self.palette.ignore_index,
            **remap,
            "classes": entries,
            "inferred": {
                "kind": self.kind, "files": self.files, "pixels": self.pixels,
                "distinct": len(self.colours), "classes": len(self.classes), "artefacts": len(self.artefacts),
                "artefacts_listed": sum(1 for c in self.palette.classes if c.kind is EntryKind.ARTEFACT),
                "transparent_pixels": self.transparent_pixels, "suggested_builtin": self.suggestion,
                "lossy": self.lossy, "binary": self.binary, "sparse": self.sparse,
                "ignore_is_class": self.ignore_is_class, "by_colour_files": self.by_colour_files,
            },
        }

    def save(self, path: PathLike) -> Path:
        """Write the palette for editing (JSON, or YAML by extension), with pixel counts per entry."""
        path = palette_output(path)
        data = self.to_dict()
        if path.suffix.lower() in (".yaml", ".yml"):
            atomic_write_text(path, dump_yaml(data))
            return path
        lines = ",\n".join("    " + json.dumps(c) for c in data["classes"])
        remap = f'  "remap": {json.dumps(data["remap"])},\n' if "remap" in data else ""
        text = (f'{{\n  "name": {json.dumps(data["name"])},\n  "ignore_index": {data["ignore_index"]},\n{remap}'
                f'  "classes": [\n{lines}\n  ],\n  "inferred": {json.dumps(data["inferred"])}\n}}\n')
        atomic_write_text(path, text)
        return path

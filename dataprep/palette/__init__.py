"""Palettes: which mask colour (or stored value) means which class index.

A palette is a list of classes, each with a name, an RGB colour, the training
index its pixels get, and a kind (class, ignore, or an inferred artefact colour of
a class); plus the palette's ignore index. The package holds one job per module:

- `model`: the `Palette` / `PaletteClass` types, `EntryKind`, the VOC colormap;
- `keys`: packed 24-bit colour keys (`pack_rgb`, `colour_key`, `unpack_key`);
- `loaders`: files (JSON, YAML, CSV), dicts, names, the file beside a manifest;
- `builtins`: `voc`, `cityscapes`, `camvid`, `camvid11`;
- `infer`, `inferred`, `artefacts`: proposing a palette from masks.

Every public name is importable from `dataprep.palette` itself.
"""
from __future__ import annotations

from .artefacts import (
    ARTEFACT_RATIO,
    BLEND_DISTANCE,
    BLEND_RATIO,
    BUILTIN_SHARE,
    BUILTIN_TOLERANCE,
    LOSSY_BLEND_DISTANCE,
    LOSSY_COLOURS,
    LOSSY_RADIUS,
    MAX_ARTEFACT_ENTRIES,
    MAX_CANDIDATES,
    MIN_CLASS_SHARE,
    NEAR_DISTANCE,
)
from .builtins import BUILTIN_PALETTES, VOC_CLASSES, builtin_palette
from .infer import BINARY_FOREGROUND, IGNORE_MINOR_SHARE, infer_palette
from .inferred import InferredColour, InferredPalette
from .keys import colour_key, pack_rgb, unpack_key
from .loaders import (PALETTE_FILENAMES, find_palette, load_palette, palette_file, palette_from_dict, palette_from_file,
                      resolve_palette)
from .model import (
    ARTEFACT_SUFFIX,
    MAX_INDEX,
    Colour,
    EntryKind,
    Palette,
    PaletteClass,
    artefact_name,
    class_gaps,
    class_range,
    kind_of_name,
    voc_colormap,
)

__all__ = [
    "ARTEFACT_SUFFIX",
    "BUILTIN_PALETTES",
    "Colour",
    "EntryKind",
    "InferredColour",
    "InferredPalette",
    "MAX_INDEX",
    "PALETTE_FILENAMES",
    "Palette",
    "PaletteClass",
    "artefact_name",
    "class_gaps",
    "class_range",
    "builtin_palette",
    "colour_key",
    "find_palette",
    "infer_palette",
    "kind_of_name",
    "load_palette",
    "pack_rgb",
    "palette_from_dict",
    "palette_from_file",
    "palette_file",
    "resolve_palette",
    "unpack_key",
    "voc_colormap",
]

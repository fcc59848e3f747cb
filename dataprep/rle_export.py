"""Label maps -> a Kaggle run-length CSV (`dataprep labels2rle`): the inverse of `import kaggle-rle`, for a
competition's submission file or to hand labels to code that reads them.

Runs are `start length ...`, starts counted from 1, pixels numbered down each column (Kaggle's usual; `order="row"`
along each row), neighbouring runs joined, so an RLE read by `import kaggle-rle` writes back the same text. With
one foreground class (TGS salt, Airbus ships): `ImageId,EncodedPixels`, one row per image, empty when the image
has none. With several: `ImageId,ClassId,EncodedPixels`, one row per class an image holds (Severstal), the
class written as its palette id where it has one, else its index. `per_object` writes a row per connected
object instead (Airbus ships, nuclei). Background (index 0 unless said otherwise; none: every class is written)
and ignored pixels are never written; a class 0 not named as background is warned of, as it is left out.
"""
from __future__ import annotations

import csv
import io as _io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import io
from .errors import DataprepError, UsageError
from .executor import Executor, OnError, run_items
from .importers.base import RLE_ORDERS
from .importers.names import BACKGROUND_NAMES as IMPORTED_BACKGROUND_NAMES
from .manifest import ManifestRow, read_manifest, require_rows
from .palette import Palette, resolve_palette
from .sampleio import load_row_mask

IMAGE_IDS: tuple[str, ...] = ("name", "stem")
# The importers' background names (labelme's _background_ too), and others a class 0 left out may go by.
BACKGROUND_NAMES = frozenset({*IMPORTED_BACKGROUND_NAMES, "bg", "void", "unlabeled", "unlabelled", "none", "nothing"})


def encode_classes(labels: np.ndarray, order: str = "column") -> dict[int, str]:
    """The RLE (`start length ...`, 1-based) of every value of a (H, W) label map, from one pass: its runs of
    equal values, grouped."""
    if order not in RLE_ORDERS:
        raise UsageError(None, f"RLE order must be one of {', '.join(RLE_ORDERS)}, not {order!r}")
    flat = np.ascontiguousarray(labels.T if order == "column" else labels).ravel()
    if not flat.size:
        return {}
    bounds = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1, [flat.size]))
    starts, lengths, values = bounds[:-1], np.diff(bounds), flat[bounds[:-1]]
    out = {}
    for value in np.unique(values).tolist():
        pick = values == value
        out[value] = " ".join(f"{s + 1} {n}" for s, n in zip(starts[pick].tolist(), lengths[pick].tolist()))
    return out


@dataclass
class RleExport:
    """What `write_rle_csv` wrote."""

    path: Path
    images: int = 0
    rows: int = 0
    by_class: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def encode_objects(mask: np.ndarray, order: str = "column") -> list[str]:
    """One RLE per 8-connected object of a (H, W) mask (skimage.measure.label's default in 2-D), in the
    order of their first pixel along the RLE's own pixel order."""
    import cv2

    count, objects = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return []
    runs = encode_classes(objects, order)
    return [runs[k] for k in sorted((k for k in runs if k), key=lambda k: int(runs[k].split(" ", 1)[0]))]


class _Encode:
    """One label map -> its (class value, RLE) pairs; picklable for worker processes."""

    def __init__(self, classes: dict[int, int], left_out: set[int], order: str, per_object: bool = False) -> None:
        self.classes, self.left_out, self.order, self.per_object = classes, left_out, order, per_object

    def __call__(self, row: ManifestRow) -> list[tuple[int, str]]:
        labels = load_row_mask(row, purpose="labels2rle")
        runs = encode_classes(labels, self.order)
        drawn = sorted(v for v in runs if v not in self.left_out)
        unknown = [v for v in drawn if v not in self.classes]
        if unknown:
            raise DataprepError(row.mask_str, f"value {unknown[0]} is not a class of the palette")
        if self.per_object:  # instance competitions (Airbus ships, nuclei): a row per object
            return [(self.classes[v], rle) for v in drawn for rle in encode_objects(labels == v, self.order)]
        return [(self.classes[v], runs[v]) for v in drawn]


def _image_ids(rows: list[ManifestRow], image_id: str, manifest: os.PathLike[str] | str) -> dict[str, str]:
    """Row id -> its ImageId, refused where two rows share one: a submission names each image once, and the
    second image's runs were written under the first one's name (`a/x.jpg` and `b/x.jpg` both `x.jpg`)."""
    names: dict[str, str] = {}
    first: dict[str, ManifestRow] = {}
    for row in rows:
        name = row.image.name if image_id == "name" else row.image.stem
        other = first.setdefault(name, row)
        if other is not row:
            same = other.image_str == row.image_str
            what = f"image {row.image_str}" if same else f"images {other.image_str} and {row.image_str}"
            hint = ("list each image once" if same else
                    "rename one image" + ("" if image_id == "name" or other.image.name == row.image.name
                                          else ", or pass --image-id name"))
            raise DataprepError(manifest, f"ids {other.id!r} and {row.id!r} would both be written as ImageId "
                                          f"{name!r} ({what}); {hint}")
        names[row.id] = name
    return names


def write_rle_csv(manifest: os.PathLike[str] | str, output: os.PathLike[str] | str, *,
                  palette: Palette | os.PathLike[str] | str | None = None, order: str = "column",
                  image_id: str = "name", per_object: bool = False, background: int | None = 0,
                  executor: Executor | None = None, on_error: OnError = "skip", quiet: bool = False) -> RleExport:
    """Write the label maps of `manifest` as a run-length CSV; a label map that fails is listed and left out
    (its image gets no row), the others are written, the file atomically. `per_object` writes a row per
    8-connected object of each class instead of one per class. `background` is the index left out as
    background (None: none is)."""
    if order not in RLE_ORDERS:
        raise UsageError(None, f"RLE order must be one of {', '.join(RLE_ORDERS)}, not {order!r}")
    if image_id not in IMAGE_IDS:
        raise UsageError(None, f"image id must be one of {', '.join(IMAGE_IDS)}, not {image_id!r}")
    rows = require_rows(read_manifest(manifest)).rows
    names = _image_ids(rows, image_id, manifest)
    found = resolve_palette(palette, manifest)
    if found is None:
        raise UsageError(manifest, "no palette.json beside the manifest; pass --palette (the label maps' classes)")
    real = found.class_indices
    if background is not None and background not in real and background != found.ignore_index:
        # A typo wrote every class, unsaid; the palette's ignore index (0 in some) is left out anyway.
        shown = ", ".join(map(str, real[:12])) + (", ..." if len(real) > 12 else "")
        raise UsageError(None, f"--background {background} is not a class of palette {found.name!r} (classes "
                               f"{shown}); give a class index, or none to write every class")
    classes = {c.index: (c.id if c.id is not None else c.index) for c in found.classes
               if not c.ignore and c.index != background}
    by_class = len(set(classes.values())) > 1
    encode = _Encode(classes, {found.ignore_index, background} - {None}, order, per_object)
    results = run_items(encode, rows, executor=executor, on_error=on_error, desc="labels2rle", quiet=quiet,
                        unit="label map")
    text = _io.StringIO()
    out = csv.writer(text, lineterminator="\n")
    out.writerow(["ImageId", "ClassId", "EncodedPixels"] if by_class else ["ImageId", "EncodedPixels"])
    report = RleExport(Path(output), by_class=by_class)
    left_out = next((c for c in found.classes if c.index == background and not c.ignore), None)
    if left_out is not None and left_out.name.strip().strip("_").lower() not in BACKGROUND_NAMES:
        report.warnings.append(f"class {background} {left_out.name!r} is left out as background; pass "
                               "--background none to write every class")
    for row, res in zip(rows, results):
        if not res.ok:
            report.errors.append(str(res.error))
            continue
        name = names[row.id]
        report.images += 1
        if by_class:
            lines = [[name, value, rle] for value, rle in res.value]
        elif per_object:
            lines = [[name, rle] for _, rle in res.value] or [[name, ""]]
        else:
            lines = [[name, " ".join(rle for _, rle in res.value)]]  # one class: at most one RLE
        out.writerows(lines)
        report.rows += len(lines)
    io.atomic_write_text(output, text.getvalue())
    return report

"""Run-length CSVs as Kaggle competitions ship them: `ImageId,EncodedPixels` (Airbus ships), `id,rle_mask`
(TGS salt), `ImageId,ClassId,EncodedPixels` or `ImageId_ClassId,EncodedPixels` (Severstal steel).

An RLE is `start length start length ...`, starts counted from 1, pixels numbered down each column, then
column after column (Kaggle's "top to bottom, then left to right"): pixel `x * height + y + 1`. Some
competitions number along rows instead (`order="row"`). Without an order given, on an image that is not
square, a mask that decodes to stripes is refused (the other order is named); on a square one the wrong
order gives the transposed mask, which nothing can tell from the right one: when the first images include
a square one, a warning says which order was used.

Starts are absolute unless `starts="relative"`: SIIM pneumothorax counts each start from the end of the
previous run; a CSV whose RLEs mostly have decreasing starts is refused, naming that option.

Several rows of one image are its regions (Airbus: one per ship), in file order. A class column gives the
class; the classes are those of every row, empty ones too (Understanding Clouds lists each class of an
image): whole numbers from 1 are the label indices themselves (Severstal's ClassId 1-4, also in a subset
where some never occur: index 3 stays class 3); whole numbers from 0 get indices 1.. in value order, the
number kept as the class's id; other values are names, sorted. An empty RLE (also `-1`,
`nan`) is an image without foreground; a row for it keeps the image in the dataset. Images the CSV
does not name are left out, or taken as images without foreground when asked (Severstal lists only the
images with a defect).
"""
from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import DataprepError, UsageError
from ..io import IMAGE_EXTENSIONS, has_extension, read_info
from .base import RLE_ORDERS, ClassSpec, Entry, ImportPlan, Region, field_error

_RLE_COLUMNS = ("encodedpixels", "rle_mask", "rle", "mask_rle", "segmentation", "annotation", "encoding")
_IMAGE_COLUMNS = ("imageid", "image_id", "id", "image", "image_name", "filename", "file_name", "img")
_CLASS_COLUMNS = ("classid", "class_id", "class", "category", "label")
# IMAGE_CLASS in one column: Severstal's first release ("0002cc93b.jpg_1"), Understanding Clouds ("0011165.jpg_Fish")
_COMPOSITES = ("imageid_classid", "image_label")
_EMPTY = ("", "-1", "nan")
_IMAGE_FOLDERS = ("", "train_images", "train", "images", "train/images", "train_v2")


RLE_STARTS = ("absolute", "relative")


def read_kaggle_rle(src: Path, *, images_dir: Path | None = None, order: str | None = None,
                    class_name: str | None = None, unlisted_background: bool = False,
                    starts: str | None = None) -> ImportPlan:
    """An ImportPlan from a run-length CSV; images are looked up in `images_dir` by name or by stem. Without
    an `order`, column-major, and masks that decode to stripes that way are refused. Images of that folder the
    CSV never names are left out (a warning counts them), or are images without foreground with
    `unlisted_background` (Severstal's train.csv lists only the images with a defect)."""
    checked = order is None
    order = order or "column"
    if order not in RLE_ORDERS:
        raise UsageError(None, f"RLE order must be one of {', '.join(RLE_ORDERS)}, not {order!r}")
    if starts not in (None, *RLE_STARTS):
        raise UsageError(None, f"RLE starts must be one of {', '.join(RLE_STARTS)}, not {starts!r}")
    records = _read_rows(src)
    if starts is None:
        _refuse_relative_starts(src, records)
    folder, by_name = _images_folder(src, images_dir, [image for _, image, _, _ in records])
    drawn = [(line, cls) for line, _, rle, cls in records if rle.strip().lower() not in _EMPTY]
    unnamed = next((line for line, cls in drawn if cls == ""), None)
    if unnamed is not None:
        raise field_error(src, f"line {unnamed}", "an RLE without a class in the class column")
    # Classes of empty rows too: Understanding Clouds lists every class of an image, empty or not, and a subset
    # without any Flower would number Gravel and Sugar otherwise.
    index_of, specs = _classes(src, [cls for _, _, _, cls in records if cls], class_name)
    plan = ImportPlan("kaggle-rle", specs, [])
    regions: dict[str, list[Region]] = defaultdict(list)
    first_line: dict[str, int] = {}
    broken: set[str] = set()  # an image with a malformed RLE fails alone, not half drawn
    for line, image, rle, cls in records:
        first_line.setdefault(image, line)
        if rle.strip().lower() in _EMPTY or image in broken:
            continue
        try:
            numbers = _numbers(rle, src, line, relative=starts == "relative")
        except DataprepError as exc:
            plan.errors.append(str(exc))
            broken.add(image)
            continue
        index = index_of[cls] if cls is not None else 1
        regions[image].append(Region(index, "kaggle_rle", (numbers, order, checked),
                                     instance=len(regions[image]) + 1, where=f"line {line}"))
    for image in sorted(set(first_line) - broken, key=first_line.__getitem__):
        path = by_name.get(image) or by_name.get(os.path.splitext(image)[0])
        if path is None and "/" in image and (folder / image).is_file():  # a path below the folder
            path = folder / image
        if path is None:
            plan.errors.append(str(DataprepError(folder / image, f"image not found (named on line "
                                                                 f"{first_line[image]} of {src})")))
            continue
        sample_id = Path(os.path.relpath(path, folder)).with_suffix("").as_posix()
        plan.entries.append(Entry(sample_id, path, src, tuple(regions[image])))
    listed = {e.image for e in plan.entries} | {folder / image for image in first_line}
    unlisted = sorted(set(by_name.values()) - listed)
    if unlisted and unlisted_background:
        plan.entries += [Entry(p.stem, p, src, ()) for p in unlisted]
    elif unlisted:
        plan.warnings.append(f"{len(unlisted)} images in {folder} (first {unlisted[0].name}) are named nowhere in "
                             f"{src.name}: left out; if the CSV lists only images with foreground (Severstal), "
                             "--unlisted-background takes them as images without any")
    if checked:
        _refuse_a_mixed_wrong_order(plan.entries)
    if checked and _any_square(plan.entries[:20]):
        plan.warnings.append("RLE pixels read as numbered down each column (--rle-order column, Kaggle's usual); "
                             "on square images the other order gives the transposed mask and cannot be told "
                             "apart: check a preview, or give --rle-order")
    return plan


def absolute_starts(numbers: np.ndarray) -> np.ndarray:
    """A relative RLE (SIIM pneumothorax: each start counts the pixels after the previous run's end, the first
    from 0) as the usual 1-based absolute one."""
    out = numbers.copy()
    position = 0  # 0-based pixel after the previous run
    for i in range(0, len(out), 2):
        position += int(numbers[i])
        out[i] = position + 1
        position += int(numbers[i + 1])
    return out


def _refuse_relative_starts(src: Path, records: list[tuple[int, str, str, str | None]]) -> None:
    """Refuse a CSV whose RLEs of several runs mostly have decreasing starts: a relative RLE (SIIM's), whose
    starts read as absolute ones drew 160 scattered pixels for a 15,294-pixel lung mask, exit 0. A few
    unsorted RLEs are drawn as their runs' union."""
    several = decreasing = 0
    example = None
    for line, _, rle, _ in records:
        values = rle.split()
        if len(values) < 4 or not all(v.isdigit() for v in values):
            continue
        several += 1
        begins = [int(v) for v in values[0::2]]
        drop = next((k for k in range(1, len(begins)) if begins[k] < begins[k - 1]), None)
        if drop is not None:
            decreasing += 1
            example = example or (line, begins[drop - 1], begins[drop])
    if example is not None and 2 * decreasing >= several:
        line, before, after = example
        raise DataprepError(src, f"the starts of {decreasing} of its {several} RLEs of several runs decrease "
                                 f"(line {line}: {before}, then {after}): a relative RLE, each start counting from "
                                 "the previous run's end (SIIM pneumothorax)? pass --rle-starts relative "
                                 "(--rle-starts absolute draws them as they are)")


_SIZES_READ = 200


def _refuse_a_mixed_wrong_order(entries: list[Entry], probes: int = 20) -> None:
    """Refuse the whole import when a non-square image shows the CSV is in the other pixel order and square
    images are among the rest: those would be written transposed, since no check can tell them (UW-Madison's
    row-major CSV: the 310x360 image refused, the 266x266 one written column-major, 7,984 pixels wrong)."""
    from .raster import rasterize

    sizes = {}
    for entry in entries[:_SIZES_READ]:  # headers only; a sample tells whether both kinds are there
        try:
            info = read_info(entry.image)
        except DataprepError:
            continue
        sizes[entry.image] = (info.width, info.height)
    if not any(w == h for w, h in sizes.values()):
        return  # every image is checked on its own
    tried = 0
    for entry in entries[:_SIZES_READ]:
        width, height = sizes.get(entry.image, (0, 0))
        if width == height or not entry.regions:
            continue
        tried += 1
        for region in entry.regions:
            try:
                rasterize(region.kind, region.label, region.data, height, width)
            except ValueError as exc:
                if "--rle-order" not in str(exc):
                    break  # a run past the image: that image fails alone, later
                raise DataprepError(entry.image, f"{exc}; the CSV's square images, which no check can tell, would "
                                                 "be written in the wrong order: nothing is imported") from None
        if tried >= probes:
            return


def _any_square(entries: list[Entry]) -> bool:
    """Whether any of these images is square (headers only; an unreadable one fails later, on its own)."""
    for entry in entries:
        try:
            info = read_info(entry.image)
        except DataprepError:
            continue
        if info.width == info.height:
            return True
    return False


def looks_like_rle_csv(head: str) -> bool:
    """Whether the first bytes of a CSV are a run-length CSV: an image and an RLE column in the header, and the
    first rows' RLE cells whole numbers in pairs or empty."""
    lines = [ln for ln in head.splitlines() if ln.strip()][:6]
    if len(lines) < 2:
        return False
    rows = list(csv.reader(lines))
    names = [h.strip().casefold() for h in rows[0]]
    rle = next((names.index(c) for c in _RLE_COLUMNS if c in names), None)
    if rle is None or not (any(c in names for c in _COMPOSITES) or any(c in names for c in _IMAGE_COLUMNS)):
        return False
    cells = [r[rle].split() for r in rows[1:] if len(r) == len(names)]
    return bool(cells) and all(len(c) % 2 == 0 and all(v.isdigit() for v in c) for c in cells)


def _read_rows(src: Path) -> list[tuple[int, str, str, str | None]]:
    """(line, image name, RLE, class or None) per data row."""
    try:
        text = src.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataprepError(src, f"unreadable: {exc}") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise DataprepError(src, "empty file")
    names = [h.strip().casefold() for h in header]
    rle_col = _pick(names, _RLE_COLUMNS, src, "run-length", header)
    composite = next((c for c in _COMPOSITES if c in names), None)
    image_col = names.index(composite) if composite else _pick(names, _IMAGE_COLUMNS, src, "image", header)
    class_col = None if composite else next((names.index(c) for c in _CLASS_COLUMNS if c in names), None)
    records = []
    for line, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise field_error(src, f"line {line}", f"{len(row)} fields, the header has {len(header)}")
        image, cls = row[image_col].strip(), row[class_col].strip() if class_col is not None else None
        if composite:
            image, sep, cls = image.rpartition("_")
            if not sep or not image:
                raise field_error(src, f"line {line}", f"{header[image_col]} {row[image_col]!r} is not IMAGE_CLASS")
        if not image:
            raise field_error(src, f"line {line}", f"no image name in column {header[image_col]!r}")
        records.append((line, image, row[rle_col], cls))
    if not records:
        raise DataprepError(src, "no rows below the header")
    return records


def _pick(names: list[str], known: tuple[str, ...], src: Path, what: str, header: list[str]) -> int:
    for name in known:
        if name in names:
            return names.index(name)
    raise DataprepError(src, f"no {what} column: the header is {','.join(header)!r}; expected one of "
                             f"{', '.join(known)}")


def _numbers(rle: str, src: Path, line: int, relative: bool = False) -> np.ndarray:
    """The RLE's numbers, absolute 1-based starts (a relative RLE converted: its starts may be 0)."""
    try:
        numbers = np.array(rle.split(), np.int64)
    except (ValueError, OverflowError):  # OverflowError: a number past int64 (a corrupt cell), not a traceback
        raise field_error(src, f"line {line}",
                          f"RLE {rle[:40]!r} holds something other than whole numbers") from None
    if len(numbers) % 2:
        raise field_error(src, f"line {line}",
                          f"RLE has {len(numbers)} numbers; start/length pairs need an even count")
    if relative and len(numbers) and numbers[0::2].min() < 0:
        raise field_error(src, f"line {line}", f"RLE start {int(numbers[0::2].min())}: relative starts count from 0")
    if relative:
        numbers = absolute_starts(numbers)
    if len(numbers) and numbers[0::2].min() < 1:
        raise field_error(src, f"line {line}", f"RLE start {int(numbers[0::2].min())}: starts count from 1")
    if len(numbers) and numbers[1::2].min() < 1:
        raise field_error(src, f"line {line}",
                          f"RLE run length {int(numbers[1::2].min())}: lengths are at least 1")
    return numbers


def _classes(src: Path, values: list[str | None], class_name: str | None) -> tuple[dict[str, int], list[ClassSpec]]:
    """(class value -> label index, the classes in index order, background first)."""
    found = sorted({v for v in values if v is not None})
    if not found:
        return {}, [ClassSpec("background"), ClassSpec(class_name or "foreground")]
    if class_name is not None:
        raise UsageError(src, "--class-name names the one class of a file without a class column; this one has one")
    whole = {v: _whole_number(v) for v in found}
    if all(n is not None and 1 <= n <= 254 for n in whole.values()):
        # The numbers are the indices, gaps kept: a subset without class 2 still labels class 3 as 3.
        top = max(n for n in whole.values() if n is not None)
        return ({v: n for v, n in whole.items() if n is not None},
                [ClassSpec("background")] + [ClassSpec(f"class_{i}", id=i) for i in range(1, top + 1)])
    if all(n is not None for n in whole.values()):
        # Numbers from 0 (iMaterialist's ClassId 0..45): indices 1.. by value, each keeping its number as id, so
        # labels2rle writes them back (sorted as text, 10 came before 2 and the ids were lost).
        by_value = sorted({n for n in whole.values() if n is not None})
        position = {n: i + 1 for i, n in enumerate(by_value)}
        return ({v: position[n] for v, n in whole.items() if n is not None},
                [ClassSpec("background")] + [ClassSpec(f"class_{n}", id=n) for n in by_value])
    return {v: i + 1 for i, v in enumerate(found)}, [ClassSpec("background")] + [ClassSpec(v) for v in found]


def _whole_number(value: str) -> int | None:
    """3 for "3" and for "3.0", as pandas writes a class column that held a NaN (read as names, "1.0", "3.0" and
    "4.0" became indices 1, 2, 3: class 3 moved to 2, unsaid); None for anything else."""
    digits, dot, zeros = value.partition(".")
    if digits.isdigit() and (not dot or zeros and set(zeros) == {"0"}):
        return int(digits)
    return None


def _images_folder(src: Path, images_dir: Path | None, names: list[str]) -> tuple[Path, dict[str, Path]]:
    """The folder the CSV's names are found in, and its `_index`."""
    if images_dir is not None:
        return images_dir, _index(images_dir)
    probes = list(dict.fromkeys(names))[:20]
    best: tuple[Path, dict[str, Path]] | None = None
    hits = -1  # the CSV's own folder ("" comes first) wins when no folder holds any
    for sub in _IMAGE_FOLDERS:
        folder = src.parent / sub
        if folder.is_dir():
            index = _index(folder)
            n = sum(1 for p in probes if p in index or os.path.splitext(p)[0] in index)
            if n > hits:
                best, hits = (folder, index), n
    assert best is not None  # the CSV's folder exists
    return best


def _index(folder: Path) -> dict[str, Path]:
    """Image files directly in `folder`, by name and by stem (a stem two files share is left out)."""
    by_name: dict[str, Path] = {}
    stems: dict[str, list[Path]] = defaultdict(list)
    for entry in os.scandir(folder):
        if entry.is_file() and has_extension(entry.name, IMAGE_EXTENSIONS):
            by_name[entry.name] = Path(entry.path)
            stems[os.path.splitext(entry.name)[0]].append(Path(entry.path))
    return {**{s: p[0] for s, p in stems.items() if len(p) == 1}, **by_name}

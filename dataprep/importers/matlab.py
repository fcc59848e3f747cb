"""Label maps stored as MATLAB `.mat` files, one per image: SBD's `cls/*.mat` (struct `GTcls`, field
`Segmentation`: the VOC-aug labels), PASCAL-Context's `trainval/*.mat` (`LabelMap`), Clothing Co-Parsing's
`annotations/pixel-level/*.mat` (`groundtruth`).

The array's values are the class indices. The variable is the file's one 2-D integer array (or struct field
holding one); `variable="GTcls.Segmentation"` names it where there are several. Class names come from a
labels file: a text file, one name per line in index order, or a `.mat` holding a cell array of names
(CCP's `label_list.mat`); without one, `class_N`. 255 is the ignore index when there are fewer classes (VOC's
boundary value). MATLAB v7.3 files are HDF5, which scipy does not read: they are refused, naming the file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataprepError, UsageError
from ..executor import Executor, run_items
from ..io import IMAGE_EXTENSIONS, has_extension
from ..layout import strip_mask_suffix
from .base import ClassSpec, Entry, ImportPlan, Region

VOID = 255  # VOC's boundary value: ignore, when it is no class index
_IMAGE_FOLDERS = ("img", "images", "JPEGImages", "photos", "image")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def read_matlab(src: Path, *, images_dir: Path | None = None, variable: str | None = None,
                labels_file: Path | None = None, executor: Executor | None = None,
                quiet: bool = False) -> ImportPlan:
    """An ImportPlan of the `.mat` files under `src` (a folder, or one file), each paired with the image of its
    stem in `images_dir` (default: a folder beside `src` or one level up holding those stems)."""
    src = Path(src)
    files = [src] if src.is_file() else sorted(p for p in src.rglob("*.mat") if not p.name.startswith("."))
    if not files:
        raise UsageError(src, "no .mat files found")
    root = src.parent if src.is_file() else src
    if images_dir is not None:
        folder, stems = images_dir, _stems(images_dir)
    else:
        folder, stems = _images_folder(root, [strip_mask_suffix(p.stem) for p in files[:20]] +
                                       [p.stem for p in files[:20]])
    names = _label_names(labels_file) if labels_file is not None else None
    if variable is None:
        try:  # one file tells for all: CrackForest's groundTruth.Segmentation and .Boundaries, in each of 118
            load_label_array(files[0], None)
        except SeveralArrays as exc:
            raise UsageError(exc.path, exc.reason) from None
        except DataprepError:
            pass  # that file's own fault: reported with it below
    plan = ImportPlan("mat", [], [])
    found: list[tuple[str, Path, Path]] = []
    for path in files:
        sample_id = path.relative_to(root).with_suffix("").as_posix()
        image = stems.get(sample_id) or stems.get(path.stem)
        bare = strip_mask_suffix(path.stem)  # MSRC's 1_1_s_GT.mat beside Images/1_1_s.bmp
        if image is None and bare != path.stem and bare in stems:
            image, sample_id = stems[bare], sample_id[: -len(path.stem)] + bare
        if image is None:
            plan.errors.append(str(DataprepError(path, f"no image named {path.stem} in {folder}")))
            continue
        found.append((sample_id, image, path))
    unlabelled = len(set(stems.values()) - {image for _, image, _ in found})
    if unlabelled and src.is_dir():  # CrackForest: image/201-329.jpg have no groundTruth/*.mat
        plan.warnings.append(f"{unlabelled} image(s) in {folder} have no .mat label map and are left out")
    if names is None:  # the class count is the highest value found: a pass over the files before any is written
        highest = 0
        results = run_items(_HighestLabel(variable), [path for _, _, path in found], executor=executor,
                            desc="import mat: classes", quiet=quiet, unit="file")
        for result in results:
            if not result.ok:
                plan.errors.append(str(result.error))
            else:
                highest = max(highest, result.value)
        failed = {i for i, result in enumerate(results) if not result.ok}
        found = [item for i, item in enumerate(found) if i not in failed]
        count = highest + 1
    else:  # each file is checked against the list when it is written
        count = len(names)
    plan.classes = [ClassSpec(names[i] if names is not None else f"class_{i}") for i in range(count)]
    plan.entries = [Entry(sample_id, image, path, (Region(0, "mat_labels", (str(path), variable, count)),))
                    for sample_id, image, path in found]
    return plan


class _HighestLabel:
    """The highest class value of a `.mat` label array (VOC's 255 void left out); picklable for the executor."""

    def __init__(self, variable: str | None) -> None:
        self.variable = variable

    def __call__(self, path: Path) -> int:
        present = np.flatnonzero(np.bincount(load_label_array(path, self.variable).ravel()))
        present = present[present != VOID]  # far cheaper than np.unique on a label map
        return int(present.max()) if len(present) else 0


class SeveralArrays(DataprepError):
    """A file holds several label-like arrays and no variable was named: every file of the export will too."""


class SegmentNumbers(SeveralArrays):
    """The map holds segment numbers beside a table of their classes: every file of the export will too."""


def load_label_array(path: Path, variable: str | None) -> np.ndarray:
    """The (H, W) label array of a `.mat` file, in an unsigned integer type."""
    import scipy.io

    with open(path, "rb") as f:
        head = f.read(520)
    if b"MATLAB 7.3" in head[:128] or head[512:520] == _HDF5_MAGIC:
        raise DataprepError(path, "a MATLAB v7.3 (HDF5) file, which scipy cannot read: save it with "
                                  "save(..., '-v7') or convert it to PNG")
    try:
        data = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except Exception as exc:  # noqa: BLE001 - a damaged file raises IndexError, MatReadError, ValueError...
        raise DataprepError(path, f"not a readable .mat file: {exc or type(exc).__name__}") from None
    lookup = _LOOKUP.fullmatch(variable) if variable is not None else None
    if lookup is not None:  # TABLE[MAP]: MSRC's newlabels[newseg], a class per segment number (1-based)
        return _looked_up(path, data, lookup["table"], lookup["map"])
    found = {name: value for name, value in _arrays(data) if variable is None or name == variable}
    if not found:  # MATLAB's own type is double: a map made with zeros(h, w) holds its classes as whole doubles
        found = {name: value for name, value in _arrays(data, whole_floats=True)
                 if variable is None or name == variable}
    if variable is None and len(found) == 1:
        _refuse_segment_numbers(path, data, *next(iter(found.items())))
    if variable is not None and not found:
        known = ", ".join(name for name, _ in _arrays(data, whole_floats=True)) or "none"
        raise DataprepError(path, f"no 2-D integer array {variable!r}; the file holds: {known}")
    if not found:
        raise DataprepError(path, "no 2-D integer array (a label map) in the file")
    if len(found) > 1:
        raise SeveralArrays(path, f"several 2-D integer arrays ({', '.join(found)}): name one with --variable")
    array = next(iter(found.values()))
    if array.dtype == bool:
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if array.min() < 0 or array.max() >= 2 ** 32:
            raise DataprepError(path, f"label values must be 0 to 2**32 - 1, found {array.min():g} to {array.max():g}")
        return array.astype(np.uint32)
    if np.issubdtype(array.dtype, np.signedinteger):
        if array.min() < 0:
            raise DataprepError(path, f"label values must be 0 or more, found {int(array.min())}")
        return array.astype(np.uint32)
    return array


_LOOKUP = re.compile(r"(?P<table>[A-Za-z_]\w*)\[(?P<map>[A-Za-z_][\w.]*)\]")


def _tables(data: dict[str, Any]) -> dict[str, np.ndarray]:
    """The top-level integer vectors (a 1-element one squeezed to a scalar by scipy counts too)."""
    return {name: np.atleast_1d(np.asarray(value)) for name, value in data.items() if not name.startswith("__")
            and isinstance(value, (np.ndarray, np.integer, int)) and not isinstance(value, bool)
            and np.ndim(value) <= 1 and np.issubdtype(np.asarray(value).dtype, np.integer)}


def _refuse_segment_numbers(path: Path, data: dict[str, Any], name: str, array: np.ndarray) -> None:
    """A map of 1..N beside a vector of N - 1 or N values: segment numbers with a class per segment (MSRC v2's
    newseg and newlabels), which read as classes made 18 'classes' of segment numbers, exit 0."""
    if not array.size or int(array.min()) < 1:
        return
    present = np.flatnonzero(np.bincount(array.ravel()))
    top = int(present[-1])
    if len(present) != top:  # segment numbers run 1..N without a gap
        return
    for table, values in _tables(data).items():
        # A class table by name (newlabels), one class per segment (or the last one void), and no mere list of
        # the classes present (SBD's CategoriesPresent beside a class map holds the map's own values).
        if not re.search(r"(?i)label|class", table) or top not in (len(values), len(values) + 1):
            continue
        if set(np.asarray(values).tolist()) == set(present.tolist()):
            continue
        raise SegmentNumbers(path, f"{name} holds 1..{top} and {table} ({len(values)} values): segment numbers "
                                   f"with a class for each, not classes; read them as classes with --variable "
                                   f"'{table}[{name}]' (a segment past the table's end is ignore)")


def _looked_up(path: Path, data: dict[str, Any], table_name: str, map_name: str) -> np.ndarray:
    arrays = dict(_arrays(data))
    table = _tables(data).get(table_name)
    if map_name not in arrays or table is None:
        raise DataprepError(path, f"--variable {table_name}[{map_name}]: needs a 2-D integer array {map_name!r} and "
                                  f"an integer vector {table_name!r}; the file holds: {', '.join(arrays) or 'none'}")
    segments = arrays[map_name].astype(np.int64)
    lut = np.full(max(int(segments.max(initial=0)), len(table)) + 1, VOID, np.int64)
    lut[1 : len(table) + 1] = table  # MATLAB numbers from 1
    return lut[segments].astype(np.uint32)


def _arrays(data: dict[str, Any], whole_floats: bool = False) -> list[tuple[str, np.ndarray]]:
    """(name, array) of every 2-D integer array at the top level or one struct field down (`GTcls.Segmentation`);
    with `whole_floats`, floating-point arrays of whole numbers too."""
    out = []
    for name, value in data.items():
        if name.startswith("__"):
            continue
        if _is_label_array(value, whole_floats):
            out.append((name, value))
        elif hasattr(value, "_fieldnames"):  # a MATLAB struct
            out += [(f"{name}.{field}", getattr(value, field)) for field in value._fieldnames
                    if _is_label_array(getattr(value, field), whole_floats)]
    return out


def _is_label_array(value: Any, whole_floats: bool = False) -> bool:
    if not (isinstance(value, np.ndarray) and value.ndim == 2 and min(value.shape) > 1):
        return False
    if np.issubdtype(value.dtype, np.integer) or value.dtype == bool:
        return True
    return (whole_floats and np.issubdtype(value.dtype, np.floating) and bool(np.isfinite(value).all())
            and bool((value == np.trunc(value)).all()))


def _label_names(path: Path) -> list[str]:
    if path.suffix.lower() == ".mat":
        import scipy.io

        try:
            data = scipy.io.loadmat(path, squeeze_me=True)
        except Exception as exc:  # noqa: BLE001 - as in load_label_array
            raise DataprepError(path, f"not a readable .mat file: {exc or type(exc).__name__}") from None
        cells = [v for k, v in data.items() if not k.startswith("__") and isinstance(v, np.ndarray)
                 and v.dtype == object and v.ndim == 1 and all(isinstance(x, str) for x in v)]
        if len(cells) != 1:
            raise DataprepError(path, "expected one cell array of class names")
        return [str(x) for x in cells[0]]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataprepError(path, f"unreadable: {exc}") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise DataprepError(path, "empty file: expected one class name per line")
    return names


def _images_folder(root: Path, stems: list[str]) -> tuple[Path, dict[str, Path]]:
    """The folder beside `root` holding most of these stems (else beside its parent), and its `_stems`.

    The nearer level wins whenever a folder there holds any: a folder one level up with more
    of the names (another dataset's `a.png`, `b.png`) must not take the images of `img/`.
    """
    for base in (root.parent, root.parent.parent):
        if not base.is_dir():
            continue
        candidates = sorted((d for d in base.iterdir() if d.is_dir() and d != root),
                            key=lambda d: (d.name not in _IMAGE_FOLDERS, d.name))
        best, hits = None, 0
        for folder in candidates:
            have = _stems(folder)
            n = sum(1 for s in stems if s in have)
            if n > hits:
                best, hits = (folder, have), n
        if best is not None:
            return best
    return root, _stems(root)


def _stems(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for entry in os.scandir(folder):
        if entry.is_file() and has_extension(entry.name, IMAGE_EXTENSIONS):
            found.setdefault(os.path.splitext(entry.name)[0], Path(entry.path))
    return found

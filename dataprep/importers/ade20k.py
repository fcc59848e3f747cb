"""ADE20K's full release (`ADE20K_2021_17_01/images/ADE/<split>/<scene>/`): `x.jpg` beside `x_seg.png`, whose
colours are codes, not classes: red / 10 * 256 + green is the object class (ADE's `name_ndx`, up to 3688), blue
the instance, and 0 the pixels nobody labelled. `x.json` names each object's class.

Read as colours, one class is as many colours as it has instances (a street of 4 classes read as 20): every
pixel-type path would split it. Here the codes become indices 0..K-1 in code order over the classes the set
holds, named from the JSON files (`class_<code>` without one), and 0 becomes the ignore index (MMSegmentation's
150-class ADE ignores its unlabelled 0 too). The palette keeps each code as the class's `id`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import DataprepError, UsageError
from ..executor import Executor, run_items
from ..io import read_mask
from ..palette.ade20k import FULL_RELEASE_SEG_SUFFIX as SEG_SUFFIX
from ..palette.ade20k import full_release_codes
from .base import ClassSpec, Entry, ImportPlan, Region

UNLABELLED = 0  # ADE's code of pixels outside every object


def read_ade20k(src: Path, *, images_dir: Path | None = None, labels_file: Path | None = None,
                executor: Executor | None = None, quiet: bool = False) -> ImportPlan:
    """An ImportPlan of the `*_seg.png` files under `src` (a folder, or one file), each with the `.jpg` of its
    name beside it (or in `images_dir`). `labels_file`: the palette.json of an earlier ade20k import, whose
    indices (by their codes) this one keeps, so that splits imported apart agree."""
    src = Path(src)
    files = [src] if src.is_file() else sorted(p for p in src.rglob(f"*{SEG_SUFFIX}") if not p.name.startswith("."))
    if not files or not files[0].name.endswith(SEG_SUFFIX):
        raise UsageError(src, f"no ADE20K {SEG_SUFFIX} files found")
    root = src.parent if src.is_file() else src
    plan = ImportPlan("ade20k", [], [])
    found: list[tuple[str, Path, Path]] = []
    for path in files:
        stem = path.name[: -len(SEG_SUFFIX)]
        image = (images_dir / path.relative_to(root).parent if images_dir else path.parent) / f"{stem}.jpg"
        if not image.is_file():
            plan.errors.append(str(DataprepError(path, f"no image {image.name} beside it")))
            continue
        found.append((path.relative_to(root).parent.joinpath(stem).as_posix(), image, path))
    results = run_items(_codes_and_names, [path for _, _, path in found], executor=executor,
                        desc="import ade20k: classes", quiet=quiet, unit="file")
    codes: set[int] = set()
    names: dict[int, str] = {}
    kept = []
    for item, result in zip(found, results):
        if not result.ok:
            plan.errors.append(str(result.error))
            continue
        present, named = result.value
        codes.update(present)
        for code, name in named.items():
            names.setdefault(code, name)
        kept.append(item)
    ordered = sorted(codes - {UNLABELLED})
    if labels_file is not None:
        ordered, names = _pinned_codes(labels_file, ordered, names)
    else:  # the indices depend on which classes this folder holds: sky was 15 in training, 11 in validation
        plan.warnings.append(f"classes are numbered by the {len(ordered)} class codes these files hold: a split "
                             "imported on its own numbers them otherwise; import it with --labels "
                             "DEST/palette.json (this import's) to keep these indices")
    unnamed = [code for code in ordered if code not in names]
    if unnamed:  # ADE's x.json names every object; without them the classes are numbers
        plan.warnings.append(f"{len(unnamed)} class code(s) no x.json names (e.g. {unnamed[0]}): called "
                             "class_<code>; the images' JSON files give their names")
    plan.classes = [ClassSpec(names.get(code, f"class_{code}"), id=code) for code in ordered]
    plan.ignore_name = "unlabelled"
    lookup = tuple(ordered)
    plan.entries = [Entry(sample_id, image, path, (Region(0, "ade20k_seg", (str(path), lookup)),))
                    for sample_id, image, path in kept]
    return plan


def _pinned_codes(labels_file: Path, found: list[int], names: dict[int, str]) -> tuple[list[int], dict[int, str]]:
    """The codes of an earlier import's palette in its index order; a code this set holds that it lacks is
    refused (a new index would shift nothing, but the model trained on the earlier import has no such class)."""
    from ..palette import load_palette

    palette = load_palette(labels_file)
    classes = sorted((c for c in palette.classes if not c.ignore), key=lambda c: c.index)
    if not classes or any(c.id is None for c in classes) or [c.index for c in classes] != list(range(len(classes))):
        raise UsageError(labels_file, "--labels for ade20k: the palette.json of an earlier `import ade20k` "
                                      "(every class with its code as id, indices 0..K-1)")
    ordered = [int(c.id) for c in classes]  # type: ignore[arg-type]
    missing = [code for code in found if code not in set(ordered)]
    if missing:
        shown = ", ".join(f"{code} ({names.get(code, 'unnamed')})" for code in missing[:3])
        raise UsageError(labels_file, f"{len(missing)} class code(s) of these files are not in it: {shown}; "
                                      "import the splits together, or without --labels")
    return ordered, {**{int(c.id): c.name for c in classes}, **names}  # type: ignore[arg-type]


def class_codes(path: Path) -> np.ndarray:
    """The (H, W) class codes of a `_seg.png` (red / 10 * 256 + green), refusing a file that is no such code."""
    seg = read_mask(path)
    if seg.ndim != 3 or seg.shape[2] < 3 or seg.dtype != np.uint8:
        raise DataprepError(path, f"not an ADE20K {SEG_SUFFIX}: expected 8-bit RGB, got shape {seg.shape} "
                                  f"{seg.dtype}")
    codes = full_release_codes(seg)
    if codes is None:
        red = np.flatnonzero(np.bincount(seg[:, :, 0].ravel(), minlength=256))
        raise DataprepError(path, f"not an ADE20K {SEG_SUFFIX}: red values must be multiples of 10 (class "
                                  f"codes), found {', '.join(str(v) for v in red[red % 10 != 0][:3])}")
    return codes


def _codes_and_names(path: Path) -> tuple[list[int], dict[int, str]]:
    present = np.flatnonzero(np.bincount(class_codes(path).ravel())).tolist()
    return present, _json_names(path.with_name(path.name[: -len(SEG_SUFFIX)] + ".json"))


def _json_names(path: Path) -> dict[int, str]:
    """code -> class name of the whole objects (not parts) that an ADE20K image JSON lists; {} without one."""
    if not path.is_file():
        return {}
    try:
        objects = json.loads(path.read_bytes())["annotation"]["object"]
        return {int(o["name_ndx"]): str(o["name"]) for o in objects
                if int((o.get("parts") or {}).get("part_level", 0)) == 0}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataprepError(path, f"not an ADE20K annotation JSON ({type(exc).__name__}: {exc})") from None


def ade20k_label_image(data: tuple[str, tuple[int, ...]], height: int, width: int, ignore_index: int,
                       dtype: type) -> np.ndarray:
    """A `_seg.png` as class indices: each code's place in the plan's codes; unlabelled to ignore."""
    path, ordered = Path(data[0]), np.asarray(data[1], np.int64)
    codes = class_codes(path)
    if codes.shape != (height, width):
        raise DataprepError(path, f"{codes.shape[1]}x{codes.shape[0]} but its image is {width}x{height}")
    lut = np.full(int(codes.max()) + 1, ignore_index, np.int64)
    listed = np.flatnonzero(ordered < len(lut))
    lut[ordered[listed]] = listed
    unknown = np.setdiff1d(np.flatnonzero(np.bincount(codes.ravel())), np.append(ordered, UNLABELLED))
    if len(unknown):  # the file changed since the classes were gathered
        raise DataprepError(path, f"class codes not gathered from it: {', '.join(map(str, unknown[:5]))}")
    return lut.astype(dtype)[codes]

"""Per-instance mask folders, the Data Science Bowl 2018 layout: `ID/images/ID.png` + `ID/masks/*.png`.

Every mask file is one instance (non-zero pixels; JPEG masks above half their brightest value).
Masks directly in `masks/`
belong to one foreground class; masks in sub-folders `masks/CLASS/*.png` belong
to the class named after the folder (classes sorted by name, after background 0).
Instances are numbered 1, 2, ... in file order for the optional instance map.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataprepError, UsageError
from ..io import IMAGE_EXTENSIONS, MASK_EXTENSIONS, has_extension
from .base import ClassSpec, Entry, ImportPlan, Region


def _files(folder: Path, extensions: frozenset[str]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and has_extension(p, extensions))


def read_instances(src: Path, *, class_name: str = "foreground") -> ImportPlan:
    src = Path(src)
    samples = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    samples = [p for p in samples if (p / "images").is_dir() or (p / "masks").is_dir()]
    if not samples:
        raise UsageError(src, "no ID/images + ID/masks folders found (Data Science Bowl layout)")
    class_dirs = sorted({d.name for s in samples if (s / "masks").is_dir() for d in (s / "masks").iterdir()
                         if d.is_dir() and not d.name.startswith(".")})
    names = class_dirs or [class_name]
    index = {n: i + 1 for i, n in enumerate(names)}
    plan = ImportPlan("instances", [ClassSpec("background")] + [ClassSpec(n) for n in names], [])
    empty: list[str] = []
    for sample in samples:
        images = _files(sample / "images", IMAGE_EXTENSIONS) if (sample / "images").is_dir() else []
        if not images:
            plan.errors.append(str(DataprepError(sample / "images", "no image found")))
            continue
        if len(images) > 1:
            plan.errors.append(str(DataprepError(sample / "images", f"{len(images)} images; expected one")))
            continue
        masks: list[tuple[int, Path]] = []
        mask_root = sample / "masks"
        if mask_root.is_dir():
            if class_dirs:
                loose = _files(mask_root, MASK_EXTENSIONS)
                if loose:
                    plan.errors.append(str(DataprepError(loose[0], "mask outside a class folder, while other "
                                                                   "samples sort masks into class folders")))
                    continue
                for name in class_dirs:
                    if (mask_root / name).is_dir():
                        masks += [(index[name], p) for p in _files(mask_root / name, MASK_EXTENSIONS)]
            else:
                masks = [(1, p) for p in _files(mask_root, MASK_EXTENSIONS)]
        regions = tuple(Region(label, "mask_file", str(p), instance=n + 1) for n, (label, p) in enumerate(masks))
        plan.entries.append(Entry(sample.name, images[0], mask_root, regions))
        if not masks:
            empty.append(sample.name)
    if empty:  # DSB 2018: a masks/ folder whose files were lost became an all-background label map, unsaid
        plan.warnings.append(f"{len(empty)} sample(s) have no mask file (e.g. {empty[0]}): written as all "
                             "background; --skip-empty leaves them out")
    return plan

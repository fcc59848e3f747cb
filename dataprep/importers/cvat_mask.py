"""CVAT "Segmentation mask 1.1" exports: `labelmap.txt` + colour masks in `SegmentationClass/`.

The colours are read from `labelmap.txt` (`name:r,g,b:parts:actions`), never
guessed: a class's index is its line in the label map (background first, 0).
A mask colour the label map does not list fails that mask, naming the colours.
Images: `JPEGImages/` of the export, or `--images DIR`, matched by file stem.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataprepError, UsageError
from ..io import IMAGE_EXTENSIONS, MASK_EXTENSIONS
from ..paths import walk_files
from .base import IGNORE, ClassSpec, Entry, ImportPlan, Region, field_error


# Label map entries that are no class: VOC's void colour, or a name saying so (datumaro's VOC label map ends
# with `ignored:224,224,192`, which became a 22nd class trained on the boundary bands).
VOID_COLOUR = (224, 224, 192)
VOID_NAMES = frozenset({"ignored", "ignore", "__ignore__", "void", "unlabeled_void"})


def is_void(spec: ClassSpec) -> bool:
    return spec.color == VOID_COLOUR or spec.name.strip().lower() in VOID_NAMES


def read_labelmap(path: Path) -> list[ClassSpec]:
    """The label map's entries in index order (background first), void entries (`is_void`) among them."""
    if not path.is_file():
        raise DataprepError(path, "file not found (every Segmentation mask 1.1 export has one)")
    text = path.read_text(encoding="utf-8-sig")
    specs: list[ClassSpec] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) < 2:
            raise field_error(path, f"line {line_no}", "expected 'name:r,g,b:parts:actions'")
        try:
            rgb = tuple(int(v) for v in parts[1].split(","))
        except ValueError:
            rgb = ()
        if len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb):
            raise field_error(path, f"line {line_no}", f"colour must be 'r,g,b' (0..255), not {parts[1]!r}")
        specs.append(ClassSpec(parts[0].strip(), rgb))  # type: ignore[arg-type]
    if not specs:
        raise DataprepError(path, "empty file: no labels listed")
    colours: dict[tuple[int, ...], str] = {}
    for spec in specs:
        other = colours.setdefault(spec.color, spec.name)  # type: ignore[arg-type]
        if other != spec.name:
            raise DataprepError(path, f"colour {spec.color} is given to both {other!r} and {spec.name!r}")
    names = [s.name.lower() for s in specs]
    if "background" in names and names.index("background") != 0:
        specs.insert(0, specs.pop(names.index("background")))
    elif "background" not in names:
        specs.insert(0, ClassSpec("background", (0, 0, 0) if (0, 0, 0) not in colours else None))
    return specs


def read_cvat_masks(src: Path, *, images_dir: Path | None = None) -> ImportPlan:
    src = Path(src)
    if not src.is_dir():
        raise UsageError(src, "give the export's folder (with labelmap.txt and SegmentationClass/)")
    listed = read_labelmap(src / "labelmap.txt")
    specs = [spec for spec in listed if not is_void(spec)]
    void = [spec for spec in listed if is_void(spec)]
    masks_dir = src / "SegmentationClass"
    if not masks_dir.is_dir():
        raise DataprepError(masks_dir, "folder not found (Segmentation mask 1.1 keeps class masks there)")
    folder = images_dir or src / "JPEGImages"
    by_stem: dict[str, Path] = {}
    if folder.is_dir():
        for rel in walk_files(folder, IMAGE_EXTENSIONS):
            by_stem.setdefault(Path(rel).with_suffix("").as_posix(), folder / rel)
    table = {spec.color: i for i, spec in enumerate(specs) if spec.color is not None}
    table.update({spec.color: IGNORE for spec in void if spec.color is not None})
    plan = ImportPlan("cvat-mask", specs, [])
    if void:
        plan.warnings.append(f"label map entries {', '.join(f'{s.name!r} {s.color}' for s in void)} are void "
                             "(VOC's boundary colour or an ignore name): drawn as the ignore index, not a class")
    for rel in walk_files(masks_dir, MASK_EXTENSIONS):
        sid = Path(rel).with_suffix("").as_posix()
        image = by_stem.get(sid)
        if image is None:
            hint = "" if images_dir else "; pass --images DIR (exports without images have no JPEGImages/)"
            plan.errors.append(str(DataprepError(masks_dir / rel, f"no image named {sid}.* in {folder}{hint}")))
            continue
        plan.entries.append(Entry(sid, image, masks_dir / rel,
                                  (Region(0, "colour_mask", (str(masks_dir / rel), table)),)))
    if not plan.entries and not plan.errors:
        raise DataprepError(masks_dir, "no masks found")
    return plan

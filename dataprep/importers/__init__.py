"""Annotation-tool exports -> class-index label maps, `palette.json` and a manifest (`dataprep import`).

One small module per format parses the export into an `ImportPlan`
(`base.py`); `run.import_dataset` rasterizes, paints and writes for all of
them alike. `import_annotations` is the one call the CLI makes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..paths import Inputs
from ..executor import Executor, OnError
from .base import BOX_MODES, RLE_ORDERS, ClassSpec, Entry, ImportPlan, Region
from .paint import ORDERS, OVERLAPS, Order, Overlap
from .run import ImportReport, import_dataset

FORMATS: tuple[str, ...] = ("coco", "labelme", "yolo", "instances", "cvat", "cvat-mask", "coco-panoptic", "via",
                            "label-studio", "kaggle-rle", "mat", "supervisely", "ade20k")


def read_plan(fmt: str, src: Path, out_dir: Path, *, executor: Executor | None = None, quiet: bool = False,
              **options: Any) -> ImportPlan:
    """Parse an export of `fmt` into an ImportPlan (format-specific options as keywords)."""
    if fmt == "coco":
        from .coco import read_coco

        return read_coco(src, images_dir=options.get("images_dir"), keep_crowd=options.get("keep_crowd", False),
                         boxes=options.get("boxes") or "skip")
    if fmt == "labelme":
        from .labelme import DEFAULT_LINE_WIDTH, read_labelme

        return read_labelme(src, out_dir, labels_file=options.get("labels_file"),
                            line_width=options.get("line_width") or DEFAULT_LINE_WIDTH)
    if fmt == "yolo":
        from .yolo import read_yolo

        return read_yolo(src, boxes=options.get("boxes") or "skip")
    if fmt == "instances":
        from .instances import read_instances

        return read_instances(src, class_name=options.get("class_name") or "foreground")
    if fmt == "cvat":
        from .cvat import read_cvat_xml

        return read_cvat_xml(src, images_dir=options.get("images_dir"))
    if fmt == "cvat-mask":
        from .cvat_mask import read_cvat_masks

        return read_cvat_masks(src, images_dir=options.get("images_dir"))
    if fmt == "coco-panoptic":
        from .coco_panoptic import read_coco_panoptic

        return read_coco_panoptic(src, images_dir=options.get("images_dir"), masks_dir=options.get("masks_dir"),
                                  keep_crowd=options.get("keep_crowd", False))
    if fmt == "via":
        from .via import read_via

        return read_via(src, images_dir=options.get("images_dir"), attribute=options.get("attribute"),
                        class_name=options.get("class_name"), labels_file=options.get("labels_file"))
    if fmt == "label-studio":
        from .labelstudio import read_label_studio

        return read_label_studio(src, images_dir=options.get("images_dir"), labels_file=options.get("labels_file"))
    if fmt == "kaggle-rle":
        from .kaggle_rle import read_kaggle_rle

        return read_kaggle_rle(src, images_dir=options.get("images_dir"), order=options.get("rle_order"),
                               class_name=options.get("class_name"),
                               unlisted_background=options.get("unlisted_background", False),
                               starts=options.get("rle_starts"))
    if fmt == "mat":
        from .matlab import read_matlab

        return read_matlab(src, images_dir=options.get("images_dir"), variable=options.get("variable"),
                           labels_file=options.get("labels_file"), executor=executor, quiet=quiet)
    if fmt == "ade20k":
        from .ade20k import read_ade20k

        return read_ade20k(src, images_dir=options.get("images_dir"), labels_file=options.get("labels_file"),
                           executor=executor, quiet=quiet)
    if fmt == "supervisely":
        from .supervisely import read_supervisely

        return read_supervisely(src, images_dir=options.get("images_dir"))
    raise UsageError(None, f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def export_inputs(src: Path, options: dict[str, Any]) -> Inputs:
    """What an import reads: the export (a file, or a folder whose tree the output must stay out of) and the
    folders and files given as options."""
    named = [Path(options[k]) for k in ("images_dir", "masks_dir", "labels_file") if options.get(k)]
    paths = [src, *named]
    folders = [p for p in paths if p.is_dir()]
    return Inputs([p for p in paths if not p.is_dir()], trees=folders, folders=folders)


PATH_OPTIONS = frozenset({"images_dir", "masks_dir", "labels_file"})


def import_annotations(fmt: str, src: os.PathLike[str] | str, out_dir: os.PathLike[str] | str, *,
                       order: Order = "file", overlap: Overlap = "last", skip_empty: bool = False,
                       ignore_index: int | None = None, instances: bool = False, force: bool = False,
                       executor: Executor | None = None, on_error: OnError = "skip", quiet: bool = False,
                       **options: Any) -> ImportReport:
    """Convert an annotation export to `out_dir/labels/*.png`, `out_dir/palette.json`, `out_dir/manifest.csv`."""
    src, out_dir = Path(src), Path(out_dir)
    if not src.exists():
        raise UsageError(src, "not found")
    # Python callers pass strings where the CLI passes Paths (images_dir="val2017" failed on a str / str).
    options = {k: Path(v) if k in PATH_OPTIONS and isinstance(v, str) else v for k, v in options.items()}
    inputs = export_inputs(src, options)
    inputs.guard_folder(out_dir, force=force, command="import")  # before parsing: labelme may write embedded images
    plan = read_plan(fmt, src, out_dir, executor=executor, quiet=quiet, **options)
    background = None if fmt == "coco-panoptic" else 0
    return import_dataset(plan, out_dir, order=order, overlap=overlap, skip_empty=skip_empty,
                          ignore_index=ignore_index, instances=instances, background=background, force=force,
                          inputs=inputs, executor=executor, on_error=on_error,
                          quiet=quiet)


__all__ = ["BOX_MODES", "FORMATS", "ORDERS", "OVERLAPS", "RLE_ORDERS", "ClassSpec", "Entry", "ImportPlan",
           "ImportReport", "Region", "import_annotations", "import_dataset", "read_plan"]

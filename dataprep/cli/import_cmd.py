"""`dataprep import FORMAT SRC DST`: annotation-tool exports -> label maps, palette.json, manifest.csv."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from ..errors import EXIT_DATA_PROBLEM
from ..importers import BOX_MODES, FORMATS, ORDERS, OVERLAPS, RLE_ORDERS, ImportReport, import_annotations
from .common import executor_options, force_option, reports_errors
from .labels import print_class_table


@click.command("import")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(FORMATS))
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--images", "images_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder the export's image names are relative to (coco, coco-panoptic, cvat, cvat-mask, via, "
                   "label-studio, kaggle-rle, mat, ade20k; supervisely: holding one folder per dataset). "
                   "Default: found beside the annotation file.")
@click.option("--order", type=click.Choice(ORDERS), default="file", show_default=True,
              help="Drawing order: file (later over earlier, as the tools draw), area (largest first), "
                   "class-list (later classes over earlier).")
@click.option("--overlap", type=click.Choice(OVERLAPS), default="last", show_default=True,
              help="Pixels claimed by regions of different classes: the last drawn wins, or the ignore index.")
@click.option("--skip-empty", is_flag=True, help="Leave out images without any annotation (default: background).")
@click.option("--keep-crowd", is_flag=True, help="COCO: draw iscrowd regions as their category, not as ignore.")
@click.option("--boxes", type=click.Choice(BOX_MODES), default="skip", show_default=True,
              help="COCO, YOLO: annotations with a box and no segmentation (YOLO's `class cx cy w h` lines) draw "
                   "nothing (skip), their box as the ignore index (ignore), or their box as their class (class).")
@click.option("--ignore-index", type=click.IntRange(0, 65535), default=None,
              help="Index of ignored pixels. Default: 255 (65535 beyond 255 classes).")
@click.option("--labels", "labels_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="labelme, via, label-studio, mat: labels.txt (one class per line, in index order; __ignore__, "
                   "_background_; mat: also a .mat cell array of names). Default for labelme: SRC/labels.txt; "
                   "via: the attribute's options; label-studio: the names found, sorted; mat: class_N. ade20k: "
                   "the palette.json of an earlier ade20k import, to number this split's classes the same.")
@click.option("--attribute", default=None,
              help="via: the region attribute holding the class (default: the only one regions fill in).")
@click.option("--line-width", type=click.IntRange(1), default=None,
              help="labelme: width in pixels of line/linestrip shapes (default 10, as labelme).")
@click.option("--class-name", default=None,
              help="instances, via (regions without attributes), kaggle-rle (no class column): name of the foreground "
                   "class (default foreground).")
@click.option("--instances", is_flag=True, help="Also write 16-bit instance maps to DEST/instances/.")
@click.option("--rle-order", type=click.Choice(RLE_ORDERS), default=None,
              help="kaggle-rle: pixels numbered down each column (column, Kaggle's usual) or along each row (row). "
                   "Default: column, refusing masks that decode to stripes that way.")
@click.option("--rle-starts", type=click.Choice(("absolute", "relative")), default=None,
              help="kaggle-rle: starts counted from pixel 1 (absolute, Kaggle's usual) or from the end of the "
                   "previous run (relative, SIIM pneumothorax). Default: absolute, refusing a CSV whose starts "
                   "mostly decrease.")
@click.option("--unlisted-background", is_flag=True,
              help="kaggle-rle: images of the images folder the CSV never names are images without foreground "
                   "(Severstal lists only images with a defect). Default: left out, counted in a warning.")
@click.option("--variable", default=None,
              help="mat: the variable holding the label map (default: the file's one 2-D integer array; a struct "
                   "field as GTcls.Segmentation; TABLE[MAP] for segment numbers with a class each, as MSRC's "
                   "newlabels[newseg]).")
@click.option("--masks", "masks_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="coco-panoptic: folder of the panoptic PNGs (default: beside the JSON, named after it).")
@force_option
@reports_errors
@executor_options
def import_command(fmt: str, src: Path, dest: Path, images_dir: Path | None, order: str, overlap: str,
                   skip_empty: bool, keep_crowd: bool, boxes: str, ignore_index: int | None,
                   labels_file: Path | None, line_width: int | None, attribute: str | None, class_name: str | None,
                   instances: bool, rle_order: str | None, rle_starts: str | None, unlisted_background: bool,
                   variable: str | None, masks_dir: Path | None,
                   force: bool, executor, on_error: str, quiet: bool) -> None:
    """Convert an annotation tool's export to class-index label maps.

    \b
    FORMAT is one of:
      coco           COCO instances JSON (polygons, RLE); SRC: the .json, or a folder of one per split
                     (Roboflow's train/ valid/ test/ _annotations.coco.json: one import, a split column)
      coco-panoptic  COCO panoptic JSON + PNGs; SRC: the .json
      labelme        labelme JSON files; SRC: their folder (or one .json)
      yolo           YOLO segmentation txt labels; SRC: data.yaml or the dataset folder
      instances      one mask file per instance (ID/images/ID.png, ID/masks/*.png); SRC: the folder
      cvat           "CVAT for images 1.1" XML; SRC: annotations.xml or its folder
      cvat-mask      "Segmentation mask 1.1" (labelmap.txt + SegmentationClass/); SRC: the folder
      via            VGG Image Annotator 1/2/3 JSON; SRC: the .json or a folder of them
      label-studio   Label Studio JSON export (polygons, boxes, ellipses, brush); SRC: the .json
      kaggle-rle     run-length CSV (ImageId,EncodedPixels[,ClassId]: Airbus, Severstal, TGS); SRC: the .csv
      mat            MATLAB label maps, one .mat per image (SBD, PASCAL-Context, CCP); SRC: their folder
      supervisely    Supervisely JSON project (meta.json, DATASET/ann/*.json, DATASET/img/); SRC: the project
      ade20k         ADE20K full release (x.jpg, x_seg.png colour codes, x.json names); SRC: their folder

    DEST receives labels/<id>.png (palette PNGs; 16-bit beyond 255 classes),
    palette.json (names, source colours and ids) and manifest.csv pairing each
    image with its label map. See docs/import.md for the rasterization rules.

    \b
    Examples:
      dataprep import coco annotations/instances_val2017.json work/coco --images val2017
      dataprep import labelme data_annotated work/labelme --labels labels.txt
      dataprep import yolo datasets/coco8-seg/data.yaml work/yolo --order area
      dataprep import via balloon/ work/balloon --class-name balloon
      dataprep import label-studio export.json work/ls --images media/upload/1
      dataprep import kaggle-rle train.csv work/steel --images train_images
      dataprep import mat benchmark_RELEASE/dataset/cls work/sbd --images benchmark_RELEASE/dataset/img
      dataprep import ade20k ADE20K_2021_17_01/images/ADE/training work/ade
    """
    report = import_annotations(fmt, src, dest, order=order, overlap=overlap, skip_empty=skip_empty,  # type: ignore[arg-type]
                                ignore_index=ignore_index, instances=instances, force=force, executor=executor,
                                on_error=on_error, quiet=quiet, images_dir=images_dir,  # type: ignore[arg-type]
                                keep_crowd=keep_crowd, boxes=boxes, labels_file=labels_file, line_width=line_width,
                                attribute=attribute, class_name=class_name, masks_dir=masks_dir,
                                rle_order=rle_order, rle_starts=rle_starts, unlisted_background=unlisted_background,
                                variable=variable)
    print_report(report)
    if not report.converted and not report.failed:
        click.echo(f"error: {src}: nothing to import" + (" (every image is empty and --skip-empty is given)"
                                                          if report.skipped else " (see the warnings above)"), err=True)
    if not report.ok or not report.converted:
        sys.exit(EXIT_DATA_PROBLEM)


def print_report(report: ImportReport) -> None:
    for line in report.notes + report.warnings:
        click.echo(f"warning: {line}", err=True)
    if report.converted:
        print_class_table(report)
    elif len(report.errors) > 1 and len({_reason_shape(e) for e in report.errors}) == 1:
        # MSRC's 591 .mat files, each "no image named X_GT in Images": one line says it for all
        click.echo(f"error: {report.errors[0]} (and the {len(report.errors) - 1} others the same way)", err=True)
    else:
        for line in report.errors:
            click.echo(f"error: {line}", err=True)
    parts = [f"{report.converted} images written", f"{report.skipped} empty skipped", f"{report.failed} failed"]
    click.echo(f"import {report.format}: {', '.join(parts)} -> {report.out_dir}")
    click.echo(f"manifest: {report.manifest_path or 'none written (no image could be converted)'}")
    if report.instance_dir is not None:
        click.echo(f"instance maps: {report.instance_dir}")
    if report.copies:
        click.echo(report.copies)
    if report.failed:
        click.echo(f"{report.failed} image(s) failed (listed above) and are left out of the manifest", err=True)


def _reason_shape(line: str) -> str:
    """A failure's reason with its file names and numbers left out: the same problem in every file."""
    reason = line.split(": ", 1)[-1]
    return re.sub(r"\S*[/\\]\S*|\d[\d,.]*|\b\w+_\w+\b", "#", reason)


__all__ = ["import_command"]

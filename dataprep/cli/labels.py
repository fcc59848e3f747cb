"""`dataprep masks2labels` and `dataprep labels2masks`: colour/index masks <-> class-index label maps."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_DATA_PROBLEM, all_failed
from ..labels import UNKNOWN_MODES, ConversionReport, format_unknown, labels_to_masks, masks_to_labels
from ..labels.options import CLASS_PLUS_ONE, IDS_NOT_INDICES
from ..io import MASK_EXTENSIONS
from ..manifest import read_manifest
from ..paths import Inputs
from .common import executor_options, force_option, reports_errors

_SHOWN_UNKNOWN = 10


@click.command("masks2labels")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("-p", "--palette", metavar="NAME|FILE",
              help="Built-in palette (voc, cityscapes, camvid, camvid11, suim, deepglobe, isprs, oxford_pet, "
                   "ade20k, kitti_road, binary) or a .json/.yaml/.csv file. Default: palette.json beside SOURCE.")
@click.option("--unknown", type=click.Choice(UNKNOWN_MODES), default="error", show_default=True,
              help="Colours/values not in the palette: fail the file, write the ignore index, "
                   "or take the nearest palette colour (index masks: ignore).")
@click.option("--ignore-index", type=click.IntRange(0, 65535), default=None,
              help="Index written for ignored classes. Default: the palette's (usually 255).")
@click.option("--remap", metavar="ids|reduce-zero|FILE|OLD:NEW,...",
              help="Index masks only: change stored values, e.g. '11:255', a range '1-65535:1' (the object ids "
                   "of instance masks -> one foreground class), a JSON/YAML {old: new} file, "
                   "'ids' to use the palette's ids (Cityscapes labelIds -> trainIds), or 'reduce-zero' for "
                   "masks storing class k as k+1 and 0 as unlabelled (ADE20K; MMSegmentation's reduce_zero_label).")
@click.option("--png-indices", is_flag=True,
              help="Use palette-mode PNGs' indices as classes even where their colour table differs from the "
                   "palette (default: such masks are converted by colour).")
@click.option("--overwrite", is_flag=True, help="Convert every mask again, even outputs newer than their mask.")
@force_option
@reports_errors
@executor_options
def masks2labels_command(source: Path, dest: Path, palette: str | None, unknown: str, ignore_index: int | None,
                         remap: str | None, png_indices: bool, overwrite: bool, force: bool, executor, on_error: str,
                         quiet: bool) -> None:
    """Convert masks (RGB/RGBA colour, palette-mode, grayscale or 16-bit PNG) to class-index PNGs.

    SOURCE is a manifest CSV or a folder of masks. DEST receives the label maps
    (same layout as the masks), palette.json and, for a manifest, manifest.csv
    pointing at the label maps. Outputs already newer than their mask, and made
    from that very file, are kept, so an interrupted run resumes where it stopped.

    \b
    Examples:
      dataprep masks2labels --palette sample_data/palette.json work/manifest.csv work/labels
      dataprep masks2labels --palette cityscapes --unknown nearest gtFine_color/ work/labels
      dataprep masks2labels --palette camvid11 --remap ids CamVid/trainannot work/camvid_labels
    """
    _guard(source, dest, force, "masks2labels")
    report = masks_to_labels(source, dest, palette, unknown=unknown, ignore_index=ignore_index,  # type: ignore[arg-type]
                             remap=remap, overwrite=overwrite, force=force, executor=executor,
                             on_error=on_error, quiet=quiet, png_indices=png_indices)  # type: ignore[arg-type]
    if report.failed and not (report.converted or report.skipped):
        # CamVid under camvid11 without --remap ids: 201 lines of one error, then an empty manifest and palette
        raise all_failed(source, report.errors, "masks")
    _print_report(report, "masks2labels")
    if palette is None and report.palette.source:
        click.echo(f"palette: {report.palette.source}")
    for line in report.notes:
        click.echo(f"note: {line}")
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    if report.unknown:
        verb = ("written as the ignore index" if unknown == "ignore" else
                "given the class of the nearest palette colour (unknown index values: the ignore index; in JPEG "
                "masks, the class of the nearest value)")
        click.echo(f"{len(report.unknown)} colours/values not in the palette ({sum(report.unknown.values()):,} pixels) "
                   f"were {verb}:")
        for key, n in sorted(report.unknown.items(), key=lambda kv: -kv[1])[:_SHOWN_UNKNOWN]:
            click.echo(f"  {format_unknown(key)} x {n:,} (first in {report.unknown_first_file[key]})")
        if len(report.unknown) > _SHOWN_UNKNOWN:
            click.echo(f"  ... and {len(report.unknown) - _SHOWN_UNKNOWN} more")
    if not report.ok:
        sys.exit(EXIT_DATA_PROBLEM)


@click.command("labels2masks")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("-p", "--palette", metavar="NAME|FILE",
              help="Palette to draw with (built-in name or file). Default: palette.json beside SOURCE.")
@click.option("--overwrite", is_flag=True, help="Draw every label map again, even outputs newer than their input.")
@force_option
@reports_errors
@executor_options
def labels2masks_command(source: Path, dest: Path, palette: str | None, overwrite: bool, force: bool, executor,
                         on_error: str, quiet: bool) -> None:
    """Draw class-index label maps as RGB colour masks, for viewing (the inverse of masks2labels).

    Each index is drawn in the first colour its palette lists for it, so for
    palettes without grouping masks -> labels -> masks gives back the same pixels.

    \b
    Example:
      dataprep labels2masks work/labels/manifest.csv work/colour_masks
    """
    _guard(source, dest, force, "labels2masks")
    report = labels_to_masks(source, dest, palette, overwrite=overwrite, force=force, executor=executor,
                             on_error=on_error, quiet=quiet)  # type: ignore[arg-type]
    _print_report(report, "labels2masks")
    if not report.ok:
        sys.exit(EXIT_DATA_PROBLEM)


def _guard(source: Path, dest: Path, force: bool, command: str) -> None:
    """DEST must not hold the images, masks or manifest read, nor files another command wrote there."""
    inputs = Inputs.of_manifest(read_manifest(source)) if source.is_file() else Inputs(folders=[source])
    inputs.guard_folder(dest, force=force, command=command)
    inputs.guard_foreign(dest, f".dataprep-{command}.json", MASK_EXTENSIONS | {".json", ".csv"}, force=force)


def print_class_table(report: ConversionReport) -> None:
    """The per-file errors, then pixels per class (and ignore) of a run that wrote label maps."""
    for line in report.errors:
        click.echo(f"error: {line}", err=True)
    rows = [("index", "class", "pixels", "%")]
    for index, name, pixels, share in report.class_rows():
        rows.append((str(index), name, f"{pixels:,}", f"{100 * share:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    aligns = [str.rjust, str.ljust, str.rjust, str.rjust]
    for r in rows:
        click.echo("  ".join(align(cell, w) for cell, align, w in zip(r, aligns, widths)))


def _print_report(report: ConversionReport, command: str) -> None:
    print_class_table(report)
    parts = [f"{report.converted} converted", f"{report.skipped} up to date", f"{report.failed} failed"]
    click.echo(f"{command}: {', '.join(parts)} -> {report.out_dir}")
    if report.manifest_path:
        click.echo(f"manifest: {report.manifest_path}")
    elif report.failed == 0:
        click.echo("no manifest written (folder input: images unknown); run 'dataprep scan' to pair images with "
                   "these label maps")
    if report.failed:
        if any(IDS_NOT_INDICES in e for e in report.errors):
            then = "they hold ids: rerun with --remap ids --overwrite"
        elif any(CLASS_PLUS_ONE in e for e in report.errors):
            then = ("if they store class + 1, rerun with --remap reduce-zero --overwrite; if that value is void, "
                    "with --remap VALUE:IGNORE")
        else:
            then = "fix them and run again to convert only what is missing"
        click.echo(f"{report.failed} file(s) failed (listed above) and are left out of the outputs; {then}", err=True)


__all__ = ["masks2labels_command", "labels2masks_command"]

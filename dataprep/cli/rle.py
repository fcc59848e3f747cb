"""`dataprep labels2rle`: class-index label maps -> a Kaggle run-length CSV."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_DATA_PROBLEM
from ..importers.base import RLE_ORDERS
from ..manifest import read_manifest
from ..palette import palette_file
from ..paths import Inputs
from .common import ClassIndexType, executor_options, reports_errors


BACKGROUND = ClassIndexType("index")


@click.command("labels2rle")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The CSV to write.")
@click.option("-p", "--palette", metavar="NAME|FILE",
              help="The label maps' palette (built-in name or file). Default: palette.json beside MANIFEST.")
@click.option("--rle-order", type=click.Choice(RLE_ORDERS), default="column", show_default=True,
              help="Pixels numbered down each column (Kaggle's usual) or along each row.")
@click.option("--image-id", type=click.Choice(("name", "stem")), default="name", show_default=True,
              help="ImageId as the image's file name (Severstal, Airbus) or without its extension (TGS).")
@click.option("--per-object", is_flag=True,
              help="A row per 8-connected object of each class (instance competitions: Airbus ships, nuclei).")
@click.option("--background", type=BACKGROUND, default="0", show_default=True,
              help="The class index left out as background; none writes every class.")
@reports_errors
@executor_options
def labels2rle_command(manifest: Path, output: Path, palette: str | None, rle_order: str, image_id: str,
                       per_object: bool, background: int | None, executor, on_error: str, quiet: bool) -> None:
    """Write the label maps of MANIFEST as a run-length CSV (the inverse of `import kaggle-rle`).

    One foreground class: ImageId,EncodedPixels, a row per image (empty without
    foreground). Several: ImageId,ClassId,EncodedPixels, a row per class an image
    holds, the class as its palette id (else its index). Background (index 0,
    see --background) and ignored pixels are never written.

    \b
    Examples:
      dataprep labels2rle work/predictions/manifest.csv -o submission.csv
      dataprep labels2rle work/salt/manifest.csv -o salt.csv --image-id stem
    """
    from ..rle_export import write_rle_csv

    rows = read_manifest(manifest)
    read = palette_file(palette, rows.path)  # read too: `-o labels/palette.json` replaced it
    Inputs.of_manifest(rows).with_files([read] if read else []).guard_file(output)
    report = write_rle_csv(manifest, output, palette=palette, order=rle_order, image_id=image_id,
                           per_object=per_object, background=background, executor=executor,
                           on_error=on_error, quiet=quiet)  # type: ignore[arg-type]
    for line in report.warnings:
        click.echo(f"warning: {line}", err=True)
    for line in report.errors:
        click.echo(f"error: {line}", err=True)
    layout = "ImageId,ClassId,EncodedPixels" if report.by_class else "ImageId,EncodedPixels"
    click.echo(f"labels2rle: {report.images} label maps, {report.rows} rows ({layout}) -> {report.path}")
    if not report.ok:
        click.echo(f"{len(report.errors)} label map(s) failed (listed above) and have no row", err=True)
        sys.exit(EXIT_DATA_PROBLEM)


__all__ = ["labels2rle_command"]


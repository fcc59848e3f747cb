"""`dataprep merge-bands`: one file per band to one multi-band image per sample."""
from __future__ import annotations

from pathlib import Path

import click

from ..merge_bands import merge_bands
from .common import executor_options, finish_output_report, force_option, reports_errors


@click.command("merge-bands")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--band", "bands", multiple=True, required=True, metavar="PATTERN",
              help="A band's files, with {id} in the file name: train_red/red_{id}.TIF. Give one per band, "
                   "in band order; the first one's files decide the samples.")
@click.option("--mask", metavar="PATTERN", default=None,
              help="The masks, with {id} too: train_gt/gt_{id}.TIF (paired where they are, not copied).")
@force_option
@reports_errors
@executor_options
def merge_bands_command(dest: Path, bands: tuple[str, ...], mask: str | None, force: bool, executor,
                        on_error: str, quiet: bool) -> None:
    """Merge one file per band (38-Cloud, Landsat) into one multi-band TIFF per sample.

    DEST receives images/<id>.tif (the bands in --band order, pixels and dtype as
    stored, the first georeferenced band's GeoTIFF tags) and manifest.csv pairing each with its
    --mask. Every band of a sample must have the same size and dtype.

    \b
    Example (38-Cloud):
      dataprep merge-bands work/cloud --band 'train_red/red_{id}.TIF' --band 'train_green/green_{id}.TIF' \\
        --band 'train_blue/blue_{id}.TIF' --band 'train_nir/nir_{id}.TIF' --mask 'train_gt/gt_{id}.TIF'
    """
    report = merge_bands(list(bands), dest, mask=mask, force=force, executor=executor, on_error=on_error,
                         quiet=quiet)  # type: ignore[arg-type]
    for pattern, n, example in report.unmatched:
        click.echo(f"warning: {n} files of {pattern!r} have no file of the first band (e.g. {example}); left out",
                   err=True)
    finish_output_report(report, f"merge-bands: {report.samples - len(report.errors)} of {report.samples} samples "
                                 f"({len(bands)} band files each), {len(report.errors)} failed -> {report.out_dir}")


__all__ = ["merge_bands_command"]

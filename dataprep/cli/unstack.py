"""`dataprep unstack`: multi-page TIFF stacks to one image (and mask) per page."""
from __future__ import annotations

from pathlib import Path

import click

from ..unstack import unstack
from .common import executor_options, finish_output_report, force_option, reports_errors


@click.command("unstack")
@click.argument("images", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--masks", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The stack of masks, page i labelling image page i.")
@force_option
@reports_errors
@executor_options
def unstack_command(images: Path, dest: Path, masks: Path | None, force: bool, executor, on_error: str,
                    quiet: bool) -> None:
    """Split a multi-page TIFF stack (and its mask stack) into one image and mask per page.

    DEST receives images/STEM_PAGE.png, masks/STEM_PAGE.png (PAGE zero-padded to
    the width of the last page number; TIFF where PNG cannot hold the pixels) and
    manifest.csv with stack and page columns; another volume unstacked into the
    same DEST adds its rows. Pixels are written as stored; masks keep their values
    (run palette infer / masks2labels next). A hyperstack with channels (ImageJ/OME
    axes with C) gives one image per slice with the channels as bands. Other
    commands refuse stacks instead of reading their first page.

    \b
    Example (ISBI 2012 membranes):
      dataprep unstack train-volume.tif work/isbi --masks train-labels.tif
    """
    report = unstack(images, dest, masks=masks, force=force, executor=executor, on_error=on_error,
                     quiet=quiet)  # type: ignore[arg-type]
    finish_output_report(report, f"unstack: {report.pages - len(report.errors)} of {report.pages} pages, "
                                 f"{len(report.errors)} failed -> {report.out_dir}")


__all__ = ["unstack_command"]

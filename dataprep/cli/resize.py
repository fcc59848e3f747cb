"""`dataprep resize`: images and label maps to a new size (masks by nearest neighbour)."""
from __future__ import annotations

from pathlib import Path

import click

from ..resizing import INTERPOLATIONS, ResizeTarget, resize_manifest
from ..tiling import parse_size
from .common import FiniteFloatRange, executor_options, finish_output_report, force_option, reports_errors


@click.command("resize")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", "size_text", metavar="H[xW]", default=None, help="Every pair to this size, e.g. 512 or 512x1024.")
@click.option("--max-side", type=click.IntRange(min=1), default=None, metavar="PX",
              help="Shrink pairs whose longer side is over PX to PX, keeping the aspect ratio.")
@click.option("--scale", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="F",
              help="Both sides times F (rounded).")
@click.option("--to", type=click.Choice(["image", "mask"]), default=None,
              help="image: each mask to its image's size (label maps saved at another resolution); "
                   "mask: each image to its mask's size.")
@click.option("--image-interpolation", type=click.Choice(list(INTERPOLATIONS)), default="auto", show_default=True,
              help="auto: area when shrinking, linear when enlarging. Masks always use nearest neighbour.")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True,
              help="Quality of re-encoded JPEG images.")
@force_option
@reports_errors
@executor_options
def resize_command(manifest: Path, dest: Path, size_text: str | None, max_side: int | None, scale: float | None,
                   to: str | None, image_interpolation: str, jpeg_quality: int, force: bool, executor,
                   on_error: str, quiet: bool) -> None:
    """Resize every image and mask of MANIFEST into DEST; masks by nearest neighbour, never blended.

    DEST receives images/, masks/, manifest.csv (new width and height, plus
    original_width and original_height) and the palette file. Give one of --size,
    --max-side, --scale or --to. Files already at their target size are copied
    unchanged; images keep their format and pixel type, masks become PNG label
    maps (palette PNGs keep their palette, colour masks their exact colours).

    \b
    Examples:
      dataprep resize work/labels/manifest.csv work/small --max-side 1024
      dataprep scan photos --keep-scaled-masks -o work/raw.csv
      dataprep resize work/raw.csv work/matched --to image
    """
    target = ResizeTarget(size=parse_size(size_text) if size_text is not None else None, max_side=max_side,
                          scale=scale, to=to)  # type: ignore[arg-type]
    report = resize_manifest(manifest, dest, target, image_interpolation=image_interpolation,
                             jpeg_quality=jpeg_quality, force=force, executor=executor,
                             on_error=on_error, quiet=quiet)  # type: ignore[arg-type]
    finish_output_report(report, f"resize: {report.pairs - len(report.errors)} pairs ({report.resized_images} images "
                                 f"and {report.resized_masks} masks resized, the rest copied), "
                                 f"{len(report.errors)} failed -> {report.out_dir}")


__all__ = ["resize_command"]

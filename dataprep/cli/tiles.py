"""`dataprep tile` and `dataprep stitch`: large rasters to a grid of tiles and back."""
from __future__ import annotations

import math
from pathlib import Path

import click

from ..option_ranges import MAX_LABEL, MIN_NEGATIVE_IGNORE
from ..stitch import BLEND_MODES, stitch_manifest
from ..tiling import MASK_FORMATS, NODATA_MASK_MODES, PAD_MODES, parse_size, tile_manifest
from .common import executor_options, finish_output_report, force_option, reports_errors, seed_option


class _Percent(click.ParamType):
    """'25%' or the fraction '0.25' -> 0.25. A bare number above 1 is refused: it read as a percent while 1 and
    below read as fractions, so '1' kept every empty tile and '1.5' kept 1.5% of them."""

    name = "N%|FRAC"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        text = str(value).strip()
        percent = text.endswith("%")
        try:
            number = float(text[:-1] if percent else text)
        except ValueError:
            self.fail(f"{value!r} is not a percentage like 25% or a fraction like 0.25", param, ctx)
        if not math.isfinite(number):  # inf was "ambiguous: write inf% ... (inf for inf%)"
            self.fail(f"{value!r} is not between 0% and 100%", param, ctx)
        if not percent and number > 1:
            self.fail(f"{value!r} is ambiguous: write {text}% for a percentage, or a fraction in 0..1 "
                      f"({number / 100:g} for {text}%)", param, ctx)
        share = number / 100.0 if percent else number
        if not 0.0 <= share <= 1.0:  # nan fails this too
            self.fail(f"{value!r} is not between 0% and 100%", param, ctx)
        return share


# Negative for .npy label maps storing ignore as -1 (labelme's SegmentationClassNpy): they were padded with 255, a
# second ignore value that stats --ignore-index -1 counted as a class.
IGNORE_RANGE = click.IntRange(MIN_NEGATIVE_IGNORE, MAX_LABEL)


@click.command("tile")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", "size_text", metavar="H[xW]", required=True, help="Tile size in pixels, e.g. 512 or 512x768.")
@click.option("--overlap", metavar="PX", type=click.IntRange(min=0), default=None,
              help="Pixels shared by neighbouring tiles (default 0).")
@click.option("--stride", metavar="PX", type=click.IntRange(min=1), default=None,
              help="Step between tile origins instead of --overlap (stride = size - overlap).")
@click.option("--pad", type=click.Choice(PAD_MODES), default="none", show_default=True,
              help="none: shift the last row/column of tiles inward (all tiles real pixels); ignore: pad images "
                   "with 0 (a GeoTIFF's nodata value where it has one); reflect: mirror images. Masks always pad "
                   "with the ignore index.")
@click.option("--min-labelled", type=click.FloatRange(0, 1), default=0.0, show_default=True, metavar="FRAC",
              help="Drop tiles whose share of labelled (not ignore) pixels is below FRAC.")
@click.option("--keep-empty", type=_Percent(), default="100%", show_default=True,
              help="Keep this share of the tiles with no class but background and ignore (drawn with --seed).")
@click.option("--background", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="The class that counts as empty for --keep-empty.")
@click.option("--ignore-index", type=IGNORE_RANGE, default=None,
              help="Mask padding value. Default: the palette's beside MANIFEST, else 255 (-1 for .npy label maps "
                   "storing ignore as -1).")
@seed_option("Seed of the --keep-empty draw.")
@click.option("--max-nodata", type=click.FloatRange(0, 1), default=1.0, show_default=True, metavar="FRAC",
              help="Drop tiles of which more than FRAC is GeoTIFF nodata (every band the GDAL_NODATA value).")
@click.option("--nodata-mask", type=click.Choice(NODATA_MASK_MODES), default="ignore", show_default=True,
              help="ignore: masks get the ignore index where the GeoTIFF image is nodata; keep: masks as stored.")
@click.option("--mask-format", type=click.Choice(MASK_FORMATS), default="png", show_default=True,
              help="png: palette PNG label maps; tif: TIFF label maps, georeferenced like their image tiles "
                   "when the images are GeoTIFFs (GIS tools place them; no nodata tag: 0 is a class).")
@force_option
@reports_errors
@executor_options
def tile_command(manifest: Path, dest: Path, size_text: str, overlap: int | None, stride: int | None, pad: str,
                 min_labelled: float, keep_empty: float, background: int, ignore_index: int | None, seed: int,
                 max_nodata: float, nodata_mask: str, mask_format: str, force: bool, executor, on_error: str,
                 quiet: bool) -> None:
    """Cut every image (and label map) of MANIFEST into tiles covering every pixel.

    DEST receives images/, masks/, manifest.csv (with source_id, tile_y, tile_x,
    source_width, source_height and group = the source, so kfold keeps each
    scene in one fold) and the palette file. Tiles keep the data's pixel type:
    TIFF in (any bands, 16-bit, float) gives TIFF out, georeference included.

    \b
    Examples:
      dataprep tile work/labels/manifest.csv work/tiles --size 512 --overlap 64
      dataprep tile scenes.csv work/tiles --size 256 --stride 192 --pad ignore --keep-empty 10%
    """
    report = tile_manifest(manifest, dest, size=parse_size(size_text), overlap=overlap, stride=stride, pad=pad,
                           min_labelled=min_labelled, keep_empty=keep_empty, background=background,
                           ignore_index=ignore_index, seed=seed, max_nodata=max_nodata, nodata_mask=nodata_mask,
                           mask_format=mask_format, force=force,
                           executor=executor, on_error=on_error, quiet=quiet)  # type: ignore[arg-type]
    dropped = []
    if report.dropped_unlabelled:
        dropped.append(f"{report.dropped_unlabelled} below --min-labelled")
    if report.dropped_empty:
        dropped.append(f"{report.dropped_empty} empty")
    if report.dropped_nodata:
        dropped.append(f"{report.dropped_nodata} above --max-nodata")
    extra = f" (dropped: {', '.join(dropped)})" if dropped else ""
    if report.nodata_ignored:
        # Counted in the tiles written: where tiles overlap, one source pixel counts once per tile holding it.
        extra += (f"; {report.nodata_ignored:,} tile mask pixels under image nodata set to ignore "
                  "(--nodata-mask keep: as stored)")
    if report.smaller:
        h, w = report.size
        click.echo(f"warning: {report.smaller} tiles are smaller than {h}x{w} (their images are smaller than a "
                   "tile): a batch cannot stack them with the others; --pad ignore or reflect makes every tile "
                   f"{h}x{w}", err=True)
    finish_output_report(report, f"tile: {report.tiles} tiles from {report.sources - report.failed} images{extra}, "
                                 f"{report.failed} failed -> {report.out_dir}")


@click.command("stitch")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("--blend", type=click.Choice(BLEND_MODES), default="gaussian", show_default=True,
              help="How overlapping probability maps combine; images and masks always take the centre rule.")
@click.option("--ignore-index", type=IGNORE_RANGE, default=None,
              help="Mask value where no tile lies. Default: the one tile cut with (tiling.json), else the "
                   "palette's beside MANIFEST, else 255.")
@force_option
@reports_errors
@executor_options
def stitch_command(manifest: Path, dest: Path, blend: str, ignore_index: int | None, force: bool, executor,
                   on_error: str, quiet: bool) -> None:
    """Reassemble the tiles of MANIFEST (from tile, or predict on tiles) into full-size images.

    Overlaps: each pixel comes from the tile whose centre it is nearest (the
    neighbours meet in the middle of their overlap), so tile -> stitch gives the
    original pixels back; probability maps are blended (--blend).

    \b
    Example:
      dataprep stitch work/tiles/manifest.csv work/stitched
    """
    report = stitch_manifest(manifest, dest, blend=blend, ignore_index=ignore_index, force=force,
                             executor=executor, on_error=on_error, quiet=quiet)  # type: ignore[arg-type]
    uncovered = (f"{sid}: {pixels:,} pixels lie in no tile (filled with 0 or the nodata value / the ignore index)"
                 for sid, pixels in report.uncovered.items())
    finish_output_report(report, f"stitch: {report.sources - len(report.errors)} images from {report.tiles} tiles, "
                                 f"{len(report.errors)} failed -> {report.out_dir}", uncovered)


__all__ = ["tile_command", "stitch_command"]

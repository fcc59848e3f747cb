"""`dataprep preview`: a contact sheet of images, colourized masks and overlays."""
from __future__ import annotations

from pathlib import Path

import click

from .common import quiet_option, reports_errors, seed_option


@click.command("preview")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Sheet to write (.png or .jpg).")
@click.option("-n", "count", type=click.IntRange(min=1), default=8, show_default=True, help="Samples to show.")
@click.option("--columns", type=click.IntRange(min=1), default=3, show_default=True, help="Samples per line.")
@click.option("--palette", default=None, metavar="FILE|NAME",
              help="Palette file or built-in name (default: the one beside MANIFEST; else generated colours).")
@seed_option("Which samples are picked.")
@click.option("--ignore-index", type=click.IntRange(0, 65535), default=None,
              help="The label drawn hatched as ignored (default: the palette's, else 255).")
@quiet_option
@reports_errors
def preview_command(manifest: Path, output: Path, count: int, columns: int, palette: str | None, seed: int,
                    ignore_index: int | None, quiet: bool) -> None:
    """Draw image | colourized mask | overlay for N samples of MANIFEST, with a class legend.

    \b
    Works on any manifest: label maps (colourized with the palette) or colour masks.
    Example:
      dataprep preview work/augmented/manifest.csv -o work/preview.png -n 6
    """
    from ..preview import write_contact_sheet

    sheet = write_contact_sheet(manifest, output, n=count, palette=palette, seed=seed, columns=columns,
                                ignore_index=ignore_index)
    if sheet.outside_palette:
        values = ", ".join(map(str, sheet.outside_palette))
        click.echo(f"warning: the masks shown hold {values}, not a class of the palette (drawn in generated "
                   "colours); a void or no-data value? pass --ignore-index", err=True)
    if not quiet:
        click.echo(f"wrote {output}")

"""`dataprep report`: one self-contained HTML page about a prepared dataset."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_DATA_PROBLEM
from .common import quiet_option, reports_errors, seed_option


@click.command("report")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="HTML page to write (self-contained: opens offline).")
@click.option("--stats", "stats", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="stats.json from `dataprep stats`: band statistics, class frequencies and weights.")
@click.option("--splits", type=click.Path(path_type=Path), default=None,
              help="Folder written by `dataprep kfold` (its report.json): per-fold class balance.")
@click.option("--palette", default=None, metavar="FILE|NAME",
              help="Palette file or built-in name for class colours (default: the one beside MANIFEST).")
@click.option("-n", "--samples", type=click.IntRange(min=0), default=9, show_default=True,
              help="Sample previews (image | mask | overlay) to show; 0 for none.")
@click.option("--max-images", type=click.IntRange(min=0), default=200, show_default=True,
              help="Images read for the band histograms (an evenly spread, seeded pick when there are more).")
@seed_option("Which samples are picked.")
@quiet_option
@reports_errors
def report_command(manifest: Path, output: Path, stats: Path | None, splits: Path | None, palette: str | None,
                   samples: int, max_images: int, seed: int, quiet: bool) -> None:
    """Write an HTML report: band histograms, class frequencies and weights, fold balance, sizes, problems, samples.

    Charts are inline SVG and previews an inline JPEG: the page needs no network and
    no other file. Problems are found from the files' headers (missing,
    unreadable, sizes other than the manifest says): the page lists them, and the
    run ends with one line (the first and their count) and exit 1.

    \b
    Example:
      dataprep report work/labels/manifest.csv --stats work/stats.json --splits work/splits -o work/report.html
    """
    from ..report import problems_line, write_report

    problems: list[str] = []
    path = write_report(manifest, output, stats=stats, splits=splits, palette=palette, samples=samples, seed=seed,
                        max_images=max_images, warn=lambda line: click.echo(f"warning: {line}", err=True),
                        problem=problems.append)
    if not quiet:
        click.echo(f"wrote {path}")
    if problems:  # data problems, as every other command's: the page is written all the same
        click.echo(f"error: {problems_line(problems, path)}", err=True)
        sys.exit(EXIT_DATA_PROBLEM)

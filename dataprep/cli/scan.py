"""`dataprep scan`: pair images with masks, validate, write a manifest."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import EXIT_DATA_PROBLEM
from ..manifest import write_manifest
from ..paths import Inputs
from ..scan import ScanResult, scan
from .common import executor_options_without_on_error, reports_errors


@click.command("scan")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Manifest CSV to write (paths in it are relative to its folder).")
@click.option("--image-dir", metavar="NAME", help="Folder name holding images (e.g. images, leftImg8bit).")
@click.option("--mask-dir", metavar="NAME", help="Folder name holding masks (e.g. masks, gtFine).")
@click.option("--image-suffix", metavar="TEXT", help="Stem suffix removed from image names (e.g. _leftImg8bit).")
@click.option("--mask-suffix", metavar="TEXT", help="Stem suffix removed from mask names (e.g. _gtFine_color).")
@click.option("--exclude", "exclude", multiple=True, metavar="GLOB",
              help="Skip paths (relative to ROOT) matching this glob, e.g. 'bad/*'. Repeatable.")
@click.option("--check", type=click.Choice(["header", "decode"]), default="header", show_default=True,
              help="header: sizes and truncation from headers and file tails; decode: also decode every file.")
@click.option("--strict", is_flag=True, help="Exit 1 if any problem is found (default: report and leave them out).")
@reports_errors
@executor_options_without_on_error
def scan_command(root: Path, output: Path, image_dir: str | None, mask_dir: str | None, image_suffix: str | None,
                 mask_suffix: str | None, exclude: tuple[str, ...], check: str, strict: bool, executor,
                 quiet: bool) -> None:
    """Find image/mask pairs under ROOT, validate them, write a manifest.

    \b
    Pairs by relative path: images/a/x.jpg <-> masks/a/x.png, CamVid train/ <-> trainannot/,
    Cityscapes leftImg8bit/ <-> gtFine/ (suffixes _leftImg8bit / _gtFine_color), or
    side-by-side names such as x_image.png <-> x_target.png. Problems (orphans, duplicate
    stems, unreadable or truncated files, size mismatches, EXIF-rotated images) are listed
    and left out of the manifest.

    \b
    Example:
      dataprep scan sample_data --exclude 'bad/*' -o work/manifest.csv
    """
    result = scan(root, image_dir=image_dir, mask_dir=mask_dir, image_suffix=image_suffix, mask_suffix=mask_suffix,
                  exclude=exclude, check=check, executor=executor, quiet=quiet)  # type: ignore[arg-type]
    found = [p for r in result.rows for p in (r.image, r.mask) if p is not None]
    found += [result.root / p.path for p in (*result.problems, *result.warnings)]
    Inputs(found).guard_file(output)
    write_manifest(result.manifest, output)
    _print_summary(result, output)
    if strict and result.problems:
        sys.exit(EXIT_DATA_PROBLEM)


def _print_summary(result: ScanResult, output: Path) -> None:
    for p in result.problems:
        click.echo(f"problem: {result.root / p.path}: {p.reason}", err=True)
    for w in result.warnings:
        click.echo(f"warning: {result.root / w.path}: {w.reason}", err=True)
    counts = result.problem_counts()
    lines = [
        ("pairing", "; ".join(r.describe() for r in result.rules)),
        ("images found", result.images_seen),
        ("masks found", result.masks_seen),
        ("pairs in manifest", len(result.rows)),
        *((f"  {kind.replace('_', ' ')}", n) for kind, n in sorted(counts.items())),
        ("problems", len(result.problems)),
        ("warnings", len(result.warnings)),
        ("manifest", output),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key:<{width}}  {value}")

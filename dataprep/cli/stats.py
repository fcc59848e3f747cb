"""`dataprep stats`: image normalization statistics and class weights -> stats.json."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_DATA_PROBLEM
from ..manifest import read_manifest
from ..palette import palette_file
from ..paths import Inputs
from ..split_column import parse_splits
from ..stats import AUTO, collect_stats, write_stats
from .common import ClassIndexType, executor_options, reports_errors


IGNORE_INDEX = ClassIndexType("ignore index", auto=AUTO, ignore_range=True)


def class_options(fn):
    """--palette, --num-classes and --ignore-index, shared with `kfold`."""
    fn = click.option("--ignore-index", type=IGNORE_INDEX, default=AUTO, show_default=True,
                      help="Label value left out of class counts; 'none' counts every value as a class. "
                           "auto: the palette's, else 255.")(fn)
    fn = click.option("--num-classes", type=click.IntRange(min=1), default=None,
                      help="Number of classes (default: from the palette, else the largest label + 1).")(fn)
    fn = click.option("--palette", metavar="FILE|NAME", default=None,
                      help="Palette file or built-in name, for class names, count and ignore index "
                           "(default: palette.json beside the manifest).")(fn)
    return fn


@click.command("stats")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="stats.json to write.")
@click.option("--split", "splits", metavar="NAME[,NAME...]", default=None,
              help="Measure only the rows of these splits (the manifest's split column), e.g. train.")
@class_options
@reports_errors
@executor_options
def stats_command(manifest: Path, output: Path, splits: str | None, palette: str | None, num_classes: int | None,
                  ignore_index: Any, executor, on_error: str, quiet: bool) -> None:
    """Per-channel mean/std/min/max/percentiles and class frequencies/weights of a manifest.

    Masks must be label maps (run masks2labels on colour masks first). Files that
    cannot be read are reported and left out (exit code 1); the rest are measured.

    \b
    Examples:
      dataprep stats work/labels/manifest.csv -o work/stats.json
      dataprep stats camvid.csv --ignore-index 11 --num-classes 11 -o camvid_stats.json
      dataprep stats membrane.csv --ignore-index none -o membrane_stats.json
      dataprep stats camvid_labels/manifest.csv --split train -o camvid_stats.json
    """
    rows = read_manifest(manifest)
    read = palette_file(palette, rows.path)  # read too: `-o labels/palette.json` replaced it
    Inputs.of_manifest(rows).with_files([read] if read else []).guard_file(output)
    result = collect_stats(rows, palette=palette, num_classes=num_classes, ignore_index=ignore_index,
                           executor=executor, on_error=on_error, quiet=quiet,  # type: ignore[arg-type]
                           splits=parse_splits(splits))
    write_stats(result.stats, output)
    for line in result.errors:
        click.echo(f"skipped: {line}", err=True)
    for line in result.warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(format_summary(result.stats))
    click.echo(f"\nwrote {output}" + (f" ({len(result.errors)} file(s) skipped)" if result.errors else ""))
    if result.errors:
        sys.exit(EXIT_DATA_PROBLEM)


def format_summary(stats: dict[str, Any]) -> str:
    """Human-readable tables of a stats.json dict (one row per band)."""
    img = stats["image"]
    lines = [f"images: {stats['num_images']}, {img['dtype']}, {img['channels']} channel(s), "
             f"{img['pixels']:,} pixels per channel", ""]
    valid = img.get("valid_pixels") or [img["pixels"]] * img["channels"]
    if img["pixels"] and min(valid) < img["pixels"]:
        shares = ", ".join(f"{100 * (1 - n / img['pixels']):.1f}%" for n in valid)
        lines[-1:-1] = [f"GeoTIFF nodata pixels left out per channel: {shares}"]
    rows = [[str(c), _f(img["mean"][c]), _f(img["std"][c]), _f(img["mean_01"][c], 4), _f(img["std_01"][c], 4),
             _value(img["min"][c]), _value(img["max"][c]), _f(img["p1"][c]), _f(img["p99"][c])]
            for c in range(img["channels"])]
    lines += _table(["channel", "mean", "std", "mean_01", "std_01", "min", "max", "p1", "p99"], rows)
    classes = stats.get("classes")
    if classes:
        ignore = classes["ignore_index"]
        lines += ["", f"classes: {classes['num_classes']} in {classes['num_images']} label map(s); ignore index "
                  f"{'none' if ignore is None else ignore} ({classes['ignored_pixels']:,} pixels ignored)", ""]
        names = classes["names"] or [""] * classes["num_classes"]
        w = classes["weights"]
        rows = [[str(i), names[i], f"{classes['pixel_count'][i]:,}", _f(classes["frequency"][i], 4),
                 str(classes["image_count"][i]), _f(w["inverse_frequency"][i], 4), _f(w["median_frequency"][i], 4),
                 _f(w["enet"][i], 4)] for i in range(classes["num_classes"])]
        lines += _table(["class", "name", "pixels", "frequency", "images", "w_inverse", "w_median", "w_enet"], rows)
    return "\n".join(lines)


def _value(value: float) -> str:
    """Integer pixel values as they are, float ones (float32 images) to 4 digits."""
    return str(value) if isinstance(value, int) else _f(value, 4)


def _f(value: float, digits: int = 2) -> str:
    """`digits` decimals; 3 significant digits where those would show a value that is not 0 as 0.00
    (float32 data with a spread of 0.01: std 0.0027)."""
    if value and abs(value) < 0.5 * 10 ** -digits:
        return f"{value:.3g}"
    return f"{value:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    return out

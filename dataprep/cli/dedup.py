"""`dataprep dedup`: exact and near-duplicate images, listed as clusters."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..dedup import (DEFAULT_MIN_CORRELATION, MAX_DISTANCE, duplicates_across_splits, find_duplicates, with_groups,
                     write_clusters)
from ..errors import EXIT_DATA_PROBLEM, UsageError
from ..manifest import read_manifest, write_manifest
from ..io import IMAGE_EXTENSIONS
from ..paths import Inputs, walk_files
from .common import executor_options_without_on_error, reports_errors


@click.command("dedup")
@click.argument("source", metavar="MANIFEST_OR_DIR", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV of the clusters: cluster,id,image,kind,distance,correlation.")
@click.option("--manifest-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write MANIFEST with group and duplicate_of columns (for kfold --group-column group).")
@click.option("--max-distance", type=click.IntRange(0, MAX_DISTANCE), default=MAX_DISTANCE, show_default=True,
              help="Most dHash bits (of 64) two near-duplicates may differ in.")
@click.option("--min-correlation", type=click.FloatRange(-1, 1), default=DEFAULT_MIN_CORRELATION,
              show_default=True, help="Least correlation of the rank-normalised 32x32 thumbnails.")
@click.option("--exclude", "exclude", multiple=True, metavar="GLOB",
              help="With a folder: skip paths matching this glob. Repeatable.")
@reports_errors
@executor_options_without_on_error
def dedup_command(source: Path, output: Path, manifest_out: Path | None, max_distance: int, min_correlation: float,
                  exclude: tuple[str, ...], executor, quiet: bool) -> None:
    """Find exact and near-duplicate images in MANIFEST_OR_DIR (a manifest, or a folder of images).

    Exact: same file content. Near: same picture after a brightness or contrast change,
    a small resize or re-encoding (difference hash, confirmed by thumbnail correlation).
    Each cluster is listed with its first image (by id); with --manifest-out the manifest
    gets a group column (the cluster's first id, or the row's own id) so that
    `kfold --group-column group` keeps duplicates in one fold.

    \b
    Examples:
      dataprep dedup work/manifest.csv -o work/dups.csv --manifest-out work/manifest_grouped.csv
      dataprep dedup data/images -o dups.csv
    """
    if manifest_out is not None and source.is_dir():
        raise UsageError(manifest_out, "--manifest-out needs a manifest as input, not a folder")
    manifest = read_manifest(source) if source.is_file() else None
    # A CSV in the image tree is not picked up as an image: only the files read are refused.
    inputs = (Inputs.of_manifest(manifest) if manifest is not None
              else Inputs(source / rel for rel in walk_files(source, IMAGE_EXTENSIONS, exclude=exclude)))
    inputs.guard_file(output)
    if manifest_out is not None:
        inputs.guard_file(manifest_out)
        if Path(manifest_out).resolve() == Path(output).resolve():
            raise UsageError(manifest_out, "is also the clusters CSV (-o); give two different files")
    result = find_duplicates(manifest if manifest is not None else source, max_distance=max_distance,
                             min_correlation=min_correlation, exclude=exclude, executor=executor, quiet=quiet)
    for line in result.errors:
        click.echo(f"unreadable (left out): {line}", err=True)
    for line in result.cluster_lines():
        click.echo(f"duplicates: {line}")
    for line in result.warnings:
        click.echo(f"warning: {line}", err=True)
    write_clusters(result, output)
    if manifest is not None:
        grouped = with_groups(manifest.rows, result)
        for line in duplicates_across_splits(grouped):
            click.echo(f"warning: {line}", err=True)
        if manifest_out is not None:
            write_manifest(grouped, manifest_out)
            note = carry_palette(source, manifest_out)
            if note:
                click.echo(f"warning: {note}", err=True)
    # num_images counts the unreadable too: "32 images" where 31 were read and compared
    unread = f" ({len(result.errors)} unreadable, left out)" if result.errors else ""
    click.echo(f"{result.num_images} images{unread}, {len(result.clusters)} clusters: {result.num_exact} exact and "
               f"{result.num_near} near copies of a cluster's first image; wrote {output}"
               + (f" and {manifest_out}" if manifest_out is not None and manifest is not None else ""))
    if result.errors:
        sys.exit(EXIT_DATA_PROBLEM)


def carry_palette(source: Path, manifest_out: Path) -> str | None:
    """The palette beside SOURCE goes beside the grouped manifest, as every reader takes the one beside the
    manifest it reads (kfold and train took a raw-mask palette of 256 classes found there for 2-class labels).
    A different palette already there is left, with the line to warn with."""
    from ..io import atomic_write_text
    from ..palette import find_palette

    own, there = find_palette(Path(source).parent), find_palette(Path(manifest_out).parent)
    if own is None or Path(source).parent.resolve() == Path(manifest_out).parent.resolve():
        return None
    if there is None:
        atomic_write_text(Path(manifest_out).parent / own.name, own.read_text(encoding="utf-8"))
        return None
    if there.read_bytes() != own.read_bytes():
        return (f"{there} is not the palette beside {source} ({own}): commands reading {manifest_out} take the one "
                f"beside it; write the grouped manifest beside {own}, or replace {there}")
    return None

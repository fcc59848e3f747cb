"""`dataprep augment`: offline augmentation of a manifest with a recipe."""
from __future__ import annotations

from pathlib import Path

import click

from ..recipe import MAX_VARIANTS
from .common import executor_options, force_option, reports_errors, seed_option


@click.command("augment")
@click.option("--recipe", "recipe", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Recipe YAML (see pipelines/: default, mosaic, copy_paste, mixup, crops).")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--palette", default=None, metavar="FILE|NAME",
              help="Palette file or built-in name for mask colours (default: the one beside MANIFEST, if any).")
@seed_option("Override the recipe's seed.", default=None)
@click.option("--variants", type=click.IntRange(1, MAX_VARIANTS), default=None, help="Override outputs per source image.")
@click.option("--image-format", type=click.Choice(["auto", "jpg", "jpeg", "png", "tif", "tiff"]), default=None,
              help="Override the recipe's image format: auto (the default) keeps every pixel type; jpg only for 8-bit "
                   "RGB/gray (masks are always PNG).")
@click.option("--quality", type=click.IntRange(1, 100), default=None, help="Override the JPEG quality.")
@click.option("--overwrite", is_flag=True, help="Recompute outputs that already exist (default: keep them).")
@force_option
@executor_options
@reports_errors
def augment_command(recipe: Path, manifest: Path, out: Path, palette: str | None, seed: int | None,
                    variants: int | None, image_format: str | None, quality: int | None, overwrite: bool,
                    force: bool, executor, on_error: str, quiet: bool) -> None:
    """Write augmented copies of MANIFEST's samples to OUT, following a recipe.

    \b
    OUT/images/<id>__v<k>.jpg|png|tif, OUT/masks/<id>__v<k>.png (label maps), all at the
    recipe's size, and OUT/manifest.csv recording for each output its source ids,
    the ops applied, their sampled params and the seed. MANIFEST must hold label
    maps (run masks2labels on colour masks first). Same recipe, seed and input give
    byte-identical outputs whatever -j is; a rerun keeps finished outputs and
    redoes those whose input files changed.

    \b
    Example:
      dataprep augment --recipe pipelines/default.yaml work/labels/manifest.csv work/augmented
    """
    from ..augment import augment_manifest

    summary = augment_manifest(
        manifest, recipe, out, executor=executor, on_error=on_error, quiet=quiet, overwrite=overwrite,
        force=force, palette=palette, image_format=image_format, quality=quality, seed=seed, variants=variants,
    )
    for line in dict.fromkeys(summary.errors):  # a bad source fails each of its outputs the same way: once
        click.echo(f"error: {line}", err=True)
    earlier = ([f"{summary.reused} kept from an earlier run"] if summary.reused else []) + (
        [f"{summary.redone} redone: their inputs changed"] if summary.redone else [])
    reused = f" ({', '.join(earlier)})" if earlier else ""
    click.echo(f"wrote {summary.total} augmented samples{reused} to {Path(out) / summary.manifest.name}")
    if summary.alone:
        pools = f"rows sharing its {'/'.join(summary.pooled_by)}" if summary.pooled_by else "the manifest"
        click.echo(f"warning: {summary.alone} of {summary.mixing} mixing steps found no other row in their pool "
                   f"({pools}) and mixed a sample with itself; see the recipe's `partners`", err=True)
    for line in summary.warnings:
        click.echo(f"warning: {line}", err=True)
    if summary.errors:
        click.echo(f"{len(summary.errors)} output(s) failed; see the errors above", err=True)
        raise SystemExit(1)

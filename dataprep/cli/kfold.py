"""`dataprep kfold`: K-fold cross-validation splits, stratified and/or grouped."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ..errors import EXIT_DATA_PROBLEM
from ..split_column import parse_splits
from ..splits import MODES, FoldResult, kfold
from .common import executor_options, reports_errors, seed_option
from .stats import class_options


@click.command("kfold")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for manifest.csv (with a fold column), fold_{i}/train.csv, fold_{i}/val.csv, report.json.")
@click.option("-k", "--folds", "k", type=click.IntRange(min=2), default=5, show_default=True, help="Number of folds.")
@click.option("--mode", type=click.Choice(MODES), default="multilabel", show_default=True,
              help="plain: shuffled K-fold; stratified: by each image's dominant class; "
                   "multilabel: by the classes present in each image (iterative stratification).")
@click.option("--group-by", metavar="REGEX", default=None,
              help="Keep images whose path (relative to the manifest) gives the same regex match -- the first "
                   "capturing group if any -- in the same fold, e.g. '([^/]+)_[^/]+$' (CamVid sequence).")
@click.option("--group-column", metavar="NAME", default=None,
              help="Group by the value of this manifest column instead. Default: the manifest's own group "
                   "column (import's copies of one Roboflow photo, tile's scenes), but dedup's only when named.")
@seed_option("Seed of the shuffle; same seed, same folds.")
@click.option("--split", "splits", metavar="NAME[,NAME...]", default=None,
              help="Fold only the rows of these splits (the manifest's split column), e.g. train or train,val; "
                   "the others are left out of every output.")
@class_options
@reports_errors
@executor_options
def kfold_command(manifest: Path, output: Path, k: int, mode: str, group_by: str | None, group_column: str | None,
                  seed: int, splits: str | None, palette: str | None, num_classes: int | None, ignore_index: Any,
                  executor, on_error: str, quiet: bool) -> None:
    """Split MANIFEST into K folds; print how balanced each class is across them.

    A row is in the validation set of fold i when its fold column is i. Masks
    must be label maps (run masks2labels on colour masks first).

    \b
    Examples:
      dataprep kfold work/labels/manifest.csv -k 5 -o work/splits
      dataprep kfold camvid.csv -k 3 --ignore-index 11 --group-by '([^/]+)_[^/]+$' -o camvid_splits
      dataprep kfold work/labels/manifest.csv -k 5 --mode plain --seed 1 -o work/splits_plain
      dataprep kfold camvid_labels/manifest.csv -k 5 --split train,val -o work/splits
    """
    result = kfold(manifest, output, k, mode=mode, group_by=group_by, group_column=group_column, seed=seed,
                   splits=parse_splits(splits), palette=palette, num_classes=num_classes, ignore_index=ignore_index,
                   executor=executor, on_error=on_error, quiet=quiet)
    for line in result.errors:
        click.echo(f"unreadable mask (counted as unlabelled): {line}", err=True)
    for line in result.warnings:
        click.echo(f"warning: {line}", err=True)
    click.echo(format_report(result))
    click.echo(f"\nwrote {output}/manifest.csv, {output}/fold_{{0..{k - 1}}}/{{train,val}}.csv, {output}/report.json")
    if result.errors:
        sys.exit(EXIT_DATA_PROBLEM)


def format_report(result: FoldResult) -> str:
    """Fold sizes, then per class: share of pixels in the whole and in each validation fold, and worst deviations."""
    r = result.report
    k = r.k
    groups = f" in {r.num_groups} groups" if r.num_groups is not None else ""
    lines = [f"{r.num_samples} samples{groups}, k={k}, mode={r.mode}, seed={r.seed}; "
             f"largest fold size deviation {r.size_deviation:.1%}", ""]
    header = ["", "whole", *(f"fold {f}" for f in range(k))]
    rows = [["samples", str(r.num_samples), *(str(f.num_samples) for f in r.folds)]]
    if r.num_groups is not None:
        rows.append(["groups", str(r.num_groups), *(str(f.num_groups) for f in r.folds)])
    classes = r.classes
    if classes and r.whole is not None and r.max_relative_deviation is not None:
        header += ["max dev pixels", "max dev images"]
        rows = [row + ["", ""] for row in rows]
        names = classes.names or [f"class_{c}" for c in range(classes.num_classes)]
        dev = r.max_relative_deviation
        for c in range(classes.num_classes):
            rows.append([f"{c} {names[c]}", _pct(r.whole.pixel_fraction[c]),
                         *(_pct(f.balance.pixel_fraction[c]) for f in r.folds if f.balance is not None),
                         _pct(dev.pixel[c]), _pct(dev.presence[c])])
        mean = r.mean_max_relative_deviation
        lines_after = ["\nclass rows: share of labelled pixels; max dev: largest |fold - whole| / whole over the "
                       "validation folds (pixels: pixel share, images: share of images containing the class)",
                       f"mean over classes of max deviation: pixels {_pct(mean.pixel if mean else None)}, "
                       f"images {_pct(mean.presence if mean else None)}"]
    else:
        lines_after = []
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines + lines_after)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"

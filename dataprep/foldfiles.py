"""The folds folder `dataprep kfold` writes: manifest.csv, fold_{i}/{train,val}.csv, report.json, palettes."""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import UsageError
from .folder_settings import mark_owner
from .io import PathLike, atomic_write_text
from .manifest import extra_columns, render_rows, write_lines
from .paths import Inputs
from .run_lock import one_writer_at_a_time

if TYPE_CHECKING:
    from .splits import FoldResult


def write_folds(result: FoldResult, out_dir: PathLike, *, source: PathLike | None = None) -> Path:
    """Write OUT/manifest.csv, OUT/fold_{i}/{train,val}.csv and OUT/report.json (each atomically).

    The palette (if any) goes beside every manifest, so commands run on them keep class names and colours.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(out, "output must be a folder")
    inputs = Inputs.of_manifest(result.manifest)
    if source is not None and result.manifest.path is not None and Path(source) != result.manifest.path:
        inputs = inputs.with_files([source])
    folds = [out / f"fold_{f}" / name for f in range(result.k) for name in ("train.csv", "val.csv")]
    inputs.check_written([out / "manifest.csv", out / "report.json", *folds])
    _refuse_foreign_files(out)
    _replace_stale_links(out, result.k)
    inputs.guard_folder(out, force=True, command="kfold")  # removes temporary files of a killed earlier run
    with one_writer_at_a_time(out, "kfold"):
        rows = result.manifest.rows
        columns = extra_columns(rows, ["fold"])
        # Every manifest is written beside its place first and moved in together: a rerun killed while writing
        # left fold_1/train.csv of the new split beside val.csv of the old, 672 rows in both, under the old
        # report.json. Killed now, the old files stand; killed while moving, report.json (written last) is gone.
        staged = [_stage(out / "manifest.csv", columns, render_rows(rows, out, columns))]
        # Each row is formatted once for all fold folders (siblings: same relative paths), not 2k times.
        lines = render_rows(rows, out / "fold_0", columns)
        folds = np.asarray(result.folds)
        for f in range(result.k):
            for name, keep in (("train.csv", np.flatnonzero(folds != f)), ("val.csv", np.flatnonzero(folds == f))):
                subset = [rows[i] for i in keep]
                own = extra_columns(subset, ["fold"])  # differs only when rows carry different extra columns
                target = out / f"fold_{f}" / name
                if own == columns:
                    staged.append(_stage(target, columns, [lines[i] for i in keep]))
                else:
                    staged.append(_stage(target, own, render_rows(subset, target.parent, own)))
        (out / "report.json").unlink(missing_ok=True)
        for target in staged:
            os.replace(_staged_name(target), target)
        if result.palette is not None:
            for f in range(result.k):
                result.palette.save(out / f"fold_{f}" / "palette.json")
            result.palette.save(out / "palette.json")
        _remove_stale_folds(out, result.k)
        atomic_write_text(out / "report.json", result.report.to_json())
        mark_owner(out, "kfold")
    return out


def _staged_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.next")


def _stage(target: Path, columns: list[str], lines: list[str]) -> Path:
    """Write a manifest under its staged name (see write_folds); returns its final path."""
    write_lines(_staged_name(target), columns, lines)
    return target


def _refuse_foreign_files(out: Path) -> None:
    """A manifest.csv or palette.json that no kfold wrote (no report.json beside it) is someone's own: `kfold -o .`
    replaced the scan manifest of the folder it ran in."""
    if (out / "report.json").is_file():
        return
    manifest = out / "manifest.csv"
    if manifest.is_file() and _has_fold_column(manifest):
        return  # a kfold stopped before its report.json (written last): the rerun completes it
    for path in (manifest, out / "palette.json"):
        if path.exists():
            raise UsageError(path, "not written by kfold (no report.json beside it), and kfold would replace "
                                   "it: give kfold a folder of its own")


def _has_fold_column(manifest: Path) -> bool:
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return "fold" in header


def _replace_stale_links(out: Path, k: int) -> None:
    """A symlinked fold_N (N < k) is refused: writing through it would change another split's files."""
    for f in range(k):
        path = out / f"fold_{f}"
        if path.is_symlink():
            raise UsageError(path, "is a symbolic link; writing the fold through it would change the folder it "
                                   "points to: remove the link or choose another output folder")


def _remove_stale_folds(out: Path, k: int) -> None:
    # fold_7/ from an earlier run with k=10 would read as part of this split.
    for path in out.glob("fold_*"):
        suffix = path.name.removeprefix("fold_")
        if not (suffix.isdigit() and int(suffix) >= k):
            continue
        if path.is_symlink():
            # Only the link is ours to remove; the folder it points to is someone else's.
            path.unlink()
        elif path.is_dir() and {p.name for p in path.iterdir()} <= {"train.csv", "val.csv", "palette.json"}:
            shutil.rmtree(path)


__all__ = ["write_folds"]

"""Which rows a stats.json was measured on, and the check that it belongs to the manifest it is used with.

`dataprep stats` records the `measured_on` block: the manifest's file name,
its row count, a SHA-256 of its sorted row ids and the total size of its image
and mask files. Readers (the report, the trainer, the Dataset) compare it with
the rows they are given: other ids mean stats of another dataset or split
(mean/std and class weights that do not describe the data); the same ids with
other file sizes mean files rewritten since (a new `masks2labels --remap`, a
re-encode), so the class counts are stale. Either is a warning, not an error:
stats of a larger set may be meant. A stats.json without the block (written
before it existed) is not checked.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Mapping

from .extra_masks import extra_mask_paths
from .manifest import ManifestRow
from .split_column import is_training_split


@dataclass(frozen=True)
class MeasuredOn:
    """The `measured_on` block of stats.json."""

    file: str | None  # the manifest's file name, for messages
    rows: int
    ids_sha256: str
    file_bytes: int  # image + mask files of all rows (missing files count 0)

    @classmethod
    def of_rows(cls, rows: Sequence[ManifestRow], file: str | None = None) -> "MeasuredOn":
        return cls(file, len(rows), ids_digest(r.id for r in rows), files_size(rows))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "MeasuredOn | None":
        if not isinstance(data, Mapping) or "ids_sha256" not in data:
            return None
        return cls(data.get("file"), int(data.get("rows", 0)), str(data["ids_sha256"]), int(data.get("file_bytes", -1)))

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "ids_sha256": self.ids_sha256, "file_bytes": self.file_bytes}


def ids_digest(ids: Iterable[str]) -> str:
    """SHA-256 of the sorted ids, one per line: the same for the same rows in any order."""
    h = hashlib.sha256()
    for row_id in sorted(ids):
        h.update(row_id.encode("utf-8", "surrogateescape") + b"\n")
    return h.hexdigest()


def files_size(rows: Iterable[ManifestRow]) -> int:
    total = 0
    for row in rows:
        for path in (row.image_str, row.mask_str, *extra_mask_paths(row)):
            if path is None:
                continue
            try:
                total += os.stat(path).st_size
            except OSError:
                pass
    return total


def origin_warning(measured: MeasuredOn | None, rows: Sequence[ManifestRow], *, stats_name: str,
                   rows_name: str | None = None, alternatives: Sequence[Sequence[ManifestRow]] = ()) -> str | None:
    """The line to warn with when `measured` (a stats.json's block) is not these rows, else None.

    `rows_name` says what the rows are ("the 80 rows of work/m.csv").
    `alternatives`: other row sets the stats may rightly describe (the training
    rows of each fold of a kfold manifest: stats measured on `fold_i/train.csv`).
    """
    if measured is None:
        return None
    where = f" of {measured.file}" if measured.file else ""
    for candidate in (rows, *alternatives):
        if ids_digest(r.id for r in candidate) != measured.ids_sha256:
            continue
        size = files_size(candidate)
        if measured.file_bytes >= 0 and size != measured.file_bytes:
            return (f"{stats_name}: measured on these {measured.rows} rows{where}, but their files have changed since "
                    f"({measured.file_bytes:,} -> {size:,} bytes); its class counts and mean/std may be stale: "
                    "rerun `dataprep stats`")
        return None
    return (f"{stats_name}: measured on {measured.rows} rows{where}, not on {rows_name or f'these {len(rows)} rows'} (the "
            "ids differ); its mean/std and class statistics describe other data: rerun `dataprep stats` on this manifest")


def training_row_sets(rows: Sequence[ManifestRow]) -> list[list[ManifestRow]]:
    """The row sets of a manifest that stats are rightly measured on: with a `fold` column, the training rows
    of each fold (all rows outside it); with a `split` column, its train rows (`dataprep stats --split train`,
    as train.md says, used for the val split too)."""
    folds = sorted({r.fold for r in rows if r.fold is not None})
    sets = [[r for r in rows if r.fold != f] for f in folds] if len(folds) > 1 else []
    train = [r for r in rows if is_training_split(r.extra.get("split", ""))]  # ADE20K's `training`, LoveDA's `Train`
    return sets + ([train] if train and len(train) < len(rows) else [])


__all__ = ["MeasuredOn", "training_row_sets", "files_size", "ids_digest", "origin_warning"]

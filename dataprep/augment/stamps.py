"""What the input files of an offline output were when it was written, so that a rerun redoes it if one changed.

The run's fingerprint covers the recipe, the ids and the palette, not the files: a mask fixed and
relabelled by masks2labels kept every output made from the old one ("kept from an earlier run").
Each output's params file therefore lists, per input row (the source and every donor it loaded),
the image, mask and extra mask files with their size and mtime_ns. A stat per file, never a
re-read: checking thousands of kept outputs stays cheap. As in masks2labels' resume, a file counts
as changed by its stat, not its content: rewritten with the same bytes, its outputs are redone too.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import DataprepError
from ..extra_masks import EXTRA_MASKS_COLUMN, extra_mask_paths
from ..manifest import ManifestRow
from ..paths import file_stamp

INPUTS_KEY = "inputs"  # the params file's key


def _file_record(path: str) -> list[Any]:
    """[real path, size, mtime_ns]; [path, None, None] for a file that cannot be stat'ed (its load reports why)."""
    stamp = file_stamp(path)
    return list(stamp) if stamp is not None else [path, None, None]


def row_stamp(row: ManifestRow) -> list[Any]:
    """[id, [file stamp, ...]] of the files a row's sample is read from."""
    files = [row.image_str] + ([row.mask_str] if row.mask_str is not None else [])
    try:
        files += extra_mask_paths(row)
    except DataprepError:  # a malformed column fails the load; its text still tells one from another
        files.append(f"{EXTRA_MASKS_COLUMN}={row.extra.get(EXTRA_MASKS_COLUMN, '')}")
    return [row.id, [_file_record(f) for f in files]]


def inputs_stamp(rows: Iterable[ManifestRow]) -> list[list[Any]]:
    """The record of every row an output loads, in load order (JSON-ready: lists, no tuples)."""
    return [row_stamp(row) for row in rows]


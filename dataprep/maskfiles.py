"""Finding mask files: named directly, under folders, or listed in manifests.

Its own module so that both `labels` (the batch jobs) and `palette` (inference)
use it without importing each other.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import DataprepError
from .extra_masks import EXTRA_MASKS_COLUMN, extra_mask_paths
from .io import MASK_EXTENSIONS, PathLike
from .manifest import read_manifest
from .paths import walk_files


def walk_mask_files(root: Path, extensions: frozenset[str], exclude: Iterable[Path] = ()) -> list[Path]:
    """Files under `root` with one of `extensions`, as paths below `root`, skipping `exclude`."""
    return [root / rel for rel in walk_files(root, extensions, skip=exclude)]


def collect_mask_paths(sources: Iterable[PathLike] | PathLike) -> list[Path]:
    """Mask files named directly, found under folders, or listed in manifests (.csv), without duplicates."""
    return collect_masks(sources)[0]


def collect_masks(sources: Iterable[PathLike] | PathLike) -> tuple[list[Path], dict[Path, list[str]]]:
    """`collect_mask_paths`, and the extra masks manifest rows list for some of them (see `extra_masks`)."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    out: dict[Path, None] = {}
    extras: dict[Path, list[str]] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            out.update(dict.fromkeys(walk_mask_files(path, MASK_EXTENSIONS)))
        elif path.suffix.lower() == ".csv":
            for row in read_manifest(path):
                if row.mask is not None:
                    out[row.mask] = None
                    if row.extra.get(EXTRA_MASKS_COLUMN):
                        extras[row.mask] = extra_mask_paths(row)
        elif path.is_file():
            out[path] = None
        else:
            raise DataprepError(path, "not found")
    return list(out), extras


__all__ = ["collect_mask_paths", "collect_masks", "walk_mask_files"]

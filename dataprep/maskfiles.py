"""Finding mask files: named directly, under folders, or listed in manifests.

Its own module so that both `labels` (the batch jobs) and `palette` (inference)
use it without importing each other.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import DataprepError
from .extra_masks import EXTRA_MASKS_COLUMN, extra_mask_paths
from .io import LOSSY_EXTENSIONS, MASK_EXTENSIONS, PathLike, has_extension
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
            found = walk_mask_files(path, MASK_EXTENSIONS)
            _refuse_photos_beside_masks(path, found)
            out.update(dict.fromkeys(found))
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


def _refuse_photos_beside_masks(folder: Path, files: Sequence[Path]) -> None:
    """A folder of photos and masks side by side (CelebAMask-HQ's samples: 0.jpg beside 0.png): its photos were
    read as colour masks, and palette infer said the masks mix colour and index ones."""
    lossless = {p.with_suffix(""): p for p in files if not has_extension(p, LOSSY_EXTENSIONS)}
    beside = [p for p in files if has_extension(p, LOSSY_EXTENSIONS) and p.with_suffix("") in lossless]
    if beside:
        partner = lossless[beside[0].with_suffix("")].name
        raise DataprepError(folder, f"holds photos beside their masks ({len(beside)}, e.g. {beside[0].name} and "
                                    f"{partner}): give the masks' own folder, or a manifest (`dataprep scan` pairs "
                                    "them)")


__all__ = ["collect_mask_paths", "collect_masks", "walk_mask_files"]

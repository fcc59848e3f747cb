"""Which masks a batch job converts and where each output goes (`_Job`s), with the checks that no
output lands on an input or on another output."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataprepError, UsageError
from ..extra_masks import extra_mask_paths
from ..io import PathLike
from ..manifest import Manifest, read_manifest, require_rows
from ..maskfiles import collect_mask_paths, walk_mask_files
from ..paths import Inputs, inside


@dataclass(frozen=True)
class _Job:
    id: str
    src: Path
    dst: Path
    size: tuple[int, int] | None  # (width, height) the manifest promises, or None
    extras: tuple[Path, ...] = ()  # further masks merged into this one (the row's `extra_masks`)
    recorded: tuple[tuple[str, int, int], ...] | None = None  # the sources its existing output was made from


def _common_root(paths: list[Path]) -> Path:
    if not paths:
        return Path(".")
    return Path(os.path.commonpath([os.path.abspath(p.parent) for p in paths]))


@dataclass
class _Source:
    manifest: Manifest | None
    root: Path  # the folder whose layout the outputs mirror
    jobs: list[_Job]
    inputs: list[Path]


def _resolve_source(source: Manifest | PathLike, out_dir: Path, force: bool, extensions: frozenset[str],
                    command: str) -> _Source:
    if isinstance(source, Manifest):
        manifest = require_rows(source)
    elif Path(source).is_dir():
        manifest = None
    elif Path(source).is_file():
        manifest = require_rows(read_manifest(source))
    else:
        raise DataprepError(source, "not found (expected a manifest CSV or a folder of masks)")
    if manifest is not None:
        masks = [row.mask for row in manifest if row.mask is not None]
        root = _common_root(masks)
        if masks:  # not into the masks' or images' trees either: the next scan would take the outputs for data
            Inputs.of_manifest(manifest, trees=True).guard_folder(out_dir, force=force, command=command)
        seen: dict[Path, _Job] = {}
        for row in manifest:
            if row.mask is not None and row.mask not in seen:
                seen[row.mask] = _Job(row.id, row.mask, _output_path(out_dir, root, row.mask), (row.width, row.height),
                                      tuple(Path(p) for p in extra_mask_paths(row)))
        jobs = list(seen.values())
    else:
        root = Path(os.path.abspath(source))
        Inputs(trees=[root]).guard_folder(out_dir, force=force, command=command)
        files = walk_mask_files(root, extensions, exclude=[out_dir])
        jobs = [_Job(Path(os.path.relpath(p, root)).with_suffix("").as_posix(), p, _output_path(out_dir, root, p), None)
                for p in files]
    _check_outputs(jobs)
    # Never over an input (the images too), even with --force.
    inputs = Inputs.of_manifest(manifest) if manifest is not None else Inputs(j.src for j in jobs)
    # The run's manifest and palette too: `masks2labels --force` into the scan's own folder replaced its manifest.
    inputs.check_written([*(j.dst for j in jobs), out_dir / "manifest.csv", out_dir / "palette.json"])
    return _Source(manifest, root, jobs, [j.src for j in jobs])


def _output_path(out_dir: Path, root: Path, src: Path) -> Path:
    rel = Path(os.path.relpath(os.path.abspath(src), root)).with_suffix(".png")
    return inside(out_dir, rel.as_posix())


def _check_outputs(jobs: list[_Job]) -> None:
    by_out: dict[Path, _Job] = {}
    sources = {Path(os.path.realpath(j.src)) for j in jobs}
    for job in jobs:
        other = by_out.setdefault(job.dst, job)
        if other is not job:
            raise UsageError(job.src, f"would be written to the same file as {other.src}: {job.dst}")
        if Path(os.path.realpath(job.dst)) in sources:
            raise UsageError(job.dst, "output would overwrite an input mask; choose another output folder")


__all__ = ["collect_mask_paths"]

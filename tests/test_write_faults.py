"""Output faults in the middle of a source: a source of several files (the tiles of one image, a stitched image and
its mask) writes all of them or none; a file too large for the output (EFBIG) fails that file alone; a full disk
stops the run also when the outputs are TIFFs.

The faults are simulated in-process (the n-th new output file fails) rather than with `ulimit -f`."""
from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dataprep import io
from dataprep.errors import DataprepError, RunStopped
from dataprep.io import atomic
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.stitch import stitch_manifest
from dataprep.tiling import tile_manifest


def _sources(root: Path, ids: tuple[str, ...] = ("a", "b"), size: int = 32) -> Path:
    """PNG images with label maps, `size` pixels square, and their manifest."""
    rng = np.random.default_rng(0)
    rows = []
    for sid in ids:
        image, mask = root / "src" / f"{sid}.png", root / "src" / f"{sid}_mask.png"
        io.write_image(image, rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        io.write_mask(mask, rng.integers(0, 4, (size, size), dtype=np.uint8))
        rows.append(ManifestRow(sid, image, mask, size, size))
    return write_manifest(rows, root / "src" / "manifest.csv")


def _fail_files(monkeypatch, err: int, fails: Callable[[str], bool]) -> None:
    """New output files whose name `fails` matches cannot be created: OSError(err), as the system raises it."""
    real = atomic._create_temp

    def create(folder, prefix):
        if fails(prefix):
            raise OSError(err, os.strerror(err), str(folder))
        return real(folder, prefix)

    monkeypatch.setattr(atomic, "_create_temp", create)


def _files(root: Path) -> dict[str, str]:
    """Every file under `root` (hidden ones too) and a digest of its bytes."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_source_that_fails_at_its_last_tile_leaves_none_of_its_tiles(tmp_path, monkeypatch):
    manifest = _sources(tmp_path)
    _fail_files(monkeypatch, errno.EFBIG, lambda prefix: prefix.startswith(".a_16_16.png."))  # a's 4th tile of 4
    report = tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True)
    assert report.tiles == 4 and len(report.errors) == 1 and "File too large" in report.errors[0]
    listed = {p.relative_to(tmp_path / "tiles").as_posix() for r in read_manifest(report.manifest_path)
              for p in (r.image, r.mask)}
    on_disk = {p.relative_to(tmp_path / "tiles").as_posix() for p in (tmp_path / "tiles").rglob("*.png")}
    assert on_disk == listed and all("/b_" in f for f in on_disk)  # a's first 3 tiles were left unlisted
    assert not list((tmp_path / "tiles").rglob("*.tmp"))


def test_every_source_failing_midway_writes_nothing_and_keeps_a_previous_run(tmp_path, monkeypatch):
    """The "nothing written" of the one error is true: no tile, no folder; an earlier run's tiles are untouched
    (the failed sources' tiles were never renamed over them)."""
    manifest = _sources(tmp_path, ("x/a", "x/b"))
    last_tile = lambda prefix: "_16_16.png." in prefix  # noqa: E731 - each source fails at its last tile
    with monkeypatch.context() as m:
        _fail_files(m, errno.ENOSPC, last_tile)
        with pytest.raises(RunStopped, match="No space left on device"):  # fatal: the run stops at a
            tile_manifest(manifest, tmp_path / "full", size=16, quiet=True)
    records = (".dataprep-tile.json", ".dataprep-owner")
    assert not [p for p in (tmp_path / "full").rglob("*") if p.is_file() and p.name not in records]
    with monkeypatch.context() as m:
        _fail_files(m, errno.EFBIG, last_tile)
        with pytest.raises(DataprepError, match=r"all 2 sources .* failed the same way; nothing written"):
            tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True)
    assert not (tmp_path / "tiles").exists()

    assert tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True).tiles == 8
    before = _files(tmp_path / "tiles")
    _fail_files(monkeypatch, errno.EFBIG, last_tile)
    with pytest.raises(DataprepError, match="nothing written"):
        tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True)
    assert _files(tmp_path / "tiles") == before


def test_a_stitched_source_whose_mask_fails_leaves_no_image(tmp_path, monkeypatch):
    tiles = tile_manifest(_sources(tmp_path), tmp_path / "tiles", size=16, quiet=True)
    real = atomic._create_temp

    def create(folder, prefix):  # a's mask, written after its image
        if prefix.startswith(".a.png.") and Path(folder).name == "masks":
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG), str(folder))
        return real(folder, prefix)

    monkeypatch.setattr(atomic, "_create_temp", create)
    report = stitch_manifest(tiles.manifest_path, tmp_path / "stitched", quiet=True)
    assert len(report.errors) == 1 and "File too large" in report.errors[0]
    assert sorted(p.name for p in (tmp_path / "stitched").rglob("*.png")) == ["b.png", "b.png"]
    _fail_files(monkeypatch, errno.EFBIG, lambda prefix: ".png." in prefix)  # every source, in new folders
    with pytest.raises(DataprepError, match="nothing written"):
        stitch_manifest(tiles.manifest_path, tmp_path / "none" / "stitched", quiet=True)
    assert not (tmp_path / "none").exists()


def test_a_file_too_large_fails_that_file_alone_and_says_what_to_do(tmp_path, monkeypatch):
    """EFBIG (a `ulimit -f`, FAT32's 4 GiB per file) is no full disk: the smaller files are still written."""
    manifest = _sources(tmp_path, ("a", "b", "c"))
    rows = [ManifestRow(r.id, r.image, None, r.width, r.height) for r in read_manifest(manifest)]
    _fail_files(monkeypatch, errno.EFBIG, lambda prefix: prefix.startswith(".b_00_16.png."))
    report = tile_manifest(write_manifest(rows, tmp_path / "images.csv"), tmp_path / "tiles", size=16, quiet=True)
    assert report.tiles == 8 and len(report.errors) == 1  # a's and c's: the run went on past b
    assert report.errors[0].endswith(
        "cannot write: File too large; it is larger than the output allows (a file-size limit, `ulimit -f`, or "
        "the file system's cap, FAT32's 4 GiB): raise the limit or write the outputs somewhere else")


def test_a_full_disk_writing_tiff_tiles_stops_the_run(tmp_path, monkeypatch):
    """tifffile's OSError was "cannot write TIFF of uint8 ...: [Errno 28] ...", one per source, never fatal."""
    rng = np.random.default_rng(1)
    rows = []
    for sid in ("a", "b", "c"):
        path = tmp_path / "src" / f"{sid}.tif"
        io.write_image(path, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        rows.append(ManifestRow(sid, path, None, 32, 32))
    manifest = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    import tifffile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tifffile, "imwrite", full)
    with pytest.raises(RunStopped) as caught:
        tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True)
    assert str(caught.value) == (f"{tmp_path / 'tiles' / 'images' / 'a_00_00.tif'}: cannot write: No space left on "
                                 "device; free some space and rerun (finished files are kept)")
    assert not list((tmp_path / "tiles").rglob("*.tif")) and not list((tmp_path / "tiles").rglob("*.tmp"))


def test_staged_writes_appear_together_or_not_at_all(tmp_path):
    old = tmp_path / "old.txt"
    old.write_text("previous run")
    with pytest.raises(RuntimeError), atomic.staged():
        atomic.atomic_write_text(old, "new")
        atomic.atomic_write_text(tmp_path / "two.txt", "2")
        assert old.read_text() == "previous run" and not (tmp_path / "two.txt").exists()  # held back
        raise RuntimeError("the third file failed")
    assert _files(tmp_path) == {"old.txt": hashlib.sha256(b"previous run").hexdigest()}
    assert not atomic.LIVE_TEMPS
    with atomic.staged():
        atomic.atomic_write_text(old, "new")
        with atomic.atomic_path(tmp_path / "two.txt") as tmp:
            tmp.write_text("2")
    assert old.read_text() == "new" and (tmp_path / "two.txt").read_text() == "2" and not atomic.LIVE_TEMPS
    assert sorted(_files(tmp_path)) == ["old.txt", "two.txt"]

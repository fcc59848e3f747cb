"""`dataprep scan`: pairing rules, planted problems, header-only validation, manifest output."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep import io
from dataprep.errors import UsageError
from dataprep.executor import ProcessExecutor
from dataprep.manifest import read_manifest
from dataprep.scan import scan


def _jpg(path: Path, w=32, h=24, exif_orientation: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.full((h, w, 3), 120, np.uint8))
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        im.save(path, exif=exif.tobytes())
    else:
        im.save(path)
    return path


def _png(path: Path, w=32, h=24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((h, w), np.uint8)).save(path)
    return path


def test_pairs_nested_images_and_masks(tmp_path):
    for sub in ("a/x1", "a/x2", "b/c/y1"):
        _jpg(tmp_path / "images" / f"{sub}.jpg")
        _png(tmp_path / "masks" / f"{sub}.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["a/x1", "a/x2", "b/c/y1"]
    assert not result.problems
    row = result.rows[0]
    assert row.image == (tmp_path / "images/a/x1.jpg").absolute()
    assert row.mask == (tmp_path / "masks/a/x1.png").absolute()
    assert (row.width, row.height) == (32, 24)


def test_reports_every_kind_of_problem(tmp_path):
    _jpg(tmp_path / "images/good.jpg"), _png(tmp_path / "masks/good.png")
    _jpg(tmp_path / "images/orphan.jpg")
    _png(tmp_path / "masks/lonely.png")
    _jpg(tmp_path / "images/small.jpg"), _png(tmp_path / "masks/small.png", w=16, h=12)
    _jpg(tmp_path / "images/dup.jpg"), _jpg(tmp_path / "images/dup.JPEG"), _png(tmp_path / "masks/dup.png")
    _jpg(tmp_path / "images/cut.jpg"), _png(tmp_path / "masks/cut.png")
    data = (tmp_path / "images/cut.jpg").read_bytes()
    (tmp_path / "images/cut.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "images/junk.png").write_bytes(b"garbage"), _png(tmp_path / "masks/junk.png")
    # Stored 24x32 (portrait), EXIF 6 turns it to 32x24; the mask matches the stored pixels.
    _jpg(tmp_path / "images/turned.jpg", w=24, h=32, exif_orientation=6), _png(tmp_path / "masks/turned.png", w=24, h=32)
    # Same, but the mask matches the upright image: fine.
    _jpg(tmp_path / "images/upright.jpg", w=24, h=32, exif_orientation=6), _png(tmp_path / "masks/upright.png")

    result = scan(tmp_path)
    kinds = {(p.path, p.kind) for p in result.problems}
    assert ("images/orphan.jpg", "orphan_image") in kinds
    assert ("masks/lonely.png", "orphan_mask") in kinds
    assert ("images/small.jpg", "size_mismatch") in kinds
    assert ("images/dup.jpg", "duplicate") in kinds and ("images/dup.JPEG", "duplicate") in kinds
    assert ("images/cut.jpg", "truncated") in kinds
    assert ("images/junk.png", "unreadable") in kinds
    assert ("images/turned.jpg", "exif_rotation") in kinds
    assert [r.id for r in result.rows] == ["good", "upright"]
    assert all("\n" not in str(p) for p in result.problems)


def test_camvid_style_annot_folders(tmp_path):
    for split in ("train", "val"):
        _png(tmp_path / split / "0001TP_0001.png"), _png(tmp_path / f"{split}annot" / "0001TP_0001.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["train/0001TP_0001", "val/0001TP_0001"]
    assert result.rows[0].mask.parent.name == "trainannot"


def test_cityscapes_suffixes(tmp_path):
    base = "train/aachen/aachen_000000_000019"
    _png(tmp_path / f"leftImg8bit/{base}_leftImg8bit.png")
    _png(tmp_path / f"gtFine/{base}_gtFine_color.png")
    _png(tmp_path / f"gtFine/{base}_gtFine_labelIds.png")  # other gtFine files are not masks here
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == [base]
    assert result.rows[0].mask.name.endswith("_gtFine_color.png")
    assert not result.problems


def test_side_by_side_suffixes_detected_and_explicit(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}_image.png"), _png(tmp_path / f"{i}_target.png")
    assert [r.id for r in scan(tmp_path).rows] == ["0", "1", "2"]
    explicit = scan(tmp_path, image_suffix="_image", mask_suffix="_target")
    assert [r.id for r in explicit.rows] == ["0", "1", "2"]


def test_explicit_dirs_and_suffix_strip_is_not_rstrip(tmp_path):
    _jpg(tmp_path / "photos/hog.jpg"), _png(tmp_path / "gt/hog.png")
    result = scan(tmp_path, image_dir="photos", mask_dir="gt")
    assert [r.id for r in result.rows] == ["photos/hog"]
    with pytest.raises(UsageError):
        scan(tmp_path, image_dir="photos")


def test_hidden_files_excludes_and_symlink_loops(tmp_path):
    _jpg(tmp_path / "images/a.jpg"), _png(tmp_path / "masks/a.png")
    _jpg(tmp_path / "images/.hidden.jpg")
    _jpg(tmp_path / "images/.cache/b.jpg")
    _jpg(tmp_path / "images/skip/c.jpg")
    os.symlink(tmp_path, tmp_path / "images" / "loop")
    result = scan(tmp_path, exclude=["images/skip/*"])
    assert [r.id for r in result.rows] == ["a"]
    # the loop is walked once (through images/loop/...), not forever; its files pair too
    assert all(not p.path.startswith("images/skip") for p in result.problems)


def test_header_check_never_decodes_pixels(tmp_path, monkeypatch):
    _jpg(tmp_path / "images/a.jpg"), _png(tmp_path / "masks/a.png")

    def boom(*a, **k):
        raise AssertionError("decoded pixels during a header scan")

    monkeypatch.setattr(io, "read_image", boom)
    monkeypatch.setattr(io, "read_mask", boom)
    monkeypatch.setattr(Image.Image, "load", boom)
    assert len(scan(tmp_path).rows) == 1
    decoded = scan(tmp_path, check="decode")
    assert not decoded.rows and "decoded pixels" in decoded.problems[0].reason


def test_decode_check_catches_corrupt_data_with_intact_header(tmp_path):
    _jpg(tmp_path / "images/a.jpg", w=64, h=64)
    path = tmp_path / "masks/a.png"
    path.parent.mkdir(parents=True)
    noise = np.random.default_rng(0).integers(0, 4, (64, 64), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT") + 4
    data[idat + 2 : idat + 40] = bytes(38)  # zeroed compressed pixels; header and IEND intact
    path.write_bytes(bytes(data))
    assert [r.id for r in scan(tmp_path).rows] == ["a"]  # headers alone look fine
    decoded = scan(tmp_path, check="decode")
    assert not decoded.rows
    assert [(p.path, p.kind) for p in decoded.problems] == [("masks/a.png", "unreadable")]


def test_parallel_equals_serial(tmp_path):
    for i in range(20):
        _jpg(tmp_path / f"images/{i:02d}.jpg"), _png(tmp_path / f"masks/{i:02d}.png")
    _jpg(tmp_path / "images/orphan.jpg")
    serial = scan(tmp_path)
    with ProcessExecutor(2) as ex:
        parallel = scan(tmp_path, executor=ex)
    assert serial.rows == parallel.rows and serial.problems == parallel.problems


def test_cli_writes_relative_manifest_and_strict_exit(tmp_path, cli):
    data = tmp_path / "data"
    _jpg(data / "images/a.jpg"), _png(data / "masks/a.png")
    out = tmp_path / "work" / "manifest.csv"
    res = cli("scan", data, "-o", out, "-q")
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "../data/images/a.jpg" in text and str(tmp_path) not in text
    assert read_manifest(out)[0].image == (data / "images/a.jpg").absolute()
    _jpg(data / "images/orphan.jpg")
    assert cli("scan", data, "-o", out, "-q").exit_code == 0
    strict = cli("scan", data, "-o", out, "-q", "--strict")
    assert strict.exit_code == 1
    assert "images/orphan.jpg: image has no mask" in strict.output


def test_cli_usage_errors_exit_2(tmp_path, cli):
    _jpg(tmp_path / "x.jpg")
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "--image-dir", "only")
    assert res.exit_code == 2
    assert res.output.startswith("error: ") and len(res.output.strip().splitlines()) == 1


def test_sample_data_pairs_good_and_reports_planted_problems(sample_data, cli, tmp_path):
    good = scan(sample_data, exclude=["bad/*"])
    assert len(good.rows) == 32 and not good.problems
    full = scan(sample_data)
    kinds = {(p.path, p.kind) for p in full.problems}
    assert ("bad/images/broken.jpg", "truncated") in kinds
    assert ("bad/images/wrong_size.jpg", "size_mismatch") in kinds
    assert ("bad/images/orphan.jpg", "orphan_image") in kinds
    assert "bad/good" in {r.id for r in full.rows}
    res = cli("scan", sample_data / "bad", "-o", tmp_path / "m.csv", "--strict", "-q")
    assert res.exit_code == 1
    for name in ("broken.jpg", "wrong_size.jpg", "orphan.jpg"):
        assert name in res.output


@pytest.mark.integration
@pytest.mark.parametrize(
    "relative, expected",
    [
        ("camvid_segnet/CamVid", 201),
        ("isbi2012_membrane/data/membrane/train", 30),
        ("voc_samples/vainf_deeplabv3plus/samples", None),
        ("voc_samples/labelme_examples/examples/semantic_segmentation/data_dataset_voc", None),
    ],
)
def test_real_datasets_pair_completely(shared_data, relative, expected):
    root = shared_data(relative)
    result = scan(root)
    assert result.rows and not result.problems
    if expected is not None:
        assert len(result.rows) == expected
    for row in result.rows[:5]:
        assert io.read_info(row.image).width == row.width

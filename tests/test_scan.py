"""`dataprep scan`: pairing rules, planted problems, header-only validation, manifest output."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep import io
from dataprep.errors import DataprepError, UsageError
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
    _jpg(tmp_path / "images/dup.jpg"), _jpg(tmp_path / "images/dup.JPEG", w=30)  # other bytes: a real duplicate
    _png(tmp_path / "masks/dup.png")
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


BLOCK_COLOURS = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30]], np.uint8)


def _blocks(seed: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A photo of coloured blocks and the label map drawn on it."""
    grid = np.random.default_rng(seed).integers(0, 4, (h // 16 + 1, w // 16 + 1))
    labels = grid[np.arange(h)[:, None] // 16, np.arange(w)[None, :] // 16]  # sizes off the 16 grid: a turn moves it
    return BLOCK_COLOURS[labels], labels.astype(np.uint8)


@pytest.mark.parametrize("orientation", [2, 3, 6])
def test_an_exif_turn_that_keeps_the_size_is_judged_by_the_mask_edges(tmp_path, orientation):
    """A 180-degree turn, a mirror, or a quarter turn of a square image keeps the size, so `exif_rotation` never
    fired: the loader turned the image and not its mask, and 27-30% of the pixels kept their label."""
    square = orientation == 6
    photo, labels = _blocks(orientation, 168, 168 if square else 232)
    undo = {2: 2, 3: 3, 6: 8}[orientation]

    def pair(name: str, stored: np.ndarray, mask: np.ndarray) -> None:
        im = Image.fromarray(np.ascontiguousarray(stored))
        exif = im.getexif()
        exif[0x0112] = orientation
        (tmp_path / "images").mkdir(exist_ok=True), (tmp_path / "masks").mkdir(exist_ok=True)
        im.save(tmp_path / "images" / f"{name}.jpg", quality=95, exif=exif)
        Image.fromarray(mask).save(tmp_path / "masks" / f"{name}.png")

    pair("on_stored", photo, labels)  # the mask drawn on the pixels as stored: wrong once turned
    pair("on_upright", io.apply_orientation(photo, undo), labels)  # stored turned back: upright is the photo
    pair("flat", np.full_like(photo, 90), labels)  # no edges to tell: a warning
    result = scan(tmp_path)
    assert [(p.path, p.kind) for p in result.problems] == [("images/on_stored.jpg", "exif_rotation")]
    assert "follow the stored, unturned pixels" in result.problems[0].reason
    assert [(w.path, w.kind) for w in result.warnings] == [("images/flat.jpg", "exif_orientation")]
    assert [r.id for r in result.rows] == ["flat", "on_upright"]
    upright = io.read_image(tmp_path / "images" / "on_upright.jpg")
    seen = np.abs(upright[:, :, None, :].astype(int) - BLOCK_COLOURS).sum(axis=3).argmin(axis=2)
    assert (seen == labels).mean() > 0.95  # the loader's image is the photo the mask was drawn on


def test_a_name_no_manifest_id_can_hold_is_a_problem_printed_on_one_line(tmp_path, cli):
    """`nl<newline>name.jpg` went into the manifest (quoted), which every other command then refused."""
    for name in ("ok", "nl\nname", "del\x7fname"):
        _jpg(tmp_path / "images" / f"{name}.jpg"), _png(tmp_path / "masks" / f"{name}.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["ok"]
    assert sorted((p.path, p.kind) for p in result.problems) == [
        ("images/del\x7fname.jpg", "bad_name"), ("images/nl\nname.jpg", "bad_name")]
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv")
    assert "problem: " + str(tmp_path / "images" / "nl") + "\\nname.jpg: its name gives the sample id" in res.output
    assert str(tmp_path / "images" / "del") + "\\x7fname.jpg: its name" in res.output


def test_a_dangling_symlink_is_one_readable_problem(tmp_path):
    """It read 'images/dang.jpg: FileNotFoundError: [Errno 2] No such file or directory: ...'."""
    _jpg(tmp_path / "images" / "ok.jpg"), _png(tmp_path / "masks" / "ok.png"), _png(tmp_path / "masks" / "dang.png")
    (tmp_path / "images" / "dang.jpg").symlink_to(tmp_path / "gone.jpg")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["ok"]
    assert [(p.path, p.kind, p.reason) for p in result.problems] == [
        ("images/dang.jpg", "unreadable", f"a symbolic link to {tmp_path / 'gone.jpg'}, which does not exist")]


def test_a_mask_that_fails_to_decode_while_its_turn_is_judged_is_a_problem(tmp_path):
    photo, labels = _blocks(3, 40, 56)
    im = Image.fromarray(photo)
    exif = im.getexif()
    exif[0x0112] = 3
    (tmp_path / "images").mkdir(), (tmp_path / "masks").mkdir()
    im.save(tmp_path / "images" / "a.jpg", exif=exif)
    Image.fromarray(labels).save(tmp_path / "masks" / "a.png")
    data = bytearray((tmp_path / "masks" / "a.png").read_bytes())
    start = data.index(b"IDAT") + 8
    data[start:start + 16] = b"\xff" * 16  # the header and IEND intact, the pixels not
    (tmp_path / "masks" / "a.png").write_bytes(bytes(data))
    result = scan(tmp_path)
    assert not result.rows and [p.kind for p in result.problems] == ["unreadable"]


def test_camvid_style_annot_folders(tmp_path):
    for split in ("train", "val"):
        _png(tmp_path / split / "0001TP_0001.png"), _png(tmp_path / f"{split}annot" / "0001TP_0001.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["train/0001TP_0001", "val/0001TP_0001"]
    assert result.rows[0].mask.parent.name == "trainannot"


def test_cityscapes_suffixes(tmp_path):
    """The colour maps were paired beside label ids: in them polegroup (ignored) is drawn as pole. Train
    ids (cityscapesscripts' createTrainIdLabelImgs, what MMSegmentation reads) come first, then label ids."""
    base = "train/aachen/aachen_000000_000019"
    _png(tmp_path / f"leftImg8bit/{base}_leftImg8bit.png")
    _png(tmp_path / f"gtFine/{base}_gtFine_color.png")
    _png(tmp_path / f"gtFine/{base}_gtFine_instanceIds.png")
    _png(tmp_path / f"gtFine/{base}_gtFine_labelIds.png")  # other gtFine files are not masks here
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == [base]
    assert result.rows[0].mask.name.endswith("_gtFine_labelIds.png")
    assert not result.problems
    _png(tmp_path / f"gtFine/{base}_gtFine_labelTrainIds.png")
    assert scan(tmp_path).rows[0].mask.name.endswith("_gtFine_labelTrainIds.png")


def test_cityscapes_instance_ids_alone_pair_with_a_warning(tmp_path):
    """datumaro's Cityscapes sample holds _gtFine_instanceIds alone: paired as class masks, 0 warnings."""
    base = "train/aachen/aachen_000000_000019"
    _png(tmp_path / f"leftImg8bit/{base}_leftImg8bit.png")
    _png(tmp_path / f"gtFine/{base}_gtFine_instanceIds.png")
    result = scan(tmp_path)
    assert [r.mask.name for r in result.rows] == ["aachen_000000_000019_gtFine_instanceIds.png"]
    assert len(result.notes) == 1 and "instanceIds maps are no class masks" in result.notes[0]
    _png(tmp_path / f"gtFine/{base}_gtFine_labelIds.png")  # the class masks beside them: those pair, no warning
    result = scan(tmp_path)
    assert [r.mask.name for r in result.rows] == ["aachen_000000_000019_gtFine_labelIds.png"] and not result.notes


def test_ade20k_part_and_instance_masks_are_one_warning_each(tmp_path):
    """ADE20K's full release (datumaro's sample): x_parts_1.png and x/instance_000_ADE_train_x.png beside the paired
    x_seg.png were 'image has no mask' problems, one per file."""
    for split, n in (("training", 1), ("validation", 2)):
        _jpg(tmp_path / split / f"{n}.jpg"), _png(tmp_path / split / f"{n}_seg.png")
        _png(tmp_path / split / f"{n}_parts_1.png"), _png(tmp_path / split / f"{n}_parts_2.png")
        _png(tmp_path / split / f"{n}" / f"instance_000_ADE_train_{n}.png")
    _png(tmp_path / "training" / "3_parts_1.png")  # parts of no paired image: still an orphan
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["training/1", "validation/2"]
    assert [(p.path, p.kind) for p in result.problems] == [("training/3_parts_1.png", "orphan_image")]
    assert sorted((w.kind, w.reason.split(" ADE20K")[0]) for w in result.warnings) == [
        ("part_mask", "2"), ("part_mask", "4")]


@pytest.mark.parametrize("images, masks, suffix", [
    ("ISIC-2017_Training_Data", "ISIC-2017_Training_Part1_GroundTruth", "_segmentation"),
    ("ISBI2016_ISIC_Part1_Training_Data", "ISBI2016_ISIC_Part1_Training_GroundTruth", "_Segmentation"),
])
def test_isic_2016_and_2017_folders_pair_and_superpixel_maps_are_one_warning(tmp_path, images, masks, suffix):
    """ISIC 2017 paired nothing and hinted `--mask-suffix _superpixels`, which paired each photo with its
    superpixel map and left the lesion masks orphans; ISIC 2016 paired nothing, without a hint."""
    for n in ("ISIC_0000000", "ISIC_0000050"):
        _jpg(tmp_path / images / f"{n}.jpg"), _png(tmp_path / masks / f"{n}{suffix}.png")
        if "2017" in images:
            _png(tmp_path / images / f"{n}_superpixels.png")
    result = scan(tmp_path)
    assert [(r.id, r.mask.name) for r in result.rows] == [
        (f"{images}/ISIC_0000000", f"ISIC_0000000{suffix}.png"),
        (f"{images}/ISIC_0000050", f"ISIC_0000050{suffix}.png")]
    assert not result.problems and not result.hints
    assert [w.reason.split(" superpixel")[0] for w in result.warnings] == (["2"] if "2017" in images else [])


def test_mmsegmentation_img_dir_ann_dir_layout(tmp_path):
    """MMSegmentation's custom-dataset layout (its LoveDA, Potsdam and Vaihingen converters write it): img_dir/SPLIT
    beside ann_dir/SPLIT; found on mmsegmentation's own test data, where nothing paired before."""
    for split in ("train", "val"):
        _png(tmp_path / "img_dir" / split / "2_10_0_0.png"), _png(tmp_path / "ann_dir" / split / "2_10_0_0.png")
    result = scan(tmp_path)
    assert [(r.id, r.mask.relative_to(tmp_path).as_posix(), r.extra["split"]) for r in result.rows] == [
        ("train/2_10_0_0", "ann_dir/train/2_10_0_0.png", "train"), ("val/2_10_0_0", "ann_dir/val/2_10_0_0.png", "val")]
    assert not result.problems


def test_isprs_vaihingen_top_and_gts_pair_by_name(tmp_path):
    """ISPRS Vaihingen: top/top_mosaic_09cm_areaN.tif beside gts_for_participants/ (or gts/), same names: nothing
    paired and no hint."""
    for gts in ("gts", "gts_for_participants"):
        root = tmp_path / gts
        for area in (1, 3):
            _png(root / "top" / f"top_mosaic_09cm_area{area}.png"), _png(root / gts / f"top_mosaic_09cm_area{area}.png")
        result = scan(root)
        assert [r.mask.relative_to(root).as_posix() for r in result.rows] == [
            f"{gts}/top_mosaic_09cm_area1.png", f"{gts}/top_mosaic_09cm_area3.png"]


def test_npy_arrays_left_unpaired_are_said_to_be_read_as_masks_only(tmp_path):
    """HSI Drive's hyperspectral cubes (.npy) beside PNG masks: "other image files 6", nothing said why."""
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        np.save(tmp_path / "images" / f"{name}.npy", np.zeros((4, 4, 25), np.float32))
        _png(tmp_path / "labels" / f"{name}_TC.png")
    result = scan(tmp_path, mask_suffix="_TC")
    assert any(n.startswith("2 .npy file(s) are not paired: dataprep reads .npy arrays as masks") for n in result.notes)


def test_oxford_pet_layout_masks_one_folder_down(tmp_path):
    """Oxford-IIIT Pet: images/x.jpg <-> annotations/trimaps/x.png beside annotations/xmls/ (and the tarball's
    macOS '._x.png' forks): nothing paired before. Two subfolders that both pair are a question."""
    for name in ("Abyssinian_1", "beagle_1"):
        _jpg(tmp_path / "images" / f"{name}.jpg"), _png(tmp_path / "annotations" / "trimaps" / f"{name}.png")
        (tmp_path / "annotations" / "trimaps" / f"._{name}.png").write_bytes(b"\x00\x05\x16\x07")
    (tmp_path / "annotations" / "xmls").mkdir()
    (tmp_path / "annotations" / "xmls" / "Abyssinian_1.xml").write_text("<annotation/>")
    result = scan(tmp_path)
    assert [(r.id, r.mask.relative_to(tmp_path).as_posix()) for r in result.rows] == [
        ("Abyssinian_1", "annotations/trimaps/Abyssinian_1.png"), ("beagle_1", "annotations/trimaps/beagle_1.png")]
    assert not result.problems
    _png(tmp_path / "annotations" / "trimaps_v2" / "beagle_1.png")
    with pytest.raises(UsageError, match=r"annotations/trimaps \(2 pairs\), annotations/trimaps_v2 \(1 pairs\)"):
        scan(tmp_path)


def test_one_name_jpeg_image_beside_png_mask(tmp_path):
    """data/x.jpg + data/x.png: nothing in the names or folders tells them apart (nothing paired before); the
    format does. A JPEG without its PNG is an orphan; a folder of mostly unrelated files is not paired."""
    for i in range(3):
        _jpg(tmp_path / "data" / f"{i:03d}.jpg"), _png(tmp_path / "data" / f"{i:03d}.png")
    _jpg(tmp_path / "data" / "lonely.jpg")
    result = scan(tmp_path)
    assert [(r.id, r.image.name, r.mask.name) for r in result.rows] == [
        ("data/000", "000.jpg", "000.png"), ("data/001", "001.jpg", "001.png"), ("data/002", "002.jpg", "002.png")]
    assert [(p.path, p.kind) for p in result.problems] == [("data/lonely.jpg", "orphan_image")]
    assert result.rules[0].mask_extension == ".png" and "masks *.png" in result.rules[0].describe()
    mixed = tmp_path / "mixed"
    _jpg(mixed / "a.jpg"), _png(mixed / "a.png")
    for name in ("b", "c", "d"):
        _jpg(mixed / f"{name}.jpg")
    assert not scan(mixed).rows


def test_side_by_side_suffixes_detected_and_explicit(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}_image.png"), _png(tmp_path / f"{i}_target.png")
    assert [r.id for r in scan(tmp_path).rows] == ["0", "1", "2"]
    explicit = scan(tmp_path, image_suffix="_image", mask_suffix="_target")
    assert [r.id for r in explicit.rows] == ["0", "1", "2"]


def test_deepglobe_sat_and_mask_pair_side_by_side(tmp_path):
    """DeepGlobe land cover and roads: `119_sat.jpg` beside `119_mask.png` in one folder; nothing paired."""
    for i in (119, 6399):
        _jpg(tmp_path / "train" / f"{i}_sat.jpg"), _png(tmp_path / "train" / f"{i}_mask.png")
    _jpg(tmp_path / "valid" / "855_sat.jpg")  # the challenge's validation images come without masks
    result = scan(tmp_path)
    assert [(r.id, r.image.name, r.mask.name) for r in result.rows] == [
        ("train/119", "119_sat.jpg", "119_mask.png"), ("train/6399", "6399_sat.jpg", "6399_mask.png")]


def test_stare_netpbm_files_pair_by_a_dotted_annotator_suffix(tmp_path):
    """STARE: stare-images/im0001.ppm <-> labels-ah/im0001.ah.ppm; PPM was not a known extension, and names
    were cut at `_` and `-` only."""
    (tmp_path / "stare-images").mkdir(), (tmp_path / "labels-ah").mkdir()
    for i in (1, 2, 3):
        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(tmp_path / "stare-images" / f"im000{i}.ppm")
        Image.fromarray(np.zeros((24, 32), np.uint8)).save(tmp_path / "labels-ah" / f"im000{i}.ah.ppm")
    result = scan(tmp_path)
    assert [(r.image.name, r.mask.name) for r in result.rows] == [(f"im000{i}.ppm", f"im000{i}.ah.ppm")
                                                                  for i in (1, 2, 3)]
    assert [(r.image_dir, r.mask_dir, r.mask_suffix) for r in result.rules] == [("stare-images", "labels-ah", ".ah")]


@pytest.mark.parametrize("image, mask, sure", [("_ortho.tif", "_classes.tif", False), ("_img.jpg", "_lbl.png", True),
                                               ("_photo.png", "_annotation.png", True)])
def test_names_paired_by_unknown_suffixes_get_a_hint_with_the_options(tmp_path, cli, image, mask, sure):
    """Nothing paired and nothing said how: `t01_ortho.tif` beside `t01_classes.tif` needs the suffixes named."""
    for i in range(3):
        for end in (image, mask):
            path = tmp_path / f"t{i:02d}{end}"
            if path.suffix == ".jpg":
                _jpg(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.zeros((24, 32), np.uint8)).save(path)
    result = scan(tmp_path)
    assert not result.rows and len(result.hints) == 1
    image_suffix, mask_suffix = image.split(".")[0], mask.split(".")[0]
    hint = result.hints[0]
    assert (hint.image_suffix, hint.mask_suffix, hint.pairs, hint.sure) == (image_suffix, mask_suffix, 3, sure)
    assert hint.describe().endswith(f"scan with --image-suffix {image_suffix} --mask-suffix {mask_suffix}")
    assert ("if the" in hint.describe()) == (not sure)
    followed = scan(tmp_path, image_suffix=image_suffix, mask_suffix=mask_suffix)
    assert len(followed.rows) == 3
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv")
    assert res.exit_code == 1 and f"hint: {tmp_path / f't00{mask}'}: 3 names come in pairs" in res.output


def test_unrelated_names_get_no_suffix_hint(tmp_path):
    for name in ("a_x.png", "b_y.png", "c_z.png", "d.png", "a_q.png"):
        _png(tmp_path / name)
    result = scan(tmp_path)
    assert not result.rows and result.hints == []
    _png(tmp_path / "two" / "a_x.png"), _png(tmp_path / "two" / "a_y.png")  # one pair is no pattern
    assert scan(tmp_path / "two").hints == []
    for folder in ("my_dir", "other_dir"):  # a cut inside a folder's name is no suffix
        _png(tmp_path / "dirs" / folder / "a.png"), _png(tmp_path / "dirs" / folder / "b.png")
    assert scan(tmp_path / "dirs").hints == []
    for kind in ("road", "lane"):  # KITTI road's gt_image_2: frames 000000, 000001 of each kind, no masks of another
        for frame in ("000000", "000001"):
            _png(tmp_path / "kitti" / f"um_{kind}_{frame}.png")
    assert scan(tmp_path / "kitti").hints == []


def test_explicit_dirs_and_suffix_strip_is_not_rstrip(tmp_path):
    _jpg(tmp_path / "photos/hog.jpg"), _png(tmp_path / "gt/hog.png")
    result = scan(tmp_path, image_dir="photos", mask_dir="gt")
    assert [r.id for r in result.rows] == ["photos/hog"]
    # One folder named alone picks among the detected pairs; a name that is not there is a usage error.
    assert [r.id for r in scan(tmp_path, image_dir="photos").rows] == ["photos/hog"]
    with pytest.raises(UsageError, match="no folder of this name"):
        scan(tmp_path, image_dir="pictures")


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


def test_scan_never_replaces_a_file_that_is_not_a_manifest(tmp_path, cli):
    """`scan DIR -o DIR/palette.json` replaced the dataset's palette with a manifest, exit 0."""
    data = tmp_path / "data"
    _jpg(data / "images/a.jpg"), _png(data / "masks/a.png")
    palette = data / "palette.json"
    palette.write_text('{"classes": []}\n')
    res = cli("scan", data, "-o", palette, "-q")
    assert res.exit_code == 2 and "palette.json: exists and is not a manifest" in res.output
    assert palette.read_text() == '{"classes": []}\n'
    empty = tmp_path / "made_by_mktemp.csv"
    empty.write_text("")
    assert cli("scan", data, "-o", empty, "-q").exit_code == 0 and read_manifest(empty)[0].id == "a"


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


# --------------------------------------------------------------------------- layouts real datasets ship in


def test_segnet_suite_three_splits_with_L_suffix_and_split_column(tmp_path):
    """Kaggle / Semantic-Segmentation-Suite CamVid: train/ + train_labels/*_L.png, val, test, class_dict.csv."""
    expected = {}
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        for i in range(n):
            stem = f"0001TP_{split}{i:04d}"
            _png(tmp_path / split / f"{stem}.png"), _png(tmp_path / f"{split}_labels" / f"{stem}_L.png")
            expected[f"{split}/{stem}"] = (f"{split}/{stem}.png", f"{split}_labels/{stem}_L.png", split)
    (tmp_path / "class_dict.csv").write_text("name,r,g,b\nSky,128,128,128\n")
    result = scan(tmp_path)
    found = {r.id: (r.image.relative_to(tmp_path).as_posix(), r.mask.relative_to(tmp_path).as_posix(),
                    r.extra["split"]) for r in result.rows}
    assert found == expected
    assert not result.problems
    assert result.splits == ["test", "train", "val"]
    assert sorted((r.image_dir, r.mask_dir, r.mask_suffix, r.pairs) for r in result.rules) == [
        ("test", "test_labels", "_L", 2), ("train", "train_labels", "_L", 3), ("val", "val_labels", "_L", 2)]


@pytest.mark.parametrize("image_dir, mask_dir, split", [
    ("{s}_images", "{s}_masks", "{s}"),  # Kaggle
    ("ISIC2018_Task1-2_{S}_Input", "ISIC2018_Task1_{S}_GroundTruth", "{S}"),  # ISIC 2018
    ("images/{s}2017", "annotations/{s}2017", "{s}2017"),  # COCO-Stuff as MMSegmentation lays it out
])
def test_a_split_word_inside_a_folder_name_gives_the_split_column(tmp_path, image_dir, mask_dir, split):
    """`train_images` / `val_images` had no split column: kfold then mixed the validation set into the folds."""
    for s, S in (("train", "Training"), ("val", "Validation")):
        for i in range(2):
            _jpg(tmp_path / image_dir.format(s=s, S=S) / f"{s}{i}.jpg")
            _png(tmp_path / mask_dir.format(s=s, S=S) / f"{s}{i}.png")
    result = scan(tmp_path)
    assert len(result.rows) == 4
    names = {"train": split.format(s="train", S="Training"), "val": split.format(s="val", S="Validation")}
    assert {r.image.stem: r.extra["split"] for r in result.rows} == {
        "train0": names["train"], "train1": names["train"], "val0": names["val"], "val1": names["val"]}


def test_a_folder_naming_two_splits_or_none_names_no_split():
    from dataprep.layout import split_named_in

    assert [split_named_in(p) for p in ("train_test", "pretrain", "trainannot", "images", "test-set/x")] == [
        None, None, None, None, "test"]
    # One split as `trainval` is (SUIM's train_val/ beside TEST/), as written.
    assert [split_named_in(p) for p in ("train_val/images", "SUIM/Train-Val", "train_val_test")] == [
        "train_val", "Train-Val", None]


def test_suim_train_val_beside_test_gives_two_splits_and_a_folder_of_none_a_warning(tmp_path):
    """SUIM ships train_val/{images,masks} and TEST/{images,masks}: no split column was written, and kfold and
    stats took the test images in without a word."""
    for split in ("train_val", "TEST"):
        for i in range(2):
            _jpg(tmp_path / "suim" / split / "images" / f"d_r_{i}_.jpg")
            _png(tmp_path / "suim" / split / "masks" / f"d_r_{i}_.png")
    result = scan(tmp_path / "suim")
    assert {r.id: r.extra["split"] for r in result.rows} == {
        "TEST/d_r_0_": "TEST", "TEST/d_r_1_": "TEST", "train_val/d_r_0_": "train_val", "train_val/d_r_1_": "train_val"}
    assert not result.notes
    (tmp_path / "suim/train_val").rename(tmp_path / "suim/data")
    mixed = scan(tmp_path / "suim")
    assert "split" not in mixed.rows[0].extra
    assert mixed.notes == ["2 pairs are under folders named as splits (TEST 2) and 2 under none (data/ 2): no split "
                           "column is written, so kfold, stats and augment mix them; rename the folders (train/, val/, "
                           "test/) or scan each part on its own"]


def test_single_split_gets_no_split_column(tmp_path):
    _png(tmp_path / "train/a.png"), _png(tmp_path / "trainannot/a.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["train/a"] and "split" not in result.rows[0].extra


def test_parallel_trees_paired_by_relative_path_across_two_roots(tmp_path):
    for window in ("window_a", "window_b"):
        for i in range(2):
            _png(tmp_path / f"s2_images/{window}/g_{i}.tif")
    for i in range(2):  # the masks of window_a only, in a tree of another shape
        _png(tmp_path / f"label_masks/semantic_3class/g_{i}.tif")
        _png(tmp_path / f"label_masks/binary/g_{i}.tif")
    result = scan(tmp_path, image_dir="s2_images/window_a", mask_dir="label_masks/semantic_3class")
    assert [(r.id, r.mask.relative_to(tmp_path).as_posix()) for r in result.rows] == [
        ("s2_images/window_a/g_0", "label_masks/semantic_3class/g_0.tif"),
        ("s2_images/window_a/g_1", "label_masks/semantic_3class/g_1.tif")]
    assert not result.problems
    with pytest.raises(UsageError, match="no image files"):
        scan(tmp_path, image_dir="s2_images/window_c", mask_dir="label_masks/binary")


def test_the_question_of_masks_one_folder_down_names_the_folder_mask_dir_takes(tmp_path):
    """iSAID: {train,val}/Semantic_masks/images and Instance_masks/images were offered as 'images (3 pairs),
    images (3 pairs)', and --mask-dir images paired nothing."""
    for split in ("train", "val"):
        for n in range(3):
            _png(tmp_path / f"{split}/images/P000{n}.png")
            _png(tmp_path / f"{split}/Semantic_masks/images/P000{n}_instance_color_RGB.png")
            _png(tmp_path / f"{split}/Instance_masks/images/P000{n}_instance_id_RGB.png")
    with pytest.raises(UsageError, match=r"which folder holds the masks: Instance_masks \(3 pairs\), Semantic_masks "
                                         r"\(3 pairs\)\? say it with --mask-dir NAME"):
        scan(tmp_path)
    result = scan(tmp_path, mask_dir="Semantic_masks")
    assert sorted((r.image.relative_to(tmp_path).as_posix(), r.mask.name) for r in result.rows) == sorted(
        (f"{split}/images/P000{n}.png", f"P000{n}_instance_color_RGB.png") for split in ("train", "val")
        for n in range(3))


def test_two_channels_per_mask_are_a_question_not_a_silent_pick(tmp_path, cli):
    """nnU-Net's imagesTr/case_000_0000.png and case_000_0001.png (two channels) beside labelsTr/case_000.png: the
    _0001 images were paired and every _0000 one called an image without a mask."""
    for n in range(3):
        for channel in ("_0000", "_0001"):
            _png(tmp_path / f"Dataset121_Two/imagesTr/case_{n:03d}{channel}.png")
        _png(tmp_path / f"Dataset121_Two/labelsTr/case_{n:03d}.png")
    with pytest.raises(UsageError, match=r"several images for each mask, named with _0000, _0001 \(3 masks each"):
        scan(tmp_path)
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "-q")
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1
    chosen = scan(tmp_path, image_suffix="_0000", exclude=["*_0001.png"])
    assert [(r.image.name, r.mask.name) for r in chosen.rows] == [
        (f"case_{n:03d}_0000.png", f"case_{n:03d}.png") for n in range(3)]
    assert not chosen.problems
    for n in range(3):  # one channel: nnU-Net's usual, no question
        (tmp_path / f"Dataset121_Two/imagesTr/case_{n:03d}_0001.png").unlink()
    assert len(scan(tmp_path).rows) == 3


def test_split_lists_beside_the_data_give_the_split_column(tmp_path, cli):
    """VOC 2012's ImageSets/Segmentation/train.txt and val.txt (and Oxford-IIIT Pet's annotations/trainval.txt,
    test.txt) were not read: no split column, and VOC's val images went into kfold and stats with the training
    ones, unsaid. ImageSets/Main lists other images (detection) and trainval is the union of train and val."""
    voc = tmp_path / "VOCdevkit/VOC2012"
    ids = [f"2007_{n:06d}" for n in range(6)]
    for i in ids:
        _jpg(voc / f"JPEGImages/{i}.jpg"), _png(voc / f"SegmentationClass/{i}.png")
    _jpg(voc / "JPEGImages/2008_000002.jpg")  # detection only: no mask
    (voc / "ImageSets/Segmentation").mkdir(parents=True)
    (voc / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids[:4]) + "\n")
    (voc / "ImageSets/Segmentation/val.txt").write_text("\n".join(ids[4:]) + "\n")
    (voc / "ImageSets/Segmentation/trainval.txt").write_text("\n".join(ids) + "\n")
    (voc / "ImageSets/Main").mkdir(parents=True)
    (voc / "ImageSets/Main/train.txt").write_text("\n".join(ids[3:]) + "\n")  # another set's split
    result = scan(tmp_path)
    assert {r.image.stem: r.extra["split"] for r in result.rows} == {
        i: "train" if n < 4 else "val" for n, i in enumerate(ids)}
    assert result.splits == ["train", "val"] and result.splits_from == "VOCdevkit/VOC2012/ImageSets/Segmentation"
    # The detection-only photo is in no segmentation list: one warning, not an orphan problem per photo (14,212).
    assert not result.problems
    assert [(w.kind, w.reason) for w in result.warnings] == [
        ("unlabelled_folder", "1 images without a mask are in none of the split lists of "
                              "VOCdevkit/VOC2012/ImageSets/Segmentation (another task's images, as VOC's "
                              "detection-only photos): left out")]
    _jpg(voc / "JPEGImages/2007_000099.jpg")  # listed for segmentation, its mask missing: a problem
    (voc / "ImageSets/Segmentation/train.txt").write_text("\n".join([*ids[:4], "2007_000099"]) + "\n")
    assert [p.path for p in scan(tmp_path).problems] == ["VOCdevkit/VOC2012/JPEGImages/2007_000099.jpg"]
    (voc / "ImageSets/Segmentation/train.txt").write_text("\n".join(ids[:4]) + "\n")
    (voc / "JPEGImages/2007_000099.jpg").unlink()
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv")
    assert ("split column       train 4, val 2 (from the lists in VOCdevkit/VOC2012/ImageSets/Segmentation)"
            in res.output)
    assert {r.extra["split"] for r in read_manifest(tmp_path / "m.csv").rows} == {"train", "val"}
    pet = tmp_path / "pet"
    for name in ("Abyssinian_1", "Bengal_2", "beagle_10"):
        _jpg(pet / f"images/{name}.jpg"), _png(pet / f"annotations/trimaps/{name}.png")
    (pet / "annotations/trainval.txt").write_text("Abyssinian_1 1 1 1\nbeagle_10 13 2 5\n")
    (pet / "annotations/test.txt").write_text("# a comment\nBengal_2 7 1 6\n")
    assert {r.id: r.extra["split"] for r in scan(pet).rows} == {
        "Abyssinian_1": "trainval", "Bengal_2": "test", "beagle_10": "trainval"}
    (pet / "annotations/test.txt").write_text("Bengal_2 7 1 6\nbeagle_10 13 2 5\n")  # in two lists: no column
    twice = scan(pet)
    assert "split" not in twice.rows[0].extra
    assert twice.notes == ["1 pair(s) are listed in two split lists of annotations: no split column is written "
                           "from them"]
    (pet / "annotations/test.txt").write_text("Bengal_2 7 1 6\n")
    (pet / "annotations/trainval.txt").write_text("Abyssinian_1 1 1 1\n")
    some = scan(pet)  # a pair in no list: an empty split, said
    assert [r.extra["split"] for r in some.rows] == ["trainval", "test", ""]
    assert some.notes == ["1 pair(s) are in none of the split lists of annotations: their split is empty"]
    (pet / "annotations/test.txt").unlink()
    assert "split" not in scan(pet).rows[0].extra  # one list of some pairs may be any subset: no split column
    # Lists of another set naming as many pairs (VOC's ImageSets/Main, split otherwise): the segmentation ones win.
    (voc / "ImageSets/Main/val.txt").write_text("\n".join(ids[:3]) + "\n")
    assert {r.image.stem: r.extra["split"] for r in scan(tmp_path / "VOCdevkit").rows} == {
        i: "train" if n < 4 else "val" for n, i in enumerate(ids)}


def test_a_mask_folder_of_a_weaker_convention_that_pairs_more_is_said(tmp_path):
    """VOC-aug: SegmentationClassAug (10,582 masks) beside SegmentationClass (2,913) was left out unsaid, and the
    images only it pairs were called images without a mask."""
    for n in range(7):
        _jpg(tmp_path / f"VOC2012/JPEGImages/2007_{n:06d}.jpg")
        _png(tmp_path / f"VOC2012/SegmentationClassAug/2007_{n:06d}.png")
        if n < 3:
            _png(tmp_path / f"VOC2012/SegmentationClass/2007_{n:06d}.png")
    result = scan(tmp_path)
    assert [r.mask.parent.name for r in result.rows] == ["SegmentationClass"] * 3
    assert result.notes == ["VOC2012/JPEGImages: paired with VOC2012/SegmentationClass (3 pairs), but "
                            "SegmentationClassAug pairs 7: --mask-dir SegmentationClassAug takes those"]
    aug = scan(tmp_path, mask_dir="SegmentationClassAug")
    assert len(aug.rows) == 7 and not aug.notes and not aug.problems


def test_a_folder_of_images_none_of_which_has_a_mask_is_one_warning(tmp_path):
    """DeepGlobe land cover: valid/ and test/ hold photos only (x_sat.jpg), beside train/'s pairs: 343 'image has
    no mask' problems, one per photo. Where masks are left over, names may be at fault: problems each."""
    for n in range(3):
        _jpg(tmp_path / f"train/{n}_sat.jpg"), _png(tmp_path / f"train/{n}_mask.png")
        _jpg(tmp_path / f"valid/{10 + n}_sat.jpg"), _jpg(tmp_path / f"test/{20 + n}_sat.jpg")
    _jpg(tmp_path / "train/9_sat.jpg")  # beside pairs: still a problem
    result = scan(tmp_path)
    assert len(result.rows) == 3
    assert [(p.path, p.kind) for p in result.problems] == [("train/9_sat.jpg", "orphan_image")]
    assert sorted((w.kind, w.reason) for w in result.warnings) == [
        ("unlabelled_folder", "none of the 3 images in test/ has a mask (an unlabelled split?): left out"),
        ("unlabelled_folder", "none of the 3 images in valid/ has a mask (an unlabelled split?): left out")]
    _png(tmp_path / "train/99_mask.png")  # a mask left over: the names may be what is wrong
    assert sum(p.kind == "orphan_image" for p in scan(tmp_path).problems) == 7


def test_kitti_semantic_folders_are_mask_folders(tmp_path):
    """KITTI semantics: training/image_2 beside semantic/ and semantic_rgb/: 'nothing pairs', `semantic` was no
    mask word (and semantic_rgb read as images: rgb)."""
    for n in range(3):
        _png(tmp_path / f"training/image_2/{n:06d}_10.png")
        for folder in ("semantic", "semantic_rgb", "instance"):
            _png(tmp_path / f"training/{folder}/{n:06d}_10.png")
    with pytest.raises(UsageError, match=r"which folder holds the masks: semantic \(3 pairs\), semantic_rgb \(3 "
                                         r"pairs\)\?"):
        scan(tmp_path)
    result = scan(tmp_path, mask_dir="semantic")
    assert [r.mask.parent.name for r in result.rows] == ["semantic"] * 3 and not result.problems
    for n in range(3):  # a folder of images named with the word stays one
        _png(tmp_path / f"drone/semantic_images/{n}.png"), _png(tmp_path / f"drone/labels/{n}.png")
    assert [r.image.parent.name for r in scan(tmp_path / "drone").rows] == ["semantic_images"] * 3


def _drive(root: Path) -> None:
    for n in (21, 22):
        _png(root / f"training/images/{n}_training.tif")
        _png(root / f"training/1st_manual/{n}_manual1.gif")
        _png(root / f"training/mask/{n}_training_mask.gif")
    for n in (1, 2):
        _png(root / f"test/images/{n:02d}_test.tif")
        _png(root / f"test/1st_manual/{n:02d}_manual1.gif")
        _png(root / f"test/mask/{n:02d}_test_mask.gif")


def test_drive_two_mask_folders_is_a_question_answered_by_mask_dir(tmp_path, cli):
    _drive(tmp_path)
    with pytest.raises(UsageError, match=r"which folder holds the masks: 1st_manual \(2 pairs\), mask \(2 pairs\)\? "
                                         r"say it with --mask-dir NAME"):
        scan(tmp_path)
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "-q")
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1 and "--mask-dir" in res.output
    result = scan(tmp_path, mask_dir="1st_manual")
    pairs = {(r.image.relative_to(tmp_path).as_posix(), r.mask.relative_to(tmp_path).as_posix(), r.extra["split"])
             for r in result.rows}
    assert pairs == {
        ("training/images/21_training.tif", "training/1st_manual/21_manual1.gif", "training"),
        ("training/images/22_training.tif", "training/1st_manual/22_manual1.gif", "training"),
        ("test/images/01_test.tif", "test/1st_manual/01_manual1.gif", "test"),
        ("test/images/02_test.tif", "test/1st_manual/02_manual1.gif", "test"),
    }
    assert not result.problems
    # An explicit image suffix no longer hides the images without it: they show up as orphans.
    suffixed = scan(tmp_path, image_dir="images", mask_dir="1st_manual", image_suffix="_training")
    assert suffixed.images_seen == 4
    assert {p.path for p in suffixed.problems if p.kind == "orphan_image"} == {"test/images/01_test.tif",
                                                                              "test/images/02_test.tif"}


def test_a_mask_named_but_for_punctuation_is_named_in_its_orphan_image_problem(tmp_path):
    """DRIVE copies in the wild: `34manual1.gif` and `51_manual1).gif` among `NN_manual1.gif`, and FOV masks
    `23_training_mask .gif`; the images were orphans and the user was left to find why among 80 files."""
    for n in (21, 34, 51, 60, 61, 70):
        _png(tmp_path / f"training/images/{n}_training.tif")
        _png(tmp_path / f"training/mask/{n}_training_mask.gif")
    for name in ("21_manual1", "34manual1", "51_Manual1)", "70_manual1"):
        _png(tmp_path / f"training/1st_manual/{name}.gif")
    _png(tmp_path / "training/1st_manual/60-manual1.gif")  # two near names for 60: no single answer
    _png(tmp_path / "training/1st_manual/60 manual1.gif")
    for image in ("80_training", "80 _training"):  # and one near name for two images
        _png(tmp_path / f"training/images/{image}.tif")
    _png(tmp_path / "training/1st_manual/80-manual1.gif")
    result = scan(tmp_path, mask_dir="1st_manual")
    assert [r.id for r in result.rows] == ["training/21", "training/70"]
    reasons = {p.path: p.reason for p in result.problems}
    assert reasons["training/images/34_training.tif"] == (
        "image has no mask; training/1st_manual/34manual1.gif, which no rule pairs, is named like its mask but "
        "for case, spaces or punctuation: rename it to 34_manual1.gif to pair them")
    assert "51_Manual1).gif" in reasons["training/images/51_training.tif"]
    assert "rename it to 51_manual1.gif" in reasons["training/images/51_training.tif"]
    assert reasons["training/images/60_training.tif"] == "image has no mask"
    assert reasons["training/images/61_training.tif"] == "image has no mask"
    assert reasons["training/images/80_training.tif"] == reasons["training/images/80 _training.tif"] == (
        "image has no mask")
    # Both sides orphans: the image's key differs from the mask's by a space.
    (tmp_path / "training/images/21_training.tif").rename(tmp_path / "training/images/21 _training.tif")
    result = scan(tmp_path, mask_dir="1st_manual")
    reasons = {p.path: p.reason for p in result.problems}
    assert "training/1st_manual/21_manual1.gif, which no rule pairs" in reasons["training/images/21 _training.tif"]
    assert reasons["training/1st_manual/21_manual1.gif"] == (
        "mask has no image; named like the mask of training/images/21 _training.tif but for case, spaces or "
        "punctuation")


def test_many_files_with_the_same_warning_print_one_line(tmp_path, cli):
    import tifffile

    (tmp_path / "images").mkdir()
    data = np.zeros((24, 32, 4), np.uint8)
    for n in range(5):
        tifffile.imwrite(tmp_path / "images" / f"{n}.tif", data, photometric="rgb")
        _png(tmp_path / "masks" / f"{n}.png")
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "-q")
    lines = [line for line in res.output.splitlines() if line.startswith("warning:")]
    assert len(lines) == 1, res.output
    assert lines[0].startswith(f"warning: under {tmp_path}, images/0.tif, images/1.tif, images/2.tif and 2 more "
                               "(5 in all): band 4 is tagged alpha")
    for n in range(3, 5):
        (tmp_path / "images" / f"{n}.tif").unlink()
        (tmp_path / "masks" / f"{n}.png").unlink()
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "-q")
    lines = [line for line in res.output.splitlines() if line.startswith("warning:")]
    assert [line.split(": band")[0] for line in lines] == [f"warning: {tmp_path / 'images' / f'{n}.tif'}"
                                                         for n in range(3)]


def test_masks_adding_words_before_a_dotted_part_pair(tmp_path):
    """Stadzior/lungs-img-segmentation-unet: image/expi11__1.0__B31f_1018.raw_251.png <->
    mask/expi11__1.0__B31f_1018_Delmon_CompleteMM.raw_251.png. Two words, and a '.' after them: nothing paired,
    and no option could say it."""
    for n in (251, 252, 259):
        _png(tmp_path / "image" / f"expi11__1.0__B31f_1018.raw_{n}.png")
        _png(tmp_path / "mask" / f"expi11__1.0__B31f_1018_Delmon_CompleteMM.raw_{n}.png")
    result = scan(tmp_path)
    assert [(r.image.name, r.mask.name) for r in result.rows] == [
        (f"expi11__1.0__B31f_1018.raw_{n}.png", f"expi11__1.0__B31f_1018_Delmon_CompleteMM.raw_{n}.png")
        for n in (251, 252, 259)]
    assert not result.problems


def test_one_folder_of_images_and_masks_adding_a_mask_word(tmp_path):
    """solaris' datagen sample: sample_1.tif beside sample_mask_1.tif, no suffix telling them apart; a word that
    says nothing of masks (sample_red_1) pairs nothing."""
    for n in range(1, 4):
        _png(tmp_path / "flat" / f"sample_{n}.png")
        _png(tmp_path / "flat" / f"sample_mask_{n}.png")
    _png(tmp_path / "flat" / "expected_im.png")
    result = scan(tmp_path / "flat")
    assert [(r.image.name, r.mask.name) for r in result.rows] == [
        (f"sample_{n}.png", f"sample_mask_{n}.png") for n in range(1, 4)]
    assert [p.path for p in result.problems] == ["expected_im.png"]  # an image without its mask
    for n in range(1, 4):
        _png(tmp_path / "other" / f"sample_{n}.png")
        _png(tmp_path / "other" / f"sample_red_{n}.png")
    assert not scan(tmp_path / "other").rows


def test_kitti_road_masks_name_a_word_the_images_lack(tmp_path, cli):
    """data_road: image_2/um_000000.png <-> gt_image_2/um_road_000000.png, beside um_lane_000000.png for the
    um images only; umm_ and uu_ images have road masks alone."""
    for prefix in ("um", "umm", "uu"):
        for n in range(2):
            _png(tmp_path / "training/image_2" / f"{prefix}_{n:06d}.png")
            _png(tmp_path / "training/gt_image_2" / f"{prefix}_road_{n:06d}.png")
    for n in range(2):
        _png(tmp_path / "training/gt_image_2" / f"um_lane_{n:06d}.png")
    result = scan(tmp_path)
    assert [(r.image.name, r.mask.name) for r in result.rows][:2] == [("um_000000.png", "um_road_000000.png"),
                                                                      ("um_000001.png", "um_road_000001.png")]
    assert len(result.rows) == 6 and not result.problems
    assert result.notes == ["training/gt_image_2: 2 masks add the word lane where the paired ones add road: not "
                            "paired; --mask-word lane pairs them instead"]
    lane = scan(tmp_path, mask_word="lane")
    assert [r.mask.name for r in lane.rows] == ["um_lane_000000.png", "um_lane_000001.png"]
    assert {p.path for p in lane.problems} == {f"training/image_2/{p}_{n:06d}.png" for p in ("umm", "uu")
                                               for n in range(2)}  # images without a lane mask: orphans
    for prefix in ("umm", "uu"):  # now road and lane pair as many: a question
        for n in range(2):
            (tmp_path / "training/image_2" / f"{prefix}_{n:06d}.png").unlink()
            (tmp_path / "training/gt_image_2" / f"{prefix}_road_{n:06d}.png").unlink()
    with pytest.raises(UsageError, match=r"the mask names add a word to the image names: lane \(2 pairs\), road "
                                         r"\(2 pairs\)\? say it with --mask-word WORD"):
        scan(tmp_path)
    res = cli("scan", tmp_path, "--mask-word", "road", "-o", tmp_path / "m.csv", "-q")
    assert res.exit_code == 0 and "mask names add the word road" in res.output
    for n in range(4):  # a word in front: mask_0001.png for 0001.png
        _png(tmp_path / "front/images" / f"{n:04d}.png")
        _png(tmp_path / "front/masks" / f"mask_{n:04d}.png")
    assert len(scan(tmp_path / "front").rows) == 4
    for n in range(4):  # one mask of four by chance: no pairing
        _png(tmp_path / "chance/images" / f"a_{n}.png")
        _png(tmp_path / "chance/masks" / f"{'a_x_0' if n == 0 else f'b_{n + 5}'}.png")
    assert not scan(tmp_path / "chance").rows
    for n in range(3):  # a word in place of the image's: img_0001 <-> mask_0001, sat_7 <-> mask_7
        _png(tmp_path / "swap/images" / f"img_{n:04d}.png")
        _png(tmp_path / "swap/masks" / f"mask_{n:04d}.png")
    swapped = scan(tmp_path / "swap")
    assert [(r.image.name, r.mask.name) for r in swapped.rows][0] == ("img_0000.png", "mask_0000.png")
    assert len(swapped.rows) == 3 and swapped.rules[0].image_word == "img"


def test_cityscapes_with_only_mask_suffix(tmp_path):
    bases = ["train/aachen/aachen_000000_000019", "val/frankfurt/frankfurt_000000_000294"]
    for base in bases:
        _png(tmp_path / f"leftImg8bit/{base}_leftImg8bit.png")
        for kind in ("color", "labelIds", "instanceIds"):
            _png(tmp_path / f"gtFine/{base}_gtFine_{kind}.png")
    result = scan(tmp_path, mask_suffix="_gtFine_labelIds")
    assert [(r.id, r.mask.name, r.extra["split"]) for r in result.rows] == [
        (bases[0], "aachen_000000_000019_gtFine_labelIds.png", "train"),
        (bases[1], "frankfurt_000000_000294_gtFine_labelIds.png", "val")]
    assert result.rules[0].image_suffix == "_leftImg8bit" and not result.problems


def test_a_mask_suffix_given_is_kept_beside_plain_masks_of_no_known_suffix(tmp_path):
    """COCO-Stuff 164k: annotations/train2017/x.png beside x_labelTrainIds.png. `--mask-suffix _labelTrainIds`
    (on no built-in list) was dropped, carried by half the masks only, and the plain maps were paired as images
    with it: 6 'pairs' of two masks, every photo an orphan, exit 0."""
    for split in ("train2017", "val2017"):
        for k in range(3):
            name = f"{k + 139:012d}"
            _jpg(tmp_path / f"images/{split}/{name}.jpg")
            _png(tmp_path / f"annotations/{split}/{name}_labelTrainIds.png")
            _png(tmp_path / f"annotations/{split}/{name}.png")
    result = scan(tmp_path, mask_suffix="_labelTrainIds")
    assert [(r.image.relative_to(tmp_path).as_posix(), r.mask.name, r.extra["split"]) for r in result.rows] == [
        (f"images/{split}/{k + 139:012d}.jpg", f"{k + 139:012d}_labelTrainIds.png", split)
        for split in ("train2017", "val2017") for k in range(3)]
    assert not result.problems
    # Without it the plain maps pair, and their variants are one warning, not an orphan problem each.
    plain = scan(tmp_path)
    assert [r.mask.name for r in plain.rows] == [f"{k + 139:012d}.png" for _ in range(2) for k in range(3)]
    assert not plain.problems
    assert [(w.kind, w.reason) for w in plain.warnings] == [
        ("mask_variant", "6 masks named as paired masks plus _labelTrainIds (e.g. this one): another form of them, "
                         "not paired; --mask-suffix _labelTrainIds pairs them instead")]
    # A mask named as a paired one plus a suffix few carry is a mask whose image is missing: a problem.
    for n in (1, 2):
        _jpg(tmp_path / f"tiles/images/scene_{n}.jpg"), _png(tmp_path / f"tiles/masks/scene_{n}.png")
    _png(tmp_path / "tiles/masks/scene_1_2.png")
    lost = scan(tmp_path / "tiles")
    assert [(p.path, p.kind) for p in lost.problems] == [("masks/scene_1_2.png", "orphan_mask")] and not lost.warnings


@pytest.mark.parametrize("mask_suffix", ["_mask", "_label", "_labels", "_gt", "_seg"])
def test_folder_pairs_with_mask_suffixes(tmp_path, mask_suffix):
    for i in range(3):
        _jpg(tmp_path / f"images/{i}.jpg"), _png(tmp_path / f"masks/{i}{mask_suffix}.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["0", "1", "2"]
    assert result.rules[0].mask_suffix == mask_suffix and not result.problems


def test_nothing_pairs_refused_and_old_manifest_survives(tmp_path, cli):
    data = tmp_path / "data"
    _jpg(data / "images/a.jpg"), _png(data / "masks/a.png")
    out = tmp_path / "m.csv"
    assert cli("scan", data, "-o", out, "-q").exit_code == 0
    before = out.read_text()
    assert "images/a.jpg" in before
    (data / "masks/a.png").unlink()
    for name in ("x", "y"):
        _jpg(data / f"photos/{name}.jpg")
    result = scan(data)
    assert result.rows == []
    res = cli("scan", data, "-o", out, "-q")
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == f"error: {data}: no image/mask pairs found; {out} not written"
    assert out.read_text() == before


def test_per_instance_folders_get_an_import_hint(tmp_path, cli):
    for sid in ("0a7d30", "1b2c44"):
        _png(tmp_path / f"{sid}/images/{sid}.png")
        for k in range(3):
            _png(tmp_path / f"{sid}/masks/{sid}_obj{k}_{k * 7919:x}.png")
    result = scan(tmp_path)
    assert not result.rows
    assert [(h.format, h.count) for h in result.hints] == [("instances", 2)]
    res = cli("scan", tmp_path, "-o", tmp_path / "m.csv", "-q")
    assert res.exit_code == 1
    assert "per-instance masks (ID/images/ID.png + ID/masks/*.png, one file per object) (2 samples)" in res.output
    assert f"convert with `dataprep import instances {tmp_path} DEST`" in res.output


def test_labelme_coco_cvat_yolo_hints(tmp_path):
    import json

    for name in ("a", "b"):
        _jpg(tmp_path / f"labelme/{name}.jpg")
        (tmp_path / f"labelme/{name}.json").write_text(json.dumps(
            {"version": "5.2.1", "flags": {}, "shapes": [{"label": "cat", "points": [[1, 2], [3, 4], [5, 1]],
                                                          "shape_type": "polygon"}],
             "imagePath": f"{name}.jpg", "imageData": None}))
    _jpg(tmp_path / "coco/images/c.jpg")
    (tmp_path / "coco/annotations").mkdir(parents=True)
    (tmp_path / "coco/annotations/instances_train.json").write_text(json.dumps(
        {"images": [{"id": 1, "file_name": "c.jpg"}], "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    (tmp_path / "cvat").mkdir()
    (tmp_path / "cvat/annotations.xml").write_text(
        '<?xml version="1.0"?>\n<annotations><version>1.1</version><image id="0" name="d.jpg" width="4" '
        'height="4"><polygon label="x" points="0,0;1,1;2,0"/></image></annotations>')
    _jpg(tmp_path / "yolo/images/e.jpg")
    (tmp_path / "yolo/labels").mkdir(parents=True)
    (tmp_path / "yolo/labels/e.txt").write_text("0 0.5 0.5 0.2 0.3\n1 0.1 0.2 0.05 0.05\n")
    (tmp_path / "notes.txt").write_text("just some notes\n")
    (tmp_path / "config.json").write_text('{"lr": 0.1}')
    _jpg(tmp_path / "steel/train_images/0002cc93b.jpg")
    (tmp_path / "steel/train.csv").write_text("ImageId,ClassId,EncodedPixels\n0002cc93b.jpg,1,29102 12 29346 24\n"
                                              "0007a71bf.jpg,3,18661 28 18863 82\n")
    (tmp_path / "steel/sizes.csv").write_text("id,annotation\n0002cc93b.jpg,two scratches\n")  # not an RLE
    import scipy.io

    _jpg(tmp_path / "sbd/img/2008_000002.jpg")
    (tmp_path / "sbd/cls").mkdir()
    scipy.io.savemat(tmp_path / "sbd/cls/2008_000002.mat", {"GTcls": {"Segmentation": np.zeros((24, 32), np.uint8)}})
    scipy.io.savemat(tmp_path / "sbd/classes.mat", {"names": np.array(["a", "b"], dtype=object)})  # no image's
    result = scan(tmp_path)
    assert not result.rows
    assert {h.format: (h.count, h.example) for h in result.hints} == {
        "coco": (1, "coco/annotations/instances_train.json"),
        "cvat": (1, "cvat/annotations.xml"),
        "labelme": (2, "labelme/a.json"),
        "yolo": (1, "yolo/labels/e.txt"),
        "kaggle-rle": (1, "steel/train.csv"),
        "mat": (1, "sbd/cls/2008_000002.mat"),
    }
    assert {h.format: h.source for h in result.hints} == {
        "coco": "coco/annotations/instances_train.json", "cvat": "cvat/annotations.xml", "labelme": "labelme",
        "yolo": "yolo", "kaggle-rle": "steel/train.csv", "mat": "sbd/cls"}
    assert "convert with `dataprep import labelme labelme DEST`" in str(next(h for h in result.hints
                                                                            if h.format == "labelme"))
    # Roboflow's YOLO export: data.yaml beside train/ valid/ test/, each with images/ and labels/; the hint named
    # test/, where `import yolo` finds no data.yaml (aysebingol/yolov8-shoe-sole-segmentation)
    for split in ("test", "train"):
        _jpg(tmp_path / f"rf/dataset/{split}/images/f.jpg")
        (tmp_path / f"rf/dataset/{split}/labels").mkdir(parents=True)
        (tmp_path / f"rf/dataset/{split}/labels/f.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n")
    (tmp_path / "rf/dataset/data.yaml").write_text("names: [shoe]\ntrain: ../train/images\nval: ../test/images\n")
    rf = next(h for h in scan(tmp_path / "rf").hints if h.format == "yolo")
    assert rf.source == "dataset" and "convert with `dataprep import yolo dataset DEST`" in str(rf)
    rf = next(h for h in scan(tmp_path / "rf" / "dataset").hints if h.format == "yolo")
    assert rf.source == "" and "convert with `dataprep import yolo . DEST`" in str(rf)
    # MSRC v2: newsegmentations_mats/x_GT.mat for Images/x.bmp (no hint: "nothing pairs" alone)
    _jpg(tmp_path / "msrc/Images/1_1_s.bmp")
    (tmp_path / "msrc/newsegmentations_mats").mkdir(parents=True)
    scipy.io.savemat(tmp_path / "msrc/newsegmentations_mats/1_1_s_GT.mat", {"newseg": np.ones((24, 32), np.uint8)})
    msrc = [h for h in scan(tmp_path / "msrc").hints if h.format == "mat"]
    assert [h.source for h in msrc] == ["newsegmentations_mats"]
    # Mapillary's panoptic_2018.json was sent to `import coco`, which then missed each annotation's category_id
    _jpg(tmp_path / "mv/images/f.jpg")
    (tmp_path / "mv/panoptic").mkdir(parents=True)
    (tmp_path / "mv/panoptic/panoptic_2018.json").write_text(json.dumps(
        {"images": [{"id": 1, "file_name": "f.jpg"}], "annotations": [
            {"image_id": 1, "file_name": "f.png", "segments_info": [{"id": 5, "category_id": 1}]}],
         "categories": [{"id": 1, "name": "x"}]}))
    mv = scan(tmp_path / "mv").hints
    assert [(h.format, h.source) for h in mv] == [("coco-panoptic", "panoptic/panoptic_2018.json")]


def test_cli_summary_says_which_rule_paired_what(tmp_path, cli):
    for split in ("train", "val"):
        _png(tmp_path / f"{split}/a.png"), _png(tmp_path / f"{split}_labels/a_L.png")
    _png(tmp_path / "val_labels/a_other.png")
    res = cli("scan", tmp_path, "-o", tmp_path.parent / "m.csv", "-q")
    assert res.exit_code == 0, res.output
    assert "train <-> train_labels (mask suffix _L): 1 pairs [folder beside its '_labels' twin]" in res.output
    assert "val <-> val_labels (mask suffix _L): 1 pairs" in res.output
    assert "split column       train 1, val 1" in res.output
    assert "other image files  1 (not taken by any pairing rule)" in res.output
    assert read_manifest(tmp_path.parent / "m.csv")[0].extra["split"] == "train"


@pytest.mark.integration
def test_camvid_pairs_and_splits_match_its_own_list_files(shared_data):
    """Independent check: SegNet's train/val/test.txt list the (image, annotation) pairs of each split."""
    root = shared_data("camvid_segnet/CamVid")
    listed = set()
    for split in ("train", "val", "test"):
        for line in (root / f"{split}.txt").read_text().split("\n"):
            if line.strip():
                image, mask = (p.removeprefix("/SegNet/CamVid/") for p in line.split())
                listed.add((image, mask, split))
    result = scan(root)
    found = {(r.image.relative_to(root).as_posix(), r.mask.relative_to(root).as_posix(), r.extra["split"])
             for r in result.rows}
    assert found == listed and len(found) == 201
    assert result.splits == ["test", "train", "val"] and not result.problems


def test_on_error_fail_stops_at_the_first_problem_and_writes_nothing(sample_data, tmp_path, cli):
    with pytest.raises(DataprepError, match="--on-error skip"):
        scan(sample_data, on_error="fail")
    out = tmp_path / "m.csv"
    res = cli("scan", sample_data, "-o", out, "--on-error", "fail", "-j", "1", "-q")
    assert res.exit_code == 1 and str(sample_data / "bad") in res.output and not out.exists()


def test_problem_kinds_are_scan_problem_members(tmp_path):
    from dataprep.errors import DataprepError, TruncatedError
    from dataprep.scan import Problem, ScanProblem

    _jpg(tmp_path / "images/a.jpg"), _png(tmp_path / "masks/a.png")
    _jpg(tmp_path / "images/orphan.jpg")
    _jpg(tmp_path / "images/cut.jpg"), _png(tmp_path / "masks/cut.png")
    data = (tmp_path / "images/cut.jpg").read_bytes()
    (tmp_path / "images/cut.jpg").write_bytes(data[: len(data) // 2])
    result = scan(tmp_path)
    assert {p.kind for p in result.problems} == {ScanProblem.ORPHAN_IMAGE, ScanProblem.TRUNCATED}
    assert all(type(p.kind) is ScanProblem for p in result.problems)
    assert result.problem_counts()[ScanProblem.TRUNCATED] == 1
    assert ScanProblem.ORPHAN_IMAGE.label == "orphan image"
    # A plain name is converted; an unknown one is refused.
    assert Problem("x.png", "duplicate", "r").kind is ScanProblem.DUPLICATE
    with pytest.raises(ValueError):
        Problem("x.png", "orphan", "r")
    # The kind of a read error comes from its class, not its words.
    assert ScanProblem.of_error(TruncatedError("x.jpg", "cut")) is ScanProblem.TRUNCATED
    assert ScanProblem.of_error(DataprepError("x.jpg", "truncated? no: corrupt")) is ScanProblem.UNREADABLE


def test_a_mask_saved_at_another_resolution_is_named_as_such(tmp_path):
    """Real sets store label maps scaled down from their photos (same shape, fewer pixels): the message says
    so and how to fix it; a mask of another shape gets the plain mismatch."""
    _jpg(tmp_path / "images/scaled.jpg", w=32, h=24), _png(tmp_path / "masks/scaled.png", w=16, h=12)
    _jpg(tmp_path / "images/cropped.jpg", w=32, h=24), _png(tmp_path / "masks/cropped.png", w=30, h=24)
    # A border of 1 px all round (GlaS's annotations) keeps the ratio within a pixel, yet resizing shifts labels.
    _jpg(tmp_path / "images/padded.jpg", w=32, h=24), _png(tmp_path / "masks/padded.png", w=34, h=26)
    problems = {p.path: p for p in scan(tmp_path).problems}
    scaled, cropped = str(problems["images/scaled.jpg"]), str(problems["images/cropped.jpg"])
    assert "the same shape at 0.50x" in scaled and "--keep-scaled-masks" in scaled
    assert "`dataprep resize --to image` resizes it to 32x24 by nearest neighbour" in scaled
    assert "image is 32x24 but mask masks/cropped.png is 30x24 (-2 px wide, +0 px high: padded or cropped" in cropped
    padded = str(problems["images/padded.jpg"])
    assert "is 34x26 (+2 px wide, +2 px high: padded or cropped, not scaled" in padded and "--to image" not in padded
    assert {problems[f"images/{n}.jpg"].kind for n in ("scaled", "cropped", "padded")} == {"size_mismatch"}
    # Kept on request, as a warning on the mask, with the image's size; another shape is still refused.
    kept = scan(tmp_path, keep_scaled_masks=True)
    assert [(r.id, r.width, r.height) for r in kept.rows] == [("scaled", 32, 24)]
    assert [(w.path, w.kind) for w in kept.warnings] == [("masks/scaled.png", "scaled_mask")]
    assert "run `dataprep resize --to image`" in kept.warnings[0].reason
    assert sorted((p.path, p.kind) for p in kept.problems) == [("images/cropped.jpg", "size_mismatch"),
                                                                ("images/padded.jpg", "size_mismatch")]


def test_a_tiff_whose_last_band_is_tagged_alpha_is_named(tmp_path):
    """38-Cloud's red/green/blue/NIR stacked with a plain tifffile.imwrite: the 4th band is tagged alpha, and
    every reader left NIR out without a word."""
    import tifffile

    data = np.random.default_rng(1).integers(0, 65535, (24, 32, 4), dtype=np.uint16)
    (tmp_path / "images").mkdir()
    tifffile.imwrite(tmp_path / "images" / "tagged.tif", data, photometric="rgb")
    tifffile.imwrite(tmp_path / "images" / "plain.tif", data, photometric="minisblack", planarconfig="contig",
                     extrasamples=("unspecified",) * 3)
    for name in ("tagged", "plain"):
        _png(tmp_path / "masks" / f"{name}.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["plain", "tagged"]
    assert [(w.path, w.kind) for w in result.warnings] == [("images/tagged.tif", "alpha_band")]
    assert "band 4 is tagged alpha" in result.warnings[0].reason and "read as 3 bands" in result.warnings[0].reason


@pytest.mark.parametrize("layout", ["side_by_side", "folders"])
def test_a_second_numbered_mask_of_an_image_is_named_not_an_orphan(tmp_path, layout):
    """BUSI: 17 images have further lesion masks (`benign (195)_mask_1.png`); scan called them orphan images
    (or 'other image files'), and their lesions trained as background. Now in the row's `extra_masks`."""
    images, masks = (tmp_path, tmp_path) if layout == "side_by_side" else (tmp_path / "images", tmp_path / "mask")
    for name in ("benign (1)", "benign (2)"):
        _png(images / f"{name}.png")
        _png(masks / f"{name}_mask.png")
    _png(masks / "benign (2)_mask_1.png")
    _png(masks / "benign (3)_mask_1.png")  # no pair to belong to: still reported as before
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["benign (1)", "benign (2)"]
    prefix = "" if layout == "side_by_side" else "mask/"
    assert [(w.path, w.kind) for w in result.warnings] == [(f"{prefix}benign (2)_mask_1.png", "extra_mask")]
    assert "a further mask of" in result.warnings[0].reason and "benign (2).png" in result.warnings[0].reason
    assert [r.extra["extra_masks"] for r in result.rows] == ["", '["benign (2)_mask_1.png"]']
    assert all("benign (2)_mask_1" not in p.path for p in result.problems)
    # benign (3)_mask_1.png: an orphan image side by side, a file no rule takes in a mask folder
    assert (result.images_seen, result.masks_seen) == (2 + (layout == "side_by_side"), 3)


def test_per_class_mask_folders_inside_the_mask_folder_are_one_warning_each(tmp_path):
    """SUIM's test set: masks/FV/x.bmp, masks/HD/x.bmp, ... (one folder per class) beside the paired masks/x.bmp
    were 40 'mask has no image' problems for 8 good pairs."""
    for cls in ("FV", "HD"):
        (tmp_path / "masks" / cls).mkdir(parents=True)
    for name in ("d_r_47_", "f_r_329_"):
        _jpg(tmp_path / "images" / f"{name}.jpg")
        Image.new("RGB", (32, 24)).save(tmp_path / "masks" / f"{name}.bmp")
        for cls in ("FV", "HD"):
            Image.new("L", (32, 24)).save(tmp_path / "masks" / cls / f"{name}.bmp")
    _png(tmp_path / "masks" / "FV" / "lost.png")  # no paired mask of that name: still an orphan
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["d_r_47_", "f_r_329_"]
    assert [(w.path, w.kind) for w in result.warnings] == [("masks/FV", "mask_subfolder"),
                                                            ("masks/HD", "mask_subfolder")]
    assert result.warnings[0].reason == "2 masks named like the masks paired in masks/ (one class's masks?); not paired"
    assert [(p.path, p.kind) for p in result.problems] == [("masks/FV/lost.png", "orphan_mask")]
    assert (result.images_seen, result.masks_seen) == (2, 7)


def test_a_mask_subfolder_that_pairs_is_not_taken_for_class_masks(tmp_path):
    """Masks mirroring image subfolders (images/a/x.jpg, masks/a/x.png): an orphan there stays an orphan, even
    when masks/x.png pairs too."""
    for rel in ("x", "a/y"):
        _jpg(tmp_path / "images" / f"{rel}.jpg"), _png(tmp_path / "masks" / f"{rel}.png")
    _png(tmp_path / "masks" / "a" / "x.png")
    result = scan(tmp_path)
    assert [(p.path, p.kind) for p in result.problems] == [("masks/a/x.png", "orphan_mask")]
    assert not result.warnings


@pytest.mark.parametrize("first, suffix, other", [("_1stHO", None, "_2ndHO"), ("_1stHO", "_2ndHO", "_1stHO"),
                                                  ("_manual1", None, "_manual2")])
def test_two_annotators_pair_the_first_and_name_the_other(tmp_path, first, suffix, other):
    """CHASE_DB1: Image_01L.jpg beside Image_01L_1stHO.png and Image_01L_2ndHO.png (two annotators); nothing
    paired, and with --mask-suffix one annotator's masks were orphan images. DRIVE's _manual1/_manual2 alike."""
    second = {"_1stHO": "_2ndHO", "_manual1": "_manual2"}[first]
    for name in ("Image_01L", "Image_01R", "Image_02L"):
        _jpg(tmp_path / f"{name}.jpg")
        _png(tmp_path / f"{name}{first}.png"), _png(tmp_path / f"{name}{second}.png")
    _png(tmp_path / f"Image_09L{second}.png")  # no image of that name: an orphan still
    result = scan(tmp_path, mask_suffix=suffix)
    used = suffix or first
    assert [(r.id, r.mask.name) for r in result.rows] == [(n, f"{n}{used}.png")
                                                          for n in ("Image_01L", "Image_01R", "Image_02L")]
    assert [(w.path, w.kind) for w in result.warnings] == [(f"Image_01L{other}.png", "other_annotator")]
    assert result.warnings[0].reason.startswith(f"3 masks of another annotator ({other}) beside the paired {used}")
    assert [p.path for p in result.problems] == [f"Image_09L{second}.png"]
    # the other annotator's files count as masks; the stray one as an image side by side, else as a mask
    assert (result.images_seen, result.masks_seen) == ((4, 6) if suffix is None else (3, 7))


def test_a_jpeg_copy_beside_a_lossless_mask_leaves_the_lossless_one_paired(tmp_path):
    """PH2 as shared on GitHub: a JPEG of every lesion mask beside its BMP; both were left out as duplicate stems,
    and nothing paired. Two lossless masks of one stem are still duplicates."""
    for name in ("a", "b"):
        _jpg(tmp_path / "images" / f"{name}.jpg")
        _png(tmp_path / "masks" / f"{name}.png")
        _jpg(tmp_path / "masks" / f"{name}.jpg")
    Image.new("L", (32, 24)).save(tmp_path / "masks" / "b.bmp")
    result = scan(tmp_path)
    assert [(r.id, r.mask.name) for r in result.rows] == [("a", "a.png")]
    assert [(w.path, w.kind) for w in result.warnings] == [("masks/a.jpg", "jpeg_copy")]
    assert sorted((p.path, p.kind) for p in result.problems) == [("masks/b.bmp", "duplicate"),
                                                                 ("masks/b.jpg", "duplicate"),
                                                                 ("masks/b.png", "duplicate")]
    assert (result.images_seen, result.masks_seen) == (2, 5)



def test_byte_identical_copies_of_a_stem_leave_the_original_paired(tmp_path):
    """A label map saved into the image folder beside its photo, or a mask stored twice, made the stem a
    duplicate and lost the pair; a copy with the same bytes is a warning now, and the original is paired.
    Files of one stem that differ are still duplicates."""
    for name in ("a", "b", "c"):
        _jpg(tmp_path / "images" / f"{name}.jpg")
        mask = np.zeros((24, 32), np.uint8)
        mask[:, : 4 + ord(name) - ord("a")] = 1  # different bytes per stem
        (tmp_path / "masks").mkdir(exist_ok=True)
        Image.fromarray(mask).save(tmp_path / "masks" / f"{name}.png")
    (tmp_path / "images" / "a.png").write_bytes((tmp_path / "masks" / "a.png").read_bytes())
    (tmp_path / "masks" / "b.PNG").write_bytes((tmp_path / "masks" / "b.png").read_bytes())
    (tmp_path / "images" / "c.png").write_bytes((tmp_path / "masks" / "a.png").read_bytes())  # not c's mask
    result = scan(tmp_path)
    # Of two equal copies the first in path order is the original (here b.PNG: upper case sorts first).
    assert [(r.id, r.image.name, r.mask.name) for r in result.rows] == [("a", "a.jpg", "a.png"),
                                                                       ("b", "b.jpg", "b.PNG")]
    assert sorted((w.path, w.kind) for w in result.warnings) == [("images/a.png", "same_bytes"),
                                                                 ("masks/b.png", "same_bytes")]
    assert "the same bytes as the mask masks/a.png" in str(next(w for w in result.warnings if "a.png" in w.path))
    assert sorted((p.path, p.kind) for p in result.problems) == [("images/c.jpg", "duplicate"),
                                                                 ("images/c.png", "duplicate")]



def test_masks_in_a_folder_inside_the_image_folder_pair(tmp_path):
    """`res/x.jpg` with `res/label/x.png` found nothing; a sibling mask folder still wins over the inner one."""
    for name in ("a", "b"):
        _jpg(tmp_path / "res" / f"{name}.jpg"), _png(tmp_path / "res" / "label" / f"{name}.png")
    result = scan(tmp_path)
    assert [(r.id, r.image.relative_to(tmp_path).as_posix(), r.mask.relative_to(tmp_path).as_posix())
            for r in result.rows] == [("res/a", "res/a.jpg", "res/label/a.png"), ("res/b", "res/b.jpg",
                                                                                 "res/label/b.png")]
    assert result.images_seen == 2 and not result.problems
    for name in ("a", "b"):
        _png(tmp_path / "res_labels" / f"{name}.png")
    assert {r.mask.parent.name for r in scan(tmp_path).rows} == {"res_labels"}



def test_an_unpaired_palette_image_is_pointed_out_as_a_likely_mask(tmp_path):
    """A model repository's res/ folder held palette label maps without photos, listed as images without masks."""
    _jpg(tmp_path / "images" / "a.jpg"), _png(tmp_path / "masks" / "a.png")
    Image.fromarray(np.zeros((24, 32), np.uint8)).convert("P").save(tmp_path / "images" / "stray.png")
    Image.fromarray(np.full((24, 32, 3), 90, np.uint8)).save(tmp_path / "images" / "photo.png")
    _jpg(tmp_path / "images" / "lonely.jpg")
    reasons = {p.path: p.reason for p in scan(tmp_path).problems}
    assert reasons["images/stray.png"] == "image has no mask (a palette image, as masks are stored: a mask without " \
                                          "its photo?)"
    assert reasons["images/photo.png"] == reasons["images/lonely.jpg"] == "image has no mask"


def test_ph2_sample_folders_pair_each_image_with_its_lesion_mask(tmp_path, cli):
    """PH2's own layout: IMD002/IMD002_Dermoscopic_Image/IMD002.bmp beside IMD002/IMD002_lesion/IMD002_lesion.bmp
    (and IMD002_roi/ for some): nothing paired, and the options could not say it."""
    root = tmp_path / "PH2 Dataset images"
    names = [f"IMD{i:03d}" for i in range(2, 10)]
    for name in names:
        Image.new("RGB", (32, 24)).save(_mkdir(root / name / f"{name}_Dermoscopic_Image") / f"{name}.bmp")
        Image.new("1", (32, 24)).save(_mkdir(root / name / f"{name}_lesion") / f"{name}_lesion.bmp")
    Image.new("1", (32, 24)).save(_mkdir(root / "IMD002" / "IMD002_roi") / "IMD002_R1_Label4.bmp")
    result = scan(tmp_path)
    assert len(result.rows) == len(names) and not result.problems
    for row, name in zip(result.rows, names):
        assert (row.image.name, row.mask.name) == (f"{name}.bmp", f"{name}_lesion.bmp")
        assert row.image.parent.parent == row.mask.parent.parent
    out = cli("scan", tmp_path, "-o", tmp_path / "m.csv")
    assert out.exit_code == 0 and "... and 3 more folder pairs (3 pairs)" in out.output


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("mask_dir, says", [
    ("SegmentationObject", "VOC SegmentationObject masks number the objects of each image"),
    ("instances", "a folder of instance masks: each value is an object"),
])
def test_folders_of_object_ids_paired_as_masks_get_a_warning(tmp_path, mask_dir, says):
    """VOC's SegmentationObject (alone, without SegmentationClass) and KITTI/Mapillary/MOTS `instance(s)` folders
    paired as class masks without a word: masks2labels then made objects 1, 2, 3 aeroplane, bicycle, bird."""
    image_dir = "JPEGImages" if mask_dir == "SegmentationObject" else "images"
    for i in range(2):
        _jpg(tmp_path / image_dir / f"2008_00000{i}.jpg")
        _png(tmp_path / mask_dir / f"2008_00000{i}.png")
    dirs = {} if mask_dir == "SegmentationObject" else {"image_dir": image_dir, "mask_dir": mask_dir}  # found alone
    result = scan(tmp_path, **dirs)
    assert len(result.rows) == 2
    assert [n for n in result.notes if says in n] and len(result.notes) == 1, result.notes
    (tmp_path / mask_dir).rename(tmp_path / "SegmentationClass")
    assert not scan(tmp_path, **({"image_dir": image_dir, "mask_dir": "SegmentationClass"} if dirs else {})).notes


def test_the_summary_counts_the_warnings_it_printed(tmp_path, cli):
    for i in range(2):
        _jpg(tmp_path / "JPEGImages" / f"2008_00000{i}.jpg")
        _png(tmp_path / "SegmentationObject" / f"2008_00000{i}.png")
    result = cli("scan", tmp_path, "-o", tmp_path.parent / f"{tmp_path.name}.csv")
    assert "warning: JPEGImages <-> SegmentationObject" in result.output
    assert re.search(r"^warnings +1$", result.output, re.M), result.output  # said 0 beside the printed warning


def test_files_of_kinds_scan_cannot_read_are_said_not_left_out_unsaid(tmp_path, monkeypatch):
    """BraTS' imagesTr/*.nii.gz: 'nothing pairs', and --image-dir imagesTr said 'no folder of this name'."""
    monkeypatch.setattr(io, "jpeg2000_decodable", lambda: False)  # OpenCV and PIL built without OpenJPEG
    for i in range(2):
        for folder in ("imagesTr", "labelsTr"):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / f"BRATS_00{i}.nii.gz").write_bytes(b"\x1f\x8b not read")
    (tmp_path / "scan.jp2").write_bytes(b"\x00\x00\x00\x0cjP  ")
    result = scan(tmp_path)
    assert not result.rows and result.notes == [
        "5 file(s) of kinds dataprep does not read (.nii.gz x 4, .jp2 x 1) are left out: convert them to PNG or TIFF "
        "first (a NIfTI or DICOM volume to one image per slice)"]
    with pytest.raises(UsageError, match=r"--image-dir: its folder holds only .nii.gz files, which dataprep does "
                                         "not read"):
        scan(tmp_path, image_dir="imagesTr", mask_dir="labelsTr")


def test_jpeg2000_images_pair_with_png_masks(tmp_path):
    """GeoNRW's RGB tiles and Sentinel-2's 16-bit bands are .jp2: scan said 'convert them to PNG or TIFF first'."""
    rgb = np.random.default_rng(6).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    (tmp_path / "images").mkdir()
    Image.fromarray(rgb).save(tmp_path / "images" / "tile.jp2", irreversible=False)
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(tmp_path / "images" / "band.jp2", irreversible=False)
    for stem in ("tile", "band"):
        _png(tmp_path / "masks" / f"{stem}.png")
    Image.fromarray(rgb).save(tmp_path / "masks" / "other.jp2", irreversible=False)
    result = scan(tmp_path)
    assert [(r.id, r.image.name, r.mask.name, r.width, r.height) for r in result.rows] == [
        ("band", "band.jp2", "band.png", 32, 24), ("tile", "tile.jp2", "tile.png", 32, 24)]
    assert not result.problems
    np.testing.assert_array_equal(io.read_image(result.rows[1].image), rgb)
    assert result.notes == ["1 JPEG 2000 file(s) (e.g. masks/other.jp2) are not paired: dataprep reads JPEG 2000 as "
                            "images only, never as masks (its compression is lossy in general, as JPEG's); save "
                            "masks as PNG"]


def test_geonrw_three_files_a_tile_get_the_image_and_mask_suffix_hint(tmp_path):
    """GeoNRW: x_rgb.jp2, x_dem.tif and x_seg.tif side by side: no hint at all (only names in twos counted), and
    the .jp2 photos were told to be saved as PNG masks."""
    for city in ("aachen", "bergisch"):
        for tile in ("0_0", "1_1"):
            Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / f"{city}_{tile}_rgb.jp2",
                                                                  irreversible=False)
            _png(tmp_path / f"{city}_{tile}_dem.tif", 40, 40), _png(tmp_path / f"{city}_{tile}_seg.tif", 40, 40)
    result = scan(tmp_path)
    assert not result.rows and not result.notes
    (hint,) = result.hints
    assert hint.describe().endswith("4 names come in pairs ending in _rgb and _seg; scan with --image-suffix _rgb "
                                    "--mask-suffix _seg")
    followed = scan(tmp_path, image_suffix="_rgb", mask_suffix="_seg")
    assert sorted(r.image.name for r in followed.rows) == sorted(
        f"{c}_{t}_rgb.jp2" for c in ("aachen", "bergisch") for t in ("0_0", "1_1"))


def test_a_name_that_is_not_utf8_is_a_problem_not_a_crash(tmp_path, cli):
    """images/caf\\xe9.jpg (Latin-1 bytes): the manifest writer crashed with a UnicodeEncodeError traceback."""
    name = os.fsdecode(b"caf\xe9")
    for stem in (name, "ok"):
        _jpg(tmp_path / "data" / "images" / f"{stem}.jpg")
        _png(tmp_path / "data" / "masks" / f"{stem}.png")
    result = cli("scan", tmp_path / "data", "-o", tmp_path / "m.csv")
    assert result.exit_code == 0, result.output
    assert f"problem: {tmp_path / 'data/images'}/caf\\xe9.jpg: its name is not valid UTF-8" in result.output
    assert [r.id for r in read_manifest(tmp_path / "m.csv").rows] == ["ok"]


@pytest.mark.parametrize("image_form, mask_form", [("NFC", "NFD"), ("NFD", "NFC")])
@pytest.mark.parametrize("layout", ["folders", "suffix"])
def test_names_in_two_unicode_forms_pair(tmp_path, image_form, mask_form, layout):
    """A photo 'café.jpg' written composed beside its mask written decomposed (as macOS and zips made there
    store it): both files were orphans, shown with the same name."""
    import unicodedata

    name = "café_{}"
    for i in range(3):
        stem = name.format(i) if i == 0 else f"plain_{i}"
        image = unicodedata.normalize(image_form, stem)
        mask = unicodedata.normalize(mask_form, stem)
        if layout == "folders":
            _jpg(tmp_path / "images" / f"{image}.jpg", w=30 + i)
            _png(tmp_path / "masks" / f"{mask}.png", w=30 + i)
        else:
            _jpg(tmp_path / f"{image}.jpg", w=30 + i)
            _png(tmp_path / f"{mask}_mask.png", w=30 + i)
    result = scan(tmp_path)
    assert [p for p in result.problems] == []
    rows = {r.id: r for r in result.manifest}
    first = unicodedata.normalize(image_form, name.format(0))
    assert set(rows) == {first, "plain_1", "plain_2"}
    assert rows[first].image.name == f"{first}.jpg"  # the files' own names, as the file system spells them
    assert rows[first].mask.exists() and rows[first].width == 30


@pytest.mark.parametrize("dtype", ["int32", "float64", "int8"])
def test_images_of_a_pixel_type_the_readers_refuse_are_a_scan_warning(tmp_path, dtype):
    """int32 TIFFs scanned with 0 problems and 0 warnings; stats, preview, report and the Dataset then refused
    every row. They are kept (tile takes them), with a warning naming the types the others take."""
    import tifffile

    for name in ("a", "b"):
        (tmp_path / "images").mkdir(exist_ok=True)
        tifffile.imwrite(tmp_path / "images" / f"{name}.tif", np.ones((24, 32, 3), dtype))
        _png(tmp_path / "masks" / f"{name}.png")
    tifffile.imwrite(tmp_path / "images" / "c.tif", np.ones((24, 32, 3), np.float32))  # a supported one
    _png(tmp_path / "masks" / "c.png")
    result = scan(tmp_path)
    assert len(result.rows) == 3 and not result.problems
    assert sorted((Path(w.path).name, w.kind) for w in result.warnings) == [("a.tif", "pixel_type"),
                                                                          ("b.tif", "pixel_type")]
    assert all(w.reason.startswith(f"{dtype} pixels: ") and "uint8, uint16, int16, float32" in w.reason
               for w in result.warnings)

"""dataprep import mat: MATLAB label maps (SBD's GTcls struct, PASCAL-Context's LabelMap, CCP's groundtruth),
written here with scipy.io.savemat and compared with the arrays they hold."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep.errors import DataprepError, UsageError
from dataprep.importers import import_annotations
from dataprep.io import read_mask
from dataprep.manifest import read_manifest
from dataprep.palette import load_palette

scipy_io = pytest.importorskip("scipy.io")


def _photo(path: Path, h: int, w: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 80, np.uint8)).save(path)


def _mat(path: Path, **variables) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy_io.savemat(path, variables)


def _import(src: Path, out: Path, **kw):
    return import_annotations("mat", src, out, quiet=True, **kw)


def _labels(rng: np.random.Generator, h: int, w: int, top: int, dtype=np.uint8) -> np.ndarray:
    blocks = rng.integers(0, top + 1, (h // 4 + 1, w // 4 + 1))
    return np.kron(blocks, np.ones((4, 4), int))[:h, :w].astype(dtype)


def test_ccp_groundtruth_with_a_mat_cell_array_of_names(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for n, h in (("0001", 40), ("0002", 44)):
        _photo(tmp_path / "photos" / f"{n}.jpg", h, 30)
        arrays[n] = _labels(rng, h, 30, 5)
        _mat(tmp_path / "annotations" / "pixel-level" / f"{n}.mat", groundtruth=arrays[n])
    _photo(tmp_path / "photos" / "0003.jpg", 40, 30)  # CCP's photos with image-level tags only
    names = np.array(["null", "accessories", "bag", "belt", "blazer", "blouse", "bodysuit"], dtype=object)
    _mat(tmp_path / "label_list.mat", label_list=names)
    report = _import(tmp_path / "annotations" / "pixel-level", tmp_path / "out",
                     labels_file=tmp_path / "label_list.mat")
    assert report.converted == 2 and report.failed == 0
    assert f"1 image(s) in {tmp_path / 'photos'} have no .mat label map and are left out" in report.notes
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert [(r.id, r.image.name) for r in rows] == [("0001", "0001.jpg"), ("0002", "0002.jpg")]  # found 2 up
    for n, array in arrays.items():
        np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / f"{n}.png"), array)
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [c.name for c in palette.classes if not c.ignore] == list(names)


def test_a_label_map_saved_as_matlab_doubles_is_read_and_an_integer_one_wins_over_doubles(tmp_path):
    """MATLAB's zeros(h, w) is double: such a map was refused ("no 2-D integer array"; with --variable naming it:
    "the file holds: none")."""
    rng = np.random.default_rng(3)
    _photo(tmp_path / "img" / "a.jpg", 24, 32)
    labels = _labels(rng, 24, 32, 4)
    _mat(tmp_path / "cls" / "a.mat", labels=labels.astype(np.float64), name=np.array(["a"], dtype=object))
    for variable in (None, "labels"):
        out = tmp_path / f"out_{variable}"
        report = _import(tmp_path / "cls", out, images_dir=tmp_path / "img", variable=variable)
        assert report.ok and report.converted == 1
        np.testing.assert_array_equal(read_mask(out / "labels" / "a.png"), labels)
    # An integer map beside a double image (a depth map, say) is the label map, as before.
    _mat(tmp_path / "cls" / "a.mat", labels=labels, depth=rng.random((24, 32)) * 10)
    _import(tmp_path / "cls", tmp_path / "out_int", images_dir=tmp_path / "img")
    np.testing.assert_array_equal(read_mask(tmp_path / "out_int" / "labels" / "a.png"), labels)
    _mat(tmp_path / "cls" / "a.mat", labels=labels - 0.5)  # not whole numbers: no label map
    report = _import(tmp_path / "cls", tmp_path / "out_half", images_dir=tmp_path / "img")
    assert not report.converted and "no 2-D integer array" in report.errors[0]


def test_sbd_struct_field_is_found_and_its_255_is_ignore(tmp_path):
    """SBD's cls/*.mat: GTcls with Segmentation (the label map), Boundaries and CategoriesPresent."""
    rng = np.random.default_rng(1)
    seg = _labels(rng, 36, 48, 20)
    seg[0, :] = 255
    _photo(tmp_path / "img" / "2008_000002.jpg", 36, 48)
    _mat(tmp_path / "cls" / "2008_000002.mat",
         GTcls={"Segmentation": seg, "CategoriesPresent": np.array([1, 15]), "Boundaries": np.zeros((1, 1))})
    report = _import(tmp_path / "cls", tmp_path / "out")
    assert report.converted == 1
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "2008_000002.png"), seg)
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert palette.ignore_index == 255 and palette.num_classes == int(seg[seg != 255].max()) + 1


def test_pascal_context_values_beyond_255_make_16_bit_maps(tmp_path):
    rng = np.random.default_rng(2)
    labels = _labels(rng, 32, 40, 459, np.uint16)
    _photo(tmp_path / "JPEGImages" / "2008_000008.jpg", 32, 40)
    _mat(tmp_path / "trainval" / "2008_000008.mat", LabelMap=labels)
    report = _import(tmp_path / "trainval", tmp_path / "out")
    assert report.converted == 1
    out = read_mask(tmp_path / "out" / "labels" / "2008_000008.png")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, labels)


def test_several_arrays_need_a_variable_and_v73_files_are_refused(tmp_path):
    a, b = np.zeros((8, 8), np.uint8), np.ones((8, 8), np.uint8)
    _photo(tmp_path / "images" / "x.png", 8, 8)
    _mat(tmp_path / "labels" / "x.mat", seg=a, inst=b)
    for i in range(3):  # CrackForest: each of its 118 files holds groundTruth.Segmentation and .Boundaries
        _mat(tmp_path / "labels" / f"y{i}.mat", seg=a, inst=b)
        _photo(tmp_path / "images" / f"y{i}.png", 8, 8)
    with pytest.raises(UsageError, match=r"x\.mat: several 2-D integer arrays \(seg, inst\): name one with "
                                         "--variable$"):  # said once, for all, before anything is written
        _import(tmp_path / "labels", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    report = _import(tmp_path / "labels", tmp_path / "out2", variable="inst")
    np.testing.assert_array_equal(read_mask(tmp_path / "out2" / "labels" / "x.png"), b)
    report = _import(tmp_path / "labels", tmp_path / "out3", variable="GTcls.Segmentation")
    assert "no 2-D integer array 'GTcls.Segmentation'; the file holds: seg, inst" in report.errors[0]
    (tmp_path / "labels" / "x.mat").write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" ")
                                               + b"\x89HDF\r\n\x1a\n" + bytes(64))
    report = _import(tmp_path / "labels", tmp_path / "out4")
    assert "a MATLAB v7.3 (HDF5) file, which scipy cannot read" in report.errors[0]


def test_a_size_mismatch_or_missing_image_fails_that_file_alone(tmp_path):
    _photo(tmp_path / "images" / "a.png", 10, 12)
    _photo(tmp_path / "images" / "b.png", 10, 12)
    _mat(tmp_path / "labels" / "a.mat", groundtruth=np.ones((10, 12), np.uint8))
    _mat(tmp_path / "labels" / "b.mat", groundtruth=np.ones((12, 10), np.uint8))
    _mat(tmp_path / "labels" / "c.mat", groundtruth=np.ones((10, 12), np.uint8))
    report = _import(tmp_path / "labels", tmp_path / "out")
    assert report.converted == 1 and report.failed == 2, report.errors
    assert any(e.endswith("b.mat: label map is 10x12 but its image is 12x10") for e in report.errors)
    assert any(e.endswith(f"c.mat: no image named c in {tmp_path / 'images'}") for e in report.errors)
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["a"]
    report = _import(tmp_path / "labels" / "b.mat", tmp_path / "none")  # nothing converted: nothing beside it
    assert report.failed == 1 and report.manifest_path is None
    assert not (tmp_path / "none" / "manifest.csv").exists() and not (tmp_path / "none" / "palette.json").exists()


def test_labels_from_1_are_named_in_a_note(tmp_path):
    """CrackForest's groundTruth.Segmentation: 1 background, 2..4 cracks; class_0 held nothing, unsaid."""
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        _photo(tmp_path / "images" / f"{name}.png", 8, 8)
        _mat(tmp_path / "labels" / f"{name}.mat", groundtruth=rng.integers(1, 5, (8, 8)).astype(np.uint8))
    report = _import(tmp_path / "labels", tmp_path / "out")
    assert report.converted == 2 and report.pixel_counts[0] == 0
    assert [n for n in report.notes if "no pixel" in n] == [
        f"1 of 5 classes have no pixel in any label map (class_0): a category no annotation uses, or a part of the "
        f"data without it; no map holds 0: if the classes start at 1, shift them with `dataprep masks2labels "
        f"{tmp_path / 'out' / 'manifest.csv'} DEST --remap 1:0,2:1,...`"]


def test_a_class_list_shorter_than_the_values_is_refused(tmp_path, cli):
    _photo(tmp_path / "images" / "a.png", 8, 8)
    a, b = np.full((8, 8), 3, np.uint8), np.ones((8, 8), np.uint8)
    a[0] = b[0] = 255  # void: a value beyond the list beside it is still found
    _mat(tmp_path / "labels" / "a.mat", groundtruth=a)
    (tmp_path / "names.txt").write_text("background\ncat\n")
    _photo(tmp_path / "images" / "b.png", 8, 8)
    _mat(tmp_path / "labels" / "b.mat", groundtruth=b)
    report = _import(tmp_path / "labels", tmp_path / "out", labels_file=tmp_path / "names.txt")
    assert report.converted == 1 and report.errors == [f"{tmp_path / 'labels' / 'a.mat'}: 1 value(s) not in the "
                                                        f"class list: 3"]
    (tmp_path / "bad.mat").write_bytes(b"not a mat file at all")
    res = cli("import", "mat", tmp_path / "labels", tmp_path / "out5", "--labels", tmp_path / "bad.mat", "-q")
    assert res.exit_code == 1 and "bad.mat: not a readable .mat file" in res.output
    res = cli("import", "mat", tmp_path / "labels", tmp_path / "out2", "-q")
    assert res.exit_code == 0, res.output
    assert [c.name for c in load_palette(tmp_path / "out2" / "palette.json").classes][:4] == [
        "class_0", "class_1", "class_2", "class_3"]


def test_label_maps_are_the_arrays_with_void_at_the_ignore_index_and_no_instances(tmp_path):
    """The label array is written as it is, with or without --instances (whose map is then empty: a label
    array holds classes, not objects), VOC's 255 moved to --ignore-index."""
    rng = np.random.default_rng(3)
    seg = _labels(rng, 30, 44, 6)
    seg[::7] = 255
    _photo(tmp_path / "img" / "a.jpg", 30, 44)
    _mat(tmp_path / "cls" / "a.mat", GTcls={"Segmentation": seg})
    _import(tmp_path / "cls", tmp_path / "direct", ignore_index=250)
    _import(tmp_path / "cls", tmp_path / "painted", ignore_index=250, instances=True)
    direct = read_mask(tmp_path / "direct" / "labels" / "a.png")
    np.testing.assert_array_equal(direct, read_mask(tmp_path / "painted" / "labels" / "a.png"))
    np.testing.assert_array_equal(direct, np.where(seg == 255, 250, seg))
    assert not read_mask(tmp_path / "painted" / "instances" / "a.png").any()


def test_label_arrays_skip_the_painter_and_are_checked_when_written(tmp_path, monkeypatch):
    from dataprep.importers import import_dataset, read_plan
    from dataprep.importers import run

    _photo(tmp_path / "img" / "a.jpg", 8, 8)
    _mat(tmp_path / "cls" / "a.mat", groundtruth=np.full((8, 8), 2, np.uint8))

    def no_painting(*args, **kwargs):
        raise AssertionError("painted")

    monkeypatch.setattr(run, "paint", no_painting)
    plan = read_plan("mat", tmp_path / "cls", tmp_path / "out")
    _mat(tmp_path / "cls" / "a.mat", groundtruth=np.full((8, 8), 7, np.uint8))  # changed after parsing
    report = import_dataset(plan, tmp_path / "out", quiet=True)
    assert report.errors == [f"{tmp_path / 'cls' / 'a.mat'}: 1 value(s) not in the class list: 7"]
    _mat(tmp_path / "cls" / "a.mat", groundtruth=np.full((8, 8), 2, np.uint8))
    assert import_dataset(plan, tmp_path / "out2", quiet=True).converted == 1
    assert import_dataset(plan, tmp_path / "out3", quiet=True, instances=True).converted == 1


def test_the_images_beside_the_labels_win_over_a_fuller_folder_one_level_up(tmp_path):
    """Another dataset's a.png, b.png and c.png one level up held more of the names than the labels' own images/,
    and every label map was checked against a 2x2 stranger ('label map is 12x10 but its image is 2x2')."""
    _photo(tmp_path / "ds" / "images" / "a.png", 10, 12)
    _photo(tmp_path / "ds" / "images" / "b.png", 10, 12)
    for name in "abc":
        _photo(tmp_path / "other" / f"{name}.png", 2, 2)
        _mat(tmp_path / "ds" / "labels" / f"{name}.mat", groundtruth=np.ones((10, 12), np.uint8))
    report = _import(tmp_path / "ds" / "labels", tmp_path / "out")
    assert report.converted == 2 and report.failed == 1, report.errors
    assert {r.image for r in read_manifest(tmp_path / "out" / "manifest.csv").rows} == {
        (tmp_path / "ds" / "images" / f"{n}.png").resolve() for n in "ab"}


def test_msrc_segment_numbers_with_a_class_table_are_refused_then_looked_up(tmp_path, cli):
    """MSRC v2's cleaned-up ground truth (x_GT.mat beside Images/x.bmp): `newseg` numbers the segments 1..N and
    `newlabels` gives each one's class, the last segment often none (void). The segment numbers were imported as
    18 classes, exit 0, and no image matched the names' _GT."""
    seg_a = np.ones((6, 8), np.uint8)
    seg_a[:, 4:] = 2
    seg_a[5, :] = 3  # past the table: void
    seg_b = np.ones((6, 8), np.uint8)
    seg_b[:3] = 2
    for stem in ("1_1_s", "1_2_s"):
        _photo(tmp_path / "Images" / f"{stem}.bmp", 6, 8)
    _mat(tmp_path / "mats" / "1_1_s_GT.mat", newseg=seg_a, newlabels=np.array([14, 3], np.uint8))
    _mat(tmp_path / "mats" / "1_2_s_GT.mat", newseg=seg_b, newlabels=np.array([7], np.uint8))  # scipy: a scalar
    refused = cli("import", "mat", tmp_path / "mats", tmp_path / "out", "-q")
    assert refused.exit_code == 2
    assert "newseg holds 1..3 and newlabels (2 values): segment numbers with a class for each" in refused.output
    assert "--variable 'newlabels[newseg]'" in refused.output
    done = cli("import", "mat", tmp_path / "mats", tmp_path / "out", "-q", "--variable", "newlabels[newseg]")
    assert done.exit_code == 0, done.output
    rows = {r.id: r for r in read_manifest(tmp_path / "out/manifest.csv").rows}
    assert sorted(rows) == ["1_1_s", "1_2_s"] and rows["1_1_s"].image == tmp_path / "Images/1_1_s.bmp"
    table_a = np.array([255, 14, 3, 255])  # segment 0 and those past the table: void
    np.testing.assert_array_equal(read_mask(rows["1_1_s"].mask), table_a[seg_a])
    np.testing.assert_array_equal(read_mask(rows["1_2_s"].mask), np.where(seg_b == 1, 7, 255))


def test_a_failure_every_file_shares_is_one_line(tmp_path, cli):
    """591 lines of 'no image named X' when nothing converted: the same problem, said once."""
    for i in range(3):
        _mat(tmp_path / "mats" / f"a{i}.mat", seg=np.ones((4, 4), np.uint8))
    (tmp_path / "img").mkdir()
    result = cli("import", "mat", tmp_path / "mats", tmp_path / "out", "--images", tmp_path / "img", "-q")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {tmp_path / 'mats/a0.mat'}: no image named a0 in {tmp_path / 'img'} (and the 2 others "
                      "the same way)"], result.output


@pytest.mark.parametrize("beside", [
    {"size": np.array([60, 80], np.int32)},  # a 1..2 class map beside a vector of its size
    {"imgid": np.int32(1)},  # ... beside a scalar
    {"CategoriesPresent": np.array([1, 2, 3], np.uint8)},  # SBD's fields: the classes the map holds
])
def test_class_maps_beside_other_vectors_are_no_segment_numbers(tmp_path, beside):
    """The segment-number check refused these class maps and advised --variable 'size[mask]', which turns
    class 1 into 60 and 2 into 80."""
    mask = np.ones((6, 8), np.uint8)
    mask[:, 3:] = 2
    mask[4:, :] = 3 if "CategoriesPresent" in beside else 2
    _photo(tmp_path / "images" / "a.jpg", 6, 8)
    _mat(tmp_path / "mats" / "a.mat", mask=mask, **beside)
    report = _import(tmp_path / "mats", tmp_path / "out", images_dir=tmp_path / "images")
    assert report.converted == 1, report.errors
    np.testing.assert_array_equal(read_mask(tmp_path / "out/labels/a.png"), mask)

"""dataprep import kaggle-rle: run-length CSVs (Airbus, Severstal, TGS) against masks encoded here, the
pixel order check, class columns, empty rows and malformed rows."""
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


def _encode(mask: np.ndarray, order: str = "column") -> str:
    """Kaggle's encoder, as the competitions' kernels write it: 1-based starts, column-major unless row."""
    flat = (mask.T if order == "column" else mask).ravel().astype(np.int8)
    edges = np.diff(np.concatenate(([0], flat, [0])))
    starts, ends = np.flatnonzero(edges == 1) + 1, np.flatnonzero(edges == -1) + 1
    return " ".join(f"{s} {e - s}" for s, e in zip(starts, ends))


def _write(root: Path, header: str, rows: list[str], images: dict[str, tuple[int, int]]) -> Path:
    (root / "train_images").mkdir(parents=True, exist_ok=True)
    for name, (w, h) in images.items():
        Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(root / "train_images" / name)
    csv_path = root / "train.csv"
    csv_path.write_text("\n".join([header, *rows]) + "\n")
    return csv_path


def _import(src: Path, out: Path, **kw):
    return import_annotations("kaggle-rle", src, out, quiet=True, **kw)


def _blob(h: int, w: int, top: int, left: int, size: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - top) ** 2 + (xx - left) ** 2 < size ** 2


def test_real_camvid_class_masks_round_trip_in_both_orders(shared_data, tmp_path):
    """CamVid's label maps (360x480) split into one RLE per class, as Severstal stores its defects: the import
    gives the label maps back, read column-major by default and row-major when told; the other order on the
    same files is refused, naming the order to give."""
    annot = sorted((shared_data("camvid_segnet/CamVid") / "trainannot").glob("*.png"))[:6]
    expected, images, column_rows, row_rows = {}, {}, [], []
    for path in annot:
        labels = np.array(Image.open(path))
        kept = np.where(labels == 11, 0, labels + 1)  # void -> background; classes 0..10 -> ids 1..11
        expected[path.stem] = kept
        images[path.stem + ".png"] = (labels.shape[1], labels.shape[0])
        for value in np.unique(kept[kept > 0]):
            column_rows.append(f"{path.stem}.png,{value},{_encode(kept == value)}")
            row_rows.append(f"{path.stem}.png,{value},{_encode(kept == value, 'row')}")
    by_column = _write(tmp_path / "col", "ImageId,ClassId,EncodedPixels", column_rows, images)
    by_row = _write(tmp_path / "row", "ImageId,ClassId,EncodedPixels", row_rows, images)

    report = _import(by_column, tmp_path / "out_col")
    assert report.failed == 0 and report.converted == len(annot)
    for sid, labels in expected.items():
        np.testing.assert_array_equal(read_mask(tmp_path / "out_col" / "labels" / f"{sid}.png"), labels)
    report = _import(by_row, tmp_path / "out_row", rle_order="row")
    for sid, labels in expected.items():
        np.testing.assert_array_equal(read_mask(tmp_path / "out_row" / "labels" / f"{sid}.png"), labels)

    refused = _import(by_row, tmp_path / "refused")
    assert refused.converted == 0 and refused.failed == len(annot)
    assert all("its pixels are numbered the other way, --rle-order row" in e for e in refused.errors)
    assert "decoded column-major the mask is stripes" in refused.errors[0]


def test_the_order_check_on_every_class_mask_of_real_label_maps(shared_data):
    """Per mask, not per image: each of CamVid's class masks (20 label maps, 360x480) encoded column-major
    passes the check, and encoded row-major is refused when read column-major, and the other way round.
    Masks of a few pixels (under 100 here) have too few edges to tell; an image's larger masks tell."""
    from dataprep.importers.raster import rasterize

    annot = sorted((shared_data("camvid_segnet/CamVid") / "trainannot").glob("*.png"))[:20]
    checked = 0
    for path in annot:
        labels = np.array(Image.open(path))
        h, w = labels.shape
        for value in np.unique(labels):
            mask = labels == value
            if mask.sum() < 100:
                continue
            for order, other in (("column", "row"), ("row", "column")):
                numbers = np.array(_encode(mask, order).split(), np.int64)
                rasterize("kaggle_rle", 1, (numbers, order, True), h, w)  # the right order passes
                with pytest.raises(ValueError, match=f"--rle-order {order}"):
                    rasterize("kaggle_rle", 1, (numbers, other, True), h, w)
                checked += 1
    assert checked > 300


def test_severstal_image_classid_column_keeps_class_numbers_as_indices(tmp_path):
    h, w = 64, 160  # Severstal's 256x1600 at a tenth
    rows = [
        f"a.jpg_1,{_encode(_blob(h, w, 20, 30, 12))}",
        "a.jpg_2,",
        f"a.jpg_3,{_encode(_blob(h, w, 40, 120, 15))}",
        "a.jpg_4,",
        "b.jpg_1,", "b.jpg_2,", "b.jpg_3,", "b.jpg_4,",
    ]
    src = _write(tmp_path, "ImageId_ClassId,EncodedPixels", rows, {"a.jpg": (w, h), "b.jpg": (w, h)})
    report = _import(src, tmp_path / "out")
    assert report.converted == 2 and report.failed == 0
    assert not any("--rle-order" in n for n in report.notes)  # not square: the order was checked
    labels = read_mask(tmp_path / "out" / "labels" / "a.png")
    expected = np.zeros((h, w), np.uint8)
    expected[_blob(h, w, 20, 30, 12)] = 1
    expected[_blob(h, w, 40, 120, 15)] = 3  # class 2 never occurs: 3 stays 3
    np.testing.assert_array_equal(labels, expected)
    assert not read_mask(tmp_path / "out" / "labels" / "b.png").any()
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.index, c.name, c.id) for c in palette.classes if not c.ignore] == [  # 4: listed, if empty here
        (0, "background", None), (1, "class_1", 1), (2, "class_2", 2), (3, "class_3", 3), (4, "class_4", 4)]
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["a", "b"]


def test_class_numbers_written_as_floats_are_those_numbers(tmp_path):
    """pandas writes a ClassId column that held a NaN as 1.0, 3.0: read as names, 3.0 became index 2 and 4.0 index
    3 (by sorted name, no word), where 3 and 4 stay 3 and 4."""
    h, w = 64, 160
    rows = [f"a.jpg,1.0,{_encode(_blob(h, w, 20, 30, 12))}", f"a.jpg,3.0,{_encode(_blob(h, w, 40, 120, 15))}",
            f"b.jpg,4,{_encode(_blob(h, w, 30, 60, 10))}", "b.jpg,,"]
    src = _write(tmp_path, "ImageId,ClassId,EncodedPixels", rows, {"a.jpg": (w, h), "b.jpg": (w, h)})
    report = _import(src, tmp_path / "out")
    assert report.ok
    expected = np.zeros((h, w), np.uint8)
    expected[_blob(h, w, 20, 30, 12)] = 1
    expected[_blob(h, w, 40, 120, 15)] = 3
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "a.png"), expected)
    assert np.array_equal(np.unique(read_mask(tmp_path / "out" / "labels" / "b.png")), [0, 4])
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.index, c.name, c.id) for c in palette.classes if not c.ignore][3:] == [(3, "class_3", 3),
                                                                                    (4, "class_4", 4)]
    # From 0 too: the numbers' order, not the names' ("10.0" sorted before "2.0").
    rows = [f"a.jpg,0.0,{_encode(_blob(h, w, 20, 30, 12))}", f"a.jpg,10.0,{_encode(_blob(h, w, 40, 120, 15))}",
            f"b.jpg,2.0,{_encode(_blob(h, w, 30, 60, 10))}"]
    src = _write(tmp_path / "zero", "ImageId,ClassId,EncodedPixels", rows, {"a.jpg": (w, h), "b.jpg": (w, h)})
    _import(src, tmp_path / "out0")
    palette = load_palette(tmp_path / "out0" / "palette.json")
    assert [(c.index, c.id) for c in palette.classes if not c.ignore] == [(0, None), (1, 0), (2, 2), (3, 10)]


def test_images_the_csv_never_names_are_counted_or_taken_as_background(tmp_path):
    """Severstal's train.csv lists only the images with a defect; the others are in train_images too."""
    h, w = 20, 40
    src = _write(tmp_path, "ImageId,ClassId,EncodedPixels", [f"a.jpg,2,{_encode(_blob(h, w, 10, 10, 5))}"],
                 {"a.jpg": (w, h), "clean1.jpg": (w, h), "clean2.jpg": (w, h)})
    report = _import(src, tmp_path / "out")
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["a"]
    assert any(n.startswith(f"2 images in {tmp_path / 'train_images'} (first clean1.jpg) are named nowhere in "
                            "train.csv: left out") for n in report.notes)
    report = _import(src, tmp_path / "all", unlisted_background=True)
    assert [r.id for r in read_manifest(tmp_path / "all" / "manifest.csv").rows] == ["a", "clean1", "clean2"]
    assert not read_mask(tmp_path / "all" / "labels" / "clean1.png").any()
    assert not any("named nowhere" in n for n in report.notes)


def test_airbus_rows_per_ship_are_instances_and_empty_images_stay(tmp_path):
    h, w = 48, 48
    ships = [_blob(h, w, 10, 10, 5), _blob(h, w, 30, 35, 7)]
    rows = [f"s1.jpg,{_encode(m)}" for m in ships] + ["s2.jpg,", "s3.jpg,-1", "s4.jpg,nan"]
    src = _write(tmp_path, "ImageId,EncodedPixels", rows,
                 {f"s{i}.jpg": (w, h) for i in range(1, 5)})
    report = _import(src, tmp_path / "out", instances=True, class_name="ship")
    assert report.converted == 4
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "s1.png"), (ships[0] | ships[1]) * 1)
    inst = read_mask(tmp_path / "out" / "instances" / "s1.png")
    np.testing.assert_array_equal(inst, ships[0] * 1 + ships[1] * 2)
    assert [c.name for c in load_palette(tmp_path / "out" / "palette.json").classes][:2] == ["background", "ship"]
    assert any("--rle-order" in w for w in report.notes)  # square images: the order cannot be checked
    _import(src, tmp_path / "skip", skip_empty=True)
    assert [r.id for r in read_manifest(tmp_path / "skip" / "manifest.csv").rows] == ["s1"]


def test_tgs_ids_without_extension_find_their_images_by_stem(tmp_path):
    """Also a name whose image was converted to PNG (0fe6a3e2a8.jpg listed, 0fe6a3e2a8.png there)."""
    mask = _blob(101, 101, 60, 50, 30)
    src = _write(tmp_path, "id,rle_mask", [f"575d24d81d,{_encode(mask)}", "a266a2a9df,", "0fe6a3e2a8.jpg,"],
                 {"575d24d81d.png": (101, 101), "a266a2a9df.png": (101, 101), "0fe6a3e2a8.png": (101, 101)})
    report = _import(src, tmp_path / "out", rle_order="column")
    assert report.converted == 3 and not any("--rle-order" in w for w in report.notes)  # given: no warning
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "575d24d81d.png"), mask * 1)


@pytest.mark.parametrize("order", ["column", "row"])
def test_unsorted_overlapping_and_touching_runs_are_their_union(tmp_path, order):
    h, w = 6, 8
    rle = "20 5 1 3 3 4 22 6 40 2 42 1 44 4 45 1"  # 45 1 lies inside 44 4
    flat = np.zeros(h * w, np.uint8)
    numbers = [int(v) for v in rle.split()]
    for start, length in zip(numbers[0::2], numbers[1::2]):
        flat[start - 1:start - 1 + length] = 1
    expected = flat.reshape(w, h).T if order == "column" else flat.reshape(h, w)
    src = _write(tmp_path, "ImageId,EncodedPixels", [f"a.png,{rle}"], {"a.png": (w, h)})
    with pytest.raises(DataprepError, match=r"line 2: 20, then 1\): a relative RLE"):  # unless said to be absolute
        _import(src, tmp_path / "refused", rle_order=order)
    _import(src, tmp_path / "out", rle_order=order, rle_starts="absolute")
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "a.png"), expected)


def test_siim_relative_starts_are_refused_and_read_with_rle_starts_relative(tmp_path):
    """SIIM pneumothorax counts each start from the previous run's end; read as absolute starts a 15,294-pixel
    lung mask came out as 160 scattered pixels, exit 0."""
    h, w = 40, 30
    mask = _blob(h, w, 5, 4, 9) | _blob(h, w, 25, 18, 7)
    absolute = [int(v) for v in _encode(mask).split()]
    relative, end = [], 0  # SIIM's mask2rle: the gap since the previous run, then the length
    for start, length in zip(absolute[0::2], absolute[1::2]):
        relative += [start - 1 - end, length]
        end = start - 1 + length
    rows = [f"a.png,{' '.join(map(str, relative))}", f"b.png,{_encode(_blob(h, w, 10, 10, 5))}"]
    src = _write(tmp_path, "ImageId,EncodedPixels", rows, {"a.png": (w, h), "b.png": (w, h)})
    with pytest.raises(DataprepError, match=r"1 of its 2 RLEs of several runs decrease.*--rle-starts relative"):
        _import(src, tmp_path / "refused")
    src = _write(tmp_path / "one", "ImageId,EncodedPixels", rows[:1], {"a.png": (w, h)})
    report = _import(src, tmp_path / "out", rle_starts="relative")
    assert report.ok, report.errors
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "a.png"), mask * 1)


def test_names_with_a_folder_are_paths_below_the_images_folder(tmp_path):
    mask = _blob(20, 30, 10, 15, 6)
    src = _write(tmp_path, "ImageId,EncodedPixels", [f"cam1/a.png,{_encode(mask)}"], {})
    (tmp_path / "train_images" / "cam1").mkdir()
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "train_images" / "cam1" / "a.png")
    report = _import(src, tmp_path / "out", images_dir=tmp_path / "train_images")
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["cam1/a"]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "cam1" / "a.png"), mask * 1)
    assert report.failed == 0


def test_an_explicit_order_is_never_second_guessed(tmp_path):
    """1-pixel vertical stripes look like a wrong order; given --rle-order column they are imported."""
    h, w = 32, 64
    stripes = np.zeros((h, w), bool)
    stripes[:, ::2] = True
    src = _write(tmp_path, "ImageId,EncodedPixels", [f"x.png,{_encode(stripes)}"], {"x.png": (w, h)})
    assert _import(src, tmp_path / "guessed").failed == 1
    report = _import(src, tmp_path / "given", rle_order="column")
    assert report.failed == 0
    np.testing.assert_array_equal(read_mask(tmp_path / "given" / "labels" / "x.png"), stripes * 1)


def test_named_classes_are_sorted_after_background(tmp_path):
    h, w = 40, 60
    rows = [f"a.png,stomach,{_encode(_blob(h, w, 10, 10, 6))}", f"a.png,large_bowel,{_encode(_blob(h, w, 30, 45, 6))}"]
    src = _write(tmp_path, "id,class,segmentation", rows, {"a.png": (w, h)})
    _import(src, tmp_path / "out")
    names = [c.name for c in load_palette(tmp_path / "out" / "palette.json").classes if not c.ignore]
    assert names == ["background", "large_bowel", "stomach"]
    labels = read_mask(tmp_path / "out" / "labels" / "a.png")
    assert labels[10, 10] == 2 and labels[30, 45] == 1


@pytest.mark.parametrize("rle, message", [
    ("1 2 3", "line 2: RLE has 3 numbers; start/length pairs need an even count"),
    ("0 5", "line 2: RLE start 0: starts count from 1"),
    ("4 0", "line 2: RLE run length 0: lengths are at least 1"),
    ("1 x", "line 2: RLE '1 x' holds something other than whole numbers"),
    # Past int64: an OverflowError traceback that ended the import.
    ("1 99999999999999999999", "line 2: RLE '1 99999999999999999999' holds something other than whole numbers"),
])
def test_malformed_rles_fail_their_image_alone_with_one_line_naming_the_line(tmp_path, rle, message):
    src = _write(tmp_path, "ImageId,EncodedPixels", [f"a.png,{rle}", "a.png,1 2", "b.png,1 2"],
                 {"a.png": (8, 6), "b.png": (8, 6)})
    report = _import(src, tmp_path / "out")
    assert report.converted == 1 and report.failed == 1
    assert report.errors == [f"{src}: {message}"]
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["b"]
    assert not (tmp_path / "out" / "labels" / "a.png").exists()
    with pytest.raises(DataprepError, match=message):
        _import(src, tmp_path / "strict", on_error="fail")


def test_runs_past_the_image_and_missing_images_fail_alone(tmp_path):
    rows = ["a.png,40 10", "b.png,1 4", "gone.png,1 1"]
    src = _write(tmp_path, "ImageId,EncodedPixels", rows, {"a.png": (8, 6), "b.png": (8, 6)})
    report = _import(src, tmp_path / "out")
    assert report.converted == 1 and report.failed == 2
    assert any("line 2: RLE run ends at pixel 49, past the 48 of the 8x6 image" in e for e in report.errors)
    assert any("gone.png: image not found (named on line 4 of" in e for e in report.errors)


def test_headers_without_an_rle_or_image_column_are_refused(tmp_path, cli):
    src = _write(tmp_path, "name,pixels", ["a.png,1 1"], {"a.png": (8, 6)})
    with pytest.raises(DataprepError, match="no run-length column: the header is 'name,pixels'"):
        _import(src, tmp_path / "out")
    res = cli("import", "kaggle-rle", src, tmp_path / "out2")
    assert res.exit_code == 1 and "no run-length column" in res.output
    (tmp_path / "c.csv").write_text("ImageId,ClassId,EncodedPixels\na.png,1,1 1\n")
    with pytest.raises(UsageError, match="--class-name names the one class"):
        _import(tmp_path / "c.csv", tmp_path / "out3", class_name="ship", images_dir=tmp_path / "train_images")
    (tmp_path / "d.csv").write_text("ImageId,ClassId,EncodedPixels\na.png,,1 1\n")
    with pytest.raises(DataprepError, match="line 2: an RLE without a class in the class column"):
        _import(tmp_path / "d.csv", tmp_path / "out4", images_dir=tmp_path / "train_images")


def test_cli_imports_with_rle_order(tmp_path, cli):
    h, w = 30, 50
    mask = _blob(h, w, 15, 20, 8)
    src = _write(tmp_path, "ImageId,EncodedPixels", [f"a.png,{_encode(mask, 'row')}"], {"a.png": (w, h)})
    res = cli("import", "kaggle-rle", src, tmp_path / "out", "--rle-order", "row", "-q")
    assert res.exit_code == 0, res.output
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "a.png"), mask * 1)
    res = cli("import", "kaggle-rle", src, tmp_path / "out2", "-q")
    assert res.exit_code == 1 and "--rle-order row" in res.output


def test_class_numbers_from_0_keep_their_numbers_as_ids_and_round_trip(tmp_path, cli):
    """iMaterialist-style ClassId 0..45: sorted as text (10 before 2) and without ids, so labels2rle wrote
    ClassId 1, 2, 3, 4 for 0, 1, 10, 2."""
    h, w = 30, 40
    rows = [f"a.png,{c},{_encode(_blob(h, w, 6 + 6 * k, 8 + 7 * k, 3))}" for k, c in enumerate((0, 10, 2, 1))]
    src = _write(tmp_path, "ImageId,ClassId,EncodedPixels", rows, {"a.png": (w, h)})
    _import(src, tmp_path / "out")
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.index, c.id) for c in palette.classes if not c.ignore and c.index] == [(1, 0), (2, 1), (3, 2), (4, 10)]
    cli("labels2rle", tmp_path / "out" / "manifest.csv", "-o", tmp_path / "sub.csv", "-q")
    back = [line.split(",") for line in (tmp_path / "sub.csv").read_text().splitlines()[1:]]
    assert sorted((cls, rle) for _, cls, rle in back) == sorted(
        (str(c), _encode(_blob(h, w, 6 + 6 * k, 8 + 7 * k, 3))) for k, c in enumerate((0, 10, 2, 1)))


def test_a_wrong_order_shown_by_one_image_refuses_the_square_ones_too(tmp_path):
    """UW-Madison's row-major CSV with a 266x266 and a 310x360 scan: the second was refused as stripes, the first
    written column-major, its mask transposed (7,984 pixels wrong), exit 1 but a manifest holding it."""
    square, tall = _blob(40, 40, 8, 28, 7), _blob(50, 36, 30, 10, 8)
    rows = [f"sq.png,{_encode(square, 'row')}", f"tall.png,{_encode(tall, 'row')}"]
    src = _write(tmp_path, "ImageId,EncodedPixels", rows, {"sq.png": (40, 40), "tall.png": (36, 50)})
    with pytest.raises(DataprepError, match=r"--rle-order row; the CSV's square images, .* nothing is imported"):
        _import(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    _import(src, tmp_path / "row", rle_order="row")
    np.testing.assert_array_equal(read_mask(tmp_path / "row" / "labels" / "sq.png"), square * 1)


def test_understanding_clouds_image_label_column_is_image_and_class(tmp_path):
    """Understanding Clouds' `Image_Label,EncodedPixels` ("0011165.jpg_Fish"): refused, 'no image column'."""
    h, w = 35, 53
    rows = [f"c.jpg_Fish,{_encode(_blob(h, w, 10, 12, 6))}", "c.jpg_Flower,",
            f"c.jpg_Sugar,{_encode(_blob(h, w, 25, 40, 5))}"]
    src = _write(tmp_path, "Image_Label,EncodedPixels", rows, {"c.jpg": (w, h)})
    report = _import(src, tmp_path / "out")
    names = [c.name for c in load_palette(tmp_path / "out" / "palette.json").classes if not c.ignore]
    assert report.ok and names == ["background", "Fish", "Flower", "Sugar"]  # Flower listed, empty here: kept
    labels = read_mask(tmp_path / "out" / "labels" / "c.png")
    both = _blob(h, w, 10, 12, 6) | _blob(h, w, 25, 40, 5)
    assert labels[10, 12] == 1 and labels[25, 40] == 3 and (labels > 0).sum() == both.sum()

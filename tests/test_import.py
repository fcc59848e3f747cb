"""dataprep import: every format against an independent reference, draw order, overlaps, errors, CLI."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dataprep.errors import DataprepError, UsageError
from dataprep.importers import import_annotations
from dataprep.importers.raster import coco_counts
from dataprep.io import read_mask
from dataprep.manifest import read_manifest
from dataprep.palette import load_palette

from helpers import run_beside_first_call
from import_exports import CVAT_XML, coco_export, labelme_file, needs_coco, shape, write_image, yolo_export



def _labels(out: Path, sid: str) -> np.ndarray:
    return read_mask(out / "labels" / f"{sid}.png")


def _import(fmt: str, src: Path, out: Path, **kw):
    return import_annotations(fmt, src, out, quiet=True, **kw)


# --------------------------------------------------------------------------- COCO


def _coco_reference(json_path: Path, index_of: dict[int, int], keep_crowd: bool = False) -> dict[str, np.ndarray]:
    """The loop users write by hand with pycocotools: annToMask per annotation, later over earlier."""
    from pycocotools.coco import COCO

    coco = COCO(str(json_path))
    out = {}
    for iid, img in coco.imgs.items():
        ref = np.zeros((img["height"], img["width"]), np.int64)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=[iid])):
            ref[coco.annToMask(ann) > 0] = index_of[ann["category_id"]] if keep_crowd or not ann["iscrowd"] else 255
        out[Path(img["file_name"]).with_suffix("").as_posix()] = ref
    return out


@needs_coco
@pytest.mark.parametrize("keep_crowd", [False, True])
def test_coco_matches_annToMask_exactly(tmp_path, keep_crowd):
    export = coco_export(tmp_path / "coco")
    report = _import("coco", export["json"], tmp_path / "out", keep_crowd=keep_crowd)
    assert report.ok and report.converted == 3
    palette = load_palette(tmp_path / "out" / "palette.json")
    # Categories sorted by id get 1..K; the COCO id is kept.
    assert [(c.name, c.index, c.id) for c in palette.classes if not c.ignore] == [
        ("background", 0, None), ("car", 1, 3), ("train", 2, 7), ("dog", 3, 18)]
    reference = _coco_reference(export["json"], {3: 1, 7: 2, 18: 3}, keep_crowd)
    for sid, ref in reference.items():
        np.testing.assert_array_equal(_labels(tmp_path / "out", sid), ref)
    # The crowd block (18 x 30 px, drawn last) is ignore unless kept; the empty image is background.
    b = _labels(tmp_path / "out", "sub/b")
    assert int((b == (2 if keep_crowd else 255)).sum()) == 18 * 30
    assert not _labels(tmp_path / "out", "empty").any()


@needs_coco
def test_coco_background_category_is_index_0(tmp_path):
    """labelme's examples/instance_segmentation exported with its labelme2coco.py lists `_background_` as category
    id 0 (then aeroplane 1 .. tv/monitor 20). Imported, that gave index 0 "background" plus an empty index 1
    "_background_", every real class one above its VOC index, a 22-class palette for 21 classes."""
    images = tmp_path / "coco" / "JPEGImages"
    write_image(images / "a.png", 20, 10, 1)
    ann = {"images": [{"id": 0, "file_name": "JPEGImages/a.png", "width": 20, "height": 10}],
           "categories": [{"id": 0, "name": "_background_", "supercategory": None},
                          {"id": 1, "name": "aeroplane", "supercategory": None},
                          {"id": 2, "name": "bicycle", "supercategory": None}],
           "annotations": [{"id": 0, "image_id": 0, "category_id": 2, "iscrowd": 0, "area": 25.0,
                            "bbox": [2, 2, 5, 5], "segmentation": [[2, 2, 7, 2, 7, 7, 2, 7]]}]}
    path = tmp_path / "coco" / "annotations.json"
    path.write_text(json.dumps(ann))
    report = _import("coco", path, tmp_path / "out")
    assert report.ok and report.converted == 1
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.name, c.index, c.id) for c in palette.classes if not c.ignore] == [
        ("_background_", 0, 0), ("aeroplane", 1, 1), ("bicycle", 2, 2)]
    got = _labels(tmp_path / "out", "JPEGImages/a")
    assert set(np.unique(got)) == {0, 2} and int((got == 2).sum()) == int((_coco_reference(path, {0: 0, 1: 1, 2: 2})["JPEGImages/a"] == 2).sum())


@needs_coco
def test_coco_manifest_pairs_images_and_skip_empty(tmp_path):
    export = coco_export(tmp_path / "coco")
    report = _import("coco", export["json"], tmp_path / "out", skip_empty=True)
    rows = {r.id: r for r in read_manifest(report.manifest_path)}
    assert sorted(rows) == ["a", "sub/b"] and report.skipped == 1
    assert rows["sub/b"].image == (export["images"] / "sub" / "b.png").resolve()
    assert rows["sub/b"].mask == (tmp_path / "out" / "labels" / "sub" / "b.png").resolve()
    assert (rows["a"].width, rows["a"].height) == (640, 480)
    assert not (tmp_path / "out" / "labels" / "empty.png").exists()


def test_coco_own_layout_finds_each_splits_images_in_the_folder_named_as_the_split(tmp_path):
    """annotations/instances_val2017.json beside val2017/ (COCO's own layout; datumaro's images/val2017/): the
    split folders were never tried, and the folder import wrote nothing."""
    root = tmp_path / "coco"
    for split, folder, colour in (("train2017", root / "train2017", 1), ("val2017", root / "images" / "val2017", 2)):
        write_image(folder / f"{split}_a.png", 20, 10, colour)
        data = {"images": [{"id": 1, "file_name": f"{split}_a.png", "width": 20, "height": 10}],
                "categories": [{"id": 1, "name": "box"}],
                "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                                 "segmentation": [[2, 2, 12, 2, 12, 8, 2, 8]], "bbox": [2, 2, 10, 6], "area": 60}]}
        (root / "annotations").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    report = _import("coco", root, tmp_path / "out")
    rows = {r.id: r for r in read_manifest(report.manifest_path)}
    assert sorted(rows) == ["train2017/train2017_a", "val2017/val2017_a"]  # ids by split, as for any folder
    assert rows["val2017/val2017_a"].image == (root / "images" / "val2017" / "val2017_a.png").resolve()
    for row in rows.values():
        assert int((read_mask(row.mask) == 1).sum()) > 0


@needs_coco
def test_coco_rle_string_decoder_matches_pycocotools():
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(3)
    for _ in range(50):
        h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(m))
        counts = coco_counts(rle["counts"])
        assert counts.sum() == h * w
        # Runs alternate background/foreground in column-major order.
        flat = np.repeat(np.arange(len(counts)) % 2, counts).astype(np.uint8)
        np.testing.assert_array_equal(flat.reshape(w, h).T, m)


def _rewrite(path: Path, edit) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@needs_coco
@pytest.mark.parametrize("edit, message", [
    (lambda d: d["annotations"][1].pop("segmentation"), "annotations[1] (id 2): missing field 'segmentation'"),
    (lambda d: d["annotations"][0].update(category_id=99), "annotations[0] (id 1768): category_id 99 is not in "
                                                          "categories"),
    (lambda d: d["annotations"][0].update(image_id=42), "image_id 42 is not in images"),
    (lambda d: d["images"][0].pop("file_name"), "images[0]: missing field 'file_name'"),
    (lambda d: d.pop("categories"), "missing field 'categories'"),
    (lambda d: d["annotations"][2]["segmentation"][0].pop(), "segmentation[0] has an odd number of coordinates"),
])
def test_coco_malformed_fields_name_file_and_field(tmp_path, edit, message):
    export = coco_export(tmp_path / "coco")
    _rewrite(export["json"], edit)
    with pytest.raises(DataprepError) as err:
        _import("coco", export["json"], tmp_path / "out")
    assert str(err.value).startswith(str(export["json"])) and message in str(err.value)
    assert not (tmp_path / "out" / "manifest.csv").exists()


@needs_coco
def test_coco_annotations_without_a_segmentation_are_counted_and_a_box_only_export_refused(tmp_path):
    """A CVAT 'COCO 1.0' export of fire/smoke boxes: 6433 annotations with `segmentation: []` gave 1141 label maps
    of pure background, and the class table's zeros were the only sign."""
    export = coco_export(tmp_path / "coco")
    _rewrite(export["json"], lambda d: d["annotations"][0].update(segmentation=[]))
    report = _import("coco", export["json"], tmp_path / "some")
    n = len(json.loads(export["json"].read_text())["annotations"])
    assert any(w.startswith(f"1 of {n} annotations have no segmentation") and "annotations[0]" in w
               for w in report.notes)
    _rewrite(export["json"], lambda d: [a.update(segmentation=[]) for a in d["annotations"]])
    with pytest.raises(DataprepError, match=f"none of its {n} annotations has a segmentation.*only boxes"):
        _import("coco", export["json"], tmp_path / "boxes")
    assert not (tmp_path / "boxes").exists()


@needs_coco
@pytest.mark.parametrize("mode", ["ignore", "class"])
def test_coco_boxes_draw_as_pycocotools_draws_a_bbox(tmp_path, mode):
    """--boxes: a box-only annotation is its box, as the ignore index (the object is there, its outline unknown)
    or as its class; pixel for pixel pycocotools' frPyObjects of the bbox. Segmentations still draw as before."""
    from pycocotools import mask as mask_utils

    write_image(tmp_path / "images" / "a.png", 60, 40, 1)
    box = [10.5, 5.2, 20.3, 12.7]
    polygon = [40.0, 20.0, 55.0, 20.0, 55.0, 35.0, 40.0, 35.0]
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 60, "height": 40}],
            "categories": [{"id": 4, "name": "fire"}, {"id": 9, "name": "smoke"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 4, "bbox": box, "segmentation": [],
                             "area": 0, "iscrowd": 0},
                            {"id": 2, "image_id": 1, "category_id": 9, "bbox": [40, 20, 15, 15],
                             "segmentation": [polygon], "area": 225, "iscrowd": 0}]}
    (tmp_path / "instances.json").write_text(json.dumps(data))
    report = _import("coco", tmp_path / "instances.json", tmp_path / "out", boxes=mode)
    expected = np.zeros((40, 60), np.int64)
    boxed = mask_utils.decode(mask_utils.frPyObjects(np.array([box]), 40, 60))[:, :, 0] > 0
    expected[boxed] = 255 if mode == "ignore" else 1
    expected[mask_utils.decode(mask_utils.frPyObjects([polygon], 40, 60))[:, :, 0] > 0] = 2
    np.testing.assert_array_equal(_labels(tmp_path / "out", "a"), expected)
    assert (expected == (255 if mode == "ignore" else 1)).sum() > 200
    assert any("1 annotations without a segmentation drawn as their box" in n and mode in n for n in report.notes)
    skipped = _import("coco", tmp_path / "instances.json", tmp_path / "skip")
    assert any("--boxes ignore draws their boxes as ignore" in n for n in skipped.notes)
    assert not (_labels(tmp_path / "skip", "a") == 1).any()


@needs_coco
def test_coco_empty_file_missing_image_and_size_mismatch(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(DataprepError, match="empty file"):
        _import("coco", empty, tmp_path / "o1")
    export = coco_export(tmp_path / "coco")
    (export["images"] / "empty.png").unlink()
    _rewrite(export["json"], lambda d: d["images"][1].update(width=61))
    report = _import("coco", export["json"], tmp_path / "out")
    assert report.failed == 2 and report.converted == 1
    missing = next(e for e in report.errors if "empty.png" in e)
    assert "file not found" in missing and "image id 3" in missing
    size = next(e for e in report.errors if "image id 2" in e)
    assert size.startswith(str(export["json"])) and "annotation says 61x40 but image" in size and "is 60x40" in size
    assert [r.id for r in read_manifest(report.manifest_path)] == ["a"]
    # An RLE whose size is not its image's names the annotation.
    _rewrite(export["json"], lambda d: (d["images"][1].update(width=60),
                                        d["annotations"][3]["segmentation"].update(size=[41, 60])))
    report = _import("coco", export["json"], tmp_path / "out2")
    assert any("image id 2: annotations[3] (id 4): RLE size 60x41" in e for e in report.errors)


@needs_coco
@pytest.mark.parametrize("name", ["", ".", "sub/.."])
def test_an_image_name_that_names_no_file_is_a_one_line_error(tmp_path, name):
    """file_name "" or "." (CVAT: name=".") was a ValueError traceback: the id of an empty name."""
    export = coco_export(tmp_path / "coco")
    _rewrite(export["json"], lambda d: d["images"][1].update(file_name=name))
    with pytest.raises(DataprepError, match=re.escape(f"images[1]: field 'file_name' names no file: {name!r}")):
        _import("coco", export["json"], tmp_path / "out")
    src = tmp_path / "cvat"
    write_image(src / "images" / "f0.png", 20, 16)
    xml = CVAT_XML.replace("{rle}", "2,3,2,5").replace('name="f0.png"', f'name="{name}"')
    (src / "annotations.xml").write_text(xml)
    message = "<image> has no 'name' attribute" if not name else f"<image> name names no file: {name!r}"
    with pytest.raises(DataprepError, match=re.escape(message)):
        _import("cvat", src, tmp_path / "out2")


@needs_coco
def test_coco_file_names_with_windows_separators_find_their_images(tmp_path):
    """labelme2coco run on Windows writes "JPEGImages\\a.png": the image was not found, and a warning said the
    name reached out of the images folder."""
    export = coco_export(tmp_path / "coco")
    _rewrite(export["json"], lambda d: d["images"][1].update(file_name="sub\\b.png"))
    report = _import("coco", export["json"], tmp_path / "out")
    assert report.ok and report.converted == 3
    assert not any("reach out" in n for n in report.notes)
    row = next(r for r in read_manifest(report.manifest_path).rows if r.id == "sub/b")
    assert row.image.resolve() == (export["images"] / "sub" / "b.png").resolve()
    reference = _coco_reference(export["json"], {3: 1, 7: 2, 18: 3})
    np.testing.assert_array_equal(_labels(tmp_path / "out", "sub/b"), reference["sub\\b"])


@needs_coco
def test_absolute_and_dotdot_image_names_write_below_labels(tmp_path):
    """datumaro's COCO/CVAT/VIA samples with an absolute or '../' image name wrote the label map next to the
    image (in the input tree, where the next scan pairs it) or beside labels/, exit 0."""
    export = coco_export(tmp_path / "coco")
    images = export["images"]
    write_image(tmp_path / "coco" / "up.png", 30, 20, 4)
    _rewrite(export["json"], lambda d: (d["images"][0].update(file_name=str((images / "a.png").resolve())),
                                        d["images"][1].update(file_name=str((images / "sub" / "b.png").resolve())),
                                        d["images"][2].update(file_name="../up.png", width=30, height=20)))
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    report = _import("coco", export["json"], out)
    assert report.converted == 3, report.errors
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    assert all(out in p.parents for p in written)
    assert sorted(p.relative_to(out / "labels").as_posix() for p in written if p.suffix == ".png") == [
        "a.png", "sub/b.png", "up.png"]
    assert sorted(r.id for r in read_manifest(report.manifest_path)) == ["a", "sub/b", "up"]
    assert any("absolute or reach out of the images folder" in n for n in report.notes)


def test_categories_sharing_a_name_are_named_in_a_warning(tmp_path):
    """Categories {1: dog}, {2: dog}, {3: 'Dog '} became three classes, two of them named `dog`, exit 0, silent."""
    export = coco_export(tmp_path / "coco")
    _rewrite(export["json"], lambda d: d["categories"].extend([{"id": 40, "name": "dog"}, {"id": 41, "name": "Car "}]))
    report = _import("coco", export["json"], tmp_path / "out")
    (note,) = [n for n in report.notes if "shared by several categories" in n]
    assert "2 name(s)" in note and "'dog' (id 18) / 'dog' (id 40)" in note and "'car' (id 3) / 'Car ' (id 41)" in note
    clean = coco_export(tmp_path / "clean")
    assert not [n for n in _import("coco", clean["json"], tmp_path / "out2").notes if "shared by" in n]


def test_roboflow_project_placeholder_category_is_no_class(tmp_path):
    """Roboflow's COCO exports list the project as category 0 (a-hwang/building-facade-segmentation: `facade`,
    supercategory "none", parent of the others, one of which is also `facade`); it became an empty class 1
    under a name the real class 3 shares. A category merely unused stays, and the report names it."""
    write_image(tmp_path / "img.png", 20, 20)
    square = [[2, 2, 14, 2, 14, 14, 2, 14]]
    cats = [{"id": 0, "name": "facade", "supercategory": "none"},
            {"id": 1, "name": "car", "supercategory": "facade"},
            {"id": 2, "name": "facade", "supercategory": "facade"},
            {"id": 3, "name": "shop", "supercategory": "facade"}]
    data = {"images": [{"id": 7, "file_name": "img.png", "width": 20, "height": 20}], "categories": cats,
            "annotations": [{"id": 1, "image_id": 7, "category_id": 2, "segmentation": square}]}
    (tmp_path / "_annotations.coco.json").write_text(json.dumps(data))
    report = _import("coco", tmp_path / "_annotations.coco.json", tmp_path / "out")
    assert load_palette(tmp_path / "out" / "palette.json").names == ["background", "car", "facade", "shop"]
    assert _labels(tmp_path / "out", "img").max() == 2
    assert any("category 0 'facade' left out" in n for n in report.notes)
    assert any(n.startswith("2 of 4 classes have no pixel in any label map (car, shop)") for n in report.notes)
    # the placeholder used by an annotation is a class like any other
    data["annotations"].append({"id": 2, "image_id": 7, "category_id": 0, "segmentation": [[15, 15, 19, 15, 19, 19]]})
    (tmp_path / "_annotations.coco.json").write_text(json.dumps(data))
    _import("coco", tmp_path / "_annotations.coco.json", tmp_path / "out2")
    assert load_palette(tmp_path / "out2" / "palette.json").names == ["background", "facade", "car", "facade",
                                                                       "shop"]


# --------------------------------------------------------------------------- order and overlap


def _squares_coco(tmp_path: Path) -> Path:
    """Two overlapping squares: a big 'car' (listed first) and a small 'dog' inside its corner."""
    write_image(tmp_path / "img.png", 20, 20)
    big = [2, 2, 14, 2, 14, 14, 2, 14]
    small = [10, 10, 18, 10, 18, 18, 10, 18]
    data = {"images": [{"id": 1, "file_name": "img.png", "width": 20, "height": 20}],
            "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "dog"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 2, "segmentation": [small]},
                            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [big]}]}
    path = tmp_path / "squares.json"
    path.write_text(json.dumps(data))
    return path


def _square(x0: int, x1: int) -> np.ndarray:
    """pycocotools fills an axis-aligned square with integer corners x0..x1 as pixels x0..x1-1."""
    m = np.zeros((20, 20), bool)
    m[x0:x1, x0:x1] = True
    return m


@needs_coco
@pytest.mark.parametrize("order, overlap, overlap_value", [
    ("file", "last", 1),  # the car is listed last: it covers the dog
    ("area", "last", 2),  # largest first: the small dog stays on top
    ("class-list", "last", 2),  # dog (index 2) is after car (1) in the class list
    ("file", "ignore", 255),
])
def test_draw_order_and_overlap(tmp_path, order, overlap, overlap_value):
    path = _squares_coco(tmp_path)
    _import("coco", path, tmp_path / "out", order=order, overlap=overlap)
    labels = _labels(tmp_path / "out", "img")
    big, small = _square(2, 14), _square(10, 18)
    expected = np.zeros((20, 20), np.int64)
    expected[big] = 1
    expected[small & ~big] = 2
    expected[big & small] = overlap_value
    np.testing.assert_array_equal(labels, expected)


# --------------------------------------------------------------------------- labelme


def test_labelme_shapes_follow_labelme_drawing(tmp_path):
    src = tmp_path / "lm"
    shapes = [shape("road", [[1, 1], [8, 1], [8, 5], [1, 5]]),  # polygon with integer corners: inclusive
              shape("car", [[10.0, 2.0], [14.0, 6.0]], "rectangle"),
              shape("car", [[3, 12], [3, 12]], "point"),
              shape("__ignore__", [[20, 10], [20, 13]], "circle"),
              shape("road", [[0, 18], [29, 18]], "line")]
    labelme_file(src, "img", shapes, 30, 24)
    (src / "labels.txt").write_text("__ignore__\n_background_\ncar\nroad\n")
    report = _import("labelme", src, tmp_path / "out")
    assert report.ok and any("1 point shapes left out" in n for n in report.notes)
    got = _labels(tmp_path / "out", "img")
    expected = np.zeros((24, 30), np.int64)
    expected[1:6, 1:9] = 2  # road: rows 1..5, cols 1..8 inclusive
    expected[2:7, 10:15] = 1  # car rectangle, both corners inclusive
    yy, xx = np.mgrid[:24, :30]
    circle = (xx - 20) ** 2 + (yy - 10) ** 2 <= 9
    expected[circle] = 255
    line_rows = np.flatnonzero((got == 2).all(axis=1))
    assert len(line_rows) == 10 and 13 <= line_rows.min() <= line_rows.max() <= 23  # labelme's default width
    np.testing.assert_array_equal(got[:7], expected[:7])
    # The circle: PIL's ellipse may differ from the ideal disc only on its rim.
    assert ((got == 255) != circle).sum() <= 8


def test_labelme_four_corner_rectangles_joints_and_mask_origins_follow_labelme(tmp_path):
    """X-AnyLabeling writes rectangles as 4 corners and labelme has oriented_rectangle: every image failed ("a
    rectangle needs 2 points"). A linestrip's joints are rounded (joint='curve': 17 pixels of labelme's
    primitives example were background), a mask's fractional origin rounded (417.6 was cut to 417)."""
    import base64
    import io as bytes_io

    blob = np.zeros((6, 7), np.uint8)
    blob[1:5, 2:6] = 255
    png = bytes_io.BytesIO()
    Image.fromarray(blob).save(png, format="PNG")
    mask_shape = {**shape("car", [[30.6, 20.5], [36.6, 25.5]], "mask"),
                  "mask": base64.b64encode(png.getvalue()).decode("ascii")}
    strip = [[4, 30], [30, 34], [8, 44]]
    shapes = [shape("road", [[2, 2], [12, 2], [12, 9], [2, 9]], "rectangle"),
              shape("road", [[40, 2], [52, 6], [49, 15], [37, 11]], "oriented_rectangle"),
              shape("car", strip, "linestrip"), mask_shape]
    labelme_file(tmp_path / "lm", "img", shapes, 60, 48)
    (tmp_path / "lm" / "labels.txt").write_text("_background_\ncar\nroad\n")
    report = _import("labelme", tmp_path / "lm", tmp_path / "out")
    assert report.ok
    canvas = Image.new("L", (60, 48), 0)  # labelme's shape_to_mask, written out
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([2, 2, 12, 9], outline=2, fill=2)
    draw.polygon([(40, 2), (52, 6), (49, 15), (37, 11)], outline=2, fill=2)
    draw.line([tuple(p) for p in strip], fill=1, width=10, joint="curve")
    expected = np.array(canvas)
    expected[20:26, 31:38][blob > 0] = 1  # origin (30.6, 20.5) rounds to (31, 20); fractional: the mask's size
    np.testing.assert_array_equal(_labels(tmp_path / "out", "img"), expected)


def test_labelme_embedded_image_data_and_collected_labels(tmp_path):
    src = tmp_path / "lm"
    labelme_file(src, "a", [shape("cat", [[0, 0], [5, 0], [5, 5]])], 12, 10, embed=True)
    labelme_file(src, "b", [shape("dog", [[0, 0], [5, 0], [5, 5]]), shape("cat", [[6, 6], [9, 6], [9, 9]])], 12, 10)
    report = _import("labelme", src, tmp_path / "out")
    assert report.ok
    assert load_palette(tmp_path / "out" / "palette.json").names == ["_background_", "cat", "dog"]
    rows = {r.id: r for r in read_manifest(report.manifest_path)}
    assert rows["a"].image == (tmp_path / "out" / "images" / "a.png").resolve()  # written from imageData
    assert Image.open(rows["a"].image).size == (12, 10)
    assert rows["b"].image == (src / "b.png").resolve()
    assert f"1 imagePath(s) name no image file, e.g. a.png (of {src / 'a.json'}): the images embedded in the JSON" \
           " (imageData) were written to DEST/images/ and used instead" in report.notes
    # labelme's apc2016_obj3.json gives itself as imagePath: no image, so its imageData is the image
    named_itself = json.loads((src / "a.json").read_text())
    (src / "c.json").write_text(json.dumps({**named_itself, "imagePath": "c.json"}))
    report = _import("labelme", src, tmp_path / "out2")
    assert report.ok and Image.open(tmp_path / "out2" / "images" / "c.png").size == (12, 10)


def test_labelme_files_without_any_shape_are_refused_before_anything_is_written(tmp_path):
    """labelme's classification example (flags, no shapes) gave all-background label maps, exit 0."""
    for name in ("a", "b"):
        path = labelme_file(tmp_path / "lm", name, [], 12, 10, embed=True)
        path.write_text(json.dumps({**json.loads(path.read_text()), "flags": {"cat": True, "dog": False}}))
    with pytest.raises(DataprepError, match=r"none of the 2 labelme files holds a shape \(2 with flags"):
        _import("labelme", tmp_path / "lm", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_labelme_without_labels_txt_numbers_train_and_val_alike(tmp_path):
    """A train and a val folder imported apart meet their labels in another order (Tony607/labelme2coco's 18
    files split in two: date, fig, hazelnut against fig, hazelnut, date); sorted names give both one numbering."""
    tri = [[0, 0], [5, 0], [5, 5]]
    labelme_file(tmp_path / "train", "a", [shape("date", tri), shape("fig", tri), shape("hazelnut", tri)], 12, 10)
    labelme_file(tmp_path / "val", "b", [shape("hazelnut", [[6, 6], [9, 6], [9, 9]]), shape("fig", tri)], 12, 10)
    labelme_file(tmp_path / "val", "c", [shape("date", [[0, 6], [4, 6], [4, 9]])], 12, 10)
    train = _import("labelme", tmp_path / "train", tmp_path / "out_train")
    val = _import("labelme", tmp_path / "val", tmp_path / "out_val")
    for out in ("out_train", "out_val"):
        assert load_palette(tmp_path / out / "palette.json").names == ["_background_", "date", "fig", "hazelnut"]
    assert set(np.unique(_labels(tmp_path / "out_val", "b"))) == {0, 2, 3}
    assert set(np.unique(_labels(tmp_path / "out_val", "c"))) == {0, 1}
    assert any("no labels.txt: classes numbered by sorted name (date, fig, hazelnut)" in n for n in val.parse_notes)
    assert train.ok and val.ok


def test_labelme_instances_follow_group_id(tmp_path):
    """labelme's examples/instance_segmentation draws a partly hidden sofa as four polygons with group_id 0 and a
    person as two; its labelme2voc.py makes each group one object and zeroes the __ignore__ shape. Numbering every
    shape as its own instance split those objects (the 4-polygon sofa became 4 instances) and gave the ignored
    region an object number."""
    def rect(label, x0, y0, x1, y1, group=None):
        return dict(shape(label, [[x0, y0], [x1, y1]], "rectangle"), group_id=group)

    shapes = [rect("person", 1, 1, 8, 8), rect("person", 12, 1, 18, 8, 0), rect("__ignore__", 1, 12, 8, 18),
              rect("person", 12, 12, 18, 18, 0), rect("chair", 22, 1, 28, 8, 0), rect("chair", 22, 12, 28, 18)]
    src = tmp_path / "lm"
    labelme_file(src, "a", shapes, 30, 20)
    (src / "labels.txt").write_text("__ignore__\n_background_\nchair\nperson\n")
    report = _import("labelme", src, tmp_path / "out", instances=True)
    assert report.ok
    inst = read_mask(tmp_path / "out" / "instances" / "a.png")
    labels = _labels(tmp_path / "out", "a")
    centre = {(3, 3): 1, (14, 3): 2, (3, 14): 0, (14, 14): 2, (24, 3): 4, (24, 14): 5}
    for (x, y), number in centre.items():
        assert inst[y, x] == number, (x, y)
    assert set(np.unique(inst)) == {0, 1, 2, 4, 5}
    assert labels[14, 3] == 255 and labels[3, 24] == 1 and labels[14, 14] == 2


def test_labelme_errors_name_the_file(tmp_path):
    src = tmp_path / "lm"
    labelme_file(src, "unknown", [shape("zebra", [[0, 0], [5, 0], [5, 5]])], 12, 10)
    labelme_file(src, "two_points", [shape("cat", [[0, 0], [5, 0]])], 12, 10)
    labelme_file(src, "size", [shape("cat", [[0, 0], [5, 0], [5, 5]])], 12, 10, image_size=(13, 10))
    (src / "empty.json").write_text("")
    bad = labelme_file(src, "noshapes", [], 12, 10)
    bad.write_text(json.dumps({"imagePath": "noshapes.png"}))
    (src / "labels.txt").write_text("_background_\ncat\n")
    report = _import("labelme", src, tmp_path / "out")
    errors = "\n".join(report.errors)
    assert f"{src / 'unknown.json'}: shapes[0]: label 'zebra' is not in {src / 'labels.txt'}" in errors
    assert f"{src / 'two_points.json'}: shapes[0]: a polygon needs at least 3 points, got 2" in errors
    assert f"{src / 'size.json'}: annotation says 12x10 but image" in errors
    assert f"{src / 'empty.json'}: empty file" in errors
    assert f"{src / 'noshapes.json'}: missing field 'shapes'" in errors
    assert report.failed == 5 and report.converted == 0


def test_labelme_mistyped_image_path_and_group_id_fail_their_file_not_the_import(tmp_path):
    """imagePath 5 was an AttributeError traceback, group_id [1] a TypeError (unhashable) one, for the whole
    import."""
    src = tmp_path / "lm"
    labelme_file(src, "good", [shape("cat", [[0, 0], [5, 0], [5, 5]])], 12, 10)
    path = labelme_file(src, "path", [shape("cat", [[0, 0], [5, 0], [5, 5]])], 12, 10)
    path.write_text(json.dumps({**json.loads(path.read_text()), "imagePath": 5}))
    group = labelme_file(src, "group", [{**shape("cat", [[0, 0], [5, 0], [5, 5]]), "group_id": [1]}], 12, 10)
    report = _import("labelme", src, tmp_path / "out", instances=True)
    assert sorted(report.errors) == [f"{group}: shapes[0]: field 'group_id' must be an integer or null, not list [1]",
                                     f"{path}: field 'imagePath' must be a file name, not int 5"]
    assert report.converted == 1 and [r.id for r in read_manifest(report.manifest_path)] == ["good"]


def test_labelme_infinite_point_fails_its_file_naming_the_json_and_shape(tmp_path):
    """Python's json writes inf as Infinity; PIL's OverflowError was reported against the image, as a bare
    'OverflowError: ...', not the JSON and shape."""
    src = tmp_path / "lm"
    labelme_file(src, "good", [shape("cat", [[0, 0], [5, 0], [5, 5]])], 12, 10)
    bad = labelme_file(src, "bad", [shape("cat", [[0, 0], [float("inf"), 0], [5, 5]])], 12, 10)
    assert "Infinity" in bad.read_text()
    report = _import("labelme", src, tmp_path / "out")
    assert report.errors == [f"{bad}: shape #0: cannot convert float infinity to integer"]
    assert [r.id for r in read_manifest(report.manifest_path)] == ["good"]


def test_labelme_exif_rotated_image(tmp_path):
    """labelme stores the size of the image as shown (EXIF applied); the stored size is an error with a hint."""
    src = tmp_path / "lm"
    src.mkdir()
    write_image(src / "rot.jpg", 20, 10, fmt="JPEG", exif_orientation=6)  # stored 20x10, shown 10x20
    for name, (w, h) in {"ok": (10, 20), "stored": (20, 10)}.items():
        tri = [shape("cat", [[0, 0], [5, 0], [5, 5]])]
        (src / f"{name}.json").write_text(json.dumps({"shapes": tri, "imagePath": "rot.jpg", "imageWidth": w,
                                                       "imageHeight": h}))
    report = _import("labelme", src, tmp_path / "out")
    assert report.converted == 1 and _labels(tmp_path / "out", "ok").shape == (20, 10)
    assert "stored.json" in report.errors[0]
    assert "says 20x10, the stored size of image" in report.errors[0]
    assert "EXIF orientation 6 shows it as 10x20" in report.errors[0]


@pytest.mark.integration
def test_labelme_real_examples_match_labelme2voc(tmp_path, shared_data):
    """labelme's own examples/semantic_segmentation, against the output of its labelme2voc.py."""
    root = shared_data("voc_samples/labelme_examples/examples/semantic_segmentation")
    report = _import("labelme", root / "data_annotated", tmp_path / "out", labels_file=root / "labels.txt")
    assert report.ok and report.converted == 3
    for ref_path in sorted((root / "data_dataset_voc" / "SegmentationClass").glob("*.png")):
        ref = np.asarray(Image.open(ref_path))
        got = _labels(tmp_path / "out", ref_path.stem)
        assert got.shape == ref.shape
        assert (got == ref).mean() >= 0.995, ref_path.name
        assert set(np.unique(got)) == set(np.unique(ref))


# --------------------------------------------------------------------------- YOLO


def test_yolo_polygons_boxes_and_background(tmp_path):
    # Square 0.2..0.7 of 64x48: vertices (12.8, 9.6)..(44.8, 33.6), truncated to (12, 9)..(44, 33) as ultralytics
    # does (rounding would give 13..45), then filled edges included by cv2.fillPoly.
    lines = {"a": "1 0.2 0.2 0.7 0.2 0.7 0.7 0.2 0.7\n", "box": "0 0.5 0.5 0.25 0.5\n", "empty": "",
             "nolabel": None}
    yaml_path = yolo_export(tmp_path / "yolo", lines, ["person", "car"])
    report = _import("yolo", yaml_path, tmp_path / "out")
    assert report.ok and report.converted == 4
    assert all("split" not in r.extra for r in read_manifest(report.manifest_path).rows)  # one split: no column
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.name, c.index, c.id) for c in palette.classes if not c.ignore] == [
        ("background", 0, None), ("person", 1, 0), ("car", 2, 1)]
    expected = np.zeros((48, 64), np.int64)
    expected[9:34, 12:45] = 2
    np.testing.assert_array_equal(_labels(tmp_path / "out", "images/train/a"), expected)
    # A box line draws nothing by default (a segmentation export's polygons are what is asked for), said once
    assert not _labels(tmp_path / "out", "images/train/box").any()
    assert any(n.startswith(f"1 of 2 label lines are boxes (class cx cy w h), e.g. in {tmp_path / 'yolo'}")
               and n.endswith("; --boxes ignore|class draws them") for n in report.notes)
    box = np.zeros((48, 64), np.int64)
    box[12:36, 24:40] = 1  # cx 32 +- 8 px, cy 24 +- 12 px: 16x24 pixels, as a COCO bbox of that size draws
    _import("yolo", yaml_path, tmp_path / "out_class", boxes="class")
    np.testing.assert_array_equal(_labels(tmp_path / "out_class", "images/train/box"), box)
    _import("yolo", yaml_path, tmp_path / "out_ignore", boxes="ignore")
    np.testing.assert_array_equal(_labels(tmp_path / "out_ignore", "images/train/box"), np.where(box > 0, 255, 0))
    assert not _labels(tmp_path / "out", "images/train/empty").any()
    assert any("2 images have no label file (1) or an empty one (1) and are background" in n for n in report.notes)
    # boxes alone: a detection export, refused
    (tmp_path / "yolo" / "labels" / "train" / "a.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataprepError, match=r"data.yaml: its 2 label lines are boxes .*: a detection export"):
        _import("yolo", yaml_path, tmp_path / "out_det")


@pytest.mark.parametrize("names", [["Background", "road", "car"], ["road", "background", "car"]])
def test_yolo_class_named_background_is_index_0(tmp_path, names):
    """names ['Background', 'road', 'car'] (masks converted to YOLO list it as class 0) gave two background
    classes, 0 (unlabelled) and 1 (its polygons), trained apart; now it is index 0, as COCO's background category."""
    bg = next(i for i, n in enumerate(names) if n.lower() == "background")
    road, car = names.index("road"), names.index("car")
    # Square 0.2..0.7 of 64x48: pixels 9..33 x 12..44 (see above); a background polygon over its corner.
    lines = {"a": f"{road} 0.2 0.2 0.7 0.2 0.7 0.7 0.2 0.7\n{bg} 0.2 0.2 0.4 0.2 0.4 0.4 0.2 0.4\n"
                  f"{car} 0.8 0.8 0.9 0.8 0.9 0.9\n"}
    yaml_path = yolo_export(tmp_path / "yolo", lines, names)
    report = _import("yolo", yaml_path, tmp_path / "out")
    assert report.ok
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.name, c.index, c.id) for c in palette.classes if not c.ignore] == [
        (names[bg], 0, bg), ("road", 1, road), ("car", 2, car)]
    import cv2

    expected = np.zeros((48, 64), np.uint8)
    for label, poly in ((1, [0.2, 0.2, 0.7, 0.2, 0.7, 0.7, 0.2, 0.7]), (0, [0.2, 0.2, 0.4, 0.2, 0.4, 0.4, 0.2, 0.4]),
                        (2, [0.8, 0.8, 0.9, 0.8, 0.9, 0.9])):
        pts = (np.array(poly).reshape(-1, 2) * (64, 48)).astype(np.int32)
        cv2.fillPoly(expected, [pts], label)
    np.testing.assert_array_equal(_labels(tmp_path / "out", "images/train/a"), expected)


def test_yolo_label_file_with_a_byte_order_mark_is_read(tmp_path):
    """A label file saved by Notepad starts with a BOM: its first line failed as "expected 'class x1 y1 ...'"."""
    yaml_path = yolo_export(tmp_path / "yolo", {"a": "\ufeff1 0.2 0.2 0.7 0.2 0.7 0.7 0.2 0.7\n"}, ["person", "car"])
    report = _import("yolo", yaml_path, tmp_path / "out")
    assert report.ok, report.errors
    expected = np.zeros((48, 64), np.int64)
    expected[9:34, 12:45] = 2  # as test_yolo_polygons_boxes_and_background draws it
    np.testing.assert_array_equal(_labels(tmp_path / "out", "images/train/a"), expected)


def test_yolo_boxes_cover_their_size_in_pixels(tmp_path):
    """Roboflow's YOLO sample: `0 0.35 0.3 0.3 0.2` on a 10x5 image is a 3x1 box; drawn as a cv2 polygon (edges
    inclusive, 0.35 - 0.15 = 0.1999... truncated) it covered columns 1-5 and rows 0-2, 15 pixels."""
    lines = {"a": "0 0.35 0.3 0.3 0.2\n0 0.85 0.6 0.3 0.8\n"}
    yaml_path = yolo_export(tmp_path / "yolo", lines, ["x"], size=(10, 5))
    _import("yolo", yaml_path, tmp_path / "out", boxes="class")
    expected = np.zeros((5, 10), np.int64)
    expected[1, 2:5] = 1  # 0.2..0.5 of 10 columns, 0.2..0.4 of 5 rows
    expected[1:5, 7:10] = 1  # 0.7..1.0 and 0.2..1.0
    np.testing.assert_array_equal(_labels(tmp_path / "out", "images/train/a"), expected)


@pytest.mark.parametrize("text, message", [
    ("2 0.1 0.1 0.5 0.1 0.5 0.5\n", "line 1: class 2 is not in names (0..1)"),
    ("0 0.1 0.1 0.5 0.1 0.5\n", "expected an even number"),
    ("0 0.1 0.1 0.5 0.1 0.5 0.5\n1 10 10 50 10 50 50\n",
     "line 2: coordinates must be normalized to 0..1, got 50 (pixel coordinates given?)"),
    ("0 0.1 0.1 1.2 0.1 1.2 0.5\n", "line 1: coordinates must be normalized to 0..1, got 1.2\n"),
    ("0 -0.3 0.1 0.5 0.1 0.5 0.5\n", "line 1: coordinates must be normalized to 0..1, got -0.3\n"),
    ("zero 0.1 0.1\n", "line 1: expected 'class x1 y1 x2 y2 ...'"),
    # NaN passed the 0..1 check and cv2 drew it as INT_MIN: 170 pixels of class 0 on a 40x30 image, exit 0.
    ("0 0.1 0.1 nan 0.5 0.5 0.5\n", "line 1: coordinates must be finite numbers, got 'nan'\n"),
    ("0 0.1 0.1 0.5 0.1 0.5 0.5\n1 0.1 0.1 0.5 -inf 0.5 0.5\n", "line 2: coordinates must be finite numbers"),
])
def test_yolo_bad_lines_name_file_and_line(tmp_path, text, message):
    yaml_path = yolo_export(tmp_path / "yolo", {"a": text, "b": ""}, ["person", "car"])
    report = _import("yolo", yaml_path, tmp_path / "out")
    assert report.failed == 1 and report.converted == 1
    assert report.errors[0].startswith(str(tmp_path / "yolo" / "labels" / "train" / "a.txt"))
    assert message in report.errors[0] + "\n"


def test_yolo_roboflow_data_yaml_with_parent_relative_splits(tmp_path):
    """Roboflow's YOLOv8 export (a 1957-image shoe set): data.yaml beside train/ and valid/ says
    `train: ../train/images`; ultralytics drops the '../' when that path does not exist, and so does import."""
    root = tmp_path / "shoes"
    for split, stem in (("train", "a"), ("valid", "b")):
        write_image(root / split / "images" / f"{stem}.jpg", 64, 48)
        (root / split / "labels").mkdir(parents=True)
        (root / split / "labels" / f"{stem}.txt").write_text("0 0.1 0.1 0.6 0.1 0.6 0.8 0.1 0.8\n")
    (root / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnc: 1\nnames: ['shoes']\n")
    report = _import("yolo", root / "data.yaml", tmp_path / "out")
    rows = read_manifest(report.manifest_path).rows
    assert sorted(r.image.name for r in rows) == ["a.jpg", "b.jpg"]
    # The split each image came from, as data.yaml names it (valid/ is its `val`), as scan writes one.
    assert sorted((r.image.name, r.extra["split"]) for r in rows) == [("a.jpg", "train"), ("b.jpg", "val")]
    for r in rows:
        labels = read_mask(r.mask)
        assert set(np.unique(labels).tolist()) == {0, 1} and labels[20, 20] == 1


def test_yolo_yaml_without_names(tmp_path):
    yaml_path = yolo_export(tmp_path / "yolo", {"a": ""}, ["x"])
    yaml_path.write_text("train: images/train\n")
    with pytest.raises(DataprepError, match="data.yaml: missing field 'names'"):
        _import("yolo", yaml_path, tmp_path / "out")


def test_yolo_yaml_path_that_is_no_folder_name_and_an_unreadable_list_are_one_line_errors(tmp_path):
    """path: 5 was a TypeError traceback, a train list that is no UTF-8 text a UnicodeDecodeError one."""
    yaml_path = yolo_export(tmp_path / "yolo", {"a": "0 0.1 0.1 0.5 0.1 0.5 0.5\n"}, ["x"])
    yaml_path.write_text("path: 5\ntrain: images/train\nnames: [x]\n")
    with pytest.raises(DataprepError, match=re.escape("data.yaml: field 'path' must be a folder, not 5")):
        _import("yolo", yaml_path, tmp_path / "out")
    (tmp_path / "yolo" / "train.txt").write_bytes(b"\xff\xfe\x00images/train/a.png\n")
    yaml_path.write_text("train: train.txt\nnames: [x]\n")
    unreadable = f"{tmp_path / 'yolo' / 'train.txt'}: unreadable ('train' list in"
    with pytest.raises(DataprepError, match=re.escape(unreadable)):
        _import("yolo", yaml_path, tmp_path / "out")
    (tmp_path / "yolo" / "train.txt").write_text("\ufeff./images/train/a.png\n")  # a BOM, as Notepad writes it
    assert _import("yolo", yaml_path, tmp_path / "out").converted == 1


def test_yolo_export_with_classes_txt_and_no_yaml(tmp_path):
    """Label Studio's (and Darknet's) YOLO export: classes.txt beside images/ and labels/, no data.yaml; it was
    refused with 'no data.yaml', naming neither classes.txt nor a way on."""
    lines = {"a": "1 0.1 0.1 0.6 0.1 0.6 0.7\n", "b": "0 0.2 0.2 0.9 0.2 0.5 0.9\n"}
    yaml_path = yolo_export(tmp_path / "with_yaml", lines, ["door", "bus"])
    _import("yolo", yaml_path, tmp_path / "from_yaml")
    flat = tmp_path / "ls_export"
    for stem, text in lines.items():
        (flat / "images").mkdir(parents=True, exist_ok=True)
        (flat / "labels").mkdir(exist_ok=True)
        source = yaml_path.parent / "images" / "train" / f"{stem}.png"
        (flat / "images" / f"{stem}.png").write_bytes(source.read_bytes())
        (flat / "labels" / f"{stem}.txt").write_text(text)
    (flat / "classes.txt").write_text("door\nbus\n")
    report = _import("yolo", flat, tmp_path / "from_classes")
    assert report.ok and [c.name for c in report.palette.classes[:3]] == ["background", "door", "bus"]
    for stem in lines:
        np.testing.assert_array_equal(_labels(tmp_path / "from_classes", f"images/{stem}"),
                                      _labels(tmp_path / "from_yaml", f"images/train/{stem}"))
    (flat / "classes.txt").write_text("door\n\nbus\n")  # Darknet counts the blank line: bus would be 2
    with pytest.raises(DataprepError, match="classes.txt: line 2 is blank: name that class or remove the line"):
        _import("yolo", flat, tmp_path / "blank")


# --------------------------------------------------------------------------- per-instance mask folders


def _dsb(root: Path, with_classes: bool = False) -> None:
    for n, sid in enumerate(["s1", "s2"]):
        write_image(root / sid / "images" / f"{sid}.png", 16, 12, n)
        masks = [np.zeros((12, 16), np.uint8) for _ in range(3)]
        masks[0][1:5, 1:5] = 255
        masks[1][4:9, 4:12] = 255  # overlaps the first at (4, 4)
        masks[2][10:12, 0:3] = 1
        for k, m in enumerate(masks):
            sub = root / sid / "masks" / (("a", "b", "b")[k] if with_classes else "")
            sub.mkdir(parents=True, exist_ok=True)
            Image.fromarray(m).save(sub / f"m{k}.png")


def test_instances_union_and_16bit_instance_map(tmp_path):
    _dsb(tmp_path / "dsb")
    report = _import("instances", tmp_path / "dsb", tmp_path / "out", instances=True)
    assert report.ok and report.converted == 2
    sem = _labels(tmp_path / "out", "s1")
    inst = read_mask(tmp_path / "out" / "instances" / "s1.png")
    assert inst.dtype == np.uint16
    expected = np.zeros((12, 16), np.int64)
    expected[1:5, 1:5] = 1
    expected[4:9, 4:12] = 2
    expected[10:12, 0:3] = 3
    np.testing.assert_array_equal(inst, expected)
    np.testing.assert_array_equal(sem, (expected > 0).astype(np.int64))
    _import("instances", tmp_path / "dsb", tmp_path / "out2", instances=True, overlap="ignore")
    inst2 = read_mask(tmp_path / "out2" / "instances" / "s1.png")
    assert inst2[4, 4] == 0 and inst2[5, 5] == 2  # the overlap of two instances is no instance's


@pytest.mark.parametrize("quality", [95, 75])
def test_instances_jpeg_masks_keep_their_objects_outline(tmp_path, quality):
    """JPEG masks read as non-zero grew a halo of compression noise around every instance (a 120x140 ellipse at
    quality 75: 897 pixels more, 7%), overlapping its neighbours in the instance map."""
    write_image(tmp_path / "dsb" / "s1" / "images" / "s1.png", 64, 48)
    yy, xx = np.mgrid[:48, :64]
    disks = [(yy - 20) ** 2 + (xx - 18) ** 2 < 12 ** 2, (yy - 26) ** 2 + (xx - 44) ** 2 < 14 ** 2]
    (tmp_path / "dsb" / "s1" / "masks").mkdir(parents=True)
    for k, disk in enumerate(disks):
        Image.fromarray(disk.astype(np.uint8) * 255).save(tmp_path / "dsb" / "s1" / "masks" / f"m{k}.jpg",
                                                          quality=quality)
    noisy = np.asarray(Image.open(tmp_path / "dsb" / "s1" / "masks" / "m0.jpg"))
    assert ((noisy > 0) & ~disks[0]).any()  # the halo the test is about
    report = _import("instances", tmp_path / "dsb", tmp_path / "out", instances=True)
    assert report.ok
    expected = np.zeros((48, 64), np.int64)
    expected[disks[0]], expected[disks[1]] = 1, 2
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "instances" / "s1.png"), expected)
    np.testing.assert_array_equal(_labels(tmp_path / "out", "s1"), expected > 0)


def test_instances_class_per_subfolder(tmp_path):
    _dsb(tmp_path / "dsb", with_classes=True)
    _import("instances", tmp_path / "dsb", tmp_path / "out")
    assert load_palette(tmp_path / "out" / "palette.json").names == ["background", "a", "b"]
    sem = _labels(tmp_path / "out", "s2")
    assert sem[2, 2] == 1 and sem[6, 8] == 2 and sem[11, 1] == 2 and sem[0, 15] == 0


def test_instances_samples_without_a_mask_file_are_said(tmp_path):
    """DSB 2018 with a sample's masks lost (an empty masks/ folder): an all-background label map, counted as
    written, nothing said."""
    _dsb(tmp_path / "dsb")
    for f in (tmp_path / "dsb" / "s2" / "masks").iterdir():
        f.unlink()
    report = _import("instances", tmp_path / "dsb", tmp_path / "out")
    assert report.converted == 2
    assert "1 sample(s) have no mask file (e.g. s2): written as all background" in " ".join(report.notes)
    report = _import("instances", tmp_path / "dsb", tmp_path / "skip", skip_empty=True)
    assert [r.id for r in read_manifest(tmp_path / "skip" / "manifest.csv").rows] == ["s1"]


def test_instances_mask_size_mismatch_names_the_mask(tmp_path):
    _dsb(tmp_path / "dsb")
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "dsb" / "s2" / "masks" / "m1.png")
    report = _import("instances", tmp_path / "dsb", tmp_path / "out")
    assert report.failed == 1 and report.errors[0].startswith(str(tmp_path / "dsb" / "s2" / "masks" / "m1.png"))
    assert "mask is 5x5 but its image is 16x12" in report.errors[0]


# --------------------------------------------------------------------------- CVAT




@needs_coco
def test_cvat_project_export_keeps_each_subset(tmp_path):
    """datumaro's CVAT export_project: img0.jpg in each of Test, Train and Validation, images/<subset>/; refused as
    'listed twice' (exit 2) with the subset attribute unread."""
    src = tmp_path / "project"
    one = CVAT_XML.replace("{rle}", "2,3,2,5").split("<image ", 1)[1].split("</image>")[0]
    images = "".join(f'<image subset="{subset}" {one}</image>\n' for subset in ("Train", "Validation"))
    head = CVAT_XML.split("<image ", 1)[0].replace("<task>", "<project>").replace("</task>", "</project>")
    (src / "annotations.xml").parent.mkdir(parents=True)
    (src / "annotations.xml").write_text(head + images + "</annotations>\n")
    for subset, seed in (("Train", 1), ("Validation", 2)):
        write_image(src / "images" / subset / "f0.png", 20, 16, seed)
    report = _import("cvat", src, tmp_path / "out")
    assert report.ok and report.converted == 2
    rows = read_manifest(report.manifest_path).rows
    assert [(r.id, r.extra["split"], r.image) for r in rows] == [
        ("Train/f0", "Train", (src / "images" / "Train" / "f0.png").resolve()),
        ("Validation/f0", "Validation", (src / "images" / "Validation" / "f0.png").resolve())]
    np.testing.assert_array_equal(_labels(tmp_path / "out", "Train/f0"), _labels(tmp_path / "out", "Validation/f0"))


@needs_coco
def test_cvat_xml_boxes_polygons_masks_by_z_order(tmp_path):
    src = tmp_path / "cvat"
    write_image(src / "images" / "f0.png", 20, 16)
    # A 4x3 mask box, row-major: background 2, foreground 3, background 2, foreground 5 = 12 pixels.
    (src / "annotations.xml").write_text(CVAT_XML.replace("{rle}", "2,3,2,5"))
    report = _import("cvat", src, tmp_path / "out")
    assert report.ok and any("1 polyline" in n for n in report.notes)
    # An image-level tag label (kgcraig's urban CVAT task: Daytime_Clear ...) is no class: road keeps index 2.
    assert any("labels of type tag label images, not pixels, and get no index: Daytime_Clear" in n for n in report.notes)
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.name, c.color) for c in palette.classes if not c.ignore] == [
        ("background", (0, 0, 0)), ("car", (0xfa, 0x32, 0x53)), ("road", (0x3d, 0x3d, 0xf5))]
    expected = np.zeros((16, 20), np.int64)
    expected[6:16, 0:20] = 2  # road, z 0
    expected[2:8, 2:10] = 1  # car box over it (z 1), as pycocotools fills integer corners
    box = np.array([[0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1]], bool)
    expected[10:13, 12:16][box] = 1
    np.testing.assert_array_equal(_labels(tmp_path / "out", "f0"), expected)


@needs_coco
def test_cvat_xml_errors(tmp_path):
    src = tmp_path / "cvat"
    write_image(src / "images" / "f0.png", 20, 16)
    (src / "annotations.xml").write_text(CVAT_XML.replace("{rle}", "2,3,2,5").replace('<polygon label="road"', '<polygon label="tree"'))
    with pytest.raises(DataprepError, match=r"image #0 \(f0.png\) <polygon> #1: label 'tree' is not in"):
        _import("cvat", src, tmp_path / "out")
    (src / "annotations.xml").write_text(CVAT_XML.replace("{rle}", "2,3,2,6"))
    report = _import("cvat", src, tmp_path / "out")
    assert "image #0 (f0.png) <mask> #2: RLE runs cover 13 pixels, not 3x4" in report.errors[0]
    (src / "annotations.xml").write_text("<annotations><meta></meta>")
    with pytest.raises(DataprepError, match="not valid XML"):
        _import("cvat", src, tmp_path / "out")


@needs_coco
@pytest.mark.parametrize("attributes, message", [
    # A traceback (ValueError from float()) before, for any of these.
    ("points='1,2;3,4;5,6' z_order='front'", "<polygon> #0: <polygon> attribute 'z_order' is not a number: 'front'"),
    ("points='1,2;3,4;5,6' z_order='nan'", "<polygon> #0: <polygon> attribute 'z_order' is not a number: nan"),
    # A half pair was read as one more number: 7 coordinates, not a malformed points attribute.
    ("points='1,2;3,4;5,6,7'", "<polygon> #0: <polygon> points must be 'x,y;x,y;...', not '1,2;3,4;5,6,7'"),
    ("points='1,2;3'", "<polygon> #0: <polygon> points must be 'x,y;x,y;...'"),
])
def test_cvat_xml_malformed_shape_attributes_are_one_line_errors(tmp_path, attributes, message):
    src = tmp_path / "cvat"
    write_image(src / "images" / "f0.png", 20, 16)
    (src / "annotations.xml").write_text(
        "<annotations><version>1.1</version><meta><task><labels><label><name>car</name></label></labels></task>"
        f"</meta><image id='0' name='f0.png' width='20' height='16'><polygon label='car' {attributes}/></image>"
        "</annotations>")
    with pytest.raises(DataprepError, match=re.escape(message)):
        _import("cvat", src, tmp_path / "out")
    box = "<box label='car' xtl='1' ytl='1' xbr='8' ybr='8' rotation='left'/>"
    (src / "annotations.xml").write_text((src / "annotations.xml").read_text().replace(
        f"<polygon label='car' {attributes}/>", box))
    with pytest.raises(DataprepError, match="<box> attribute 'rotation' is not a number: 'left'"):
        _import("cvat", src, tmp_path / "out")


@needs_coco
def test_cvat_polygon_of_two_points_is_counted_not_dropped_unsaid(tmp_path):
    src = tmp_path / "cvat"
    write_image(src / "images" / "f0.png", 20, 16)
    (src / "annotations.xml").write_text(
        "<annotations><version>1.1</version><meta><task><labels><label><name>car</name></label></labels></task>"
        "</meta><image id='0' name='f0.png' width='20' height='16'><polygon label='car' points='1,2;9,9'/>"
        "</image></annotations>")
    report = _import("cvat", src, tmp_path / "out")
    assert report.ok and not _labels(tmp_path / "out", "f0").any()
    assert any("1 polygon of fewer than 3 points" in n for n in report.notes)


def _cvat_masks(root: Path, labelmap: str, mask: np.ndarray) -> None:
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "labelmap.txt").write_text(labelmap)
    Image.fromarray(mask).save(root / "SegmentationClass" / "f0.png")
    write_image(root / "JPEGImages" / "f0.jpg", mask.shape[1], mask.shape[0], fmt="JPEG")


def test_cvat_segmentation_masks_use_labelmap_colours(tmp_path):
    mask = np.zeros((6, 8, 3), np.uint8)
    mask[:, 4:] = (250, 50, 83)
    mask[4:, :2] = (61, 61, 245)
    # The label map lists road before car: indices follow it, whatever order the colours appear in.
    _cvat_masks(tmp_path / "seg", "# label:color_rgb:parts:actions\nbackground:0,0,0::\nroad:61,61,245::\n"
                                  "car:250,50,83::\n", mask)
    report = _import("cvat-mask", tmp_path / "seg", tmp_path / "out")
    assert report.ok
    expected = np.zeros((6, 8), np.int64)
    expected[:, 4:] = 2
    expected[4:, :2] = 1
    np.testing.assert_array_equal(_labels(tmp_path / "out", "f0"), expected)
    assert load_palette(tmp_path / "out" / "palette.json").names == ["background", "road", "car"]


def test_instance_maps_of_formats_without_instances_are_said_to_be_empty(tmp_path):
    """cvat-mask --instances wrote all-zero instance maps and announced them, without a word that they are empty."""
    mask = np.zeros((6, 8, 3), np.uint8)
    mask[:, 4:] = (250, 50, 83)
    _cvat_masks(tmp_path / "seg", "background:0,0,0::\ncar:250,50,83::\n", mask)
    report = _import("cvat-mask", tmp_path / "seg", tmp_path / "out", instances=True)
    assert report.ok and not read_mask(tmp_path / "out" / "instances" / "f0.png").any()
    assert ("--instances: cvat-mask imports read no instances (SegmentationObject/ is not read): every map in "
            "instances/ is 0") in report.notes
    assert not any("--instances" in n for n in _import("cvat-mask", tmp_path / "seg", tmp_path / "out2").notes)


def test_cvat_mask_void_entries_are_the_ignore_index(tmp_path):
    """datumaro's VOC label map ends with `ignored:224,224,192`: its boundary bands became a 22nd class."""
    mask = np.zeros((6, 8, 3), np.uint8)
    mask[:, 4:] = (128, 0, 0)
    mask[:, 3:5] = (224, 224, 192)  # the band between background and the aeroplane
    _cvat_masks(tmp_path / "seg", "background:0,0,0::\naeroplane:128,0,0::\nignored:224,224,192::\n", mask)
    report = _import("cvat-mask", tmp_path / "seg", tmp_path / "out")
    assert report.ok and load_palette(tmp_path / "out" / "palette.json").names == ["background", "aeroplane"]
    expected = np.zeros((6, 8), np.int64)
    expected[:, 5:] = 1
    expected[:, 3:5] = 255
    np.testing.assert_array_equal(_labels(tmp_path / "out", "f0"), expected)
    assert any("'ignored' (224, 224, 192) are void" in n for n in report.notes)


def test_cvat_segmentation_unknown_colour(tmp_path):
    mask = np.zeros((6, 8, 3), np.uint8)
    mask[0, 0] = (1, 2, 3)
    _cvat_masks(tmp_path / "seg", "background:0,0,0::\ncar:250,50,83::\n", mask)
    report = _import("cvat-mask", tmp_path / "seg", tmp_path / "out")
    assert report.failed == 1 and "1 colour(s) not in labelmap.txt: (1,2,3)" in report.errors[0]
    assert report.errors[0].startswith(str(tmp_path / "seg" / "SegmentationClass" / "f0.png"))


# --------------------------------------------------------------------------- COCO panoptic


def test_an_import_mostly_unlabelled_is_warned_about_without_mask_advice(tmp_path):
    """60% of a panoptic export unlabelled: the warning advised --remap 255:1 for binary 0/255 masks, which an
    import never reads; it names what the export left without a class."""
    write_image(tmp_path / "images" / "p.png", 10, 10)
    ids = np.zeros((10, 10), np.int64)
    ids[:4] = 5  # sky; the other 60 pixels unlabelled
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=2).astype(np.uint8)
    (tmp_path / "panoptic").mkdir()
    Image.fromarray(rgb).save(tmp_path / "panoptic" / "p.png")
    data = {"images": [{"id": 9, "file_name": "p.png", "width": 10, "height": 10}],
            "categories": [{"id": 187, "name": "sky", "isthing": 0}, {"id": 1, "name": "person", "isthing": 1}],
            "annotations": [{"image_id": 9, "file_name": "p.png", "segments_info": [
                {"id": 5, "category_id": 187, "iscrowd": 0}]}]}
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    report = _import("coco-panoptic", tmp_path / "panoptic.json", tmp_path / "out", images_dir=tmp_path / "images")
    warning = next(w for w in report.warnings if "became the ignore index" in w)
    assert warning.startswith("60.0% of the pixels became the ignore index 255")
    assert "the export labels with no class (COCO crowd regions are ignore unless --keep-crowd)" in warning
    assert "--remap" not in warning


def test_mapillary_panoptic_pngs_beside_the_json_and_images_three_levels_up_are_found(tmp_path):
    """Mapillary Vistas: val/v2.0/panoptic/panoptic_2020.json beside 0.png, photos in val/images/; the command
    scan's hint gives failed with 'panoptic_2020/0.png: file not found'."""
    panoptic = tmp_path / "val/v2.0/panoptic"
    write_image(tmp_path / "val/images/0.jpg", 6, 4)
    ids = np.zeros((4, 6), np.int64)
    ids[:, :2] = 7
    panoptic.mkdir(parents=True)
    Image.fromarray(np.stack([ids % 256, ids // 256, ids * 0], axis=2).astype(np.uint8)).save(panoptic / "0.png")
    data = {"images": [{"id": 0, "file_name": "0.jpg", "width": 6, "height": 4}],
            "categories": [{"id": 3, "name": "road", "isthing": 0}],
            "annotations": [{"image_id": 0, "file_name": "0.png", "segments_info": [
                {"id": 7, "category_id": 3, "iscrowd": 0}]}]}
    (panoptic / "panoptic_2020.json").write_text(json.dumps(data))
    report = _import("coco-panoptic", panoptic / "panoptic_2020.json", tmp_path / "out")
    assert (report.converted, report.failed) == (1, 0), report.errors
    expected = np.full((4, 6), 255)
    expected[:, :2] = 0
    np.testing.assert_array_equal(_labels(tmp_path / "out", "0"), expected)
    assert read_manifest(tmp_path / "out/manifest.csv").rows[0].image == tmp_path / "val/images/0.jpg"


def test_coco_panoptic_segments_void_and_crowd(tmp_path):
    write_image(tmp_path / "images" / "p.png", 8, 6)
    ids = np.zeros((6, 8), np.int64)
    ids[:, :3] = 5  # sky (stuff)
    ids[2:5, 4:7] = 300  # person, id 300 = (44, 1, 0)
    ids[0, 7] = 70000  # crowd person: id 70000 = (112, 17, 1)
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=2).astype(np.uint8)
    (tmp_path / "panoptic").mkdir()
    Image.fromarray(rgb).save(tmp_path / "panoptic" / "p.png")
    data = {"images": [{"id": 9, "file_name": "p.png", "width": 8, "height": 6}],
            "categories": [{"id": 187, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
                           {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]}],
            "annotations": [{"image_id": 9, "file_name": "p.png", "segments_info": [
                {"id": 5, "category_id": 187, "iscrowd": 0}, {"id": 300, "category_id": 1, "iscrowd": 0},
                {"id": 70000, "category_id": 1, "iscrowd": 1}]}]}
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    _import("coco-panoptic", tmp_path / "panoptic.json", tmp_path / "out", images_dir=tmp_path / "images")
    expected = np.full((6, 8), 255, np.int64)  # unlabelled (id 0) -> ignore
    expected[:, :3] = 1
    expected[2:5, 4:7] = 0
    np.testing.assert_array_equal(_labels(tmp_path / "out", "p"), expected)
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert [(c.name, c.index, c.id, c.color) for c in palette.classes if not c.ignore] == [
        ("person", 0, 1, (220, 20, 60)), ("sky", 1, 187, (70, 130, 180))]
    # A segment id in the PNG that segments_info does not list fails that image, naming the PNG.
    data["annotations"][0]["segments_info"].pop(1)
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    report = _import("coco-panoptic", tmp_path / "panoptic.json", tmp_path / "out2", images_dir=tmp_path / "images")
    assert report.failed == 1
    assert report.errors[0] == f"{tmp_path / 'panoptic' / 'p.png'}: 1 segment id(s) not in segments_info: 300"
    data["annotations"][0]["segments_info"][0]["category_id"] = 5
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    with pytest.raises(DataprepError, match=r"annotations\[0\]\.segments_info\[0\]: category_id 5 is not in"):
        _import("coco-panoptic", tmp_path / "panoptic.json", tmp_path / "out3", images_dir=tmp_path / "images")


def test_coco_panoptic_instance_maps_number_the_segments(tmp_path):
    """--instances wrote all-zero instance maps for panoptic PNGs, whose segments are the instances (panopticapi's
    sample 000000439180: 32 segments, a map of 0 only), and said 'instance maps: DEST/instances'."""
    write_image(tmp_path / "images" / "p.png", 8, 6)
    ids = np.zeros((6, 8), np.int64)
    ids[:, :3] = 5  # sky (stuff)
    ids[2:5, 4:6] = 300  # person
    ids[2:5, 6:8] = 301  # another person, touching the first
    ids[0, 7] = 70000  # crowd
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=2).astype(np.uint8)
    (tmp_path / "panoptic").mkdir()
    Image.fromarray(rgb).save(tmp_path / "panoptic" / "p.png")
    segments = [{"id": 301, "category_id": 1}, {"id": 42, "category_id": 1}, {"id": 5, "category_id": 187},
                {"id": 70000, "category_id": 1, "iscrowd": 1}, {"id": 300, "category_id": 1}]  # 42: no pixel
    data = {"images": [{"id": 9, "file_name": "p.png", "width": 8, "height": 6}],
            "categories": [{"id": 187, "name": "sky"}, {"id": 1, "name": "person"}],
            "annotations": [{"image_id": 9, "file_name": "p.png", "segments_info": segments}]}
    (tmp_path / "panoptic.json").write_text(json.dumps(data))
    report = _import("coco-panoptic", tmp_path / "panoptic.json", tmp_path / "out", images_dir=tmp_path / "images",
                     instances=True)
    assert report.ok
    # Each segment is numbered by its place in segments_info, as each COCO annotation by its place.
    expected = np.zeros((6, 8), np.int64)
    for number, seg in enumerate(segments, 1):
        expected[ids == seg["id"]] = number
    got = read_mask(tmp_path / "out" / "instances" / "p.png")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, expected)
    labels = np.full((6, 8), 255, np.int64)
    labels[:, :3], labels[2:5, 4:8] = 1, 0
    np.testing.assert_array_equal(_labels(tmp_path / "out", "p"), labels)


# --------------------------------------------------------------------------- many classes, CLI


@needs_coco
def test_more_than_255_classes_write_16bit_maps(tmp_path):
    write_image(tmp_path / "img.png", 10, 10)
    cats = [{"id": i + 1, "name": f"c{i}"} for i in range(300)]
    data = {"images": [{"id": 1, "file_name": "img.png", "width": 10, "height": 10}], "categories": cats,
            "annotations": [{"id": 1, "image_id": 1, "category_id": 300, "segmentation": [[0, 0, 5, 0, 5, 5, 0, 5]]}]}
    (tmp_path / "many.json").write_text(json.dumps(data))
    _import("coco", tmp_path / "many.json", tmp_path / "out")
    labels = _labels(tmp_path / "out", "img")
    assert labels.dtype == np.uint16 and labels[1, 1] == 300 and labels[9, 9] == 0
    assert load_palette(tmp_path / "out" / "palette.json").ignore_index == 65535


@needs_coco
def test_cli_import_coco(tmp_path, cli):
    export = coco_export(tmp_path / "coco")
    result = cli("import", "coco", export["json"], tmp_path / "out", "-j", "1", "-q")
    assert result.exit_code == 0, result.output
    assert "import coco: 3 images written, 0 empty skipped, 0 failed" in result.output
    assert (tmp_path / "out" / "manifest.csv").is_file()
    (export["images"] / "a.png").unlink()
    result = cli("import", "coco", export["json"], tmp_path / "out2", "-j", "1", "-q")
    assert result.exit_code == 1
    assert f"error: {export['images'] / 'a.png'}: file not found; listed in {export['json']} (image id 1)" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = cli("import", "coco", bad, tmp_path / "out3")
    assert result.exit_code == 1 and result.output.startswith(f"error: {bad}: not valid JSON")
    assert "Traceback" not in result.output


@needs_coco
def test_coco_instance_maps_number_annotations(tmp_path):
    path = _squares_coco(tmp_path)
    _import("coco", path, tmp_path / "out", instances=True)
    inst = read_mask(tmp_path / "out" / "instances" / "img.png")
    expected = np.zeros((20, 20), np.int64)
    expected[_square(10, 18)] = 1
    expected[_square(2, 14)] = 2  # listed second, drawn over the first
    np.testing.assert_array_equal(inst, expected)


def test_output_inside_the_source_is_refused_before_anything_is_written(tmp_path):
    src = tmp_path / "lm"
    labelme_file(src, "a", [shape("cat", [[0, 0], [5, 0], [5, 5]])], 12, 10, embed=True)
    with pytest.raises(UsageError, match="output folder is inside"):
        _import("labelme", src, src / "out")
    assert not (src / "out").exists()
    with pytest.raises(UsageError, match="ignore index 1 is the index of class 'cat'"):
        _import("labelme", src, tmp_path / "out", ignore_index=1)


@pytest.mark.parametrize("fmt, name", [("cvat", "annotations.xml"), ("yolo", "data.yaml"),
                                       ("cvat-mask", "labelmap.txt"), ("labelme", "labels.txt")])
def test_empty_shared_files_are_one_line_errors(tmp_path, fmt, name):
    src = tmp_path / "export"
    if fmt == "labelme":
        labelme_file(src, "a", [], 12, 10)
    if fmt == "cvat-mask":
        (src / "SegmentationClass").mkdir(parents=True)
    src.mkdir(exist_ok=True)
    (src / name).write_text("" if fmt != "yolo" else "\n")
    with pytest.raises(DataprepError) as err:
        _import(fmt, src, tmp_path / "out")
    assert str(err.value).startswith(str(src / name)) and "empty file" in str(err.value)
    assert not (tmp_path / "out" / "manifest.csv").exists()


@pytest.mark.parametrize("overlap", ["last", "ignore"])
def test_segment_painter_matches_pixel_painting(overlap):
    """Random overlapping regions: painting run segments equals painting boolean masks pixel by pixel."""
    from dataprep.importers.base import IGNORE
    from dataprep.importers.paint import Drawn, paint
    from dataprep.importers.raster import mask_runs

    rng = np.random.default_rng(7)
    for trial in range(30):
        h, w = int(rng.integers(1, 25)), int(rng.integers(1, 25))
        masks = [rng.random((h, w)) < rng.uniform(0.05, 0.6) for _ in range(int(rng.integers(0, 6)))]
        labels = [int(rng.choice([IGNORE, 0, 1, 2, 3])) for _ in masks]
        drawn = [Drawn(label, *mask_runs(m), 0, i, i + 1) for i, (label, m) in enumerate(zip(labels, masks))]
        got, inst = paint(drawn, h, w, ignore_index=255, num_classes=4, overlap=overlap, instances=True)
        ref = np.full((h, w), -1)
        ref_inst = np.zeros((h, w), np.int64)
        contested = np.zeros((h, w), bool)
        inst_contested = np.zeros((h, w), bool)
        for i, (label, m) in enumerate(zip(labels, masks)):
            value = 255 if label == IGNORE else label
            contested |= m & (ref != -1) & (ref != value)
            inst_contested |= m & (ref_inst != 0)
            ref[m] = value
            ref_inst[m] = i + 1
        ref[ref == -1] = 0
        if overlap == "ignore":
            ref[contested] = 255
            ref_inst[inst_contested] = 0
        np.testing.assert_array_equal(got, ref, err_msg=f"trial {trial}")
        np.testing.assert_array_equal(inst, ref_inst, err_msg=f"trial {trial}")


def test_cvat_mask_rle_boxes_land_where_a_full_image_bitmap_puts_them():
    """CVAT's <mask> RLE inside its box, against a bitmap of the whole image built with numpy (runs ending at a
    box column's bottom, boxes at every edge)."""
    from dataprep.importers.raster import _cvat_rle, mask_runs

    rng = np.random.default_rng(3)
    for _ in range(50):
        height, width = rng.integers(1, 30, 2)
        h, w = rng.integers(1, height + 1), rng.integers(1, width + 1)
        top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
        box = rng.random((h, w)) < rng.random()
        flat = box.ravel()  # row-major, as CVAT writes it
        change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
        bounds = np.r_[0, change, flat.size]
        counts = np.diff(bounds).tolist()
        if flat[0]:
            counts = [0, *counts]
        expected = np.zeros((height, width), bool)
        expected[top:top + h, left:left + w] = box
        got = _cvat_rle((int(left), int(top), int(w), int(h), counts), int(height), int(width))
        want = mask_runs(expected)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_pil_shapes_drawn_on_their_box_equal_a_full_canvas_drawing():
    """The PIL rasterizers draw on the shape's own box (shifted by whole pixels), not the image: same pixels."""
    from PIL import ImageDraw

    from dataprep.importers.raster import RASTERIZERS, mask_runs

    rng = np.random.default_rng(0)
    h, w = 97, 131

    def full_canvas(kind: str, pts: list, extra) -> np.ndarray:
        canvas = Image.new("L", (w, h), 0)
        draw = ImageDraw.Draw(canvas)
        if kind == "pil_polygon":
            draw.polygon(pts, outline=1, fill=1)
        elif kind == "pil_rectangle":
            (x1, y1), (x2, y2) = pts
            draw.rectangle([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], outline=1, fill=1)
        elif kind == "pil_circle":
            d = float(np.hypot(pts[0][0] - pts[1][0], pts[0][1] - pts[1][1]))
            draw.ellipse([pts[0][0] - d, pts[0][1] - d, pts[0][0] + d, pts[0][1] + d], outline=1, fill=1)
        elif kind == "pil_line":
            draw.line(pts, fill=1, width=extra)
        else:
            (cx, cy), (rx, ry) = pts[0], extra
            draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], outline=1, fill=1)
        return np.asarray(canvas)

    kinds = ["pil_polygon", "pil_rectangle", "pil_circle", "pil_line", "pil_ellipse"]
    for n in range(1000):
        kind = kinds[n % 5]
        count = {"pil_polygon": int(rng.integers(3, 9)), "pil_line": int(rng.integers(2, 5)), "pil_ellipse": 1}
        pts = [(float(x), float(y)) for x, y in rng.uniform(-30, 160, (count.get(kind, 2), 2))]
        if n % 2:
            pts = [(float(round(x)), float(round(y))) for x, y in pts]
        extra = {"pil_line": int(rng.integers(1, 15)),
                 "pil_ellipse": (float(rng.uniform(0, 40)), float(rng.uniform(0, 40)))}.get(kind)
        starts, ends = RASTERIZERS[kind]((pts, extra), h, w)
        want_starts, want_ends = mask_runs(full_canvas(kind, pts, extra))
        assert np.array_equal(starts, want_starts) and np.array_equal(ends, want_ends), (kind, pts, extra)


@needs_coco
def test_one_image_under_two_names_in_one_export_is_refused(tmp_path):
    """An absolute name and a deep '../' name of one file got two ids: the same image twice, in two folds."""
    export = coco_export(tmp_path / "coco")
    a = (export["images"] / "a.png").resolve()
    _rewrite(export["json"], lambda d: (d["images"][0].update(file_name=str(a)),
                                        d["images"][1].update(file_name=os.path.relpath(a, export["images"]).replace(
                                            "a.png", "../images/a.png"), width=640, height=480)))
    with pytest.raises(UsageError, match=r"a.png: image is listed twice in .*, as "):
        _import("coco", export["json"], tmp_path / "out")


@pytest.mark.parametrize("ids, expected", [
    (["C:\\shots\\day\\a", "C:\\shots\\night\\b"], ["day/a", "night/b"]),  # a Windows tool's absolute names
    (["../../a", "x/../../b", "x/./c"], ["a", "b", "x/c"]),
    (["sub/a", "b"], ["sub/a", "b"]),  # nothing to change: no note
])
def test_contained_ids_stay_below_the_labels_folder(ids, expected):
    from dataprep.importers.base import Entry
    from dataprep.importers.run import contained_ids

    entries, note = contained_ids([Entry(i, Path(f"{n}.png"), Path("export.json"), ()) for n, i in enumerate(ids)])
    assert [e.id for e in entries] == expected
    assert (note is None) == (ids == expected)


def test_an_import_of_other_classes_into_the_folder_being_written_is_refused(tmp_path, monkeypatch):
    """Two imports of one export with two class lists, started together into one folder: both exited 0, the
    label maps of one numbered as the other's palette.json says they are not."""
    from dataprep.importers import run

    src = tmp_path / "lm"
    for i in range(3):
        labelme_file(src, f"img{i}", [shape("road", [[1, 1], [8, 1], [8, 5], [1, 5]]),
                                      shape("car", [[10.0, 2.0], [14.0, 6.0]], "rectangle")], 30, 24, seed=i)
    (src / "labels.txt").write_text("__ignore__\n_background_\ncar\nroad\n")
    swapped = tmp_path / "swapped.txt"
    swapped.write_text("__ignore__\n_background_\nroad\ncar\n")
    alone = _import("labelme", src, tmp_path / "alone")
    out = tmp_path / "out"
    outcome = run_beside_first_call(monkeypatch, run, "write_mask",
                                    lambda: _import("labelme", src, out, labels_file=swapped))
    report = _import("labelme", src, out)
    monkeypatch.undo()
    assert outcome[1] == (f"{out}: is being written by another `dataprep import` run with other settings; "
                          "wait for it to end, or choose another folder")
    assert report.ok and report.converted == 3
    for name in ("img0", "img1", "img2"):
        assert np.array_equal(_labels(out, name), _labels(tmp_path / "alone", name)), name
    assert (out / "palette.json").read_bytes() == (tmp_path / "alone" / "palette.json").read_bytes()
    assert alone.ok and not [p.name for p in out.iterdir() if p.name.endswith(".lock")]

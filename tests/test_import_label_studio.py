"""dataprep import label-studio: JSON and JSON-MIN exports against an independent drawing, brush RLE, task rules."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dataprep.importers import import_annotations
from dataprep.importers.ls_rle import brush_mask, decode_brush_rle, encode_brush_rle
from dataprep.io import read_mask
from dataprep.manifest import read_manifest

from import_exports import write_image

W, H = 50, 40


def _import(src: Path, out: Path, **kw):
    return import_annotations("label-studio", src, out, quiet=True, **kw)


def _reference_decode(rle: list[int]) -> np.ndarray:
    """rle-pack read bit by bit from a string of '0'/'1', as label-studio-converter's brush.decode_rle does."""
    bits = "".join(format(b, "08b") for b in rle)
    pos = 0

    def read(n: int) -> int:
        nonlocal pos
        pos += n
        return int(bits[pos - n:pos], 2)

    total, word = read(32), read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(total, np.uint8)
    i = 0
    while i < total:
        repeat = read(1)
        j = i + 1 + read(sizes[read(2)])
        if repeat:
            out[i:j] = read(word)
            i = j
        else:
            while i < j:
                out[i] = read(word)
                i += 1
    return out


def test_brush_rle_decoder_matches_the_bitwise_reference():
    # Hand-packed: 6 values, 8-bit words, field sizes 1/2/3/4; a repeat of 4 x 255, then literals 7, 9.
    stream = "".join([format(6, "032b"), "00111", "0000", "0001", "0010", "0011",
                      "1" + "10" + "011" + format(255, "08b"), "0" + "00" + "1" + format(7, "08b") + format(9, "08b")])
    stream += "0" * (-len(stream) % 8)
    packed = [int(stream[k:k + 8], 2) for k in range(0, len(stream), 8)]
    assert decode_brush_rle(packed).tolist() == [255, 255, 255, 255, 7, 9] == _reference_decode(packed).tolist()
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = np.repeat(rng.integers(0, 256, 300, dtype=np.uint8), rng.integers(1, 40, 300))
        values[rng.random(len(values)) < 0.3] = 0
        rle = encode_brush_rle(values)
        np.testing.assert_array_equal(decode_brush_rle(rle), _reference_decode(rle))
        np.testing.assert_array_equal(decode_brush_rle(rle), values)
    with pytest.raises(ValueError, match="ends in the middle"):
        decode_brush_rle(packed[:8])


def _brush(alpha: np.ndarray) -> list[int]:
    rgba = np.zeros(alpha.shape + (4,), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = alpha
    return encode_brush_rle(rgba)


def _result(kind: str, value: dict, **extra) -> dict:
    return {"type": kind, "value": value, "original_width": W, "original_height": H, "image_rotation": 0,
            "from_name": "label", "to_name": "image", **extra}


def _task(image: str, *results: dict, annotations: list | None = None, task_id: int = 1) -> dict:
    anns = annotations if annotations is not None else [{"id": 10, "was_cancelled": False, "result": list(results)}]
    return {"id": task_id, "data": {"image": image}, "annotations": anns, "predictions": []}


def test_shapes_match_an_independent_drawing(tmp_path):
    images = tmp_path / "media"
    write_image(images / "street.png", W, H)
    alpha = np.zeros((H, W), np.uint8)
    alpha[30:36, 5:20] = 255
    alpha[29, 5:20] = 100  # an anti-aliased rim, mostly transparent: not painted
    alpha[36, 5:20] = 200  # mostly opaque: painted
    results = [
        _result("polygonlabels", {"points": [[10, 10], [40, 10], [40, 50]], "polygonlabels": ["road"]}),
        _result("rectanglelabels", {"x": 60, "y": 5, "width": 20, "height": 25, "rotation": 0,
                                    "rectanglelabels": ["car"]}),
        _result("rectanglelabels", {"x": 50, "y": 60, "width": 30, "height": 10, "rotation": 30,
                                    "rectanglelabels": ["car"]}),
        _result("ellipselabels", {"x": 20, "y": 75, "radiusX": 8, "radiusY": 10, "rotation": 0,
                                  "ellipselabels": ["tree"]}),
        _result("brushlabels", {"format": "rle", "rle": _brush(alpha), "brushlabels": ["road"]}),
        _result("keypointlabels", {"x": 1, "y": 1, "keypointlabels": ["car"]}),
        _result("choices", {"choices": ["day"]}),
    ]
    (tmp_path / "export.json").write_text(json.dumps([_task("/data/upload/3/0a1b2c3d-street.png", *results)]))
    report = _import(tmp_path / "export.json", tmp_path / "out", images_dir=images)
    assert report.ok and [c.name for c in report.palette.classes[:4]] == ["background", "car", "road", "tree"]
    assert any("1 keypoint regions left out" in n for n in report.notes)

    canvas = Image.new("L", (W, H), 0)
    draw = ImageDraw.Draw(canvas)
    draw.polygon([(5, 4), (20, 4), (20, 20)], fill=2, outline=2)
    draw.rectangle([30, 2, 40, 12], fill=1, outline=1)
    x, y, w, h, t = 25, 24, 15, 4, math.radians(30)
    draw.polygon([(x + math.cos(t) * dx - math.sin(t) * dy, y + math.sin(t) * dx + math.cos(t) * dy)
                  for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))], fill=1, outline=1)
    draw.ellipse([10 - 4, 30 - 4, 10 + 4, 30 + 4], fill=3, outline=3)
    expected = np.asarray(canvas).copy()
    expected[30:37, 5:20] = 2
    got = read_mask(tmp_path / "out" / "labels" / "street.png")
    np.testing.assert_array_equal(got, expected)
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["street"]


def test_exports_before_1_0_list_completions_and_skipped_annotations_are_no_labels(tmp_path, cli):
    """A pre-1.0 export names its annotations `completions`: every task was read as unlabelled, an empty
    manifest and palette were written, exit 0."""
    images = tmp_path / "images"
    for name in ("a.png", "b.png"):
        write_image(images / name, W, H)
    box = _result("rectanglelabels", {"x": 0, "y": 0, "width": 10, "height": 10, "rectanglelabels": ["cat"]})
    old = [{"id": 1, "data": {"image": "a.png"}, "completions": [{"id": 3, "result": [box]}]},
           {"id": 2, "data": {"image": "b.png"}, "completions": [{"id": 4, "skipped": True, "result": []}]}]
    (tmp_path / "old.json").write_text(json.dumps(old))
    report = _import(tmp_path / "old.json", tmp_path / "out", images_dir=images)
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["a"]
    assert (read_mask(tmp_path / "out" / "labels" / "a.png") == 1).sum() == 6 * 5  # edges included
    assert any("1 task(s) have no annotation" in n for n in report.notes)
    (tmp_path / "none.json").write_text(json.dumps(old[1:]))
    res = cli("import", "label-studio", tmp_path / "none.json", tmp_path / "nothing", "--images", images)
    assert res.exit_code == 1 and f"error: {tmp_path / 'none.json'}: nothing to import" in res.output
    assert not (tmp_path / "nothing").exists()


def test_task_rules_and_image_lookup(tmp_path):
    images = tmp_path / "images"
    for name in ("a.png", "b.png", "c.png", "d.png", "sub/e.png"):
        write_image(images / name, W, H)
    box = _result("rectanglelabels", {"x": 0, "y": 0, "width": 10, "height": 10, "rectanglelabels": ["cat"]})
    other = _result("rectanglelabels", {"x": 50, "y": 50, "width": 10, "height": 10, "rectanglelabels": ["dog"]})
    tasks = [
        _task("/data/upload/1/5e2cfa6e-a.png", box),  # upload prefix: found under the bare name
        _task("https://bucket.example.com/imgs/b.png?X-Amz=1", annotations=[], task_id=2),  # not labelled
        _task("s3://bucket/c.png", annotations=[{"was_cancelled": True, "result": [box]},
                                                {"was_cancelled": False, "result": [other]},
                                                {"was_cancelled": False, "result": [box]}], task_id=3),
        _task("d.png", annotations=[{"result": []}], task_id=4),  # labelled, nothing drawn: background
        _task("/data/local-files/?d=sub%2Fe.png", box, task_id=5),
    ]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    report = _import(tmp_path / "export.json", tmp_path / "out", images_dir=images)
    assert report.ok and sorted(r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows) == \
        ["a", "c", "d", "sub/e"]
    assert any("1 task(s) have no annotation" in n for n in report.notes)
    assert any("1 task(s) have several annotations" in n for n in report.notes)
    c = read_mask(tmp_path / "out" / "labels" / "c.png")
    assert (c == 2).sum() == 6 * 5 and not (c == 1).any()  # the first annotation not cancelled: the dog
    assert not read_mask(tmp_path / "out" / "labels" / "d.png").any()


def test_local_files_written_with_windows_separators_are_found(tmp_path):
    """Label Studio on Windows writes /data/local-files/?d=kc01%5Cframe_000000.jpg (label-studio#9190): the image
    was looked for as one file named 'kc01\\frame_000000.jpg' and failed as not found."""
    images = tmp_path / "images"
    write_image(images / "kc01" / "frame_000000.png", W, H)
    box = _result("rectanglelabels", {"x": 0, "y": 0, "width": 10, "height": 10, "rectanglelabels": ["cat"]})
    tasks = [_task("/data/local-files/?d=kc01%5Cframe_000000.png", box)]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    report = _import(tmp_path / "export.json", tmp_path / "out", images_dir=images)
    assert report.ok, report.errors
    assert not any("reach out" in n for n in report.notes)
    row = read_manifest(tmp_path / "out" / "manifest.csv").rows[0]
    assert row.id == "kc01/frame_000000" and row.image.resolve() == (images / "kc01" / "frame_000000.png").resolve()
    assert (read_mask(tmp_path / "out" / "labels" / "kc01" / "frame_000000.png") == 1).sum() == 6 * 5


def test_json_min_brush_listed_twice_is_drawn_once(tmp_path):
    """A JSON-MIN export of a magic-wand + Labels config lists each region under both controls."""
    write_image(tmp_path / "images" / "fire.png", W, H)
    alpha = np.zeros((H, W), np.uint8)
    alpha[5:15, 5:25] = 255
    region = {"format": "rle", "rle": _brush(alpha), "original_width": W, "original_height": H}
    task = {"image": "/data/upload/19/374770ff-fire.png", "id": 91, "magicwand": [region],
            "labels": [{**region, "labels": ["Fire"]}], "annotator": 1, "lead_time": 44.8}
    (tmp_path / "min.json").write_text(json.dumps([task]))
    report = _import(tmp_path / "min.json", tmp_path / "out")
    assert report.ok and [c.name for c in report.palette.classes[:2]] == ["background", "Fire"]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "fire.png"), alpha // 255)
    np.testing.assert_array_equal(brush_mask(region["rle"], H, W), alpha > 0)


def test_full_json_tool_without_labels_takes_the_labels_result_of_its_id(tmp_path):
    write_image(tmp_path / "images" / "x.png", W, H)
    alpha = np.zeros((H, W), np.uint8)
    alpha[:4, :4] = 255
    value = {"format": "rle", "rle": _brush(alpha)}
    results = [_result("magicwand", value, id="r1"), _result("labels", {**value, "labels": ["smoke"]}, id="r1")]
    (tmp_path / "e.json").write_text(json.dumps([_task("x.png", *results)]))
    report = _import(tmp_path / "e.json", tmp_path / "out")
    assert report.ok and (read_mask(tmp_path / "out" / "labels" / "x.png") == 1).sum() == 16


def test_errors_name_task_and_region(tmp_path, cli):
    images = tmp_path / "images"
    write_image(images / "ok.png", W, H)
    write_image(images / "small.png", W // 2, H // 2)
    write_image(images / "two.png", W, H)
    box = {"x": 0, "y": 0, "width": 10, "height": 10}
    tasks = [_task("ok.png", _result("rectanglelabels", {**box, "rectanglelabels": ["Cat"]}), task_id=1),
             _task("small.png", _result("rectanglelabels", {**box, "rectanglelabels": ["cat"]}), task_id=2),
             _task("two.png", _result("rectanglelabels", {**box, "rectanglelabels": ["cat", "dog"]}), task_id=3),
             _task("gone.png", _result("rectanglelabels", {**box, "rectanglelabels": ["cat"]}), task_id=4)]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    result = cli("import", "label-studio", tmp_path / "export.json", tmp_path / "out", "--images", images, "--quiet")
    assert result.exit_code != 0 and "1 images written" in result.output
    assert "annotation says 50x40 but image" in result.output and "small.png" in result.output
    assert "task 3 result[0]: a region needs one class label, it has 2 (cat, dog)" in result.output
    assert "gone.png" in result.output
    assert "differ only in case" in result.output and "'Cat' / 'cat'" in result.output

    (tmp_path / "labels.txt").write_text("_background_\ncat\n")
    report = _import(tmp_path / "export.json", tmp_path / "out2", images_dir=images, labels_file=tmp_path / "labels.txt")
    assert any("class 'Cat' is not in" in e for e in report.errors)


@pytest.mark.parametrize("rotation", ["15deg", float("inf"), [15]])
def test_a_rotation_that_is_no_number_fails_its_task_in_one_line(tmp_path, rotation):
    """rotation "15deg" was a ValueError traceback from float(), ending the whole import."""
    images = tmp_path / "images"
    write_image(images / "ok.png", W, H)
    write_image(images / "bad.png", W, H)
    box = {"x": 10, "y": 10, "width": 40, "height": 50, "rectanglelabels": ["cat"]}
    tasks = [_task("ok.png", _result("rectanglelabels", {**box, "rotation": 30}), task_id=1),
             _task("bad.png", _result("rectanglelabels", {**box, "rotation": rotation}, id="r9"), task_id=2)]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    report = _import(tmp_path / "export.json", tmp_path / "out", images_dir=images)
    assert report.errors == [f"{tmp_path / 'export.json'}: task 2 result[0] (id r9): field 'rotation' must be a "
                             f"number of degrees, not {rotation!r}"]
    assert [r.id for r in read_manifest(report.manifest_path)] == ["ok"]


def test_json_min_records_of_one_task_and_its_keypoints(tmp_path):
    """JSON-MIN writes one record per annotation: two annotations of one task were refused as 'image is listed
    twice'; its keypoints ({x, y, width}) were read as rectangles without a label and failed the image."""
    write_image(tmp_path / "images" / "a.png", W, H)
    box = {"x": 10, "y": 10, "width": 20, "height": 25, "rotation": 0, "original_width": W, "original_height": H}
    point = {"x": 50, "y": 50, "width": 0.5, "keypointlabels": ["eye"], "original_width": W, "original_height": H}
    records = [{"image": "/data/upload/1/0a1b2c3d-a.png", "id": 7, "annotation_id": 12, "created_at": "t2",
                "label": [{**box, "rectanglelabels": ["cat"]}], "kp": [point]},
               {"image": "/data/upload/1/0a1b2c3d-a.png", "id": 7, "annotation_id": 11, "created_at": "t1",
                "label": [{**box, "x": 60, "rectanglelabels": ["cat"]}]}]
    (tmp_path / "min.json").write_text(json.dumps(records))
    report = _import(tmp_path / "min.json", tmp_path / "out", images_dir=tmp_path / "images")
    assert report.ok and report.converted == 1
    assert any("1 task(s) have several annotations: the first of each is used" in n for n in report.notes)
    labels = read_mask(tmp_path / "out" / "labels" / "a.png")
    assert labels[12, 32] == 1 and labels[12, 7] == 0  # annotation 11 (x = 60%), as the JSON export lists first


def test_two_uploads_of_one_file_name_keep_their_upload_prefixes(tmp_path):
    """Two images uploaded as photo.png (0a1b2c3d-photo.png, 9f8e7d6c-photo.png) were refused: 'would both be
    written as labels/photo.png', nothing written."""
    box = _result("rectanglelabels", {"x": 0, "y": 0, "width": 10, "height": 10, "rectanglelabels": ["cat"]})
    for prefix in ("0a1b2c3d", "9f8e7d6c"):
        write_image(tmp_path / "media" / f"{prefix}-photo.png", W, H)
    write_image(tmp_path / "media" / "5e2cfa6e-other.png", W, H)
    tasks = [_task(f"/data/upload/1/{p}", box, task_id=n) for n, p in
             enumerate(("0a1b2c3d-photo.png", "9f8e7d6c-photo.png", "5e2cfa6e-other.png"))]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    _import(tmp_path / "export.json", tmp_path / "out", images_dir=tmp_path / "media")
    assert sorted(r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows) == [
        "0a1b2c3d-photo", "9f8e7d6c-photo", "other"]

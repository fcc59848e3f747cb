"""dataprep import via: VIA 1/2/3 exports against an independent PIL drawing, class numbering, attribute rules."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dataprep.errors import DataprepError, UsageError
from dataprep.importers import import_annotations
from dataprep.io import read_mask
from dataprep.manifest import read_manifest

from import_exports import write_image


def _import(src: Path, out: Path, **kw):
    return import_annotations("via", src, out, quiet=True, **kw)


def _region(shape: dict, **attributes) -> dict:
    return {"shape_attributes": shape, "region_attributes": attributes}


def _via2(folder: Path, images: dict[str, tuple[int, int, list[dict]]], name: str = "via_region_data.json",
          regions_as_dict: bool = False) -> Path:
    """A VIA 2 region export (VIA 1 with regions_as_dict) keyed by file name + byte size, images beside it."""
    data = {}
    for n, (file_name, (w, h, regions)) in enumerate(images.items()):
        size = write_image(folder / file_name, w, h, n).stat().st_size
        listed = {str(i): r for i, r in enumerate(regions)} if regions_as_dict else regions
        data[f"{file_name}{size}"] = {"filename": file_name, "size": size, "regions": listed, "file_attributes": {}}
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def _reference(w: int, h: int, shapes: list[tuple[int, str, list]]) -> np.ndarray:
    """What the shapes should give, drawn here with PIL directly (outline included), later over earlier."""
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for label, kind, args in shapes:
        if kind == "polygon":
            draw.polygon(args, fill=label, outline=label)
        elif kind == "box":
            draw.rectangle(args, fill=label, outline=label)
        elif kind == "ellipse":
            draw.ellipse(args, fill=label, outline=label)
    return np.asarray(canvas)


def test_via2_shapes_match_pil_and_classes_are_sorted(tmp_path):
    regions = [
        _region({"name": "polygon", "all_points_x": [2, 20, 20, 2], "all_points_y": [3, 3, 15, 15]}, type="road"),
        _region({"name": "rect", "x": 25, "y": 4, "width": 10, "height": 6}, type="car"),
        _region({"name": "circle", "cx": 10, "cy": 25, "r": 4}, type="car"),
        _region({"name": "ellipse", "cx": 30, "cy": 25, "rx": 6, "ry": 3}, type="bike"),
        _region({"name": "polyline", "all_points_x": [0, 39], "all_points_y": [0, 29]}, type="road"),
        _region({"name": "point", "cx": 1, "cy": 1}, type="car"),
    ]
    _via2(tmp_path / "src", {"a.png": (40, 30, regions)})
    report = _import(tmp_path / "src", tmp_path / "out")
    assert report.ok and [c.name for c in report.palette.classes[:4]] == ["background", "bike", "car", "road"]
    assert any("2 polyline/point regions left out" in n for n in report.notes)
    expected = _reference(40, 30, [(3, "polygon", [(2, 3), (20, 3), (20, 15), (2, 15)]),
                                   (2, "box", [25, 4, 35, 10]), (2, "ellipse", [6, 21, 14, 29]),
                                   (1, "ellipse", [24, 22, 36, 28])])
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "a.png"), expected)
    assert (expected == 3).sum() == 19 * 13  # corners included: 2..20 x 3..15


def test_via_rotated_ellipse_covers_the_rotated_shape(tmp_path):
    theta = math.pi / 2  # a 12 x 4 ellipse turned upright
    region = _region({"name": "ellipse", "cx": 20, "cy": 20, "rx": 12, "ry": 4, "theta": theta})
    _via2(tmp_path / "src", {"e.png": (40, 40, [region])})
    assert _import(tmp_path / "src", tmp_path / "out", class_name="egg").ok
    got = read_mask(tmp_path / "out" / "labels" / "e.png") == 1
    upright = _reference(40, 40, [(1, "ellipse", [16, 8, 24, 32])]) == 1  # 4 x 12 radii, drawn by PIL
    lying = _reference(40, 40, [(1, "ellipse", [8, 16, 32, 24])]) == 1
    assert (got != upright).sum() <= 0.15 * upright.sum() < 0.5 * (got != lying).sum()
    assert got[:, 20].sum() >= 23 and got[20].sum() <= 11


def test_via1_region_dict_and_project_option_order(tmp_path):
    """VIA 1 keeps regions as {"0": ..}; a VIA 2 project's dropdown options fix the class order (not sorted)."""
    src = tmp_path / "src"
    square = {"name": "rect", "x": 1, "y": 1, "width": 4, "height": 4}
    _via2(src / "v1", {"a.png": (10, 10, [_region(square, kind="dog"), _region(square, kind="cat")])},
          regions_as_dict=True)
    report = _import(src / "v1" / "via_region_data.json", tmp_path / "out1")
    assert report.ok and (read_mask(tmp_path / "out1" / "labels" / "a.png") == 1).sum() == 25  # cat, drawn last

    metadata = json.loads((src / "v1" / "via_region_data.json").read_text())
    for record in metadata.values():
        record["regions"] = list(record["regions"].values())
    project = {"_via_settings": {}, "_via_img_metadata": metadata,
               "_via_attributes": {"region": {"kind": {"type": "dropdown", "options": {"dog": "", "cat": ""}}},
                                   "file": {}}}
    (src / "v1" / "project.json").write_text(json.dumps(project))
    report = _import(src / "v1" / "project.json", tmp_path / "out2")
    assert [c.name for c in report.palette.classes[:3]] == ["background", "dog", "cat"]
    assert (read_mask(tmp_path / "out2" / "labels" / "a.png") == 2).sum() == 25


def test_via1_region_keys_that_are_not_all_numbers_keep_the_numbered_order(tmp_path):
    """A regions object keyed "0", "10", "2" and "extra" was a TypeError traceback (int < str while sorting)."""
    src = tmp_path / "src"
    path = _via2(src, {"a.png": (12, 10, [])})
    data = json.loads(path.read_text())

    def rect(x: int, w: int, kind: str) -> dict:
        return _region({"name": "rect", "x": x, "y": 1, "width": w, "height": 4}, kind=kind)

    next(iter(data.values()))["regions"] = {"10": rect(5, 3, "c"), "extra": rect(1, 1, "b"), "2": rect(3, 3, "b"),
                                            "0": rect(1, 8, "a")}
    path.write_text(json.dumps(data))
    report = _import(path, tmp_path / "out")
    assert report.ok, report.errors
    # Drawn 0, 2, 10 (by number: 10 over 2 where they meet), then extra over 0.
    expected = _reference(12, 10, [(1, "box", [1, 1, 9, 5]), (2, "box", [3, 1, 6, 5]), (3, "box", [5, 1, 8, 5]),
                                   (2, "box", [1, 1, 2, 5])])
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "a.png"), expected)


def test_via_filename_that_names_no_file_fails_its_image_alone(tmp_path):
    """filename "" was a ValueError traceback ending the import (the id of an empty name)."""
    square = {"name": "rect", "x": 1, "y": 1, "width": 4, "height": 4}
    path = _via2(tmp_path / "src", {"a.png": (10, 10, [_region(square, kind="a")]), "b.png": (10, 10, [])})
    data = json.loads(path.read_text())
    key = next(k for k in data if k.startswith("b.png"))
    data[key]["filename"] = ""
    path.write_text(json.dumps(data))
    report = _import(path, tmp_path / "out")
    assert report.errors == [f"{path}: {key!r}: filename names no file: ''"]
    assert [r.id for r in read_manifest(report.manifest_path)] == ["a"]


def test_via3_project_shapes_and_option_ids(tmp_path):
    src = tmp_path / "src"
    write_image(src / "x.png", 20, 16, 3)
    project = {
        "project": {"pid": "__VIA_PROJECT_ID__"}, "config": {},
        "attribute": {"1": {"aname": "species", "anchor_id": "FILE1_Z0_XY1", "type": 3,
                            "options": {"0": "oak", "1": "elm"}}},
        "file": {"1": {"fid": "1", "fname": "x.png", "type": 2, "loc": 1, "src": ""}},
        "view": {"1": {"fid_list": ["1"]}},
        "metadata": {
            "1_a": {"vid": "1", "flg": 0, "z": [], "xy": [2, 1, 1, 5, 4], "av": {"1": "1"}},
            "1_b": {"vid": "1", "flg": 0, "z": [], "xy": [7, 10, 2, 18, 2, 18, 12], "av": {"1": "0"}},
            "1_c": {"vid": "1", "flg": 0, "z": [], "xy": [1, 3, 3], "av": {"1": "0"}},
        },
    }
    (src / "via3.json").write_text(json.dumps(project))
    report = _import(src / "via3.json", tmp_path / "out")
    assert report.ok and [c.name for c in report.palette.classes[:3]] == ["background", "oak", "elm"]
    expected = _reference(20, 16, [(2, "box", [1, 1, 6, 5]), (1, "polygon", [(10, 2), (18, 2), (18, 12)])])
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "labels" / "x.png"), expected)
    assert any("1 polyline/point regions" in n for n in report.notes)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(attribute=[{"aname": "species"}]), "field 'attribute' must be an object, not list"),
    (lambda p: p["attribute"]["1"].update(options=["oak", "elm"]),
     "attribute 1: field 'options' must be an object of option ids"),
    (lambda p: p["metadata"].update({"1_a": "oak"}), "metadata 1_a: expected an object with 'vid', 'xy' and an 'av'"),
    (lambda p: p["metadata"]["1_a"].update(av=["1"]), "metadata 1_a: expected an object with 'vid', 'xy' and an 'av'"),
])
def test_via3_malformed_project_fields_are_one_line_errors(tmp_path, edit, message):
    """Each was an AttributeError traceback ('list' object has no attribute 'items')."""
    src = tmp_path / "src"
    write_image(src / "x.png", 20, 16, 3)
    project = {"project": {"pid": "__VIA_PROJECT_ID__"}, "config": {},
               "attribute": {"1": {"aname": "species", "anchor_id": "FILE1_Z0_XY1", "type": 3,
                                   "options": {"0": "oak", "1": "elm"}}},
               "file": {"1": {"fid": "1", "fname": "x.png", "type": 2, "loc": 1, "src": ""}},
               "view": {"1": {"fid_list": ["1"]}},
               "metadata": {"1_a": {"vid": "1", "flg": 0, "z": [], "xy": [2, 1, 1, 5, 4], "av": {"1": "1"}}}}
    edit(project)
    (src / "via3.json").write_text(json.dumps(project))
    with pytest.raises(DataprepError, match=re.escape(f"{src / 'via3.json'}: {message}")):
        _import(src / "via3.json", tmp_path / "out")


def test_via3_extreme_shapes_and_file_level_captions(tmp_path):
    """VIA 3's toolbar draws extreme rectangles (4 edge points) and extreme circles (3 rim points): their images
    failed ("shape id 8 is not drawn"); a file-level caption (xy []) failed its image too, and the caption
    attribute the demo's regions carry asked for --attribute."""
    src = tmp_path / "src"
    write_image(src / "x.png", 60, 40, 3)
    project = {
        "project": {"pid": "__VIA_PROJECT_ID__"}, "config": {},
        "attribute": {"1": {"aname": "Name", "anchor_id": "FILE1_Z0_XY1", "type": 1, "options": {}},
                      "2": {"aname": "Caption", "anchor_id": "FILE1_Z0_XY0", "type": 1, "options": {}}},
        "file": {"1": {"fid": "1", "fname": "x.png", "type": 2, "loc": 1, "src": ""}},
        "view": {"1": {"fid_list": ["1"]}},
        "metadata": {
            "1_a": {"vid": "1", "flg": 0, "z": [], "xy": [8, 5, 9, 12, 3, 18, 10, 11, 16],
                    "av": {"1": "box", "2": "a caption"}},
            "1_b": {"vid": "1", "flg": 0, "z": [], "xy": [9, 38, 20, 30, 12, 22, 20], "av": {"1": "disc"}},
            "1_c": {"vid": "1", "flg": 0, "z": [], "xy": [], "av": {"2": "A picture of shapes."}},
        },
    }
    (src / "via3.json").write_text(json.dumps(project))
    report = _import(src / "via3.json", tmp_path / "out")
    assert report.ok and [c.name for c in report.palette.classes[:3]] == ["background", "box", "disc"]
    assert not any("polyline/point" in n for n in report.notes)  # the caption is no region
    got = read_mask(tmp_path / "out" / "labels" / "x.png")
    expected = _reference(60, 40, [(1, "box", [5, 3, 18, 16])])  # the 4 points' bounding box
    np.testing.assert_array_equal(got[:, :20], expected[:, :20])
    yy, xx = np.mgrid[:40, :60]
    disc = (xx - 30) ** 2 + (yy - 20) ** 2 <= 64  # the circle through (38, 20), (30, 12), (22, 20)
    assert ((got == 2) != disc).sum() <= 2 * math.pi * 8  # on its rim only
    project["metadata"]["1_b"]["xy"] = [3, 30, 20, 8]  # VIA's own circle of that centre and radius
    (src / "via3.json").write_text(json.dumps(project))
    _import(src / "via3.json", tmp_path / "circle")
    np.testing.assert_array_equal(read_mask(tmp_path / "circle" / "labels" / "x.png"), got)


def test_via_folder_of_splits_numbers_classes_alike(tmp_path):
    """train/ has only cats, val/ only dogs: one import numbers both the same, ids keep the split folder."""
    box = {"name": "rect", "x": 0, "y": 0, "width": 3, "height": 3}
    _via2(tmp_path / "src" / "train", {"t.png": (8, 8, [_region(box, label="cat")])})
    _via2(tmp_path / "src" / "val", {"v.png": (8, 8, [_region(box, label="dog")]), "empty.png": (8, 8, [])})
    (tmp_path / "src" / "notes.json").write_text('{"author": "x"}')
    report = _import(tmp_path / "src", tmp_path / "out")
    assert report.ok and [c.name for c in report.palette.classes[:3]] == ["background", "cat", "dog"]
    assert sorted((r.id, r.extra["split"]) for r in read_manifest(tmp_path / "out" / "manifest.csv").rows) == \
        [("train/t", "train"), ("val/empty", "val"), ("val/v", "val")]
    assert (read_mask(tmp_path / "out" / "labels" / "val" / "v.png") == 2).sum() == 16
    assert not read_mask(tmp_path / "out" / "labels" / "val" / "empty.png").any()
    assert any("1 JSON file(s)" in n and "notes.json" in n for n in report.notes)


def test_via_attribute_rules(tmp_path):
    box = {"name": "rect", "x": 0, "y": 0, "width": 2, "height": 2}
    two = tmp_path / "two"
    _via2(two, {"a.png": (6, 6, [_region(box, kind="cat", colour="red")])})
    with pytest.raises(UsageError, match="2 attributes .*kind, colour.*--attribute"):
        _import(two, tmp_path / "o1")
    assert _import(two, tmp_path / "o2", attribute="colour").palette.classes[1].name == "red"
    with pytest.raises(UsageError, match="no region has attribute 'size'"):
        _import(two, tmp_path / "o3", attribute="size")

    # A renamed copy of the attribute (the same value everywhere) is one attribute; a region without it fails
    # alone, naming --class-name, which gives such regions their class.
    copies = tmp_path / "copies"
    _via2(copies, {"a.png": (6, 6, [_region(box, inseto="kudzu", insect="kudzu")]), "b.png": (6, 6, [_region(box)])})
    report = _import(copies, tmp_path / "o4")
    assert report.converted == 1 and report.failed == 1
    assert any("same value in every region" in n for n in report.notes)
    assert "'b.png" in report.errors[0] and "--class-name" in report.errors[0]
    report = _import(copies, tmp_path / "o5", class_name="kudzu")
    assert report.ok and report.converted == 2 and [c.name for c in report.palette.classes[:2]] == \
        ["background", "kudzu"]

    ticked = tmp_path / "ticked"
    _via2(ticked, {"a.png": (6, 6, [_region(box, kind={"cat": True, "dog": True})])})
    report = _import(ticked, tmp_path / "o6")
    assert report.failed == 1 and "ticks 2 options" in report.errors[0]


def test_via_changed_image_and_doubled_export_are_reported(tmp_path):
    box = {"name": "rect", "x": 0, "y": 0, "width": 2, "height": 2}
    src = tmp_path / "src"
    _via2(src, {"a.png": (6, 6, [_region(box)])})
    write_image(src / "a.png", 12, 12, 9)  # resized after annotating: same name, other bytes
    report = _import(src, tmp_path / "out")
    assert any("not the file the export was made on" in n and "a.png" in n for n in report.notes)
    # width x height where the byte size belongs (KevinMaltezCavalheiro/tracking-droplets: 1310720 for 1280x1024)
    data = json.loads((src / "via_region_data.json").read_text())
    data = {"a.png144": {**next(iter(data.values())), "size": 12 * 12}}
    (src / "via_region_data.json").write_text(json.dumps(data))
    report = _import(src, tmp_path / "out_wh")
    assert report.converted == 1 and not any("not the file" in n for n in report.notes)

    _via2(src, {"a.png": (6, 6, [_region(box)])}, name="copy_of_export.json")
    with pytest.raises(UsageError, match="listed by both .*copy_of_export.json and .*via_region_data.json"):
        _import(src, tmp_path / "out2")


def test_via_missing_image_and_bad_shape_fail_alone(tmp_path, cli):
    src = tmp_path / "src"
    good = {"name": "polygon", "all_points_x": [0, 4, 4], "all_points_y": [0, 0, 4]}
    path = _via2(src, {"a.png": (6, 6, [_region(good)]), "b.png": (6, 6, [_region({"name": "hexagon"})]),
                       "c.png": (6, 6, [_region(good)])})
    (src / "c.png").unlink()
    result = cli("import", "via", src, tmp_path / "out", "--class-name", "leaf", "--quiet")
    assert result.exit_code != 0
    assert "b.png" in result.output and "unknown shape 'hexagon'" in result.output
    assert "c.png" in result.output and "1 images written" in result.output
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["a"]
    assert path.is_file()


def test_via_number_classes_sort_by_value(tmp_path):
    box = {"name": "rect", "x": 0, "y": 0, "width": 2, "height": 2}
    _via2(tmp_path / "src", {"a.png": (6, 6, [_region(box, digit=d) for d in ("10", "2", "1")])})
    report = _import(tmp_path / "src", tmp_path / "out")
    assert [c.name for c in report.palette.classes[:4]] == ["background", "1", "2", "10"]

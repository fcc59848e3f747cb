"""`dataprep import supervisely`: a Supervisely JSON project against the SDK's drawing rules, drawn here on the
whole canvas with cv2 as `supervisely.geometry` draws (the importer draws on each object's box)."""
from __future__ import annotations

import base64
import io as _io
import json
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dataprep.errors import DataprepError, UsageError
from dataprep.importers import import_annotations
from dataprep.io import read_mask
from dataprep.manifest import read_manifest
from dataprep.palette import load_palette

from import_exports import write_image

W, H = 40, 30


def _bitmap(mask: np.ndarray) -> str:
    """As the SDK's data_2_base64 encodes: a palette PNG (black, white) with index 0 transparent, zlib, base64."""
    image = Image.fromarray(mask.astype(np.uint8), mode="L").convert("P")
    image.putpalette([0, 0, 0, 255, 255, 255])
    buffer = _io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    return base64.b64encode(zlib.compress(buffer.getvalue())).decode("ascii")


def _rgba_bitmap(mask: np.ndarray) -> str:
    """An RGBA PNG white everywhere, the mask in its alpha alone (the SDK reads the alpha band)."""
    rgba = np.full(mask.shape + (4,), 255, np.uint8)
    rgba[:, :, 3] = mask * 255
    return base64.b64encode(zlib.compress(cv2.imencode(".png", rgba)[1].tobytes())).decode("ascii")


def _project(root: Path, datasets: dict[str, dict[str, list[dict]]]) -> Path:
    meta = {"classes": [{"title": "Micrite", "shape": "any", "color": "#07EC7B"},
                        {"title": "Scale Bar", "shape": "polygon", "color": "#FF0000"},
                        {"title": "Bivalves", "shape": "bitmap", "color": "#FFC705"}], "tags": []}
    root.mkdir(parents=True, exist_ok=True)
    (root / "meta.json").write_text(json.dumps(meta))
    for dataset, images in datasets.items():
        for name, objects in images.items():
            write_image(root / dataset / "img" / name, W, H)
            (root / dataset / "ann").mkdir(parents=True, exist_ok=True)
            ann = {"description": "", "tags": [], "size": {"height": H, "width": W}, "objects": objects}
            (root / dataset / "ann" / f"{name}.json").write_text(json.dumps(ann))
    return root


def _polygon(title: str, exterior: list, interior: list | None = None) -> dict:
    return {"classTitle": title, "geometryType": "polygon", "tags": [],
            "points": {"exterior": exterior, "interior": interior or []}}


def test_polygons_holes_bitmaps_rectangles_as_the_sdk_draws_them(tmp_path):
    """carbonate thin sections (racyun/Payne_lab_swin_transformer) mix polygons with holes, bitmaps whose origin
    is a string, rectangles and lines; later objects over earlier ones, lines left out."""
    blob = np.zeros((8, 12), bool)
    blob[1:7, 2:11] = True
    blob[3, 5] = False
    outer = [[2.7, 3.2], [30.9, 2.1], [33.5, 25.8], [4.2, 27.4]]
    hole = [[10.5, 10.5], [18.9, 10.2], [18.2, 18.7], [10.1, 19.6]]
    objects = [
        _polygon("Micrite", outer, [hole]),
        {"classTitle": "Bivalves", "geometryType": "bitmap", "tags": [],
         "bitmap": {"data": _bitmap(blob), "origin": "[24, 20]"}},  # reaches past the right edge: cut
        {"classTitle": "Scale Bar", "geometryType": "rectangle", "tags": [],
         "points": {"exterior": [[14, 1], [6, 5]], "interior": []}},  # corners in any order, both inclusive
        {"classTitle": "Bivalves", "geometryType": "bitmap", "tags": [],
         "bitmap": {"data": _rgba_bitmap(np.eye(3, 5, dtype=np.uint8)), "origin": [35, 0]}},
        {"classTitle": "Scale Bar", "geometryType": "line", "tags": [],
         "points": {"exterior": [[0, 29], [39, 29]], "interior": []}},
    ]
    root = _project(tmp_path / "project", {"my_dataset": {"a.jpg": objects}})
    report = import_annotations("supervisely", root, tmp_path / "out", quiet=True)
    assert report.ok and report.converted == 1
    assert "left out objects that enclose no area: 1 line" in report.notes
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert palette.names == ["background", "Micrite", "Scale Bar", "Bivalves"]
    assert palette.classes[1].color == (7, 236, 123)

    expected = np.zeros((H, W), np.uint8)
    drawn = np.zeros((H, W), np.uint8)
    cv2.fillPoly(drawn, [np.floor(outer).astype(np.int32)], 1)
    cv2.fillPoly(drawn, [np.floor(hole).astype(np.int32)], 0)
    expected[drawn > 0] = 1
    region = expected[20:28, 24:36]
    region[blob[:, :12][: region.shape[0], : region.shape[1]]] = 3
    expected[0:3, 35:40][np.eye(3, 5, dtype=bool)] = 3
    cv2.rectangle(expected, (6, 1), (14, 5), 2, thickness=cv2.FILLED)
    labels = read_mask(tmp_path / "out" / "labels" / "my_dataset" / "a.png")
    np.testing.assert_array_equal(labels, expected)
    assert (labels[12:18, 12:17] == 0).all()  # the hole is background
    inst = import_annotations("supervisely", root, tmp_path / "inst", instances=True, quiet=True)
    objects_map = read_mask(inst.instance_dir / "my_dataset" / "a.png")
    assert sorted(np.unique(objects_map).tolist()) == [0, 1, 2, 3, 4]  # one per object that has an area


def test_datasets_give_ids_and_a_split_column_and_errors_name_the_file(tmp_path):
    square = [[2, 2], [20, 2], [20, 20], [2, 20]]
    root = _project(tmp_path / "p", {"train": {"a.png": [_polygon("Micrite", square)]},
                                     "val": {"b.png": [_polygon("Ooid", square)], "c.png": []}})
    report = import_annotations("supervisely", root, tmp_path / "out", quiet=True)
    assert report.converted == 2 and report.failed == 1
    assert report.errors == [f"{root / 'val' / 'ann' / 'b.png.json'}: objects[0]: class 'Ooid' is not in "
                             f"{root / 'meta.json'}"]
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert [(r.id, r.extra["split"]) for r in rows] == [("train/a", "train"), ("val/c", "val")]
    one = import_annotations("supervisely", root / "train", tmp_path / "out_train", quiet=True)  # one dataset
    assert [r.id for r in read_manifest(one.manifest_path).rows] == ["train/a"]
    broken = [{"classTitle": "Bivalves", "geometryType": "bitmap",
               "bitmap": {"data": "bm90IGEgcG5n", "origin": [0, 0]}}]  # base64 of "not a png"
    (root / "val" / "ann" / "c.png.json").write_text(json.dumps({"size": {"height": H, "width": W}, "objects": broken}))
    report = import_annotations("supervisely", root / "val", tmp_path / "out_broken", quiet=True)
    assert any(e.startswith(f"{root / 'val' / 'ann' / 'c.png.json'}: objects[0]: not an image") for e in report.errors)
    with pytest.raises(UsageError, match="no meta.json here or one folder up"):
        import_annotations("supervisely", tmp_path / "p" / "train" / "ann", tmp_path / "o", quiet=True)
    (root / "meta.json").write_text("{}")
    with pytest.raises(DataprepError, match="missing field 'classes'"):
        import_annotations("supervisely", root, tmp_path / "o2", quiet=True)


def test_nested_datasets_are_imported_with_their_parents_names(tmp_path):
    """The SDK nests datasets as PARENT/datasets/CHILD/ (its "Fruits" sample): 1 of 3 images imported, exit 0."""
    square = [[2, 2], [20, 2], [20, 20], [2, 20]]
    root = _project(tmp_path / "p", {"Temperate": {"t.png": [_polygon("Micrite", square)]},
                                     "Temperate/datasets/Apples": {"a.png": [_polygon("Micrite", square)]},
                                     "Tropical/datasets/Bananas/datasets/Small": {"b.png": []}})
    report = import_annotations("supervisely", root, tmp_path / "out", quiet=True)
    assert report.ok and report.converted == 3
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert [(r.id, r.image) for r in rows] == [
        ("Temperate/t", (root / "Temperate" / "img" / "t.png").resolve()),
        ("Temperate/Apples/a", (root / "Temperate" / "datasets" / "Apples" / "img" / "a.png").resolve()),
        ("Tropical/Bananas/Small/b", (root / "Tropical/datasets/Bananas/datasets/Small/img/b.png").resolve())]
    one = import_annotations("supervisely", root / "Temperate", tmp_path / "out_one", quiet=True)
    assert [r.id for r in read_manifest(one.manifest_path).rows] == ["Temperate/t", "Temperate/Apples/a"]

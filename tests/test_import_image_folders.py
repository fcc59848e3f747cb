"""Where `dataprep import` finds the images (and the COCO JSONs) of an export when not told."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataprep.errors import DataprepError, UsageError
from dataprep.importers import import_annotations
from dataprep.importers.image_folders import ImageLocator
from dataprep.manifest import read_manifest

from import_exports import CVAT_XML, needs_coco, write_image


def _coco(path: Path, names: list[str]) -> Path:
    images = [{"id": i, "file_name": n, "width": 20, "height": 16} for i, n in enumerate(names)]
    anns = [{"id": i, "image_id": i, "category_id": 1, "segmentation": [[2, 2, 10, 2, 10, 10]]}
            for i in range(len(names))]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "a"}]}))
    return path


def _images(out: Path) -> dict[str, Path]:
    return {row.id: row.image for row in read_manifest(out / "manifest.csv").rows}


@needs_coco
def test_images_split_between_the_export_folder_and_its_images_folder(tmp_path):
    """a-hwang/building-facade-segmentation's valid/: 84 images beside _annotations.coco.json, 24 in images/;
    the 24 failed as 'file not found' in the folder of the 84."""
    src = tmp_path / "valid"
    names = [f"f{i}.jpg" for i in range(6)]
    for name in names[:4]:
        write_image(src / name, 20, 16)
    for name in names[4:]:
        write_image(src / "images" / name, 20, 16)
    report = import_annotations("coco", _coco(src / "_annotations.coco.json", names), tmp_path / "out", quiet=True)
    assert report.converted == 6 and report.ok
    found = _images(tmp_path / "out")
    assert found["f1"] == (src / "f1.jpg").resolve() and found["f5"] == (src / "images" / "f5.jpg").resolve()


@needs_coco
def test_images_in_a_folder_below_the_export_are_found_and_missing_ones_named_once(tmp_path):
    """KGCraig's urban CVAT task keeps its photos in images/raw/ (images/masks/ holds other files);
    panopticapi's sample_data/ keeps them in input_images/. Images in no folder get one line with the fix."""
    src = tmp_path / "urban"
    write_image(src / "images" / "raw" / "f0.png", 20, 16)
    write_image(src / "images" / "masks" / "f0_mask.png", 20, 16)
    (src / "annotations.xml").write_text(CVAT_XML.replace("{rle}", "2,3,2,5"))
    report = import_annotations("cvat", src, tmp_path / "out", quiet=True)
    assert report.converted == 1
    assert _images(tmp_path / "out")["f0"] == (src / "images" / "raw" / "f0.png").resolve()

    sample = tmp_path / "sample_data"
    write_image(sample / "input_images" / "a.jpg", 20, 16)
    export = _coco(sample / "examples.json", ["a.jpg", "gone.jpg"])
    report = import_annotations("coco", export, tmp_path / "out2", quiet=True)
    assert report.converted == 1 and report.failed == 1
    assert [n for n in report.notes if "none of" in n] == [
        f"1 listed image(s) are in none of {sample / 'input_images'}, {sample}, {tmp_path}: --images DIR says "
        "where they are"]
    report = import_annotations("coco", export, tmp_path / "out3", images_dir=sample / "input_images", quiet=True)
    assert report.failed == 1 and not [n for n in report.notes if "none of" in n]  # its own line says it
    # as docs/import.md calls it from Python: a str folder (str / str failed with a TypeError)
    report = import_annotations("coco", str(export), str(tmp_path / "out4"), images_dir=str(sample / "input_images"),
                                order="area", quiet=True)
    assert report.converted == 1 and _images(tmp_path / "out4")["a"] == (sample / "input_images" / "a.jpg").resolve()


def test_the_search_below_stops_at_its_depth(tmp_path):
    write_image(tmp_path / "export" / "a" / "b" / "c" / "x.png", 4, 4)
    assert ImageLocator(tmp_path / "export" / "e.json", None, ["x.png"]).folder == tmp_path / "export" / "a" / "b" / "c"
    write_image(tmp_path / "deep" / "a" / "b" / "c" / "d" / "x.png", 4, 4)
    assert ImageLocator(tmp_path / "deep" / "e.json", None, ["x.png"]).folder == tmp_path / "deep"


@needs_coco
def test_a_roboflow_export_folder_is_one_import_with_a_split_column(tmp_path):
    """a-hwang/building-facade-segmentation: train/, valid/, test/ each with _annotations.coco.json took three
    imports into three folders (and `import coco EXPORT/` was refused)."""
    cats = [{"id": 0, "name": "facade", "supercategory": "none"}, {"id": 1, "name": "car", "supercategory": "facade"}]
    for split, names in (("train", ["a.jpg", "b.jpg"]), ("valid", ["a.jpg"])):  # one name in both splits
        for name in names:
            write_image(tmp_path / "export" / split / name, 20, 16)
        path = _coco(tmp_path / "export" / split / "_annotations.coco.json", names)
        data = json.loads(path.read_text())
        path.write_text(json.dumps({**data, "categories": cats}))
    report = import_annotations("coco", tmp_path / "export", tmp_path / "out", quiet=True)
    assert report.converted == 3 and report.ok
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert [(r.id, r.extra["split"]) for r in rows] == [("train/a", "train"), ("train/b", "train"),
                                                       ("valid/a", "valid")]
    assert rows[2].image == (tmp_path / "export" / "valid" / "a.jpg").resolve()
    placeholder = [n for n in report.notes if "placeholder" in n]
    assert len(placeholder) == 1 and placeholder[0].startswith(
        "train/_annotations.coco.json, valid/_annotations.coco.json (each): category 0 'facade' left out")
    other = tmp_path / "export" / "valid" / "_annotations.coco.json"
    other.write_text(other.read_text().replace('"car"', '"truck"'))
    with pytest.raises(DataprepError, match=r"valid/_annotations.coco.json: its categories differ from those of "):
        import_annotations("coco", tmp_path / "export", tmp_path / "out2", quiet=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no COCO annotation JSON in this folder"):
        import_annotations("coco", tmp_path / "empty", tmp_path / "out3", quiet=True)

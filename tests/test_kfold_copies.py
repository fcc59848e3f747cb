"""Roboflow's augmented copies of one photo: import writes a group column, kfold keeps each photo in one fold."""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import pytest

from dataprep.importers import import_annotations
from dataprep.manifest import read_manifest
from dataprep.splits import split_folds

from import_exports import needs_coco, write_image

SQUARE = [[8, 8, 28, 8, 28, 28, 8, 28]]


def _hash(photo: int, copy: int) -> str:
    return f"{photo * 7919 + copy:032x}"


def _roboflow_coco(root: Path, photos: int, copies: int, *, extra: bool, ext: str = "jpg") -> Path:
    """A Roboflow COCO export: `copies` augmented copies of each photo, `train/NAME_<ext>.rf.<hash>.jpg`,
    with Roboflow's `extra.name` (the source photo's name) or without it."""
    split = root / "train"
    images, anns = [], []
    for p in range(photos):
        for c in range(copies):
            name = f"-_-_t{p:05d}_{ext}.rf.{_hash(p, c)}.jpg"
            write_image(split / name, 64, 64, seed=len(images), fmt="JPEG")
            image = {"id": len(images), "file_name": name, "height": 64, "width": 64}
            if extra:
                image["extra"] = {"name": f"-_-_t{p:05d}.{ext}"}
            anns.append({"id": len(images) + 1, "image_id": len(images), "category_id": 1 + p % 2,
                         "bbox": [8, 8, 20, 20], "area": 400, "iscrowd": 0, "segmentation": SQUARE})
            images.append(image)
    cats = [{"id": 0, "name": "people", "supercategory": "none"},
            {"id": 1, "name": "teacher", "supercategory": "people"},
            {"id": 2, "name": "student", "supercategory": "people"}]
    (split / "_annotations.coco.json").write_text(json.dumps({"images": images, "annotations": anns,
                                                              "categories": cats}))
    return root


def _photo(row_id: str) -> str:
    return row_id.rpartition("/")[2].split(".rf.")[0]


def _folds_per_photo(manifest: Path) -> dict[str, set[str]]:
    """Read independently of dataprep: the folds each source photo's copies (by file name) sit in."""
    folds: dict[str, set[str]] = defaultdict(set)
    with open(manifest, newline="") as fh:
        for row in csv.DictReader(fh):
            folds[_photo(row["id"])].add(row["fold"])
    return folds


@needs_coco
@pytest.mark.parametrize("extra", [True, False], ids=["extra_name", "names_only"])
def test_roboflow_copies_of_one_photo_share_a_group_and_a_fold(tmp_path, cli, extra):
    src = _roboflow_coco(tmp_path / "export", 12, 3, extra=extra)
    done = cli("import", "coco", src, tmp_path / "out")
    assert done.exit_code == 0, done.output
    assert ("36 images are copies of 12 source photos (Roboflow names): a group column keeps each photo's "
            "copies in one fold") in done.output
    rows = read_manifest(tmp_path / "out" / "manifest.csv").rows
    group_of = {r.id: r.extra["group"] for r in rows}
    # Both ways give the photo's name as Roboflow's extra.name has it.
    assert group_of[f"-_-_t00004_jpg.rf.{_hash(4, 1)}"] == "-_-_t00004.jpg"
    assert len(set(group_of.values())) == 12
    assert all(len({group_of[i] for i in group_of if _photo(i) == _photo(j)}) == 1 for j in group_of)

    done = cli("kfold", tmp_path / "out" / "manifest.csv", "-k", "4", "-o", tmp_path / "splits")
    assert done.exit_code == 0, done.output
    assert "36 samples in 12 groups" in done.output
    folds = _folds_per_photo(tmp_path / "splits" / "manifest.csv")
    assert len(folds) == 12 and all(len(f) == 1 for f in folds.values())
    assert len(set().union(*folds.values())) == 4


@needs_coco
def test_extra_name_groups_copies_whatever_their_file_names(tmp_path):
    """Roboflow's extra.name is the record: copies renamed after export still share their photo's group."""
    src = _roboflow_coco(tmp_path / "export", 3, 2, extra=True)
    json_path = src / "train" / "_annotations.coco.json"
    data = json.loads(json_path.read_text())
    for image in data["images"]:
        new = f"img{image['id']}.jpg"
        (src / "train" / image["file_name"]).rename(src / "train" / new)
        image["file_name"] = new
    json_path.write_text(json.dumps(data))
    report = import_annotations("coco", src, tmp_path / "out", quiet=True)
    groups = {r.id: r.extra["group"] for r in read_manifest(report.manifest_path).rows}
    assert groups == {"img0": "-_-_t00000.jpg", "img1": "-_-_t00000.jpg", "img2": "-_-_t00001.jpg",
                      "img3": "-_-_t00001.jpg", "img4": "-_-_t00002.jpg", "img5": "-_-_t00002.jpg"}


@needs_coco
@pytest.mark.parametrize("extra", [True, False], ids=["extra_name", "names_only"])
def test_one_copy_per_photo_writes_no_group_column(tmp_path, cli, extra):
    src = _roboflow_coco(tmp_path / "export", 6, 1, extra=extra)
    done = cli("import", "coco", src, tmp_path / "out")
    assert done.exit_code == 0, done.output
    assert "source photos" not in done.output
    manifest = read_manifest(tmp_path / "out" / "manifest.csv")
    assert "group" not in manifest.extra_columns
    result = split_folds(manifest, 3, mode="plain")
    assert result.groups is None


@needs_coco
def test_group_by_still_decides_the_groups(tmp_path):
    """--group-by overrides the import's column, as it does any manifest's: here one group per copy."""
    src = _roboflow_coco(tmp_path / "export", 4, 3, extra=True)
    report = import_annotations("coco", src, tmp_path / "out", quiet=True)
    result = split_folds(report.manifest_path, 3, mode="plain", group_by=r"([^/]+)\.jpg$")
    assert len(set(result.groups)) == 12
    assert all(r.extra["group"] == g == r.id.rpartition("/")[2] for r, g in zip(result.manifest.rows, result.groups))


def test_yolo_export_with_roboflow_names_gets_the_group_column(tmp_path):
    root = tmp_path / "yolo"
    for p in range(4):
        for c in range(2):
            stem = f"shoe{p}_png.rf.{_hash(p, c)}"
            write_image(root / "train" / "images" / f"{stem}.jpg", 32, 32, seed=2 * p + c, fmt="JPEG")
            (root / "train" / "labels").mkdir(parents=True, exist_ok=True)
            (root / "train" / "labels" / f"{stem}.txt").write_text("0 0.1 0.1 0.6 0.1 0.6 0.8 0.1 0.8\n")
    (root / "data.yaml").write_text("train: ../train/images\nnc: 1\nnames: ['shoe']\n")
    report = import_annotations("yolo", root / "data.yaml", tmp_path / "out", quiet=True)
    assert report.copies and report.copies.startswith("8 images are copies of 4 source photos")
    rows = read_manifest(report.manifest_path).rows
    assert sorted({r.extra["group"] for r in rows}) == ["shoe0.png", "shoe1.png", "shoe2.png", "shoe3.png"]
    result = split_folds(report.manifest_path, 2, mode="plain")
    assert result.groups is not None and len(set(result.groups)) == 4


def test_dedup_clusters_stay_opt_in(tmp_path):
    """A dedup manifest's group column (beside duplicate_of) holds guesses: kfold groups by it when asked."""
    for name in ("a", "b", "c", "d"):
        write_image(tmp_path / f"{name}.png", 8, 8)
    (tmp_path / "m.csv").write_text("id,image,mask,width,height,group,duplicate_of\n" + "".join(
        f"{n},{n}.png,,8,8,{g},{d}\n" for n, g, d in (("a", "a", ""), ("b", "a", "a"), ("c", "c", ""), ("d", "d", ""))))
    assert split_folds(tmp_path / "m.csv", 2, mode="plain").groups is None
    assert len(set(split_folds(tmp_path / "m.csv", 2, mode="plain", group_column="group").groups)) == 3


@pytest.mark.parametrize("groups", [("a", "a", "", "b"), ("a", "a", "b", "b")])
def test_a_group_column_with_gaps_or_fewer_groups_than_folds_folds_by_row(tmp_path, groups):
    """Two manifests joined (one with groups, one without), or 2 groups for k=3: grouping by default failed
    ('row d has an empty group', 'k=3 is larger than the number of groups ... --group-column') where a
    plain split had worked."""
    for name in ("a", "b", "c", "d"):
        write_image(tmp_path / f"{name}.png", 8, 8)
    (tmp_path / "m.csv").write_text("id,image,mask,width,height,group\n" + "".join(
        f"{n},{n}.png,,8,8,{g}\n" for n, g in zip("abcd", groups)))
    result = split_folds(tmp_path / "m.csv", 3 if all(groups) else 2, mode="plain")
    assert result.groups is None and len(result.folds) == 4


@pytest.mark.parametrize("name, source", [
    ("-_-_t00570_jpg.rf.43b195561a2e34453b6c1e40849a0664.jpg", "-_-_t00570.jpg"),
    ("ScreenShot_2026-03-23_143035_962_png.rf.a0b63bb5314e73b3703316508f6a92e1.jpg",
     "ScreenShot_2026-03-23_143035_962.png"),
    ("train/images/IMG_7_jpeg.rf.A0B63BB5314E73B3703316508F6A92E1.jpg", "IMG_7.jpeg"),
    ("t00570.jpg", None), ("t00570_jpg.rf.short.jpg", None), ("a.rf.43b195561a2e34453b6c1e40849a0664.jpg", None),
])
def test_roboflow_source_names(name, source):
    from dataprep.importers.copies import roboflow_source

    assert roboflow_source(name) == source

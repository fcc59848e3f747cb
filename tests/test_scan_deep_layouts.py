"""Layouts whose masks sit deeper than their images: BDD100K's labels/sem_seg/masks/ for images/10k/, Mapillary
Vistas' training/v2.0/labels/ beside training/images/. scan found no pair in either."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep.errors import UsageError
from dataprep.scan import scan


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _photo(path: Path) -> None:
    _save(path, np.full((24, 32, 3), 120, np.uint8))


def _labels(path: Path) -> None:
    _save(path, np.full((24, 32), 3, np.uint8))


def _pairs(result, root: Path) -> list[tuple[str, str, str | None]]:
    return sorted((r.image.relative_to(root).as_posix(), r.mask.relative_to(root).as_posix(), r.extra.get("split"))
                  for r in result.rows)


def _bdd(root: Path) -> None:
    for split in ("train", "val"):
        for name in ("0a0a0b1a-7c39d841", "0a0b16e2-93f8c456"):
            _photo(root / f"bdd100k/images/10k/{split}/{name}.jpg")
            _labels(root / f"bdd100k/labels/sem_seg/masks/{split}/{name}.png")
            _labels(root / f"bdd100k/labels/sem_seg/colormaps/{split}/{name}.png")  # the same labels, drawn
    (root / "bdd100k/labels/sem_seg/polygons").mkdir(parents=True)
    (root / "bdd100k/labels/sem_seg/polygons/sem_seg_train.json").write_text("[]")
    _photo(root / "bdd100k/images/10k/test/0a1b2c3d-00000000.jpg")  # no labels published


def test_bdd100k_pairs_its_label_maps_not_their_colour_copies(tmp_path):
    _bdd(tmp_path)
    result = scan(tmp_path)
    assert _pairs(result, tmp_path) == sorted(
        (f"bdd100k/images/10k/{split}/{name}.jpg", f"bdd100k/labels/sem_seg/masks/{split}/{name}.png", split)
        for split in ("train", "val") for name in ("0a0a0b1a-7c39d841", "0a0b16e2-93f8c456"))
    assert [Path(p.path).name for p in result.problems] == ["0a1b2c3d-00000000.jpg"]  # the test image, without a mask


def test_bdd100k_with_only_colour_copies_pairs_those(tmp_path):
    _bdd(tmp_path)
    for f in (tmp_path / "bdd100k/labels/sem_seg/masks").rglob("*.png"):
        f.unlink()
    assert {r.mask.parent.parent.name for r in scan(tmp_path).rows} == {"colormaps"}


def test_two_deeper_label_folders_pairing_alike_are_a_question(tmp_path):
    _bdd(tmp_path)
    for f in (tmp_path / "bdd100k/labels/sem_seg/masks").rglob("*.png"):
        _labels(tmp_path / "bdd100k/labels/drivable/masks" / f.relative_to(tmp_path / "bdd100k/labels/sem_seg/masks"))
    with pytest.raises(UsageError, match=r"bdd100k/labels/drivable/masks \(4 pairs\), bdd100k/labels/sem_seg/masks "
                                         r"\(4 pairs\)\? say it with --image-dir bdd100k/images/10k --mask-dir PATH"):
        scan(tmp_path)
    result = scan(tmp_path, image_dir="bdd100k/images/10k", mask_dir="bdd100k/labels/sem_seg/masks")
    assert {r.mask.parent.parent.parent.name for r in result.rows} == {"sem_seg"} and len(result.rows) == 4


def _mapillary(root: Path, versions=("v1.2", "v2.0")) -> None:
    for split in ("training", "validation"):
        for name in ("__CRyFzoDOXn6unQ6a3DnQ", "_1Gn_xkw7sa_i9GU4mkxxQ"):
            _photo(root / f"{split}/images/{name}.jpg")
            for version in versions:
                _labels(root / f"{split}/{version}/labels/{name}.png")
                _labels(root / f"{split}/{version}/instances/{name}.png")
    _photo(root / "testing/images/__a3Bq1xpKfmhS6pU5JmQ.jpg")


def test_mapillary_asks_which_version_and_takes_the_answer_for_every_split(tmp_path, cli):
    _mapillary(tmp_path)
    with pytest.raises(UsageError, match=r"training/images: which folder holds the masks: v1\.2/labels \(2 pairs\), "
                                         r"v2\.0/labels \(2 pairs\)\? say it with --mask-dir NAME"):
        scan(tmp_path)
    result = scan(tmp_path, mask_dir="v2.0/labels")
    assert _pairs(result, tmp_path) == sorted(
        (f"{split}/images/{name}.jpg", f"{split}/v2.0/labels/{name}.png", split)
        for split in ("training", "validation") for name in ("__CRyFzoDOXn6unQ6a3DnQ", "_1Gn_xkw7sa_i9GU4mkxxQ"))
    assert not result.problems
    out = cli("scan", str(tmp_path), "--mask-dir", "v3.0/labels", "-o", str(tmp_path / "m.csv"))
    assert out.exit_code == 2 and "v3.0/labels: --mask-dir: no folder of this name" in out.output


def test_mapillary_with_one_version_pairs_it(tmp_path):
    _mapillary(tmp_path, versions=("v2.0",))
    assert {r.mask.parent.parent.name for r in scan(tmp_path).rows} == {"v2.0"}


def test_a_folder_path_as_image_dir_alone_is_refused(tmp_path):
    _mapillary(tmp_path)
    with pytest.raises(UsageError, match=r"a folder path \(with '/'\) as --image-dir needs --mask-dir too"):
        scan(tmp_path, image_dir="training/images")


def test_the_answer_a_question_about_mask_folders_inside_the_image_folder_offers_pairs_those(tmp_path):
    for name in ("a", "b"):
        _photo(tmp_path / f"res/{name}.jpg")
        _labels(tmp_path / f"res/label/{name}.png")
        _labels(tmp_path / f"res/mask/{name}.png")
    with pytest.raises(UsageError, match=r"res/label \(2 pairs\), res/mask \(2 pairs\)\? say it with --mask-dir NAME"):
        scan(tmp_path)
    result = scan(tmp_path, mask_dir="res/label")
    assert _pairs(result, tmp_path) == [("res/a.jpg", "res/label/a.png", None), ("res/b.jpg", "res/label/b.png", None)]


def test_only_folders_named_as_colour_copies_are_left_aside(tmp_path):
    """`colour` anywhere in the path set a folder of labels aside: labels/sem_seg/colour_corrected is no copy."""
    _bdd(tmp_path)
    sem_seg = tmp_path / "bdd100k/labels/sem_seg"
    (sem_seg / "masks").rename(sem_seg / "colour_corrected")
    assert {r.mask.parent.parent.name for r in scan(tmp_path).rows} == {"colour_corrected"}


def test_a_mask_dir_path_of_three_folders_alone_is_refused_not_left_to_pair_nothing(tmp_path):
    for name in ("a", "b"):
        _photo(tmp_path / f"training/images/{name}.jpg")
        _labels(tmp_path / f"training/v2/sub/masks/{name}.png")
    with pytest.raises(UsageError, match=r"for a longer one give both --image-dir and --mask-dir"):
        scan(tmp_path, mask_dir="v2/sub/masks")
    result = scan(tmp_path, image_dir="training/images", mask_dir="training/v2/sub/masks")
    assert len(result.rows) == 2

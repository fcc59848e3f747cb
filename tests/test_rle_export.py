"""dataprep labels2rle: label maps -> Kaggle run-length CSV, checked against an encoder written here and by a
round trip through import kaggle-rle."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep.errors import DataprepError
from dataprep.importers import import_annotations
from dataprep.io import write_mask
from dataprep.manifest import Manifest, ManifestRow, write_manifest
from dataprep.palette import Palette, PaletteClass
from dataprep.rle_export import encode_classes, write_rle_csv


def _kaggle_encode(mask: np.ndarray, order: str = "column") -> str:
    """The competitions' kernels' mask2rle: pixels flattened (transposed for column-major), runs from 1."""
    pixels = np.concatenate([[0], (mask.T if order == "column" else mask).flatten(), [0]])
    runs = np.where(pixels[1:] != pixels[:-1])[0] + 1
    runs[1::2] -= runs[::2]
    return " ".join(str(x) for x in runs)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _dataset(root: Path, labels: dict[str, np.ndarray], palette: Palette) -> Path:
    rows = []
    for name, lab in labels.items():
        image = root / "images" / f"{name}.jpg"
        image.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((*lab.shape, 3), np.uint8)).save(image)
        mask = root / "labels" / f"{name}.png"
        write_mask(mask, lab)
        rows.append(ManifestRow(name, image, mask, lab.shape[1], lab.shape[0]))
    palette.save(root / "labels" / "palette.json")
    return write_manifest(Manifest(rows), root / "labels" / "manifest.csv")


SALT_WITH_VOID_AT_0 = Palette("void0", (PaletteClass("nodata", (0, 0, 0), 0, ignore=True),
                                        PaletteClass("a", (10, 0, 0), 1), PaletteClass("b", (20, 0, 0), 2)), 0)
SALT = Palette("salt", (PaletteClass("background", (0, 0, 0), 0), PaletteClass("salt", (255, 255, 255), 1),
                        PaletteClass("ignore", (224, 224, 192), 255, ignore=True)), 255)


def _camvid(shared_data, root: Path) -> tuple[dict[str, np.ndarray], Path]:
    annot = sorted((shared_data("camvid_segnet/CamVid") / "trainannot").glob("*.png"))[:4]
    labels = {p.stem: np.array(Image.open(p)) for p in annot}  # 0..10 classes, 11 void
    classes = [PaletteClass("Sky", (128, 128, 128), 0)] + [
        PaletteClass(f"class_{i}", (i * 20, 0, 0), i, id=i + 100) for i in range(1, 11)]
    palette = Palette("camvid", tuple(classes) + (PaletteClass("void", (0, 0, 0), 11, ignore=True),), 11)
    return labels, _dataset(root, labels, palette)


def test_real_camvid_classes_written_as_the_kernels_encode_them_and_read_back(shared_data, tmp_path):
    labels, manifest = _camvid(shared_data, tmp_path / "data")
    report = write_rle_csv(manifest, tmp_path / "out.csv", quiet=True)
    assert report.ok and report.by_class and report.images == 4
    got = {(r["ImageId"], int(r["ClassId"])): r["EncodedPixels"] for r in _rows(tmp_path / "out.csv")}
    expected = {(f"{name}.jpg", int(v) + 100): _kaggle_encode(lab == v) for name, lab in labels.items()
                for v in np.unique(lab) if v not in (0, 11)}  # background and void are never written
    assert got == expected
    # Read back by the importer: the ids come back as class numbers, 0 and void as background.
    (tmp_path / "data" / "train_images").mkdir()
    for name in labels:
        (tmp_path / "data" / "images" / f"{name}.jpg").rename(tmp_path / "data" / "train_images" / f"{name}.jpg")
    (tmp_path / "data" / "out.csv").write_text((tmp_path / "out.csv").read_text())
    back = import_annotations("kaggle-rle", tmp_path / "data" / "out.csv", tmp_path / "back", quiet=True)
    assert back.converted == 4
    for name, lab in labels.items():
        got_map = np.array(Image.open(tmp_path / "back" / "labels" / f"{name}.png"))
        np.testing.assert_array_equal(got_map, np.where(np.isin(lab, (0, 11)), 0, lab.astype(int) + 100))


def test_a_real_class_0_is_warned_of_and_written_with_background_none(shared_data, tmp_path, cli):
    """CamVid's Sky is class 0: it was left out as background without a word."""
    labels, manifest = _camvid(shared_data, tmp_path / "data")
    res = cli("labels2rle", manifest, "-o", tmp_path / "default.csv")
    assert res.exit_code == 0
    assert ("warning: class 0 'Sky' is left out as background; pass --background none to write every class"
            in res.output)
    assert {r["ClassId"] for r in _rows(tmp_path / "default.csv")} <= {str(i + 100) for i in range(1, 11)}
    res = cli("labels2rle", manifest, "-o", tmp_path / "all.csv", "--background", "none")
    assert res.exit_code == 0 and "warning" not in res.output
    got = {(r["ImageId"], int(r["ClassId"])): r["EncodedPixels"] for r in _rows(tmp_path / "all.csv")}
    ids = {0: 0, **{i: i + 100 for i in range(1, 11)}}
    assert got == {(f"{name}.jpg", ids[int(v)]): _kaggle_encode(lab == v) for name, lab in labels.items()
                   for v in np.unique(lab) if v != 11}
    res = cli("labels2rle", manifest, "-o", tmp_path / "x.csv", "--background", "sky")
    assert res.exit_code == 2 and "'sky' is not a class index or 'none'" in res.output
    res = cli("labels2rle", manifest, "-o", tmp_path / "x.csv", "--background", "40")  # a typo: every class written
    assert res.exit_code == 2 and "--background 40 is not a class of palette 'camvid' (classes 0, 1, 2," in res.output
    assert not (tmp_path / "x.csv").exists()
    void = SALT_WITH_VOID_AT_0
    manifest0 = _dataset(tmp_path / "void0", {"a": np.array([[0, 1, 2, 1]], np.uint8)}, void)
    default = write_rle_csv(manifest0, tmp_path / "void0.csv", quiet=True)  # 0 is the ignore index: left out anyway
    assert default.ok and [r["ClassId"] for r in _rows(tmp_path / "void0.csv")] == ["1", "2"]


@pytest.mark.parametrize("order", ["column", "row"])
def test_one_class_is_a_row_per_image_empty_without_foreground(tmp_path, order):
    rng = np.random.default_rng(0)
    salt = (rng.random((12, 20)) < 0.3).astype(np.uint8)
    salt[0, 0] = 255  # ignored pixels are not salt
    manifest = _dataset(tmp_path, {"575d24d81d": salt, "a266a2a9df": np.zeros((12, 20), np.uint8)}, SALT)
    report = write_rle_csv(manifest, tmp_path / "salt.csv", order=order, image_id="stem", quiet=True)
    assert not report.by_class and report.rows == 2
    assert _rows(tmp_path / "salt.csv") == [
        {"ImageId": "575d24d81d", "EncodedPixels": _kaggle_encode(salt == 1, order)},
        {"ImageId": "a266a2a9df", "EncodedPixels": ""}]
    assert encode_classes(salt, order)[1] == _kaggle_encode(salt == 1, order)


def test_a_value_outside_the_palette_fails_its_image_alone(tmp_path, cli):
    manifest = _dataset(tmp_path, {"a": np.ones((4, 6), np.uint8), "b": np.full((4, 6), 7, np.uint8)}, SALT)
    res = cli("labels2rle", manifest, "-o", tmp_path / "out.csv")
    assert res.exit_code == 1
    assert f"error: {tmp_path / 'labels' / 'b.png'}: value 7 is not a class of the palette" in res.output
    assert [r["ImageId"] for r in _rows(tmp_path / "out.csv")] == ["a.jpg"]
    res = cli("labels2rle", manifest, "-o", manifest)  # never over an input
    assert res.exit_code == 2 and "would overwrite an input" in res.output
    (tmp_path / "labels" / "palette.json").unlink()
    res = cli("labels2rle", manifest, "-o", tmp_path / "x.csv")
    assert res.exit_code == 2 and "pass --palette" in res.output


def test_per_object_rows_are_the_ships_of_airbus(tmp_path):
    """Airbus scores each ship: a row per 8-connected object, ordered by its first pixel down the columns;
    a diagonal touch is one object, as skimage.measure.label counts it."""
    yy, xx = np.mgrid[:40, :40]
    ships = [(yy - 10) ** 2 + (xx - 8) ** 2 < 16, (yy - 28) ** 2 + (xx - 30) ** 2 < 25,
             (np.abs(yy - 5) < 2) & (np.abs(xx - 30) < 4)]
    salt = np.zeros((40, 40), np.uint8)
    for ship in ships:
        salt[ship] = 1
    salt[20, 20] = salt[21, 21] = 1  # two pixels touching at a corner: one object
    manifest = _dataset(tmp_path, {"s1": salt, "s2": np.zeros((40, 40), np.uint8)}, SALT)
    report = write_rle_csv(manifest, tmp_path / "ships.csv", per_object=True, quiet=True)
    rows = _rows(tmp_path / "ships.csv")
    corner = np.zeros((40, 40), bool)
    corner[20, 20] = corner[21, 21] = True
    objects = sorted([*ships, corner], key=lambda m: int(np.flatnonzero(m.T.ravel())[0]))
    assert [r["EncodedPixels"] for r in rows if r["ImageId"] == "s1.jpg"] == [_kaggle_encode(m) for m in objects]
    assert [r for r in rows if r["ImageId"] == "s2.jpg"] == [{"ImageId": "s2.jpg", "EncodedPixels": ""}]
    assert report.rows == 5


def test_two_images_of_one_imageid_are_refused_before_anything_is_written(tmp_path, cli):
    """`a/x.jpg` and `b/x.jpg` both became rows of ImageId `x.jpg`, with different pixels, exit 0."""
    manifest = _dataset(tmp_path, {"a/x": np.ones((4, 6), np.uint8), "b/x": np.zeros((4, 6), np.uint8)}, SALT)
    res = cli("labels2rle", manifest, "-o", tmp_path / "out.csv")
    assert res.exit_code == 1
    images = tmp_path / "images"
    assert res.stderr.strip() == (f"error: {manifest}: ids 'a/x' and 'b/x' would both be written as ImageId 'x.jpg' "
                                  f"(images {images / 'a/x.jpg'} and {images / 'b/x.jpg'}); rename one image")
    assert not (tmp_path / "out.csv").exists()
    # Stems alone collide: the file names tell the images apart.
    (images / "a/x.jpg").rename(images / "a/x.png")
    rows = [ManifestRow("a/x", images / "a/x.png", tmp_path / "labels/a/x.png", 6, 4),
            ManifestRow("b/x", images / "b/x.jpg", tmp_path / "labels/b/x.png", 6, 4)]
    write_manifest(rows, manifest)
    with pytest.raises(DataprepError, match=r"ImageId 'x' .*; rename one image, or pass --image-id name$"):
        write_rle_csv(manifest, tmp_path / "out.csv", image_id="stem", quiet=True)
    assert write_rle_csv(manifest, tmp_path / "out.csv", quiet=True).rows == 2

"""dataprep import ade20k: the full release's x_seg.png colour codes (red / 10 * 256 + green the class, blue the
instance) -> class indices, named from x.json; and palette infer, masks2labels and scan pointing there."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from dataprep.importers import import_annotations
from dataprep.io import read_mask
from dataprep.manifest import read_manifest
from dataprep.palette import load_palette

STREET = {312: "building, edifice", 2977: "wall", 401: "car, auto, automobile, machine, motorcar", 2420: "sky"}


def _sample(folder: Path, stem: str, codes: np.ndarray, names: dict[int, str] | None,
            rng: np.random.Generator) -> None:
    """x.jpg, x_seg.png as ADE writes it (blue: instance numbers that split each class) and x.json."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = codes.shape
    Image.fromarray(rng.integers(0, 255, (h, w, 3), np.uint8)).save(folder / f"{stem}.jpg")
    seg = np.stack([codes // 256 * 10, codes % 256, rng.integers(0, 4, (h, w)) * 40], axis=2).astype(np.uint8)
    Image.fromarray(seg).save(folder / f"{stem}_seg.png")
    if names is not None:
        objects = [{"id": i, "name": name, "name_ndx": code, "parts": {"part_level": 0}}
                   for i, (code, name) in enumerate(names.items())]
        objects.append({"id": 99, "name": "window", "name_ndx": 3050, "parts": {"part_level": 1}})  # a part
        (folder / f"{stem}.json").write_text(json.dumps({"annotation": {"object": objects}}))


def _codes(rng: np.random.Generator, h: int, w: int, choices: list[int]) -> np.ndarray:
    blocks = rng.choice(choices, (h // 8 + 1, w // 8 + 1))
    return np.kron(blocks, np.ones((8, 8), int))[:h, :w]


def test_codes_become_indices_in_code_order_named_from_the_json(tmp_path):
    rng = np.random.default_rng(0)
    street = tmp_path / "images" / "ADE" / "training" / "urban" / "street"
    first = _codes(rng, 48, 64, [0, 312, 2977, 401])
    second = _codes(rng, 40, 56, [312, 2420, 0])
    _sample(street, "ADE_train_00000001", first, {c: STREET[c] for c in (312, 2977, 401)}, rng)
    _sample(street, "ADE_train_00000002", second, {c: STREET[c] for c in (312, 2420)}, rng)
    report = import_annotations("ade20k", tmp_path / "images", tmp_path / "out", quiet=True)
    assert (report.converted, report.failed) == (2, 0)
    palette = load_palette(tmp_path / "out" / "palette.json")
    classes = [c for c in palette.classes if not c.ignore]
    assert [(c.index, c.id, c.name) for c in classes] == [
        (i, code, STREET[code]) for i, code in enumerate(sorted(STREET))]
    assert palette.ignore_index == 255
    index_of = {code: i for i, code in enumerate(sorted(STREET))} | {0: 255}  # unlabelled -> ignore
    rows = {r.id: r for r in read_manifest(tmp_path / "out" / "manifest.csv").rows}
    for stem, codes in (("ADE_train_00000001", first), ("ADE_train_00000002", second)):
        row = rows[f"ADE/training/urban/street/{stem}"]
        assert row.image == street / f"{stem}.jpg"
        expected = np.vectorize(index_of.get)(codes)
        np.testing.assert_array_equal(read_mask(row.mask), expected)


def test_a_split_imported_apart_keeps_the_first_imports_indices_with_labels(tmp_path, cli):
    """Training and validation imported apart numbered the same class otherwise (sky 15 and 11), no word."""
    rng = np.random.default_rng(1)
    train_codes = _codes(rng, 40, 48, [0, 312, 2977, 401, 2420])
    val_codes = _codes(rng, 32, 40, [0, 2420, 401])  # sky and car only: 0 and 1 on their own
    _sample(tmp_path / "ADE/training/street", "ADE_train_00000001", train_codes, STREET, rng)
    _sample(tmp_path / "ADE/validation/street", "ADE_val_00000001", val_codes, {c: STREET[c] for c in (2420, 401)},
            rng)
    train = cli("import", "ade20k", tmp_path / "ADE/training", tmp_path / "train", "-q")
    assert train.exit_code == 0 and "import it with --labels DEST/palette.json" in train.output
    alone = import_annotations("ade20k", tmp_path / "ADE/validation", tmp_path / "val_alone", quiet=True)
    assert [c.id for c in load_palette(tmp_path / "val_alone/palette.json").classes if not c.ignore] == [401, 2420]
    val = cli("import", "ade20k", tmp_path / "ADE/validation", tmp_path / "val", "--labels",
              tmp_path / "train/palette.json", "-q")
    assert val.exit_code == 0 and "--labels" not in val.output
    index_of = {code: i for i, code in enumerate(sorted(STREET))} | {0: 255}  # the training import's numbering
    row = read_manifest(tmp_path / "val/manifest.csv").rows[0]
    np.testing.assert_array_equal(read_mask(row.mask), np.vectorize(index_of.get)(val_codes))
    assert load_palette(tmp_path / "val/palette.json") == load_palette(tmp_path / "train/palette.json")
    assert alone.converted == 1
    refused = cli("import", "ade20k", tmp_path / "ADE/training", tmp_path / "x", "--labels",
                  tmp_path / "val_alone/palette.json", "-q")
    assert refused.exit_code == 2 and "2 class code(s) of these files are not in it: 312 (building, edifice)" \
        in refused.output


def test_beyond_255_classes_the_maps_are_16_bit_and_a_set_without_json_gets_code_names(tmp_path):
    rng = np.random.default_rng(1)
    codes = np.arange(1, 301).reshape(15, 20).repeat(2, axis=0).repeat(2, axis=1)  # 300 classes, codes > 255 too
    _sample(tmp_path / "data", "ADE_val_00000001", codes, None, rng)
    report = import_annotations("ade20k", tmp_path / "data", tmp_path / "out", quiet=True)
    assert any("300 class code(s) no x.json names (e.g. 1): called class_<code>" in n for n in report.notes)
    palette = load_palette(tmp_path / "out" / "palette.json")
    assert palette.ignore_index == 65535
    assert [c.name for c in palette.classes if not c.ignore][:2] == ["class_1", "class_2"]
    labels = read_mask(tmp_path / "out" / "labels" / "ADE_val_00000001.png")
    assert labels.dtype == np.uint16
    np.testing.assert_array_equal(labels, codes - 1)


def test_a_file_that_is_no_code_and_an_image_missing_are_one_line_each(tmp_path, cli):
    rng, data = np.random.default_rng(2), tmp_path / "data"
    _sample(data, "ADE_train_00000001", _codes(rng, 32, 32, [312, 2977]), {312: "building", 2977: "wall"}, rng)
    _sample(data, "ADE_train_00000002", _codes(rng, 32, 32, [312]), {312: "building"}, rng)
    Image.fromarray(np.full((32, 32, 3), 37, np.uint8)).save(data / "ADE_train_00000002_seg.png")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(data / "ADE_train_00000003_seg.png")
    res = cli("import", "ade20k", data, tmp_path / "out")
    assert res.exit_code == 1
    assert (f"{data / 'ADE_train_00000002_seg.png'}: not an ADE20K _seg.png: red values must be multiples of "
            "10 (class codes), found 37") in res.output
    assert f"{data / 'ADE_train_00000003_seg.png'}: no image ADE_train_00000003.jpg beside it" in res.output
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["ADE_train_00000001"]


def test_scan_palette_infer_and_masks2labels_point_to_the_import(tmp_path, cli):
    """Read as colours, each class is as many colours as it has instances: infer made 4 classes 12 and said
    nothing."""
    rng = np.random.default_rng(3)
    for n in range(2):
        _sample(tmp_path / "data", f"ADE_train_0000000{n}", _codes(rng, 40, 40, sorted(STREET)), STREET, rng)
    res = cli("scan", tmp_path / "data", "-o", tmp_path / "m.csv")
    assert "2 masks (e.g. " in res.output and "are ADE20K full-release _seg.png files" in res.output
    res = cli("palette", "infer", tmp_path / "m.csv", "-o", tmp_path / "p.json")
    assert "so the 16 colours are 4 classes split by instance; `dataprep import ade20k ROOT DEST`" in res.output
    res = cli("masks2labels", "-p", "ade20k", tmp_path / "m.csv", tmp_path / "labels")
    assert res.exit_code == 1
    assert "an ADE20K full-release mask, whose colours are codes" in res.output
    res = cli("masks2labels", "-p", "ade20k", "--unknown", "nearest", tmp_path / "m.csv", tmp_path / "near")
    assert res.exit_code == 1 and "convert the set with `dataprep import ade20k ROOT DEST`" in res.output

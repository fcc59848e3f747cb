"""Further masks of one image (BUSI: `benign (4)_mask_1.png` beside `benign (4)_mask.png`, a file per lesion):
scan lists them in the row's `extra_masks` column, every reader merges them, and commands that would drop them
refuse the row."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep.errors import DataprepError
from dataprep.extra_masks import EXTRA_MASKS_COLUMN, extra_mask_paths, merge_mask
from dataprep.labels import masks_to_labels
from dataprep.manifest import read_manifest, write_manifest
from dataprep.resizing import ResizeTarget, resize_manifest
from dataprep.sampleio import load_row_mask
from dataprep.scan import scan
from dataprep.splits import class_pixel_matrix
from dataprep.stats import collect_stats
from dataprep.tiling import tile_manifest

W, H = 40, 30
PALETTE = {"name": "lesion", "ignore_index": 254, "classes": [
    {"name": "background", "color": [0, 0, 0], "index": 0}, {"name": "lesion", "color": [255, 255, 255], "index": 1}]}


def _blob(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[y0:y1, x0:x1] = 255
    return mask


def _busi(root: Path) -> dict[str, list[np.ndarray]]:
    """A BUSI-like tree: `benign/` with photos and 0/255 masks side by side, two images with further lesions."""
    lesions = {
        "benign (1)": [_blob(2, 2, 10, 10)],
        "benign (4)": [_blob(2, 2, 10, 10), _blob(20, 5, 30, 12), _blob(5, 20, 12, 28)],
        "benign (5)": [_blob(0, 0, 6, 6), _blob(4, 4, 12, 12)],  # lesions that touch: the same value, no clash
    }
    folder = root / "benign"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, masks in lesions.items():
        Image.fromarray(rng.integers(0, 255, (H, W), np.uint8)).save(folder / f"{name}.png")
        for i, mask in enumerate(masks):
            Image.fromarray(mask).save(folder / (f"{name}_mask.png" if i == 0 else f"{name}_mask_{i}.png"))
    return lesions


def _union(masks: list[np.ndarray]) -> np.ndarray:
    return np.maximum.reduce(masks)


def test_scan_lists_further_masks_in_number_order(tmp_path):
    _busi(tmp_path)
    folder = tmp_path / "benign"
    Image.fromarray(_blob(1, 1, 3, 3)).save(folder / "benign (4)_mask_10.png")  # after _2, not between _1 and _2
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["benign/benign (1)", "benign/benign (4)", "benign/benign (5)"]
    columns = {r.id.split("/")[1]: r.extra[EXTRA_MASKS_COLUMN] for r in result.rows}
    assert columns["benign (1)"] == ""
    assert json.loads(columns["benign (4)"]) == ["benign (4)_mask_1.png", "benign (4)_mask_2.png",
                                                 "benign (4)_mask_10.png"]
    assert sorted(w.path for w in result.warnings if w.kind == "extra_mask") == [
        "benign/benign (4)_mask_1.png", "benign/benign (4)_mask_10.png", "benign/benign (4)_mask_2.png",
        "benign/benign (5)_mask_1.png"]
    assert not result.problems


def test_every_reader_gets_the_union_wherever_the_manifest_is_written(tmp_path):
    lesions = _busi(tmp_path / "data")
    rows = scan(tmp_path / "data").rows
    # Names are relative to the mask's folder: a manifest written elsewhere still finds them.
    moved = write_manifest(rows, tmp_path / "elsewhere" / "deep" / "manifest.csv", columns=[EXTRA_MASKS_COLUMN])
    for row in read_manifest(moved):
        assert np.array_equal(load_row_mask(row), _union(lesions[row.id.split("/")[1]])), row.id


def test_masks2labels_merges_them_and_its_manifest_has_none(tmp_path):
    lesions = _busi(tmp_path / "data")
    manifest = write_manifest(scan(tmp_path / "data").rows, tmp_path / "manifest.csv", columns=[EXTRA_MASKS_COLUMN])
    (tmp_path / "palette.json").write_text(json.dumps(PALETTE))
    report = masks_to_labels(manifest, tmp_path / "labels", tmp_path / "palette.json", remap="255:1", quiet=True)
    assert report.converted == 3
    out = read_manifest(report.manifest_path)
    assert EXTRA_MASKS_COLUMN not in out.extra_columns
    for row in out:
        expected = (_union(lesions[row.id.split("/")[1]]) == 255).astype(np.uint8)
        assert np.array_equal(np.asarray(Image.open(row.mask)), expected), row.id
    assert report.pixel_counts[1] == sum(int((_union(m) == 255).sum()) for m in lesions.values())


def test_masks2labels_redoes_a_label_map_when_an_extra_mask_changed(tmp_path):
    lesions = _busi(tmp_path / "data")
    manifest = write_manifest(scan(tmp_path / "data").rows, tmp_path / "manifest.csv", columns=[EXTRA_MASKS_COLUMN])
    (tmp_path / "palette.json").write_text(json.dumps(PALETTE))
    masks_to_labels(manifest, tmp_path / "labels", tmp_path / "palette.json", remap="255:1", quiet=True)
    extra = tmp_path / "data" / "benign" / "benign (4)_mask_2.png"
    lesions["benign (4)"][2] = _blob(30, 20, 38, 28)
    Image.fromarray(lesions["benign (4)"][2]).save(extra)
    later = os.stat(tmp_path / "labels" / "benign (4)_mask.png").st_mtime_ns + 10**9
    os.utime(extra, ns=(later, later))
    report = masks_to_labels(manifest, tmp_path / "labels", tmp_path / "palette.json", remap="255:1", quiet=True)
    assert (report.converted, report.skipped) == (1, 2)
    labels = np.asarray(Image.open(tmp_path / "labels" / "benign (4)_mask.png"))
    assert np.array_equal(labels, (_union(lesions["benign (4)"]) == 255).astype(np.uint8))


def test_kfold_counts_the_merged_classes(tmp_path):
    """Stratified folds count class pixels per row: an extra mask's lesion counts too."""
    lesions = _busi(tmp_path / "data")
    manifest = write_manifest(scan(tmp_path / "data").rows, tmp_path / "manifest.csv", columns=[EXTRA_MASKS_COLUMN])
    (tmp_path / "palette.json").write_text(json.dumps(PALETTE))
    labels = masks_to_labels(manifest, tmp_path / "labels", tmp_path / "palette.json", remap="255:1", quiet=True)
    # The raw rows (0/255) with their extras count the same lesion pixels as the merged label maps.
    raw = class_pixel_matrix(read_manifest(manifest).rows, num_classes=256, ignore_index=None)[0]
    merged = class_pixel_matrix(read_manifest(labels.manifest_path).rows, num_classes=2, ignore_index=None)[0]
    assert np.array_equal(raw[:, 255], merged[:, 1])
    assert int(raw[:, 255].sum()) == sum(int((_union(m) == 255).sum()) for m in lesions.values())


def test_commands_that_write_masks_refuse_rows_with_extra_masks(tmp_path):
    _busi(tmp_path / "data")
    manifest = write_manifest(scan(tmp_path / "data").rows, tmp_path / "manifest.csv", columns=[EXTRA_MASKS_COLUMN])
    with pytest.raises(DataprepError, match="benign \\(4\\)_mask.png: has further masks .* tile would leave out"):
        tile_manifest(manifest, tmp_path / "tiles", size=16)
    with pytest.raises(DataprepError, match="resize would leave out; run `dataprep masks2labels` first"):
        resize_manifest(manifest, tmp_path / "resized", ResizeTarget(size=(15, 20)))
    assert not (tmp_path / "tiles").exists() and not (tmp_path / "resized").exists()


def test_pixels_two_masks_label_differently_are_refused(tmp_path):
    a = np.zeros((4, 5), np.uint8)
    a[1, 1:3] = 2
    b = np.zeros((4, 5), np.uint8)
    b[1, 2:4] = 3
    with pytest.raises(DataprepError, match=r"1 pixels \(the first at x=2, y=1\) hold 3 here and 2 in its main"):
        merge_mask(a, b, tmp_path / "a.png", tmp_path / "b.png")
    b[1, 2] = 2  # the same class where both label it: fine
    merged = merge_mask(a, b, tmp_path / "a.png", tmp_path / "b.png")
    assert merged.tolist()[1] == [0, 2, 2, 3, 0] and a[1, 3] == 0  # the input is not changed
    with pytest.raises(DataprepError, match="extra mask is 5x3 but its main mask a.png is 5x4"):
        merge_mask(a, b[:3], tmp_path / "a.png", tmp_path / "b.png")


def test_colour_masks_merge_their_non_black_pixels(tmp_path):
    a = np.zeros((3, 3, 3), np.uint8)
    a[0, 0] = (128, 0, 0)
    b = np.zeros((3, 3, 3), np.uint8)
    b[2, 2] = (0, 128, 0)
    merged = merge_mask(a, b, tmp_path / "a.png", tmp_path / "b.png")
    assert merged[0, 0].tolist() == [128, 0, 0] and merged[2, 2].tolist() == [0, 128, 0]
    assert int((merged.any(axis=2)).sum()) == 2


def test_a_further_mask_of_another_size_leaves_the_pair_out_at_scan(tmp_path):
    _busi(tmp_path)
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(tmp_path / "benign" / "benign (5)_mask_1.png")
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["benign/benign (1)", "benign/benign (4)"]
    assert [(p.path, p.kind) for p in result.problems] == [("benign/benign (5)_mask_1.png", "size_mismatch")]
    assert "extra mask is 40x31 but mask benign/benign (5)_mask.png is 40x30" in result.problems[0].reason


@pytest.mark.parametrize("value", ['["../x.png"]', '"x.png"', "x.png", '[""]'])
def test_a_column_that_is_not_a_list_of_names_in_the_folder_is_refused(tmp_path, value):
    _busi(tmp_path / "data")
    row = scan(tmp_path / "data").rows[0].with_extra(**{EXTRA_MASKS_COLUMN: value})
    with pytest.raises(DataprepError, match=EXTRA_MASKS_COLUMN):
        extra_mask_paths(row)


def _busi_as_stored(root: Path) -> np.ndarray:
    """BUSI's own formats: 1-bit main masks (read as 0/1), an extra lesion saved as opaque RGBA black and white."""
    folder = root / "benign"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(folder / "benign (4).png")
    Image.fromarray(_blob(2, 2, 10, 10) > 0).save(folder / "benign (4)_mask.png")  # mode "1"
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[20:28, 20:30, :3] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "benign (4)_mask_1.png")
    return (_blob(2, 2, 10, 10) > 0) | (_blob(20, 20, 30, 28) > 0)


def test_busi_1_bit_masks_take_an_rgba_lesion_as_their_foreground(tmp_path):
    from dataprep.palette import infer_palette

    expected = _busi_as_stored(tmp_path / "data")
    manifest = write_manifest(scan(tmp_path / "data").rows, tmp_path / "manifest.csv", columns=[EXTRA_MASKS_COLUMN])
    row = read_manifest(manifest)[0]
    assert np.array_equal(load_row_mask(row), expected.astype(np.uint8))
    # palette infer counts the row's union: two values, not a third (255) from the RGBA file
    inferred = infer_palette(manifest, quiet=True)
    assert [(c.index, c.pixels) for c in inferred.classes] == [(0, int((~expected).sum())), (1, int(expected.sum()))]
    inferred.save(tmp_path / "palette.json")
    report = masks_to_labels(manifest, tmp_path / "labels", tmp_path / "palette.json", quiet=True)
    labels = np.asarray(Image.open(tmp_path / "labels" / "benign (4)_mask.png"))
    assert np.array_equal(labels, expected.astype(np.uint8)) and report.ignored_pixels == 0


def test_a_translucent_or_multi_class_extra_of_another_format_is_refused(tmp_path):
    main = (_blob(2, 2, 10, 10) > 0).astype(np.uint8)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 128
    with pytest.raises(DataprepError, match="b.png: has transparent pixels"):
        merge_mask(main, rgba, tmp_path / "a.png", tmp_path / "b.png")
    two = np.zeros((H, W), np.uint16)
    two[0, 0], two[1, 1] = 3, 4
    with pytest.raises(DataprepError, match="extra mask holds 2 classes, stored as 40x30 uint16"):
        merge_mask(main, two, tmp_path / "a.png", tmp_path / "b.png")


def test_extra_masks_are_inputs_and_part_of_the_files_stats_describe(tmp_path):
    from dataprep.data.sampler import class_presence
    from dataprep.paths import Inputs
    from dataprep.stats_origin import files_size

    _busi(tmp_path / "data")
    manifest = read_manifest(write_manifest(scan(tmp_path / "data").rows, tmp_path / "manifest.csv",
                                            columns=[EXTRA_MASKS_COLUMN]))
    extra = tmp_path / "data" / "benign" / "benign (4)_mask_2.png"
    assert Inputs.of_manifest(manifest).holds(extra)
    files = [Path(p) for r in manifest for p in (r.image_str, r.mask_str, *extra_mask_paths(r))]
    assert len(files) == 9 and files_size(manifest.rows) == sum(f.stat().st_size for f in files)
    # class-balanced sampling sees a class that only an extra mask holds
    only_extra = np.zeros((H, W), np.uint8)
    only_extra[0, 0] = 7
    Image.fromarray(only_extra).save(extra)
    presence = class_presence(manifest.rows, num_classes=8)
    assert presence[:, 7].tolist() == [False, True, False]


def _index_set(root: Path) -> tuple[Path, np.ndarray]:
    """One image whose main label map holds class 1 and whose extra mask holds class 2 elsewhere."""
    folder = root / "data"
    folder.mkdir(parents=True)
    Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(folder / "x.png")
    main, extra = np.zeros((H, W), np.uint8), np.zeros((H, W), np.uint8)
    main[2:10, 2:10] = 1
    extra[15:25, 20:36] = 2
    Image.fromarray(main).save(folder / "x_mask.png")
    Image.fromarray(extra).save(folder / "x_mask_1.png")
    manifest = write_manifest(scan(folder).rows, root / "manifest.csv", columns=[EXTRA_MASKS_COLUMN])
    return manifest, main | extra


def test_offline_augment_reads_the_union(tmp_path):
    from dataprep.augment import augment_manifest

    manifest, union = _index_set(tmp_path)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"seed: 0\nsize: [{H}, {W}]\nvariants: 1\nignore_index: 255\noutput: {{image_format: png}}\n"
                      "steps:\n  - op: hflip\n    p: 1.0\n")
    summary = augment_manifest(manifest, recipe, tmp_path / "out", quiet=True)
    assert summary.errors == []
    out = read_manifest(summary.manifest)
    assert np.array_equal(np.asarray(Image.open(out[0].mask)), union[:, ::-1])
    # The output's mask holds the union: its row names no further masks, which readers sought beside it and failed.
    assert EXTRA_MASKS_COLUMN not in out[0].extra
    assert collect_stats(summary.manifest).errors == []


def test_preview_shows_the_union(tmp_path):
    from dataprep.preview import make_contact_sheet

    manifest, _ = _index_set(tmp_path)
    palette = {"name": "p", "ignore_index": 255, "classes": [
        {"name": "bg", "color": [0, 0, 0], "index": 0}, {"name": "a", "color": [0, 0, 250], "index": 1},
        {"name": "b", "color": [250, 0, 0], "index": 2}]}
    (tmp_path / "palette.json").write_text(json.dumps(palette))
    sheet = make_contact_sheet(manifest, n=1, palette=tmp_path / "palette.json")
    assert (np.abs(sheet.astype(int) - (250, 0, 0)).sum(axis=2) < 30).any()  # the extra mask's class, drawn


def test_palette_png_masks_merge_when_their_tables_agree(tmp_path):
    """VOC-style palette PNGs: an extra mask drawn with another colour table would mean other classes by the
    same indices; refused, naming the file."""
    from dataprep.io import write_mask
    from dataprep.palette import builtin_palette

    manifest, union = _index_set(tmp_path)
    voc = builtin_palette("voc").label_palette().colour_table(256)
    folder = tmp_path / "data"
    write_mask(folder / "x_mask.png", np.asarray(Image.open(folder / "x_mask.png")), palette=voc)
    write_mask(folder / "x_mask_1.png", np.asarray(Image.open(folder / "x_mask_1.png")), palette=voc)
    report = masks_to_labels(manifest, tmp_path / "labels", "voc", quiet=True)
    assert report.converted == 1
    assert np.array_equal(np.asarray(Image.open(tmp_path / "labels" / "x_mask.png")), union)
    other = voc.copy()
    other[2] = (9, 9, 9)
    write_mask(folder / "x_mask_1.png", np.asarray(Image.open(folder / "x_mask_1.png")), palette=other)
    report = masks_to_labels(manifest, tmp_path / "labels2", "voc", quiet=True)
    assert report.failed == 1 and "x_mask_1.png: extra mask's PNG palette differs" in report.errors[0]

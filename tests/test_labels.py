"""masks2labels / labels2masks: exactness for every input mode, unknown colours, resume, layout, CLI."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dataprep.errors import DataprepError, UsageError
from dataprep.executor import ProcessExecutor, SerialExecutor
from dataprep.io import read_mask, write_image, write_mask
from dataprep.labels import (
    UnknownValuesError,
    colours_to_labels,
    labels_to_colours,
    labels_to_masks,
    mask_to_labels,
    masks_to_labels,
    parse_remap,
    values_to_labels,
)
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.palette import Palette, PaletteClass, builtin_palette, infer_palette, load_palette

RED, GREEN, BLUE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)
RGB_PALETTE = load_palette({"name": "rgb", "ignore_index": 255, "classes": [
    {"name": "red", "color": list(RED), "index": 1},
    {"name": "green", "color": list(GREEN), "index": 2},
    {"name": "blue", "color": list(BLUE), "index": 0},
    {"name": "void", "color": list(BLACK), "index": 255, "ignore": True},
]})


def _stripes() -> np.ndarray:
    """A 6x8 RGB mask with one stripe per palette colour."""
    m = np.zeros((6, 8, 3), np.uint8)
    m[:, 0:2], m[:, 2:4], m[:, 4:6] = RED, GREEN, BLUE
    return m


EXPECTED = np.repeat(np.array([[1, 1, 2, 2, 0, 0, 255, 255]], np.uint8), 6, axis=0)


def _reference(mask: np.ndarray, palette: Palette) -> np.ndarray:
    """The per-class loop users write by hand: slow, obviously right."""
    out = np.full(mask.shape[:2], 999, np.int64)
    for colour, index in palette.colour_to_index().items():
        out[np.all(mask[..., :3] == colour, axis=-1)] = index
    return out


# --------------------------------------------------------------------------- single masks


def test_colours_map_exactly_and_red_stays_red():
    labels, unknown = colours_to_labels(_stripes(), RGB_PALETTE)
    assert labels.dtype == np.uint8 and unknown == {}
    assert np.array_equal(labels, EXPECTED)


def test_bgr_never_leaks_through_files(tmp_path):
    # Written by PIL (RGB order on disk by definition), read back through dataprep.
    Image.fromarray(np.full((4, 5, 3), RED, np.uint8)).save(tmp_path / "red.png")
    report = masks_to_labels(tmp_path, tmp_path.parent / "red_out", RGB_PALETTE)
    labels = np.asarray(Image.open(tmp_path.parent / "red_out" / "red.png"))
    assert report.converted == 1 and np.all(labels == 1)  # red's index, not blue's (0)
    labels_to_masks(tmp_path.parent / "red_out", tmp_path.parent / "red_back", RGB_PALETTE)
    back = np.asarray(Image.open(tmp_path.parent / "red_back" / "red.png").convert("RGB"))
    assert np.all(back == RED)


def test_matches_the_per_class_loop_on_random_masks():
    rng = np.random.default_rng(7)
    pal = builtin_palette("cityscapes")
    colours = np.array(list(pal.colour_to_index()), np.uint8)
    mask = colours[rng.integers(0, len(colours), size=(64, 96))]
    labels, _ = colours_to_labels(mask, pal)
    assert np.array_equal(labels, _reference(mask, pal))


def test_unknown_colour_error_lists_colours_and_counts():
    mask = _stripes()
    mask[0, 0] = (1, 2, 3)
    mask[1:3, 0] = (9, 9, 9)
    with pytest.raises(UnknownValuesError) as err:
        colours_to_labels(mask, RGB_PALETTE)
    message = str(err.value)
    assert "3 pixels in 2 colours not in palette 'rgb'" in message
    assert "(9,9,9) x 2" in message and "(1,2,3) x 1" in message
    assert err.value.counts == {(9, 9, 9): 2, (1, 2, 3): 1}


def test_unknown_colour_ignore_and_nearest():
    mask = _stripes()
    mask[0, 0] = (250, 10, 5)  # nearly red
    mask[0, 2] = (10, 240, 30)  # nearly green
    ignored, unknown = colours_to_labels(mask, RGB_PALETTE, unknown="ignore")
    assert ignored[0, 0] == 255 and ignored[0, 2] == 255 and unknown == {(250, 10, 5): 1, (10, 240, 30): 1}
    nearest, _ = colours_to_labels(mask, RGB_PALETTE, unknown="nearest")
    assert nearest[0, 0] == 1 and nearest[0, 2] == 2
    rest = np.ones_like(EXPECTED, bool)
    rest[0, 0] = rest[0, 2] = False
    assert np.array_equal(nearest[rest], EXPECTED[rest]) and np.array_equal(ignored[rest], EXPECTED[rest])


def test_rgba_alpha_zero_is_ignored():
    rgba = np.dstack([_stripes(), np.full((6, 8), 255, np.uint8)])
    rgba[:, 0, 3] = 0  # transparent red
    rgba[0, 7] = (7, 7, 7, 0)  # transparent and not even a palette colour
    result = mask_to_labels(rgba, RGB_PALETTE)
    expected = EXPECTED.copy()
    expected[:, 0] = 255
    assert np.array_equal(result.labels, expected)
    assert result.counts[1] == 6 and result.counts[255] == 6 + 12


def test_index_masks_keep_values_and_reject_unknown_ones():
    values = np.array([[0, 1, 2], [255, 2, 1]], np.uint8)
    labels, unknown = values_to_labels(values, RGB_PALETTE)
    assert np.array_equal(labels, values) and unknown == {}
    with pytest.raises(UnknownValuesError, match=r"1 pixels in 1 value not in palette 'rgb': value 7 x 1"):
        values_to_labels(np.array([[0, 7]], np.uint8), RGB_PALETTE)
    ignored, unknown = values_to_labels(np.array([[0, 7]], np.uint8), RGB_PALETTE, unknown="ignore")
    assert ignored.tolist() == [[0, 255]] and unknown == {7: 1}


def test_remap_changes_stored_values():
    values = np.array([[0, 11, 3]], np.uint8)
    labels, _ = values_to_labels(values, RGB_PALETTE, remap={11: 255, 3: 2})
    assert labels.tolist() == [[0, 255, 2]]
    with pytest.raises(UsageError, match="neither class indices"):
        values_to_labels(values, RGB_PALETTE, remap={11: 42})
    camvid, _ = values_to_labels(np.array([[0, 10, 11]], np.uint8), builtin_palette("camvid11"), remap="ids")
    assert camvid.tolist() == [[0, 10, 255]]
    cityscapes, _ = values_to_labels(np.array([[7, 26, 3, 18]], np.uint8), builtin_palette("cityscapes"), remap="ids")
    assert cityscapes.tolist() == [[0, 13, 255, 255]]


def test_a_remap_on_colour_masks_is_warned_as_changing_nothing(tmp_path):
    """--remap 1:2 on RGB masks: they have no stored values to map, and the output was the same, without a word."""
    colours = np.zeros((4, 6, 3), np.uint8)
    colours[:, 3:] = RGB_PALETTE.classes[1].color
    write_image(tmp_path / "src" / "a.png", colours)
    (tmp_path / "pal.json").write_text(json.dumps(RGB_PALETTE.to_dict()))
    remapped = masks_to_labels(tmp_path / "src", tmp_path / "out", tmp_path / "pal.json", remap="1:2", quiet=True)
    assert [w for w in remapped.warnings if w.startswith("--remap maps the stored values of index masks; 1 mask ")
            and "was converted by colour, and it changed nothing there" in w]
    plain = masks_to_labels(tmp_path / "src", tmp_path / "out2", tmp_path / "pal.json", quiet=True)
    assert not [w for w in plain.warnings if "--remap" in w]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "a.png"), read_mask(tmp_path / "out2" / "a.png"))
    values = np.zeros((4, 6), np.uint8)
    values[:, 3:] = 1
    write_mask(tmp_path / "idx" / "a.png", values)
    indexed = masks_to_labels(tmp_path / "idx", tmp_path / "out3", tmp_path / "pal.json", remap="1:2", quiet=True)
    assert not [w for w in indexed.warnings if "--remap" in w] and read_mask(tmp_path / "out3" / "a.png").max() == 2


def test_a_remap_value_no_mask_holds_is_warned(tmp_path):
    """--remap -1:2 on PNG masks (or a typo'd value) changed nothing, exit 0, no word."""
    values = np.zeros((4, 6), np.uint8)
    values[:, 3:] = 1
    write_mask(tmp_path / "idx" / "a.png", values)
    write_mask(tmp_path / "idx" / "b.png", np.full((4, 6), 2, np.uint8))
    (tmp_path / "pal.json").write_text(json.dumps(RGB_PALETTE.to_dict()))
    report = masks_to_labels(tmp_path / "idx", tmp_path / "o1", tmp_path / "pal.json", remap="-1:2,7:1,2:0",
                             quiet=True)
    assert [w for w in report.warnings if w.startswith("--remap names value(s) -1, 7 that no mask held")]
    held = masks_to_labels(tmp_path / "idx", tmp_path / "o2", tmp_path / "pal.json", remap="1:2,2:0", quiet=True)
    assert not [w for w in held.warnings if "no mask held" in w]  # each value held by one mask or the other


def test_reduce_zero_shifts_classes_down_and_makes_zero_ignore():
    """ADE20K stores class k as k + 1 and 0 as 'not labelled' (MMSegmentation's reduce_zero_label): 0 -> ignore,
    k + 1 -> k, the ignore value stays; a value past the last class is unknown, never wrapped into one."""
    values = np.array([[0, 1, 2, 3, 255]], np.uint8)
    labels, _ = values_to_labels(values, RGB_PALETTE, remap="reduce-zero")
    assert labels.tolist() == [[255, 0, 1, 2, 255]]
    with pytest.raises(UnknownValuesError, match="value 4 x 1"):
        values_to_labels(np.array([[1, 4]], np.uint8), RGB_PALETTE, remap="reduce-zero")
    assert parse_remap("reduce-zero") == "reduce-zero"


def test_reduce_zero_runs_name_the_zeros_they_ignored(tmp_path):
    mask = np.zeros((20, 20), np.uint8)
    mask[:, 10:] = 2  # half 'not labelled', the rest classes 1 and 0
    mask[15:, 10:] = 1
    write_mask(tmp_path / "src" / "a.png", mask)
    (tmp_path / "pal.json").write_text(json.dumps(RGB_PALETTE.to_dict()))
    report = masks_to_labels(tmp_path / "src", tmp_path / "out", tmp_path / "pal.json", remap="reduce-zero")
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "a.png"), np.where(mask == 0, 255, mask - 1))
    assert report.warnings == ["50.0% of the pixels became the ignore index 255 (in large regions, not thin "
                               "boundaries), so they will not be trained on; --remap reduce-zero made every stored 0 "
                               "('not labelled') ignore; check that 0 means that here"]


def test_parse_remap_forms(tmp_path):
    (tmp_path / "r.yaml").write_text("11: 255\n3: 1\n")
    assert parse_remap(tmp_path / "r.yaml") == {11: 255, 3: 1}
    assert parse_remap("-1:255, 4:0") == {-1: 255, 4: 0}
    assert parse_remap("ids") == "ids" and parse_remap(None) is None
    with pytest.raises(UsageError, match="--remap must be .*'11=255'"):
        parse_remap("11=255")
    # ranges: the object ids of instance masks (ajbrookhouse/WSU_PlantBio_ML's 104 chloroplast ids) in one term
    assert parse_remap("0:0,1-104:1") == {0: 0, **dict.fromkeys(range(1, 105), 1)}
    (tmp_path / "r.json").write_text('{"1-3": 1, "-1": 255}')
    assert parse_remap(tmp_path / "r.json") == {1: 1, 2: 1, 3: 1, -1: 255}
    with pytest.raises(UsageError, match="range 9-2 runs backwards"):
        parse_remap("9-2:1")
    ids = np.array([[0, 1, 57], [104, 3, 0]], np.uint16)
    np.testing.assert_array_equal(values_to_labels(ids, builtin_palette("voc"), remap=parse_remap("1-104:1"))[0],
                                  (ids > 0).astype(np.uint8))


def test_labelids_with_the_cityscapes_palette_point_to_remap_ids_not_unknown_ignore():
    """Real case: Cityscapes `labelIds` masks given with the cityscapes palette. The error said
    `--unknown ignore`, which keeps the ids that happen to be valid trainIds (building 11 becomes
    person) and ignores the rest: silently wrong classes. Unknown values that are all palette ids
    must point to `--remap ids`, and only to it."""
    city = builtin_palette("cityscapes")
    ids = np.array([[7, 7, 26, 26], [11, 11, 0, 24]], np.uint8)  # road, car, building, unlabeled, person
    with pytest.raises(UnknownValuesError) as exc:
        values_to_labels(ids, city)
    assert "--remap ids" in exc.value.reason and "--unknown ignore" not in exc.value.reason
    labels, _ = values_to_labels(ids, city, remap="ids")
    assert labels.tolist() == [[0, 0, 13, 13], [2, 2, 255, 11]]
    # Values that are not ids keep the general advice.
    with pytest.raises(UnknownValuesError, match="--unknown ignore"):
        values_to_labels(np.array([[0, 200]], np.uint8), city)


def test_a_labeltrainids_file_is_never_pointed_to_remap_ids(tmp_path):
    """datumaro's Cityscapes sample stores trainId 19 in _gtFine_labelTrainIds; the error said `--remap ids`, and
    following it turned its train ids 19/14/11 into ids: person became building, exit 0."""
    train_ids = np.array([[19, 19, 14], [14, 11, 0]], np.uint8)
    for name in ("x_gtFine_labelTrainIds.png", "x_gtFine_labelIds.png"):
        write_mask(tmp_path / name.split("_")[2][:-4] / name, train_ids)
    report = masks_to_labels(tmp_path / "labelTrainIds", tmp_path / "out", "cityscapes")
    assert report.failed == 1 and "labelTrainIds map" in report.errors[0] and "use --remap ids" not in report.errors[0]
    with pytest.raises(UsageError, match="a Cityscapes labelIds map .* use --remap ids") as refused:  # ids
        masks_to_labels(tmp_path / "labelIds", tmp_path / "out2", "cityscapes")
    assert str(tmp_path / "labelIds/x_gtFine_labelIds.png") in str(refused.value)
    # The other way: scan pairs _labelTrainIds first, and `--remap ids` (labelIds' recipe) read each train id as
    # an id: road (0) became ignore, traffic sign (7) road, 65% of the pixels wrong, exit 0.
    with pytest.raises(UsageError, match=r"a labelTrainIds map .* drop --remap ids") as refused:
        masks_to_labels(tmp_path / "labelTrainIds", tmp_path / "out3", "cityscapes", remap="ids")
    assert str(refused.value).startswith(str(tmp_path / "labelTrainIds/x_gtFine_labelTrainIds.png"))
    assert not (tmp_path / "out3").exists()


def test_cityscapes_instance_maps_are_refused_by_name_and_train_ids_voids_are_no_warning(tmp_path):
    """A Cityscapes instanceIds map mostly holds label ids below 1000 (road 7, building 11) and a car's 26000 + k:
    the first error offered --unknown ignore, and following it made road traffic sign and building person, exit 0.
    datumaro's instanceIds of label ids alone are class masks. Train ids store the palette's 15 void classes (ego
    vehicle, unlabeled, ...) at 255 by design: the correct conversion warned that they 'will not be trained on' and
    told to remap 255 to truck."""
    ids = np.full((32, 64), 7, np.uint16)  # road
    ids[:8], ids[8:24, :40], ids[24:, 40:] = 11, 1, 26000  # building, ego vehicle, a car
    write_mask(tmp_path / "inst" / "x_gtFine_instanceIds.png", ids)
    write_mask(tmp_path / "inst" / "y_gtFine_instanceIds.png", np.array([[3, 3, 27], [31, 12, 24]], np.uint8))
    for remap in (None, "ids"):
        report = masks_to_labels(tmp_path / "inst", tmp_path / f"out_{remap}", "cityscapes", remap=remap,
                                 unknown="ignore", quiet=True)
        assert report.failed == 1 and report.errors[0].startswith(
            f"{tmp_path / 'inst' / 'x_gtFine_instanceIds.png'}: a Cityscapes instanceIds map")
        assert "convert the _gtFine_labelTrainIds masks" in report.errors[0]
    city = builtin_palette("cityscapes")
    np.testing.assert_array_equal(read_mask(tmp_path / "out_ids" / "y_gtFine_instanceIds.png"),
                                  np.vectorize(lambda v: city.ids().get(int(v), 255))([[3, 3, 27], [31, 12, 24]]))
    colour = labels_to_colours(np.zeros((4, 4), np.uint8), city)  # a colour mask under that name: no instance map
    write_mask(tmp_path / "colour_inst" / "z_gtFine_instanceIds.png", colour)
    assert masks_to_labels(tmp_path / "colour_inst", tmp_path / "out_c", "cityscapes", quiet=True).converted == 1
    objects = np.zeros((8, 8), np.uint8)
    objects[2:5, 2:5], objects[5:, 5:] = 1, 2  # VOC's objects of one image, numbered
    write_mask(tmp_path / "voc" / "segmentationobject" / "2007_000032.png", objects)
    voc = masks_to_labels(tmp_path / "voc" / "segmentationobject", tmp_path / "out", "voc", quiet=True)
    assert voc.failed == 1 and "a VOC SegmentationObject mask" in voc.errors[0]
    city = builtin_palette("cityscapes")
    train = np.vectorize(lambda v: city.ids().get(26 if v >= 1000 else int(v), 255))(ids).astype(np.uint8)
    assert (train == 255).mean() > 0.1  # ego vehicle: a large void region
    write_mask(tmp_path / "train" / "x_gtFine_labelTrainIds.png", train)
    report = masks_to_labels(tmp_path / "train", tmp_path / "out2", "cityscapes", quiet=True)
    np.testing.assert_array_equal(read_mask(tmp_path / "out2" / "x_gtFine_labelTrainIds.png"), train)
    assert not report.warnings, report.warnings
    assert not any("converted by colour" in n for n in report.notes)
    colour = np.zeros((8, 8, 3), np.uint8)
    colour[:] = (153, 153, 153)  # pole's colour, which polegroup (ignored) shares in the colour maps
    write_mask(tmp_path / "colour" / "x_gtFine_color.png", colour)
    drawn = masks_to_labels(tmp_path / "colour", tmp_path / "out3", "cityscapes", quiet=True)
    assert ("1 mask(s) converted by colour: polegroup of palette 'cityscapes' share another class's colour, so their "
            "pixels are that class; masks of ids keep them apart") in drawn.notes
    own = Palette("own", (PaletteClass("pole", (153, 153, 153), 0), PaletteClass("void", None, 255, ignore=True, id=0)),
                  255)  # a void entry of no colour is no class's colour
    assert not any("converted by colour" in n for n in
                   masks_to_labels(tmp_path / "colour", tmp_path / "out4", own, quiet=True).notes)


@pytest.mark.parametrize("name, palette, ids", [
    ("aachen_000000_000019_gtFine_labelIds.png", "cityscapes", [[0, 7, 8], [11, 12, 17]]),  # all below 19
    ("ADE_train_00000001.png", "ade20k", [[0, 1, 2], [3, 4, 150]]),  # 0 'other', 1 wall, 2 building...
])
def test_masks_named_as_id_maps_are_refused_without_remap_ids(tmp_path, name, palette, ids):
    """Masks whose ids were all valid indices converted as indices, exit 0: Cityscapes labelIds below 19 (road 7
    became traffic sign), ADEChallengeData2016's 0..150 one class off (wall became building, 'other' wall)."""
    write_mask(tmp_path / "masks" / name, np.array(ids, np.uint8))
    with pytest.raises(UsageError, match=r"as its name says \(1 of 1 masks are named so\); use --remap ids") as exc:
        masks_to_labels(tmp_path / "masks", tmp_path / "out", palette)
    assert str(exc.value).startswith(str(tmp_path / "masks" / name)) and not (tmp_path / "out").exists()
    masks_to_labels(tmp_path / "masks", tmp_path / "out", palette, remap="ids")
    pal = builtin_palette(palette)
    id_to_index = pal.ids()
    expected = [[id_to_index.get(v, 255) for v in row] for row in ids]  # the palette's own id table, by hand
    assert read_mask(tmp_path / "out" / name).tolist() == expected
    if palette == "ade20k":
        assert expected == [[255, 0, 1], [2, 3, 149]]



def test_label_maps_of_an_ade20k_import_are_not_taken_for_scene_parsing_masks(tmp_path):
    """`import ade20k` writes labels/.../ADE_train_00016869.png under a palette of ADE's class codes (ids 64,
    77, ...): masks2labels refused its own outputs as ADEChallengeData2016 masks."""
    palette = Palette("ade_codes", [PaletteClass("wall", (10, 10, 10), 0, id=2977),
                                    PaletteClass("sky", (20, 20, 20), 1, id=2420)])
    write_mask(tmp_path / "labels" / "ADE_train_00016869.png", np.array([[0, 1], [1, 255]], np.uint8))
    report = masks_to_labels(tmp_path / "labels", tmp_path / "out", palette)
    assert report.converted == 1
    assert read_mask(tmp_path / "out" / "ADE_train_00016869.png").tolist() == [[0, 1], [1, 255]]


def test_masks_beside_others_that_failed_on_an_ignore_id_get_no_ids_warning(tmp_path):
    """camvid11's class ids are its indices (only void 11 differs): tiles without void converted right, and the
    warning said every pixel of them might be wrong."""
    write_mask(tmp_path / "masks/a.png", np.array([[0, 3, 10]], np.uint8))
    write_mask(tmp_path / "masks/b.png", np.array([[0, 11, 4]], np.uint8))
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", "camvid11")
    assert report.converted == 1 and report.failed == 1 and not [w for w in report.warnings if "failed as ids" in w]


def test_masks_converted_beside_others_that_failed_as_ids_get_a_warning(tmp_path):
    """Cityscapes labelIds renamed: those with sky or car (ids 23, 26) failed as ids, those without converted as
    train ids, every pixel wrong, and the summary said to rerun for the missing ones only."""
    write_mask(tmp_path / "masks/a.png", np.array([[7, 8, 11]], np.uint8))
    write_mask(tmp_path / "masks/b.png", np.array([[7, 23, 26]], np.uint8))
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", "cityscapes")
    assert report.converted == 1 and report.failed == 1
    assert ("1 mask(s) failed as ids of palette 'cityscapes', not indices; the 1 converted were read as indices: "
            "if they hold ids too, every pixel of them has the wrong class: rerun with --remap ids --overwrite"
            in report.warnings)


def test_masks_that_store_class_plus_one_are_named_and_the_converted_ones_warned(tmp_path):
    """LoveDA (0 no-data, 1..7 classes) under its 7-class palette: masks without agricultural (7) converted one
    class off, the others failed with "use --remap, --unknown ignore", and --unknown ignore made all of them one
    off, agricultural ignore."""
    palette = Palette("loveda", [PaletteClass(n, (i * 30, 0, 0), i) for i, n in enumerate(
        ["background", "building", "road", "water", "barren", "forest", "agricultural"])])
    a, b = np.array([[0, 1, 6]], np.uint8), np.array([[0, 2, 7]], np.uint8)
    write_mask(tmp_path / "masks/a.png", a)
    write_mask(tmp_path / "masks/b.png", b)
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", palette)
    assert report.converted == 1 and report.failed == 1
    assert "7 is one past the last class (6): a class the palette lacks (add it), a void value" in report.errors[0]
    assert report.errors[0].endswith("as masks that store class + 1 with 0 as no-data hold it (LoveDA, MMSeg's "
                                     "reduce_zero_label): --remap reduce-zero")
    assert any("rerun with --remap reduce-zero --overwrite" in w for w in report.warnings)
    again = masks_to_labels(tmp_path / "masks", tmp_path / "out", palette, remap="reduce-zero", overwrite=True)
    assert again.converted == 2
    for name, stored in (("a", a), ("b", b)):
        np.testing.assert_array_equal(read_mask(tmp_path / "out" / f"{name}.png"),
                                      np.where(stored == 0, 255, stored.astype(int) - 1))


def test_the_ignore_warning_names_what_the_masks_store_for_it(tmp_path):
    """Cityscapes trainIds masks (255 stored) were told "if value 0 is a class ... --remap 0:19" (the id of the
    palette's unlabeled entry; their 0 is road); RGB masks whose black is ignore were told to --remap 255."""
    trainids = np.zeros((20, 20), np.uint8)
    trainids[:, :12] = 255
    write_mask(tmp_path / "ids/a.png", trainids)
    (warning,) = masks_to_labels(tmp_path / "ids", tmp_path / "ids_out", "cityscapes").warnings
    assert "if value 255 is a class" in warning and "value 0" not in warning
    rgb = np.zeros((20, 20, 3), np.uint8)
    rgb[:, 12:] = (255, 0, 0)
    write_image(tmp_path / "rgb/a.png", rgb)
    palette = Palette("p", [PaletteClass("building", (255, 0, 0), 0), PaletteClass("car", (0, 0, 255), 1),
                            PaletteClass("boundary", (0, 0, 0), 255, ignore=True)])
    (warning,) = masks_to_labels(tmp_path / "rgb", tmp_path / "rgb_out", palette).warnings
    assert warning.endswith("they have the palette's ignore colour ((0, 0, 0)): if one is a class, give it a class "
                            "index in the palette") and "--remap" not in warning


def test_a_binary_mask_saved_as_16_bit_is_no_instance_map(tmp_path):
    """DRIVE-style vessel masks written as 0/65535: the error called them an instance map (255 x 256 + 255)."""
    mask = np.zeros((8, 8), np.uint16)
    mask[2:5, 3:7] = 65535
    write_mask(tmp_path / "masks/a.png", mask)
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", "binary")
    assert report.errors[0].endswith("65535 is the white of a binary mask saved as 16-bit (0/65535): --remap 65535:1")
    masks_to_labels(tmp_path / "masks", tmp_path / "fixed", "binary", remap={65535: 1})
    np.testing.assert_array_equal(read_mask(tmp_path / "fixed" / "a.png"), (mask == 65535).astype(np.uint8))
    ten = Palette("ten", [PaletteClass(f"c{i}", (i * 20, 0, 0), i) for i in range(10)])
    mask[0, :] = 9  # ten classes and 65535 no-data: not a binary white
    write_mask(tmp_path / "ten/a.png", mask)
    (error,) = masks_to_labels(tmp_path / "ten", tmp_path / "ten_out", ten).errors
    assert error.endswith("65535 is the usual no-data value of 16-bit masks: --remap 65535:255 (ignore)")


def test_transparent_backgrounds_are_named_in_the_ignore_warning(tmp_path):
    """Lesion masks drawn opaque white on a see-through background: every background pixel became ignore, and
    the warning named the palette's ignore colour, which changes nothing."""
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:9, 5:9] = 255
    (tmp_path / "masks").mkdir()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "masks" / "a.png")
    (warning,) = masks_to_labels(tmp_path / "masks", tmp_path / "out", "binary").warnings
    assert "384 of them are transparent (alpha 0), which is ignore whatever their colour" in warning


def test_raw_ade20k_masks_under_other_names_are_warned_one_class_off(tmp_path):
    """ADE20K SceneParsing masks renamed (scene1.png, no ADE_train_ prefix) and without class 150: -p ade20k read
    them as indices, 0 ('other') became wall and every class one off, exit 0. Its converted maps hold 255."""
    raw = np.array([[0, 1, 3], [2, 0, 149]], np.uint8)
    write_mask(tmp_path / "ann_dir/scene1.png", raw)
    (warning,) = masks_to_labels(tmp_path / "ann_dir", tmp_path / "out", "ade20k").warnings
    assert "gives each class the id index + 1, and these masks, read as indices, hold 0 (now 'wall')" in warning
    assert warning.endswith("rerun with --remap ids --overwrite")
    fixed = masks_to_labels(tmp_path / "ann_dir", tmp_path / "ids", "ade20k", remap="ids")
    np.testing.assert_array_equal(read_mask(tmp_path / "ids" / "scene1.png"), np.where(raw == 0, 255, raw - 1))
    assert not masks_to_labels(tmp_path / "ids", tmp_path / "again", "ade20k").warnings  # converted maps: no word
    assert not fixed.warnings


def test_grey_hint_needs_several_grey_levels():
    """Real case: 306 black pixels alone (a stray border) got the hint 'all grey: an index mask saved
    as RGB?'. The hint needs several grey levels, as an index mask saved as RGB has."""
    pal = load_palette({"classes": [{"name": "red", "color": [255, 0, 0], "index": 0}]})
    black = np.zeros((2, 3, 3), np.uint8)
    black[0, 0] = (255, 0, 0)
    with pytest.raises(UnknownValuesError) as exc:
        colours_to_labels(black, pal)
    assert "all grey" not in exc.value.reason
    levels = np.repeat(np.array([[[1], [2], [3]]], np.uint8), 3, axis=2)
    with pytest.raises(UnknownValuesError, match="all grey"):
        colours_to_labels(levels, pal)


def test_index_masks_saved_as_grey_rgb_convert_by_their_values(tmp_path):
    """torchgeo's Inria sample stores buildings as RGB (1,1,1): `-p binary` refused it, and the hint's
    `--unknown nearest` made every building black, the background, exit 0."""
    values = np.array([[0, 1, 1], [1, 0, 0]], np.uint8)
    grey = np.repeat(values[:, :, None], 3, axis=2)
    binary = builtin_palette("binary")
    for unknown in ("error", "nearest"):
        result = mask_to_labels(grey, binary, unknown=unknown)
        np.testing.assert_array_equal(result.labels, values)
        assert result.grey_levels and not result.unknown
    write_image(tmp_path / "m" / "a.png", grey)
    report = masks_to_labels(tmp_path / "m", tmp_path / "out", "binary")
    assert report.pixel_counts == [3, 3] and any("grey pixels (v,v,v)" in n for n in report.notes)
    # Values the palette does not know (CamVid's void 11 without --remap ids) keep the colour rules and their hint.
    camvid = np.repeat(np.array([[0, 3, 11]], np.uint8)[:, :, None], 3, axis=2)
    with pytest.raises(UnknownValuesError, match="all grey"):
        mask_to_labels(camvid, builtin_palette("camvid11"))
    ids = mask_to_labels(camvid, builtin_palette("camvid11"), remap="ids")
    np.testing.assert_array_equal(ids.labels, [[0, 3, 255]])
    # Black and white with an antialiased grey edge is a colour mask: nearest colour, white stays foreground.
    edge = np.repeat(np.array([[0, 128, 255, 255]], np.uint8)[:, :, None], 3, axis=2)
    result = mask_to_labels(edge, binary, unknown="nearest")
    assert not result.grey_levels and result.labels[0, 2:].tolist() == [1, 1]


def test_int32_npy_with_minus_one_needs_a_remap():
    values = np.array([[0, -1], [2, 1]], np.int32)
    with pytest.raises(UnknownValuesError, match="value -1"):
        values_to_labels(values, RGB_PALETTE)
    labels, _ = values_to_labels(values, RGB_PALETTE, remap={-1: 255})
    assert labels.dtype == np.uint8 and labels.tolist() == [[0, 255], [2, 1]]


def test_more_than_255_classes_give_uint16_labels(tmp_path):
    classes = tuple(PaletteClass(f"c{i}", (i % 256, i // 256, 7), i) for i in range(300))
    big = Palette("big", classes + (PaletteClass("void", (0, 0, 0), 65535, ignore=True),), 65535)
    mask = np.zeros((3, 4, 3), np.uint8)
    mask[0, 0] = (43, 1, 7)  # class 299
    mask[1, 1] = (5, 0, 7)
    result = mask_to_labels(mask, big)
    assert result.labels.dtype == np.uint16 and result.labels[0, 0] == 299 and result.labels[1, 1] == 5
    assert result.labels[2, 3] == 65535
    write_mask(tmp_path / "m.png", mask)
    masks_to_labels(tmp_path, tmp_path.parent / "big_out", big)
    with Image.open(tmp_path.parent / "big_out" / "m.png") as im:
        assert im.mode.startswith("I")
    assert np.array_equal(read_mask(tmp_path.parent / "big_out" / "m.png"), result.labels)


def test_a_300_class_palette_converts_draws_and_previews_in_16_bit(tmp_path):
    """Real case: a palette with indices above ~256 (every other index used, as a 300-class set
    grouped from a larger one) failed with 'no spare colour left for a palette entry', naming no
    file, although 16-bit labels are documented. Label maps above 255 are 16-bit PNGs, palette.json
    carries every name and colour, and labels2masks and preview handle them."""
    from dataprep.palette import voc_colormap
    from dataprep.preview import make_contact_sheet

    cmap = voc_colormap(1024)
    classes = [{"name": f"c{i}", "color": [int(v) for v in cmap[i + 1]], "index": 2 * i} for i in range(300)]
    classes.append({"name": "void", "color": [0, 0, 0], "index": 65535, "ignore": True})
    (tmp_path / "big.json").write_text(json.dumps({"name": "big", "ignore_index": 65535, "classes": classes}))
    big = load_palette(tmp_path / "big.json")
    truth = np.array([[0, 2, 300], [598, 65535, 410]], np.int64)
    rgb = np.zeros((2, 3, 3), np.uint8)
    for (y, x), v in np.ndenumerate(truth):
        rgb[y, x] = (0, 0, 0) if v == 65535 else cmap[v // 2 + 1]
    rgb = np.kron(rgb, np.ones((20, 20, 1), np.uint8))  # 40x60, big enough for a contact sheet
    write_mask(tmp_path / "masks" / "m.png", rgb)
    report = masks_to_labels(tmp_path / "masks", tmp_path / "labels", big)
    assert report.converted == 1 and report.failed == 0
    with Image.open(tmp_path / "labels" / "m.png") as im:
        assert im.mode.startswith("I;16")
    labels = read_mask(tmp_path / "labels" / "m.png")
    assert labels.dtype == np.uint16 and np.array_equal(labels[::20, ::20], truth)
    written = load_palette(tmp_path / "labels" / "palette.json")
    assert written.num_classes == 599 and written.names[598] == "c299" and written.names[1] == "class_1"
    back = labels_to_masks(tmp_path / "labels", tmp_path / "back")
    assert back.converted == 1 and np.array_equal(read_mask(tmp_path / "back" / "m.png"), rgb)
    write_image(tmp_path / "img.png", np.full((40, 60, 3), 128, np.uint8))
    manifest = write_manifest([ManifestRow("m", tmp_path / "img.png", tmp_path / "labels" / "m.png", 60, 40)],
                              tmp_path / "labels" / "manifest.csv")
    sheet = make_contact_sheet(manifest, n=1)
    assert (sheet == cmap[300]).all(axis=-1).any()  # class c299 (index 598) in its own colour


def test_an_ignore_entry_without_a_colour_is_drawn_as_the_label_palette_draws_it(shared_data):
    """A palette whose ignore entry has no colour (the schema allows `null`): labels2masks failed every CamVid
    frame with 'label values with no colour in palette: 255 x 7,980'."""
    raw = np.array(Image.open(next(iter(sorted((shared_data("camvid_segnet/CamVid") / "trainannot").glob("*.png"))))))
    labels = np.where(raw == 11, 255, raw).astype(np.uint8)
    assert (labels == 255).any()
    camvid = builtin_palette("camvid11")
    colourless = Palette("cv", tuple(c if not c.ignore else PaletteClass(c.name, None, c.index, ignore=True)
                                     for c in camvid.classes), 255)
    drawn = labels_to_colours(labels, colourless)
    np.testing.assert_array_equal(drawn[labels == 255], np.zeros(((labels == 255).sum(), 3), np.uint8))
    np.testing.assert_array_equal(drawn[labels != 255], labels_to_colours(labels, camvid)[labels != 255])
    with_black = Palette("b", (PaletteClass("bg", (0, 0, 0), 0), PaletteClass("void", None, 255, ignore=True)), 255)
    two = labels_to_colours(np.array([[0, 255]], np.uint8), with_black)
    assert tuple(two[0, 0]) == (0, 0, 0) and tuple(two[0, 1]) != (0, 0, 0)  # never a class's colour


def test_colour_masks_drawn_with_a_colourless_ignore_entry_convert_back(shared_data, tmp_path):
    """labels2masks drew ignore in black but wrote the palette beside the masks with no colour for it, so
    masks2labels of its own output failed: '(0,0,0) not in palette'."""
    raw = np.array(Image.open(next(iter(sorted((shared_data("camvid_segnet/CamVid") / "trainannot").glob("*.png"))))))
    labels = np.where(raw == 11, 255, raw).astype(np.uint8)
    write_mask(tmp_path / "labels" / "a.png", labels)
    camvid = builtin_palette("camvid11")
    colourless = Palette("cv", tuple(c if not c.ignore else PaletteClass(c.name, None, c.index, ignore=True)
                                     for c in camvid.classes), 255)
    report = labels_to_masks(tmp_path / "labels", tmp_path / "colours", colourless, quiet=True)
    assert report.converted == 1
    written = load_palette(tmp_path / "colours" / "palette.json")
    assert written.index_colours()[255] == (0, 0, 0)
    back = masks_to_labels(tmp_path / "colours", tmp_path / "back", tmp_path / "colours" / "palette.json", quiet=True)
    assert back.converted == 1
    np.testing.assert_array_equal(read_mask(tmp_path / "back" / "a.png"), labels)


def test_labels2masks_refuses_masks_beside_a_palette_of_ids(tmp_path, cli):
    """ISBI's 0/255 membrane masks beside the palette `palette infer` wrote for them (`remap: ids`, 255 the
    foreground's id): labels2masks drew every membrane pixel (77%) in the ignore colour, exit 0."""
    mask = np.zeros((8, 10), np.uint8)
    mask[:, 3:] = 255
    write_mask(tmp_path / "masks" / "a.png", mask)
    infer_palette(tmp_path / "masks").save(tmp_path / "masks" / "palette.json")
    run = cli("labels2masks", tmp_path / "masks", tmp_path / "colours", "-q")
    assert run.exit_code == 1 and not (tmp_path / "colours").exists()
    assert f"error: {tmp_path / 'masks' / 'palette.json'}: a palette of masks that store ids" in run.output
    assert "masks2labels" in run.output
    # converted first, they draw as they should: the foreground white, no ignore
    assert cli("masks2labels", tmp_path / "masks", tmp_path / "labels", "-q").exit_code == 0
    assert cli("labels2masks", tmp_path / "labels", tmp_path / "colours", "-q").exit_code == 0
    drawn = np.asarray(Image.open(tmp_path / "colours" / "a.png").convert("RGB"))
    assert (drawn[mask == 255] == 255).all() and (drawn[mask == 0] == 0).all()


def test_labels_to_colours_inverts_and_rejects_values_without_colour():
    assert np.array_equal(labels_to_colours(EXPECTED, RGB_PALETTE), _stripes())
    with pytest.raises(UnknownValuesError, match="label values with no colour"):
        labels_to_colours(np.array([[3]], np.uint8), RGB_PALETTE)


# --------------------------------------------------------------------------- files and folders


def _write_modes(folder: Path) -> dict[str, np.ndarray]:
    """The same 6x8 scene stored in every supported mode; returns the expected label map per file."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_stripes()).save(folder / "rgb.png")
    rgba = np.dstack([_stripes(), np.full((6, 8), 255, np.uint8)])
    rgba[0, :] = (0, 0, 0, 0)
    Image.fromarray(rgba, mode="RGBA").save(folder / "rgba.png")
    pmode = Image.fromarray(EXPECTED, mode="P")
    pmode.putpalette(RGB_PALETTE.colour_table(256).tobytes())  # its table agrees with the palette: indices kept
    pmode.save(folder / "palette_mode.png")
    Image.fromarray(EXPECTED, mode="L").save(folder / "gray.png")
    Image.fromarray(EXPECTED.astype("<u2")).save(folder / "gray16.png")  # PIL mode I;16
    np.save(folder / "values.npy", EXPECTED.astype(np.int64))
    rgba_expected = EXPECTED.copy()
    rgba_expected[0, :] = 255
    return {"rgb": EXPECTED, "rgba": rgba_expected, "palette_mode": EXPECTED, "gray": EXPECTED,
            "gray16": EXPECTED, "values": EXPECTED}


def test_every_input_mode_converts_exactly(tmp_path):
    expected = _write_modes(tmp_path / "masks")
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", RGB_PALETTE)
    assert report.converted == len(expected) and report.failed == 0, report.errors
    for name, labels in expected.items():
        out = tmp_path / "out" / f"{name}.png"
        with Image.open(out) as im:
            assert im.mode == "P"  # viewers show colours...
            colours = np.frombuffer(bytes(im.getpalette()), np.uint8).reshape(-1, 3)
            assert tuple(colours[1]) == RED and tuple(colours[255]) == BLACK
        assert np.array_equal(read_mask(out), labels), name  # ...while readers get indices
    assert report.manifest_path is None and (tmp_path / "out" / "palette.json").is_file()
    total = sum(e.size for e in expected.values())
    assert sum(report.pixel_counts) + report.ignored_pixels == total


def _save_p(path: Path, indices: np.ndarray, table: dict[int, tuple[int, int, int]] | np.ndarray) -> Path:
    """A palette-mode PNG with the given colour table (index -> colour)."""
    full = np.zeros((256, 3), np.uint8)
    if isinstance(table, dict):
        for i, c in table.items():
            full[i] = c
    else:
        full[: len(table)] = table
    im = Image.fromarray(indices.astype(np.uint8), mode="P")
    im.putpalette(full.tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def test_palette_mode_pngs_with_a_per_file_colour_table_convert_by_colour(tmp_path, cli):
    """Real case: an aerial-imagery set ships some masks as RGB and some as 'P' PNGs whose colour table
    is ordered per file (index 0 is Land in one file, Building in the next). Converting them by raw
    index made 16 of 18 such masks 51-100% wrong with exit 0. Each file must go through its own
    table (index -> colour -> class), the report must say so once, and a table that agrees keeps
    its indices."""
    land, building, water = (0, 255, 0), (255, 0, 0), (0, 0, 255)
    pal = load_palette({"name": "aerial", "classes": [
        {"name": "land", "color": list(land), "index": 0}, {"name": "building", "color": list(building), "index": 1},
        {"name": "water", "color": list(water), "index": 2}]})
    truth = np.zeros((6, 9), np.uint8)
    truth[:, 3:6], truth[:, 6:] = 1, 2  # land | building | water
    colours = [land, building, water]
    rng = np.random.default_rng(0)
    for k in range(4):
        order = rng.permutation(3) if k else np.arange(3)  # file 0's table agrees with the palette
        stored = np.argsort(order)[truth]  # index stored for class c is the position of c in this file's table
        _save_p(tmp_path / "masks" / f"p{k}.png", stored, {i: colours[order[i]] for i in range(3)})
    Image.fromarray(np.array(colours, np.uint8)[truth]).save(tmp_path / "masks" / "rgb.png")
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", pal)
    assert report.failed == 0 and report.converted == 5
    for f in ("p0", "p1", "p2", "p3", "rgb"):
        assert np.array_equal(read_mask(tmp_path / "out" / f"{f}.png"), truth), f
    moved = sorted(Path(p).name for p in report.by_colour)
    assert moved and "p0.png" not in moved and "rgb.png" not in moved
    assert len(report.notes) == 1 and "converted by colour" in report.notes[0]
    res = cli("masks2labels", "-p", tmp_path / "out" / "palette.json", tmp_path / "masks", tmp_path / "cli", "-q")
    assert res.exit_code == 0 and res.output.count("note: ") == 1
    # Asked for explicitly, indices are used as they are (and then wrong here).
    raw = masks_to_labels(tmp_path / "masks", tmp_path / "raw", pal, png_indices=True)
    assert raw.by_colour == [] and not all(
        np.array_equal(read_mask(tmp_path / "raw" / f"p{k}.png"), truth) for k in range(4))


def test_palette_mode_tables_that_name_no_palette_colour_are_refused_with_the_way_out(tmp_path):
    """Real case: tools that write 'P' PNGs with a table unrelated to the classes. Their colours are
    not classes, so converting by colour fails the file and says how to use the indices; a grey
    ramp table (index v drawn (v, v, v)) carries no colours, so its indices are used."""
    stored = np.array([[0, 1], [2, 255]], np.uint8)
    _save_p(tmp_path / "odd" / "a.png", stored, np.arange(768).reshape(256, 3) % 256)
    with pytest.raises(DataprepError, match="--png-indices"):
        masks_to_labels(tmp_path / "odd", tmp_path / "o1", RGB_PALETTE, on_error="fail")
    assert masks_to_labels(tmp_path / "odd", tmp_path / "o2", RGB_PALETTE, png_indices=True).converted == 1
    assert np.array_equal(read_mask(tmp_path / "o2" / "a.png"), stored)
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    _save_p(tmp_path / "grey" / "a.png", stored, ramp)
    report = masks_to_labels(tmp_path / "grey", tmp_path / "o3", RGB_PALETTE)
    assert report.converted == 1 and report.by_colour == []
    assert np.array_equal(read_mask(tmp_path / "o3" / "a.png"), stored)


def _manifest(tmp_path: Path, masks: list[Path], size=(8, 6)) -> Path:
    rows = [ManifestRow(m.stem, tmp_path / "images" / f"{m.stem}.jpg", m, size[0], size[1], {"group": m.stem[:1]})
            for m in masks]
    return write_manifest(rows, tmp_path / "work" / "manifest.csv")


def test_unknown_colour_fails_one_file_and_the_rest_continue(tmp_path, cli):
    masks = tmp_path / "masks"
    write_mask(masks / "a" / "good.png", _stripes())
    bad = _stripes()
    bad[2, 3] = (12, 34, 56)
    write_mask(masks / "b" / "bad.png", bad)
    manifest = _manifest(tmp_path, [masks / "a" / "good.png", masks / "b" / "bad.png"])
    report = masks_to_labels(manifest, tmp_path / "labels", RGB_PALETTE)
    assert report.converted == 1 and report.failed == 1
    assert str(masks / "b" / "bad.png") in report.errors[0] and "(12,34,56) x 1" in report.errors[0]
    rows = read_manifest(tmp_path / "labels" / "manifest.csv").rows
    assert [r.id for r in rows] == ["good"]
    assert not (tmp_path / "labels" / "b" / "bad.png").exists()
    with pytest.raises(DataprepError, match=r"bad.png: 1 pixels in 1 colour"):
        masks_to_labels(manifest, tmp_path / "labels_fail", RGB_PALETTE, on_error="fail")
    res = cli("masks2labels", "-p", "palette.json", str(manifest), str(tmp_path / "labels_cli"), "-j", "1")
    assert res.exit_code == 2 and "palette" in res.output  # no such palette
    (tmp_path / "pal.json").write_text(RGB_PALETTE.to_json())
    res = cli("masks2labels", "-p", str(tmp_path / "pal.json"), str(manifest), str(tmp_path / "labels_cli"), "-j", "1")
    assert res.exit_code == 1
    assert f"error: {masks / 'b' / 'bad.png'}: 1 pixels in 1 colour not in palette 'rgb': (12,34,56) x 1" in res.output
    res = cli("masks2labels", "-p", str(tmp_path / "pal.json"), "--unknown", "nearest", str(manifest),
              str(tmp_path / "labels_near"), "-j", "1", "--overwrite")
    assert res.exit_code == 0 and "(12,34,56) x 1" in res.output


def test_a_run_where_every_mask_fails_writes_nothing_and_says_it_once(tmp_path, cli):
    """SegNet's CamVid under camvid11 without --remap ids: 201 lines of one error, then a header-only
    manifest.csv and a palette.json beside no label map."""
    masks = tmp_path / "masks"
    for n in range(3):
        values = np.full((4, 6), 11, np.uint8)
        values[:, :n + 1] = 2  # a count of its own per file: still one reason
        write_mask(masks / f"0001TP_00{n}.png", values)
    manifest = _manifest(tmp_path, sorted(masks.iterdir()), size=(6, 4))
    report = masks_to_labels(manifest, tmp_path / "out", "camvid11")
    assert report.failed == 3 and report.manifest_path is None and not (tmp_path / "out").exists()
    res = cli("masks2labels", "-p", "camvid11", str(manifest), str(tmp_path / "out_cli"))
    assert res.exit_code == 1 and not (tmp_path / "out_cli").exists()
    assert res.output.count("error: ") == 1 and "(all 3 masks of" in res.output
    assert "failed the same way; nothing written)" in res.output and "use --remap ids" in res.output


def test_a_mostly_ignored_conversion_warns(tmp_path, cli):
    mask = np.zeros((4, 8), np.uint8)
    mask[:, 2:] = 255  # binary 0/255 mask converted with 255 as ignore: 75% of the pixels lost
    write_mask(tmp_path / "binary" / "a.png", mask)
    voc_like = {"name": "voc_like", "ignore_index": 255, "classes": [{"name": "bg", "color": [0, 0, 0], "index": 0}]}
    (tmp_path / "voc_like.json").write_text(json.dumps(voc_like))
    report = masks_to_labels(tmp_path / "binary", tmp_path / "labels", tmp_path / "voc_like.json")
    assert report.ignored_pixels == 24
    assert len(report.warnings) == 1 and "75.0% of the pixels" in report.warnings[0]
    assert "--remap 255:1" in report.warnings[0]
    res = cli("masks2labels", "-p", str(tmp_path / "voc_like.json"), str(tmp_path / "binary"),
              str(tmp_path / "labels_cli"), "-q")
    assert res.exit_code == 0 and "warning: 75.0% of the pixels became the ignore index 255" in res.output
    # A quarter ignored (the stripes' void) is ordinary: no warning.
    write_mask(tmp_path / "stripes" / "s.png", _stripes())
    report = masks_to_labels(tmp_path / "stripes", tmp_path / "stripe_labels", RGB_PALETTE)
    assert report.ignored_pixels == 12 and report.warnings == []


def test_the_wide_ignore_warning_names_where_the_ignore_came_from(tmp_path):
    """Oxford Pet trimaps (1 pet, 2 background, 3 border): `--remap 3:255` makes a wide border ignore on
    request, which is no cause for a warning; a void value that is not 255 (CamVid's 11) gets a fix that
    names it, never `--remap 255:1`."""
    trimap = np.full((60, 60), 2, np.uint8)
    trimap[10:50, 10:50] = 3
    trimap[20:40, 20:40] = 1  # a 10-px border: a third of the pixels, in a band wider than a boundary
    write_mask(tmp_path / "pets" / "a.png", trimap)
    pets = {"name": "pets", "ignore_index": 255, "classes": [
        {"name": "pet", "color": [1, 1, 1], "index": 0, "id": 1},
        {"name": "background", "color": [2, 2, 2], "index": 1, "id": 2}]}
    report = masks_to_labels(tmp_path / "pets", tmp_path / "pet_labels", load_palette(pets), remap="1:0,2:1,3:255")
    assert report.ignored_pixels == 40 * 40 - 20 * 20 and report.warnings == []
    # Unasked, the same wide band does warn.
    report = masks_to_labels(tmp_path / "pets", tmp_path / "pet_labels2", load_palette(pets), remap="1:0,2:1",
                             unknown="ignore")
    assert len(report.warnings) == 1 and "large regions" in report.warnings[0]
    assert "not in the palette that --unknown ignore replaced" in report.warnings[0]
    # Asked, and most of the pixels: a warning that says the remap asked for it.
    trimap[:] = 3
    trimap[28:32, 28:32] = 1
    trimap[0, :4] = 2  # each --remap value held (one that no mask holds is a warning of its own)
    write_mask(tmp_path / "pets" / "a.png", trimap)
    report = masks_to_labels(tmp_path / "pets", tmp_path / "pet_labels3", load_palette(pets), remap="1:0,2:1,3:255")
    assert len(report.warnings) == 1 and "--remap asked for value(s) 3 to be ignore" in report.warnings[0]

    camvid = np.zeros((40, 40), np.uint8)
    camvid[:, 20:] = 1
    camvid[10:30, 5:35] = 11  # void: 37.5%, in one block
    write_mask(tmp_path / "camvid" / "a.png", camvid)
    classes = [{"name": f"c{i}", "color": [i, i, i], "index": i} for i in range(11)]
    palette = load_palette({"name": "camvid", "ignore_index": 11, "classes": [
        *classes, {"name": "void", "color": [11, 11, 11], "index": 11, "ignore": True}]})
    report = masks_to_labels(tmp_path / "camvid", tmp_path / "camvid_labels", palette)
    assert len(report.warnings) == 1 and "255:1" not in report.warnings[0]
    assert "if value 11 is a class" in report.warnings[0] and "--remap 11:2 with a palette that has class 2" \
        in report.warnings[0]
    # Every class present: the next index is the ignore index itself, so no remap can be suggested.
    camvid[:10] = np.arange(40)[None, :] % 11
    write_mask(tmp_path / "camvid" / "a.png", camvid)
    report = masks_to_labels(tmp_path / "camvid", tmp_path / "camvid_labels2", palette)
    assert "a palette with a class for it and another ignore index" in report.warnings[0]
    assert "--remap 11:" not in report.warnings[0]


def test_binary_0_255_masks_under_an_ignore_255_palette_warn_once(tmp_path, cli):
    """Real case: vessel and nuclei masks stored 0/255 (foreground 8-12% of the pixels) converted
    with `-p voc`, where 255 is ignore, became background + ignore with exit 0, and training on
    them reported mIoU 100%. The run must warn once, with the fix, whether the foreground is thin
    (vessels) or fills regions (nuclei); VOC's thin void boundaries beside real classes must not."""
    rng = np.random.default_rng(0)
    vessels = np.zeros((64, 64), np.uint8)
    for row in rng.choice(64, size=6, replace=False):
        vessels[row, :] = 255  # 1-px lines: 9% foreground, no large region
    nuclei = np.zeros((128, 128), np.uint8)
    for y, x in [(10, 10), (80, 20), (20, 85), (90, 90)]:
        nuclei[y : y + 18, x : x + 18] = 255  # blobs: 7.9% foreground
    for name, mask in [("vessels", vessels), ("nuclei", nuclei)]:
        write_mask(tmp_path / name / "a.png", mask)
        report = masks_to_labels(tmp_path / name, tmp_path / f"{name}_labels", "voc")
        assert report.failed == 0 and report.pixel_counts[1:] == [0] * 20
        assert len(report.warnings) == 1, name
        assert "single class (background)" in report.warnings[0] and "--remap 255:1" in report.warnings[0]
        if name == "nuclei":
            assert "large regions" in report.warnings[0]
    res = cli("masks2labels", "-p", "voc", tmp_path / "vessels", tmp_path / "cli_labels", "-q")
    assert res.exit_code == 0 and res.output.count("warning: ") == 1
    # VOC-style: two classes with a 5-px void band between them is ordinary.
    voc = np.zeros((64, 64), np.uint8)
    voc[:, 32:] = 15
    voc[:, 30:35] = 255
    write_mask(tmp_path / "voc" / "a.png", voc)
    assert masks_to_labels(tmp_path / "voc", tmp_path / "voc_labels", "voc").warnings == []
    # Two classes, but the ignored value fills a fifth of the pixels in one block: a lost class.
    lost = voc.copy()
    lost[:, 30:35] = 15
    lost[:20, :40] = 255
    write_mask(tmp_path / "lost" / "a.png", lost)
    warnings = masks_to_labels(tmp_path / "lost", tmp_path / "lost_labels", "voc").warnings
    assert len(warnings) == 1 and "large regions" in warnings[0] and "single class" not in warnings[0]


def test_the_binary_palette_takes_255_as_foreground_in_masks_of_0_and_255_alone(tmp_path):
    """ISBI's membranes with `-p binary`: 78% of the pixels became ignore and the foreground had 0 pixels, exit 0,
    though the palette gives the foreground the id 255. Masks of 0/1 keep their values, and 0/1/255 masks (255 a
    boundary band) keep 255 as ignore."""
    fg = np.zeros((6, 8), np.uint8)
    fg[2:5, 3:7] = 255
    band = np.where(fg > 0, 1, 0).astype(np.uint8)
    band[1, :] = 255
    masks = {"isbi": fg, "ones": (fg > 0).astype(np.uint8), "band": band}
    for name, mask in masks.items():
        write_mask(tmp_path / "m" / f"{name}.png", mask)
    report = masks_to_labels(tmp_path / "m", tmp_path / "out", "binary")
    assert report.failed == 0 and report.by_ids == [str(tmp_path / "m" / "isbi.png")]
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "isbi.png"), fg > 0)
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "ones.png"), fg > 0)
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "band.png"), band)
    assert any("their 255 is 'foreground' (its id), not ignore" in n for n in report.notes)
    # 0/1/255 beside 0/255 alone: each mask got its own reading of 255, said once with the two ways to choose
    assert [w for w in report.warnings if "kept it as ignore" in w] == [
        f"1 mask(s) of ids alone (first: {tmp_path / 'm' / 'isbi.png'}) took 255 as 'foreground', while 1 holding "
        f"other values too (first: {tmp_path / 'm' / 'band.png'}) kept it as ignore: if 255 means one thing in every "
        "mask, say which: --remap ids (foreground) or --remap 255:255 (ignore)"]
    alone = masks_to_labels(tmp_path / "m", tmp_path / "out2", "binary", remap={255: 255})
    assert not alone.by_ids and not any("kept it as ignore" in w for w in alone.warnings)


def test_isbi_with_stray_pixels_under_the_binary_palette(shared_data, tmp_path):
    """A 0/255 ISBI membrane mask with 8 stray 128/254 pixels lost all its foreground under `--unknown nearest`
    (values that are no class said 255 was ignore), and one with 3 stray 1s, whose 255 stays ignore, was told
    to pass --remap 255:2 with a palette that has class 2: the binary palette has no class 2."""
    label = np.array(Image.open(shared_data("isbi2012_membrane/data/membrane/train/label") / "0.png"))
    membranes = np.where(label > 127, 255, 0).astype(np.uint8)
    strays, ones = membranes.copy(), membranes.copy()
    strays[0, :5], strays[1, :3] = 128, 254
    ones[5, :3] = 1
    write_mask(tmp_path / "strays" / "0.png", strays)
    write_mask(tmp_path / "ones" / "0.png", ones)
    masks_to_labels(tmp_path / "strays", tmp_path / "out", "binary", unknown="nearest", quiet=True)
    got = read_mask(tmp_path / "out" / "0.png")
    np.testing.assert_array_equal(got, np.select([strays == 255, strays == 0], [1, 0], 255))
    report = masks_to_labels(tmp_path / "ones", tmp_path / "out1", "binary", quiet=True)
    assert report.kept_ignore == [str(tmp_path / "ones" / "0.png")]
    (line,) = [w for w in report.warnings if "became the ignore index" in w]
    assert line.endswith(f"1 mask(s) (first: {tmp_path / 'ones' / '0.png'}) hold other class values beside 255, "
                         "so 255 was kept as ignore there; if it is 'foreground' (the others stray pixels), pass "
                         "--remap 255:1")
    masks_to_labels(tmp_path / "ones", tmp_path / "out2", "binary", remap={255: 1}, quiet=True)
    np.testing.assert_array_equal(read_mask(tmp_path / "out2" / "0.png"), (ones > 0).astype(np.uint8))


def test_segnet_camvid_under_the_32_class_camvid_palette_warns(tmp_path):
    """SegNet's CamVid (0..10, 11 void) with `-p camvid`: each value kept as an index of the 32 colour classes
    (road 3 became Bridge, void 11 LaneMkgsNonDriv), exit 0, no word; `palette infer` named no built-in."""
    values = (np.arange(48).reshape(6, 8) % 12).astype(np.uint8)
    write_mask(tmp_path / "m" / "0001TP_006690.png", values)
    report = masks_to_labels(tmp_path / "m", tmp_path / "out", "camvid")
    assert any("-p camvid11 --remap ids" in w for w in report.warnings)
    assert infer_palette(tmp_path / "m").dataset_builtin == "camvid11"
    right = masks_to_labels(tmp_path / "m", tmp_path / "out11", "camvid11", remap="ids")
    assert not any("camvid11" in w for w in right.warnings)
    np.testing.assert_array_equal(read_mask(tmp_path / "out11" / "0001TP_006690.png"),
                                  np.where(values == 11, 255, values))


def test_grey_gifs_and_grey_pngs_of_one_set_convert_alike(tmp_path):
    """DRIVE: 58 vessel GIFs keep white at index 251, 20 read as 0/255; `-p binary` made vessels class 1 in the
    first (by colour) and ignore in the others, and `--remap ids` failed the GIFs ('value 251 not in palette')."""
    vessels = np.zeros((16, 16), np.uint8)
    vessels[3, :] = vessels[:, 9] = 255
    write_mask(tmp_path / "masks" / "a.png", vessels)
    im = Image.fromarray(np.where(vessels == 255, 251, 0).astype(np.uint8), mode="P")
    table = np.zeros((256, 3), np.uint8)
    table[251] = 255
    im.putpalette(table.tobytes())
    im.save(tmp_path / "masks" / "b.gif", optimize=False)
    expected = (vessels == 255).astype(np.uint8)
    report = masks_to_labels(tmp_path / "masks", tmp_path / "ids", "binary", remap="ids")
    assert report.failed == 0
    for name in ("a", "b"):
        np.testing.assert_array_equal(read_mask(tmp_path / "ids" / f"{name}.png"), expected)
    plain = masks_to_labels(tmp_path / "masks", tmp_path / "plain", "binary")  # 0/255 alone: 255 is foreground
    for name in ("a", "b"):
        np.testing.assert_array_equal(read_mask(tmp_path / "plain" / f"{name}.png"), expected)
    assert len(plain.by_ids) == 2 and not plain.warnings
    inferred = infer_palette(tmp_path / "masks")
    assert inferred.binary and inferred.palette.remap == "ids"


def test_resume_skips_up_to_date_outputs_and_refuses_other_settings(tmp_path):
    for name in ("x", "y", "z"):
        write_mask(tmp_path / "masks" / f"{name}.png", _stripes())
    out = tmp_path / "out"
    first = masks_to_labels(tmp_path / "masks", out, RGB_PALETTE)
    assert (first.converted, first.skipped) == (3, 0)
    again = masks_to_labels(tmp_path / "masks", out, RGB_PALETTE)
    assert (again.converted, again.skipped) == (0, 3)
    assert again.pixel_counts == first.pixel_counts and again.ignored_pixels == first.ignored_pixels
    older = (tmp_path / "masks" / "y.png").stat().st_mtime_ns - 1_000_000_000
    os.utime(out / "y.png", ns=(older, older))  # as if the mask had been edited after the conversion
    touched = masks_to_labels(tmp_path / "masks", out, RGB_PALETTE)
    assert (touched.converted, touched.skipped) == (1, 2)
    forced = masks_to_labels(tmp_path / "masks", out, RGB_PALETTE, overwrite=True)
    assert forced.converted == 3
    # from "error" any mode may resume (those outputs hold no replaced pixels); back again it may not
    assert masks_to_labels(tmp_path / "masks", out, RGB_PALETTE, unknown="ignore").skipped == 3
    with pytest.raises(UsageError, match=r"other settings \(unknown\)"):
        masks_to_labels(tmp_path / "masks", out, RGB_PALETTE, unknown="error")
    with pytest.raises(UsageError, match=r"other settings \(palette\)"):
        masks_to_labels(tmp_path / "masks", out, builtin_palette("voc"), unknown="ignore")


def test_a_rerun_from_other_masks_of_the_same_names_redoes_them_whatever_their_times(tmp_path):
    """Dataset B extracted with its old times (tar, cp -p) into the folder A was converted into: times alone
    called A's label maps up to date for B's masks, and the manifest paired B's images with A's labels."""
    stripes, solid = _stripes(), np.zeros_like(_stripes())
    for name in ("x", "y"):
        write_mask(tmp_path / "a" / f"{name}.png", stripes)
        write_mask(tmp_path / "b" / f"{name}.png", solid if name == "y" else stripes)
    old = (tmp_path / "a" / "x.png").stat().st_mtime_ns - 10**10
    for name in ("x", "y"):
        os.utime(tmp_path / "b" / f"{name}.png", ns=(old, old))
    out = tmp_path / "out"
    assert masks_to_labels(tmp_path / "a", out, RGB_PALETTE).converted == 2
    report = masks_to_labels(tmp_path / "b", out, RGB_PALETTE)
    assert (report.converted, report.skipped) == (2, 0)
    np.testing.assert_array_equal(read_mask(out / "y.png"), mask_to_labels(solid, RGB_PALETTE).labels)
    again = masks_to_labels(tmp_path / "b", out, RGB_PALETTE)
    assert (again.converted, again.skipped) == (0, 2)
    shutil.copy2(tmp_path / "a" / "y.png", tmp_path / "b" / "y.png")  # replaced by an older file, of other size
    os.utime(tmp_path / "b" / "y.png", ns=(old, old))
    replaced = masks_to_labels(tmp_path / "b", out, RGB_PALETTE)
    assert (replaced.converted, replaced.skipped) == (1, 1)
    np.testing.assert_array_equal(read_mask(out / "y.png"), mask_to_labels(stripes, RGB_PALETTE).labels)


def test_the_same_masks_spelled_through_a_symlink_are_still_up_to_date(tmp_path):
    for name in ("x", "y"):
        write_mask(tmp_path / "masks" / f"{name}.png", _stripes())
    (tmp_path / "link").symlink_to(tmp_path / "masks", target_is_directory=True)
    out = tmp_path / "out"
    assert masks_to_labels(tmp_path / "masks", out, RGB_PALETTE).converted == 2
    again = masks_to_labels(tmp_path / "link", out, RGB_PALETTE)
    assert (again.converted, again.skipped) == (0, 2)


class _InterruptAfterChunks(SerialExecutor):
    """Ctrl-C after `n` chunks have come back, as a user stopping a long run would."""

    def __init__(self, n: int) -> None:
        self.n = n

    def map_chunks(self, fn, chunks):
        for i, chunk in enumerate(chunks):
            if i == self.n:
                raise KeyboardInterrupt
            yield fn(chunk)


def test_an_interrupted_run_records_the_sources_of_what_it_finished(tmp_path):
    names = [f"m{i:02d}" for i in range(40)]
    for name in names:
        write_mask(tmp_path / "masks" / f"{name}.png", _stripes())
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        masks_to_labels(tmp_path / "masks", out, RGB_PALETTE, executor=_InterruptAfterChunks(1), quiet=True)
    recorded = json.loads((out / ".dataprep-masks2labels-sources.json").read_text())
    finished = sorted(p.name for p in out.glob("*.png"))
    assert 0 < len(finished) < len(names) and sorted(recorded) == finished
    first = (tmp_path / "masks" / "m00.png").stat()
    assert recorded["m00.png"] == [[str(tmp_path / "masks" / "m00.png"), first.st_size, first.st_mtime_ns]]
    report = masks_to_labels(tmp_path / "masks", out, RGB_PALETTE, executor=SerialExecutor(), quiet=True)
    assert (report.converted, report.skipped) == (len(names) - len(finished), len(finished))


def test_a_palette_that_skips_an_index_is_warned_with_the_classes_sharing_one(tmp_path):
    """A palette entry copied with its index unchanged (building at sky's 0): the written palette.json got an
    unnamed class_1 that no pixel holds, without a word."""
    write_mask(tmp_path / "masks" / "a.png", _stripes())
    classes = [PaletteClass(c.name, c.color, 0 if c.index == 1 else c.index, c.ignore) for c in RGB_PALETTE.classes]
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", Palette("copied", classes))
    assert [w for w in report.warnings if "gives no class index" in w] == [
        "palette 'copied' gives no class index 1 of 0..2 (red and blue share index 0): the label maps' "
        "palette.json names it class_1, a model gets an output no pixel trains; if an index was copied "
        "unchanged, fix it and rerun with --overwrite"]
    assert not [w for w in masks_to_labels(tmp_path / "masks", tmp_path / "ok", RGB_PALETTE).warnings
                if "gives no class index" in w]


def test_two_runs_taking_one_new_folder_at_once_cannot_both_write_their_settings(tmp_path, monkeypatch):
    """Both found no settings record in the new folder and both wrote theirs: label maps of two palettes under
    one manifest, exit 0 each. The record is created exclusively; the run that loses compares with it."""
    from dataprep.labels import resume

    write_mask(tmp_path / "masks" / "a.png", _stripes())
    out = tmp_path / "out"

    def another_run_first(path, text):  # the other run's record lands between our look and our write
        Path(path).write_text(json.dumps({"palette": builtin_palette("voc").to_dict(), "unknown": "error",
                                          "remap": []}, sort_keys=True) + "\n")
        return False

    monkeypatch.setattr(resume, "create_exclusive", another_run_first)
    with pytest.raises(UsageError, match=r"other settings \(palette\)"):
        masks_to_labels(tmp_path / "masks", out, RGB_PALETTE)
    assert not (out / "a.png").exists()


def test_a_folder_another_command_is_starting_to_write_is_refused(tmp_path):
    """masks2labels and labels2masks started together into one new folder both exited 0 over a mix of label
    maps and colour masks: the first to claim the folder owns it, the other is refused before writing."""
    write_mask(tmp_path / "masks" / "a.png", _stripes())
    out = tmp_path / "out"
    out.mkdir()
    (out / ".dataprep-owner").write_text("labels2masks\n")  # claimed an instant ago, nothing written yet
    with pytest.raises(UsageError, match="is being written by `dataprep labels2masks`"):
        masks_to_labels(tmp_path / "masks", out, RGB_PALETTE)
    assert sorted(p.name for p in out.iterdir()) == [".dataprep-owner"]
    (out / ".dataprep-owner").unlink()
    failed = masks_to_labels(tmp_path / "masks", out, builtin_palette("voc"))  # every file fails: no claim left
    assert failed.failed == 1 and not list(out.iterdir())


def test_a_run_that_wrote_nothing_is_rerun_with_the_settings_its_error_gave(tmp_path):
    """Cityscapes labelIds with -p cityscapes fail on every file with `use --remap ids`; the rerun with
    --remap ids was refused ('outputs made with other settings') although the folder held no label map."""
    ids = np.full((20, 30), 7, np.uint8)  # road
    ids[:6] = 0  # unlabeled: ignore, by the palette's own entries
    ids[10:14, 5:20] = 26  # car
    (tmp_path / "masks").mkdir()
    Image.fromarray(ids).save(tmp_path / "masks" / "a_ids.png")  # not named labelIds: refused up front
    out = tmp_path / "out"
    failed = masks_to_labels(tmp_path / "masks", out, "cityscapes")
    assert failed.failed == 1 and not (out / "a_ids.png").exists()
    report = masks_to_labels(tmp_path / "masks", out, "cityscapes", remap="ids")
    labels = read_mask(out / "a_ids.png")
    assert report.converted == 1 and int((labels == 255).sum()) == 6 * 30 and int((labels == 13).sum()) == 4 * 15
    # 30% ignore in one block, as the palette's ignore ids ask: no advice to make value 0 a class
    assert report.warnings == []
    with pytest.raises(UsageError, match=r"other settings \(remap\)"):  # now there is an output to mix with
        masks_to_labels(tmp_path / "masks", out, "cityscapes")


def test_output_inside_the_masks_needs_force_and_never_overwrites_inputs(tmp_path):
    write_mask(tmp_path / "masks" / "m.png", _stripes())
    with pytest.raises(UsageError, match="output folder is inside"):
        masks_to_labels(tmp_path / "masks", tmp_path / "masks" / "labels", RGB_PALETTE)
    report = masks_to_labels(tmp_path / "masks", tmp_path / "masks" / "labels", RGB_PALETTE, force=True)
    assert report.converted == 1  # the output folder itself is not walked as input
    with pytest.raises(UsageError, match="overwrite an input"):
        masks_to_labels(tmp_path / "masks", tmp_path / "masks", RGB_PALETTE, force=True)


def test_force_never_lets_the_output_manifest_replace_the_input_one(tmp_path):
    """`masks2labels --force` into the folder of the scan's manifest replaced that manifest, exit 0."""
    write_mask(tmp_path / "masks" / "m.png", _stripes())
    manifest = _manifest(tmp_path, [tmp_path / "masks" / "m.png"])
    before = manifest.read_bytes()
    with pytest.raises(UsageError, match=r"manifest.csv: output would overwrite an input"):
        masks_to_labels(manifest, manifest.parent, RGB_PALETTE, force=True)
    assert manifest.read_bytes() == before


def test_output_inside_the_images_folder_needs_force(tmp_path):
    """ISBI's manifest converted into image/sub: the next scan found 60 images and 30 orphans."""
    write_mask(tmp_path / "masks" / "m.png", _stripes())
    rows = [ManifestRow("m", tmp_path / "images" / "m.jpg", tmp_path / "masks" / "m.png", 8, 6)]
    manifest = write_manifest(rows, tmp_path / "manifest.csv")
    with pytest.raises(UsageError, match="output folder is inside"):
        masks_to_labels(manifest, tmp_path / "images" / "labels", RGB_PALETTE)
    assert masks_to_labels(manifest, tmp_path / "images" / "labels", RGB_PALETTE, force=True).converted == 1


def test_mask_size_must_match_the_manifest(tmp_path):
    write_mask(tmp_path / "masks" / "m.png", _stripes())
    manifest = _manifest(tmp_path, [tmp_path / "masks" / "m.png"], size=(16, 12))
    report = masks_to_labels(manifest, tmp_path / "out", RGB_PALETTE)
    assert report.failed == 1 and "mask is 8x6 but its image is 16x12" in report.errors[0]


def test_colliding_outputs_are_refused(tmp_path):
    write_mask(tmp_path / "masks" / "m.png", _stripes())
    np.save(tmp_path / "masks" / "m.npy", EXPECTED.astype(np.int64))
    with pytest.raises(UsageError, match="same file"):
        masks_to_labels(tmp_path / "masks", tmp_path / "out", RGB_PALETTE)


def test_process_pool_gives_the_same_outputs(tmp_path):
    rng = np.random.default_rng(3)
    colours = np.array([RED, GREEN, BLUE, BLACK], np.uint8)
    for i in range(6):
        write_mask(tmp_path / "masks" / f"m{i}.png", colours[rng.integers(0, 4, size=(20, 30))])
    serial = masks_to_labels(tmp_path / "masks", tmp_path / "serial", RGB_PALETTE)
    with ProcessExecutor(2) as pool:
        parallel = masks_to_labels(tmp_path / "masks", tmp_path / "parallel", RGB_PALETTE, executor=pool, quiet=True)
    assert parallel.pixel_counts == serial.pixel_counts and parallel.converted == 6
    for i in range(6):
        assert (tmp_path / "serial" / f"m{i}.png").read_bytes() == (tmp_path / "parallel" / f"m{i}.png").read_bytes()


# --------------------------------------------------------------------------- sample_data end to end


def _sample_manifest(sample_data: Path, tmp_path: Path) -> Path:
    rows = []
    for mask in sorted((sample_data / "masks").rglob("*.png")):
        rel = mask.relative_to(sample_data / "masks").with_suffix("")
        rows.append(ManifestRow(rel.as_posix(), sample_data / "images" / rel.with_suffix(".jpg"), mask, 320, 240,
                                {"domain": rel.parts[0]}))
    return write_manifest(rows, tmp_path / "work" / "manifest.csv")


def test_sample_data_round_trip_is_byte_identical(sample_data, tmp_path, cli):
    manifest = _sample_manifest(sample_data, tmp_path)
    res = cli("masks2labels", "--palette", str(sample_data / "palette.json"), str(manifest), str(tmp_path / "labels"),
              "-j", "1", "-q")
    assert res.exit_code == 0, res.output
    assert "sky" in res.output and "32 converted" in res.output
    out = read_manifest(tmp_path / "labels" / "manifest.csv")
    src = read_manifest(manifest)
    assert [r.id for r in out] == [r.id for r in src]
    assert [r.image for r in out] == [r.image for r in src]  # images still point at the originals
    assert [r.extra for r in out] == [r.extra for r in src]
    assert out[0].mask == tmp_path / "labels" / "downtown" / "downtown_0001.png"
    palette = load_palette(sample_data / "palette.json")
    assert load_palette(tmp_path / "labels" / "palette.json") == palette.label_palette()
    first = read_mask(out[0].mask)
    assert first.ndim == 2 and first.dtype == np.uint8
    assert set(np.unique(first)) <= set(range(7)) | {255}

    res = cli("labels2masks", str(tmp_path / "labels" / "manifest.csv"), str(tmp_path / "colours"), "-j", "1", "-q")
    assert res.exit_code == 0, res.output
    for row_src, row_back in zip(src, read_manifest(tmp_path / "colours" / "manifest.csv")):
        assert np.array_equal(read_mask(row_src.mask), read_mask(row_back.mask)), row_src.id


def test_sample_data_counts_match_the_per_class_loop(sample_data):
    palette = load_palette(sample_data / "palette.json")
    for mask_path in sorted((sample_data / "masks").rglob("*.png"))[::8]:
        mask = read_mask(mask_path)
        result = mask_to_labels(mask, palette)
        ref = _reference(mask, palette)
        assert np.array_equal(result.labels, ref)
        assert result.counts[:7].tolist() == [int((ref == i).sum()) for i in range(7)]


def test_default_palette_is_the_one_beside_the_source(tmp_path, cli):
    """Real case: `masks2labels sample_data/masks OUT` said 'no palette.json beside the source' while
    sample_data/palette.json sat beside that folder. A folder source is looked in and beside; the
    error says where it looked, and the output says which palette was used."""
    write_mask(tmp_path / "data" / "masks" / "m.png", _stripes())
    with pytest.raises(UsageError, match="no --palette given") as exc:
        masks_to_labels(tmp_path / "data" / "masks", tmp_path / "out")
    assert str(tmp_path / "data" / "masks") in exc.value.reason and f"or {tmp_path / 'data'};" in exc.value.reason
    RGB_PALETTE.save(tmp_path / "data" / "palette.json")  # beside the folder, as in sample_data/
    assert masks_to_labels(tmp_path / "data" / "masks", tmp_path / "out").converted == 1
    res = cli("masks2labels", tmp_path / "data" / "masks", tmp_path / "out_cli", "-q")
    assert res.exit_code == 0 and f"palette: {tmp_path / 'data' / 'palette.json'}" in res.output
    RGB_PALETTE.save(tmp_path / "data" / "masks" / "palette.json")  # inside the folder wins
    assert masks_to_labels(tmp_path / "data" / "masks", tmp_path / "out2").palette.source == str(
        tmp_path / "data" / "masks" / "palette.json")


# --------------------------------------------------------------------------- real datasets


@pytest.mark.integration
def test_voc_rgb_targets_convert_with_void_as_ignore(shared_data, tmp_path):
    samples = shared_data("voc_samples/vainf_deeplabv3plus/samples")
    targets = sorted(samples.glob("*_target.png"))
    folder = tmp_path / "targets"
    folder.mkdir()
    for t in targets:
        shutil.copy(t, folder / t.name)
    report = masks_to_labels(folder, tmp_path / "labels", "voc")
    assert report.failed == 0 and report.converted == len(targets) == 14
    labels = read_mask(tmp_path / "labels" / "294_target.png")
    # SOURCE.md: #000000 211903, #E0E0C0 (void) 7587, #808080 (car, 7) 27532, #C08080 (person, 15) 16147
    values, counts = np.unique(labels, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist())) == {0: 211903, 7: 27532, 15: 16147, 255: 7587}
    assert report.ignored_pixels == 189861
    labels_to_masks(tmp_path / "labels", tmp_path / "back", "voc")
    for t in targets:
        assert np.array_equal(read_mask(t), read_mask(tmp_path / "back" / t.name))


@pytest.mark.integration
def test_voc_palette_pngs_keep_indices_and_match_the_npy_labels(shared_data, tmp_path):
    root = shared_data("voc_samples/labelme_examples/examples/semantic_segmentation/data_dataset_voc")
    png_report = masks_to_labels(root / "SegmentationClass", tmp_path / "png", "voc")
    npy_report = masks_to_labels(root / "SegmentationClassNpy", tmp_path / "npy", "voc", remap="-1:255")
    assert png_report.converted == npy_report.converted == 3
    assert png_report.pixel_counts == npy_report.pixel_counts
    for png in sorted((root / "SegmentationClass").glob("*.png")):
        from_png = read_mask(tmp_path / "png" / png.name)
        assert np.array_equal(from_png, read_mask(png))
        assert np.array_equal(from_png, read_mask(tmp_path / "npy" / png.name))
    counts = dict(zip(*[a.tolist() for a in np.unique(read_mask(tmp_path / "png" / "2011_000003.png"),
                                                      return_counts=True)]))
    assert counts == {0: 125767, 5: 873, 15: 32900, 255: 9460}


@pytest.mark.integration
def test_camvid_index_masks_need_void_remapped(shared_data, tmp_path):
    annot = shared_data("camvid_segnet/CamVid/valannot")
    one = tmp_path / "annot"
    one.mkdir()
    shutil.copy(annot / "0016E5_07959.png", one)  # holds all 12 values
    with pytest.raises(DataprepError, match="value 11"):
        masks_to_labels(one, tmp_path / "strict", "camvid11", on_error="fail")
    report = masks_to_labels(one, tmp_path / "labels", "camvid11", remap="ids")
    src, out = read_mask(one / "0016E5_07959.png"), read_mask(tmp_path / "labels" / "0016E5_07959.png")
    assert np.array_equal(out[src < 11], src[src < 11]) and np.all(out[src == 11] == 255)
    assert report.ignored_pixels == int((src == 11).sum()) > 0


@pytest.mark.integration
def test_isbi_255_is_a_real_class(shared_data, tmp_path):
    labels_dir = shared_data("isbi2012_membrane/data/membrane/train/label")
    palette = {"name": "membrane", "ignore_index": 254, "classes": [
        {"name": "membrane", "color": [0, 0, 0], "index": 0}, {"name": "cell", "color": [255, 255, 255], "index": 1}]}
    (tmp_path / "palette.json").write_text(json.dumps(palette))
    report = masks_to_labels(labels_dir, tmp_path / "labels", tmp_path / "palette.json", remap="255:1")
    assert report.converted == 30 and report.ignored_pixels == 0
    # SOURCE.md: 0 -> 1,727,250 px, 255 -> 6,137,070 px over all 30 labels
    assert report.pixel_counts == [1727250, 6137070]
    # The palette `palette infer` proposes says the same, through the classes' ids.
    inferred = infer_palette(labels_dir, quiet=True)
    assert inferred.binary
    inferred.save(tmp_path / "inferred.json")
    report = masks_to_labels(labels_dir, tmp_path / "inferred_labels", tmp_path / "inferred.json", remap="ids")
    assert report.pixel_counts == [1727250, 6137070] and report.ignored_pixels == 0 and report.warnings == []


@pytest.mark.integration
def test_voc_palette_pngs_with_reshuffled_tables_convert_by_colour(shared_data, tmp_path):
    """The per-file colour table case (item: palette-mode PNGs) on real VOC palette PNGs: each file
    is rewritten with its table order shuffled and its indices permuted to match, so it shows the
    same picture. Converted by colour they give exactly the labels of the original files; the
    originals, whose tables are VOC's, keep their indices."""
    root = shared_data("voc_samples/labelme_examples/examples/semantic_segmentation/data_dataset_voc")
    voc = builtin_palette("voc")
    originals = sorted((root / "SegmentationClass").glob("*.png"))
    assert masks_to_labels(root / "SegmentationClass", tmp_path / "plain", "voc").by_colour == []
    rng = np.random.default_rng(3)
    for png in originals:
        with Image.open(png) as im:
            table = np.frombuffer(bytes(im.getpalette()), np.uint8).reshape(-1, 3)[:256]
            values = np.asarray(im)
        order = rng.permutation(256)  # new index i shows old entry order[i]
        _save_p(tmp_path / "shuffled" / png.name, np.argsort(order)[values], table[order])
    report = masks_to_labels(tmp_path / "shuffled", tmp_path / "labels", voc)
    assert report.failed == 0 and len(report.by_colour) == len(originals) == 3
    for png in originals:
        assert np.array_equal(read_mask(tmp_path / "labels" / png.name), read_mask(png)), png.name
    # palette infer counts the shuffled set by colour: the same 8 classes as the originals' values.
    shuffled = infer_palette(tmp_path / "shuffled", quiet=True)
    original = infer_palette(root / "SegmentationClass", quiet=True)
    assert shuffled.kind == "colour" and shuffled.suggestion == "voc" and original.kind == "index"
    assert original.suggestion == "voc" and not original.sparse
    assert sorted(c.pixels for c in shuffled.colours) == sorted(c.pixels for c in original.colours)
    assert original.palette.names[15] == "person"


@pytest.mark.integration
def test_isbi_under_voc_warns_and_stats_kfold_see_one_class(shared_data, tmp_path):
    """The binary 0/255 case on ISBI membranes: with -p voc, 255 (the cells, 78% of the pixels) is
    ignore. masks2labels warns once with the fix; stats and kfold on the result warn of one class."""
    from dataprep.splits import split_folds
    from dataprep.stats import collect_stats

    root = shared_data("isbi2012_membrane/data/membrane/train")
    report = masks_to_labels(root / "label", tmp_path / "labels", "voc", quiet=True)
    assert report.converted == 30 and report.ignored_pixels == 6137070
    assert len(report.warnings) == 1 and "single class (background)" in report.warnings[0]
    assert "large regions" in report.warnings[0] and "--remap 255:1" in report.warnings[0]
    rows = [ManifestRow(p.stem, root / "image" / p.name, tmp_path / "labels" / p.name, 512, 512)
            for p in sorted((root / "label").glob("*.png"))]
    manifest = write_manifest(rows, tmp_path / "labels" / "manifest.csv")
    assert any("only one class (background)" in w for w in collect_stats(manifest, quiet=True).warnings)
    assert any("only one class (background)" in w for w in split_folds(manifest, 3, quiet=True).warnings)
    # The folds carry the palette masks2labels wrote: class names survive into fold manifests.
    from dataprep.palette import resolve_palette
    from dataprep.splits import kfold

    kfold(manifest, tmp_path / "folds", 3, quiet=True)
    assert resolve_palette(None, tmp_path / "folds" / "fold_1" / "val.csv").names[:2] == ["background", "aeroplane"]


def _grey_jpeg(path: Path, values: np.ndarray) -> np.ndarray:
    """Save (H, W) uint8 values as a greyscale JPEG; return what a reader decodes (values plus noise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(values, "L").save(path, quality=75)
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("stored", [255, 1])
def test_grey_jpeg_masks_snap_to_the_nearest_class_value_under_unknown_nearest(tmp_path, stored):
    """Kvasir-SEG's polyps as grey JPEGs under -p binary --unknown nearest: noise value 1 became the foreground
    and 254 the ignore index, every polyp lost, exit 0. 0/255 masks threshold at 128; 0/1 masks at 0.5."""
    rng = np.random.default_rng(11)
    blocks = np.kron(rng.integers(0, 2, (10, 13)), np.ones((11, 11), int))[:96, :128].astype(np.uint8) * stored
    decoded = _grey_jpeg(tmp_path / "masks" / "a.jpg", blocks)
    assert len(np.unique(decoded)) > 2  # the noise is there
    rows = [ManifestRow("a", tmp_path / "masks" / "a.jpg", tmp_path / "masks" / "a.jpg", 128, 96)]
    manifest = write_manifest(rows, tmp_path / "m.csv")
    report = masks_to_labels(manifest, tmp_path / "labels", "binary", unknown="nearest", quiet=True)
    labels = read_mask(read_manifest(report.manifest_path).rows[0].mask)
    np.testing.assert_array_equal(labels, (decoded >= (128 if stored == 255 else 1)).astype(np.uint8))


def test_a_grey_jpeg_of_several_classes_snaps_each_value_to_the_nearest_index_or_ignore(tmp_path):
    rng = np.random.default_rng(12)
    blocks = np.kron(rng.choice([0, 1, 2, 3, 255], (10, 13)), np.ones((11, 11), int))[:96, :128].astype(np.uint8)
    decoded = _grey_jpeg(tmp_path / "a.jpg", blocks).astype(int)
    palette = Palette("four", tuple(PaletteClass(f"c{i}", (i * 40, 0, 0), i) for i in range(4))
                      + (PaletteClass("void", (255, 255, 255), 255, ignore=True),), 255)
    result = mask_to_labels(decoded.astype(np.uint8), palette, unknown="nearest", lossy=True)
    targets = np.array([0, 1, 2, 3, 255])
    expected = targets[np.abs(decoded[:, :, None] - targets).argmin(axis=2)]  # ties go to the lower value
    np.testing.assert_array_equal(result.labels, expected)
    assert result.unknown and all(v not in (0, 1, 2, 3, 255) for v in result.unknown)


def test_a_grey_jpeg_trimap_snaps_to_the_palettes_ids_when_they_lie_nearer(tmp_path):
    """Oxford-IIIT Pet trimaps (1 pet, 2 background, 3 border) as JPEG under -p oxford_pet --unknown nearest:
    2 and 3 snapped to index 1, 99.7% 'pet', exit 0. The ids lie nearer the pixels than the indices do."""
    rng = np.random.default_rng(13)
    trimap = np.kron(rng.choice([1, 2, 3], (10, 13)), np.ones((11, 11), int))[:96, :128].astype(np.uint8)
    decoded = _grey_jpeg(tmp_path / "a.jpg", trimap).astype(int)
    result = mask_to_labels(decoded.astype(np.uint8), "oxford_pet", unknown="nearest", lossy=True)
    ids = np.array([1, 2, 3])
    nearest = ids[np.abs(decoded[:, :, None] - ids).argmin(axis=2)]
    np.testing.assert_array_equal(result.labels, np.select([nearest == 1, nearest == 2], [1, 0], 255))


def test_jpeg_masks_of_classes_a_few_values_apart_are_warned_of_and_binary_ones_are_not(tmp_path):
    """Class ids 0..3 saved as JPEG: the noise on a 3's edges reads as 2 and 1, pixels converted to classes they
    never were, exit 0 without a word. 0/255 masks keep their noise far from the other class."""
    rng = np.random.default_rng(14)
    ids = np.kron(rng.choice([0, 1, 2, 3], (10, 13)), np.ones((11, 11), int))[:96, :128].astype(np.uint8)
    decoded = _grey_jpeg(tmp_path / "close" / "a.jpg", ids)
    binary = np.kron(rng.integers(0, 2, (10, 13)), np.ones((11, 11), int))[:96, :128].astype(np.uint8) * 255
    _grey_jpeg(tmp_path / "far" / "a.jpg", binary)
    palette = Palette("four", tuple(PaletteClass(f"c{i}", (i * 40, 0, 0), i) for i in range(4)), 255)
    close = masks_to_labels(tmp_path / "close", tmp_path / "out_close", palette, unknown="nearest", quiet=True)
    labels = read_mask(tmp_path / "out_close" / "a.png")
    assert (decoded != ids).sum() > 0 and (labels != ids).sum() > 0  # wrong pixels, each a valid class
    assert [w for w in close.warnings if "JPEG mask(s)" in w and "a few values apart" in w]
    far = masks_to_labels(tmp_path / "far", tmp_path / "out_far", "binary", unknown="nearest", quiet=True)
    assert far.converted == 1 and not [w for w in far.warnings if "JPEG" in w]


def test_a_grey_jpeg_mask_that_fails_names_unknown_nearest(tmp_path, cli):
    blocks = np.kron(np.eye(6, dtype=np.uint8), np.ones((11, 11), np.uint8))[:64, :64] * 255
    _grey_jpeg(tmp_path / "masks" / "a.jpg", blocks)
    manifest = write_manifest([ManifestRow("a", tmp_path / "masks" / "a.jpg", tmp_path / "masks" / "a.jpg", 64, 64)],
                              tmp_path / "m.csv")
    res = cli("masks2labels", "-p", "binary", manifest, tmp_path / "labels")
    assert res.exit_code == 1
    assert "the mask is a JPEG, whose compression scatters its values: --unknown nearest snaps each" in res.output
    Image.open(tmp_path / "masks" / "a.jpg").convert("RGB").save(tmp_path / "masks" / "a.jpg", quality=75)
    res = cli("masks2labels", "-p", "binary", manifest, tmp_path / "labels")  # Kvasir's RGB JPEG masks
    assert "its colours: --unknown nearest gives each pixel the class of its nearest" in res.output
    assert "an index mask saved as RGB" not in res.output  # JPEG noise is grey, not an index mask's levels


def test_ignored_unknown_values_are_named_as_the_reason_under_remap_ids(tmp_path):
    """KITTI instance maps (class x 256 + object) under -p cityscapes --remap ids --unknown ignore: 100% ignore,
    and the warning blamed the palette's ignore entries instead of the unknown values --unknown ignore replaced."""
    write_mask(tmp_path / "masks/a.png", np.array([[768, 6913, 6914], [768, 3073, 7]], np.uint16))
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", "cityscapes", remap="ids", unknown="ignore")
    warning = next(w for w in report.warnings if "became the ignore index" in w)
    assert "5 of them are values or colours not in the palette that --unknown ignore replaced" in warning
    assert "ignore entries" not in warning


@pytest.mark.parametrize("values, reading, remap", [
    ([27001, 27001, 27002, 26001], "27 x 1000 + 1 (class x 1000 + object: Cityscapes instanceIds, MOTS)",
     "27000-27999"),
    ([768, 6913, 6913], "27 x 256 + 1 (class x 256 + object: KITTI, Mapillary)", "6912-7167"),
])
def test_an_instance_map_is_named_and_never_pointed_to_unknown_ignore(tmp_path, values, reading, remap):
    """KITTI/Mapillary/Cityscapes instance maps: the error advised --unknown ignore, which kept small values as
    wrong classes and turned every object into ignore (20 of 25 pixels wrong on Mapillary's sample)."""
    write_mask(tmp_path / "masks/a.png", np.array([values], np.uint16))
    report = masks_to_labels(tmp_path / "masks", tmp_path / "out", "cityscapes")
    assert report.failed == 1
    assert f"read as {reading}: an instance map, not a class mask" in report.errors[0]
    assert f"--remap {remap}:CLASS" in report.errors[0] and "--unknown ignore" not in report.errors[0]


def _anti_aliased(i: int) -> np.ndarray:
    """A binary mask drawn with anti-aliasing: 0, 255 and grey values on the disc's edge only."""
    import cv2

    mask = np.zeros((64, 80), np.uint8)
    cv2.circle(mask, (30 + 5 * i, 32), 14 + i, 255, -1, lineType=cv2.LINE_AA)
    cv2.line(mask, (2, 60), (70, 50), 255, 1, lineType=cv2.LINE_AA)  # a thin one: greys, maybe no 255 at all
    return mask


def test_anti_aliased_binary_masks_keep_their_foreground(tmp_path):
    """Magnetic-tile defect masks (PNG, 0/255 with anti-aliased edges) under -p binary --unknown nearest: every
    255 became ignore (an edge value 1 made them 0/1/255 masks), 3.6M pixels; now edges snap at 128."""
    for i in range(3):
        write_mask(tmp_path / "masks" / f"m{i}.png", _anti_aliased(i))
    nearest = masks_to_labels(tmp_path / "masks", tmp_path / "near", "binary", unknown="nearest")
    ignore = masks_to_labels(tmp_path / "masks", tmp_path / "ign", "binary", unknown="ignore")
    for i in range(3):
        raw = _anti_aliased(i)
        np.testing.assert_array_equal(read_mask(tmp_path / "near" / f"m{i}.png"), (raw >= 128).astype(np.uint8))
        expected = np.where(raw == 255, 1, np.where(raw == 0, 0, 255))  # 255 the foreground's id, edges ignore
        np.testing.assert_array_equal(read_mask(tmp_path / "ign" / f"m{i}.png"), expected)
    assert nearest.converted == ignore.converted == 3
    failed = masks_to_labels(tmp_path / "masks", tmp_path / "err", "binary")
    assert failed.failed == 3
    assert "the mask is binary with grey values on thin edges only (anti-aliased, or JPEG" in failed.errors[0]
    inferred = infer_palette(tmp_path / "masks")
    assert inferred.palette.names == ["background", "foreground"]
    assert inferred.palette.ids() == {v: int(v >= 128) for v in range(256)}


def test_a_palette_whose_ids_reorder_its_indices_warns_when_index_masks_are_read_as_indices(tmp_path):
    """classes.csv `id,name,...` rows 2 road, 0 sky, 1 car: index masks of 0..2 were read as row indices (value 0,
    sky by its id, became road), 0 warnings, exit 0. Read so, a warning says how to read the ids; --remap ids does."""
    from dataprep.labels import masks_to_labels

    masks = tmp_path / "masks"
    masks.mkdir()
    values = np.repeat(np.array([[0, 1, 2]], np.uint8), 4, axis=0)
    Image.fromarray(values).save(masks / "a.png")
    csv = tmp_path / "classes.csv"
    csv.write_text("id,name,r,g,b\n2,road,128,64,128\n0,sky,70,130,180\n1,car,0,0,142\n")
    as_indices = masks_to_labels(masks, tmp_path / "indices", csv, quiet=True)
    assert [w for w in as_indices.warnings if "ids in another order" in w] == [
        "the palette gives its classes ids in another order than their indices (id 0 is 'sky', index 0 'road'), and "
        "the index masks were read as indices: if they store the ids, every pixel of a moved class has the wrong "
        "class: rerun with --remap ids --overwrite"]
    by_ids = masks_to_labels(masks, tmp_path / "ids", csv, remap="ids", quiet=True)
    assert not [w for w in by_ids.warnings if "ids in another order" in w]
    names = [c["name"] for c in sorted(json.loads((tmp_path / "ids" / "palette.json").read_text())["classes"],
                                       key=lambda c: c["index"])]
    assert [names[i] for i in np.asarray(Image.open(tmp_path / "ids" / "a.png"))[0]] == ["sky", "car", "road"]
    in_order = tmp_path / "in_order.csv"  # ids equal to the indices: nothing to say
    in_order.write_text("id,name,r,g,b\n0,sky,70,130,180\n1,car,0,0,142\n2,road,128,64,128\n")
    plain = masks_to_labels(masks, tmp_path / "plain", in_order, quiet=True)
    assert not [w for w in plain.warnings if "ids in another order" in w]

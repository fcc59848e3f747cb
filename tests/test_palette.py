"""Palettes: built-ins, file formats, validation, packed keys, and `palette infer`."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from dataprep.errors import DataprepError, UsageError
from dataprep.io import read_mask, write_image, write_mask
from dataprep.labels import masks_to_labels
from dataprep.palette import (
    BUILTIN_PALETTES,
    EntryKind,
    Palette,
    PaletteClass,
    builtin_palette,
    colour_key,
    infer_palette,
    load_palette,
    pack_rgb,
    resolve_palette,
    unpack_key,
    voc_colormap,
)

THREE = {"name": "three", "ignore_index": 255, "classes": [
    {"name": "red", "color": [255, 0, 0], "index": 0},
    {"name": "green", "color": [0, 255, 0], "index": 1},
    {"name": "void", "color": [0, 0, 0], "index": 255, "ignore": True},
]}


# --------------------------------------------------------------------------- built-ins


def test_voc_colormap_is_the_bit_interleaved_table():
    cmap = voc_colormap(256)
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    # Spot values published with the VOC devkit.
    assert tuple(cmap[1]) == (128, 0, 0)
    assert tuple(cmap[15]) == (192, 128, 128)  # person
    assert tuple(cmap[255]) == (224, 224, 192)  # boundary
    assert len({tuple(c) for c in cmap}) == 256


def test_voc_palette_maps_boundary_to_ignore():
    voc = builtin_palette("voc")
    assert voc.num_classes == 21 and voc.names[0] == "background" and voc.names[20] == "tvmonitor"
    assert voc.colour_to_index()[(224, 224, 192)] == 255
    assert voc.colour_to_index()[(128, 128, 128)] == 7  # car


def test_cityscapes_maps_34_labels_to_19_train_ids():
    cs = builtin_palette("cityscapes")
    assert len(cs.classes) == 34 and cs.num_classes == 19
    assert cs.names[:3] == ["road", "sidewalk", "building"] and cs.names[18] == "bicycle"
    lookup = cs.colour_to_index()
    assert lookup[(0, 0, 142)] == 13  # car
    assert lookup[(250, 170, 160)] == 255  # parking is not trained on
    assert lookup[(153, 153, 153)] == 5  # pole (polegroup shares the colour)
    ids = cs.ids()
    assert ids[7] == 0 and ids[26] == 13 and ids[18] == 255 and ids[0] == 255


def test_camvid_palettes_group_32_classes_into_11():
    c32 = builtin_palette("camvid")
    assert len(c32.classes) == 32 and c32.num_classes == 31
    c11 = builtin_palette("camvid11")
    assert c11.num_classes == 11
    assert c11.names == ["Sky", "Building", "Pole", "Road", "Pavement", "Tree", "SignSymbol", "Fence", "Car",
                         "Pedestrian", "Bicyclist"]
    lookup = c11.colour_to_index()
    assert lookup[(0, 0, 192)] == 4  # Sidewalk -> Pavement
    assert lookup[(60, 40, 222)] == 4  # SegNet's own Pavement colour
    assert lookup[(64, 128, 192)] == 8  # SUVPickupTruck -> Car
    assert lookup[(0, 0, 0)] == 255
    # Every one of the 31 non-void CamVid colours has a group.
    assert set(c32.colour_to_index()) <= set(lookup)
    assert c11.ids()[11] == 255  # SegNet's index masks store void as 11


@pytest.mark.parametrize("name", BUILTIN_PALETTES)
def test_builtins_round_trip_through_json(name, tmp_path):
    pal = builtin_palette(name)
    path = pal.save(tmp_path / f"{name}.json")
    assert load_palette(path) == pal


# --------------------------------------------------------------------------- files


def test_json_yaml_and_csv_load_the_same_palette(tmp_path):
    (tmp_path / "p.json").write_text(json.dumps(THREE))
    Palette.save(load_palette(tmp_path / "p.json"), tmp_path / "p.yaml")
    (tmp_path / "class_dict.csv").write_text("name,r,g,b,index,ignore\nred,255,0,0,0,\ngreen,0,255,0,1,\n"
                                             "void,0,0,0,,1\n")
    pj, py, pc = (load_palette(tmp_path / n) for n in ("p.json", "p.yaml", "class_dict.csv"))
    assert pj.classes == py.classes == pc.classes
    assert pj.ignore_index == pc.ignore_index == 255


def test_class_dict_csv_without_index_uses_row_order_and_hex_colours(tmp_path):
    (tmp_path / "class_dict.csv").write_text("name,color\nsky,#4682B4\nroad,#804080\n")
    pal = load_palette(tmp_path / "class_dict.csv")
    assert [(c.name, c.color, c.index) for c in pal.classes] == [("sky", (70, 130, 180), 0), ("road", (128, 64, 128), 1)]
    assert pal.name == "class_dict"


def test_palette_of_classes_past_255_keeps_class_255(tmp_path):
    """ADE20K-full's 847 classes (`pier` at 255) in a class_dict.csv or a JSON of trainIds, no ignore_index: 255,
    the default, made `pier` ignore without a word and masks2labels wrote its pixels as 255 = ignore."""
    cmap = voc_colormap(301)
    lines = ["name,r,g,b"] + [f"c{i},{cmap[i + 1][0]},{cmap[i + 1][1]},{cmap[i + 1][2]}" for i in range(300)]
    (tmp_path / "class_dict.csv").write_text("\n".join(lines) + "\n")
    by_train_id = {"classes": [{"name": f"c{i}", "trainId": i} for i in range(300)]}
    for pal in (load_palette(tmp_path / "class_dict.csv"), load_palette(by_train_id)):
        assert pal.num_classes == 300 and pal.ignore_index == 65535
        assert not [c.name for c in pal.classes if c.ignore] and pal.names[255] == "c255"
    labels = (np.arange(20 * 16, dtype=np.uint16) % 300).reshape(16, 20)
    write_mask(tmp_path / "src" / "a.png", labels)
    report = masks_to_labels(tmp_path / "src", tmp_path / "out", load_palette(tmp_path / "class_dict.csv"))
    assert report.converted == 1
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "a.png"), labels)
    # VOC's way stays: 0..20 and an unflagged 255 is the ignore entry
    voc = load_palette({"classes": [{"name": f"c{i}", "index": i} for i in range(21)]
                        + [{"name": "boundary", "index": 255}]})
    assert voc.ignore_index == 255 and [c.name for c in voc.classes if c.ignore] == ["boundary"]


def test_yaml_hex_colour_left_unquoted_is_named(tmp_path):
    """`color: #804080` is a YAML comment: the palette loaded without colours, and each RGB mask then failed on
    '(128,64,128) not in palette' though the file seemed to give that colour."""
    (tmp_path / "p.yaml").write_text("name: t\nclasses:\n  - name: road\n    color: #804080\n")
    with pytest.raises(DataprepError) as err:
        load_palette(tmp_path / "p.yaml")
    assert str(err.value) == (f"{tmp_path / 'p.yaml'}: line 4: YAML reads `#804080` after `color:` as a comment, "
                              "so the class has no colour; quote it: color: '#804080'")
    (tmp_path / "q.yml").write_text("classes:\n  - name: road  # the road\n    colour: '#804080'  # purple\n")
    assert load_palette(tmp_path / "q.yml").classes[0].color == (128, 64, 128)


def test_sample_palette_loads(sample_data):
    pal = load_palette(sample_data / "palette.json")
    assert pal.num_classes == 7 and pal.ignore_index == 255
    assert pal.names == ["sky", "building", "road", "sidewalk", "vegetation", "car", "person"]
    assert pal.label_dtype == np.uint8


@pytest.mark.parametrize("classes, message", [
    ([{"name": "a", "color": [1, 2, 3], "index": 0}, {"name": "b", "color": [1, 2, 3], "index": 1}],
     "colour (1,2,3) is given to both 'a' (index 0) and 'b' (index 1)"),
    ([{"name": "a", "color": [1, 2, 3], "index": 4, "ignore": True}], "marked ignore but has index 4"),
    ([{"name": "a", "color": [1, 2, 300], "index": 0}], "colour"),
    ([{"name": "a", "color": [1, 2, 3], "index": -1}], "index must be an integer"),
    # int() cut these without a word: 0..1 fractions (matplotlib's colours) to black and (1, 1, 1), 128.6 to 128,
    # index 1.7 to 1, true to 1
    ([{"name": "a", "color": [0.0, 0.0, 0.0]}, {"name": "b", "color": [1.0, 1.0, 1.0]}], "0..1 fractions"),
    ([{"name": "a", "color": [0.5, 0.25, 0.0]}], "0..1 fractions"),
    ([{"name": "a", "color": [128.6, 64, 128]}], "class #0 (a): expected a whole number, not 128.6"),
    ([{"name": "a", "color": [1, 2, 3], "index": 1.7}], "expected a whole number, not 1.7"),
    ([{"name": "a", "color": [True, 2, 3]}], "expected a whole number, not True"),
    ([{"name": "a", "color": [1, 2, 3], "id": 7.5}], "expected a whole number, not 7.5"),
])
def test_bad_palettes_name_the_file_and_the_problem(tmp_path, classes, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"classes": classes}))
    with pytest.raises(DataprepError) as err:
        load_palette(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_whole_floats_are_integers_in_palette_files():
    pal = load_palette({"ignore_index": 255.0, "classes": [{"name": "a", "color": [128.0, 64.0, 128.0], "index": 2.0}]})
    assert pal.classes[0].color == (128, 64, 128) and pal.classes[0].index == 2 and pal.ignore_index == 255


def test_unknown_palette_name_lists_the_builtins():
    with pytest.raises(UsageError, match="built-ins: voc, cityscapes"):
        load_palette("cityscape")
    with pytest.raises(DataprepError, match="palette file not found"):
        load_palette("missing/palette.json")


def test_grouping_collapses_to_one_entry_per_index():
    pal = Palette("g", (PaletteClass("car", (0, 0, 142), 0), PaletteClass("truck", (0, 0, 70), 0),
                        PaletteClass("sky", (70, 130, 180), 2)))
    assert pal.colour_to_index() == {(0, 0, 142): 0, (0, 0, 70): 0, (70, 130, 180): 2}
    labels = pal.label_palette()
    # one entry per index 0..K-1 (the gap at 1 filled), then the ignore entry
    assert [(c.name, c.index) for c in labels.classes] == [("car", 0), ("class_1", 1), ("sky", 2), ("ignore", 255)]
    assert labels.classes[0].color == (0, 0, 142)
    assert len({c.color for c in labels.classes}) == 4
    assert labels.num_classes == pal.num_classes == 3


def test_with_ignore_index_moves_ignored_classes():
    pal = load_palette(THREE).with_ignore_index(11)
    assert pal.colour_to_index()[(0, 0, 0)] == 11 and pal.ignore_index == 11
    with pytest.raises(UsageError, match="index of class 'green'"):
        load_palette(THREE).with_ignore_index(1)


def test_resolve_palette_finds_the_file_beside_a_manifest(tmp_path):
    (tmp_path / "palette.json").write_text(json.dumps(THREE))
    assert resolve_palette(None, tmp_path / "manifest.csv").name == "three"
    assert resolve_palette("voc", tmp_path / "manifest.csv").name == "voc"
    assert resolve_palette(None, tmp_path / "elsewhere" / "manifest.csv") is None


# --------------------------------------------------------------------------- packed keys


def test_pack_rgb_matches_arithmetic_keys_and_flags_transparency():
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(17, 23, 4), dtype=np.uint8)
    rgba[0, :5, 3] = 0
    rgba[1:, :, 3] = np.maximum(rgba[1:, :, 3], 1)
    keys, transparent = pack_rgb(rgba[:, :, :3])
    expected = rgba[..., 0].astype(np.uint32) | rgba[..., 1].astype(np.uint32) << 8 | rgba[..., 2].astype(np.uint32) << 16
    assert transparent is None and np.array_equal(keys, expected)
    keys4, transparent4 = pack_rgb(rgba)
    assert np.array_equal(keys4, expected)
    assert transparent4.sum() == (rgba[..., 3] == 0).sum() == 5
    assert unpack_key(colour_key((1, 2, 3))) == (1, 2, 3)


# --------------------------------------------------------------------------- infer


def _scene(h=60, w=80) -> np.ndarray:
    """Three colour regions plus a small one: red sky, green ground, blue car, black border."""
    m = np.zeros((h, w, 3), np.uint8)
    m[: h // 2] = (200, 30, 30)
    m[h // 2 :] = (30, 160, 60)
    m[h // 2 : h // 2 + 16, 8:40] = (20, 40, 200)
    m[:8] = 0
    return m


def test_infer_counts_exact_colours_black_then_most_pixels_first(tmp_path):
    for i in range(3):
        write_mask(tmp_path / f"m{i}.png", _scene())
    write_mask(tmp_path / "sub" / "extra.png", np.full((10, 10, 3), (9, 9, 250), np.uint8))
    result = infer_palette(tmp_path)
    assert result.kind == "colour" and result.files == 4 and not result.artefacts
    scene = _scene()
    expected = {}
    for c in [(200, 30, 30), (30, 160, 60), (20, 40, 200), (0, 0, 0)]:
        expected[c] = 3 * int(np.all(scene == c, axis=-1).sum())
    expected[(9, 9, 250)] = 100
    assert {c.color: c.pixels for c in result.colours} == expected
    order = sorted(expected, key=lambda c: (c != (0, 0, 0), -expected[c]))  # black, the rarest, is background
    assert order[0] == (0, 0, 0) and expected[(0, 0, 0)] < expected[order[1]]
    assert [c.color for c in result.palette.classes] == order
    assert [c.index for c in result.palette.classes] == list(range(5))
    assert {c.color: c.images for c in result.colours}[(9, 9, 250)] == 1


def test_infer_flags_jpeg_artefacts_and_keeps_the_real_classes(tmp_path):
    for i in range(3):
        write_image(tmp_path / f"m{i}.jpg", np.roll(_scene(120, 160), 7 * i, axis=1), quality=85)
    result = infer_palette(tmp_path)
    assert result.lossy and len(result.artefacts) > 10
    classes = [c.color for c in result.palette.classes if not c.name.endswith("(artefact)")]
    truth = [(200, 30, 30), (30, 160, 60), (20, 40, 200), (0, 0, 0)]
    assert len(classes) == len(truth)
    for colour in classes:  # each class is one of the drawn colours, give or take the JPEG error
        assert min(np.abs(np.subtract(colour, t)).max() for t in truth) <= 16
    # artefacts are grouped into the class whose colour they resemble
    for a in result.artefacts[:50]:
        cls = next(c for c in result.palette.classes if c.index == a.index)
        assert np.abs(np.subtract(a.color, cls.color)).sum() < np.abs(np.subtract(a.color, (255, 255, 255))).sum()
    # ... and the written palette names that class for each (Kvasir-SEG's JPEG masks showed "class_0 (artefact)")
    entries = result.to_dict()["classes"]
    class_names = {e["index"]: e["name"] for e in entries if "artefact_of" not in e}
    listed = [e for e in entries if "artefact_of" in e]
    assert listed and all(e["artefact_of"] == class_names[e["index"]] for e in listed)


def _blobs(seed: int, white_share: float) -> np.ndarray:
    """A binary mask of round blobs (GlaS glands) covering about `white_share` of it, 0/255."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:96, :128]
    mask = np.zeros((96, 128), np.uint8)
    while (mask > 0).mean() < white_share:
        cy, cx, r = rng.integers(0, 96), rng.integers(0, 128), rng.integers(8, 20)
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 255
    return mask


def test_binary_colour_masks_get_black_as_background_whatever_covers_more(tmp_path):
    """GlaS's RGB masks: testA is mostly background, testB mostly glands. By pixel share alone the two halves,
    inferred apart, swapped their classes."""
    for share, folder in ((0.3, "a"), (0.7, "b")):
        for i in range(2):
            write_mask(tmp_path / folder / f"m{i}.png", np.repeat(_blobs(i, share)[:, :, None], 3, axis=2))
        result = infer_palette(tmp_path / folder)
        assert result.kind == "colour"
        assert [(c.name, c.color, c.index) for c in result.palette.classes] == [
            ("background", (0, 0, 0), 0), ("foreground", (255, 255, 255), 1)]


def test_index_masks_all_saved_as_grey_rgb_are_inferred_by_value(tmp_path):
    """SegNet's CamVid masks re-saved as (v,v,v): inferred as colours, classes by pixel share (void 11 a class at
    index 5, road 3 at 0). They count as the index masks they are; an antialiased black-and-white set does not."""
    values = np.zeros((12, 12), np.uint8)
    values[:, 4:8], values[:, 8:] = 3, 11
    values[:4, :4] = 1
    write_mask(tmp_path / "grey" / "a.png", np.repeat(values[:, :, None], 3, axis=2))
    result = infer_palette(tmp_path / "grey")
    assert result.kind == "index" and result.grey_rgb_files == 1
    assert sorted(c.value for c in result.classes) == [0, 1, 3, 11]
    assert {c.value: c.index for c in result.colours} == {0: 0, 1: 1, 3: 2, 11: 3}
    edged = np.where(_blobs(0, 0.5) > 0, 255, 0).astype(np.uint8)
    edged[1:-1, 1:-1][np.diff(edged, axis=1)[1:-1, :-1] != 0] = 128  # a grey band on every edge
    write_mask(tmp_path / "edged" / "a.png", np.repeat(edged[:, :, None], 3, axis=2))
    assert infer_palette(tmp_path / "edged").kind == "colour"


def test_grey_jpeg_masks_are_two_classes_not_one_per_value(tmp_path):
    """Binary masks saved as single-channel JPEG hold ~40 values (0..12, 240..255); each was a class. Now the
    values are pooled, every value 0..255 gets the class of the nearer of 0 and 255, and the palette's remap
    (ids) converts them: equal to a threshold at 128."""
    for i in range(3):
        Image.fromarray(_blobs(i, 0.5)).save(tmp_path / f"m{i}.jpg", quality=90)
    result = infer_palette(tmp_path)
    assert result.kind == "index" and result.lossy and len(result.colours) > 10
    pal = result.palette
    assert pal.names == ["background", "foreground"]
    assert pal.ids() == {v: int(v >= 128) for v in range(256)}
    masks_to_labels(tmp_path, tmp_path.parent / f"{tmp_path.name}-out", pal, remap="ids", quiet=True)
    for i in range(3):
        raw = np.asarray(Image.open(tmp_path / f"m{i}.jpg"))
        np.testing.assert_array_equal(read_mask(tmp_path.parent / f"{tmp_path.name}-out" / f"m{i}.png"),
                                      (raw >= 128).astype(np.uint8))
    # GlaS's JPEG masks hold more 253 than 255: the threshold stays at 128 all the same
    from dataprep.palette.infer import _infer_lossy_values

    values, pixels = np.array([0, 1, 2, 250, 253, 255]), np.array([1000, 10, 5, 50, 900, 800])
    drifted = _infer_lossy_values(values, pixels, np.ones(6, np.int64), 255, "glas").palette
    assert drifted.ids() == {v: int(v >= 128) for v in range(256)}
    # the same masks as PNG stay the binary palette of 0 and 255
    for i in range(3):
        write_mask(tmp_path / "png" / f"m{i}.png", _blobs(i, 0.5))
    assert infer_palette(tmp_path / "png").binary


@pytest.mark.parametrize("levels", [(1, 2, 3), (0, 1)])
def test_grey_jpeg_masks_of_close_values_keep_each_value_that_fills_regions(tmp_path, levels):
    """Oxford-IIIT Pet trimaps (1, 2, 3) and 0/1 masks saved as JPEG were pooled into one class, their values
    closer than the pooling radius; each fills regions, which JPEG noise never does."""
    rng = np.random.default_rng(0)
    for i in range(3):
        mask = np.full((60, 80), levels[0], np.uint8)
        for level in levels[1:]:
            y, x = rng.integers(0, 30), rng.integers(0, 40)
            mask[y : y + 25, x : x + 35] = level
        Image.fromarray(mask).save(tmp_path / f"m{i}.jpg", quality=90)
    result = infer_palette(tmp_path)
    assert result.lossy and [c.id for c in result.palette.classes if c.kind is not EntryKind.ARTEFACT] == \
        list(levels)
    ids = result.palette.ids()
    assert [ids[v] for v in levels] == list(range(len(levels)))


def test_jpeg_noise_saved_as_png_is_pooled_and_thin_real_classes_are_not(tmp_path):
    """Kvasir's grey JPEG masks saved again as PNG: values 0..8 and 247..255 became 18 classes. Values that never
    fill a 3x3 block, each near one that does, and more of them than classes are noise; CamVid's 12 classes,
    some thin, stay 12."""
    for i in range(3):
        Image.fromarray(_blobs(i, 0.5)).save(tmp_path / f"m{i}.jpg", quality=90)
        write_mask(tmp_path / "png" / f"m{i}.png", np.asarray(Image.open(tmp_path / f"m{i}.jpg")))
    result = infer_palette(tmp_path / "png")
    assert result.lossy and result.palette.names == ["background", "foreground"] and len(result.colours) > 10
    assert result.palette.ids() == {v: int(v >= 128) for v in range(256)}
    rng = np.random.default_rng(4)
    classes = np.kron(rng.integers(0, 10, (12, 16)), np.ones((6, 6), int)).astype(np.uint8)
    classes[::9, :] = 10  # thin classes: lines that never fill a 3x3 block
    classes[:, ::11] = 11
    write_mask(tmp_path / "camvid" / "a.png", classes)
    result = infer_palette(tmp_path / "camvid")
    assert not result.lossy and sorted(c.value for c in result.classes) == list(range(12))
    lanes = np.kron(rng.integers(0, 2, (12, 16)), np.ones((6, 6), int)).astype(np.uint8)
    for k, row in enumerate(range(5, 64, 16)):  # four 1-pixel line classes beside two area classes
        lanes[row, :] = 2 + k
    write_mask(tmp_path / "lanes" / "a.png", lanes)
    result = infer_palette(tmp_path / "lanes")
    assert not result.lossy and sorted(c.value for c in result.classes) == list(range(6))


def test_the_binary_builtin_converts_binary_masks_however_stored(tmp_path, cli):
    """0/1 as they are, 0/255 by id, black/white by colour; instance masks' object ids (ajbrookhouse/
    WSU_PlantBio_ML: 105 values, 1..104 chloroplasts) with a range remap, which palette infer proposes."""
    binary = builtin_palette("binary")
    ones = np.array([[0, 1], [1, 0]], np.uint8)
    write_mask(tmp_path / "a" / "ones.png", ones)
    write_mask(tmp_path / "b" / "full.png", ones * 255)
    write_mask(tmp_path / "c" / "rgb.png", np.repeat((ones * 255)[:, :, None], 3, axis=2))
    objects = np.zeros((12, 12), np.uint16)
    for k in range(1, 71):
        objects.flat[k * 2] = k
    write_mask(tmp_path / "inst" / "objects.png", objects)
    out = tmp_path.parent / f"{tmp_path.name}-out"
    masks_to_labels(tmp_path / "a", out / "a", binary, quiet=True)
    masks_to_labels(tmp_path / "b", out / "b", binary, remap="ids", quiet=True)
    masks_to_labels(tmp_path / "c", out / "c", binary, quiet=True)
    for folder, name in (("a", "ones"), ("b", "full"), ("c", "rgb")):
        np.testing.assert_array_equal(read_mask(out / folder / f"{name}.png"), ones)
    res = cli("palette", "infer", tmp_path / "inst", "-o", out / "inst.json")
    assert res.exit_code == 0, res.output
    assert "`dataprep masks2labels --palette binary --remap 1-70:1 ...` makes every object" in res.output
    masks_to_labels(tmp_path / "inst", out / "d", binary, remap="1-70:1", quiet=True)
    np.testing.assert_array_equal(read_mask(out / "d" / "objects.png"), (objects > 0).astype(np.uint8))


def test_roboflow_classes_csv_without_colours_loads(tmp_path):
    """Roboflow's semantic-mask exports ship `_classes.csv` as `Pixel Value, Class`; it was refused for lack of
    colours. The pixel value is the index, the colour that of the VOC colormap."""
    (tmp_path / "_classes.csv").write_text("Pixel Value, Class\n0, background\n1, crack\n2, pothole\n")
    palette = load_palette(tmp_path / "_classes.csv")
    assert [(c.name, c.index, c.color) for c in palette.classes] == [
        ("background", 0, (0, 0, 0)), ("crack", 1, (128, 0, 0)), ("pothole", 2, (0, 128, 0))]
    (tmp_path / "bad.csv").write_text("Pixel Value, Class\nzero, background\n")
    with pytest.raises(DataprepError, match="bad.csv: line 2: index must be an integer, not 'zero'"):
        load_palette(tmp_path / "bad.csv")


def test_an_inferred_binary_palette_converts_without_remap_ids(tmp_path):
    """ISBI 2012: palette infer, then masks2labels with its palette and no --remap: 255 was read as the ignore
    index (78% of the pixels) and no membrane was left (exit 0, a warning). The palette now says its remap."""
    for i in range(2):
        write_mask(tmp_path / "masks" / f"m{i}.png", _blobs(i, 0.6))
    result = infer_palette(tmp_path / "masks")
    assert result.binary and result.palette.remap == "ids"
    result.save(tmp_path / "pal.json")
    assert json.loads((tmp_path / "pal.json").read_text())["remap"] == "ids"
    out = tmp_path.parent / f"{tmp_path.name}-labels"
    report = masks_to_labels(tmp_path / "masks", out, tmp_path / "pal.json", quiet=True)
    for i in range(2):
        np.testing.assert_array_equal(read_mask(out / f"m{i}.png"), (_blobs(i, 0.6) > 0).astype(np.uint8))
    assert report.notes[0].startswith("stored values converted by the palette's remap (ids)")
    assert load_palette(out / "palette.json").remap is None  # the label maps' palette: indices as they are
    explicit = masks_to_labels(tmp_path / "masks", out.with_name(out.name + "2"), tmp_path / "pal.json",
                               remap="0:0", unknown="ignore", quiet=True)
    assert explicit.pixel_counts[1] == 0 and not any("palette's remap" in n for n in explicit.notes)
    with pytest.raises(DataprepError, match="remap must be one of ids, reduce-zero, not 'maybe'"):
        Palette("p", (PaletteClass("a", (0, 0, 0), 0, id=1),), 255, None, "maybe")


def test_infer_flags_antialiased_blends(tmp_path):
    m = np.zeros((40, 40, 3), np.uint8)
    m[:, :20] = (200, 0, 0)
    m[:, 20:] = (0, 0, 200)
    m[:, 20] = (100, 0, 100)  # the half-way blend an anti-aliased edge leaves
    write_mask(tmp_path / "aa.png", m)
    result = infer_palette(tmp_path / "aa.png")
    assert [c.color for c in result.artefacts] == [(100, 0, 100)]
    assert {c.color for c in result.classes} == {(200, 0, 0), (0, 0, 200)}


def test_infer_names_colours_after_a_matching_builtin(sample_data):
    result = infer_palette(sample_data / "masks")
    assert result.suggestion == "cityscapes"
    by_colour = {c.color: c for c in result.palette.classes}
    assert by_colour[(0, 0, 142)].name == "car"
    assert by_colour[(0, 0, 0)].ignore and by_colour[(0, 0, 0)].index == 255
    assert result.pixels == 32 * 320 * 240


@pytest.mark.parametrize("foreground", [(255, 0, 0), (255, 255, 255)])
def test_a_binary_colour_mask_is_not_taken_for_a_builtin_by_its_black(tmp_path, foreground):
    """Massachusetts Buildings' red buildings on black matched Cityscapes (black its `unlabeled`, red `rider`):
    85% of the pixels became ignore. One class colour is no evidence for a 19-class palette."""
    m = np.zeros((40, 40, 3), np.uint8)
    m[5:15, 5:25] = foreground
    write_mask(tmp_path / "b.png", m)
    result = infer_palette(tmp_path / "b.png")
    assert result.suggestion is None
    assert [(c.color, c.index, c.ignore) for c in result.palette.classes] == [((0, 0, 0), 0, False),
                                                                               (foreground, 1, False)]
    m[20:30, 5:25] = (0, 0, 142)  # a second Cityscapes class colour (car): now it is evidence
    write_mask(tmp_path / "b.png", m)
    assert infer_palette(tmp_path / "b.png").suggestion == ("cityscapes" if foreground == (255, 0, 0) else None)


SUIM_CODES = {(0, 0, 0): 0, (0, 0, 255): 1, (0, 255, 0): 2, (0, 255, 255): 3, (255, 0, 0): 4, (255, 0, 255): 5,
              (255, 255, 0): 6, (255, 255, 255): 7}


def test_suim_deepglobe_and_isprs_builtins_follow_their_datasets_codes(tmp_path):
    """SUIM's index is its colour's code 4R + 2G + B (the dataset's data_utils.py); DeepGlobe's unknown (black)
    is left out of the challenge's score, so it is ignore."""
    suim = builtin_palette("suim")
    assert {c.color: c.index for c in suim.classes} == SUIM_CODES and not any(c.ignore for c in suim.classes)
    deepglobe = builtin_palette("deepglobe")
    assert [(c.color, c.index, c.ignore) for c in deepglobe.classes] == [
        ((0, 255, 255), 0, False), ((255, 255, 0), 1, False), ((255, 0, 255), 2, False), ((0, 255, 0), 3, False),
        ((0, 0, 255), 4, False), ((255, 255, 255), 5, False), ((0, 0, 0), 255, True)]
    isprs = builtin_palette("isprs")  # MMSegmentation's Potsdam order, boundaries (black) ignored
    assert [c.name for c in isprs.classes][:6] == ["impervious surfaces", "building", "low vegetation", "tree", "car",
                                                   "clutter"]
    assert isprs.classes[6].color == (0, 0, 0) and isprs.classes[6].ignore
    rng = np.random.default_rng(0)
    colours = np.array(list(SUIM_CODES), np.uint8)
    codes = rng.integers(0, 8, (30, 40))
    (tmp_path / "masks").mkdir()
    write_mask(tmp_path / "masks" / "m.png", colours[codes])
    report = masks_to_labels(tmp_path / "masks", tmp_path / "labels", "suim", quiet=True)
    assert report.converted == 1 and np.array_equal(np.asarray(Image.open(tmp_path / "labels" / "m.png")), codes)


def test_cube_corner_palettes_are_suggested_only_on_evidence(tmp_path):
    """Black and white masks are SUIM's waterbody and sea-floor, and DeepGlobe's and ISPRS' colours are all SUIM's:
    neither is evidence. Reefs' magenta, SUIM's own, is."""
    m = np.zeros((40, 40, 3), np.uint8)
    m[:10] = (255, 255, 255)
    write_mask(tmp_path / "a.png", m)
    assert infer_palette(tmp_path / "a.png").suggestion is None
    m[10:20], m[20:30] = (0, 255, 255), (255, 255, 0)  # DeepGlobe's urban and agriculture: SUIM's colours too
    write_mask(tmp_path / "a.png", m)
    assert infer_palette(tmp_path / "a.png").suggestion is None
    m[30:35] = (255, 0, 0)  # ISPRS' clutter as well as SUIM's robots: still a tie
    write_mask(tmp_path / "a.png", m)
    assert infer_palette(tmp_path / "a.png").suggestion is None
    m[35:] = (255, 0, 255)
    write_mask(tmp_path / "a.png", m)
    result = infer_palette(tmp_path / "a.png")
    assert result.suggestion == "suim"
    assert {c.color: c.name for c in result.palette.classes}[(255, 0, 255)] == "reefs and invertebrates"


def test_infer_index_masks_and_refuse_a_mix(tmp_path):
    Image.fromarray(np.array([[0, 1], [1, 255]], np.uint8), mode="L").save(tmp_path / "a.png")
    result = infer_palette(tmp_path / "a.png")
    assert result.kind == "index"
    assert [(c.index, c.ignore) for c in result.palette.classes] == [(0, False), (1, False), (255, True)]
    write_mask(tmp_path / "b.png", _scene())
    with pytest.raises(DataprepError, match=r"mix colour \(1, e\.g\. .*b\.png\) and index \(1, e\.g\. .*a\.png\)"):
        infer_palette(tmp_path)


def test_a_folder_of_photos_beside_their_masks_is_named_as_such(tmp_path, cli):
    """CelebAMask-HQ's samples (0.jpg beside 0.png): the photos were read as colour masks and the error said the
    masks mix colour and index ones. A manifest of the same folder infers from its masks."""
    for i in range(2):
        write_image(tmp_path / f"{i}.jpg", np.full((4, 4, 3), 90 * i, np.uint8))
        write_mask(tmp_path / f"{i}.png", np.full((4, 4), i, np.uint8))
    with pytest.raises(DataprepError, match=r"holds photos beside their masks \(2, e\.g\. 0\.jpg and 0\.png\)"):
        infer_palette(tmp_path)
    result = cli("palette", "infer", tmp_path, "-o", tmp_path.parent / "p.json")
    assert result.exit_code == 1 and "photos beside their masks" in result.output
    (tmp_path / "0.jpg").rename(tmp_path.parent / "0.jpg")
    (tmp_path / "1.jpg").rename(tmp_path.parent / "1.jpg")
    assert infer_palette(tmp_path).kind == "index"


def test_grey_rgb_masks_among_index_masks_count_as_their_values(tmp_path):
    """BUSI: 133 'normal' masks are all-black RGB among 1-bit masks; PH2: one 24-bit BMP among 199 1-bit ones.
    palette infer refused the mix; now it counts the grey ones by value, and says when 1 and 255 both
    look like the foreground."""
    Image.fromarray(np.array([[0, 1], [1, 1]], bool)).save(tmp_path / "a.png")  # 1-bit: read as 0/1
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "b.png")  # an empty case saved as RGB
    result = infer_palette(tmp_path)
    assert result.kind == "index" and result.grey_rgb_files == 1 and result.binary_encodings is None
    assert [(c.value, c.pixels, c.images) for c in result.classes] == [(0, 5, 2), (1, 3, 1)]
    white = np.zeros((2, 2, 3), np.uint8)
    white[0] = 255
    Image.fromarray(white).save(tmp_path / "c.bmp")
    result = infer_palette(sorted(tmp_path.iterdir()))
    assert result.binary_encodings == (1, 1, str(tmp_path / "c.bmp"))
    assert {c.value for c in result.classes} == {0, 1, 255}
    tinted = white.copy()
    tinted[1, 1] = (0, 0, 1)  # one pixel not grey: a colour mask, and the mix is refused
    Image.fromarray(tinted).save(tmp_path / "c.bmp")
    with pytest.raises(DataprepError, match="mix colour"):
        infer_palette(tmp_path)


def test_infer_binary_masks_makes_255_class_1_and_converts_with_ids(tmp_path):
    from dataprep.labels import masks_to_labels

    mask = np.zeros((6, 8), np.uint8)
    mask[2:5, 3:7] = 255
    write_mask(tmp_path / "masks" / "a.png", mask)
    result = infer_palette(tmp_path / "masks")
    assert result.binary and result.to_dict()["inferred"]["binary"]
    assert [(c.index, c.id, c.ignore) for c in result.palette.classes] == [(0, 0, False), (1, 255, False)]
    assert result.palette.num_classes == 2
    result.save(tmp_path / "palette.json")
    report = masks_to_labels(tmp_path / "masks", tmp_path / "labels", tmp_path / "palette.json", remap="ids")
    assert np.array_equal(read_mask(tmp_path / "labels" / "a.png"), (mask == 255).astype(np.uint8))
    assert report.pixel_counts == [36, 12] and report.ignored_pixels == 0 and report.warnings == []


def test_infer_keeps_255_as_ignore_beside_other_classes(tmp_path):
    # VOC style: classes 0 and 1 plus 255 boundaries is not a binary mask.
    write_mask(tmp_path / "a.png", np.array([[0, 1, 255], [1, 1, 0]], np.uint8))
    result = infer_palette(tmp_path / "a.png")
    assert not result.binary
    assert [(c.index, c.ignore) for c in result.palette.classes] == [(0, False), (1, False), (255, True)]


def test_infer_makes_255_a_class_where_classes_run_past_it(tmp_path):
    """16-bit label maps of 299 classes: 255 was made ignore inside the class range, the palette's class_255 gap
    then clashed with it ("class 'class_255' has the ignore index 255") and masks2labels refused the palette."""
    labels = np.arange(300, dtype=np.uint16).reshape(15, 20) % 299
    write_mask(tmp_path / "src" / "a.png", labels)
    result = infer_palette(tmp_path / "src")
    assert result.palette.ignore_index == 65535 and result.palette.num_classes == 299
    assert not [c for c in result.palette.classes if c.ignore and c.index == 255]
    result.save(tmp_path / "palette.json")
    report = masks_to_labels(tmp_path / "src", tmp_path / "out", load_palette(tmp_path / "palette.json"))
    assert report.converted == 1 and report.pixel_counts[255] == 1
    np.testing.assert_array_equal(read_mask(tmp_path / "out" / "a.png"), labels)
    nodata = (np.arange(300, dtype=np.uint16) % 260).reshape(15, 20)
    nodata[0, :5] = 65535  # 260 classes and 16-bit no-data: 255 stayed ignore and 65535 became class 259
    write_mask(tmp_path / "nodata" / "a.png", nodata)
    inferred = infer_palette(tmp_path / "nodata").palette
    assert inferred.ignore_index == 65535 and inferred.num_classes == 260
    assert [c.name for c in inferred.classes if c.ignore] == ["ignore"]


def test_inferred_palette_file_loads_and_converts(tmp_path):
    write_mask(tmp_path / "m.png", _scene())
    result = infer_palette(tmp_path)
    result.save(tmp_path / "out" / "palette.json")
    data = json.loads((tmp_path / "out" / "palette.json").read_text())
    assert data["inferred"]["files"] == 1 and data["classes"][0]["pixels"] > 0
    assert load_palette(tmp_path / "out" / "palette.json") == result.palette


# --------------------------------------------------------------------------- CLI


def test_cli_palette_show_and_infer(cli, tmp_path, sample_data):
    listing = cli("palette", "show")
    assert listing.exit_code == 0 and all(name in listing.output for name in BUILTIN_PALETTES)
    shown = cli("palette", "show", "camvid11")
    assert shown.exit_code == 0 and "Pavement" in shown.output and "#3c28de" in shown.output
    as_json = cli("palette", "show", str(sample_data / "palette.json"), "--json")
    assert json.loads(as_json.output) == load_palette(sample_data / "palette.json").to_dict()
    out = tmp_path / "inferred.json"
    res = cli("palette", "infer", str(sample_data / "masks" / "suburb"), "-o", str(out), "-j", "1", "-q")
    assert res.exit_code == 0, res.output
    assert "cityscapes" in res.output and "vegetation" in res.output
    assert load_palette(out).colour_to_index()[(107, 142, 35)] < 255
    binary = tmp_path / "binary"
    write_mask(binary / "a.png", np.array([[0, 255], [255, 255]], np.uint8))
    res = cli("palette", "infer", str(binary), "-o", str(tmp_path / "binary.json"), "-q")
    assert res.exit_code == 0 and "255 is taken as class 1" in res.output and "(the palette records remap: ids" in res.output
    bad = cli("palette", "show", "nope")
    assert bad.exit_code == 2 and "error:" in bad.output


# --------------------------------------------------------------------------- real-data cases, made synthetic


def _save_p(path, indices, colours):
    table = np.zeros((256, 3), np.uint8)
    table[: len(colours)] = colours
    im = Image.fromarray(np.asarray(indices, np.uint8), mode="P")
    im.putpalette(table.tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def test_infer_counts_palette_mode_masks_with_per_file_tables_by_colour(tmp_path):
    """Real case: an aerial set mixes RGB masks with 'P' PNGs whose table order changes per file
    (index 0 = Land in one, Building in the next). Counting raw indices gave classes that mean a
    different thing in every file; the set must be inferred as colour masks."""
    land, building, water = (0, 255, 0), (255, 0, 0), (0, 0, 255)
    truth = np.zeros((8, 12), np.uint8)
    truth[:, 4:8], truth[:, 8:] = 1, 2
    colours = np.array([land, building, water], np.uint8)
    for k, order in enumerate([(0, 1, 2), (1, 2, 0), (2, 0, 1)]):
        order = np.array(order)
        _save_p(tmp_path / "m" / f"p{k}.png", np.argsort(order)[truth], colours[order])
    result = infer_palette(tmp_path / "m")
    assert result.kind == "colour" and result.by_colour_files == 3
    assert {c.color: c.pixels for c in result.classes} == {land: 96, building: 96, water: 96}
    Image.fromarray(colours[truth]).save(tmp_path / "m" / "rgb.png")  # RGB beside P: colours too
    assert infer_palette(tmp_path / "m").kind == "colour"
    # Tables that agree (a VOC-style export) stay index masks, and the palette keeps their colours,
    # so masks2labels with it keeps the indices.
    for k in range(2):
        _save_p(tmp_path / "voc" / f"v{k}.png", truth, colours)
    same = infer_palette(tmp_path / "voc")
    assert same.kind == "index" and same.by_colour_files == 0
    assert [c.color for c in same.palette.classes] == [land, building, water]
    from dataprep.labels import masks_to_labels

    report = masks_to_labels(tmp_path / "voc", tmp_path / "voc_labels", same.palette)
    assert report.by_colour == [] and np.array_equal(read_mask(tmp_path / "voc_labels" / "v0.png"), truth)


def test_infer_never_merges_colours_that_fill_regions_on_lossless_masks(tmp_path):
    """Real case: ADE20K coloured with its public palette, as lossless PNGs. Road (31,838 px of solid
    regions) was merged into building as an 'edge artefact', and a 135,005-px connected region
    into another class. On lossless masks a colour is an artefact only when no pixel of it has a
    3x3 neighbourhood of its own colour; the classes then equal the distinct colours."""
    m = np.zeros((200, 200, 3), np.uint8)
    m[:, :100] = (120, 120, 120)  # two big classes ...
    m[:, 100:] = (180, 180, 180)
    m[40:80, 20:60] = (150, 150, 150)  # ... a region exactly "between" them (once taken for a blend)
    m[150:160, 130:150] = (185, 175, 180)  # a small region near a 100x bigger class
    write_mask(tmp_path / "ade.png", m)
    result = infer_palette(tmp_path / "ade.png")
    assert not result.artefacts and len(result.classes) == len(result.colours) == 4
    # A one-pixel anti-aliased seam is still a blend.
    m[:, 100] = (150, 150, 150)
    write_mask(tmp_path / "seam" / "a.png", m[:, 60:140])  # the seam, without the solid region
    seam = infer_palette(tmp_path / "seam" / "a.png")
    assert [c.color for c in seam.artefacts] == [(150, 150, 150)]


def test_infer_sparse_values_get_compact_indices_and_255_cloud_is_a_class(tmp_path):
    """Real case: a cloud-mask set stores 0/64/128/192/255 with 255 = Cloud on 20% of the pixels.
    Infer made a 194-entry palette (index = value, 189 empty classes) and called Cloud ignore.
    Sparse values get indices 0..K-1 with id = value; 255 filling regions is a class."""
    from dataprep.labels import masks_to_labels

    v = np.zeros((50, 100), np.uint8)
    v[:, 20:40], v[:, 40:60], v[:, 60:80], v[:, 80:] = 64, 128, 192, 255  # 255: 20% in one block
    write_mask(tmp_path / "clouds" / "a.png", v)
    result = infer_palette(tmp_path / "clouds")
    assert result.sparse and result.ignore_is_class
    assert [(c.index, c.id, c.ignore) for c in result.palette.classes] == [
        (0, 0, False), (1, 64, False), (2, 128, False), (3, 192, False), (4, 255, False)]
    assert result.palette.num_classes == 5
    result.save(tmp_path / "clouds.json")
    report = masks_to_labels(tmp_path / "clouds", tmp_path / "labels", tmp_path / "clouds.json", remap="ids")
    assert report.pixel_counts == [1000, 1000, 1000, 1000, 1000] and report.ignored_pixels == 0
    # 255 as thin void boundaries (or a minor share) stays ignore.
    b = v.copy()
    b[b == 255] = 192
    b[:, 39:41] = 255
    write_mask(tmp_path / "thin" / "a.png", b)
    thin = infer_palette(tmp_path / "thin")
    assert thin.sparse and not thin.ignore_is_class
    assert [(c.index, c.ignore) for c in thin.palette.classes][-1] == (255, True) and thin.palette.num_classes == 4
    # Dense values 0..K-1 keep index = value.
    write_mask(tmp_path / "dense" / "a.png", np.array([[0, 1, 2], [3, 255, 1]], np.uint8))
    dense = infer_palette(tmp_path / "dense")
    assert not dense.sparse and [c.index for c in dense.palette.classes] == [0, 1, 2, 3, 255]


def test_infer_prints_each_ignore_colour_with_its_own_pixels(cli, tmp_path):
    """Real case: on Cityscapes colour masks every ignore row (unlabeled, dynamic, ground, ...)
    showed the pooled total of all ignored pixels as its own count."""
    m = np.zeros((20, 20, 3), np.uint8)
    m[:10] = (128, 64, 128)  # road
    m[10:15] = (70, 130, 180)  # sky
    m[15:18] = (111, 74, 0)  # dynamic, ignored: 60 px
    write_mask(tmp_path / "c.png", m)  # the rest, unlabeled (0,0,0): 40 px
    res = cli("palette", "infer", tmp_path / "c.png", "-o", tmp_path / "p.json")
    assert res.exit_code == 0, res.output
    rows = {line.split()[1]: line for line in res.output.splitlines() if "[ignore]" in line}
    assert " 60 " in rows["dynamic"] and " 40 " in rows["unlabeled"], res.output


def test_supervisely_classes_json_takes_names_from_title(cli, tmp_path):
    """Real case: `palette show` on a Supervisely project's classes.json listed class_0, class_1, ...:
    Supervisely calls the name `title` (and its `id` is a database key, not a mask value)."""
    classes = [{"title": "building", "shape": "bitmap", "color": "#E0A030", "geometry_config": {}, "id": 98123},
               {"title": "road", "shape": "polygon", "color": "#808080", "geometry_config": {}, "id": 98124}]
    (tmp_path / "meta.json").write_text(json.dumps({"classes": classes, "tags": []}))
    (tmp_path / "classes.json").write_text(json.dumps(classes))
    for name in ("meta.json", "classes.json"):
        pal = load_palette(tmp_path / name)
        assert pal.names == ["building", "road"] and pal.ids() == {}
        assert pal.colour_to_index() == {(224, 160, 48): 0, (128, 128, 128): 1}
    res = cli("palette", "show", tmp_path / "classes.json")
    assert res.exit_code == 0 and "building" in res.output and "class_0" not in res.output


@pytest.mark.integration
def test_voc_rgb_targets_infer_one_class_per_colour(shared_data, tmp_path):
    """Lossless real colour masks (VOC targets, 13 colours per SOURCE.md): every colour fills
    regions, so every one is a class and none an artefact."""
    samples = shared_data("voc_samples/vainf_deeplabv3plus/samples")
    for t in sorted(samples.glob("*_target.png")):
        (tmp_path / t.name).write_bytes(t.read_bytes())
    result = infer_palette(tmp_path, quiet=True)
    assert len(result.colours) == len(result.classes) == 13 and not result.artefacts
    assert {c.color: c.pixels for c in result.colours}[(224, 224, 192)] == 189861


def test_classes_made_by_resizing_a_colour_mask_bilinearly_are_named(tmp_path):
    """A DeepGlobe mask shrunk with bilinear resampling came out with 6 one-pixel 'classes', each an exact mix of
    3-4 real class colours. They stay classes (a thin drawn class never fills a 3x3 block either), but the
    result names them; a thin line of a colour no mix of the others can make is not named."""
    corners = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0]], np.uint8)
    quadrants = np.zeros((64, 64, 3), np.uint8)
    quadrants[:32, :32], quadrants[:32, 32:], quadrants[32:, :32], quadrants[32:, 32:] = corners
    blended = cv2.resize(quadrants, (21, 21), interpolation=cv2.INTER_LINEAR)  # 64 -> 21: the junction mixes 4
    write_mask(tmp_path / "resized.png", blended)
    result = infer_palette(tmp_path / "resized.png")
    centre = tuple(int(v) for v in blended[10, 10])
    assert len({tuple(c) for c in blended.reshape(-1, 3)}) > 4 and centre in result.resampling_blends
    assert not set(map(tuple, corners.tolist())) & set(result.resampling_blends)
    clean = quadrants.copy()
    clean[:, 40] = (200, 200, 200)  # a one-pixel line of its own class, outside every mix of the corners
    clean[5:11, 5:11] = (85, 85, 85)  # a drawn region whose colour happens to be a mix of red, green and blue
    write_mask(tmp_path / "clean.png", clean)
    assert infer_palette(tmp_path / "clean.png").resampling_blends == []


def test_infer_reduce_zero_gives_the_classes_behind_ade20k_style_values(tmp_path, cli):
    """ADE20K stores class k as k + 1 and 0 as not labelled: classes 0..max-1 (an absent value too), 0 ignored,
    and masks2labels --remap reduce-zero with that palette gives np.where(v == 0, 255, v - 1)."""
    values = np.array([[0, 0, 1, 1], [4, 4, 1, 0]], np.uint8)  # no 2 or 3 stored in this sample
    write_mask(tmp_path / "masks" / "a.png", values)
    result = infer_palette(tmp_path / "masks", reduce_zero=True)
    assert [(c.index, c.name) for c in result.palette.classes] == [(0, "class_0"), (1, "class_1"), (2, "class_2"),
                                                                   (3, "class_3")]
    assert {c.value: c.index for c in result.colours} == {0: 255, 1: 0, 4: 3}
    out = cli("palette", "infer", tmp_path / "masks", "--reduce-zero", "-o", tmp_path / "ade.json")
    assert "stored value 0 is 'not labelled' (ignore: 3 pixels, 37.50%)" in out.output
    cli("masks2labels", "-p", tmp_path / "ade.json", "--remap", "reduce-zero", tmp_path / "masks", tmp_path / "labels")
    np.testing.assert_array_equal(read_mask(tmp_path / "labels" / "a.png"), np.where(values == 0, 255, values - 1))
    write_mask(tmp_path / "colour" / "c.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(UsageError, match="--reduce-zero is for index masks"):
        infer_palette(tmp_path / "colour", reduce_zero=True)


def test_one_based_values_get_compact_indices(tmp_path, cli):
    """Oxford-IIIT Pet trimaps store 1 (pet), 2 (background), 3 (border): index 0 would be a class no pixel has."""
    values = np.array([[1, 1, 2], [3, 2, 2]], np.uint8)
    write_mask(tmp_path / "trimaps" / "a.png", values)
    result = infer_palette(tmp_path / "trimaps")
    assert result.sparse and [(c.index, c.id) for c in result.palette.classes] == [(0, 1), (1, 2), (2, 3)]
    cli("palette", "infer", tmp_path / "trimaps", "-o", tmp_path / "pets.json")
    cli("masks2labels", "-p", tmp_path / "pets.json", "--remap", "ids", tmp_path / "trimaps", tmp_path / "labels")
    np.testing.assert_array_equal(read_mask(tmp_path / "labels" / "a.png"), values - 1)
    write_mask(tmp_path / "dense" / "b.png", np.array([[0, 1, 2]], np.uint8))
    assert not infer_palette(tmp_path / "dense").sparse  # 0..K-1 stays as it is


def test_oxford_pet_trimaps_are_suggested_their_builtin_which_ignores_the_outline_band(tmp_path, cli):
    """The README's trimap values: 1 foreground (pet), 2 background, 3 not classified. The built-in makes
    background 0 and pet 1, as training a pet/background model wants, and leaves the band out of the loss."""
    values = np.array([[1, 1, 2, 2], [3, 2, 2, 1]], np.uint8)
    write_mask(tmp_path / "trimaps" / "a.png", values)
    res = cli("palette", "infer", tmp_path / "trimaps", "-o", tmp_path / "inferred.json")
    assert "Oxford-IIIT Pet trimaps" in res.output and "--palette oxford_pet --remap ids" in res.output
    assert infer_palette(tmp_path / "trimaps").dataset_builtin == "oxford_pet"
    report = masks_to_labels(tmp_path / "trimaps", tmp_path / "labels", "oxford_pet", remap="ids", quiet=True)
    assert report.converted == 1
    np.testing.assert_array_equal(read_mask(tmp_path / "labels" / "a.png"),
                                  np.array([[1, 1, 0, 0], [255, 0, 0, 1]], np.uint8))
    write_mask(tmp_path / "other" / "b.png", np.array([[1, 2, 3, 4]], np.uint8))
    res = cli("palette", "infer", tmp_path / "other", "-o", tmp_path / "other.json")
    assert "Oxford-IIIT Pet" not in res.output


def test_ade20k_builtin_reads_stored_k_plus_1_as_class_k_and_is_suggested_by_the_file_names(tmp_path, cli):
    """SceneParsing's masks: 0 = other (not labelled), 1 = wall ... 150 = flag; MMSegmentation trains with
    reduce_zero_label: wall 0, other ignored. --remap ids and --remap reduce-zero give the same maps."""
    ade = builtin_palette("ade20k")
    assert ade.num_classes == 150 and ade.classes[0].name == "wall" and ade.classes[149].name == "flag"
    assert len({c.color for c in ade.classes}) == len(ade.classes)  # a colour mask reads back
    stored = np.array([[0, 1, 2, 150], [3, 0, 150, 1]], np.uint8)
    write_mask(tmp_path / "annotations" / "ADE_val_00000001.png", stored)
    res = cli("palette", "infer", tmp_path / "annotations", "-o", tmp_path / "inferred.json")
    assert "--palette ade20k --remap ids" in res.output
    assert infer_palette(tmp_path / "annotations").dataset_builtin == "ade20k"
    expected = np.where(stored == 0, 255, stored.astype(int) - 1)
    for remap in ("ids", "reduce-zero"):
        masks_to_labels(tmp_path / "annotations", tmp_path / remap, "ade20k", remap=remap, quiet=True)
        np.testing.assert_array_equal(read_mask(tmp_path / remap / "ADE_val_00000001.png"), expected)
    write_mask(tmp_path / "other" / "x_0001.png", stored)
    assert "--palette ade20k" not in cli("palette", "infer", tmp_path / "other", "-o", tmp_path / "o.json").output


def test_text_colour_tables_are_palettes(tmp_path):
    """CamVid's and SYNTHIA's label_colors.txt and CVAT's labelmap.txt were refused as 'not a palette: expected
    {"classes": [...]}' (JSON talk for a text file)."""
    (tmp_path / "label_colors.txt").write_text("64 128 64\tAnimal\n192 0 128\tArchway\n\n0 0 0\tVoid\n")
    camvid = load_palette(tmp_path / "label_colors.txt")
    assert [(c.name, c.color, c.index, c.ignore) for c in camvid.classes] == [
        ("Animal", (64, 128, 64), 0, False), ("Archway", (192, 0, 128), 1, False), ("Void", (0, 0, 0), 255, True)]
    (tmp_path / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\n"
                                           "aeroplane:128,0,0::\nignored:224,224,192::\n")
    cvat = load_palette(tmp_path / "labelmap.txt")
    assert [(c.name, c.index) for c in cvat.classes] == [("background", 0), ("aeroplane", 1), ("ignored", 255)]
    assert cvat.colour_to_index()[(224, 224, 192)] == 255
    (tmp_path / "bad.txt").write_text("64 128 Animal\n")
    with pytest.raises(DataprepError, match=r"bad.txt: line 1: expected 'R G B name'"):
        load_palette(tmp_path / "bad.txt")
    (tmp_path / "first.txt").write_text("0 0 0 Void\n64 128 64 Animal\n192 0 128 Archway\n")  # no gap at 0
    assert [(c.name, c.index) for c in load_palette(tmp_path / "first.txt").classes] == [
        ("Void", 255), ("Animal", 0), ("Archway", 1)]
    (tmp_path / "labels.txt").write_text("__ignore__\n_background_\nperson\n")  # labelme's: names only
    with pytest.raises(DataprepError, match=r"'__ignore__' is a class name without a colour: a list of names"):
        load_palette(tmp_path / "labels.txt")


def test_thin_line_classes_beside_a_background_are_classes_not_anti_aliased_edges(tmp_path):
    """Lane markings 1-2 pixels wide (values 1..4) beside background 0, the only value filling blocks: read as an
    anti-aliased binary mask, 1 class, and masks2labels erased every lane."""
    import cv2

    for i in range(3):
        mask = np.zeros((60, 80), np.uint8)
        for lane in range(1, 5):
            cv2.line(mask, (5 + 15 * lane + i, 0), (10 + 15 * lane, 59), lane, 1)
        write_mask(tmp_path / f"m{i}.png", mask)
    result = infer_palette(tmp_path)
    assert not result.lossy and result.palette.num_classes == 5


def test_dataset_class_tables_are_palettes(tmp_path):
    """Mapillary Vistas' config_v1.2.json (`labels`: colour, name, readable, evaluate) and datumaro's
    dataset_meta.json (`label_map`, `segmentation_colors`) were refused as 'expected {"classes": [...]}'."""
    import json

    (tmp_path / "config_v1.2.json").write_text(json.dumps({"labels": [
        {"color": [165, 42, 42], "readable": "Bird", "name": "animal--bird", "evaluate": True},
        {"color": [128, 128, 128], "readable": "Separator", "name": "construction--barrier--separator"},
        {"color": [0, 0, 0], "readable": "Unlabeled", "name": "void--unlabeled", "evaluate": False}]}))
    mapillary = load_palette(tmp_path / "config_v1.2.json")
    assert [(c.name, c.color, c.index, c.ignore) for c in mapillary.classes] == [
        ("Bird", (165, 42, 42), 0, False), ("Separator", (128, 128, 128), 1, False),
        ("Unlabeled", (0, 0, 0), 255, True)]
    (tmp_path / "dataset_meta.json").write_text(json.dumps({
        "label_map": {"0": "background", "2": "building", "1": "sky"},
        "segmentation_colors": [[0, 0, 0], [0, 0, 64], [0, 128, 128]]}))
    meta = load_palette(tmp_path / "dataset_meta.json")
    assert [(c.name, c.color, c.index) for c in meta.classes] == [
        ("background", (0, 0, 0), 0), ("sky", (0, 0, 64), 1), ("building", (0, 128, 128), 2)]


def test_dataset_meta_with_labels_left_out_of_the_colours(tmp_path, cli):
    """datumaro's writer lists segmentation_colors only for labels with a colour, while label_map keeps their
    indices: {"0", "5"} with two colours was an IndexError traceback."""
    (tmp_path / "dataset_meta.json").write_text(json.dumps({
        "label_map": {"0": "background", "5": "car"}, "segmentation_colors": [[0, 0, 0], [255, 0, 0]]}))
    meta = load_palette(tmp_path / "dataset_meta.json")
    assert [(c.name, c.color, c.index) for c in meta.classes] == [("background", (0, 0, 0), 0),
                                                                  ("car", (255, 0, 0), 5)]
    (tmp_path / "gaps.json").write_text(json.dumps({
        "label_map": {"0": "a", "5": "b", "7": "c"}, "segmentation_colors": [[0, 0, 0], [255, 0, 0], [0, 9, 0]]}))
    assert [(c.color, c.index) for c in load_palette(tmp_path / "gaps.json").classes] == [
        ((0, 0, 0), 0), ((255, 0, 0), 5), ((0, 9, 0), 7)]
    (tmp_path / "three.json").write_text(json.dumps({
        "label_map": {"0": "a", "5": "b", "7": "c"}, "segmentation_colors": [[0, 0, 0], [255, 0, 0]]}))
    result = cli("palette", "show", str(tmp_path / "three.json"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == f"error: {tmp_path / 'three.json'}: segmentation_colors: 2 colours for 3 classes"
    (tmp_path / "negative.json").write_text(json.dumps({
        "label_map": {"-1": "void", "0": "a"}, "segmentation_colors": [[0, 0, 0], [255, 0, 0]]}))
    with pytest.raises(DataprepError, match="keys must be class indices 0.., not -1"):
        load_palette(tmp_path / "negative.json")


@pytest.mark.parametrize("name", ["palette.csv", "palette.txt", "palette.png", "palette"])
def test_infer_refuses_an_output_no_palette_reader_takes(tmp_path, cli, name):
    """`-o palette.csv` got JSON text, which load_palette then read as a CSV ('needs a header with name ...')."""
    write_mask(tmp_path / "masks" / "a.png", np.array([[0, 1], [1, 2]], np.uint8))
    res = cli("palette", "infer", tmp_path / "masks", "-o", tmp_path / name, "-q")
    assert res.exit_code == 2 and not (tmp_path / name).exists()
    assert res.output.strip() == f"error: {tmp_path / name}: a palette is written as .json, .yaml or .yml; name it so"
    with pytest.raises(UsageError, match="a palette is written as"):
        infer_palette(tmp_path / "masks").save(tmp_path / name)
    with pytest.raises(UsageError, match="a palette is written as"):
        load_palette("voc").save(tmp_path / name)
    assert cli("palette", "infer", tmp_path / "masks", "-o", tmp_path / "p.YML", "-q").exit_code == 0
    assert load_palette(tmp_path / "p.YML").num_classes == 3


def test_infer_names_65535_in_16bit_label_maps_as_a_likely_no_data_code(tmp_path, cli):
    """16-bit label maps of values 10..60 with 65535 where nothing was labelled (a GeoTIFF export): infer made
    65535 a class of a third of the pixels without a word; following the hint makes it ignore."""
    labels = np.kron(np.array([[10, 20, 65535], [30, 65535, 60]], np.uint16), np.ones((8, 8), np.uint16))
    (tmp_path / "masks").mkdir()
    write_mask(tmp_path / "masks" / "a.png", labels)
    out = tmp_path / "palette.json"
    res = cli("palette", "infer", tmp_path / "masks", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    assert "value 65535, the largest a 16-bit mask holds, is class 4 (class_65535)" in res.output
    assert '("ignore": true and "index": 255 on that class)' in res.output
    palette = json.loads(out.read_text())
    top = next(c for c in palette["classes"] if c.get("id") == 65535)
    top.update(ignore=True, index=255)
    out.write_text(json.dumps(palette))
    masks_to_labels(tmp_path / "masks", tmp_path / "labels", out, quiet=True)
    expected = np.select([labels == v for v in (10, 20, 30, 60)], [0, 1, 2, 3], 255)
    np.testing.assert_array_equal(read_mask(tmp_path / "labels" / "a.png"), expected)
    write_mask(tmp_path / "masks" / "a.png", np.where(labels == 65535, 40, labels))  # no 65535: no such line
    assert "value 65535" not in cli("palette", "infer", tmp_path / "masks", "-o", out, "-q").output

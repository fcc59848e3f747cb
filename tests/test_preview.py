"""Contact sheets: label maps with a palette, colour masks, no palette, and the CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dataprep import io, preview
from dataprep.errors import DataprepError
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.preview import colourize, generated_colours, make_contact_sheet

ROAD = (128, 64, 128)
CAR = (0, 0, 142)


def _has_colour(sheet: np.ndarray, colour) -> bool:
    return bool((sheet == np.array(colour, np.uint8)).all(axis=-1).any())


def _panels(sheet: np.ndarray, aspect: float, line: int = 0, column: int = 0) -> list[np.ndarray]:
    """(image, mask, overlay) panels of one cell, cut where make_contact_sheet lays them out.

    The legend repeats every class colour, so a colour found anywhere on the sheet
    proves nothing about the panels: the tests look inside them.
    """
    panel_w = max(40, min(3 * preview.THUMB_HEIGHT, round(preview.THUMB_HEIGHT * aspect)))
    cell_h, cell_w = preview.CAPTION + preview.THUMB_HEIGHT, 3 * panel_w + 4
    top = line * (cell_h + 2 * preview.PAD) + preview.PAD + preview.CAPTION
    left = column * (cell_w + 2 * preview.PAD) + 2 * preview.PAD
    return [sheet[top : top + preview.THUMB_HEIGHT, left + k * (panel_w + 2) : left + k * (panel_w + 2) + panel_w]
            for k in range(3)]


def _part(panel: np.ndarray, y0: float, y1: float, x0: float, x1: float) -> np.ndarray:
    """The pixels of a panel between fractions of its height and width, as (N, 3)."""
    h, w = panel.shape[:2]
    return panel[round(y0 * h) : round(y1 * h), round(x0 * w) : round(x1 * w)].reshape(-1, 3)


def _all(pixels: np.ndarray, colour) -> bool:
    return bool(pixels.size) and bool((pixels == np.array(colour, np.uint8)).all())


def _blend(image_colour, mask_colour) -> np.ndarray:
    return (0.5 * np.array(image_colour, np.float32) + 0.5 * np.array(mask_colour, np.float32)).astype(np.uint8)


def _assert_label_cell(sheet: np.ndarray, line: int, column: int, road=ROAD, car=CAR) -> None:
    """A cell of a label_manifest sample: its grey image, road left, car right, ignore in the bottom sixth."""
    image, mask, overlay = _panels(sheet, 80 / 60, line, column)
    grey = tuple(int(v) for v in image[0, 0])
    assert grey in {(0, 0, 0), (40, 40, 40), (80, 80, 80)}
    upper_left, upper_right, bottom = (0.1, 0.75, 0.1, 0.4), (0.1, 0.75, 0.6, 0.9), (0.87, 0.97, 0.1, 0.9)
    assert _all(_part(image, 0.0, 1.0, 0.0, 1.0), grey)
    assert _all(_part(mask, *upper_left), road) and _all(_part(mask, *upper_right), car)
    hatch = _part(mask, *bottom)
    assert set(np.unique(hatch).tolist()) == {0, 90} and (hatch == 90).all(axis=1).mean() > 0.15
    assert _all(_part(overlay, *upper_left), _blend(grey, road))
    assert _all(_part(overlay, *upper_right), _blend(grey, car))
    assert not np.array_equal(_part(overlay, *upper_left), _part(image, *upper_left))


@pytest.fixture
def colour_manifest(sample_data, tmp_path) -> Path:
    """sample_data as it is: RGB colour masks; palette.json copied beside the manifest."""
    rows = []
    for image in sorted((sample_data / "images" / "downtown").glob("*.jpg"))[:4]:
        mask = sample_data / "masks" / "downtown" / image.with_suffix(".png").name
        rows.append(ManifestRow(f"downtown/{image.stem}", image, mask, 320, 240))
    write_manifest(rows, tmp_path / "colour" / "manifest.csv")
    (tmp_path / "colour" / "palette.json").write_text((sample_data / "palette.json").read_text())
    return tmp_path / "colour" / "manifest.csv"


@pytest.fixture
def label_manifest(tmp_path) -> Path:
    """Three small label maps: left half road (2), right half car (5), bottom rows ignore."""
    rows = []
    for k in range(3):
        image = np.full((60, 80, 3), 40 * k, np.uint8)
        mask = np.full((60, 80), 2, np.uint8)
        mask[:, 40:] = 5
        mask[50:] = 255
        io.write_image(tmp_path / "lbl" / f"img{k}.png", image)
        io.write_mask(tmp_path / "lbl" / f"mask{k}.png", mask)
        rows.append(ManifestRow(f"s{k}", tmp_path / "lbl" / f"img{k}.png", tmp_path / "lbl" / f"mask{k}.png", 80, 60))
    write_manifest(rows, tmp_path / "lbl" / "manifest.csv")
    return tmp_path / "lbl" / "manifest.csv"


def test_label_maps_use_palette_colours(label_manifest, sample_data):
    sheet = make_contact_sheet(label_manifest, n=3, palette=sample_data / "palette.json", columns=2)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    assert _has_colour(sheet, ROAD) and _has_colour(sheet, CAR)
    assert not _has_colour(sheet, (70, 130, 180))  # sky is neither shown nor in the legend
    for line, column in [(0, 0), (0, 1), (1, 0)]:
        _assert_label_cell(sheet, line, column)
    # Two samples on the first line, one on the second: the sheet is taller than one cell line.
    single = make_contact_sheet(label_manifest, n=1, palette=sample_data / "palette.json")
    assert sheet.shape[0] > single.shape[0] and sheet.shape[1] > single.shape[1]


def test_without_palette_colours_are_generated_and_fixed(label_manifest):
    sheet = make_contact_sheet(label_manifest, n=2)
    table = generated_colours()
    assert _has_colour(sheet, table[2]) and _has_colour(sheet, table[5])
    _assert_label_cell(sheet, 0, 0, road=table[2], car=table[5])
    _assert_label_cell(sheet, 0, 1, road=table[2], car=table[5])
    np.testing.assert_array_equal(sheet, make_contact_sheet(label_manifest, n=2))
    assert len({tuple(c) for c in table[:20]}) == 20


def test_colour_masks_are_shown_as_they_are(colour_manifest):
    sheet = make_contact_sheet(colour_manifest, n=2, seed=3)
    assert _has_colour(sheet, ROAD) and _has_colour(sheet, (70, 70, 70))  # road, building from the masks
    every = make_contact_sheet(colour_manifest, n=4, columns=4)  # all rows, in manifest order
    for column, row in enumerate(read_manifest(colour_manifest)):
        image, mask, overlay = _panels(every, 320 / 240, 0, column)
        stored = io.read_mask(row.mask)[:, :, :3].reshape(-1, 3)
        colours, counts = np.unique(stored, axis=0, return_counts=True)
        shown = mask.reshape(-1, 3)
        # Nearest scaling: only the mask's own colours, each on about its share of the panel.
        for colour, count in zip(colours, counts):
            share = (shown == colour).all(axis=1).mean()
            assert abs(share - count / stored.shape[0]) < 0.03, (colour, share, count / stored.shape[0])
        assert np.isin(shown.view([("", shown.dtype)] * 3), colours.view([("", colours.dtype)] * 3)).all()
        # The overlay is half image, half mask (up to area-averaging at edges), and not the image alone.
        expected = 0.5 * image.astype(np.float32) + 0.5 * mask.astype(np.float32)
        assert np.abs(overlay.astype(np.float32) - expected).mean() < 6
        assert np.abs(overlay.astype(np.float32) - image.astype(np.float32)).mean() > 20


def test_seed_picks_samples_and_n_is_capped(colour_manifest):
    a = make_contact_sheet(colour_manifest, n=1, seed=0)
    picks = {make_contact_sheet(colour_manifest, n=1, seed=s).tobytes() for s in range(6)}
    assert len(picks) > 1 and a.tobytes() in picks
    assert make_contact_sheet(colour_manifest, n=50).shape == make_contact_sheet(colour_manifest, n=4).shape


def test_ignore_is_hatched_not_a_class_colour():
    palette_mask = np.full((16, 16), 255, np.uint16)
    palette_mask[:, :4] = 1
    rgb = colourize(palette_mask, None, 255)
    ignored = rgb[:, 4:]
    assert set(np.unique(ignored).tolist()) == {0, 90}
    assert (rgb[:, :4] == generated_colours()[1]).all()


def test_bad_inputs_name_the_file(tmp_path, label_manifest):
    bad = tmp_path / "palette.json"
    bad.write_text("{not json")
    with pytest.raises(DataprepError, match="palette.json"):
        make_contact_sheet(label_manifest, palette=bad)
    with pytest.raises(DataprepError, match="manifest not found"):
        make_contact_sheet(tmp_path / "missing.csv")


def test_cli_writes_the_sheet(cli, colour_manifest, tmp_path):
    out = tmp_path / "sheet.png"
    result = cli("preview", colour_manifest, "-o", out, "-n", "3", "--seed", "1")
    assert result.exit_code == 0, result.output
    sheet = io.read_image(out)
    assert sheet.shape[2] == 3 and sheet.shape[0] > 160
    missing = cli("preview", tmp_path / "nope.csv", "-o", out)
    assert missing.exit_code == 1 and "nope.csv" in missing.output
    unnamed = cli("preview", colour_manifest, "-o", tmp_path / "sheet")  # a folder-like name: refused before drawing
    assert unnamed.exit_code == 2 and "sheet: a contact sheet is written as .png, .jpg or .jpeg" in unnamed.output
    assert not (tmp_path / "sheet").exists()


def test_palette_mode_masks_with_their_own_table_are_drawn_by_colour(tmp_path, sample_data):
    """Real case: an aerial set's 'P' PNGs order their colour table per file, so index 2 is car in
    one file and road in the next. Drawn by index, the sheet showed the wrong classes; drawn by
    the file's own colours (as masks2labels converts them) it shows what the mask says."""
    from PIL import Image

    table = np.zeros((256, 3), np.uint8)
    table[0], table[1] = CAR, ROAD  # this file: index 0 = car, 1 = road (palette: road 2, car 5)
    indices = np.zeros((60, 80), np.uint8)
    indices[:, 40:] = 1
    im = Image.fromarray(indices, mode="P")
    im.putpalette(table.tobytes())
    (tmp_path / "p").mkdir()
    im.save(tmp_path / "p" / "mask.png")
    io.write_image(tmp_path / "p" / "img.png", np.full((60, 80, 3), 90, np.uint8))
    write_manifest([ManifestRow("s", tmp_path / "p" / "img.png", tmp_path / "p" / "mask.png", 80, 60)],
                   tmp_path / "p" / "manifest.csv")
    sheet = make_contact_sheet(tmp_path / "p" / "manifest.csv", n=1, palette=sample_data / "palette.json")
    assert _has_colour(sheet, ROAD) and _has_colour(sheet, CAR)
    image, mask, overlay = _panels(sheet, 80 / 60)
    assert _all(_part(mask, 0.05, 0.95, 0.05, 0.45), CAR) and _all(_part(mask, 0.05, 0.95, 0.55, 0.95), ROAD)
    assert _all(_part(overlay, 0.05, 0.95, 0.05, 0.45), _blend((90, 90, 90), CAR))
    assert not _has_colour(sheet, (70, 130, 180))  # sky, index 0 in the palette: neither drawn nor in the legend


def test_16bit_images_are_stretched_between_percentiles_not_min_and_max():
    """SpaceNet's 16-bit pan chip: values about 140..1220 and one hot pixel at 6615 drew a nearly black panel."""
    rng = np.random.default_rng(0)
    image = rng.integers(140, 1220, (100, 100, 1)).astype(np.uint16)
    image[3, 4] = 6615
    shown = preview._display_image(image)
    lo, hi = np.percentile(image.astype(np.float64), [1, 99])
    expected = np.clip((image[:, :, 0] - lo) * 255.0 / (hi - lo), 0, 255).astype(np.uint8)
    np.testing.assert_allclose(shown[:, :, 0], expected, atol=1)
    assert shown[3, 4, 0] == 255 and 100 < np.median(shown) < 155


def test_long_class_names_in_the_legend_are_not_covered_by_the_next_swatch():
    """SUIM's 'reefs and invertebrates' ran under the next class's colour box: every name's text must be drawn
    whole, as it is on a blank canvas of its own."""
    import cv2

    from dataprep.palette import Palette, PaletteClass

    names = ["background waterbody", "human divers", "robots and instruments", "reefs and invertebrates"]
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 0, 255)]
    palette = Palette("suim", [PaletteClass(n, c, i) for i, (n, c) in enumerate(zip(names, colours))])
    legend = preview._legend(palette, [0, 1, 2, 3], None, 1200)
    swatch = np.zeros(legend.shape[:2], bool)
    for colour in colours:
        swatch |= (legend == colour).all(axis=2)
    dark = (legend.max(axis=2) < 128) & ~swatch
    expected = 0
    for i, name in enumerate(names):  # each text alone, as cv2 draws it
        canvas = np.full((30, 600, 3), 255, np.uint8)
        cv2.putText(canvas, f"{i} {name}", (0, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        expected += int((canvas.max(axis=2) < 128).sum())
    borders = 4 * (2 * 15 + 2 * 13 - 4)  # each swatch's black outline
    assert int(dark.sum()) == expected + borders


def test_a_long_name_leaves_a_long_legend_in_columns():
    """ADE20K-full: one 700-pixel name made every entry that wide, one per row: a sheet of one sample was
    667 x 17,142 pixels. Many entries keep three columns (names cut); a few keep their whole names."""
    from dataprep.palette import Palette, PaletteClass

    long_name = "computer, computing machine, computing device, data processor, electronic computer"
    classes = [PaletteClass(long_name if i == 5 else f"class {i}", (i % 256, i // 256, 7), i)
               for i in range(300)]
    palette = Palette("ade_full", classes, 65535)
    legend = preview._legend(palette, list(range(300)), 65535, 667)
    assert legend.shape[0] == 100 * 20 + preview.PAD  # 300 entries, 3 per row
    few = preview._legend(palette, [0, 5, 7], 65535, 667)
    assert few.shape[0] == 3 * 20 + preview.PAD  # one per row, as wide as the long name: not cut


def test_masks_of_ids_under_a_palette_that_says_so_show_their_classes(tmp_path):
    """ISBI's 0/255 masks with the palette `palette infer` writes (`remap: ids`, 255 the foreground's id): the
    preview drew every foreground pixel as ignore, and the legend left the class out."""
    from dataprep.palette import Palette, PaletteClass

    mask = np.zeros((40, 60), np.uint8)
    mask[10:30, 20:50] = 255  # 600 foreground pixels, stored as the id 255
    io.write_image(tmp_path / "src/a.png", np.full((40, 60, 3), 128, np.uint8))
    io.write_mask(tmp_path / "src/a_mask.png", mask)
    write_manifest([ManifestRow("a", tmp_path / "src/a.png", tmp_path / "src/a_mask.png", 60, 40)], tmp_path / "m.csv")
    palette = Palette("inferred", [PaletteClass("background", (0, 0, 0), 0, id=0),
                                   PaletteClass("foreground", (10, 200, 30), 1, id=255)], remap="ids")
    sheet = make_contact_sheet(tmp_path / "m.csv", n=1, palette=palette)
    green = int((sheet == (10, 200, 30)).all(axis=2).sum())
    assert green > 600 // 4, green  # the mask panel, scaled to its thumbnail, plus the legend's swatch
    plain = make_contact_sheet(tmp_path / "m.csv", n=1, palette=Palette(palette.name, palette.classes))  # no remap
    assert int((plain == (10, 200, 30)).all(axis=2).sum()) == 0  # 255 is ignore there, and no class 1 is shown


def test_the_ignore_value_is_chosen_with_ignore_index_and_listed_only_when_shown(tmp_path, cli):
    """Augmented outputs of CamVid's raw ids (ignore 11, no palette) drew the padding as a class "11 11", and the
    legend listed "255 ignore (ignored)" though no pixel was 255; preview had no way to say which value is ignore."""
    mask = np.full((30, 40), 11, np.uint8)
    mask[:10] = 2
    io.write_image(tmp_path / "a.png", np.full((30, 40, 3), 128, np.uint8))
    io.write_mask(tmp_path / "m.png", mask)
    manifest = write_manifest([ManifestRow("a", tmp_path / "a.png", tmp_path / "m.png", 40, 30)], tmp_path / "m.csv")
    class_11 = preview.colour_table(None, 256)[11]
    assert _has_colour(make_contact_sheet(manifest), class_11)  # 11 is a class: drawn in its colour
    assert not _has_colour(make_contact_sheet(manifest, ignore_index=11), class_11)  # hatched as ignored
    res = cli("preview", manifest, "-o", tmp_path / "p.png", "--ignore-index", "11")
    assert res.exit_code == 0, res.output
    def drawn(legend: np.ndarray) -> int:
        return int((legend != legend[0, 0]).any(axis=-1).sum())

    with_ignore = drawn(preview._legend(None, [0, 2, 255], 255, 600))
    assert drawn(preview._legend(None, [0, 2], 255, 600)) < with_ignore  # no "255 ignore (ignored)" entry


def test_masks_of_ids_are_read_as_ids_together_also_one_of_ids_that_are_class_indices(tmp_path):
    """Decided per mask, a Cityscapes labelIds frame of road (7), sidewalk (8) and building (11) alone, ids that
    are class indices too, was drawn as traffic sign, vegetation and person beside frames drawn by their ids."""
    from dataprep.palette import builtin_palette

    cityscapes = builtin_palette("cityscapes")
    palette = type(cityscapes)(cityscapes.name, cityscapes.classes, cityscapes.ignore_index, remap="ids")
    ids = palette.ids()
    low = np.full((40, 60), 7, np.uint8)
    low[:, 20:40], low[:, 40:] = 8, 11
    other = np.full((40, 60), 26, np.uint8)  # car: an id no class index has
    rows = []
    for name, mask in (("a", low), ("b", other)):
        io.write_image(tmp_path / f"{name}.png", np.full((40, 60, 3), 128, np.uint8))
        io.write_mask(tmp_path / f"{name}_m.png", mask)
        rows.append(ManifestRow(name, tmp_path / f"{name}.png", tmp_path / f"{name}_m.png", 60, 40))
    manifest = write_manifest(rows, tmp_path / "m.csv")
    sheet = make_contact_sheet(manifest, n=2, palette=palette, columns=2)
    _image, shown, _overlay = _panels(sheet, 60 / 40)  # the first cell: a
    colours = {c.index: c.color for c in palette.classes if not c.ignore}
    w = shown.shape[1]
    for x, label in ((w // 6, 7), (w // 2, 8), (5 * w // 6, 11)):
        assert (shown[:, x] == colours[ids[label]]).all(), label
    alone = make_contact_sheet(write_manifest(rows[:1], tmp_path / "a.csv"), n=1, palette=palette)
    _image, shown, _overlay = _panels(alone, 60 / 40)
    assert (shown[:, w // 6] == colours[7]).all()  # by itself it reads as converted: indices


def test_masks_that_store_class_plus_one_show_their_classes(tmp_path):
    """LoveDA's masks (0 no-data, class k stored as k + 1) beside a palette with `remap: reduce-zero` (as
    `palette infer --reduce-zero` writes it): every class was drawn one off, no-data as background, and the last
    class as a value of no class, with a warning to pass --ignore-index."""
    from dataprep.palette import load_palette

    names = ["background", "building", "road", "water", "barren", "forest", "agriculture"]
    colours = [(255, 255, 255), (255, 0, 0), (255, 255, 0), (0, 0, 255), (159, 129, 183), (0, 255, 0),
               (255, 195, 128)]
    palette = load_palette({"name": "loveda", "remap": "reduce-zero", "classes": [
        {"name": n, "color": list(c), "index": i} for i, (n, c) in enumerate(zip(names, colours))]})
    mask = np.repeat(np.arange(8, dtype=np.uint8), 6)[None].repeat(32, axis=0)  # 8 stripes: stored 0..7
    io.write_image(tmp_path / "a.png", np.full((32, 48, 3), 128, np.uint8))
    io.write_mask(tmp_path / "a_m.png", mask)
    manifest = write_manifest([ManifestRow("a", tmp_path / "a.png", tmp_path / "a_m.png", 48, 32)], tmp_path / "m.csv")
    sheet = preview.draw_contact_sheet(manifest, n=1, palette=palette)
    assert sheet.outside_palette == []
    _image, shown, _overlay = _panels(sheet.pixels, 48 / 32)
    for stored in range(1, 8):
        assert _all(_part(shown, 0, 1, (stored + 0.3) / 8, (stored + 0.7) / 8), colours[stored - 1]), stored
    nodata = _part(shown, 0, 1, 0.3 / 8, 0.7 / 8)
    assert set(np.unique(nodata).tolist()) == {0, 90}  # hatched: ignored


def test_raw_camvid_void_under_camvid11_is_named_as_outside_the_palette(shared_data, tmp_path, cli):
    """SegNet's CamVid stores void as 11; camvid11 ignores 255, so 11 was drawn and listed as a class '11 11'."""
    root = shared_data("camvid_segnet/CamVid")
    rows = [ManifestRow(p.stem, root / "val" / p.name, p, 480, 360)
            for p in sorted((root / "valannot").glob("*.png"))[:3]]
    manifest = write_manifest(rows, tmp_path / "m.csv")
    held = set().union(*(np.unique(io.read_mask(r.mask)).tolist() for r in rows))
    assert 11 in held  # the data has void pixels
    sheet = preview.draw_contact_sheet(manifest, n=3, palette="camvid11")
    assert sheet.outside_palette == [11]
    np.testing.assert_array_equal(sheet.pixels, make_contact_sheet(manifest, n=3, palette="camvid11"))
    res = cli("preview", manifest, "-o", tmp_path / "p.png", "--palette", "camvid11", "-n", "3")
    assert res.exit_code == 0
    assert "warning: the masks shown hold 11, not a class of the palette" in res.output
    res = cli("preview", manifest, "-o", tmp_path / "q.png", "--palette", "camvid11", "-n", "3", "--ignore-index", "11")
    assert res.exit_code == 0 and "warning" not in res.output
    assert preview.draw_contact_sheet(manifest, n=3, palette="camvid11", ignore_index=11).outside_palette == []


def test_a_mask_of_ids_shows_every_id_as_its_class_also_ids_that_are_class_indices(tmp_path):
    """Cityscapes labelIds under its palette with `remap: ids`: car (id 26) was shown as a car, but road (id 7)
    as class 7 (traffic sign) and unlabeled (id 0) as class 0 (road); masks2labels converts them all."""
    from dataprep.palette import builtin_palette

    cityscapes = builtin_palette("cityscapes")
    palette = type(cityscapes)(cityscapes.name, cityscapes.classes, cityscapes.ignore_index, remap="ids")
    ids = palette.ids()
    mask = np.zeros((40, 60), np.uint8)
    mask[:, :20], mask[:, 20:40] = 7, 26  # road, car; the rest 0, unlabeled
    io.write_image(tmp_path / "a.png", np.full((40, 60, 3), 128, np.uint8))
    io.write_mask(tmp_path / "m.png", mask)
    manifest = write_manifest([ManifestRow("a", tmp_path / "a.png", tmp_path / "m.png", 60, 40)], tmp_path / "m.csv")
    sheet = preview.draw_contact_sheet(manifest, n=1, palette=palette)
    _image, shown, _overlay = _panels(sheet.pixels, 60 / 40)
    colours = {c.index: c.color for c in palette.classes}
    assert (ids[7], ids[26], ids[0]) == (0, 13, 255)
    w = shown.shape[1]
    for x, colour in ((w // 6, colours[0]), (w // 2, colours[13])):
        assert (shown[:, x] == colour).all()
    assert set(np.unique(shown[:, 5 * w // 6]).tolist()) <= {0, 90}  # hatched: ignored
    assert not _has_colour(shown, colours[7])  # traffic sign: no such pixel
    assert sheet.outside_palette == []

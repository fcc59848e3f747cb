"""`dataprep resize` and `scan --keep-scaled-masks`.

Expected pixels come from independent code: nearest-neighbour indices computed
with exact fractions (pixel centres), 2x2 block means for an area downscale,
and the files' own bytes for copies; never from dataprep's resize functions.
"""
from __future__ import annotations

from fractions import Fraction
from math import floor
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from dataprep import io
from dataprep.errors import DataprepError, UsageError
from dataprep.executor import make_executor
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.raster import GeoTags, RasterReader
from dataprep.resizing import ResizeTarget, resize_manifest
from dataprep.scan import scan
from dataprep.stitch import stitch_manifest
from dataprep.tiling import tile_manifest


def centre_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest neighbour at pixel centres, in exact rational arithmetic: floor((d + 1/2) * src / dst)."""
    h, w = mask.shape[:2]
    rows = [floor((Fraction(d) + Fraction(1, 2)) * h / height) for d in range(height)]
    cols = [floor((Fraction(d) + Fraction(1, 2)) * w / width) for d in range(width)]
    return mask[np.ix_(rows, cols)]


def _regions(height: int, width: int, classes: int, seed: int = 0) -> np.ndarray:
    """A label map of blocky regions (real masks are regions, not noise), values 0..classes-1."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, classes, (-(-height // 5), -(-width // 5)), dtype=np.uint8)
    return np.kron(coarse, np.ones((5, 5), np.uint8))[:height, :width].copy()


def _pair(root: Path, name: str, image: np.ndarray, mask: np.ndarray | None, *, image_ext: str = ".png",
          palette: np.ndarray | None = None) -> ManifestRow:
    image_path = root / "src" / "images" / f"{name}{image_ext}"
    io.write_image(image_path, image)
    mask_path = None
    if mask is not None:
        mask_path = root / "src" / "masks" / f"{name}.png"
        io.write_mask(mask_path, mask, palette=palette)
    return ManifestRow(name, image_path, mask_path, image.shape[1], image.shape[0])


def _photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_masks_saved_at_another_resolution_go_to_their_images_size(tmp_path):
    """The real-data case (label maps stored at 0.43x of the photo): masks are resized by centre-aligned nearest
    neighbour, exactly; the images are copied byte for byte; the manifest gets the new sizes."""
    small = _regions(45, 64, 4)
    rows = [
        _pair(tmp_path, "scaled", _photo(105, 150), small),
        _pair(tmp_path, "same", _photo(30, 40, 1), _regions(30, 40, 3, 1)),
    ]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    report = resize_manifest(src, tmp_path / "out", ResizeTarget(to="image"))
    assert report.ok and (report.resized_images, report.resized_masks) == (0, 1)
    out = {r.id: r for r in read_manifest(tmp_path / "out" / "manifest.csv").rows}
    assert (out["scaled"].width, out["scaled"].height) == (150, 105)
    np.testing.assert_array_equal(io.read_mask(out["scaled"].mask), centre_nearest(small, 105, 150))
    for row in rows:
        assert out[row.id].image.read_bytes() == row.image.read_bytes()
    assert out["same"].mask.read_bytes() == rows[1].mask.read_bytes()
    assert (out["scaled"].extra["original_width"], out["scaled"].extra["original_height"]) == ("150", "105")


def test_to_mask_shrinks_each_image_to_its_mask_and_copies_the_mask(tmp_path):
    photo, labels = _photo(90, 120), _regions(30, 40, 3)
    rows = [_pair(tmp_path, "a", photo, labels)]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    report = resize_manifest(src, tmp_path / "out", ResizeTarget(to="mask"))
    assert (report.resized_images, report.resized_masks) == (1, 0)
    (row,) = read_manifest(report.manifest_path).rows
    assert (row.width, row.height) == (40, 30) and row.mask.read_bytes() == rows[0].mask.read_bytes()
    blocks = photo.reshape(30, 3, 40, 3, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(io.read_image(row.image) - blocks).max() <= 0.5 + 1e-9


def test_scan_keeps_scaled_masks_for_resize_and_the_result_scans_clean(tmp_path):
    """scan --keep-scaled-masks -> resize --to image -> scan: every pair matches, nothing is left out."""
    root = tmp_path / "data"
    io.write_image(root / "images" / "a.jpg", _photo(120, 160))
    io.write_mask(root / "masks" / "a.png", _regions(60, 80, 2) * 255)
    io.write_image(root / "images" / "b.jpg", _photo(90, 90, 2))
    io.write_mask(root / "masks" / "b.png", _regions(90, 90, 2, 2) * 255)
    result = scan(root, keep_scaled_masks=True)
    manifest = write_manifest(result.rows, tmp_path / "raw.csv")
    assert len(result.rows) == 2 and not result.problems
    resize_manifest(manifest, tmp_path / "matched", ResizeTarget(to="image"))
    again = scan(tmp_path / "matched")
    assert len(again.rows) == 2 and not again.problems and not again.warnings


def test_the_manifest_rows_of_scaled_masks_are_refused_by_other_commands_with_the_fix(tmp_path, cli):
    root = tmp_path / "data"
    io.write_image(root / "images" / "a.png", _photo(40, 60))
    io.write_mask(root / "masks" / "a.png", _regions(20, 30, 2))
    assert cli("scan", root, "--keep-scaled-masks", "-o", tmp_path / "raw.csv", "-q").exit_code == 0
    result = cli("stats", tmp_path / "raw.csv", "-o", tmp_path / "stats.json", "-j", "1")
    assert result.exit_code != 0
    assert "is 30x20 but the manifest says 60x40; the same shape at 0.50x, saved at another resolution " \
           "(`dataprep resize --to image`" in result.output
    # A manifest whose sizes are stale: its image is at fault, not its mask, and no resize mends it.
    stale = tmp_path / "raw.csv"
    stale.write_text(stale.read_text(encoding="utf-8").replace(",60,40", ",120,80"), encoding="utf-8")
    result = cli("stats", stale, "-o", tmp_path / "stats.json", "-j", "1")
    assert result.exit_code != 0 and "images/a.png: is 60x40 but the manifest says 120x80; rescan it" in result.output
    assert "resize" not in result.output


def test_max_side_shrinks_with_area_averaging_and_keeps_small_pairs(tmp_path):
    """A 3x area downscale is the mean of each 3x3 block (rounded; bilinear would sample one pixel of it); a pair
    already small enough is copied."""
    big = _photo(90, 120)
    labels = _regions(90, 120, 5)
    rows = [_pair(tmp_path, "big", big, labels), _pair(tmp_path, "small", _photo(30, 40, 3), _regions(30, 40, 2))]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    report = resize_manifest(src, tmp_path / "out", ResizeTarget(max_side=40))
    assert (report.resized_images, report.resized_masks) == (1, 1)
    out = {r.id: r for r in read_manifest(tmp_path / "out" / "manifest.csv").rows}
    assert (out["big"].width, out["big"].height) == (40, 30)
    blocks = big.reshape(30, 3, 40, 3, 3).astype(np.float64).mean(axis=(1, 3))
    got = io.read_image(out["big"].image).astype(np.float64)
    assert np.abs(got - blocks).max() <= 0.5 + 1e-9  # PNG is lossless: only the rounding of the mean
    np.testing.assert_array_equal(io.read_mask(out["big"].mask), centre_nearest(labels, 30, 40))
    assert out["small"].image.read_bytes() == rows[1].image.read_bytes()


def test_exif_rotated_photos_are_resized_upright(tmp_path):
    """A phone photo stored landscape with EXIF orientation 6 shows portrait; its mask is drawn portrait. The
    resized photo is written upright (no orientation tag left to apply twice) at the mask's shape."""
    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:, :30] = (250, 40, 40)  # left half red as stored: the top half once turned upright
    image = tmp_path / "src" / "phone.jpg"
    image.parent.mkdir(parents=True)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(image, exif=exif.tobytes(), quality=95)
    labels = np.zeros((60, 40), np.uint8)
    labels[:30] = 1  # the top half, as displayed
    mask = tmp_path / "src" / "phone_mask.png"
    io.write_mask(mask, labels)
    src = write_manifest([ManifestRow("phone", image, mask, 40, 60)], tmp_path / "src" / "manifest.csv")
    resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.5))
    (row,) = read_manifest(tmp_path / "out" / "manifest.csv").rows
    out = io.read_image(row.image)
    assert out.shape == (30, 20, 3) and io.read_info(row.image).orientation == 1
    assert out[:13, :, 0].min() > 200 and out[17:, :, 0].max() < 60  # red on top, where the mask's class 1 is
    np.testing.assert_array_equal(io.read_mask(row.mask), centre_nearest(labels, 30, 20))


def test_colour_masks_keep_exact_colours_and_palette_masks_their_palette(tmp_path):
    colours = np.array([[0, 0, 0], [128, 0, 0], [0, 128, 0], [224, 224, 192]], np.uint8)
    colour_mask = colours[_regions(50, 70, 4)]
    palette = np.zeros((256, 3), np.uint8)
    palette[:4] = colours
    indices = _regions(50, 70, 4, 5)
    indices[:5] = 255  # VOC's ignore border
    rows = [_pair(tmp_path, "rgb", _photo(50, 70), colour_mask),
            _pair(tmp_path, "pal", _photo(50, 70, 1), indices, palette=palette)]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    resize_manifest(src, tmp_path / "out", ResizeTarget(size=(33, 47)))
    out = {r.id: r for r in read_manifest(tmp_path / "out" / "manifest.csv").rows}
    got_rgb = io.read_mask(out["rgb"].mask)
    np.testing.assert_array_equal(got_rgb, centre_nearest(colour_mask, 33, 47))
    assert {tuple(c) for c in got_rgb.reshape(-1, 3)} <= {tuple(c) for c in colours}
    with Image.open(out["pal"].mask) as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), centre_nearest(indices, 33, 47))
    np.testing.assert_array_equal(io.read_png_palette(out["pal"].mask)[:4], colours)


def test_jpeg_masks_become_png_when_resized(tmp_path):
    image = tmp_path / "src" / "a.png"
    io.write_image(image, _photo(40, 40))
    mask = tmp_path / "src" / "a_mask.jpg"
    Image.fromarray(_regions(20, 20, 2) * 255).save(mask, quality=90)
    src = write_manifest([ManifestRow("a", image, mask, 40, 40)], tmp_path / "src" / "manifest.csv")
    resize_manifest(src, tmp_path / "out", ResizeTarget(to="image"))
    (row,) = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert row.mask.suffix == ".png"
    with Image.open(mask) as im:
        expected = centre_nearest(np.asarray(im), 40, 40)
    np.testing.assert_array_equal(io.read_mask(row.mask), expected)


def test_multiband_16bit_geotiffs_keep_bands_dtype_and_their_place_on_the_map(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 4096, (66, 48, 6), dtype=np.uint16)
    image = tmp_path / "src" / "scene.tif"
    image.parent.mkdir(parents=True)
    tifffile.imwrite(image, pixels, photometric="minisblack", planarconfig="contig",
                     extratags=[(33550, 12, 3, (10.0, 10.0, 0.0), True),
                                (33922, 12, 6, (0.0, 0.0, 0.0, 500000.0, 4000000.0, 0.0), True)])
    labels = tmp_path / "src" / "scene_mask.png"
    io.write_mask(labels, _regions(66, 48, 3))
    src = write_manifest([ManifestRow("scene", image, labels, 48, 66)], tmp_path / "src" / "manifest.csv")
    resize_manifest(src, tmp_path / "out", ResizeTarget(scale=1 / 3))
    (row,) = read_manifest(tmp_path / "out" / "manifest.csv").rows
    with RasterReader(row.image) as reader:
        got = reader.read_all()
        tags = dict(reader.geo.tags)
    assert got.shape == (22, 16, 6) and got.dtype == np.uint16
    blocks = pixels.reshape(22, 3, 16, 3, 6).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(got - blocks).max() <= 0.5 + 1e-9
    assert tuple(tags[33550][:2]) == (30.0, 30.0)  # three times the ground per pixel
    assert tuple(tags[33922][3:5]) == (500000.0, 4000000.0)  # the top-left corner stays put


def test_a_non_integer_shrink_of_five_bands_is_each_bands_own(tmp_path):
    """A 5-band TIFF at --scale 0.43 failed every row: OpenCV's area resampling takes 4 channels at most."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 60000, (50, 70, 5), dtype=np.uint16)
    image = tmp_path / "src" / "b5.tif"
    image.parent.mkdir(parents=True)
    tifffile.imwrite(image, pixels, photometric="minisblack", planarconfig="contig")
    labels = tmp_path / "src" / "b5_mask.png"
    io.write_mask(labels, _regions(50, 70, 3))
    src = write_manifest([ManifestRow("b5", image, labels, 70, 50)], tmp_path / "src" / "manifest.csv")
    report = resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.43))
    assert not report.errors
    (row,) = read_manifest(tmp_path / "out" / "manifest.csv").rows
    got = tifffile.imread(row.image)
    h, w = got.shape[:2]
    expected = np.stack([cv2.resize(pixels[:, :, b], (w, h), interpolation=cv2.INTER_AREA) for b in range(5)], axis=2)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.int32, np.uint32])
def test_32_bit_integer_tiffs_resize_in_their_own_dtype(tmp_path, dtype):
    """tile cuts int32 TIFFs (population counts, class-id rasters); resize failed each with OpenCV's
    "(-215:Assertion failed) func != 0 in function 'resize'"."""
    info = np.iinfo(dtype)
    pixels = np.random.default_rng(2).integers(info.max // 2, info.max, (40, 60, 2), dtype=dtype)
    pixels[0, 0] = info.max  # a 2x2 block at the top of the range: its mean must not wrap
    image = tmp_path / "src" / "counts.tif"
    image.parent.mkdir(parents=True)
    tifffile.imwrite(image, pixels, photometric="minisblack", planarconfig="contig")
    src = write_manifest([ManifestRow("counts", image, None, 60, 40)], tmp_path / "src" / "manifest.csv")
    for target, name in ((ResizeTarget(scale=0.5), "area"), (ResizeTarget(size=(20, 30)), "nearest")):
        report = resize_manifest(src, tmp_path / name, target, image_interpolation="auto" if name == "area" else name)
        assert not report.errors, report.errors
        (row,) = read_manifest(tmp_path / name / "manifest.csv").rows
        got = tifffile.imread(row.image)
        assert got.dtype == dtype and got.shape == (20, 30, 2)
        if name == "area":  # 2x2 block means, in exact integers, rounded half to even
            sums = pixels.reshape(20, 2, 30, 2, 2).astype(np.int64).sum(axis=(1, 3))
            expected = np.rint(sums / 4)
        else:  # centre-aligned nearest: source pixel 2d + 1 of each 2x shrink
            expected = pixels[1::2, 1::2]
        np.testing.assert_array_equal(got.astype(np.int64), expected.astype(np.int64))


def test_geotags_resized_scales_a_transformation_matrix_too():
    matrix = (2.0, 0.5, 0, 100.0, 0.25, -2.0, 0, 50.0, 0, 0, 0, 0, 0, 0, 0, 1.0)
    tags = dict(GeoTags(((34264, matrix),)).resized((100, 200), (50, 50)).tags)
    assert tags[34264][:8] == (2.0 * 4, 0.5 * 2, 0, 100.0, 0.25 * 4, -2.0 * 2, 0, 50.0)


def _model_of(tags: dict, i: float, j: float) -> tuple[float, float]:
    """Model (x, y) of raster (i, j) under a single tiepoint and pixel scale, computed here, not by GeoTags."""
    sx, sy = tags[33550][:2]
    ti, tj, _, x, y, _ = tags[33922]
    return x + (i - ti) * sx, y - (j - tj) * sy


@pytest.mark.parametrize("point", [False, True])
def test_geotags_resized_keep_each_pixel_on_its_ground(point):
    """PixelIsPoint rasters (GTRasterTypeGeoKey 2): resized by 4, pixel 0's centre was put on the old pixel 0's
    centre, 1.5 old pixels (450 m on a 300 m grid) off. A tiepoint away from pixel (0, 0) is followed too."""
    keys = (1, 1, 0, 2, 1024, 0, 1, 1, 1025, 0, 1, 2 if point else 1)
    old = {33550: (300.0, 250.0, 0.0), 33922: (10.0, 20.0, 0.0, 1000.0, 9000.0, 0.0), 34735: keys}
    new = dict(GeoTags(tuple(old.items())).resized((400, 800), (100, 200)).tags)
    assert new[33550][:2] == (1200.0, 1000.0)
    half = 0.5 if point else 0.0  # point: raster coordinates name centres; area: corners
    for i, j in [(0, 0), (7, 3)]:  # the centre (or corner) of new pixel (i, j) is old (4 i + 1.5, 4 j + 1.5)
        assert _model_of(new, i, j) == pytest.approx(_model_of(old, (i + half) * 4 - half, (j + half) * 4 - half))


def test_ground_control_points_move_with_tiles_and_scale_with_resizing():
    """Sentinel-1 GRD scenes are placed by GCPs (many tiepoints, no pixel scale): every tile carried the scene's
    GCPs unmoved, each tile claiming the scene's corner; resize kept their pixel coordinates."""
    gcps = (0.0, 0.0, 0.0, 10.5, 45.0, 0.0, 199.0, 0.0, 0.0, 11.0, 45.0, 0.0, 199.0, 99.0, 0.0, 11.0, 44.5, 0.0)
    tile = dict(GeoTags(((33922, gcps),)).shifted(72, 128).tags)[33922]
    assert np.allclose(np.reshape(tile, (-1, 6))[:, :2], np.reshape(gcps, (-1, 6))[:, :2] - (128, 72))
    assert np.allclose(np.reshape(tile, (-1, 6))[:, 3:], np.reshape(gcps, (-1, 6))[:, 3:])
    small = dict(GeoTags(((33922, gcps),)).resized((100, 200), (25, 50)).tags)[33922]
    assert np.allclose(np.reshape(small, (-1, 6))[:, :2], np.reshape(gcps, (-1, 6))[:, :2] / 4)


def test_a_mask_of_another_shape_is_named_and_the_rest_is_written(tmp_path, cli):
    rows = [_pair(tmp_path, "good", _photo(40, 40), _regions(20, 20, 2)),
            _pair(tmp_path, "cropped", _photo(40, 40, 1), _regions(40, 30, 2))]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    result = cli("resize", src, tmp_path / "out", "--to", "image", "-j", "1")
    assert result.exit_code == 1
    assert f"{rows[1].mask}: mask is 30x40 but its image cropped.png is 40x40: not the same picture" in result.output
    assert [r.id for r in read_manifest(tmp_path / "out" / "manifest.csv").rows] == ["good"]


def test_results_do_not_depend_on_the_number_of_workers(tmp_path):
    rows = [_pair(tmp_path, f"p{i}", _photo(60 + i, 90, i), _regions(30 + i // 2, 45, 3, i)) for i in range(6)]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    outputs = []
    for jobs in (1, 2):
        with make_executor(jobs) as executor:
            resize_manifest(src, tmp_path / f"out{jobs}", ResizeTarget(max_side=50), executor=executor)
        outputs.append(sorted((p.relative_to(tmp_path / f"out{jobs}").as_posix(), p.read_bytes())
                              for p in (tmp_path / f"out{jobs}").rglob("*") if p.is_file()))
    assert outputs[0] == outputs[1]


def test_an_output_over_the_pixel_limit_is_refused_before_it_is_made(tmp_path, monkeypatch):
    rows = [_pair(tmp_path, "a", _photo(20, 30), _regions(20, 30, 2))]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    monkeypatch.setenv("DATAPREP_MAX_IMAGE_PIXELS", "10000")
    # the only pair failed: one error for the run and no manifest (a header-only one read as an empty dataset)
    with pytest.raises(DataprepError) as caught:
        resize_manifest(src, tmp_path / "out", ResizeTarget(scale=10))
    assert str(caught.value).startswith(f"{rows[0].image}: would become 300x200 = 60,000 pixels, over the limit of "
                                        "10,000 every reader keeps (DATAPREP_MAX_IMAGE_PIXELS) (all 1 pairs")
    assert not (tmp_path / "out" / "images").exists() and not (tmp_path / "out" / "manifest.csv").exists()


def test_stitch_refuses_resized_tiles_instead_of_placing_them_at_the_old_offsets(tmp_path):
    """tile -> resize --scale 0.5 -> stitch gave 32 images with a quarter of each filled ('pixels lie in no tile'
    was the only sign): the tiles' offsets are pixels of the source at its own size."""
    rows = [_pair(tmp_path, "scene", _photo(64, 96), _regions(64, 96, 3))]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    tiles = tile_manifest(src, tmp_path / "tiles", size=32)
    resize_manifest(tiles.manifest_path, tmp_path / "small", ResizeTarget(scale=0.5))
    with pytest.raises(DataprepError, match=r"the tile was resized \(from 32x32 to 16x16\)"):
        stitch_manifest(tmp_path / "small" / "manifest.csv", tmp_path / "stitched")
    same = resize_manifest(tiles.manifest_path, tmp_path / "same", ResizeTarget(scale=1.0))
    assert stitch_manifest(same.manifest_path, tmp_path / "stitched").ok  # copied tiles still stitch


def test_exactly_one_target_and_an_output_outside_the_inputs(tmp_path, cli):
    with pytest.raises(UsageError, match="exactly one of --size, --max-side, --scale, --to"):
        ResizeTarget()
    with pytest.raises(UsageError, match=r"\(got size, to\)"):
        ResizeTarget(size=(4, 4), to="image")
    rows = [_pair(tmp_path, "a", _photo(20, 20), _regions(20, 20, 2))]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    assert cli("resize", src, tmp_path / "out").exit_code == 2
    before = sorted(p.read_bytes() for p in (tmp_path / "src").rglob("*") if p.is_file())
    result = cli("resize", src, tmp_path / "src", "--scale", "0.5")
    assert result.exit_code == 2 and "input" in result.output
    assert sorted(p.read_bytes() for p in (tmp_path / "src").rglob("*") if p.is_file()) == before


def test_real_camvid_and_voc_masks_resize_exactly(shared_data, tmp_path):
    """CamVid index masks (void = 11) and VOC palette masks (255 = ignore) at half size: values and palette kept,
    pixels equal to exact centre sampling."""
    camvid = shared_data("camvid_segnet")
    result = scan(camvid)
    rows = result.rows[:6]
    src = write_manifest(rows, tmp_path / "camvid.csv")
    resize_manifest(src, tmp_path / "camvid", ResizeTarget(scale=0.5))
    for before, after in zip(rows, read_manifest(tmp_path / "camvid" / "manifest.csv").rows):
        labels = io.read_mask(before.mask)
        got = io.read_mask(after.mask)
        np.testing.assert_array_equal(got, centre_nearest(labels, round(labels.shape[0] / 2),
                                                          round(labels.shape[1] / 2)))
    voc = shared_data("voc_samples")
    palette_rows = [r for r in scan(voc).rows if r.mask.suffix == ".png" and io.read_png_palette(r.mask) is not None]
    assert palette_rows, "the VOC samples hold palette PNG masks"
    src = write_manifest(palette_rows[:4], tmp_path / "voc.csv")
    resize_manifest(src, tmp_path / "voc", ResizeTarget(max_side=200))
    for before, after in zip(palette_rows[:4], read_manifest(tmp_path / "voc" / "manifest.csv").rows):
        labels = io.read_mask(before.mask)
        np.testing.assert_array_equal(io.read_mask(after.mask), centre_nearest(labels, after.height, after.width))
        np.testing.assert_array_equal(io.read_png_palette(after.mask)[:256], io.read_png_palette(before.mask)[:256])


def test_a_float_mask_of_fractions_is_refused_and_one_of_whole_numbers_resized(tmp_path):
    """A float32 mask holding 1.5 and NaN was resized and written, exit 0; stats and preview refuse it."""
    image = tmp_path / "src" / "a.png"
    io.write_image(image, np.zeros((20, 30, 3), np.uint8))
    rows = []
    for name, values in (("frac", np.full((20, 30), 1.5, np.float32)), ("whole", np.full((20, 30), 2.0, np.float32))):
        tifffile.imwrite(tmp_path / "src" / f"{name}.tif", values)
        rows.append(ManifestRow(name, image, tmp_path / "src" / f"{name}.tif", 30, 20))
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    report = resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.5))
    assert len(report.errors) == 1
    assert "frac.tif: mask is float32 with values that are not whole numbers (1.5)" in report.errors[0]
    (row,) = read_manifest(tmp_path / "out" / "manifest.csv").rows
    assert row.id == "whole"
    resized = io.read_mask(row.mask)
    assert resized.dtype == np.uint8 and resized.shape == (10, 15) and (resized == 2).all()


def test_a_pair_whose_mask_fails_leaves_no_image_and_an_all_failed_run_no_record(tmp_path):
    """The image was written before its mask was refused: DEST/images/frac.png stayed, unlisted, and with every
    pair failing ("nothing written") the folder's settings record refused a retry at another scale."""
    image = tmp_path / "src" / "a.png"
    io.write_image(image, np.zeros((20, 30, 3), np.uint8))
    tifffile.imwrite(tmp_path / "src" / "frac.tif", np.full((20, 30), 1.5, np.float32))
    io.write_mask(tmp_path / "src" / "ok.png", np.ones((20, 30), np.uint8))
    rows = [ManifestRow("frac", image, tmp_path / "src" / "frac.tif", 30, 20),
            ManifestRow("ok", image, tmp_path / "src" / "ok.png", 30, 20)]
    report = resize_manifest(write_manifest(rows, tmp_path / "src" / "both.csv"), tmp_path / "out",
                             ResizeTarget(scale=0.5))
    assert len(report.errors) == 1
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["ok.png"]
    failing = write_manifest(rows[:1], tmp_path / "src" / "frac.csv")
    for scale in (0.5, 0.25):  # the retry fails on the data again, not on a record of a run that wrote nothing
        with pytest.raises(DataprepError, match=r"frac.tif: mask is float32 .*nothing written\)$"):
            resize_manifest(failing, tmp_path / "none", ResizeTarget(scale=scale))
        assert not (tmp_path / "none").exists()


def test_force_never_lets_resized_copies_replace_their_sources(tmp_path):
    """`resize ROOT/m.csv ROOT --force` of a scan's root replaced all its images and masks, exit 0."""
    root = tmp_path / "data"
    io.write_image(root / "images" / "a.png", np.full((20, 30, 3), 60, np.uint8))
    io.write_mask(root / "masks" / "a.png", _regions(20, 30, 2))
    src = write_manifest([ManifestRow("a", root / "images" / "a.png", root / "masks" / "a.png", 30, 20)],
                         root / "m.csv")
    before = {p: p.read_bytes() for p in root.rglob("*.png")}
    with pytest.raises(UsageError, match="output would overwrite an input"):
        resize_manifest(src, root, ResizeTarget(scale=0.5), force=True)
    assert {p: p.read_bytes() for p in root.rglob("*.png")} == before


@pytest.mark.parametrize("dtype,nodata", [(np.int16, -32768), (np.float32, np.nan), (np.float32, -3.4e38)])
def test_nodata_pixels_take_no_part_in_the_resampled_values(tmp_path, dtype, nodata):
    """EnMAP's int16 bands with nodata -32768: a 2x2 block of two nodata and 22561, -1464 became -11110, a valid
    value; float -3.4e38 nodata gave -inf. Each output pixel is the mean of its data, nodata when under half is."""
    rng = np.random.default_rng(4)
    data = rng.integers(-1000, 3000, (40, 60, 3)).astype(dtype)
    nodata_cast = np.array(nodata, dtype)
    data[:20, :30] = nodata_cast  # whole blocks of nodata
    data[20:40:2, 30:60:2, 1] = nodata_cast  # one of four in band 1 only: still data
    data[21:40:2, :30, 0] = nodata_cast  # two of four in band 0: still data (half)
    data[20:40, 30:60:2, 2][::2] = nodata_cast
    data[21:40:2, 30:60, 2] = nodata_cast  # three of four in band 2: nodata
    (tmp_path / "src").mkdir()
    path = tmp_path / "src" / "a.tif"
    tifffile.imwrite(path, data, photometric="minisblack", planarconfig="contig", metadata=None,
                     extratags=[(42113, "s", 0, str(nodata), True)])
    src = write_manifest([ManifestRow("a", path, None, 60, 40)], tmp_path / "src" / "manifest.csv")
    report = resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.5), quiet=True)
    assert not report.errors
    got = tifffile.imread(read_manifest(tmp_path / "out" / "manifest.csv").rows[0].image)
    valid = ~np.isnan(data) if np.isnan(nodata) else data != nodata_cast
    blocks = lambda a: a.astype(np.float64).reshape(20, 2, 30, 2, 3).sum(axis=(1, 3))  # noqa: E731
    count, total = blocks(valid), blocks(np.where(valid, data, 0))
    expected_nodata = count < 2
    got_nodata = np.isnan(got) if np.isnan(nodata) else got == nodata_cast
    np.testing.assert_array_equal(got_nodata, expected_nodata)
    mean = total[~expected_nodata] / count[~expected_nodata]
    np.testing.assert_allclose(got[~expected_nodata].astype(np.float64), mean, atol=0.5 if dtype == np.int16 else 1e-3)


def test_images_without_masks_are_resized_too(tmp_path):
    """A test split (images only) under --max-side or --scale was copied at full size, said nowhere."""
    rows = [_pair(tmp_path, "labelled", _photo(40, 80), _regions(40, 80, 2)),
            _pair(tmp_path, "test", _photo(40, 80), None)]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    for i, target in enumerate((ResizeTarget(max_side=40), ResizeTarget(scale=0.5))):
        resize_manifest(src, tmp_path / f"out{i}", target, quiet=True)
        sizes = {r.id: (r.width, r.height, *io.read_image(r.image).shape[1::-1]) for r in
                 read_manifest(tmp_path / f"out{i}" / "manifest.csv").rows}
        assert sizes == {"labelled": (40, 20, 40, 20), "test": (40, 20, 40, 20)}


def test_a_rerun_into_the_same_folder_with_another_size_is_refused(tmp_path):
    """resize 256 then 128 into one folder, interrupted: rows said 256 over 128-pixel files, and an image and its
    mask could differ in size."""
    rows = [_pair(tmp_path, k, _photo(40, 60, i), _regions(40, 60, 3, i)) for i, k in enumerate("ab")]
    src = write_manifest(rows, tmp_path / "src" / "manifest.csv")
    first = resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.5), quiet=True)
    written = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.png")}
    with pytest.raises(UsageError, match=r"scale 0.5 \(now 0.25\)"):
        resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.25), quiet=True)
    with pytest.raises(UsageError, match=r"image_interpolation 'auto' \(now 'nearest'\)"):
        resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.5), image_interpolation="nearest", quiet=True)
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*.png")} == written
    again = resize_manifest(src, tmp_path / "out", ResizeTarget(scale=0.5), quiet=True)
    assert read_manifest(again.manifest_path).rows == read_manifest(first.manifest_path).rows

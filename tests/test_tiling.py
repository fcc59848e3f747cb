"""`dataprep tile` / `dataprep stitch` and the TIFF raster layer under them.

Expected values come from plain numpy slicing and padding of the whole source
arrays, never from the tiling code itself.
"""
from __future__ import annotations

from pathlib import Path

import re

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from dataprep import io
from dataprep.errors import DataprepError
from dataprep.executor import make_executor
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.raster import GeoTags, RasterReader, read_raster, write_raster
from dataprep.splits import split_folds
from dataprep.stitch import blend_window, stitch_manifest
from dataprep.tiling import tile_manifest, tile_starts


def _source(root: Path, images: dict[str, np.ndarray], masks: dict[str, np.ndarray] | None = None,
            ext: str = ".png", extra: dict[str, dict[str, str]] | None = None) -> Path:
    rows = []
    for sid, image in images.items():
        img_path = root / "src" / f"{sid}{ext}"
        if ext in (".tif", ".tiff"):
            img_path.parent.mkdir(parents=True, exist_ok=True)
            layout = {"planarconfig": "contig"} if image.ndim == 3 and image.shape[2] > 1 else {}
            tifffile.imwrite(img_path, np.squeeze(image, axis=2) if not layout else image, photometric="minisblack",
                             rowsperstrip=16, **layout)
        else:
            io.write_image(img_path, image)
        mask_path = None
        if masks is not None:
            mask_path = root / "src" / f"{sid}_mask.png"
            io.write_mask(mask_path, masks[sid])
        rows.append(ManifestRow(sid, img_path, mask_path, image.shape[1], image.shape[0], (extra or {}).get(sid, {})))
    return write_manifest(rows, root / "src" / "manifest.csv")


def _expected_tile(full: np.ndarray, y: int, x: int, th: int, tw: int, fill) -> np.ndarray:
    """Tile [y:y+th, x:x+tw] of `full`, constant-padded past its end (independent of the tiling code)."""
    out = np.full((th, tw) + full.shape[2:], fill, full.dtype)
    part = full[y : y + th, x : x + tw]
    out[: part.shape[0], : part.shape[1]] = part
    return out


@pytest.mark.parametrize("length,size,stride", [(797, 256, 224), (644, 256, 224), (256, 256, 256), (100, 256, 200),
                                                (1000, 100, 100), (1001, 100, 37)])
@pytest.mark.parametrize("pad", [False, True])
def test_grid_covers_every_pixel_and_stays_on_the_stride(length, size, stride, pad):
    starts = tile_starts(length, size, stride, pad=pad)
    covered = np.zeros(length, bool)
    for s in starts:
        covered[s : s + size] = True
    assert covered.all()
    assert starts[0] == 0 and starts == sorted(set(starts))
    if length > size:
        # Every step is the stride, except that an unpadded last tile ends exactly at the edge.
        steps = np.diff(starts)
        assert (steps[:-1] == stride).all()
        if pad:
            assert steps[-1] == stride and starts[-1] < length <= starts[-1] + size
        else:
            assert starts[-1] + size == length and 0 < steps[-1] <= stride


def test_round_trip_797x644_is_exact_and_tiles_are_source_slices(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (644, 797, 3), dtype=np.uint8)
    mask = rng.integers(0, 7, (644, 797), dtype=np.uint8)
    manifest = _source(tmp_path, {"scene": image}, {"scene": mask})
    report = tile_manifest(manifest, tmp_path / "tiles", size=256, overlap=32, quiet=True)
    assert report.ok and report.tiles == 4 * 3
    tiles = read_manifest(report.manifest_path)
    assert sorted({int(r.extra["tile_x"]) for r in tiles}) == [0, 224, 448, 541]
    assert sorted({int(r.extra["tile_y"]) for r in tiles}) == [0, 224, 388]
    for row in tiles:
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        assert (row.height, row.width) == (256, 256) and row.extra["group"] == "scene"
        np.testing.assert_array_equal(io.read_image(row.image), image[y : y + 256, x : x + 256])
        np.testing.assert_array_equal(io.read_mask(row.mask), mask[y : y + 256, x : x + 256])
    stitched = stitch_manifest(report.manifest_path, tmp_path / "stitched", quiet=True)
    assert stitched.ok and not stitched.uncovered
    (row,) = read_manifest(stitched.manifest_path).rows
    assert (row.id, row.width, row.height) == ("scene", 797, 644)
    back_image, back_mask = io.read_image(row.image), io.read_mask(row.mask)
    assert back_image.dtype == image.dtype and back_image.tobytes() == image.tobytes()
    assert back_mask.dtype == mask.dtype and back_mask.tobytes() == mask.tobytes()


def test_rgba_png_tiles_keep_alpha_and_stitch_back_exactly(tmp_path):
    """The Data Science Bowl 2018 nuclei images are RGBA PNGs (and aerial PNG exports mark nodata with alpha 0):
    tiles came out RGB, so the documented 4-channel PNG tiles lost the alpha and `stitch` gave back a
    3-channel image that is not the original."""
    from PIL import Image

    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (70, 90, 4), dtype=np.uint8)
    rgba[:20, :30, 3] = 0  # a nodata corner
    (tmp_path / "src").mkdir()
    Image.fromarray(rgba, "RGBA").save(tmp_path / "src" / "a.png")
    manifest = write_manifest([ManifestRow("a", tmp_path / "src" / "a.png", None, 90, 70, {})],
                              tmp_path / "src" / "manifest.csv")
    report = tile_manifest(manifest, tmp_path / "tiles", size=48, overlap=8, quiet=True)
    assert report.ok
    for row in read_manifest(report.manifest_path):
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        np.testing.assert_array_equal(np.asarray(Image.open(row.image)), rgba[y : y + 48, x : x + 48])
    stitched = stitch_manifest(report.manifest_path, tmp_path / "stitched", quiet=True)
    (row,) = read_manifest(stitched.manifest_path).rows
    back = np.asarray(Image.open(row.image))
    assert back.shape == rgba.shape and back.tobytes() == rgba.tobytes()


def test_stitch_takes_each_pixel_from_the_tile_it_is_most_central_in(tmp_path):
    # Tiles that disagree in their overlap show which one supplied each pixel.
    rows = []
    for i, x in enumerate([0, 6]):  # 10-wide tiles, overlap 4 (columns 6..9): the seam is at (6 + 10) // 2 = 8
        path = tmp_path / f"t{i}.png"
        io.write_mask(path, np.full((3, 10), i + 1, np.uint8))
        rows.append(ManifestRow(f"t{i}", path, path, 10, 3, {"source_id": "s", "tile_y": "0", "tile_x": str(x),
                                                                "source_width": "16", "source_height": "3"}))
    manifest = write_manifest(rows, tmp_path / "tiles.csv")
    out = stitch_manifest(manifest, tmp_path / "out", quiet=True)
    back = io.read_mask(read_manifest(out.manifest_path)[0].mask)
    np.testing.assert_array_equal(back[0], [1] * 8 + [2] * 8)


@pytest.mark.parametrize("layout", ["tiled", "strips", "planar", "deflate"])
def test_raster_windows_of_multiband_uint16_tiffs(tmp_path, layout):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 65536, (150, 170, 5), dtype=np.uint16)
    path = tmp_path / "x.tif"
    if layout == "planar":
        tifffile.imwrite(path, data.transpose(2, 0, 1), photometric="minisblack", planarconfig="separate",
                         rowsperstrip=16)
    else:
        kwargs = {"tile": (32, 48)} if layout == "tiled" else {"rowsperstrip": 9}
        tifffile.imwrite(path, data, photometric="minisblack", planarconfig="contig",
                         compression="zlib" if layout == "deflate" else None, **kwargs)
    with RasterReader(path) as reader:
        assert (reader.height, reader.width, reader.bands, reader.dtype) == (150, 170, 5, np.uint16)
        for y0, y1, x0, x1 in [(0, 150, 0, 170), (31, 97, 47, 133), (140, 400, 160, 400), (5, 6, 7, 8)]:
            np.testing.assert_array_equal(reader.read(y0, y1, x0, x1), data[y0:y1, x0:x1])
        if layout == "tiled":
            reader.read(33, 60, 50, 90)  # inside one 32x48 tile: only that segment is decoded and kept
            assert len(reader._cache) == 1
    np.testing.assert_array_equal(io.read_image(path, keep_alpha=True), data)  # the io hook: all 5 bands


@pytest.mark.parametrize("mode", ["RGB", "L", "I;16", "RGBA"])
def test_lzw_tiffs_tifffile_cannot_decode_here_are_read_through_opencv(tmp_path, mode):
    """DRIVE's retina photos are LZW TIFFs: stats and the loaders read them (OpenCV), but tile and resize failed
    with "requires the 'imagecodecs' package". Windows and whole reads now come from OpenCV's libtiff, exactly.
    RGBA (rasterio's alpha.tif): OpenCV premultiplied the colours by the alpha, so those are read by PIL."""
    rng = np.random.default_rng(3)
    shape, dtype = {"RGB": ((70, 90, 3), np.uint8), "L": ((70, 90), np.uint8), "I;16": ((70, 90), np.uint16),
                    "RGBA": ((70, 90, 4), np.uint8)}[mode]
    data = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    path = tmp_path / "lzw.tif"
    Image.fromarray(data).save(path, compression="tiff_lzw")
    with Image.open(path) as im:
        assert im.info.get("compression") == "tiff_lzw"
    expected = data.reshape(70, 90, -1)
    with RasterReader(path) as reader:
        np.testing.assert_array_equal(reader.read(10, 40, 20, 75), expected[10:40, 20:75])
        np.testing.assert_array_equal(reader.read_all(), expected)
    np.testing.assert_array_equal(io.read_image(path), expected[:, :, :3])  # alpha dropped, colours as stored
    mask = tmp_path / "lzw_mask.png"
    io.write_mask(mask, (np.arange(70 * 90).reshape(70, 90) // 700).astype(np.uint8))
    src = write_manifest([ManifestRow("lzw", path, mask, 90, 70)], tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", force=True, size=32)
    assert report.ok, report.errors
    for row in read_manifest(report.manifest_path).rows:
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        np.testing.assert_array_equal(read_raster(row.image), expected[y:y + 32, x:x + 32])


def test_a_tiff_opencv_would_misread_keeps_the_tifffile_error(tmp_path, monkeypatch):
    """Five uint16 bands: OpenCV cannot return them, so a decode failure is reported as it is, not papered over."""
    path = tmp_path / "bands.tif"
    tifffile.imwrite(path, np.zeros((20, 30, 5), np.uint16), photometric="minisblack", planarconfig="contig")

    def no_codec(self, *args, **kwargs):
        raise ValueError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", no_codec)
    with RasterReader(path) as reader, pytest.raises(DataprepError, match="requires the 'imagecodecs' package"):
        reader.read_all()


@pytest.mark.parametrize("dtype,bands", [(np.uint16, 6), (np.float32, 3), (np.uint8, 1)])
def test_tiff_tiles_keep_bands_and_dtype_and_round_trip(tmp_path, dtype, bands):
    rng = np.random.default_rng(2)
    shape = (203, 141, bands)
    image = (rng.random(shape) * 1000).astype(dtype)
    mask = rng.integers(0, 4, shape[:2], dtype=np.uint8)
    manifest = _source(tmp_path, {"a": image}, {"a": mask}, ext=".tif")
    report = tile_manifest(manifest, tmp_path / "tiles", size=(64, 48), overlap=(8, 5), quiet=True)
    assert report.ok
    for row in read_manifest(report.manifest_path):
        tile = read_raster(row.image)
        assert row.image.suffix == ".tif" and tile.dtype == dtype and tile.shape == (64, 48, bands)
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        np.testing.assert_array_equal(tile, image[y : y + 64, x : x + 48])
    out = stitch_manifest(report.manifest_path, tmp_path / "back", quiet=True)
    row = read_manifest(out.manifest_path)[0]
    back = read_raster(row.image)
    assert back.dtype == image.dtype and back.tobytes() == image.tobytes()
    assert io.read_mask(row.mask).tobytes() == mask.tobytes()


@pytest.mark.parametrize("pad", ["ignore", "reflect"])
def test_padding_fills_masks_with_the_ignore_index(tmp_path, pad):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)
    mask = rng.integers(0, 3, (70, 90), dtype=np.uint8)
    manifest = _source(tmp_path, {"a": image}, {"a": mask})
    report = tile_manifest(manifest, tmp_path / "tiles", size=64, stride=48, pad=pad, ignore_index=200, quiet=True)
    rows = read_manifest(report.manifest_path).rows
    assert sorted({(int(r.extra["tile_y"]), int(r.extra["tile_x"])) for r in rows}) == [(0, 0), (0, 48), (48, 0), (48, 48)]
    # numpy's own padding of the whole image is the reference.
    padded = np.pad(image, ((0, 112 - 70), (0, 112 - 90), (0, 0)), mode="reflect" if pad == "reflect" else "constant")
    for row in rows:
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        assert (row.height, row.width) == (64, 64)
        np.testing.assert_array_equal(io.read_mask(row.mask), _expected_tile(mask, y, x, 64, 64, 200))
        np.testing.assert_array_equal(io.read_image(row.image), padded[y : y + 64, x : x + 64])
    out = stitch_manifest(report.manifest_path, tmp_path / "back", quiet=True)
    row = read_manifest(out.manifest_path)[0]
    assert io.read_image(row.image).tobytes() == image.tobytes() and io.read_mask(row.mask).tobytes() == mask.tobytes()


def test_unpadded_source_smaller_than_the_tile_gives_one_smaller_tile(tmp_path):
    image = np.arange(30 * 40 * 3, dtype=np.uint8).reshape(30, 40, 3)
    report = tile_manifest(_source(tmp_path, {"a": image}), tmp_path / "tiles", size=64, quiet=True)
    (row,) = read_manifest(report.manifest_path).rows
    assert (row.height, row.width, row.mask) == (30, 40, None)
    np.testing.assert_array_equal(io.read_image(row.image), image)


def test_min_labelled_and_keep_empty_filters(tmp_path):
    mask = np.full((64, 128), 255, np.uint8)  # four 32x64 tiles... one labelled with a class, one background only
    mask[:32, :32] = 1
    mask[:32, 32:64] = 0
    mask[32:, 64:] = 0
    mask[32:40, :32] = 2  # 8 of 32 rows labelled: 25%
    image = np.zeros((64, 128, 3), np.uint8)
    manifest = _source(tmp_path, {"a": image}, {"a": mask})
    kept = lambda rep: sorted((int(r.extra["tile_y"]), int(r.extra["tile_x"])) for r in read_manifest(rep.manifest_path))
    everything = tile_manifest(manifest, tmp_path / "all", size=32, quiet=True)
    assert everything.tiles == 8
    # Labelled share per tile from numpy: drop those below 30%.
    shares = {(y, x): np.mean(mask[y : y + 32, x : x + 32] != 255) for y in (0, 32) for x in (0, 32, 64, 96)}
    rep = tile_manifest(manifest, tmp_path / "labelled", size=32, min_labelled=0.3, quiet=True)
    assert kept(rep) == sorted(k for k, s in shares.items() if s >= 0.3) and rep.dropped_unlabelled == 8 - rep.tiles
    rep = tile_manifest(manifest, tmp_path / "no_empty", size=32, min_labelled=0.01, keep_empty=0.0, quiet=True)
    assert kept(rep) == [(0, 0), (32, 0)] and rep.dropped_empty == 3
    again = tile_manifest(manifest, tmp_path / "half", size=32, keep_empty=0.5, seed=7, quiet=True)
    assert kept(again) == kept(tile_manifest(manifest, tmp_path / "half2", size=32, keep_empty=0.5, seed=7, quiet=True))
    # Stitching what is left: the dropped tiles' pixels are the ignore index, and counted.
    out = stitch_manifest(rep.manifest_path, tmp_path / "stitched", quiet=True)
    back = io.read_mask(read_manifest(out.manifest_path)[0].mask)
    expected = np.full_like(mask, 255)
    expected[:, :32] = mask[:, :32]
    np.testing.assert_array_equal(back, expected)
    assert out.uncovered == {"a": 64 * 96}


def test_tiles_of_a_scene_share_a_fold_and_an_existing_group_is_kept(tmp_path):
    rng = np.random.default_rng(4)
    images = {f"s{i}": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(6)}
    masks = {k: rng.integers(0, 3, (64, 64), dtype=np.uint8) for k in images}
    extra = {"s5": {"group": "city"}}
    report = tile_manifest(_source(tmp_path, images, masks, extra=extra), tmp_path / "tiles", size=32, quiet=True)
    tiles = read_manifest(report.manifest_path)
    assert {r.extra["group"] for r in tiles if r.extra["source_id"] == "s5"} == {"city"}
    result = split_folds(tiles, 3, mode="plain", seed=0, quiet=True)
    folds: dict[str, set[str]] = {}
    for row in result.manifest:
        folds.setdefault(row.extra["source_id"], set()).add(row.extra["fold"])
    assert all(len(f) == 1 for f in folds.values()) and len(set().union(*folds.values())) == 3


def test_georeference_is_shifted_to_each_tile_and_back(tmp_path):
    geo = GeoTags(((33550, (0.5, 0.25, 0.0)), (33922, (0.0, 0.0, 0.0, 1000.0, 2000.0, 0.0))))
    image = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)
    path = tmp_path / "src" / "geo.tif"
    write_raster(path, image, geo=geo)
    manifest = write_manifest([ManifestRow("geo", path, None, 50, 40)], tmp_path / "src" / "m.csv")
    report = tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True)
    for row in read_manifest(report.manifest_path):
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        with RasterReader(row.image) as r:
            tie = dict(r.geo.tags)[33922]
        assert tie[3:5] == (1000.0 + 0.5 * x, 2000.0 - 0.25 * y)
    back = read_manifest(stitch_manifest(report.manifest_path, tmp_path / "back", quiet=True).manifest_path)[0]
    with RasterReader(back.image) as r:
        assert dict(r.geo.tags)[33922][3:5] == (1000.0, 2000.0)
        np.testing.assert_array_equal(r.read(0, 40, 0, 50)[:, :, 0], image)


def test_mask_format_tif_places_label_tiles_where_their_images_are(tmp_path, cli):
    """GeoTIFF scenes gave georeferenced image tiles but PNG label tiles a GIS puts at (0, 0). With --mask-format
    tif the labels carry the image tile's placement, without its nodata tag (0 is a class there); stitch too."""
    geo = GeoTags(((33550, (0.5, 0.25, 0.0)), (33922, (0.0, 0.0, 0.0, 1000.0, 2000.0, 0.0)), (42113, "0")))
    image = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) + 1
    labels = (np.arange(40 * 50).reshape(40, 50) % 3).astype(np.uint8)
    write_raster(tmp_path / "src" / "geo.tif", image, geo=geo)
    io.write_mask(tmp_path / "src" / "geo_mask.png", labels)
    manifest = write_manifest([ManifestRow("geo", tmp_path / "src" / "geo.tif", tmp_path / "src" / "geo_mask.png",
                                           50, 40)], tmp_path / "src" / "m.csv")
    png = tile_manifest(manifest, tmp_path / "png", size=16, quiet=True)
    assert {r.mask.suffix for r in read_manifest(png.manifest_path)} == {".png"}  # the default is unchanged
    res = cli("tile", manifest, tmp_path / "tif", "--size", "16", "--mask-format", "tif", "-q")
    assert res.exit_code == 0, res.output
    for row in read_manifest(tmp_path / "tif" / "manifest.csv"):
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        with RasterReader(row.mask, mask=True) as r:
            tags = dict(r.geo.tags)
            tile = r.read(0, r.height, 0, r.width)[:, :, 0]
        assert tags[33922][3:5] == (1000.0 + 0.5 * x, 2000.0 - 0.25 * y) and 42113 not in tags
        np.testing.assert_array_equal(tile, labels[y : y + 16, x : x + 16])
    back = read_manifest(stitch_manifest(tmp_path / "tif" / "manifest.csv", tmp_path / "back", quiet=True)
                         .manifest_path)[0]
    with RasterReader(back.mask, mask=True) as r:
        assert back.mask.suffix == ".tif" and dict(r.geo.tags)[33922][3:5] == (1000.0, 2000.0)
        assert 42113 not in dict(r.geo.tags)
        np.testing.assert_array_equal(r.read(0, 40, 0, 50)[:, :, 0], labels)


def test_mask_format_tif_keeps_a_palette_label_maps_colours_in_tiles_and_stitched_map(tmp_path):
    """VOC-style palette PNG label maps with --mask-format tif gave grey TIFF tiles (no colour table) and a grey
    stitched map; the tiles are now palette TIFFs, placed, whose indices stitch back."""
    geo = GeoTags(((33550, (0.5, 0.5, 0.0)), (33922, (0.0, 0.0, 0.0, 1000.0, 2000.0, 0.0))))
    write_raster(tmp_path / "src" / "geo.tif", np.ones((40, 50), np.uint16), geo=geo)
    labels = (np.arange(40 * 50).reshape(40, 50) % 3).astype(np.uint8)
    labels[:5] = 255
    colours = [0, 0, 0, 128, 0, 0, 0, 128, 0]
    mask = Image.fromarray(labels, "P")
    mask.putpalette(colours + [224, 224, 192] * 253)
    mask.save(tmp_path / "src" / "geo_mask.png")
    manifest = write_manifest([ManifestRow("geo", tmp_path / "src" / "geo.tif", tmp_path / "src" / "geo_mask.png",
                                           50, 40)], tmp_path / "src" / "m.csv")
    tile_manifest(manifest, tmp_path / "tif", size=16, overlap=4, mask_format="tif", quiet=True)
    for row in read_manifest(tmp_path / "tif" / "manifest.csv"):
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        with Image.open(row.mask) as tile:
            assert tile.mode == "P" and tile.getpalette()[:12] == colours + [224, 224, 192]
            np.testing.assert_array_equal(np.asarray(tile), labels[y : y + 16, x : x + 16])
        page = tifffile.TiffFile(row.mask).pages[0]
        assert page.tags[33922].value[3:5] == (1000.0 + 0.5 * x, 2000.0 - 0.5 * y)
    back = read_manifest(stitch_manifest(tmp_path / "tif" / "manifest.csv", tmp_path / "back", quiet=True)
                         .manifest_path)[0]
    with Image.open(back.mask) as stitched:
        assert stitched.mode == "P" and stitched.getpalette()[:12] == colours + [224, 224, 192]
        np.testing.assert_array_equal(np.asarray(stitched), labels)


def test_probability_maps_are_blended_and_stay_a_distribution(tmp_path):
    rng = np.random.default_rng(5)
    full = rng.random((50, 70, 3)).astype(np.float32)
    full /= full.sum(axis=2, keepdims=True)
    rows = []
    for y in (0, 20):
        for x in (0, 20, 40):
            rel = f"probabilities/{y}_{x}.tif"
            write_raster(tmp_path / rel, full[y : y + 30, x : x + 30])
            img = tmp_path / f"{y}_{x}.png"
            io.write_image(img, np.zeros((30, 30, 3), np.uint8))
            rows.append(ManifestRow(f"{y}_{x}", img, None, 30, 30, {"source_id": "s", "tile_y": str(y), "tile_x": str(x),
                                                                    "source_width": "70", "source_height": "50",
                                                                    "probabilities": rel}))
    manifest = write_manifest(rows, tmp_path / "tiles.csv")
    for blend in ("gaussian", "cosine", "mean", "centre"):
        out = stitch_manifest(manifest, tmp_path / blend, blend=blend, quiet=True)
        row = read_manifest(out.manifest_path)[0]
        probs = read_raster(out.out_dir / row.extra["probabilities"])
        # Every tile holds the same values where they overlap: any weighting gives them back.
        np.testing.assert_allclose(probs, full, rtol=1e-5, atol=1e-6)
    window = blend_window(30, 30, "gaussian")
    assert window[15, 15] == window.max() and window.min() > 0 and window[0, 0] < window[15, 0] < window[15, 15]


def test_worker_processes_give_the_serial_result(tmp_path):
    rng = np.random.default_rng(6)
    images = {f"s{i}": rng.integers(0, 256, (50, 60, 3), dtype=np.uint8) for i in range(3)}
    masks = {k: rng.integers(0, 3, (50, 60), dtype=np.uint8) for k in images}
    manifest = _source(tmp_path, images, masks)
    serial = tile_manifest(manifest, tmp_path / "serial", size=32, overlap=4, quiet=True)
    with make_executor(2) as executor:
        pooled = tile_manifest(manifest, tmp_path / "pooled", size=32, overlap=4, executor=executor, quiet=True)
    a, b = read_manifest(serial.manifest_path), read_manifest(pooled.manifest_path)
    assert [(r.id, r.extra) for r in a] == [(r.id, r.extra) for r in b]
    for ra, rb in zip(a, b):
        assert io.read_image(ra.image).tobytes() == io.read_image(rb.image).tobytes()


def test_cli_warns_about_tiles_smaller_than_the_tile_size(tmp_path, cli):
    """BUSI's malignant (136) is 190 px wide: with --pad none its tiles at 256 were 256x190, among 256x256 ones."""
    rng = np.random.default_rng(2)
    images = {"wide": rng.integers(0, 256, (80, 80, 3), dtype=np.uint8),
              "narrow": rng.integers(0, 256, (80, 50, 3), dtype=np.uint8)}
    manifest = _source(tmp_path, images, {k: np.zeros(v.shape[:2], np.uint8) for k, v in images.items()})
    result = cli("tile", manifest, tmp_path / "tiles", "--size", "64", "-j", "1", "-q")
    assert result.exit_code == 0, result.output
    sizes = [(r.height, r.width) for r in read_manifest(tmp_path / "tiles" / "manifest.csv")]
    assert sizes.count((64, 50)) == 2 and sizes.count((64, 64)) == 4
    assert "warning: 2 tiles are smaller than 64x64" in result.output
    result = cli("tile", manifest, tmp_path / "padded", "--size", "64", "--pad", "ignore", "-j", "1", "-q")
    assert result.exit_code == 0 and "smaller" not in result.output


def test_cli_tile_then_stitch_and_a_colour_mask_error(tmp_path, cli):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (100, 120, 3), dtype=np.uint8)
    mask = rng.integers(0, 3, (100, 120), dtype=np.uint8)
    manifest = _source(tmp_path, {"a": image}, {"a": mask})
    result = cli("tile", manifest, tmp_path / "tiles", "--size", "64x48", "--overlap", "8", "-j", "1", "-q")
    assert result.exit_code == 0, result.output
    assert "tile: 6 tiles from 1 images" in result.output  # rows 0, 36; columns 0, 40, 72
    result = cli("stitch", tmp_path / "tiles" / "manifest.csv", tmp_path / "back", "-j", "1", "-q")
    assert result.exit_code == 0, result.output
    row = read_manifest(tmp_path / "back" / "manifest.csv")[0]
    assert io.read_image(row.image).tobytes() == image.tobytes()
    # A colour mask cannot be padded with an ignore index: one line naming it, exit 1, other rows unaffected.
    colour = tmp_path / "src" / "colour.png"
    io.write_mask(colour, rng.integers(0, 256, (100, 120, 3), dtype=np.uint8))
    rows = read_manifest(manifest).rows + [ManifestRow("b", rows_image := tmp_path / "src" / "a.png", colour, 120, 100)]
    bad = write_manifest(rows, tmp_path / "src" / "bad.csv")
    result = cli("tile", bad, tmp_path / "tiles2", "--size", "64", "-j", "1", "-q")
    assert result.exit_code == 1 and rows_image.exists()
    assert f"error: {colour}: tile needs class-index label maps" in result.output
    assert len(read_manifest(tmp_path / "tiles2" / "manifest.csv")) == 4  # the good row's tiles
    result = cli("tile", manifest, tmp_path / "t3", "--size", "64", "--overlap", "64")
    assert result.exit_code == 2 and "error: --overlap 64 must be at least 0 and below the tile size" in result.output


@pytest.mark.integration
@pytest.mark.parametrize("dataset,ignore", [("isbi", 128), ("camvid", 11)])
def test_real_data_round_trip(shared_data, tmp_path, dataset, ignore):
    if dataset == "isbi":  # 512x512 grayscale, binary 0/255 masks where 255 is a class
        root = shared_data("isbi2012_membrane/data/membrane/train")
        pairs = [(root / "image" / f"{i}.png", root / "label" / f"{i}.png") for i in range(3)]
    else:  # 480x360 RGB, index masks 0..11 with 11 = void
        root = shared_data("camvid_segnet/CamVid")
        images = sorted((root / "train").glob("*.png"))[:3]
        pairs = [(p, root / "trainannot" / p.name) for p in images]
    size = (512, 512) if dataset == "isbi" else (480, 360)
    rows = [ManifestRow(f"{dataset}_{i}", img, mask, *size) for i, (img, mask) in enumerate(pairs)]
    manifest = write_manifest(rows, tmp_path / "src.csv")
    report = tile_manifest(manifest, tmp_path / "tiles", size=256, overlap=32, ignore_index=ignore, quiet=True)
    assert report.ok
    for tile in read_manifest(report.manifest_path):
        src = next(r for r in rows if r.id == tile.extra["source_id"])
        y, x = int(tile.extra["tile_y"]), int(tile.extra["tile_x"])
        np.testing.assert_array_equal(io.read_mask(tile.mask), io.read_mask(src.mask)[y : y + 256, x : x + 256])
    out = stitch_manifest(report.manifest_path, tmp_path / "back", ignore_index=ignore, quiet=True)
    assert out.ok and len(read_manifest(out.manifest_path)) == len(rows)
    for src, back in zip(rows, read_manifest(out.manifest_path)):
        assert io.read_image(back.image).tobytes() == io.read_image(src.image).tobytes()
        assert io.read_mask(back.mask).tobytes() == io.read_mask(src.mask).tobytes()


def test_io_reads_palette_tiffs_as_colours_and_float_tiffs_as_stored(tmp_path):
    from PIL import Image

    indices = np.random.default_rng(8).integers(0, 3, (20, 30), dtype=np.uint8)
    im = Image.fromarray(indices, mode="P")
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 253 * 3)
    im.save(tmp_path / "palette.tif")
    colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    np.testing.assert_array_equal(io.read_image(tmp_path / "palette.tif"), colours[indices])
    values = np.random.default_rng(9).random((20, 30, 2)).astype(np.float32)
    tifffile.imwrite(tmp_path / "float.tif", values, photometric="minisblack", planarconfig="contig")
    np.testing.assert_array_equal(io.read_image(tmp_path / "float.tif"), values)


def test_stitch_refuses_a_manifest_without_tile_columns(tmp_path):
    manifest = _source(tmp_path, {"a": np.zeros((8, 8, 3), np.uint8)})
    with pytest.raises(DataprepError, match="not a tiles manifest: missing column"):
        stitch_manifest(manifest, tmp_path / "out", quiet=True)


def test_stitch_refuses_tiles_it_cannot_place_and_writes_nothing_of_a_failed_source(shared_data, tmp_path):
    """Edited or mixed tiles manifests of a real CamVid frame: a tile at tile_x -5 (numpy read it from the end),
    two tiles at one place, a tile past an unpadded source, tiles of two runs' sizes were stitched into wrong
    pixels, exit 0, or failed in numpy; and a source whose mask tiles failed left its image behind."""
    root = shared_data("camvid_segnet/CamVid")
    rows = [ManifestRow(p.stem, root / "train" / p.name, p, 480, 360)
            for p in sorted((root / "trainannot").glob("*.png"))[:1]]
    write_manifest(rows, tmp_path / "src.csv")
    tiles = read_manifest(tile_manifest(tmp_path / "src.csv", tmp_path / "t", size=256, stride=192,
                                        quiet=True).manifest_path).rows
    small = read_manifest(tile_manifest(tmp_path / "src.csv", tmp_path / "t128", size=128, quiet=True)
                          .manifest_path).rows
    assert len(tiles) == 6 and (tiles[1].extra["tile_y"], tiles[1].extra["tile_x"]) == ("0", "192")

    def edited(name: str, changed: list[ManifestRow]) -> Path:
        return write_manifest(changed, tmp_path / "t" / f"{name}.csv")  # beside tiling.json: pad none

    cases = {
        "negative": ([tiles[0], tiles[1].with_extra(tile_x="-5"), *tiles[2:]],
                     "a 256x256 tile at tile_y 0, tile_x -5 lies outside its 480x360 source"),
        "twice": ([*tiles, ManifestRow("again", tiles[1].image, tiles[1].mask, 256, 256, tiles[0].extra)],
                  f"rows {tiles[0].id!r} and 'again': two tiles of source {rows[0].id!r} at tile_y 0, tile_x 0"),
        "narrow": ([t.with_extra(source_width="300") for t in tiles],
                   "a 256x256 tile at tile_y 0, tile_x 192 runs past its 300x360 source"),
        "mixed": ([*tiles[1:], small[0]], "of two sizes (256x256, 128x128)"),
    }
    for name, (changed, message) in cases.items():
        with pytest.raises(DataprepError, match=re.escape(message)):
            stitch_manifest(edited(name, changed), tmp_path / name, quiet=True)
        assert not (tmp_path / name).exists()
    maskless = [tiles[0], ManifestRow(tiles[1].id, tiles[1].image, None, 256, 256, tiles[1].extra), *tiles[2:]]
    with pytest.raises(DataprepError, match="has no mask but other tiles"):
        stitch_manifest(edited("maskless", maskless), tmp_path / "maskless", quiet=True)
    assert not list((tmp_path / "maskless").rglob("*.png"))
    back = stitch_manifest(edited("whole", tiles), tmp_path / "whole", quiet=True)
    (row,) = read_manifest(back.manifest_path).rows
    np.testing.assert_array_equal(io.read_mask(row.mask), np.array(Image.open(rows[0].mask)))


def test_pixels_of_a_dropped_tile_come_from_overlapping_neighbours(tmp_path):
    # A 2x2 grid of 8x8 tiles on a 12x12 source (seams at 6); the bottom-right tile was dropped.
    rows = []
    for value, (y, x) in enumerate([(0, 0), (0, 4), (4, 0)], start=1):
        path = tmp_path / f"t{value}.png"
        io.write_mask(path, np.full((8, 8), value, np.uint8))
        rows.append(ManifestRow(f"t{value}", path, path, 8, 8, {"source_id": "s", "tile_y": str(y), "tile_x": str(x),
                                                              "source_width": "12", "source_height": "12"}))
    out = stitch_manifest(write_manifest(rows, tmp_path / "tiles.csv"), tmp_path / "out", ignore_index=9, quiet=True)
    back = io.read_mask(read_manifest(out.manifest_path)[0].mask)
    expected = np.full((12, 12), 9, np.uint8)
    expected[:6, :6], expected[:6, 6:], expected[6:, :6] = 1, 2, 3  # the centre rule
    expected[6:8, 6:8], expected[6:8, 8:], expected[8:, 6:8] = 1, 2, 3  # the dropped tile's area, where neighbours reach
    np.testing.assert_array_equal(back, expected)
    assert out.uncovered == {"s": 16}


def test_stitch_fills_uncovered_pixels_with_the_ignore_index_the_tiles_were_cut_with(tmp_path):
    """CamVid tiled with --ignore-index 11 and stitched without it: every pixel no tile covered became 255, a
    label outside its classes (1,482,624 pixels in 20 of 20 masks)."""
    mask = np.zeros((40, 40), np.uint8)
    mask[:, 20:] = 11  # void on the right: tiles there are all ignore and dropped
    src = _source(tmp_path, {"a": np.full((40, 40, 3), 70, np.uint8)}, {"a": mask})
    report = tile_manifest(src, tmp_path / "tiles", size=20, ignore_index=11, min_labelled=0.5, quiet=True)
    assert report.dropped_unlabelled == 2
    back = stitch_manifest(report.manifest_path, tmp_path / "out", quiet=True)
    np.testing.assert_array_equal(io.read_mask(read_manifest(back.manifest_path)[0].mask), mask)
    override = stitch_manifest(report.manifest_path, tmp_path / "out2", ignore_index=9, quiet=True)
    assert set(np.unique(io.read_mask(read_manifest(override.manifest_path)[0].mask))) == {0, 9}


def test_a_row_whose_size_is_not_its_files_is_refused_and_nothing_written_when_all_fail(tmp_path):
    """A manifest saying 500x360 for a 480x360 file: tile went on with the file's size, exit 0; stats refused it."""
    src = _source(tmp_path, {"a": np.full((36, 48, 3), 70, np.uint8), "b": np.full((36, 48, 3), 90, np.uint8)},
                  {"a": np.zeros((36, 48), np.uint8), "b": np.zeros((36, 48), np.uint8)})
    rows = read_manifest(src).rows
    wrong = write_manifest([ManifestRow(r.id, r.image, r.mask, 50 if r.id == "a" else r.width, r.height)
                            for r in rows], tmp_path / "wrong.csv")
    report = tile_manifest(wrong, tmp_path / "tiles", size=24, quiet=True)
    assert len(report.errors) == 1 and "is 48x36 but the manifest says 50x36" in report.errors[0]
    assert {r.extra["source_id"] for r in read_manifest(report.manifest_path).rows} == {"b"}
    only_a = write_manifest([r for r in read_manifest(wrong).rows if r.id == "a"], tmp_path / "a.csv")
    with pytest.raises(DataprepError, match=r"all 1 sources of .*a.csv failed the same way; nothing written"):
        tile_manifest(only_a, tmp_path / "none", size=24, quiet=True)
    assert not (tmp_path / "none").exists()


def test_tile_and_resize_outputs_inside_the_images_folder_need_force(tmp_path):
    """Both wrote into the images' folder without --force, where the next scan took the tiles for data."""
    from dataprep.errors import UsageError
    from dataprep.resizing import ResizeTarget, resize_manifest

    src = _source(tmp_path, {"a": np.full((40, 40, 3), 70, np.uint8)}, {"a": np.zeros((40, 40), np.uint8)})
    with pytest.raises(UsageError, match="output folder is inside"):
        tile_manifest(src, tmp_path / "src" / "tiles", size=20, quiet=True)
    with pytest.raises(UsageError, match="output folder is inside"):
        resize_manifest(src, tmp_path / "src" / "small", ResizeTarget(scale=0.5), quiet=True)
    assert not (tmp_path / "src" / "tiles").exists() and not (tmp_path / "src" / "small").exists()
    assert tile_manifest(src, tmp_path / "src" / "tiles", size=20, force=True, quiet=True).tiles == 4


def test_a_float_label_map_is_named_as_such_not_as_a_colour_mask(tmp_path):
    image = tmp_path / "src" / "a.png"
    io.write_image(image, np.zeros((20, 20, 3), np.uint8))
    tifffile.imwrite(tmp_path / "src" / "a_mask.tif", np.full((20, 20), 1.5, np.float32))
    src = write_manifest([ManifestRow("a", image, tmp_path / "src" / "a_mask.tif", 20, 20)], tmp_path / "m.csv")
    with pytest.raises(DataprepError, match=r"mask is float32 with values that are not whole numbers \(1.5\)"):
        tile_manifest(src, tmp_path / "tiles", size=10, quiet=True)


def test_float_label_maps_of_whole_numbers_tile_and_resize_as_their_integers(shared_data, tmp_path):
    """CamVid's labels saved as float32 TIFFs (as NIfTI conversions store them): tile refused them ('label maps
    of whole numbers, not float32') and resize wrote float masks, where read_mask, stats and augment take them."""
    from dataprep.resizing import ResizeTarget, resize_manifest

    root = shared_data("camvid_segnet/CamVid")
    kinds: dict[str, list[ManifestRow]] = {}
    for p in sorted((root / "trainannot").glob("*.png"))[:2]:
        labels = np.array(Image.open(p))
        for kind in ("u8", "f32"):
            path = tmp_path / "src" / kind / f"{p.stem}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(path, labels.astype(np.uint8 if kind == "u8" else np.float32))
            kinds.setdefault(kind, []).append(ManifestRow(p.stem, root / "train" / p.name, path, 480, 360))
    for kind, kind_rows in kinds.items():
        write_manifest(kind_rows, tmp_path / f"{kind}.csv")
        tile_manifest(tmp_path / f"{kind}.csv", tmp_path / f"tiles_{kind}", size=128, pad="ignore",
                      ignore_index=11, quiet=True)
        resize_manifest(tmp_path / f"{kind}.csv", tmp_path / f"small_{kind}", ResizeTarget(scale=0.5),
                        quiet=True)
    for out in ("tiles", "small"):
        plain = read_manifest(tmp_path / f"{out}_u8" / "manifest.csv").rows
        floats = read_manifest(tmp_path / f"{out}_f32" / "manifest.csv").rows
        assert len(plain) == len(floats) > 0
        for a, b in zip(plain, floats):
            got = io.read_mask(b.mask)
            assert got.dtype == np.uint8
            np.testing.assert_array_equal(got, io.read_mask(a.mask))


@pytest.mark.parametrize("tagged", [True, False])
def test_max_nodata_drops_tiles_that_are_mostly_a_geotiffs_nodata(tmp_path, tagged):
    """rasterio's RGB.byte.tif: a third of the scene is a nodata=0 border, so 15 of its 42 tiles of 128 px were
    more than half nothing. A pixel is nodata when every band holds the value; the share is of the tile's pixels
    inside the image (edge tiles of nodata alone were kept: their padding counted as data)."""
    rng = np.random.default_rng(5)
    data = rng.integers(1, 255, (50, 70, 3), dtype=np.uint8)
    data[:, :30] = 0  # the border
    data[34:, 40:, 0] = 0  # one band at 0 is still data
    tags = [(42113, "s", 0, "0", True)] if tagged else []
    tifffile.imwrite(tmp_path / "scene.tif", data, photometric="rgb", extratags=tags, metadata=None)
    mask = tmp_path / "scene.png"
    io.write_mask(mask, np.ones((50, 70), np.uint8))
    src = write_manifest([ManifestRow("scene", tmp_path / "scene.tif", mask, 70, 50)], tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", force=True, size=16, pad="ignore", max_nodata=0.5)
    expected = set()
    for y in range(0, 50, 16):
        for x in range(0, 70, 16):
            window = data[y:y + 16, x:x + 16]
            if not tagged or np.count_nonzero((window == 0).all(axis=-1)) <= 0.5 * window.shape[0] * window.shape[1]:
                expected.add((y, x))
    kept = {(int(r.extra["tile_y"]), int(r.extra["tile_x"])) for r in read_manifest(report.manifest_path).rows}
    assert kept == expected
    assert report.dropped_nodata == 4 * 5 - len(expected)
    assert (report.dropped_nodata > 0) == tagged


@pytest.mark.parametrize("mode", ["ignore", "keep"])
def test_masks_get_the_ignore_index_where_the_image_is_nodata(tmp_path, mode):
    """rasterio's RGB.byte.tif again: its nodata border was labelled with whatever the mask held there (class 1
    here), so a model learnt that class from black pixels no sensor saw. Pixels whose every band is nodata now
    become ignore in the tile masks; one band at 0 is still data; padding is ignore either way."""
    rng = np.random.default_rng(6)
    data = rng.integers(1, 255, (50, 70, 3), dtype=np.uint8)
    data[:, :30] = 0
    data[34:, 40:, 0] = 0
    tifffile.imwrite(tmp_path / "scene.tif", data, photometric="rgb", extratags=[(42113, "s", 0, "0", True)],
                     metadata=None)
    labels = np.ones((50, 70), np.uint8)
    labels[:, 20:25] = 255  # part of the collar marked ignore already: not counted as changed
    io.write_mask(tmp_path / "scene.png", labels)
    src = write_manifest([ManifestRow("scene", tmp_path / "scene.tif", tmp_path / "scene.png", 70, 50)],
                         tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", force=True, size=16, pad="ignore", nodata_mask=mode,
                           min_labelled=0.01)
    full = np.full((64, 80), 255, np.int64)  # independent: the whole scene's expected mask, padded
    full[:50, :70] = labels
    if mode == "ignore":
        full[:50, :70][(data == 0).all(axis=-1)] = 255
    rows = read_manifest(report.manifest_path).rows
    for row in rows:
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        np.testing.assert_array_equal(io.read_mask(row.mask), full[y:y + 16, x:x + 16])
    # Tiles entirely nodata hold no labelled pixel: --min-labelled drops them when nodata is ignore.
    all_nodata = 4 * 1 if mode == "ignore" else 0  # columns 0-15 of 4 tile rows
    assert report.dropped_unlabelled == all_nodata and len(rows) == 4 * 5 - all_nodata
    changed = (data == 0).all(axis=-1) & (labels != 255)  # the summary counts the pixels it changed
    kept_nodata = sum(int(changed[int(r.extra["tile_y"]):int(r.extra["tile_y"]) + 16,
                                  int(r.extra["tile_x"]):int(r.extra["tile_x"]) + 16].sum()) for r in rows)
    assert report.nodata_ignored == (kept_nodata if mode == "ignore" else 0) and (mode == "keep" or kept_nodata)


@pytest.mark.parametrize("nodata_text", ["nan", "-3.4e+38"])
def test_max_nodata_knows_float_nodata_as_gdal_writes_it(tmp_path, nodata_text):
    """NaN never equals NaN, and GDAL's decimal -3.4e+38 is not the float32 the pixels hold: both are nodata."""
    data = np.ones((32, 32, 2), np.float32)
    data[:, :16] = np.float32(float(nodata_text))
    tifffile.imwrite(tmp_path / "scene.tif", data, photometric="minisblack", planarconfig="contig",
                     extratags=[(42113, "s", 0, nodata_text, True)], metadata=None)
    src = write_manifest([ManifestRow("scene", tmp_path / "scene.tif", None, 32, 32)], tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", force=True, size=16, max_nodata=0.5)
    kept = sorted(int(r.extra["tile_x"]) for r in read_manifest(report.manifest_path).rows)
    assert (kept, report.dropped_nodata) == ([16, 16], 2)


def test_padding_and_what_no_tile_covers_are_the_geotiffs_nodata_value(tmp_path):
    """An int16 DEM with nodata -32768: tile --pad ignore padded with 0, a height, and stitch filled the holes of
    dropped tiles with 0 while the stitched file's tag said -32768; stats counted those pixels as data."""
    rng = np.random.default_rng(8)
    dem = rng.integers(-500, 3000, (40, 50, 1), dtype=np.int16)
    dem[:16, :16] = -32768  # a nodata corner: its tile is dropped by --max-nodata
    (tmp_path / "src").mkdir()
    tifffile.imwrite(tmp_path / "src" / "dem.tif", dem[:, :, 0], photometric="minisblack", metadata=None,
                     extratags=[(42113, "s", 0, "-32768", True)])
    src = write_manifest([ManifestRow("dem", tmp_path / "src" / "dem.tif", None, 50, 40)], tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", size=16, pad="ignore", max_nodata=0.5, quiet=True)
    rows = {(int(r.extra["tile_y"]), int(r.extra["tile_x"])): r for r in read_manifest(report.manifest_path).rows}
    assert (0, 0) not in rows and len(rows) == 3 * 4 - 1
    edge = io.read_image(rows[(32, 48)].image)[:, :, 0]  # 8 rows and 2 columns of image, the rest padding
    np.testing.assert_array_equal(edge[:8, :2], dem[32:40, 48:50, 0])
    assert (edge[8:] == -32768).all() and (edge[:, 2:] == -32768).all()
    stitched = stitch_manifest(report.manifest_path, tmp_path / "stitched", quiet=True)
    (row,) = read_manifest(stitched.manifest_path).rows
    back = io.read_image(row.image)[:, :, 0]
    np.testing.assert_array_equal(back, dem[:, :, 0])  # the dropped corner was all nodata: it comes back so
    with RasterReader(row.image) as reader:
        assert reader.geo.nodata == -32768


@pytest.mark.parametrize("alpha", [False, True])
def test_a_fourth_band_stays_data_or_alpha_as_the_source_tags_it(tmp_path, alpha):
    """RGB + NIR with photometric RGB (extra sample unspecified): every tile was tagged alpha, so stats read the
    tiles as 3 bands and lost the NIR without a word."""
    rng = np.random.default_rng(9)
    rgbn = rng.integers(0, 256, (32, 40, 4), dtype=np.uint8)
    (tmp_path / "src").mkdir()
    tifffile.imwrite(tmp_path / "src" / "a.tif", rgbn, photometric="rgb", metadata=None,
                     extrasamples=("unassalpha",) if alpha else ("unspecified",))
    src = write_manifest([ManifestRow("a", tmp_path / "src" / "a.tif", None, 40, 32)], tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", size=16, quiet=True)
    stitched = stitch_manifest(report.manifest_path, tmp_path / "stitched", quiet=True)
    for row in (*read_manifest(report.manifest_path).rows, *read_manifest(stitched.manifest_path).rows):
        assert io.read_image(row.image).shape[2] == (3 if alpha else 4)
        assert io.read_image(row.image, keep_alpha=True).shape[2] == 4


@pytest.mark.parametrize("photometric,extras", [
    ("minisblack", ["unspecified", "unspecified", "unassalpha"]),
    ("minisblack", ["assocalpha"]),
    ("rgb", ["unspecified", "unassalpha"])])
def test_extra_bands_then_alpha_keep_their_alpha_through_tile_stitch_and_resize(tmp_path, photometric, extras):
    """rasterio's RGBA.uint16.tif (minisblack, extra samples unspecified, unspecified, alpha): tiles, stitched and
    resized copies were written with every extra band unspecified, so stats read 4 data bands where the source
    has 3 and an alpha; a premultiplied alpha came back unassociated, RGB + NIR + alpha as minisblack."""
    from dataprep.resizing import ResizeTarget, resize_manifest

    bands = (3 if photometric == "rgb" else 1) + len(extras)
    data = np.random.default_rng(3).integers(0, 65535, (32, 40, bands)).astype(np.uint16)
    (tmp_path / "src").mkdir()
    tifffile.imwrite(tmp_path / "src" / "a.tif", data, photometric=photometric, planarconfig="contig",
                     extrasamples=extras, metadata=None)
    src = write_manifest([ManifestRow("a", tmp_path / "src" / "a.tif", None, 40, 32)], tmp_path / "src.csv")
    tiles = tile_manifest(src, tmp_path / "tiles", size=16, quiet=True)
    stitched = stitch_manifest(tiles.manifest_path, tmp_path / "stitched", quiet=True)
    resized = resize_manifest(src, tmp_path / "resized", ResizeTarget(size=(16, 20)), quiet=True)
    rows = [*read_manifest(tiles.manifest_path).rows, *read_manifest(stitched.manifest_path).rows,
            *read_manifest(resized.manifest_path).rows]
    for row in rows:
        with tifffile.TiffFile(row.image) as tif:
            page = tif.pages[0]
            assert page.photometric.name.lower() == photometric, row.image
            assert [e.name.lower() for e in page.extrasamples] == extras, row.image
        assert io.read_image(row.image).shape[2] == bands - 1
    np.testing.assert_array_equal(io.read_image(read_manifest(stitched.manifest_path).rows[0].image,
                                                keep_alpha=True), data)


def test_jpeg_ycbcr_tiffs_tile_resize_and_stitch_as_stats_reads_them(tmp_path):
    """GDAL's usual JPEG GeoTIFF stores YCbCr (rasterio's goes.tif): stats read it as RGB through libtiff while
    tile and resize refused it ("needs the imagecodecs package"). JPEG YCbCr decodes to RGB in every decoder."""
    from dataprep.resizing import ResizeTarget, resize_manifest

    blocks = np.random.default_rng(5).integers(0, 256, (8, 10, 3), dtype=np.uint8)
    (tmp_path / "src").mkdir()
    Image.fromarray(np.kron(blocks, np.ones((8, 8, 1), np.uint8))).convert("YCbCr").save(
        tmp_path / "src" / "a.tif", compression="jpeg")
    with tifffile.TiffFile(tmp_path / "src" / "a.tif") as tif:
        assert (tif.pages[0].photometric, tif.pages[0].compression) == (6, 7)
    source = io.read_image(tmp_path / "src" / "a.tif")
    src = write_manifest([ManifestRow("a", tmp_path / "src" / "a.tif", None, 80, 64)], tmp_path / "src.csv")
    tiles = tile_manifest(src, tmp_path / "tiles", size=32, quiet=True)
    stitched = stitch_manifest(tiles.manifest_path, tmp_path / "stitched", quiet=True)
    resized = resize_manifest(src, tmp_path / "resized", ResizeTarget(size=(32, 40)), quiet=True)
    assert tiles.ok and resized.ok
    (row,) = read_manifest(stitched.manifest_path).rows
    np.testing.assert_array_equal(io.read_image(row.image), source)
    with RasterReader(row.image) as reader:
        assert reader.photometric == "rgb"
    (small,) = read_manifest(resized.manifest_path).rows
    assert io.read_image(small.image).shape == (32, 40, 3)


def test_a_cut_short_tiff_is_named_truncated_by_every_reader_as_scan_names_it(tmp_path):
    """rasterio's corrupt.tif: scan said truncated, stats/preview "cannot decode ... requires imagecodecs" and tile
    "cannot decode TIFF segment 0"."""
    data = np.random.default_rng(2).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    (tmp_path / "src").mkdir()
    path = tmp_path / "src" / "a.tif"
    tifffile.imwrite(path, data, photometric="rgb", compression="zlib", rowsperstrip=16, metadata=None)
    path.write_bytes(path.read_bytes()[:-3000])
    reason = "truncated: TIFF holds"
    with pytest.raises(DataprepError, match=reason):
        io.read_image(path)
    src = write_manifest([ManifestRow("a", path, None, 80, 64)], tmp_path / "src.csv")
    with pytest.raises(DataprepError, match=reason):
        tile_manifest(src, tmp_path / "tiles", size=32, quiet=True)


def test_a_palette_tiff_image_tiles_and_resizes_as_its_colours(tmp_path):
    """A palette TIFF photo: stats read its colours (3 bands), tiles were its indices without the table, and
    resize averaged indices into colours of other entries."""
    from dataprep.resizing import ResizeTarget, resize_manifest

    rng = np.random.default_rng(6)
    colormap = rng.integers(0, 256, (3, 256)).astype(np.uint16) * 257
    indices = np.kron(rng.integers(0, 256, (8, 10)), np.ones((8, 8), int)).astype(np.uint8)
    (tmp_path / "src").mkdir()
    tifffile.imwrite(tmp_path / "src" / "a.tif", indices, photometric="palette", colormap=colormap, metadata=None)
    colours = (colormap // 257).astype(np.uint8).T[indices]
    src = write_manifest([ManifestRow("a", tmp_path / "src" / "a.tif", None, 80, 64)], tmp_path / "src.csv")
    tiles = tile_manifest(src, tmp_path / "tiles", size=32, quiet=True)
    stitched = stitch_manifest(tiles.manifest_path, tmp_path / "stitched", quiet=True)
    resized = resize_manifest(src, tmp_path / "resized", ResizeTarget(size=(32, 40)), quiet=True)
    (row,) = read_manifest(stitched.manifest_path).rows
    np.testing.assert_array_equal(io.read_image(row.image), colours)
    (small,) = read_manifest(resized.manifest_path).rows
    expected = cv2.resize(colours, (40, 32), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(io.read_image(small.image), expected)


def test_tiles_leave_out_the_scenes_gdal_statistics(tmp_path):
    """rasterio's RGB2.byte.tif carries STATISTICS_MEAN/STDDEV/... of the whole scene: every tile (and resized
    copy) carried them too, and a GIS showed each tile with the scene's figures. Other metadata is kept."""
    (tmp_path / "src").mkdir()
    meta = ('<GDALMetadata>\n  <Item name="STATISTICS_MEAN" sample="0">29.9</Item>\n'
            '  <Item name="STATISTICS_MAXIMUM" sample="0">255</Item>\n'
            '  <Item name="OFFSET" sample="0" role="offset">1.5</Item>\n</GDALMetadata>')
    tifffile.imwrite(tmp_path / "src" / "a.tif", np.full((32, 32), 7, np.uint8), photometric="minisblack",
                     metadata=None, extratags=[(42112, "s", 0, meta, True), (33550, "d", 3, (10.0, 10.0, 0.0), True),
                                               (33922, "d", 6, (0.0, 0.0, 0.0, 500.0, 900.0, 0.0), True)])
    src = write_manifest([ManifestRow("a", tmp_path / "src" / "a.tif", None, 32, 32)], tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", size=16, quiet=True)
    for row in read_manifest(report.manifest_path).rows:
        with tifffile.TiffFile(row.image) as tif:
            kept = tif.pages[0].tags[42112].value
        assert "STATISTICS_" not in kept and 'name="OFFSET"' in kept


def test_a_palette_tiff_masks_tiles_keep_its_colours(tmp_path):
    """Palette-mode TIFF label maps (a GIS export) gave PNG tiles without their colour table."""
    (tmp_path / "src").mkdir()
    io.write_image(tmp_path / "src" / "a.png", np.zeros((32, 32, 3), np.uint8))
    labels = np.kron(np.array([[0, 1], [2, 1]], np.uint8), np.ones((16, 16), np.uint8))
    mask = Image.fromarray(labels, "P")
    mask.putpalette([0, 0, 0, 200, 30, 30, 30, 200, 30])
    mask.save(tmp_path / "src" / "a.tif")
    src = write_manifest([ManifestRow("a", tmp_path / "src" / "a.png", tmp_path / "src" / "a.tif", 32, 32)],
                         tmp_path / "src.csv")
    report = tile_manifest(src, tmp_path / "tiles", size=16, quiet=True)
    for row in read_manifest(report.manifest_path).rows:
        tile = Image.open(row.mask)
        assert tile.mode == "P" and tile.getpalette()[:9] == [0, 0, 0, 200, 30, 30, 30, 200, 30]


def test_a_rerun_with_other_settings_or_rows_is_refused_before_it_writes(tmp_path):
    """tile --size 64 then --size 128 into one folder left the 64-pixel tiles the new run did not overwrite, and the
    next scan took both; interrupted, the manifest listed 64-pixel rows over 128-pixel files."""
    from dataprep.errors import UsageError

    rng = np.random.default_rng(12)
    images = {k: rng.integers(0, 255, (32, 32, 3), np.uint8) for k in "ab"}
    masks = {k: rng.integers(0, 3, (32, 32), np.uint8) for k in "ab"}
    manifest = _source(tmp_path, images, masks)
    out = tmp_path / "tiles"
    first = tile_manifest(manifest, out, size=16, quiet=True)
    listed = sorted(p.name for p in out.glob("images/*"))
    with pytest.raises(UsageError, match=r"tile` with size \[16, 16\] \(now \[8, 8\]\), stride \[16, 16\] \(now "
                                         r"\[8, 8\]\); this run would mix its outputs"):
        tile_manifest(manifest, out, size=8, quiet=True)
    assert sorted(p.name for p in out.glob("images/*")) == listed  # nothing written
    fewer = write_manifest(read_manifest(manifest).rows[:1], tmp_path / "fewer.csv")
    with pytest.raises(UsageError, match=r"from other rows \(2 then, 1 now\)"):
        tile_manifest(fewer, out, size=16, quiet=True)
    again = tile_manifest(manifest, out, size=16, quiet=True)  # the same run: completes or refreshes the folder
    assert read_manifest(again.manifest_path).rows == read_manifest(first.manifest_path).rows
    # A first run killed before its first tile: the record comes first, so the folder is known anyway.
    import dataprep.tiling as tiling

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tiling, "run_items", killed)
        with pytest.raises(KeyboardInterrupt):
            tile_manifest(manifest, tmp_path / "other", size=8, quiet=True)
    with pytest.raises(UsageError, match=r"size \[8, 8\] \(now \[16, 16\]\)"):
        tile_manifest(manifest, tmp_path / "other", size=16, quiet=True)
    assert tile_manifest(manifest, tmp_path / "other", size=8, quiet=True).ok  # the same rows and settings


def test_a_rerun_where_every_source_fails_keeps_the_earlier_runs_record(tmp_path):
    """The record of a folder's first, complete run must survive a later run that writes nothing: without it, a
    run with other settings would be let in beside the first run's tiles."""
    from dataprep.errors import UsageError

    images = {"a": np.full((32, 32, 3), 60, np.uint8)}
    manifest = _source(tmp_path, images, {"a": np.zeros((32, 32), np.uint8)})
    tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True)
    (tmp_path / "src" / "a.png").unlink()
    with pytest.raises(DataprepError, match="nothing written"):
        tile_manifest(manifest, tmp_path / "tiles", size=16, quiet=True)
    with pytest.raises(UsageError, match=r"size \[16, 16\] \(now \[8, 8\]\)"):
        tile_manifest(manifest, tmp_path / "tiles", size=8, quiet=True)


@pytest.mark.parametrize("orientation", [3, 6])
def test_tiff_images_tagged_with_an_orientation_tile_and_resize_upright_as_the_loaders_read_them(tmp_path, orientation):
    """A TIFF tagged Orientation 3 read upright in the loaders and stats but was cut and resized as stored: its tiles
    and resized copy (written untagged) lay upside down against their masks and against what training read; one
    tagged 6 was refused as of another size than the manifest's."""
    from dataprep.resizing import ResizeTarget, resize_manifest

    upright = np.random.default_rng(3).integers(0, 60000, (40, 60, 4), dtype=np.uint16)
    stored = upright[::-1, ::-1] if orientation == 3 else np.rot90(upright, 1)  # what turns into `upright`
    src = tmp_path / "src"
    src.mkdir()
    tifffile.imwrite(src / "scan.tif", np.ascontiguousarray(stored), photometric="minisblack", planarconfig="contig",
                     extratags=[(274, "H", 1, orientation, True)])
    labels = np.zeros((40, 60), np.uint8)
    labels[:10, :20] = 1  # drawn on the upright picture
    io.write_mask(src / "scan_mask.png", labels)
    np.testing.assert_array_equal(io.read_image(src / "scan.tif"), upright)  # the loaders' view
    manifest = write_manifest([ManifestRow("scan", src / "scan.tif", src / "scan_mask.png", 60, 40)],
                              src / "manifest.csv")
    report = tile_manifest(manifest, tmp_path / "tiles", size=(20, 30), quiet=True)
    assert report.ok, report.errors
    rows = read_manifest(tmp_path / "tiles" / "manifest.csv").rows
    assert len(rows) == 4
    for row in rows:
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        np.testing.assert_array_equal(io.read_image(row.image), upright[y : y + 20, x : x + 30])
    stitch_manifest(tmp_path / "tiles" / "manifest.csv", tmp_path / "stitched", quiet=True)
    np.testing.assert_array_equal(io.read_image(tmp_path / "stitched" / "images" / "scan.tif"), upright)
    resize_manifest(manifest, tmp_path / "half", ResizeTarget(scale=0.5), quiet=True)
    (row,) = read_manifest(tmp_path / "half" / "manifest.csv").rows
    blocks = upright.reshape(20, 2, 30, 2, 4).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(io.read_image(row.image) - blocks).max() <= 0.5


def test_npy_label_maps_storing_ignore_as_minus_one_tile_and_stitch_with_it(tmp_path, cli):
    """labelme's SegmentationClassNpy (int32, ignore -1): tile took --ignore-index 0..65535 only, so padding became
    255, a second ignore value that `stats --ignore-index -1` counted as a class, and --min-labelled counted the -1
    pixels as labelled."""
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 21, (70, 90)).astype(np.int32)
    labels[:, 40:] = -1  # the right part not labelled
    src = tmp_path / "src"
    src.mkdir()
    np.save(src / "a.npy", labels)
    io.write_image(src / "a.png", rng.integers(0, 256, (70, 90, 3), dtype=np.uint8))
    manifest = write_manifest([ManifestRow("a", src / "a.png", src / "a.npy", 90, 70)], src / "manifest.csv")
    result = cli("tile", manifest, tmp_path / "tiles", "--size", "32", "--pad", "ignore", "--ignore-index", "-1",
                 "--min-labelled", "0.5", "-j", "1")
    assert result.exit_code == 0, result.output
    kept = set()
    for y in range(0, 70, 32):
        for x in range(0, 90, 32):
            tile = _expected_tile(labels, y, x, 32, 32, -1)
            if np.count_nonzero(tile != -1) >= 0.5 * tile.size:
                kept.add((y, x))
    rows = read_manifest(tmp_path / "tiles" / "manifest.csv").rows
    assert {(int(r.extra["tile_y"]), int(r.extra["tile_x"])) for r in rows} == kept
    for row in rows:
        y, x = int(row.extra["tile_y"]), int(row.extra["tile_x"])
        np.testing.assert_array_equal(tifffile.imread(row.mask), _expected_tile(labels, y, x, 32, 32, -1))
    assert cli("stitch", tmp_path / "tiles" / "manifest.csv", tmp_path / "back").exit_code == 0
    (back,) = read_manifest(tmp_path / "back" / "manifest.csv").rows
    covered = np.zeros(labels.shape, bool)
    for y, x in kept:
        covered[y : y + 32, x : x + 32] = True
    np.testing.assert_array_equal(tifffile.imread(back.mask), np.where(covered, labels, -1))
    io.write_mask(src / "b.png", np.zeros((70, 90), np.uint8))  # no -1 in a uint8 label map
    png = write_manifest([ManifestRow("b", src / "a.png", src / "b.png", 90, 70)], src / "png.csv")
    refused = cli("tile", png, tmp_path / "png_tiles", "--size", "32", "--ignore-index", "-1")
    assert refused.exit_code == 1
    assert f"{src / 'b.png'}: ignore index -1 does not fit this uint8 mask" in refused.output

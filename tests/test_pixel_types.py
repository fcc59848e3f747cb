"""Real-format files of every pixel type: multi-band and GeoTIFF uint16, int16, float32 TIFFs, 16-bit PNG,
palette PNG masks and an EXIF-rotated JPEG, through scan, the row loader and augment."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import yaml
from PIL import Image

from dataprep import io, pixeltypes
from dataprep.augment import augment_manifest
from dataprep.manifest import ManifestRow, read_manifest, write_manifest
from dataprep.scan import scan

REPO = Path(__file__).resolve().parent.parent
H, W = 30, 40
TIEPOINT = (0.0, 0.0, 0.0, 500000.0, 4100000.0, 0.0)
GEO_TAGS = [
    (33550, 12, 3, (10.0, 10.0, 0.0), True),  # ModelPixelScale
    (33922, 12, 6, TIEPOINT, True),  # ModelTiepoint
    (34735, 3, 16, (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633), True),  # GeoKeyDirectory
]


def _labels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, (H, W)).astype(np.uint8)


@pytest.fixture(scope="module")
def rasters(tmp_path_factory) -> Path:
    """data/images/<id>.tif|png of five pixel types, data/masks/<id>.png label maps."""
    root = tmp_path_factory.mktemp("rasters") / "data"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    kw = {"photometric": "minisblack", "planarconfig": "contig", "metadata": None}
    tifffile.imwrite(root / "images" / "geo4.tif", rng.integers(0, 10000, (H, W, 4)).astype(np.uint16),
                     extratags=GEO_TAGS, **kw)
    tifffile.imwrite(root / "images" / "band9.tif", rng.integers(0, 65535, (H, W, 9)).astype(np.uint16), **kw)
    tifffile.imwrite(root / "images" / "dem.tif", rng.integers(-500, 3000, (H, W)).astype(np.int16),
                     photometric="minisblack", metadata=None)
    tifffile.imwrite(root / "images" / "float.tif", rng.normal(0, 100, (H, W, 3)).astype(np.float32), **kw)
    rgb16 = rng.integers(0, 65535, (H, W, 3)).astype(np.uint16)
    assert cv2.imwrite(str(root / "images" / "rgb16.png"), rgb16[:, :, ::-1])
    for k, name in enumerate(("geo4", "band9", "dem", "float", "rgb16")):
        io.write_mask(root / "masks" / f"{name}.png", _labels(k))
    return root


@pytest.fixture(scope="module")
def manifest(rasters, tmp_path_factory) -> Path:
    result = scan(rasters)
    path = tmp_path_factory.mktemp("work") / "manifest.csv"
    write_manifest(result.manifest, path)
    return path


def _expected(path: Path) -> np.ndarray:
    """The file's pixels read independently of dataprep: tifffile for TIFF, OpenCV for PNG."""
    if path.suffix == ".tif":
        array = tifffile.imread(path)
    else:
        array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, ::-1]
    return array[:, :, None] if array.ndim == 2 else array


def test_scan_pairs_every_pixel_type(manifest, rasters):
    rows = {r.id: r for r in read_manifest(manifest).rows}
    assert sorted(rows) == ["band9", "dem", "float", "geo4", "rgb16"]
    assert all((r.width, r.height) == (W, H) for r in rows.values())
    decoded = scan(rasters, check="decode")  # every file decoded, through the same readers
    assert len(decoded.manifest.rows) == 5 and not decoded.problems


def test_headers_say_bands_and_dtype_without_decoding(rasters):
    infos = {p.stem: io.read_info(p) for p in (rasters / "images").iterdir()}
    kinds = {k: (i.bands, i.dtype, i.format) for k, i in infos.items()}
    assert kinds == {"geo4": (4, "uint16", "TIFF"), "band9": (9, "uint16", "TIFF"), "dem": (1, "int16", "TIFF"),
                     "float": (3, "float32", "TIFF"), "rgb16": (3, "uint16", "PNG")}


def test_load_sample_returns_exact_bands_and_dtype(manifest):
    for row in read_manifest(manifest).rows:
        sample = io.load_sample(row)
        expected = _expected(Path(row.image))
        assert sample.image.dtype == expected.dtype and sample.image.shape == expected.shape, row.id
        assert np.array_equal(sample.image, expected), row.id
        assert sample.meta.extra["dtype"] == expected.dtype.name and sample.meta.extra["bands"] == expected.shape[2]
        assert np.array_equal(sample.mask, io.read_mask(row.mask))
        assert sample.meta.id == row.id and sample.meta.image_path == str(row.image)


def test_geotiff_tags_travel_in_the_sample_metadata(manifest):
    row = next(r for r in read_manifest(manifest).rows if r.id == "geo4")
    geo = io.load_sample(row).meta.extra["geo"]
    assert dict(geo.tags)[33922] == TIEPOINT
    other = next(r for r in read_manifest(manifest).rows if r.id == "band9")
    assert "geo" not in io.load_sample(other).meta.extra


def test_geotiff_and_nine_band_reads_print_no_codec_warnings(rasters):
    # A fresh process: the libtiff warnings are printed by C code straight to stderr.
    code = ("from dataprep import io\n"
            f"for name in ('geo4', 'band9'):\n"
            f"    print(io.read_image({str(rasters / 'images')!r} + '/' + name + '.tif').shape)\n"
            f"    print(io.read_info({str(rasters / 'images')!r} + '/' + name + '.tif').bands)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["(30,", "40,", "4)", "4", "(30,", "40,", "9)", "9"]
    assert proc.stderr == ""


def test_palette_tiff_decoded_by_opencv_prints_no_tiff_warnings(tmp_path, capfd):
    # Palette photos are the TIFFs OpenCV still decodes (to colours); its libtiff must stay quiet on GeoTIFF tags.
    colormap = np.zeros((3, 256), np.uint16)
    colormap[0, 1], colormap[1, 2] = 65535, 65535
    path = tmp_path / "palette.tif"
    tifffile.imwrite(path, (np.arange(H * W).reshape(H, W) % 3).astype(np.uint8), photometric="palette",
                     colormap=colormap, extratags=GEO_TAGS, metadata=None)
    capfd.readouterr()
    image = io.read_image(path)
    assert image.shape == (H, W, 3) and image[0, 1].tolist() == [255, 0, 0] and image[0, 2].tolist() == [0, 255, 0]
    assert "TIFF_Warning" not in capfd.readouterr().err


def _recipe(tmp_path: Path, **output) -> Path:
    data = {"size": [16, 24], "variants": 1, "seed": 3, "steps": [{"op": "hflip", "p": 1.0}], "partners": "any"}
    if output:
        data["output"] = output
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_augment_auto_keeps_dtype_and_bands(manifest, tmp_path):
    summary = augment_manifest(manifest, _recipe(tmp_path), tmp_path / "out", quiet=True, executor=None)
    assert not summary.errors
    sources = {r.id: Path(r.image) for r in read_manifest(manifest).rows}
    for row in read_manifest(summary.manifest).rows:
        source = _expected(sources[row.extra["source_ids"]])
        assert row.image.suffix == ".tif"  # one container for the run: the one that holds every input
        out = tifffile.imread(row.image)
        out = out[:, :, None] if out.ndim == 2 else out
        assert out.shape == (16, 24, source.shape[2]) and out.dtype == source.dtype, row.id


def test_augment_auto_writes_16_bit_rgb_as_png(manifest, tmp_path):
    rows = [r for r in read_manifest(manifest).rows if r.id == "rgb16"]
    write_manifest(rows, tmp_path / "png16.csv")
    summary = augment_manifest(tmp_path / "png16.csv", _recipe(tmp_path), tmp_path / "out16", quiet=True)
    (out,) = read_manifest(summary.manifest).rows
    assert out.image.suffix == ".png"
    image = io.read_image(out.image)
    assert image.dtype == np.uint16 and image.shape == (16, 24, 3) and image.max() > 255  # not squeezed to 8 bits
    assert io.read_info(out.image).dtype == "uint16"


def test_explicit_jpeg_on_16_bit_data_is_refused_before_any_output(manifest, tmp_path, cli):
    out = tmp_path / "out"
    result = cli("augment", "--recipe", _recipe(tmp_path), manifest, out, "--image-format", "jpeg", "-j", "1", "-q")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    first = read_manifest(manifest).rows[0]
    assert len(lines) == 1 and lines[0].startswith(f"error: {first.image}: ")
    assert "cannot be written as jpg" in lines[0]
    assert not out.exists()
    # The same from the recipe.
    result = cli("augment", "--recipe", _recipe(tmp_path, image_format="jpg"), manifest, out, "-j", "1", "-q")
    assert result.exit_code == 2 and not out.exists()


def test_pixel_type_table():
    assert pixeltypes.auto_format("uint8", 3) == "jpg" and pixeltypes.auto_format("uint8", 1) == "jpg"
    assert pixeltypes.auto_format("uint16", 3) == "png" and pixeltypes.auto_format("uint16", 1) == "png"
    assert pixeltypes.auto_format("uint16", 4) == "tif"  # four data bands: a PNG would make band 4 alpha
    assert pixeltypes.auto_format("uint16", 4, alpha=True) == "png"
    assert [pixeltypes.auto_format(d, b) for d, b in (("uint16", 9), ("int16", 1), ("float32", 3))] == ["tif"] * 3
    assert not pixeltypes.can_hold("jpeg", "uint16", 3) and pixeltypes.can_hold("tiff", "float32", 13)
    assert pixeltypes.default_scale("uint16") == 65535.0 and pixeltypes.default_scale("float32") == 1.0
    assert pixeltypes.pixel_type("int32") is None


def test_palette_png_masks_give_their_indices(tmp_path):
    indices = _labels(7)
    im = Image.fromarray(indices, mode="P")
    im.putpalette([200, 10, 10, 10, 200, 10, 10, 10, 200, 250, 250, 0] + [0] * (252 * 3))
    im.save(tmp_path / "m.png")
    io.write_image(tmp_path / "i.png", np.zeros((H, W, 3), np.uint8))
    sample = io.load_sample(ManifestRow("x", tmp_path / "i.png", tmp_path / "m.png", W, H))
    assert sample.mask.dtype == np.uint8 and np.array_equal(sample.mask, indices)


def test_exif_rotated_jpeg_is_loaded_upright_and_pairs_with_an_upright_mask(tmp_path):
    stored = np.zeros((H, W, 3), np.uint8)
    stored[:5, :5] = 255  # top-left corner as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    (tmp_path / "images").mkdir()
    Image.fromarray(stored).save(tmp_path / "images" / "r.jpg", exif=exif.tobytes(), quality=95)
    io.write_mask(tmp_path / "masks" / "r.png", np.zeros((W, H), np.uint8))  # upright: W rows, H columns
    (row,) = scan(tmp_path).manifest.rows
    assert (row.width, row.height) == (H, W)
    sample = io.load_sample(row)
    assert sample.image.shape == (W, H, 3)
    assert sample.image[:5, -5:].mean() > 200 and sample.image[-5:, :5].mean() < 50  # the corner went top-right


def test_unsupported_pixel_types_are_refused_naming_the_file(tmp_path):
    tifffile.imwrite(tmp_path / "i.tif", np.zeros((H, W), np.int32), photometric="minisblack", metadata=None)
    io.write_mask(tmp_path / "m.png", _labels(1))
    with pytest.raises(io.DataprepError, match=r"i\.tif: int32 pixels are not supported"):
        io.load_sample(ManifestRow("x", tmp_path / "i.tif", tmp_path / "m.png", W, H))


def test_written_files_get_the_umask_permissions_and_import_leaves_the_umask_alone(tmp_path):
    code = ("import os\nos.umask(0o027)\nimport dataprep.io as io\n"
            "assert os.umask(0o027) == 0o027\n"
            f"io.atomic_write_text({str(tmp_path / 'a.txt')!r}, 'x')\n"
            f"io.atomic_write_bytes({str(tmp_path / 'sub' / 'b.png')!r}, b'x')\n"  # a folder made on the way
            "assert os.umask(0o027) == 0o027\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "sub" / "b.png").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "b.png", "sub"]  # no temporary file left


def test_tiff_sizes_are_checked_from_the_header_before_decoding(rasters, monkeypatch):
    path = rasters / "images" / "band9.tif"
    row = ManifestRow("band9", path, rasters / "masks" / "band9.png", W + 1, H)
    with pytest.raises(io.DataprepError, match=rf"is {W}x{H} but the manifest says {W + 1}x{H}; rescan it"):
        io.load_sample(row)
    monkeypatch.setenv(io.MAX_PIXELS_ENV, "100")
    for read in (io.read_image, io.read_info):
        with pytest.raises(io.DataprepError, match="over the limit of 100"):
            read(path)


@pytest.mark.parametrize("bands,extras", [(4, ["unspecified", "unspecified", "unassalpha"]),
                                          (7, ["unspecified"] * 5 + ["assocalpha"])])
def test_an_alpha_declared_after_unspecified_extra_bands_is_alpha(tmp_path, bands, extras):
    """rasterio's RGBA.uint16.tif: three gray+unspecified bands, then a declared alpha (GDAL's layout). The alpha
    was read as a fourth data band; it is dropped like any declared alpha, the other bands are data."""
    data = np.random.default_rng(1).integers(0, 65535, (H, W, bands)).astype(np.uint16)
    path = tmp_path / "alpha.tif"
    tifffile.imwrite(path, data, photometric="minisblack", planarconfig="contig", extrasamples=extras, metadata=None)
    np.testing.assert_array_equal(io.read_image(path), data[:, :, :-1])
    np.testing.assert_array_equal(io.read_image(path, keep_alpha=True), data)
    info = io.read_info(path)
    assert info.alpha and info.bands == bands

"""merge-bands: 38-Cloud's one-file-per-band patches to one multi-band image per sample."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

from dataprep import io
from dataprep.errors import DataprepError, UsageError
from dataprep.executor import ProcessExecutor
from dataprep.manifest import read_manifest
from dataprep.merge_bands import BandPattern, merge_bands
from dataprep.raster import GeoTags, RasterReader

BANDS = ("red", "green", "blue", "nir")
GEO = [(33550, "d", 3, (30.0, 30.0, 0.0), True), (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 4200000.0, 0.0), True)]


def _cloud_set(root, ids=("p_1", "p_2"), shape=(20, 30)) -> dict[str, np.ndarray]:
    """38-Cloud's layout: train_<band>/<band>_<id>.TIF, uint16, and train_gt/gt_<id>.TIF masks of 0/255."""
    rng = np.random.default_rng(4)
    stacks = {}
    for sample in ids:
        bands = rng.integers(6000, 60000, (*shape, len(BANDS)), dtype=np.uint16)
        for b, name in enumerate(BANDS):
            (root / f"train_{name}").mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(root / f"train_{name}" / f"{name}_{sample}.TIF", bands[:, :, b],
                             extratags=GEO if b == 0 else [], metadata=None)
        (root / "train_gt").mkdir(exist_ok=True)
        tifffile.imwrite(root / "train_gt" / f"gt_{sample}.TIF", (rng.random(shape) > 0.7).astype(np.uint8) * 255)
        stacks[sample] = bands
    return stacks


def _patterns(root) -> list[str]:
    return [str(root / f"train_{b}" / f"{b}_{{id}}.TIF") for b in BANDS]


def test_bands_are_merged_in_order_with_the_first_bands_geotags(tmp_path):
    stacks = _cloud_set(tmp_path / "src")
    report = merge_bands(_patterns(tmp_path / "src"), tmp_path / "out",
                         mask=str(tmp_path / "src" / "train_gt" / "gt_{id}.TIF"), quiet=True)
    assert report.ok and report.samples == 2
    rows = read_manifest(report.manifest_path).rows
    assert [r.id for r in rows] == ["p_1", "p_2"]
    for row in rows:
        with RasterReader(row.image) as reader:
            assert not reader.alpha and reader.bands == 4  # never tagged alpha: NIR stays a band
            np.testing.assert_array_equal(reader.read_all(), stacks[row.id])
            assert isinstance(reader.geo, GeoTags) and dict(reader.geo.tags)[33550][:2] == (30.0, 30.0)
        assert row.mask == (tmp_path / "src" / "train_gt" / f"gt_{row.id}.TIF").resolve()
        assert io.read_image(row.image).shape == (20, 30, 4)


def test_a_sample_with_a_missing_or_mismatched_band_is_named_and_left_out(tmp_path):
    src = tmp_path / "src"
    _cloud_set(src, ids=("a", "b", "c"))
    (src / "train_nir" / "nir_b.TIF").unlink()
    tifffile.imwrite(src / "train_blue" / "blue_c.TIF", np.zeros((20, 30), np.uint8))
    report = merge_bands(_patterns(src), tmp_path / "out", quiet=True)
    assert [r.id for r in read_manifest(report.manifest_path).rows] == ["a"]
    assert len(report.errors) == 2
    assert f"{src / 'train_nir' / 'nir_b.TIF'}: missing: band" in report.errors[0]
    assert f"blue_c.TIF: is 30x20 uint8 but {src / 'train_red' / 'red_c.TIF'} is 30x20 uint16" in report.errors[1]
    assert not (tmp_path / "out" / "images" / "b.tif").exists()


@pytest.mark.parametrize("tags,what", [
    ([(33550, "d", 3, (20.0, 20.0, 0.0), True), GEO[1]], "pixel size"),
    ([GEO[0], (33922, "d", 6, (0.0, 0.0, 0.0, 500030.0, 4200000.0, 0.0), True)], "origin"),
    ([*GEO, (34735, "H", 8, (1, 1, 0, 1, 3072, 0, 1, 32633), True)], "CRS"),
    ([*GEO, (42113, "s", 0, "0", True)], "nodata")])
def test_a_band_on_another_grid_or_with_other_nodata_is_named_and_left_out(tmp_path, tags, what):
    """A band of another pixel size, origin, CRS or nodata value was merged under the first band's tags
    without a word: its pixels then lay on the wrong ground, its nodata counted as data."""
    src = tmp_path / "src"
    _cloud_set(src, ids=("a", "b"))
    tifffile.imwrite(src / "train_nir" / "nir_b.TIF", np.zeros((20, 30), np.uint16), extratags=tags, metadata=None)
    report = merge_bands(_patterns(src), tmp_path / "out", quiet=True)
    assert [r.id for r in read_manifest(report.manifest_path).rows] == ["a"]
    (error,) = report.errors
    assert error.startswith(f"{src / 'train_nir' / 'nir_b.TIF'}: ")
    assert (f"declares nodata 0 but {src / 'train_red' / 'red_b.TIF'} declares none" if what == "nodata" else
            f"its {what} differs from {src / 'train_red' / 'red_b.TIF'}'s") in error


def test_the_georeference_is_the_georeferenced_bands_whatever_their_order(tmp_path):
    """With the one georeferenced band second, the merged file had no georeference at all (the first band's
    tags, none), and a third band of another grid was never compared with it."""
    src = tmp_path / "src"
    stacks = _cloud_set(src, ids=("a",))  # red alone is georeferenced
    order = [_patterns(src)[i] for i in (1, 0, 2, 3)]  # green first
    report = merge_bands(order, tmp_path / "out", quiet=True)
    assert report.ok, report.errors
    (row,) = read_manifest(report.manifest_path).rows
    with RasterReader(row.image) as reader:
        np.testing.assert_array_equal(reader.read_all(), stacks["a"][:, :, [1, 0, 2, 3]])
        assert reader.geo is not None and dict(reader.geo.tags)[33922] == GEO[1][3]
    tifffile.imwrite(src / "train_nir" / "nir_a.TIF", stacks["a"][:, :, 3], metadata=None,
                     extratags=[GEO[0], (33922, "d", 6, (0.0, 0.0, 0.0, 500030.0, 4200000.0, 0.0), True)])
    with pytest.raises(DataprepError) as refused:
        merge_bands(order, tmp_path / "out2", quiet=True)
    assert str(refused.value).startswith(f"{src / 'train_nir' / 'nir_a.TIF'}: its origin differs from "
                                         f"{src / 'train_red' / 'red_a.TIF'}'s: bands of a sample must lie on one "
                                         "grid (resample or reproject it first)")


_KEYS = (1, 1, 0, 3, 1024, 0, 1, 1, 3072, 0, 1, 32633, 3073, 34737, 7, 0)
_POINT_KEYS = (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 2, 3072, 0, 1, 32633)
_WITH_UNITS = (1, 1, 0, 4, 1024, 0, 1, 1, 2054, 0, 1, 9102, 3072, 0, 1, 32633, 3073, 34737, 7, 0)


@pytest.mark.parametrize("other", [
    [GEO[0], GEO[1], (34735, "H", len(_KEYS), _KEYS, True), (34737, "s", 0, "UTM 33N|", True)],  # another citation
    [(34264, "d", 16, (30.0, 0, 0, 500000.0, 0, -30.0, 0, 4200000.0, 0, 0, 0, 0, 0, 0, 0, 1), True),
     (34735, "H", len(_KEYS), _KEYS, True)],  # a transformation matrix for tiepoint + scale
    [(33550, "d", 3, (30.0, 30.0, 1.0), True), GEO[1], (34735, "H", len(_KEYS), _KEYS, True)],  # a Z scale
    [GEO[0], (33922, "d", 6, (0.0, 0.0, 0.0, 500015.0, 4199985.0, 0.0), True),
     (34735, "H", len(_POINT_KEYS), _POINT_KEYS, True)],  # PixelIsPoint: the tiepoint at the first pixel's centre
    [*GEO, (34735, "H", len(_WITH_UNITS), _WITH_UNITS, True)],  # a redundant unit key beside the EPSG code
], ids=["citation", "matrix", "z-scale", "pixel-is-point", "redundant-key"])
def test_one_grid_however_its_tags_say_it_merges(tmp_path, other):
    """Bands on one grid, written by GDAL and by other writers, were refused as of another pixel size or CRS."""
    src = tmp_path / "src"
    stacks = _cloud_set(src, ids=("a",))
    tifffile.imwrite(src / "train_red" / "red_a.TIF", stacks["a"][:, :, 0], metadata=None,
                     extratags=[*GEO, (34735, "H", len(_KEYS), _KEYS, True), (34737, "s", 0, "WGS 84|", True)])
    tifffile.imwrite(src / "train_nir" / "nir_a.TIF", stacks["a"][:, :, 3], metadata=None, extratags=other)
    report = merge_bands(_patterns(src), tmp_path / "out", quiet=True)
    assert report.ok, report.errors


def test_float32_nodata_written_at_two_precisions_is_one_value(tmp_path):
    src = tmp_path / "src"
    _cloud_set(src, ids=("a",))
    data = np.zeros((20, 30), np.float32)
    for band in BANDS:
        nodata = "-3.4028234663852886e+38" if band == "red" else "-3.40282e+38"
        tifffile.imwrite(src / f"train_{band}" / f"{band}_a.TIF", data, metadata=None,
                         extratags=[*GEO, (42113, "s", 0, nodata, True)])
    assert merge_bands(_patterns(src), tmp_path / "out", quiet=True).ok
    tifffile.imwrite(src / "train_nir" / "nir_a.TIF", data, metadata=None,
                     extratags=[*GEO, (42113, "s", 0, "-3.4e+38", True)])
    with pytest.raises(DataprepError, match="declares nodata -3.4e[+]38 but"):
        merge_bands(_patterns(src), tmp_path / "again", quiet=True)


def test_workers_give_the_same_files(tmp_path):
    _cloud_set(tmp_path / "src", ids=("a", "b", "c", "d"))
    serial = merge_bands(_patterns(tmp_path / "src"), tmp_path / "serial", quiet=True)
    with ProcessExecutor(2) as executor:
        pooled = merge_bands(_patterns(tmp_path / "src"), tmp_path / "pooled", executor=executor, quiet=True)
    for a, b in zip(read_manifest(serial.manifest_path), read_manifest(pooled.manifest_path)):
        assert a.id == b.id and a.image.read_bytes() == b.image.read_bytes()


def test_patterns_need_one_id_in_the_file_name_and_output_stays_out_of_the_inputs(tmp_path):
    with pytest.raises(UsageError, match=r"needs \{id\} in its file name"):
        BandPattern("{id}/red.TIF")
    with pytest.raises(UsageError, match="at least two --band"):
        merge_bands([str(tmp_path / "red_{id}.TIF")], tmp_path / "out")
    _cloud_set(tmp_path / "src")
    with pytest.raises(UsageError):
        merge_bands(_patterns(tmp_path / "src"), tmp_path / "src" / "train_red" / "merged")
    assert BandPattern(str(tmp_path / "src" / "train_red" / "red_{id}.TIF")).ids() == ["p_1", "p_2"]


def test_cli_merges_and_names_a_mask_of_another_size(tmp_path, cli):
    src = tmp_path / "src"
    _cloud_set(src)
    tifffile.imwrite(src / "train_gt" / "gt_p_2.TIF", np.zeros((10, 10), np.uint8))
    args = [a for p in _patterns(src) for a in ("--band", p)]
    tifffile.imwrite(src / "train_gt" / "gt_p_3.TIF", np.zeros((20, 30), np.uint8))  # a mask without bands
    result = cli("merge-bands", tmp_path / "out", *args, "--mask", str(src / "train_gt" / "gt_{id}.TIF"), "-j", "1")
    assert result.exit_code == 1
    assert (f"warning: 1 files of {str(src / 'train_gt' / 'gt_{id}.TIF')!r} have no file of the first band "
            f"(e.g. {src / 'train_gt' / 'gt_p_3.TIF'}); left out") in result.output
    assert "merge-bands: 1 of 2 samples (4 band files each), 1 failed" in result.output
    assert f"{src / 'train_gt' / 'gt_p_2.TIF'}: is 10x10 but its bands are 30x20" in result.output
    result = cli("merge-bands", tmp_path / "none", "--band", str(src / "x_{id}.TIF"), "--band", str(src / "y_{id}.TIF"))
    assert result.exit_code == 1 and "no file matches the first band's pattern" in result.output


def test_one_folder_per_scene_repeats_the_id(tmp_path):
    """A Landsat download: LC08_X/LC08_X_B4.TIF, one folder per scene; {id} repeats and must be the same text."""
    rng = np.random.default_rng(1)
    bands = {}
    for scene in ("LC08_L1TP_001", "LC08_L1TP_002"):
        bands[scene] = rng.integers(0, 65535, (12, 16, 3), dtype=np.uint16)
        for b, name in enumerate(("B4", "B3", "B2")):
            (tmp_path / "scenes" / scene).mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(tmp_path / "scenes" / scene / f"{scene}_{name}.TIF", bands[scene][:, :, b])
    (tmp_path / "scenes" / "old").mkdir()
    tifffile.imwrite(tmp_path / "scenes" / "old" / "LC08_L1TP_001_B4.TIF", np.zeros((12, 16), np.uint16))
    patterns = [str(tmp_path / "scenes" / "{id}" / f"{{id}}_{b}.TIF") for b in ("B4", "B3", "B2")]
    assert BandPattern(patterns[0]).ids() == ["LC08_L1TP_001", "LC08_L1TP_002"]  # the stray copy is no sample
    report = merge_bands(patterns, tmp_path / "out", quiet=True)
    for row in read_manifest(report.manifest_path):
        np.testing.assert_array_equal(tifffile.imread(row.image), bands[row.id])
    with pytest.raises(UsageError):  # inside the scenes' folder: the next scan would take it for data
        merge_bands(patterns, tmp_path / "scenes" / "merged")


def test_every_sample_failing_is_one_error_and_writes_nothing(tmp_path, cli):
    """A NIR band of another dtype in every sample printed one error per sample and left a header-only manifest."""
    src = tmp_path / "src"
    _cloud_set(src, ids=("a", "b"))
    for sample in ("a", "b"):
        tifffile.imwrite(src / "train_nir" / f"nir_{sample}.TIF", np.zeros((20, 30), np.uint8), metadata=None)
    args = [a for p in _patterns(src) for a in ("--band", p)]
    result = cli("merge-bands", tmp_path / "out", *args, "-j", "1")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {src / 'train_nir' / 'nir_a.TIF'}: is 30x20 uint8 but {src / 'train_red' / 'red_a.TIF'} "
                     "is 30x20 uint16; the bands of a sample must have one size and dtype (all 2 samples of "
                     f"{_patterns(src)[0]} failed (2 different reasons); nothing written)"]
    assert not (tmp_path / "out").exists()

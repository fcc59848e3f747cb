"""scan compares a GeoTIFF mask's georeference with its image's: the sizes alone passed a mask 30 km off."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile

from dataprep.scan import scan

SCALE = (33550, "d", 3, (30.0, 30.0, 0.0), True)  # ModelPixelScale
TIEPOINT = (33922, "d", 6, (0.0, 0.0, 0.0, 500000.0, 4200000.0, 0.0), True)
UTM_33N = (34735, "H", 8, (1, 1, 0, 1, 3072, 0, 1, 32633), True)  # GeoKeyDirectory: ProjectedCRS 32633


def _pair(root, image_tags, mask_tags) -> None:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    tifffile.imwrite(root / "images" / "a.tif", rng.integers(0, 255, (20, 30, 3), np.uint8), photometric="rgb",
                     extratags=image_tags, metadata=None)
    tifffile.imwrite(root / "masks" / "a.tif", rng.integers(0, 4, (20, 30), np.uint8), extratags=mask_tags,
                     metadata=None)


@pytest.mark.parametrize("mask_tags,what", [
    ([SCALE, (33922, "d", 6, (0.0, 0.0, 0.0, 503000.0, 4200000.0, 0.0), True), UTM_33N], "its origin"),
    ([(33550, "d", 3, (10.0, 10.0, 0.0), True), TIEPOINT, UTM_33N], "its pixel size")])
def test_a_mask_on_another_grid_is_left_out_naming_what_differs(tmp_path, mask_tags, what):
    _pair(tmp_path, [SCALE, TIEPOINT, UTM_33N], mask_tags)
    result = scan(tmp_path)
    assert result.rows == []
    assert [(p.path, p.kind) for p in result.problems] == [("masks/a.tif", "geo_mismatch")]
    assert result.problems[0].reason.startswith(f"{what} differs from its image images/a.tif's georeference")


def test_a_mask_on_the_same_grid_or_without_georeference_is_paired(tmp_path):
    # The same grid told another way: a transformation matrix instead of scale + tiepoint.
    matrix = (34264, "d", 16, (30.0, 0.0, 0.0, 500000.0, 0.0, -30.0, 0.0, 4200000.0) + (0.0,) * 7 + (1.0,), True)
    _pair(tmp_path / "same", [SCALE, TIEPOINT, UTM_33N], [matrix, UTM_33N])
    _pair(tmp_path / "plain", [SCALE, TIEPOINT, UTM_33N], [])
    for root in (tmp_path / "same", tmp_path / "plain"):
        result = scan(root)
        assert [r.id for r in result.rows] == ["a"] and not result.problems and not result.warnings


def test_a_mask_tagged_with_another_crs_is_kept_with_a_warning(tmp_path):
    _pair(tmp_path, [SCALE, TIEPOINT, UTM_33N], [SCALE, TIEPOINT, (34735, "H", 8, (1, 1, 0, 1, 3072, 0, 1, 32632),
                                                                   True)])
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["a"]
    assert [(p.path, p.kind) for p in result.warnings] == [("masks/a.tif", "geo_crs")]


@pytest.mark.parametrize("where", ["sidecar", "internal"])
def test_a_gdal_validity_mask_no_reader_applies_is_a_warning(tmp_path, where):
    """rasterio's RGB2.byte.tif keeps its valid-pixel mask in RGB2.byte.tif.msk, not as a nodata value: stats and
    tile measured its black collar as data without a word."""
    _pair(tmp_path, [SCALE, TIEPOINT, UTM_33N], [SCALE, TIEPOINT, UTM_33N])
    image = tmp_path / "images" / "a.tif"
    valid = np.full((20, 30), 255, np.uint8)
    if where == "sidecar":
        tifffile.imwrite(f"{image}.msk", valid, metadata=None)
    else:
        with tifffile.TiffWriter(image, append=True) as tif:
            tif.write(valid > 0, subfiletype=4, photometric="mask", metadata=None)  # as GDAL's internal masks
    result = scan(tmp_path)
    assert [r.id for r in result.rows] == ["a"]
    assert [(p.path, p.kind) for p in result.warnings] == [("images/a.tif", "validity_mask")]
    assert ("a.tif.msk" in result.warnings[0].reason) == (where == "sidecar")
    # A nodata value says what the mask would: no warning then.
    _pair(tmp_path / "with_nodata", [SCALE, TIEPOINT, UTM_33N, (42113, "s", 0, "0", True)], [])
    tifffile.imwrite(f"{tmp_path / 'with_nodata' / 'images' / 'a.tif'}.msk", valid, metadata=None)
    assert not scan(tmp_path / "with_nodata").warnings

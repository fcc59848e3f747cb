"""Multi-band, 16-bit, signed and float images from stats to training, with files written by tifffile.

References are computed here with numpy in float64 from the arrays written,
not through dataprep's readers.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from helpers import MULTIBAND_SIZE, make_multiband_set as make_set
from dataprep.contracts import Stats, needs_rgb, resolve_dataset_info
from dataprep.data import SegmentationDataset, make_loader
from dataprep.errors import UsageError
from dataprep.executor import ProcessExecutor, SerialExecutor
from dataprep.manifest import ManifestRow, write_manifest
from dataprep.palette import palette_from_dict
from dataprep.recipe import parse_recipe
from dataprep.stats import compute_stats, write_stats

H, W = MULTIBAND_SIZE
KINDS = {  # name: (bands, dtype)
    "u16x4": (4, np.uint16),
    "u16x9": (9, np.uint16),
    "i16x3": (3, np.int16),
    "f32x5": (5, np.float32),
}


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, tuple[Path, list[np.ndarray]]]:
    root = tmp_path_factory.mktemp("multiband")
    return {name: make_set(root / name, bands, dtype, seed=k) for k, (name, (bands, dtype)) in enumerate(KINDS.items())}


def _reference(images: list[np.ndarray]) -> dict[str, np.ndarray]:
    x = np.concatenate([a.reshape(-1, a.shape[2]) for a in images]).astype(np.float64)
    return {"mean": x.mean(0), "std": x.std(0), "min": x.min(0), "max": x.max(0),
            "p1": np.percentile(x, 1, axis=0), "p99": np.percentile(x, 99, axis=0)}


# --------------------------------------------------------------------------- stats


@pytest.mark.parametrize("name", list(KINDS))
def test_stats_per_band_equal_a_float64_reference(sets, name):
    manifest, images = sets[name]
    bands, dtype = KINDS[name]
    image = compute_stats(manifest, quiet=True)["image"]
    ref = _reference(images)
    assert image["channels"] == bands and image["dtype"] == np.dtype(dtype).name
    np.testing.assert_allclose(image["mean"], ref["mean"], rtol=1e-12)
    np.testing.assert_allclose(image["std"], ref["std"], rtol=1e-9)
    np.testing.assert_array_equal(image["min"], ref["min"])
    np.testing.assert_array_equal(image["max"], ref["max"])
    if dtype == np.float32:
        # A fixed-bin histogram: within one bin, 2**-7 of the value (docs/stats_kfold.md).
        for q in ("p1", "p99"):
            np.testing.assert_allclose(image[q], ref[q], rtol=2**-7)
    else:
        np.testing.assert_array_equal(image["p1"], ref["p1"])
        np.testing.assert_array_equal(image["p99"], ref["p99"])
    assert [b["band"] for b in image["bands"]] == list(range(bands))
    for key in ("mean", "std", "min", "max", "p1", "p99"):
        assert [b[key] for b in image["bands"]] == image[key]


@pytest.mark.parametrize("name", ["u16x9", "i16x3", "f32x5"])
def test_stats_identical_whatever_the_split(sets, name):
    manifest, _ = sets[name]
    serial = compute_stats(manifest, executor=SerialExecutor(), quiet=True)
    with ProcessExecutor(2) as pool:
        pooled = compute_stats(manifest, executor=pool, quiet=True)
    assert json.dumps(pooled) == json.dumps(serial)  # floats compared by their exact repr


def test_float_merge_is_exact_in_any_grouping():
    from dataprep.stats import Partial, image_partial, image_summary, merge_partials

    rng = np.random.default_rng(3)
    # Magnitudes far apart: float64 additions of the per-image sums would round differently per grouping.
    images = [(rng.normal(0, 1, (7, 9, 2)) * 10.0 ** rng.integers(-3, 9)).astype(np.float32) for _ in range(12)]
    parts = [Partial(1, image_partial(a)) for a in images]
    flat = image_summary(merge_partials(parts).image)
    for order in [rng.permutation(len(parts)) for _ in range(6)]:
        shuffled = [parts[i] for i in order]
        nested = image_summary(merge_partials([merge_partials(shuffled[7:]), merge_partials(shuffled[2:7][::-1]),
                                               *shuffled[:2]]).image)
        assert json.dumps(flat) == json.dumps(nested)
    np.testing.assert_allclose(flat["mean"], _reference(images)["mean"], rtol=1e-9)
    np.testing.assert_allclose(flat["std"], _reference(images)["std"], rtol=1e-9)


def test_cli_writes_one_entry_per_band(sets, cli, tmp_path):
    manifest, images = sets["u16x9"]
    one, two = tmp_path / "j1.json", tmp_path / "j2.json"
    assert cli("stats", manifest, "-o", one, "-j", "1", "-q").exit_code == 0
    result = cli("stats", manifest, "-o", two, "-j", "2", "-q")
    assert result.exit_code == 0, result.output
    assert one.read_bytes() == two.read_bytes()
    data = json.loads(one.read_text())
    assert len(data["image"]["bands"]) == 9 and data["image"]["channels"] == 9
    stats = Stats.from_json(one)
    assert stats.image.channels == 9 and stats.image.mean == tuple(data["image"]["mean"])


@pytest.mark.dask
def test_stats_on_dask_equal_serial(sets):
    distributed = pytest.importorskip("distributed")
    from dataprep.executor import make_executor

    manifest, _ = sets["f32x5"]
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address="127.0.0.1:0")
    try:
        with make_executor(None, cluster.scheduler_address) as executor:
            on_dask = compute_stats(manifest, executor=executor, quiet=True)
    finally:
        cluster.close()
    assert json.dumps(on_dask) == json.dumps(compute_stats(manifest, executor=SerialExecutor(), quiet=True))


# --------------------------------------------------------------------------- the Dataset


@pytest.mark.parametrize("name,scale", [("u16x4", 65535.0), ("i16x3", 32767.0), ("f32x5", 1.0)])
def test_dataset_yields_n_band_float_tensors_scaled_by_the_pixel_type(sets, name, scale):
    manifest, images = sets[name]
    ds = SegmentationDataset(manifest)
    item = ds[1]
    bands = KINDS[name][0]
    assert item["image"].dtype == torch.float32 and tuple(item["image"].shape) == (bands, H, W)
    expected = images[1].astype(np.float64).transpose(2, 0, 1) / scale
    np.testing.assert_allclose(item["image"].numpy(), expected, rtol=1e-6, atol=1e-6)


def test_dataset_normalizes_each_band_with_stats(sets, tmp_path):
    manifest, images = sets["u16x9"]
    stats = compute_stats(manifest, quiet=True)
    ref = _reference(images)
    item = SegmentationDataset(manifest, None, stats)[2]
    expected = ((images[2].astype(np.float64) - ref["mean"]) / ref["std"]).transpose(2, 0, 1)
    np.testing.assert_allclose(item["image"].numpy(), expected, rtol=1e-5, atol=1e-5)
    batch = next(iter(make_loader(manifest, None, stats, batch_size=2, num_workers=0, shuffle=False)))
    assert tuple(batch["image"].shape) == (2, 9, H, W)


def test_colour_only_step_on_four_bands_is_refused_at_load_naming_the_step(sets, sample_data):
    manifest, _ = sets["u16x4"]
    recipe = {"steps": [{"op": "hflip"}, {"op": "color_jitter"}]}
    with pytest.raises(UsageError, match=r"step 2 \(color_jitter\).*RGB.*4 band") as err:
        SegmentationDataset(manifest, recipe)
    assert "\n" not in str(err.value)
    assert needs_rgb("hue_saturation_value") and not needs_rgb("hflip")
    SegmentationDataset(manifest, {"steps": [{"op": "hflip"}]})[0]  # geometric steps are fine


@pytest.mark.parametrize("step", [{"op": "brightness_contrast", "brightness": [0.1, 0.1], "contrast": [0.5, 0.5]},
                                  {"op": "gaussian_noise", "std": [0.05, 0.05]}, {"op": "gaussian_blur"}])
def test_per_band_photometric_steps_run_on_four_band_uint16(sets, step):
    """Ops that treat every band alike (the op spec's needs_rgb False) change all four bands and keep uint16."""
    manifest, images = sets["u16x4"]
    dataset = SegmentationDataset(manifest, {"steps": [{**step, "p": 1.0}]})
    mask = np.zeros((H, W), np.uint8)
    out, _ = dataset.transform(images[0], mask, epoch=0, index=0)
    assert out.dtype == np.uint16 and out.shape == images[0].shape
    assert all(not np.array_equal(out[:, :, c], images[0][:, :, c]) for c in range(4))
    if step["op"] == "brightness_contrast":  # x * 1.5 + 0.1 * 65535, truncated and clipped per band
        expected = np.clip(images[0].astype(np.float64) * 1.5 + 0.1 * 65535, 0, 65535)
        np.testing.assert_allclose(out, expected, atol=1)
    item = dataset[0]
    assert tuple(item["image"].shape) == (4, H, W) and item["image"].dtype == torch.float32


def test_steps_that_need_rgb_run_on_gray_images(tmp_path):
    """Gray is a colour image without hue: albumentations (and the DALI graph) leave the colour terms out."""
    manifest, images = make_set(tmp_path / "g", 1, np.uint8, n=2)
    recipe = {"steps": [{"op": "color_jitter", "brightness": 0.5, "p": 1.0}]}
    out, _ = SegmentationDataset(manifest, recipe).transform(images[0], np.zeros((H, W), np.uint8), epoch=0, index=0)
    assert out.shape == (H, W, 1) and out.dtype == np.uint8 and not np.array_equal(out, images[0])
    with pytest.raises(UsageError, match=r"step 1 \(color_jitter\).*RGB.*9 band"):
        SegmentationDataset(make_set(tmp_path / "n", 9, np.uint8, n=1)[0], recipe)


def test_color_jitter_rotates_the_hue_of_16bit_rgb_images():
    """38-Cloud's Landsat patch as a 16-bit RGB TIFF: both shipped recipes (hue 0.02) failed in OpenCV's HSV
    conversion, which takes 8-bit and float images only. Checked against colorsys, not OpenCV."""
    import colorsys

    from dataprep.augment import OPS
    from dataprep.recipe import STEP_TYPES
    from dataprep.sample import Sample, SampleMeta

    image = np.random.default_rng(2).integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    sample = Sample(image, np.zeros((6, 7), np.uint8), SampleMeta("a", ignore_index=255))
    op = OPS["color_jitter"]
    params = op.sample(np.random.default_rng(1), [sample], STEP_TYPES["color_jitter"](0, 0, 0, hue=0.25), (6, 7))
    hue = params.drawn[0].hue
    assert abs(hue) > 0.01
    out = op.apply([sample], params).image
    expected = np.empty_like(out)
    for y, x in np.ndindex(6, 7):
        h, sat, v = colorsys.rgb_to_hsv(*(image[y, x] / 65535.0))
        expected[y, x] = np.round(np.array(colorsys.hsv_to_rgb((h + hue) % 1.0, sat, v)) * 65535)
    assert out.dtype == np.uint16
    np.testing.assert_allclose(out.astype(int), expected.astype(int), atol=2)
    step = STEP_TYPES["color_jitter"](0.3, 0.3, 0.3, hue=0.1)  # every factor with the hue, in the drawn order
    assert op.apply([sample], op.sample(np.random.default_rng(3), [sample], step, (6, 7))).image.dtype == np.uint16


def test_hue_saturation_value_on_16bit_images_is_refused_before_anything_runs(tmp_path):
    """OpenCV's HSV conversion takes 8-bit and float images: a 16-bit RGB set failed at the first sample of an
    epoch. Refused when the Dataset is built and before augment writes anything, naming the step and file."""
    from dataprep.augment import augment_manifest

    manifest, _ = make_set(tmp_path / "u16", 3, np.uint16, n=2)
    recipe = {"size": [16, 16], "steps": [{"op": "random_crop"}, {"op": "hue_saturation_value", "p": 1.0}]}
    with pytest.raises(UsageError, match=r"step 2 \(hue_saturation_value\) runs on uint8 and float32 images only"):
        SegmentationDataset(manifest, recipe)
    with pytest.raises(UsageError, match=r"this image is uint16") as err:
        augment_manifest(manifest, parse_recipe(recipe), tmp_path / "out", quiet=True)
    assert err.value.path == str(manifest.parent / "0.tif") and not (tmp_path / "out").exists()
    SegmentationDataset(make_set(tmp_path / "u8", 3, np.uint8, n=2)[0], recipe)[0]  # 8-bit runs


@pytest.mark.parametrize("op", ["gaussian_blur", "color_jitter", "brightness_contrast", "gaussian_noise"])
def test_photometric_steps_on_int16_are_refused_before_anything_runs(tmp_path, op):
    """int16 CT slices with the shipped train_default.yaml: albumentations' blur, jitter and brightness kernels
    raised KeyError: dtype('int16') (an 80-line traceback in train), noise an OpenCV type error; augment wrote
    3 of 12 outputs, then failed on each."""
    from dataprep.augment import augment_manifest

    manifest, _ = make_set(tmp_path / "i16", 3, np.int16, n=2)
    recipe = {"size": [16, 16], "steps": [{"op": "random_crop"}, {"op": op, "p": 1.0}]}
    reason = rf"step 2 \({op}\) runs on uint8, uint16 and float32 images only on the CPU, but .* int16"
    with pytest.raises(UsageError, match=reason):
        SegmentationDataset(manifest, recipe)
    if op != "gaussian_noise":  # not an offline op
        with pytest.raises(UsageError, match=reason):
            augment_manifest(manifest, parse_recipe(recipe), tmp_path / "out", quiet=True)
        assert not (tmp_path / "out").exists()
    SegmentationDataset(make_set(tmp_path / "u16", 3, np.uint16, n=2)[0], recipe)[0]  # 16-bit runs


def test_photometric_steps_on_floats_outside_0_1_are_refused(tmp_path):
    """Float CT slices in Hounsfield units (-1024..1016): a blur, jitter or brightness step clipped every one to
    0..1, exit 0. Geometric steps keep any value and still run."""
    from dataprep.augment import augment_manifest

    manifest, _ = make_set(tmp_path / "f32", 3, np.float32, n=2)  # reflectances offset by 10 per band: up to ~20
    recipe = {"size": [16, 16], "steps": [{"op": "random_crop"}, {"op": "brightness_contrast", "p": 1.0}]}
    reason = r"step 2 \(brightness_contrast\) takes float pixels as values in 0..1 and clips them to it, but"
    with pytest.raises(UsageError, match=reason):
        SegmentationDataset(manifest, recipe)
    with pytest.raises(UsageError, match=reason):
        augment_manifest(manifest, parse_recipe(recipe), tmp_path / "out", quiet=True)
    geometric = {"size": [16, 16], "steps": [{"op": "random_crop"}, {"op": "hflip", "p": 1.0}]}
    assert float(SegmentationDataset(manifest, geometric)[0]["image"].max()) > 1.0
    from dataprep.contracts import float_range_refusal

    steps = parse_recipe(recipe).steps
    nodata = np.full((4, 4, 3), np.nan, np.float32)
    assert float_range_refusal(steps, nodata) is None  # a nodata image says nothing of the range
    nodata[0, 0] = 0.5
    assert float_range_refusal(steps, nodata) is None
    nodata[1, 1] = 2.0
    assert "holds 0.5..2 " in float_range_refusal(steps, nodata)


def test_needs_rgb_comes_from_the_op_spec():
    from dataprep.ops import SPECS

    assert {name for name in SPECS if needs_rgb(name)} == {name for name, s in SPECS.items() if s.needs_rgb} \
        == {"color_jitter", "hue_saturation_value"}
    assert all(s.colour_only for s in SPECS.values() if s.needs_rgb)


def test_dali_refuses_four_band_uint16_in_one_line(sets):
    manifest, _ = sets["u16x4"]
    with pytest.raises(UsageError, match="DALI engine reads 1- or 3-channel.*4 band.*uint16") as err:
        make_loader(manifest, engine="dali", batch_size=2)
    assert "\n" not in str(err.value)
    assert err.value.path == str(manifest.parent / "0.tif")


# --------------------------------------------------------------------------- one resolver


def test_resolver_precedence_explicit_palette_stats_recipe():
    stats = Stats.from_json({"version": 1, "image": {"mean": [1.0], "std": [2.0]},
                             "classes": {"num_classes": 4, "ignore_index": 7}})
    palette = palette_from_dict({"classes": [{"index": 0, "name": "a", "color": [0, 0, 0]},
                                             {"index": 1, "name": "b", "color": [1, 1, 1]}],
                                 "ignore_index": 9})
    recipe = parse_recipe({"ignore_index": 11, "steps": []})
    assert resolve_dataset_info(ignore_index=3, palette=palette, stats=stats, recipe=recipe).ignore_index == 3
    info = resolve_dataset_info(palette=palette, stats=stats, recipe=recipe)
    assert (info.ignore_index, info.num_classes, info.from_["ignore_index"]) == (9, 2, "palette")
    info = resolve_dataset_info(stats=stats, recipe=recipe)
    assert (info.ignore_index, info.num_classes, info.normalization.mean) == (7, 4, (1.0,))
    assert resolve_dataset_info(recipe=recipe).ignore_index == 11
    assert resolve_dataset_info().ignore_index == 255
    round_trip = type(info).from_json(json.loads(json.dumps(info.to_json())))
    assert round_trip == info


def test_trainer_and_its_loaders_use_one_ignore_index(tmp_path):
    """Palette beside the manifest (ignore 9), stats.json (200), recipe (250): loss and padding both get 9."""
    from dataprep.train import parse_config
    from dataprep.train.datainfo import build_loaders, describe_data
    from dataprep.train.distributed import DistInfo

    manifest, _ = make_set(tmp_path / "d", 4, np.uint16, n=3)
    stats = write_stats(compute_stats(manifest, ignore_index=200, num_classes=3, quiet=True), tmp_path / "stats.json")
    palette_from_dict({"classes": [{"index": i, "name": f"c{i}", "color": [i, i, i]} for i in range(3)],
                       "ignore_index": 9}).save(manifest.parent / "palette.json")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("ignore_index: 250\nsteps:\n  - op: hflip\n")
    cfg = parse_config({"data": {"manifest": str(manifest), "stats": str(stats), "train_recipe": str(recipe),
                                 "val_manifest": str(manifest), "num_workers": 0, "batch_size": 2},
                        "model": {"width": 8, "depth": 2}, "train": {"output_dir": str(tmp_path / "run")}})
    data = describe_data(cfg)
    assert data.ignore_index == 9 and data.num_classes == 3 and data.in_channels == 4
    train_loader, val_loader = build_loaders(cfg, DistInfo(), torch.device("cpu"), data=data)
    assert train_loader.dataset.ignore_index == val_loader.dataset.ignore_index == 9
    # Without a palette: stats.json before the recipe, for the trainer and the Dataset alike.
    (manifest.parent / "palette.json").unlink()
    data = describe_data(cfg)
    assert data.ignore_index == 200 == SegmentationDataset(manifest, recipe, stats).ignore_index


# --------------------------------------------------------------------------- training


def test_train_runs_two_steps_with_a_four_channel_model(sets, tmp_path):
    from dataprep.train import parse_config, run_training

    torch.set_num_threads(2)
    manifest, _ = sets["u16x4"]
    stats = write_stats(compute_stats(manifest, quiet=True), tmp_path / "stats.json")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("size: [16, 16]\nsteps:\n  - op: random_crop\n  - op: hflip\n")
    cfg = parse_config({"data": {"manifest": str(manifest), "stats": str(stats), "train_recipe": str(recipe),
                                 "num_workers": 0, "batch_size": 2},
                        "model": {"width": 8, "depth": 2},
                        "train": {"epochs": 1, "max_steps": 2, "seed": 0, "output_dir": str(tmp_path / "run")}})
    result = run_training(cfg, quiet=True)
    assert len(result.step_losses) == 2 and all(np.isfinite(result.step_losses))
    assert result.model.in_channels == 4


# --------------------------------------------------------------------------- real data


def _decoded(paths: list[Path]) -> list[np.ndarray]:
    """Independent decode (OpenCV directly), RGB order, bands last."""
    out = []
    for p in paths:
        a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        a = a[:, :, None] if a.ndim == 2 else cv2.cvtColor(a, cv2.COLOR_BGR2RGB)
        out.append(a)
    return out


def _check_real(image: dict, arrays: list[np.ndarray]) -> None:
    ref = _reference(arrays)
    np.testing.assert_allclose(image["mean"], ref["mean"], rtol=1e-12)
    np.testing.assert_allclose(image["std"], ref["std"], rtol=1e-9)
    for key in ("min", "max", "p1", "p99"):
        np.testing.assert_array_equal(image[key], ref[key])
    assert len(image["bands"]) == arrays[0].shape[2]


@pytest.mark.integration
def test_isbi_and_camvid_stats_match_numpy(shared_data):
    isbi = shared_data("isbi2012_membrane/data/membrane/train")
    names = sorted(p.name for p in (isbi / "image").glob("*.png"))[:6]
    rows = [ManifestRow(Path(n).stem, isbi / "image" / n, isbi / "label" / n, 512, 512) for n in names]
    from dataprep.manifest import Manifest

    stats = compute_stats(Manifest(rows), ignore_index=None, quiet=True)
    assert stats["image"]["channels"] == 1
    _check_real(stats["image"], _decoded([isbi / "image" / n for n in names]))

    camvid = shared_data("camvid_segnet/CamVid")
    names = sorted(p.name for p in (camvid / "train").glob("*.png"))[:8]
    rows = [ManifestRow(Path(n).stem, camvid / "train" / n, camvid / "trainannot" / n, 480, 360) for n in names]
    stats = compute_stats(Manifest(rows), num_classes=11, ignore_index=11, quiet=True)
    assert stats["image"]["channels"] == 3
    _check_real(stats["image"], _decoded([camvid / "train" / n for n in names]))


@pytest.mark.parametrize("dtype,nodata", [(np.uint8, 0), (np.uint16, 65535), (np.int16, -9999)])
def test_gdal_nodata_pixels_are_left_out_of_each_band_as_gdalinfo_counts_them(tmp_path, dtype, nodata):
    """rasterio's RGB.byte.tif (a Landsat scene) is a third nodata=0 border: stats put red's mean at 29.9, GDAL's
    own statistics (its .aux.xml) say 44.43 over the valid pixels. Each band leaves out its own nodata pixels;
    a file without the tag keeps the same values as data."""
    import tifffile

    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    tagged = rng.integers(max(info.min, -5000), min(info.max, 5000), (40, 50, 3), endpoint=True).astype(dtype)
    tagged[tagged == nodata] = nodata + 1 if nodata < info.max else nodata - 1
    tagged[:12] = nodata  # the scene's border
    tagged[30, 7, 1] = nodata  # a single band's nodata pixel
    plain = rng.integers(max(info.min, -5000), min(info.max, 5000), (40, 50, 3)).astype(dtype)
    plain[:5] = nodata  # no tag: these are data
    kw = {"photometric": "minisblack", "planarconfig": "contig", "metadata": None}
    tifffile.imwrite(tmp_path / "tagged.tif", tagged, extratags=[(42113, "s", 0, str(nodata), True)], **kw)
    tifffile.imwrite(tmp_path / "plain.tif", plain, **kw)
    rows = [ManifestRow(n, tmp_path / f"{n}.tif", None, 50, 40) for n in ("tagged", "plain")]
    image = compute_stats(write_manifest(rows, tmp_path / "m.csv"))["image"]
    for c in range(3):
        band = tagged[:, :, c]
        values = np.concatenate([band[band != nodata], plain[:, :, c].ravel()]).astype(np.float64)
        assert image["valid_pixels"][c] == values.size
        assert image["mean"][c] == pytest.approx(values.mean(), rel=1e-12)
        assert image["std"][c] == pytest.approx(values.std(), rel=1e-12)
        assert image["min"][c] == values.min()
    assert image["pixels"] == 2 * 40 * 50
    assert image["valid_pixels"][1] == image["valid_pixels"][0] - 1


@pytest.mark.parametrize("nodata_text", ["-3.4e+38", "nan"])
def test_float_nodata_pixels_are_left_out_of_each_band(tmp_path, nodata_text):
    """rasterio's float_raster_with_nodata.tif marks 37% of it with -3.4e38, a finite value that would swamp the
    mean (GDAL writes the decimal, not the float32 the pixels hold); float_nan.tif marks it with NaN, which
    stats used to refuse as not finite. Each band leaves out its own nodata pixels, exactly."""
    import tifffile

    rng = np.random.default_rng(3)
    nodata = np.float32(float(nodata_text))
    tagged = rng.normal(0.2, 0.05, (30, 40, 2)).astype(np.float32)
    tagged[:9] = nodata
    tagged[20, 5, 1] = nodata  # a single band's nodata pixel
    plain = rng.normal(-1.0, 0.5, (30, 40, 2)).astype(np.float32)
    kw = {"photometric": "minisblack", "planarconfig": "contig", "metadata": None}
    tifffile.imwrite(tmp_path / "tagged.tif", tagged, extratags=[(42113, "s", 0, nodata_text, True)], **kw)
    tifffile.imwrite(tmp_path / "plain.tif", plain, **kw)
    rows = [ManifestRow(n, tmp_path / f"{n}.tif", None, 40, 30) for n in ("tagged", "plain")]
    image = compute_stats(write_manifest(rows, tmp_path / "m.csv"))["image"]
    for c in range(2):
        band = tagged[:, :, c].astype(np.float64)
        kept = band[~np.isnan(band)] if np.isnan(nodata) else band[band != nodata]
        values = np.concatenate([kept, plain[:, :, c].ravel()])
        assert image["valid_pixels"][c] == values.size
        assert image["mean"][c] == pytest.approx(values.mean(), rel=1e-12)
        assert image["std"][c] == pytest.approx(values.std(), rel=1e-12)
        assert (image["min"][c], image["max"][c]) == (values.min(), values.max())
        assert image["p99"][c] == pytest.approx(np.percentile(values, 99), rel=2**-7)
    assert image["valid_pixels"][1] == image["valid_pixels"][0] - 1


def test_a_float_band_that_is_all_nodata_measures_nothing(tmp_path):
    import tifffile

    data = np.full((6, 8, 2), -9999.0, np.float32)
    data[:, :, 0] = np.arange(48, dtype=np.float32).reshape(6, 8)
    tifffile.imwrite(tmp_path / "f.tif", data, photometric="minisblack", planarconfig="contig", metadata=None,
                     extratags=[(42113, "s", 0, "-9999", True)])
    image = compute_stats(write_manifest([ManifestRow("f", tmp_path / "f.tif", None, 8, 6)], tmp_path / "m.csv"))["image"]
    assert image["valid_pixels"] == [48, 0]
    assert image["mean"] == [pytest.approx(23.5), 0.0]
    assert image["min"] == [0.0, 0.0] and image["max"] == [47.0, 0.0]


@pytest.mark.parametrize("n", [2, 5, 6, 40])
def test_float_percentiles_of_few_pixels_interpolate_between_ranks_as_numpy(n):
    """rasterio's float_nan.tif: 5 valid pixels, p1 -1.8773 where numpy says -1.8140 (p99 1.2344 for 1.4028):
    the two ranks around the percentile lay in different bins, and only the lower one's bin was used."""
    from dataprep.pixel_stats import image_partial, image_summary

    values = np.random.default_rng(n).uniform(-2.0, 1.5, (1, n, 1)).astype(np.float32)
    summary = image_summary(image_partial(values))
    for key, q in (("p1", 1), ("p99", 99)):
        expected = np.percentile(values.astype(np.float64), q)
        assert summary[key][0] == pytest.approx(expected, rel=2**-7, abs=2**-7 * float(np.abs(values).max()))

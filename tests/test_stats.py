"""`dataprep stats`: moments against a float64 reference, exact percentiles, class counts and weights."""
from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import tifffile

from dataprep import io, stats
from dataprep.errors import DataprepError, UsageError
from dataprep.executor import ProcessExecutor, SerialExecutor
from dataprep.manifest import Manifest, ManifestRow, write_manifest
from dataprep.stats import (
    Partial,
    collect_stats,
    compute_stats,
    hist_moments,
    hist_percentile,
    image_partial,
    image_summary,
    label_partial,
    load_stats,
    merge_partials,
    write_stats,
)


def _reference(images: list[np.ndarray]) -> dict[str, np.ndarray]:
    """All pixels in memory as float64, per channel: what the streaming pass must reproduce."""
    c = images[0].shape[2] if images[0].ndim == 3 else 1
    pixels = np.concatenate([a.reshape(-1, c) for a in images]).astype(np.float64)
    return {
        "mean": pixels.mean(axis=0), "std": pixels.std(axis=0), "min": pixels.min(axis=0), "max": pixels.max(axis=0),
        "p1": np.percentile(pixels, 1, axis=0), "p99": np.percentile(pixels, 99, axis=0),
    }


def _check_against_reference(summary: dict, images: list[np.ndarray]) -> None:
    ref = _reference(images)
    np.testing.assert_allclose(summary["mean"], ref["mean"], rtol=1e-9, atol=0)
    np.testing.assert_allclose(summary["std"], ref["std"], rtol=1e-9, atol=0)
    np.testing.assert_array_equal(summary["min"], ref["min"])
    np.testing.assert_array_equal(summary["max"], ref["max"])
    np.testing.assert_allclose(summary["p1"], ref["p1"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(summary["p99"], ref["p99"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(summary["mean_01"], ref["mean"] / summary["max_value"], rtol=1e-9)
    np.testing.assert_allclose(summary["std_01"], ref["std"] / summary["max_value"], rtol=1e-9)


def _random_images(rng, n, channels, dtype, high, smooth=False):
    out = []
    for _ in range(n):
        h, w = int(rng.integers(3, 40)), int(rng.integers(3, 40))
        if smooth:  # narrow value range, as in real 12-bit data stored as 16-bit
            base = int(rng.integers(0, high // 2))
            out.append((base + rng.integers(0, high // 8, (h, w, channels))).astype(dtype))
        else:
            out.append(rng.integers(0, high, (h, w, channels), dtype=dtype))
    return out


@pytest.mark.parametrize(
    "channels,dtype,high,smooth",
    [(3, np.uint8, 256, False), (1, np.uint8, 256, False), (1, np.uint16, 65536, False),
     (3, np.uint16, 4096, True), (5, np.uint16, 65536, False)],
    ids=["rgb8", "gray8", "gray16", "rgb12in16", "5band16"],
)
def test_image_moments_and_percentiles_match_float64_reference(channels, dtype, high, smooth):
    rng = np.random.default_rng(channels * 1000 + high)
    images = _random_images(rng, 9, channels, dtype, high, smooth)
    merged = merge_partials(Partial(1, image_partial(a)) for a in images)
    summary = image_summary(merged.image)
    assert summary["channels"] == channels
    assert summary["dtype"] == np.dtype(dtype).name
    assert summary["pixels"] == sum(a.shape[0] * a.shape[1] for a in images)
    _check_against_reference(summary, images)


def test_merge_order_and_grouping_do_not_change_a_bit():
    rng = np.random.default_rng(2)
    parts = [Partial(1, image_partial(a), label_partial(rng.integers(0, 5, a.shape[:2]).astype(np.uint8)))
             for a in _random_images(rng, 12, 3, np.uint16, 65536)]
    flat = merge_partials(parts)
    shuffled = [parts[i] for i in rng.permutation(len(parts))]
    nested = merge_partials([merge_partials(shuffled[:5]), merge_partials(shuffled[5:9]), merge_partials(shuffled[9:])])
    for a, b in ((flat, nested),):
        assert image_summary(a.image) == image_summary(b.image)
        assert stats.class_summary(a.labels) == stats.class_summary(b.labels)
        assert a.num_images == b.num_images == 12


def test_grayscale_images_among_colour_ones_count_as_rgb_in_any_order():
    rng = np.random.default_rng(7)
    images = _random_images(rng, 6, 3, np.uint8, 256) + _random_images(rng, 3, 1, np.uint8, 256)
    as_loaded = [np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a for a in images]  # what the Dataset feeds
    parts = [Partial(1, image_partial(a)) for a in images]
    gray_first = merge_partials(parts[6:] + parts[:6])
    nested = merge_partials([merge_partials(parts[7:]), merge_partials(parts[:7])])
    summary = image_summary(merge_partials(parts).image)
    assert summary["channels"] == 3
    assert image_summary(gray_first.image) == image_summary(nested.image) == summary
    _check_against_reference(summary, as_loaded)
    with pytest.raises(DataprepError, match="has 5 channel"):
        merge_partials(parts + [Partial(1, image_partial(_random_images(rng, 1, 5, np.uint8, 256)[0], "five.tif"))])


def test_large_offset_values_keep_precision():
    # Catastrophic cancellation would show here: huge mean, tiny spread.
    rng = np.random.default_rng(3)
    images = [(60000 + rng.integers(0, 3, (50, 40, 1))).astype(np.uint16) for _ in range(20)]
    summary = image_summary(merge_partials(Partial(1, image_partial(a)) for a in images).image)
    _check_against_reference(summary, images)


@pytest.mark.parametrize("scale", [10**3, 10**12], ids=["int64-sums", "python-int-sums"])
def test_hist_moments_are_exact_for_counts_of_any_size(scale):
    # 10**12 pixels per bin overflow int64 sums of squares; the result must not change character.
    rng = np.random.default_rng(6)
    hist = rng.integers(0, scale, 65536).astype(np.int64)
    values = range(100, 100 + hist.size)
    n = sum(hist.tolist())
    s = sum(c * v for c, v in zip(hist.tolist(), values))
    q = sum(c * v * v for c, v in zip(hist.tolist(), values))
    mean, std = hist_moments(hist, offset=100)
    assert mean == float(Fraction(s, n))  # correctly rounded
    assert std == pytest.approx(math.sqrt((q - s * s / n) / n), rel=1e-12)


def test_hist_percentile_equals_numpy_for_many_quantiles():
    rng = np.random.default_rng(5)
    values = rng.integers(10, 30, 101)
    hist = np.bincount(values)[None, :]
    for q in (0, 1, 12.5, 50, 73.3, 99, 100):
        assert hist_percentile(hist, q)[0] == pytest.approx(np.percentile(values, q), rel=1e-12, abs=1e-12)


def test_unsupported_image_dtype_is_an_error():
    with pytest.raises(DataprepError, match="int32 images are not supported"):
        image_partial(np.zeros((4, 4, 1), np.int32), "x.tif")


# --------------------------------------------------------------------------- through files


def _manifest(tmp_path: Path, images: list[np.ndarray], masks: list[np.ndarray | None], ext=".png") -> Path:
    rows = []
    for i, (image, mask) in enumerate(zip(images, masks)):
        ipath = tmp_path / "images" / f"s{i:02d}{ext}"
        io.write_image(ipath, image)
        mpath = None
        if mask is not None:
            mpath = tmp_path / "labels" / f"s{i:02d}.png"
            io.write_mask(mpath, mask)
        rows.append(ManifestRow(f"s{i:02d}", ipath, mpath, image.shape[1], image.shape[0]))
    return write_manifest(rows, tmp_path / "manifest.csv")


def test_compute_stats_on_files_matches_reference_rgb_and_16bit(tmp_path):
    rng = np.random.default_rng(6)
    rgb = _random_images(rng, 6, 3, np.uint8, 256)
    path = _manifest(tmp_path / "rgb", rgb, [None] * len(rgb))
    result = compute_stats(path, quiet=True)
    assert result["version"] == 1 and result["num_images"] == 6 and result["classes"] is None
    decoded = [io.read_image(tmp_path / "rgb/images" / f"s{i:02d}.png") for i in range(6)]
    _check_against_reference(result["image"], decoded)

    gray16 = _random_images(rng, 5, 1, np.uint16, 65536)
    path = _manifest(tmp_path / "g16", [a[:, :, 0] for a in gray16], [None] * 5)
    result = compute_stats(path, quiet=True)
    assert result["image"]["dtype"] == "uint16" and result["image"]["max_value"] == 65535
    assert result["image"]["channels"] == 1
    _check_against_reference(result["image"], gray16)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".rgba.png"])
def test_channels_keep_rgb_order_whatever_the_decoder_gives(tmp_path, suffix):
    # Red dark, green middle, blue bright: a channel swap anywhere shows in the means.
    image = np.zeros((16, 24, 3), np.uint8)
    image[...] = (20, 120, 220)
    path = tmp_path / f"a{suffix}"
    if suffix == ".rgba.png":
        io.write_image(path, np.dstack([image, np.full((16, 24), 9, np.uint8)]))
    else:
        io.write_image(path, image)
    manifest = write_manifest([ManifestRow("a", path, None, 24, 16)], tmp_path / "m.csv")
    mean = compute_stats(manifest, quiet=True)["image"]["mean"]
    assert mean == pytest.approx([20, 120, 220], abs=2)


def _labelled_set(tmp_path: Path, n: int = 12, seed: int = 7) -> tuple[Path, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    images, masks = [], []
    for i in range(n):
        h, w = int(rng.integers(8, 30)), int(rng.integers(8, 30))
        images.append(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        mask = rng.integers(0, 4, (h, w)).astype(np.uint8)
        mask[rng.random((h, w)) < 0.1] = 255
        if i % 3 == 0:
            mask[mask == 3] = 0  # class 3 absent from some images
        masks.append(mask)
    return _manifest(tmp_path, images, masks), masks


def test_serial_and_parallel_results_are_bit_identical(tmp_path, monkeypatch):
    path, _ = _labelled_set(tmp_path, n=14)
    serial = compute_stats(path, executor=SerialExecutor(), quiet=True)
    # Small blocks: the streaming merge must give the same bits as one merge over everything.
    monkeypatch.setattr(stats, "_BLOCK", 4)
    with ProcessExecutor(2) as pool:
        parallel = compute_stats(path, executor=pool, quiet=True)
    assert json.dumps(serial) == json.dumps(parallel)


def test_class_counts_presence_and_ignore(tmp_path):
    path, masks = _labelled_set(tmp_path)
    result = compute_stats(path, quiet=True)["classes"]
    every = np.concatenate([m.ravel() for m in masks])
    expected = np.bincount(every[every != 255], minlength=4)
    assert result["num_classes"] == 4 and result["ignore_index"] == 255 and result["names"] is None
    assert result["pixel_count"] == expected.tolist()
    assert result["ignored_pixels"] == int((every == 255).sum())
    assert result["image_count"] == [sum(int((m == c).any()) for m in masks) for c in range(4)]
    np.testing.assert_allclose(result["frequency"], expected / expected.sum(), rtol=1e-15)


def test_class_weights_hand_checked():
    a = np.array([[0, 0, 1], [1, 255, 0]], np.uint8)  # class 0: 3, class 1: 2, one ignored; 5 labelled
    b = np.array([[0, 2, 2], [2, 2, 2]], np.uint8)  # class 0: 1, class 2: 5; 6 labelled
    merged = merge_partials([Partial(1, labels=label_partial(a)), Partial(1, labels=label_partial(b))])
    out = stats.class_summary(merged.labels, num_classes=4, ignore_index=255, names=["a", "b", "c", "d"])
    assert out["pixel_count"] == [4, 2, 5, 0]
    assert out["image_count"] == [2, 1, 1, 0]
    assert out["ignored_pixels"] == 1
    w = out["weights"]
    # inverse frequency: 1/f = 11/4, 11/2, 11/5, scaled to mean 1 over present classes -> 15/19, 30/19, 12/19
    assert w["inverse_frequency"] == pytest.approx([15 / 19, 30 / 19, 12 / 19, 0.0], rel=1e-12)
    # median frequency: freq = 4/11 (both images, 11 px), 2/5 (image a, 5 px), 5/6 (image b, 6 px); median 2/5
    assert w["median_frequency"] == pytest.approx([(2 / 5) / (4 / 11), 1.0, (2 / 5) / (5 / 6), 0.0], rel=1e-12)
    assert w["enet"] == pytest.approx([1 / math.log(1.02 + 4 / 11), 1 / math.log(1.02 + 2 / 11),
                                       1 / math.log(1.02 + 5 / 11), 0.0], rel=1e-12)


def test_negative_ignore_in_npy_label_maps():
    mask = np.array([[-1, 0, 1], [1, 1, -1]], np.int64)
    part = label_partial(mask, ignore_index=-1)
    assert part.pixels.tolist() == [1, 3] and part.ignored == 2
    with pytest.raises(DataprepError, match=r"negative label value\(s\) \[-1\] \(ignore index is 255\): pass "
                                            r"--ignore-index -1 if it means ignore, or make it the ignore index first "
                                            r"\(masks2labels --remap=-1:255\)"):
        label_partial(mask, ignore_index=255, source="m.npy")


def test_float_label_maps_give_the_class_counts_of_their_integers(tmp_path):
    """float32 TIFF and .npy label maps of whole numbers (-1 as ignore in one) failed: "label map must be a 2-D
    integer array, got float32"."""
    rng = np.random.default_rng(12)
    classes = [rng.integers(-1, 12, (10, 12)) for _ in range(3)]
    rows = []
    for i, (labels, ext) in enumerate(zip(classes, (".tif", ".npy", ".npy"))):
        image, mask = tmp_path / f"i{i}.png", tmp_path / f"m{i}{ext}"
        io.write_image(image, rng.integers(0, 256, (10, 12, 3), dtype=np.uint8))
        if ext == ".tif":
            tifffile.imwrite(mask, labels.astype(np.float32))
        else:
            np.save(mask, labels.astype(np.float64 if i == 1 else np.float32))
        rows.append(ManifestRow(f"s{i}", image, mask, 12, 10))
    path = write_manifest(rows, tmp_path / "manifest.csv")
    result = compute_stats(path, ignore_index=-1, quiet=True)["classes"]
    flat = np.concatenate([c.ravel() for c in classes])
    assert result["pixel_count"] == np.bincount(flat[flat >= 0], minlength=12).tolist()
    assert result["ignored_pixels"] == int((flat == -1).sum())


def test_no_ignore_index_counts_255_as_a_class(tmp_path):
    # Binary masks {0, 255} where 255 is a real class (ISBI membrane style).
    rng = np.random.default_rng(8)
    masks = [np.where(rng.random((10, 12)) < 0.3, 0, 255).astype(np.uint8) for _ in range(3)]
    path = _manifest(tmp_path, [rng.integers(0, 256, (10, 12, 1), dtype=np.uint8)[:, :, 0] for _ in range(3)], masks)
    result = compute_stats(path, ignore_index=None, quiet=True)
    classes = result["classes"]
    assert classes["ignore_index"] is None and classes["ignored_pixels"] == 0
    assert classes["num_classes"] == 256
    assert classes["pixel_count"][255] == sum(int((m == 255).sum()) for m in masks)
    assert classes["pixel_count"][0] == sum(int((m == 0).sum()) for m in masks)
    assert result["image"]["channels"] == 1


def test_palette_beside_manifest_gives_names_and_num_classes(tmp_path):
    path, _ = _labelled_set(tmp_path)
    palette = {"name": "t", "ignore_index": 255, "classes": [
        {"name": n, "color": [i * 40, 0, 0], "index": i} for i, n in enumerate(["a", "b", "c", "d", "e"])]
        + [{"name": "void", "color": [255, 255, 255], "index": 255, "ignore": True}]}
    (tmp_path / "palette.json").write_text(json.dumps(palette))
    classes = compute_stats(path, quiet=True)["classes"]
    assert classes["num_classes"] == 5 and classes["names"] == ["a", "b", "c", "d", "e"]
    assert classes["pixel_count"][4] == 0 and classes["weights"]["enet"][4] == 0.0


@pytest.mark.parametrize("remap", ["reduce-zero", "ids"])
def test_a_palette_of_unconverted_masks_is_refused_by_stats_and_kfold(tmp_path, remap):
    """LoveDA's masks store class + 1 with 0 no-data; with its palette (remap reduce-zero) stats counted the
    stored values as indices: every class one off in stats.json and kfold's class balance, exit 0."""
    from dataprep.splits import split_folds

    path, _ = _labelled_set(tmp_path)
    palette = {"name": "t", "ignore_index": 255, "remap": remap, "classes": [
        {"name": n, "color": [i * 40, 0, 0], "index": i, "id": i + 1} for i, n in enumerate("abcde")]}
    (tmp_path / "raw.json").write_text(json.dumps(palette))
    reason = rf"raw.json: a palette of masks that store .*\"remap\": \"{remap}\"\), not class indices: convert them"
    with pytest.raises(DataprepError, match=reason):
        compute_stats(path, palette=tmp_path / "raw.json", quiet=True)
    with pytest.raises(DataprepError, match=reason):
        split_folds(path, 2, palette=tmp_path / "raw.json", quiet=True)
    from dataprep import SegmentationDataset

    (tmp_path / "palette.json").write_text(json.dumps(palette))  # beside the manifest, where the Dataset looks
    with pytest.raises(DataprepError, match=reason.replace("raw.json", "palette.json")):
        SegmentationDataset(path)


def test_label_values_past_the_default_ignore_index_are_warned(tmp_path):
    """16-bit label maps of 299 classes: class 255's pixels were left out as the default ignore, exit 0."""
    labels = np.arange(300, dtype=np.uint16).reshape(15, 20) % 299
    image = np.zeros((15, 20, 3), np.uint8)
    path = _manifest(tmp_path, [image], [labels])
    (warning,) = collect_stats(path, quiet=True).warnings
    assert warning.startswith("label values run past the ignore index 255 (up to 298), so 255 is most likely a class")
    counted = collect_stats(path, ignore_index=None, quiet=True)
    assert not counted.warnings and counted.stats["classes"]["pixel_count"][255] == 1
    small = _manifest(tmp_path / "small", [image], [np.where(labels > 254, 255, labels % 7).astype(np.uint16)])
    assert not collect_stats(small, quiet=True).warnings  # 255 beside classes below it: ignore, as ever
    voids = np.where(labels > 254, 255, labels % 20).astype(np.uint16)
    voids[0, 0] = 65535  # two void values, 255 and 65535: no class past 255
    warned = collect_stats(_manifest(tmp_path / "voids", [image], [voids]), quiet=True).warnings
    assert not [w for w in warned if w.startswith("label values run past")]


def test_class_options_resolve_as_the_dataset_does(tmp_path):
    """stats and kfold take classes and ignore index from the resolver the Dataset and the trainer use."""
    from dataprep.contracts import resolve_dataset_info
    from dataprep.manifest import read_manifest
    from dataprep.palette import resolve_palette
    from dataprep.stats import resolve_classes

    path, _ = _labelled_set(tmp_path, n=2)
    palette = {"name": "t", "ignore_index": 9, "classes": [
        {"name": n, "color": [i * 40, 0, 0], "index": i} for i, n in enumerate(["a", "b", "c"])]}
    (tmp_path / "palette.json").write_text(json.dumps(palette))
    manifest = read_manifest(path)
    info = resolve_dataset_info(palette=resolve_palette(None, manifest.path))
    got = resolve_classes(manifest)
    assert (got.num_classes, got.ignore_index, got.names) == (info.num_classes, info.ignore_index, ["a", "b", "c"])
    assert (got.num_classes, got.ignore_index) == (3, 9)
    got = resolve_classes(manifest, num_classes=5, ignore_index=4)  # explicit options win
    assert (got.num_classes, got.ignore_index, got.names) == (5, 4, ["a", "b", "c", "class_3", "class_4"])
    assert resolve_classes(manifest, ignore_index=None).ignore_index is None  # no ignore index at all
    (tmp_path / "palette.json").unlink()
    assert resolve_classes(manifest) == type(got)(None, None, 255)
    with pytest.raises(UsageError, match="num_classes must be at least 1, not 0"):
        resolve_classes(manifest, num_classes=0)


def test_colour_mask_and_out_of_range_labels_name_the_file(tmp_path):
    rng = np.random.default_rng(9)
    image = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    path = _manifest(tmp_path / "colour", [image], [image.copy()])
    with pytest.raises(DataprepError, match=r"s00\.png: colour mask; run `dataprep masks2labels` first"):
        compute_stats(path, on_error="fail", quiet=True)
    path = _manifest(tmp_path / "range", [image], [np.full((6, 8), 7, np.uint8)])
    with pytest.raises(DataprepError, match=r"s00\.png: label value\(s\) \[7\] outside the classes 0\.\.4"):
        compute_stats(path, num_classes=5, on_error="fail", quiet=True)


def test_skipped_rows_are_reported_and_left_out(tmp_path):
    path, masks = _labelled_set(tmp_path, n=5)
    (tmp_path / "images" / "s02.png").write_bytes(b"not an image")
    result = collect_stats(path, quiet=True)
    assert len(result.errors) == 1 and "s02.png" in result.errors[0]
    assert result.stats["num_images"] == 4
    assert result.stats["classes"]["num_images"] == 4


def test_bad_ignore_index_option_is_a_usage_error(tmp_path):
    path, _ = _labelled_set(tmp_path, n=2)
    with pytest.raises(UsageError, match="ignore_index must be an integer.*'eleven'"):
        compute_stats(path, ignore_index="eleven", quiet=True)  # type: ignore[arg-type]


def test_cli_writes_stats_json_and_prints_tables(tmp_path, cli):
    path, _ = _labelled_set(tmp_path, n=4)
    out = tmp_path / "out" / "stats.json"
    result = cli("stats", path, "-o", out, "-j", "1", "-q")
    assert result.exit_code == 0, result.output
    data = load_stats(out).to_json()
    assert data == json.loads(json.dumps(compute_stats(path, quiet=True)))
    assert set(data["image"]) >= {"channels", "dtype", "max_value", "pixels", "mean", "std", "mean_01", "std_01",
                                  "min", "max", "p1", "p99"}
    assert set(data["classes"]["weights"]) == {"inverse_frequency", "median_frequency", "enet"}
    assert "channel" in result.output and "w_median" in result.output

    result = cli("stats", path, "-o", tmp_path / "s2.json", "--ignore-index", "none", "--num-classes", "256", "-q",
                 "-j", "1")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s2.json").read_text())["classes"]["ignore_index"] is None

    (tmp_path / "images" / "s01.png").write_bytes(b"junk")
    result = cli("stats", path, "-o", tmp_path / "s3.json", "-q")
    assert result.exit_code == 1
    assert "s01.png" in result.output and (tmp_path / "s3.json").exists()


def test_write_stats_is_atomic_and_loadable(tmp_path):
    data = {"version": 1, "num_images": 0, "image": {"mean": [1.0], "std": [2.0]}, "classes": None}
    path = write_stats(data, tmp_path / "a" / "stats.json")
    assert load_stats(path).to_json() == data
    assert load_stats(path).image.mean == (1.0,) and load_stats(path).image.channels == 1
    (tmp_path / "bad.json").write_text('{"version": 9}')
    with pytest.raises(DataprepError, match="bad.json"):
        load_stats(tmp_path / "bad.json")
    # A missing key is one line naming the file and the key.
    (tmp_path / "short.json").write_text('{"version": 1, "image": {"mean": [1.0]}}')
    with pytest.raises(DataprepError, match=r"short.json.*missing key image.'std'") as err:
        load_stats(tmp_path / "short.json")
    assert "\n" not in str(err.value)
    (tmp_path / "noclass.json").write_text(json.dumps({**data, "classes": {"ignore_index": 255}}))
    with pytest.raises(DataprepError, match=r"noclass.json.*classes.'num_classes'"):
        load_stats(tmp_path / "noclass.json")


# --------------------------------------------------------------------------- real data


@pytest.mark.integration
def test_camvid_stats_match_direct_counts(shared_data):
    root = shared_data("camvid_segnet/CamVid")
    names = sorted(p.name for p in (root / "train").glob("*.png"))[:20]
    rows = [ManifestRow(Path(n).stem, root / "train" / n, root / "trainannot" / n, 480, 360) for n in names]
    result = compute_stats(Manifest(rows), num_classes=11, ignore_index=11, quiet=True)
    masks = [io.read_mask(root / "trainannot" / n) for n in names]
    every = np.concatenate([m.ravel() for m in masks])
    assert result["classes"]["pixel_count"] == np.bincount(every[every != 11], minlength=11).tolist()
    assert result["classes"]["ignored_pixels"] == int((every == 11).sum())
    _check_against_reference(result["image"], [io.read_image(root / "train" / n) for n in names])


@pytest.mark.integration
def test_isbi_membrane_grayscale_with_no_ignore(shared_data, tmp_path, cli):
    root = shared_data("isbi2012_membrane/data/membrane/train")
    names = sorted(p.name for p in (root / "image").glob("*.png"))[:8]
    rows = [ManifestRow(Path(n).stem, root / "image" / n, root / "label" / n, 512, 512) for n in names]
    path = write_manifest(rows, tmp_path / "membrane.csv")
    result = cli("stats", path, "--ignore-index", "none", "-o", tmp_path / "stats.json", "-q")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "stats.json").read_text())
    assert data["image"]["channels"] == 1
    labels = np.concatenate([io.read_mask(root / "label" / n).ravel() for n in names])
    assert data["classes"]["pixel_count"][0] == int((labels == 0).sum())
    assert data["classes"]["pixel_count"][255] == int((labels == 255).sum())
    _check_against_reference(data["image"], [io.read_image(root / "image" / n) for n in names])


def test_one_class_label_maps_warn(tmp_path, cli):
    """Real case: 0/255 nuclei masks converted with `-p voc` hold background plus ignore only; stats
    printed class weights for them with no hint. Fewer than two classes present is a warning."""
    image = np.zeros((8, 8, 3), np.uint8)
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 2:5] = 255
    manifest = _manifest(tmp_path, [image, image], [mask, mask])
    result = collect_stats(manifest)
    assert len(result.warnings) == 1 and "only one class (class_0)" in result.warnings[0]
    res = cli("stats", manifest, "-o", tmp_path / "stats.json", "-q")
    assert res.exit_code == 0 and "warning: only one class" in res.output
    mask2 = mask.copy()
    mask2[0] = 1
    assert collect_stats(_manifest(tmp_path / "two", [image], [mask2])).warnings == []


def test_split_measures_only_those_rows_and_a_mix_warns(tmp_path, cli):
    """Mean/std of a manifest of train, val and test rows took the dataset's test images in; --split train
    measures the train rows alone."""
    from dataprep.manifest import read_manifest

    rng = np.random.default_rng(3)
    images = _random_images(rng, 6, 3, np.uint8, 255)
    masks = [rng.integers(0, 3, im.shape[:2]).astype(np.uint8) for im in images]
    names = ["train", "train", "train", "val", "test", "test"]
    rows = [r.with_extra(split=s) for r, s in zip(read_manifest(_manifest(tmp_path, images, masks)), names)]
    manifest = write_manifest(rows, tmp_path / "manifest.csv", columns=["split"])
    mixed = collect_stats(manifest)
    assert mixed.warnings[0].startswith("the manifest holds several splits (test 2, train 3, val 1) and stats mixes")
    assert "--split train,val takes only those rows" in mixed.warnings[0]
    train = collect_stats(manifest, splits=["train"])
    assert not any("several splits" in w for w in train.warnings) and train.stats["num_images"] == 3
    _check_against_reference(train.stats["image"], images[:3])
    res = cli("stats", manifest, "--split", "train,val", "-o", tmp_path / "s.json", "-q")
    assert res.exit_code == 0 and json.loads((tmp_path / "s.json").read_text())["num_images"] == 4
    with pytest.raises(UsageError, match="no rows of split 'dev'"):
        collect_stats(manifest, splits=["dev"])


def test_a_split_written_several_ways_is_refused_and_blank_rows_are_named(tmp_path, cli):
    """A column of Train/train, TEST/'test ' and blanks: --split train measured the 5 'train' rows of 10 training
    rows, and the several-splits warning listed Train and train as two splits and never named the blank rows."""
    from dataprep.manifest import read_manifest
    from dataprep.split_column import select_splits

    rng = np.random.default_rng(4)
    names = ["Train"] * 2 + ["train"] * 3 + ["TEST", "test ", "val", "", ""]
    images = _random_images(rng, len(names), 3, np.uint8, 255)
    masks = [rng.integers(0, 3, im.shape[:2]).astype(np.uint8) for im in images]
    rows = [r.with_extra(split=s) for r, s in zip(read_manifest(_manifest(tmp_path, images, masks)), names)]
    manifest = write_manifest(rows, tmp_path / "manifest.csv", columns=["split"])
    with pytest.raises(UsageError, match=r"split 'train' \(3 rows\) is also written 'Train' \(2 rows\): make the "
                                         r"column's values one spelling$"):
        collect_stats(manifest, splits=["train"])
    with pytest.raises(UsageError, match=r"no rows of split 'test', but it is written 'TEST' \(1 row\), 'test ' "
                                         r"\(1 row\): make the column's values one spelling$"):
        select_splits(read_manifest(manifest), ["val", "test"])
    with pytest.raises(UsageError, match=r"no rows of split 'VAL', but it is written 'val' \(1 row\): pass that "
                                         "spelling"):
        select_splits(read_manifest(manifest), ["VAL"])
    assert [r.extra["split"] for r in select_splits(read_manifest(manifest), ["val"]).rows] == ["val"]
    # Another name of one split (two exports joined): `--split val` took half of the validation rows.
    joined = write_manifest([r.with_extra(split="validation") if r.extra["split"] == "Train" else r for r in rows],
                            tmp_path / "joined.csv", columns=["split"])
    with pytest.raises(UsageError, match=r"split 'val' \(1 row\) is also written 'validation' \(2 rows\)"):
        select_splits(read_manifest(joined), ["val"])
    res = cli("stats", manifest, "--split", "train", "-o", tmp_path / "s.json", "-q")
    assert res.exit_code == 2 and not (tmp_path / "s.json").exists()
    assert res.output.strip().splitlines() == [f"error: {manifest}: split 'train' (3 rows) is also written 'Train' "
                                               "(2 rows): make the column's values one spelling"]
    warning = collect_stats(manifest).warnings[0]
    assert warning.startswith("the manifest holds several splits (TEST 1, Train 2, 'test ' 1, train 3, val 1) and "
                              "stats mixes them: the 'TEST' rows, the dataset's held-out test set, ")
    assert warning.endswith("some splits are written several ways ('TEST' 1 / 'test ' 1, 'Train' 2 / 'train' 3): "
                            "make the column's values one spelling, then --split can take the rows of some; "
                            "2 rows with an empty split cell (no --split selects them)")


def test_segnet_camvid_values_warn_that_11_may_be_void(tmp_path, cli):
    """Raw SegNet CamVid label maps (0..11, void 11 in every frame) counted void as a twelfth class with its own
    weight, without a word; --ignore-index 11 --num-classes 11 is what its users meant."""
    rng = np.random.default_rng(5)
    image = np.zeros((24, 24, 3), np.uint8)
    maps = [rng.integers(0, 12, (24, 24)).astype(np.uint8) for _ in range(3)]
    manifest = _manifest(tmp_path / "cv", [image] * 3, maps)
    res = cli("stats", manifest, "-o", tmp_path / "a.json", "-q")
    assert res.exit_code == 0 and "warning: values 0..11, with 11 in every label map and no palette" in res.output
    chosen = cli("stats", manifest, "--ignore-index", "11", "--num-classes", "11", "-o", tmp_path / "b.json", "-q")
    assert "warning" not in chosen.output
    assert json.loads((tmp_path / "b.json").read_text())["classes"]["ignored_pixels"] == sum(
        int((m == 11).sum()) for m in maps)
    maps[1][maps[1] == 11] = 10  # a frame without 11: a class like the others
    manifest = _manifest(tmp_path / "other", [image] * 3, maps)
    assert "warning" not in cli("stats", manifest, "-o", tmp_path / "c.json", "-q").output


def test_the_table_shows_a_small_spread_instead_of_zero():
    """float32 data near 1000 with a 0.01 spread printed std 0.00 (its stats.json held 0.0027)."""
    from dataprep.cli.stats import _f

    assert _f(0.0027) == "0.0027" and _f(-0.0004) == "-0.0004" and _f(0.0) == "0.00"
    assert _f(118.2349) == "118.23" and _f(0.005) == "0.01" and _f(0.00004, 4) == "4e-05"


def test_masks_that_look_unconverted_warn_without_a_palette(tmp_path, cli):
    """Raw Oxford-IIIT Pet trimaps (1, 2, 3) gave a class 0 of no pixel and weighted the border band as the
    rarest class; grey JPEG masks gave 255 classes, 244 empty, noise weighted 60x; both without a word."""
    rng = np.random.default_rng(21)
    image = np.zeros((32, 32, 3), np.uint8)
    trimap = rng.integers(1, 4, (32, 32)).astype(np.uint8)
    manifest = _manifest(tmp_path / "pet", [image, image], [trimap, trimap])
    res = cli("stats", manifest, "-o", tmp_path / "pet.json", "-q")
    assert res.exit_code == 0 and "warning: no label map holds class 0 (values start at 1)" in res.output
    noisy = np.where(rng.random((32, 32)) < 0.5, 0, 255).astype(np.uint8)
    noisy[0, :20] = np.arange(1, 21)  # a few pixels of many values, as JPEG compression leaves them
    noisy[1, :20] = np.arange(230, 250)
    manifest = _manifest(tmp_path / "jpeg", [image], [noisy])
    res = cli("stats", manifest, "-o", tmp_path / "jpeg.json", "-q")
    assert "warning: 209 of 250 classes hold no pixel or under 0.01% of the pixels" in res.output  # 41 present
    clean = rng.integers(0, 3, (32, 32)).astype(np.uint8)
    manifest = _manifest(tmp_path / "clean", [image], [clean])
    assert "warning" not in cli("stats", manifest, "-o", tmp_path / "clean.json", "-q").output
    few = np.where(rng.random((32, 32)) < 0.5, 0, rng.choice([4, 9, 15, 18], (32, 32))).astype(np.uint8)
    manifest = _manifest(tmp_path / "voc", [image], [few])  # 3 VOC maps: 19 classes, most absent, all valid
    assert "warning" not in cli("stats", manifest, "-o", tmp_path / "voc.json", "-q").output


def test_one_image_under_two_ids_is_warned_as_counted_twice(tmp_path):
    """Two overlapping manifests joined: the repeated photo weighed twice in mean/std and class weights, no word."""
    rows = []
    for i in range(3):
        io.write_image(tmp_path / f"{i}.png", np.full((4, 6, 3), 40 * i, np.uint8))
        io.write_mask(tmp_path / f"{i}_m.png", np.full((4, 6), i, np.uint8))
        rows.append(ManifestRow(f"s{i}", tmp_path / f"{i}.png", tmp_path / f"{i}_m.png", 6, 4))
    plain = stats.collect_stats(Manifest(rows, tmp_path / "m.csv"), quiet=True)
    assert not any("several rows" in w for w in plain.warnings)
    again = rows + [ManifestRow("again", rows[0].image, rows[0].mask, 6, 4)]
    twice = stats.collect_stats(Manifest(again, tmp_path / "m.csv"), quiet=True)
    assert twice.stats["classes"]["pixel_count"][0] == 2 * 24  # counted per row, as the warning says
    assert [w for w in twice.warnings if "1 image file(s) are named by several rows" in w and "'s0', 'again'" in w
            and "count once per row" in w]


def test_sixteen_bit_images_of_eight_bit_values_are_warned(tmp_path):
    """DSB2018's nuclei: uint16 files holding 0..235; mean_01 (and a Dataset without stats) put them near 0."""
    from dataprep import SegmentationDataset

    rows = []
    for i, top in enumerate((235, 200)):
        image = np.linspace(0, top, 24, dtype=np.float64).reshape(4, 6).round().astype(np.uint16)
        tifffile.imwrite(tmp_path / f"{i}.tif", image)
        io.write_mask(tmp_path / f"{i}_m.png", np.arange(24, dtype=np.uint8).reshape(4, 6) % 2)
        rows.append(ManifestRow(f"s{i}", tmp_path / f"{i}.tif", tmp_path / f"{i}_m.png", 6, 4))
    manifest = write_manifest(rows, tmp_path / "m.csv")
    result = stats.collect_stats(manifest, quiet=True)
    assert [w for w in result.warnings if "are 16-bit but hold 8-bit values (at most 235)" in w]
    with pytest.warns(UserWarning, match=r"the images \(the first: .*0\.tif\) are 16-bit but hold 8-bit values"):
        SegmentationDataset(manifest)
    tifffile.imwrite(tmp_path / "1.tif", np.full((4, 6), 4000, np.uint16))
    assert not [w for w in stats.collect_stats(manifest, quiet=True).warnings if "8-bit values" in w]


def test_an_ignore_index_among_the_classes_is_warned(tmp_path):
    """--ignore-index 11 --num-classes 12 on CamVid: class 11 got no pixel and no weight, and a model of 12
    classes was trained on it without a word."""
    rows = []
    for i in range(2):
        io.write_image(tmp_path / f"{i}.png", np.full((4, 6, 3), 40 * i, np.uint8))
        io.write_mask(tmp_path / f"{i}_m.png", (np.arange(24, dtype=np.uint8).reshape(4, 6) % 3))
        rows.append(ManifestRow(f"s{i}", tmp_path / f"{i}.png", tmp_path / f"{i}_m.png", 6, 4))
    manifest = Manifest(rows, tmp_path / "m.csv")
    among = stats.collect_stats(manifest, num_classes=3, ignore_index=2, quiet=True)
    assert [w for w in among.warnings if "the ignore index 2 is one of the 3 classes (0..2)" in w
            and "--num-classes 2" in w]
    assert not [w for w in stats.collect_stats(manifest, num_classes=2, ignore_index=2, quiet=True).warnings
                if "is one of the" in w]

"""The DALI engine (on DALI's CPU backend here; the GPU backend runs the same graph)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("nvidia.dali")

from helpers import (  # noqa: E402  (shared helpers; pytest puts tests/ on sys.path)
    GEOMETRIC_STEPS,
    PIPELINES,
    SAMPLE,
    geometric_recipe,
    make_coordinate_dataset,
    make_label_dataset,
    make_mixed_channel_dataset,
    sync_errors,
    sync_tolerance,
)

from dataprep import make_loader  # noqa: E402
from dataprep.errors import DataprepError  # noqa: E402
from dataprep.io import write_image, write_mask  # noqa: E402
from dataprep.manifest import ManifestRow, write_manifest  # noqa: E402

pytestmark = pytest.mark.dali


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    return make_label_dataset(tmp_path_factory.mktemp("labels"), n=6)


@pytest.fixture(scope="module")
def coords(tmp_path_factory):
    return make_coordinate_dataset(tmp_path_factory.mktemp("coords"))


def dali(manifest, recipe=None, stats=None, **kw):
    kw.setdefault("num_workers", 2)
    return make_loader(manifest, recipe, stats, "dali", **kw)


def ids(loader) -> list[str]:
    return [i for batch in loader for i in batch["id"]]


def test_batches_have_the_cpu_engine_format_and_order(labels):
    recipe = PIPELINES / "train_light.yaml"
    cpu = make_loader(labels, recipe, batch_size=4, num_workers=0, seed=1)
    gpu_or_cpu = dali(labels, recipe, batch_size=4, seed=1)
    assert len(gpu_or_cpu) == len(cpu) == 2
    for a, b in zip(cpu, gpu_or_cpu):
        assert set(b) == {"image", "mask", "id"} and isinstance(b["id"], list)
        assert b["id"] == a["id"]
        assert b["image"].dtype == torch.float32 and b["image"].shape == a["image"].shape
        assert b["mask"].dtype == torch.int64 and b["mask"].shape == a["mask"].shape
    assert len(b["id"]) == 2  # the last, partial batch


def test_batches_are_reproducible_and_change_with_the_epoch(labels):
    recipe = PIPELINES / "train_default.yaml"
    a, b = dali(labels, recipe, batch_size=3, seed=5), dali(labels, recipe, batch_size=3, seed=5)
    first = list(a)
    for x, y in zip(first, b):
        assert x["id"] == y["id"] and torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
    a.set_epoch(1)
    second = list(a)
    assert [i for x in second for i in x["id"]] != [i for x in first for i in x["id"]]
    assert sorted(i for x in second for i in x["id"]) == sorted(i for x in first for i in x["id"])


def test_shards_and_drop_last(labels):
    shards = [dali(labels, batch_size=2, num_shards=4, shard_id=k, seed=3) for k in range(4)]
    got = [ids(s) for s in shards]
    assert [len(g) for g in got] == [2, 2, 2, 2]  # 6 rows padded to 8
    assert set().union(*got) == set(ids(dali(labels, batch_size=4, shuffle=False)))
    cpu = [make_loader(labels, batch_size=2, num_workers=0, num_shards=4, shard_id=k, seed=3) for k in range(4)]
    assert got == [ids(s) for s in cpu]  # the very same split as the CPU engine
    dropped = dali(labels, batch_size=4, drop_last=True)
    assert len(dropped) == 1 and [len(b["id"]) for b in dropped] == [4]


@pytest.mark.parametrize("name", sorted(GEOMETRIC_STEPS))
def test_dali_engine_keeps_mask_in_sync_with_image(coords, name):
    loader = dali(coords, geometric_recipe(name), batch_size=1, seed=3)
    checked = 0
    for epoch in range(2):
        loader.set_epoch(epoch)
        for batch in loader:
            # DALI resamples in float: at an exact midpoint between two source pixels its nearest
            # neighbour may take the other one (the module doc's ties); no other pixel may be off.
            image, mask = batch["image"][0], batch["mask"][0].clone()
            mask[midpoint_ties(image)] = 255  # not checked
            bad, n = sync_errors(image, mask, sync_tolerance(name))
            assert bad == 0, f"{name}, {batch['id'][0]}, epoch {epoch}: {bad} of {n} pixels out of sync"
            checked += n
    assert checked > 1000


def midpoint_ties(image: torch.Tensor) -> torch.Tensor:
    """Where a coordinate image (see `sync_errors`) says the source position is within 1/500 pixel of a
    midpoint between two source pixels, in either axis."""
    raw = image.double().numpy() * 255.0
    near = [np.abs(c - np.floor(c) - 0.5) < 2e-3 for c in ((raw[0] - 20) / 2, (raw[1] - 20) / 2)]
    return torch.from_numpy(near[0] | near[1])


def test_grayscale_images_keep_one_channel(tmp_path):
    rows = []
    for i in range(2):
        image = (np.arange(40 * 48).reshape(40, 48) % 251).astype(np.uint8)[:, :, None]
        write_image(tmp_path / f"g{i}.png", image)
        write_mask(tmp_path / f"m{i}.png", (image[:, :, 0] > 100).astype(np.uint8))
        rows.append(ManifestRow(f"g{i}", tmp_path / f"g{i}.png", tmp_path / f"m{i}.png", 48, 40))
    write_manifest(rows, tmp_path / "m.csv")
    recipe = {"size": [32, 32], "steps": [{"op": "random_crop"}, {"op": "hflip"}]}
    a = next(iter(make_loader(tmp_path / "m.csv", recipe, batch_size=2, num_workers=0, seed=2)))
    b = next(iter(dali(tmp_path / "m.csv", recipe, batch_size=2, seed=2)))
    assert b["image"].shape == a["image"].shape == (2, 1, 32, 32)
    assert torch.equal(a["mask"], b["mask"]) and torch.allclose(a["image"], b["image"], atol=1e-6)


def test_grayscale_images_in_a_colour_dataset_match_the_cpu_engine(tmp_path):
    manifest = make_mixed_channel_dataset(tmp_path, "cgcg")
    recipe = {"size": [32, 32], "steps": [{"op": "random_crop"}, {"op": "hflip"}]}
    a = next(iter(make_loader(manifest, recipe, batch_size=4, num_workers=0, seed=3, shuffle=False)))
    b = next(iter(dali(manifest, recipe, batch_size=4, seed=3, shuffle=False)))
    assert b["image"].shape == a["image"].shape == (4, 3, 32, 32)
    assert torch.equal(a["mask"], b["mask"]) and torch.allclose(a["image"], b["image"], atol=1e-6)
    with pytest.raises(DataprepError, match="one Dataset needs one kind"):
        list(dali(make_mixed_channel_dataset(tmp_path / "gray_first", "gc"), batch_size=2, num_workers=0))


def test_colour_masks_are_refused_naming_the_file(tmp_path):
    image = SAMPLE / "images" / "suburb" / "suburb_0001.jpg"
    mask = SAMPLE / "masks" / "suburb" / "suburb_0001.png"
    write_manifest([ManifestRow("a", image, mask, 320, 240)], tmp_path / "m.csv")
    with pytest.raises(DataprepError, match="masks2labels") as err:
        next(iter(dali(tmp_path / "m.csv")))
    assert err.value.path == str(mask)


def test_unsupported_steps_fail_at_load_time(labels):
    with pytest.raises(DataprepError, match=r"dali engine cannot run step 1 \(copy_paste\)"):
        dali(labels, {"steps": [{"op": "copy_paste"}]})


@pytest.mark.dali
def test_16_bit_rgb_png_keeps_its_16_bits_on_dali(tmp_path):
    """PIL calls a 16-bit RGB PNG mode "RGB", so DALI's decoder got it and handed over 8 bits (PngSuite's
    basn2c16.png: 124 levels of 65535 off, 196 distinct values instead of thousands); it is host-decoded now."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 65536, (24, 32, 3), dtype=np.uint16)
    write_image(tmp_path / "a.png", image)
    write_mask(tmp_path / "a_m.png", np.zeros((24, 32), np.uint8))
    manifest = write_manifest([ManifestRow("a", tmp_path / "a.png", tmp_path / "a_m.png", 32, 24)], tmp_path / "m.csv")
    recipe = {"steps": [{"op": "hflip", "p": 1.0}]}
    got = next(iter(make_loader(manifest, recipe, None, "dali", batch_size=1, shuffle=False)))["image"][0]
    expected = torch.from_numpy(image[:, ::-1].astype(np.float64) / 65535).permute(2, 0, 1)
    assert torch.allclose(got.double(), expected, atol=1e-6)


def _one_pair(tmp_path, image: np.ndarray, mask: np.ndarray) -> str:
    write_image(tmp_path / "a.png", image)
    write_mask(tmp_path / "a_m.png", mask)
    h, w = mask.shape
    return write_manifest([ManifestRow("a", tmp_path / "a.png", tmp_path / "a_m.png", w, h)], tmp_path / "m.csv")


@pytest.mark.parametrize("steps, channels, dtype", [
    # ISBI's gray membranes with train_default's color_jitter: KeyError 's1_saturation' from DALI's internals
    ([{"op": "color_jitter", "p": 1.0, "brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.1}], 1,
     np.uint8),
    ([{"op": "hue_saturation_value", "p": 1.0}], 1, np.uint8),  # refused on gray, which albumentations runs
    ([{"op": "rotate", "p": 1.0, "limit": [20, 20]}], 3, np.uint16),  # warp_affine: no uint16 -> uint16
    ([{"op": "affine", "p": 1.0, "scale": [0.9, 0.9], "rotate": [-15, -15]}], 1, np.uint16),
])
def test_gray_and_16_bit_images_run_the_steps_the_cpu_engine_runs(tmp_path, steps, channels, dtype):
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    yy, xx = np.mgrid[0:40, 0:48]
    image = ((yy * 37 + xx * 11) % 97 / 96 * top).astype(dtype)  # smooth ramps: resampling agrees to rounding
    image = np.repeat(image[:, :, None], channels, axis=2)
    image[..., 0] = (image[..., 0] * 0.6).astype(dtype) + rng.integers(0, top // 20, (40, 48)).astype(dtype)
    mask = (xx // 12 + 2 * (yy // 20)).astype(np.uint8)
    manifest = _one_pair(tmp_path, image, mask)
    recipe = {"steps": steps}
    cpu = next(iter(make_loader(manifest, recipe, None, "cpu", batch_size=1, num_workers=0, seed=4)))
    got = next(iter(dali(manifest, recipe, batch_size=1, num_workers=0, seed=4)))
    assert got["image"].shape == cpu["image"].shape == (1, channels, 40, 48)
    assert (got["image"] - cpu["image"]).abs().mean() * 255 < 1.5
    assert (got["mask"] != cpu["mask"]).float().mean() < 0.02  # boundary ties only
    assert set(got["mask"].unique().tolist()) <= set(mask.ravel().tolist()) | {255}


def test_rotate_keeps_labels_above_255_on_dali(tmp_path):
    """An ignore index above 255 makes the label maps 16-bit, which DALI's warp_affine refused."""
    mask = np.zeros((40, 48), np.uint16)
    mask[:, 24:] = 300
    manifest = _one_pair(tmp_path, np.full((40, 48, 3), 90, np.uint8), mask)
    recipe = {"steps": [{"op": "rotate", "p": 1.0, "limit": [30, 30]}]}
    got = next(iter(dali(manifest, recipe, batch_size=1, num_workers=0, seed=1, ignore_index=400)))["mask"]
    assert set(got.unique().tolist()) == {0, 300, 400}  # corners filled with the ignore index


def test_a_failing_dali_pipeline_is_one_line_naming_the_engine(labels, monkeypatch):
    """A DALI failure reached `dataprep train` as a RuntimeError with DALI's C++ stack: a traceback."""
    from nvidia.dali.pipeline import Pipeline

    def fail(self, *args, **kwargs):
        raise RuntimeError("Critical error in pipeline:\nError in CPU operator `nvidia.dali.fn.warp_affine`,\n"
                           "Assert on \"types supported\" failed: uint16 -> uint16\nC++ context: [/opt/dali/x.cc:42]")

    monkeypatch.setattr(Pipeline, "run", fail)
    with pytest.raises(DataprepError) as err:
        next(iter(dali(labels, batch_size=2, num_workers=0)))
    assert str(err.value).startswith("the DALI pipeline failed on batch 0") and "engine: cpu" in str(err.value)
    assert "\n" not in str(err.value) and "Error in CPU operator" in str(err.value)


def test_a_16_bit_image_after_an_8_bit_first_one_is_refused_not_cut_to_8_bits(tmp_path):
    """The first image decides where images decode: an 8-bit one sends them all to DALI's decoder, which handed
    a later 16-bit PNG over as 8-bit (256 levels instead of 38,291), while the cpu engine kept 16 bits."""
    rng = np.random.default_rng(3)
    write_image(tmp_path / "a.png", rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    write_image(tmp_path / "b.png", rng.integers(0, 65536, (24, 32, 3), dtype=np.uint16))
    for name in ("a", "b"):
        write_mask(tmp_path / f"{name}_m.png", np.zeros((24, 32), np.uint8))
    rows = [ManifestRow(n, tmp_path / f"{n}.png", tmp_path / f"{n}_m.png", 32, 24) for n in ("a", "b")]
    manifest = write_manifest(rows, tmp_path / "m.csv")
    with pytest.raises(DataprepError, match="uint16 image, but the first image of the manifest is uint8") as err:
        list(dali(manifest, batch_size=1, num_workers=0, shuffle=False))
    assert err.value.path == str(tmp_path / "b.png")


def test_an_image_gone_since_the_manifest_is_one_line(tmp_path):
    """A deleted image (not the first) reached the caller as FileNotFoundError through DALI's thread pool."""
    for name in ("a", "b"):
        write_image(tmp_path / f"{name}.png", np.full((24, 32, 3), 90, np.uint8))
        write_mask(tmp_path / f"{name}_m.png", np.zeros((24, 32), np.uint8))
    rows = [ManifestRow(n, tmp_path / f"{n}.png", tmp_path / f"{n}_m.png", 32, 24) for n in ("a", "b")]
    manifest = write_manifest(rows, tmp_path / "m.csv")
    (tmp_path / "b.png").unlink()
    with pytest.raises(DataprepError, match="file not found") as err:
        list(dali(manifest, batch_size=1, num_workers=0, shuffle=False))
    assert err.value.path == str(tmp_path / "b.png")

"""The CPU (albumentations) and DALI engines give the same samples.

Both apply the same typed params, drawn by dataprep from the same per-sample
generator, so even random recipes can be compared. Masks are
compared exactly, except that a pixel may differ where the two engines break a
rounding tie differently (cv2 resamples in fixed point, DALI in float): such a
pixel must then hold a label its neighbourhood has in the other engine's mask,
i.e. lie on a label boundary. Images are compared within a few 8-bit levels;
across a sharp edge the bound grows with the edge's height, because cv2 snaps
warp coordinates to 1/32 pixel where DALI does not.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers import PIPELINES, make_label_dataset, mask_mismatch, write_stats  # noqa: E402

from dataprep import make_loader
from dataprep.data.dataset import SegmentationDataset, load_pair, sample_rngs
from dataprep.manifest import ManifestRow, write_manifest
from dataprep.recipe import load_recipe

# Everything deterministic: forced flip, a resize without rounding ties (240/176 and 320/192 never put a
# pixel centre exactly between two source pixels), a fixed rotation and fixed brightness/contrast.
FIXED = {
    "size": [176, 192],
    "steps": [
        {"op": "hflip", "p": 1.0},
        {"op": "resize"},
        {"op": "rotate", "limit": [10, 10]},
        {"op": "brightness_contrast", "brightness": [0.1, 0.1], "contrast": [0.2, 0.2]},
        {"op": "normalize"},
    ],
}


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    return make_label_dataset(tmp_path_factory.mktemp("labels"), n=8)


def both_engines(manifest, recipe, stats=None, **kw):
    pytest.importorskip("nvidia.dali")
    cpu = list(make_loader(manifest, recipe, stats, "cpu", num_workers=0, **kw))
    dali = list(make_loader(manifest, recipe, stats, "dali", num_workers=2, **kw))
    assert [b["id"] for b in cpu] == [b["id"] for b in dali]
    return torch.cat([b["image"] for b in cpu]), torch.cat([b["image"] for b in dali]), \
        torch.cat([b["mask"] for b in cpu]), torch.cat([b["mask"] for b in dali])


def local_range(images: torch.Tensor) -> torch.Tensor:
    """Max minus min of each pixel's 3x3 neighbourhood, per channel."""
    return torch.nn.functional.max_pool2d(images, 3, 1, 1) + torch.nn.functional.max_pool2d(-images, 3, 1, 1)


def assert_masks_match(cpu: torch.Tensor, dali: torch.Tensor, max_fraction: float) -> None:
    differ = unexplained = 0
    for a, b in zip(cpu, dali):
        d, u = mask_mismatch(a, b)
        differ, unexplained = differ + d, unexplained + u
    assert unexplained == 0, f"{unexplained} mask pixels differ away from any label boundary"
    assert differ <= max_fraction * cpu.numel(), f"{differ} of {cpu.numel()} mask pixels differ"


@pytest.mark.dali
def test_fixed_steps_give_the_same_samples(labels):
    stats = write_stats(labels)
    std = torch.tensor(json.loads(stats.read_text())["image"]["std"], dtype=torch.float32)[None, :, None, None]
    image_cpu, image_dali, mask_cpu, mask_dali = both_engines(labels, FIXED, stats, batch_size=4, shuffle=False)
    assert_masks_match(mask_cpu, mask_dali, max_fraction=1e-4)
    levels = (image_cpu - image_dali).abs() * std  # back to 8-bit levels
    assert levels.mean() <= 0.25
    edge_height = local_range(image_cpu * std)
    smooth = edge_height < 64
    assert levels[smooth].max() <= 3.01
    # cv2's 1/32-pixel warp coordinates move an edge of height h by up to h/32 levels, plus rounding.
    assert (levels[~smooth] <= 1.01 + edge_height[~smooth] / 32).all()


@pytest.mark.dali
def test_random_recipe_gives_the_same_samples(labels):
    recipe = PIPELINES / "train_default.yaml"
    image_cpu, image_dali, mask_cpu, mask_dali = both_engines(labels, recipe, batch_size=4, seed=7)
    assert_masks_match(mask_cpu, mask_dali, max_fraction=5e-4)
    levels = ((image_cpu - image_dali).abs() * 255).flatten()
    # Geometry and brightness/contrast agree to rounding; color_jitter's order is fixed in DALI
    # (albumentations shuffles it) and hue is computed in float, not in OpenCV's 8-bit HSV.
    assert levels.mean() < 1.5
    assert torch.quantile(levels[::7], 0.999) < 16


@pytest.mark.dali
def test_flip_and_crop_are_bit_exact(labels):
    recipe = {"size": [128, 160], "steps": [{"op": "random_crop"}, {"op": "hflip"}, {"op": "vflip"}]}
    image_cpu, image_dali, mask_cpu, mask_dali = both_engines(labels, recipe, batch_size=4, seed=3)
    assert torch.equal(mask_cpu, mask_dali)
    assert torch.allclose(image_cpu, image_dali, atol=1e-6)  # same JPEG decoder output, no resampling


@pytest.mark.dali
@pytest.mark.parametrize("recipe", ["train_default", "everything"])
def test_dali_is_fed_the_params_the_cpu_engine_applies(labels, recipe):
    from dataprep.data.dali import DaliLoader

    if recipe == "everything":
        recipe = {"size": [50, 60], "steps": [
            {"op": "random_scale", "p": 0.7}, {"op": "random_crop"}, {"op": "rotate", "p": 0.5}, {"op": "vflip"},
            {"op": "hue_saturation_value", "p": 0.5}, {"op": "gaussian_blur", "p": 0.5}, {"op": "resize"},
            {"op": "color_jitter", "hue": 0.1}, {"op": "brightness_contrast", "p": 0.5}]}
    else:
        recipe = PIPELINES / f"{recipe}.yaml"
    cpu = SegmentationDataset(labels, recipe, seed=5)
    dali = DaliLoader(labels, recipe, seed=5)
    for index in range(len(cpu)):
        image, mask = load_pair(cpu.rows[index], cpu.channels)
        _, _, applied = cpu._compose.run(image, mask, sample_rngs(5, 2, index)[0])
        fed = dali._steps.draw(sample_rngs(5, 2, index)[0], image.shape)
        assert tuple(d for d, _ in fed) == applied
        expected = {}
        for k, (op, (d, shape)) in enumerate(zip(dali.ops, fed)):
            expected.update({f"s{k}_{name}": v for name, v in op.feed(d, shape).items()})
        got = dali._sample_inputs(2, index, image.shape)
        assert got.keys() == expected.keys()
        assert all(np.array_equal(got[key], expected[key]) for key in got)


@pytest.mark.dali
@pytest.mark.integration
def test_camvid_parity(shared_data, tmp_path):
    camvid = shared_data("camvid_segnet/CamVid")
    rows = [ManifestRow(p.stem, p, camvid / "trainannot" / p.name, 480, 360)
            for p in sorted((camvid / "train").glob("*.png"))[:4]]
    write_manifest(rows, tmp_path / "manifest.csv")
    recipe = load_recipe(PIPELINES / "train_default.yaml")
    image_cpu, image_dali, mask_cpu, mask_dali = both_engines(
        tmp_path / "manifest.csv", recipe, batch_size=2, seed=1, ignore_index=11)  # CamVid's void is 11
    assert set(mask_cpu.unique().tolist()) <= set(range(12))
    assert_masks_match(mask_cpu, mask_dali, max_fraction=5e-4)
    assert ((image_cpu - image_dali).abs() * 255).mean() < 1.5



@pytest.mark.dali
def test_hflip_swap_labels_is_the_same_on_both_engines_and_only_where_flipped(labels):
    """Left/right classes trade places exactly when the flip fires, in both engines (MMSeg's swap_seg_labels)."""
    steps = [{"op": "random_crop"}, {"op": "hflip", "swap_labels": [[1, 2], [3, 5]]}]
    swap = {"size": [128, 160], "steps": steps}
    plain = {"size": [128, 160], "steps": [steps[0], {"op": "hflip"}]}
    _, _, mask_cpu, mask_dali = both_engines(labels, swap, batch_size=8, shuffle=False, seed=3)
    assert torch.equal(mask_cpu, mask_dali)
    mask_plain = torch.cat([b["mask"] for b in make_loader(labels, plain, None, "cpu", num_workers=0, batch_size=8,
                                                           shuffle=False, seed=3)])
    dataset = SegmentationDataset(labels, swap, seed=3)
    table = np.arange(256)
    table[[1, 2, 3, 5]] = [2, 1, 5, 3]
    fired = []
    for index, (got, ref) in enumerate(zip(mask_cpu, mask_plain)):
        image, mask = load_pair(dataset.rows[index], dataset.channels)
        applied = dataset._compose.run(image, mask, sample_rngs(3, 0, index)[0])[2]  # epoch 0
        fired.append(applied[1] is not None)
        expected = table[ref.numpy()] if fired[-1] else ref.numpy()
        assert np.array_equal(got.numpy(), expected), index
    assert any(fired) and not all(fired)

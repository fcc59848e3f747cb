"""Training-time ops: elastic, grid distortion, perspective, coarse dropout, class-aware crop, Gaussian noise.

Every op on the CPU engine keeps the mask rules (nearest: only labels of the
source or the ignore index; warps fill with the ignore index; image and mask
move together) and is deterministic for a seed. On DALI, Gaussian noise gives
the CPU engine's pixels; the warps have no DALI equivalent and are refused when
the loader is built, naming the step.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dataprep.albu import compile_albumentations
from dataprep.errors import DataprepError, UsageError
from dataprep.recipe import STEP_TYPES, parse_recipe

IGNORE = 255
NEW_OPS = ["elastic", "grid_distortion", "perspective", "coarse_dropout", "crop_non_empty", "gaussian_noise"]
SIZE = (64, 80)
# Strong settings so the ops visibly do something on a small image.
STRONG = {
    "elastic": {"alpha": 60.0, "sigma": 5.0},
    "grid_distortion": {"distort_limit": [-0.5, 0.5]},
    "perspective": {"scale": [0.1, 0.2]},
    "coarse_dropout": {"holes": [3, 6], "hole_height": [0.2, 0.3], "hole_width": [0.2, 0.3]},
    "crop_non_empty": {},
    "gaussian_noise": {"std": [0.1, 0.2]},
}
COLOURS = np.array([[30, 30, 30], [220, 40, 40], [40, 200, 40], [40, 40, 220], [230, 230, 40]], np.uint8)


def canary(h: int = 96, w: int = 112) -> tuple[np.ndarray, np.ndarray]:
    """Blocks of labels 1..4 on background 0; the image is the mask's colours (so sync can be checked)."""
    mask = np.zeros((h, w), np.uint8)
    mask[10:50, 10:60] = 1
    mask[55:90, 20:50] = 2
    mask[20:70, 70:105] = 3
    mask[75:90, 80:100] = 4
    return COLOURS[mask], mask


def _interior(mask: np.ndarray, r: int = 2) -> np.ndarray:
    """Pixels whose (2r+1)^2 neighbourhood holds one label: a warp compressing 2x still samples one region there."""
    padded = np.pad(mask, r, mode="edge")
    h, w = mask.shape
    same = np.ones(mask.shape, bool)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            same &= padded[dy : dy + h, dx : dx + w] == mask
    return same


def run(op: str, seed: int, image, mask, **fields):
    recipe = parse_recipe({"size": list(SIZE), "steps": [{"op": op, **STRONG[op], **fields}]})
    compose = compile_albumentations(recipe.steps, size=recipe.size, ignore_index=IGNORE, seed=seed)
    out = compose(image=image, mask=mask)
    return out["image"], out["mask"]


def test_the_ops_are_registered_for_training_only():
    for name in NEW_OPS:
        assert "albumentations" in STEP_TYPES[name].engines and "offline" not in STEP_TYPES[name].engines
    assert "dali" in STEP_TYPES["gaussian_noise"].engines


@pytest.mark.parametrize("op", NEW_OPS)
def test_op_contract_on_the_cpu_engine(op):
    image, mask = canary()
    out_image, out_mask = run(op, 3, image, mask)
    assert out_mask.shape == out_image.shape[:2] and out_mask.dtype == mask.dtype and out_image.dtype == image.dtype
    if op == "crop_non_empty":
        assert out_mask.shape == SIZE
    else:
        assert out_mask.shape == mask.shape
    # Nearest: no blended label values; fill is the ignore index.
    assert set(np.unique(out_mask).tolist()) <= set(np.unique(mask).tolist()) | {IGNORE}
    again_image, again_mask = run(op, 3, image, mask)
    np.testing.assert_array_equal(again_image, out_image)
    np.testing.assert_array_equal(again_mask, out_mask)
    other_image, other_mask = run(op, 4, image, mask)
    assert not (np.array_equal(other_image, out_image) and np.array_equal(other_mask, out_mask))


@pytest.mark.parametrize("op", ["elastic", "grid_distortion", "perspective"])
def test_warps_move_image_and_mask_together_and_fill_with_ignore(op):
    image, mask = canary()
    changed = filled = 0
    for seed in range(4):
        out_image, out_mask = run(op, seed, image, mask)
        changed += int((out_mask != mask).sum())
        filled += int((out_mask == IGNORE).sum())
        # Inside regions (a label's pixel whose 5x5 neighbours share it), the image shows that label's colour;
        # on edges the linear image interpolation blends colours, which nearest masks never do.
        inner = _interior(out_mask) & (out_mask != IGNORE)
        agree = np.abs(out_image[inner].astype(int) - COLOURS[out_mask[inner]].astype(int)).max(axis=1) <= 40
        assert inner.sum() > 1000 and agree.mean() > 0.995, f"{op}: disagree on {(~agree).mean():.2%} of pixels"
    assert changed > 0
    if op == "grid_distortion":  # borders pulled inwards are filled with the ignore index, never with class 0
        assert filled > 0  # (perspective zooms to keep its size and elastic rarely reaches the border: no fill)


def test_coarse_dropout_fills_the_mask_with_ignore_or_keeps_it():
    image, mask = canary()
    out_image, out_mask = run("coarse_dropout", 1, image, mask)
    holes = out_mask == IGNORE
    assert holes.any()
    assert (out_image[holes] == 0).all()  # the image holes are exactly the mask's ignore pixels
    assert ((out_image == 0).all(axis=2) == holes).all()
    kept_image, kept_mask = run("coarse_dropout", 1, image, mask, mask_fill="kept")
    np.testing.assert_array_equal(kept_mask, mask)
    np.testing.assert_array_equal(kept_image, out_image)  # same holes in the image
    with pytest.raises(DataprepError, match="mask_fill"):
        parse_recipe({"steps": [{"op": "coarse_dropout", "mask_fill": "zero"}]})


def test_crop_non_empty_centres_on_labelled_pixels_and_pads_small_inputs():
    mask = np.zeros((200, 240), np.uint8)
    mask[150:160, 200:210] = 3  # one small object far from the centre
    image = COLOURS[mask]
    hits = 0
    for seed in range(10):
        out_image, out_mask = run("crop_non_empty", seed, image, mask)
        assert out_mask.shape == SIZE
        hits += int((out_mask == 3).any())
        np.testing.assert_array_equal(out_image, COLOURS[out_mask])  # a crop: pixels move as one
    assert hits == 10
    # Class 3 declared empty: the crop no longer seeks it (a random crop rarely meets it).
    misses = sum(not (run("crop_non_empty", s, image, mask, empty_classes=[3])[1] == 3).any() for s in range(10))
    assert misses >= 5
    small_image, small_mask = canary(40, 50)
    out_image, out_mask = run("crop_non_empty", 0, small_image, small_mask)
    assert out_mask.shape == SIZE and (out_mask == IGNORE).any() and not (out_mask == IGNORE).all()


def test_gaussian_noise_leaves_the_mask_and_has_the_asked_spread():
    image = np.full((200, 200, 3), 128, np.uint8)
    mask = np.zeros((200, 200), np.uint8)
    out_image, out_mask = run("gaussian_noise", 0, image, mask, std=[0.1, 0.1])
    np.testing.assert_array_equal(out_mask, mask)
    spread = (out_image.astype(np.float64) - 128).std()
    assert 0.1 * 255 * 0.9 < spread < 0.1 * 255 * 1.1


def test_offline_recipes_refuse_the_training_time_ops(tmp_path):
    from dataprep.augment import augment_manifest
    from dataprep.manifest import write_manifest

    write_manifest([], tmp_path / "m.csv")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("size: [32, 32]\nsteps:\n  - op: elastic\n")
    with pytest.raises(UsageError, match=r"step 1 \(elastic\)"):
        augment_manifest(tmp_path / "m.csv", recipe, tmp_path / "out")


# --------------------------------------------------------------------------- DALI


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    from helpers import make_label_dataset

    return make_label_dataset(tmp_path_factory.mktemp("labels"), n=6)


@pytest.mark.dali
def test_gaussian_noise_on_dali_gives_the_cpu_pixels(labels, tmp_path):
    pytest.importorskip("nvidia.dali")
    from dataprep import make_loader

    # No resize before it: the engines' resizes may differ by a level, the noise itself must not.
    recipe = {"steps": [{"op": "gaussian_noise", "std": [0.05, 0.15], "p": 0.7}]}
    kw = {"batch_size": 3, "seed": 5, "shuffle": False}
    cpu = list(make_loader(labels, recipe, None, "cpu", num_workers=0, **kw))
    dali = list(make_loader(labels, recipe, None, "dali", num_workers=1, **kw))
    image_cpu = torch.cat([b["image"] for b in cpu])
    image_dali = torch.cat([b["image"] for b in dali])
    assert image_cpu.shape == image_dali.shape
    noisy = make_loader(labels, {"steps": []}, None, "cpu", num_workers=0, **kw)
    plain = torch.cat([b["image"] for b in noisy])
    assert not torch.equal(plain, image_cpu)  # the noise was applied
    assert torch.allclose(image_cpu, image_dali, atol=1e-5), (image_cpu - image_dali).abs().max()
    assert all(torch.equal(a["mask"], b["mask"]) for a, b in zip(cpu, dali))


@pytest.mark.dali
@pytest.mark.parametrize("op", ["elastic", "grid_distortion", "perspective", "coarse_dropout", "crop_non_empty"])
def test_dali_refuses_ops_it_has_no_equivalent_for_at_load_time(labels, op):
    pytest.importorskip("nvidia.dali")
    from dataprep import make_loader

    recipe = {"size": [64, 64], "steps": [{"op": "resize"}, {"op": op}]}
    with pytest.raises(UsageError, match=rf"dali engine cannot run step 2 \({op}\)"):
        make_loader(labels, recipe, None, "dali", batch_size=2, num_workers=1)

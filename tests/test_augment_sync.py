"""The sync canary: images that say where each pixel came from, so a mask that drifts from its image shows.

Input k of size <= 256 has R = x, G = y, B = 100 + 50 k, and label
((x // 32) + 2 (y // 32) + k) % 6: any output pixel's (R, G, B) names its source
pixel, hence the label the mask must hold there. Exact ops (crops, flips,
cutmix) must agree on every pixel; interpolating ops (scale, rotate, affine,
mosaic, pasted objects) are checked wherever the decoded position is at least a
few pixels away from a label edge and from seams, and a minimum share of pixels must be checked, so
an op cannot pass by making every pixel uncheckable.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dataprep.augment import OPS, augment_samples
from dataprep.augment.registry import MULTI_OPS
from dataprep.recipe import STEP_TYPES, Step, load_recipe, parse_recipe
from dataprep.sample import Sample, SampleMeta

PIPELINES = Path(__file__).resolve().parent.parent / "pipelines"

IGNORE = 255
CELL = 32
UNKNOWN = -1  # decoded from a fill colour or a blend: no source pixel


def label_of(x, y, k):
    return (np.asarray(x) // CELL + 2 * (np.asarray(y) // CELL) + np.asarray(k)) % 6


def canary(h: int, w: int, k: int) -> Sample:
    yy, xx = np.indices((h, w))
    image = np.stack([xx, yy, np.full_like(xx, 100 + 50 * k)], axis=-1).astype(np.uint8)
    mask = label_of(xx, yy, k).astype(np.uint8)
    return Sample(image, mask, SampleMeta(f"canary{k}", ignore_index=IGNORE))


TOLERANCE = 1  # source pixels an interpolated position may be off (nearest: half a pixel, + 8-bit rounding)
MAX_STEP = 6  # source pixels between neighbouring output pixels of one region (mosaic downscales up to ~5x)
SMEAR_WINDOW = 15  # output pixels around each one whose position steps tell the region's scale
SMEAR_RATIO = 3  # a step this many times the region's is a smeared seam, not the region moving
SEAM_REACH = 2  # output pixels beyond a flagged seam that an upscaled seam's smear can reach, at its corners


def decode(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(label, trusted): the label each image pixel names, and whether that is safe to check.

    Trusted: the position is not a blend with fill or another input (B exact),
    moves smoothly against its neighbours (at most MAX_STEP: not a seam between
    two pasted regions, where interpolation mixes unrelated positions), and the
    label holds within TOLERANCE of it (interpolation rounding cannot cross a
    label edge). Sub-pixel drift is measured in test_augment_drift.py.
    """
    r, g, b = (image[..., c].astype(np.int64) for c in range(3))
    k = np.rint((b - 100) / 50).astype(np.int64)
    # A pixel blended with fill or another input shows in B: only an exact B is one input's alone.
    known = (b == 100 + 50 * k) & (k >= 0) & (k <= 3)
    label = np.where(known, label_of(r, g, k), UNKNOWN)
    trusted = known & ~seams(image)
    for dx in (-TOLERANCE, TOLERANCE):
        for dy in (-TOLERANCE, TOLERANCE):
            trusted &= label_of(np.clip(r + dx, 0, 255), np.clip(g + dy, 0, 255), k) == label
    return label, trusted


def seams(image: np.ndarray) -> np.ndarray:
    """Pixels beside another input, a blend, or a jump of more than MAX_STEP in position: the part of
    `decode`'s distrust that comes from seams, not from label edges."""
    r, g, b = (image[..., c].astype(np.int64) for c in range(3))
    k = np.rint((b - 100) / 50).astype(np.int64)
    known = (b == 100 + 50 * k) & (k >= 0) & (k <= 3)
    h, w = r.shape
    pr, pg, pk = (np.pad(a, 1, mode="edge") for a in (r, g, np.where(known, k, -1)))
    seam = np.zeros(r.shape, bool)
    step = np.zeros(r.shape, np.int64)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        nr, ng, nk = (a[dy : dy + h, dx : dx + w] for a in (pr, pg, pk))
        seam |= known & ((nk != k) | (np.abs(nr - r) > MAX_STEP) | (np.abs(ng - g) > MAX_STEP))
        step = np.maximum(step, np.where(nk == k, np.maximum(np.abs(nr - r), np.abs(ng - g)), 0))
    # A seam that a crop upscales is smeared over several pixels whose positions step smoothly (under MAX_STEP)
    # from one pasted region to the other, each decoding to a label neither has there (seed 1877, h=40, w=102,
    # variant 2 on default.yaml: 6x). Its steps are large for the region around it, whose own steps (the
    # lower quarter of a window wider than the smear) say how far one output pixel moves in the source.
    reach = SMEAR_WINDOW // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(step, reach, mode="edge"), (SMEAR_WINDOW,) * 2)
    region_step = np.percentile(windows.reshape(h, w, -1), 25, axis=-1)
    return seam | (known & (step > np.maximum(2, SMEAR_RATIO * region_step)))


def assert_exact(out: Sample) -> None:
    label, _ = decode(out.image)
    expected = np.where(label == UNKNOWN, IGNORE, label)
    np.testing.assert_array_equal(out.mask, expected)


def assert_in_sync(out: Sample, margin: int = 1, min_checked: float = 0.2) -> None:
    label, stable = decode(out.image)
    mask = out.mask.astype(np.int64)
    # Skip pixels whose mask neighbourhood changes label (blended seams, pasted-object halos).
    h, w = mask.shape
    padded = np.pad(mask, margin, mode="edge")
    uniform = np.ones_like(stable)
    for dy in range(2 * margin + 1):
        for dx in range(2 * margin + 1):
            uniform &= padded[dy : dy + h, dx : dx + w] == mask
    # And pixels next to a seam: where two objects pasted from one donor meet at a corner and a crop then
    # upscales them, bilinear steps across that seam can stay under MAX_STEP for a pixel or two while the
    # seam around them is flagged (found with h=40, w=121, seed 4900 on default.yaml).
    padded_seam = np.pad(seams(out.image), SEAM_REACH, mode="edge")
    near_seam = np.zeros_like(stable)
    for dy in range(2 * SEAM_REACH + 1):
        for dx in range(2 * SEAM_REACH + 1):
            near_seam |= padded_seam[dy : dy + h, dx : dx + w]
    checked = stable & ~near_seam & uniform & (mask != IGNORE)
    labelled = (mask != IGNORE).sum()
    assert checked.sum() >= min_checked * max(labelled, 1), f"only {checked.sum()} of {labelled} pixels checkable"
    bad = checked & (label != mask)
    assert not bad.any(), f"{bad.sum()} pixels where the mask disagrees with the image, e.g. at {np.argwhere(bad)[:3].tolist()}"


EXACT_STEPS = {
    "crop": {"op": "crop"},
    "random_crop": {"op": "random_crop"},
    "hflip": {"op": "hflip", "p": 1.0},
    "vflip": {"op": "vflip", "p": 1.0},
    "cutmix": {"op": "cutmix"},
}
INTERPOLATING_STEPS = {
    "crop_scaled": ({"op": "crop", "scale": [0.7, 1.6], "cat_max_ratio": 0.75}, 1),
    "random_resized_crop": ({"op": "random_resized_crop"}, 1),
    "resize": ({"op": "resize"}, 1),
    "random_scale": ({"op": "random_scale", "scale": [0.6, 1.6]}, 1),
    "rotate": ({"op": "rotate", "limit": [-30, 30]}, 1),
    "affine": ({"op": "affine", "scale": [0.7, 1.3], "rotate": [-20, 20], "shear": [-10, 10]}, 1),
    "mosaic": ({"op": "mosaic", "image_fill": 0}, 1),
    "copy_paste": ({"op": "copy_paste", "blend_sigma": 0.0, "scale": [0.5, 1.5]}, 1),
    "copy_paste_blended": ({"op": "copy_paste", "blend_sigma": 1.5}, 4),  # halo: a wider margin
}


def test_every_geometric_op_is_covered():
    geometric = {n for n in OPS if STEP_TYPES[n].geometric}
    covered = set(EXACT_STEPS) | {cfg[0]["op"] for cfg in INTERPOLATING_STEPS.values()}
    assert geometric <= covered


def _inputs(h: int, w: int, count: int = 4) -> list[Sample]:
    sizes = [(h, w), (w, h), (max(h // 2, 24), w), (h, max(w // 2, 24))]
    return [canary(*sizes[k], k) for k in range(count)]


def test_canary_fails_on_a_shifted_mask():
    """The checks themselves: exact catches a one-pixel drift, in-sync anything past TOLERANCE."""
    sample = canary(100, 120, 0)
    assert_exact(sample)
    assert_in_sync(sample)
    for shift, check in ((1, assert_exact), (TOLERANCE + 2, assert_in_sync)):
        drifted = Sample(sample.image[:, :-shift], sample.mask[:, shift:], sample.meta)
        with pytest.raises(AssertionError, match="disagree|Mismatch"):
            check(drifted)
    flipped = Sample(sample.image, sample.mask[:, ::-1].copy(), sample.meta)  # a flip the mask missed
    with pytest.raises(AssertionError, match="disagree"):
        assert_in_sync(flipped)


sizes = st.integers(min_value=40, max_value=200)
seeds = st.integers(min_value=0, max_value=2**20)


@pytest.mark.parametrize("name", sorted(EXACT_STEPS))
@settings(max_examples=6, deadline=None)
@given(seed=seeds, h=sizes, w=sizes)
def test_exact_ops_keep_every_pixel_in_sync(name, seed, h, w):
    recipe = parse_recipe({"size": [64, 80], "seed": seed, "steps": [EXACT_STEPS[name]]})
    samples = _inputs(h, w, 2)
    if name == "cutmix":  # cutmix mixes two samples of the same size exactly
        samples = [canary(h, w, 0), canary(h, w, 1)]
    recipe = dataclasses.replace(recipe, steps=recipe.steps + (Step(STEP_TYPES["crop"](), 1.0),))
    out = augment_samples(recipe, samples, index=0)
    assert out.mask.shape == (64, 80)
    assert_exact(out)


@pytest.mark.parametrize("name", sorted(INTERPOLATING_STEPS))
@settings(max_examples=6, deadline=None)
@given(seed=seeds, h=sizes, w=sizes)
def test_interpolating_ops_keep_labels_on_their_pixels(name, seed, h, w):
    step, margin = INTERPOLATING_STEPS[name]
    recipe = parse_recipe({"size": [72, 96], "seed": seed, "steps": [step]})
    out = augment_samples(recipe, _inputs(h, w), index=0)
    assert out.mask.shape == (72, 96)
    # Rotations and mosaics can leave little labelled area; the share checked is of what is labelled.
    assert_in_sync(out, margin=margin, min_checked=0.1)


SHIPPED = ["default", "mosaic", "copy_paste", "mixup", "crops"]


def _geometric_only(recipe):
    """Photometric steps and mixup recolour pixels (tested apart); everything that moves them stays."""
    steps = tuple(
        s for s in recipe.steps
        if (STEP_TYPES[s.op].geometric or s.op in MULTI_OPS) and s.op != "mixup"
    )
    return dataclasses.replace(recipe, steps=steps, size=(160, 160))


@pytest.mark.parametrize("name", SHIPPED)
@settings(max_examples=4, deadline=None)
@given(seed=seeds, h=sizes, w=sizes, variant=st.integers(0, 3))
@example(seed=4900, h=40, w=121, variant=0)  # default.yaml: two pasted objects' seam, upscaled by a crop
@example(seed=1877, h=40, w=102, variant=2)  # default.yaml: a seam smeared over 8 pixels by a 6x crop
def test_shipped_recipes_keep_masks_in_sync(name, seed, h, w, variant):
    recipe = dataclasses.replace(_geometric_only(load_recipe(PIPELINES / f"{name}.yaml")), seed=seed)
    samples = [canary(h, w, 0), canary(w, h, 1), canary(h, h, 2), canary(w, w, 3)]
    out = augment_samples(recipe, samples, index=variant % 4, variant=variant)
    assert out.image.shape[:2] == out.mask.shape == (160, 160)
    assert set(np.unique(out.mask).tolist()) <= set(range(6)) | {IGNORE}
    # Mosaic alone only interpolates (no halos, no rotation): a tight margin keeps its
    # downscaled tiles checkable (32-px label cells can shrink to 13 px, which a 13x13
    # margin window would leave with no checkable pixel at all).
    assert_in_sync(out, margin=3 if name == "mosaic" else 6, min_checked=0.05)

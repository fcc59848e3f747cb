"""Sub-pixel sync of masks and images through every offline geometric op, and proof that it catches drift.

The position canary: input k is a 16-bit image with R = 256 x, G = 256 y and
B = 256 (100 + 50 k), and its mask holds the source coordinate itself along one
axis (x, or y in a second run), so
each output pixel states twice where it came from: the image by interpolation
(to 1/256 px), the mask by nearest neighbour. Centre-aligned nearest neighbour
picks the source pixel within half a pixel of where the image sampled, so at
every pixel the two must agree within half a pixel (and 1/16 for the warps'
coordinate grid). A mask one source pixel off (an index drift, or
cv2.INTER_NEAREST's corner-aligned sampling on a downscale) is 1 to 1.5 px off.
(An average over the image is no tighter: a near-identity warp may sample every
pixel 0.4 px to one side, and nearest neighbour then rightly rounds them all one way.)

Copy-paste paints a label, not the donor's mask values, so it has its own
canary: round objects whose decoded donor positions must sit inside the object,
centred on it.

The `mutant` tests put those two bugs into the code for their duration and
assert that the checks report them.
"""
from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.augment import augment_samples
from dataprep.augment import base as augment_base
from dataprep.augment.mix import MixupParams, apply_mixup
from dataprep.augment.mosaic import scaled_mask_window, scaled_window
from dataprep.recipe import parse_recipe
from dataprep.sample import Sample, SampleMeta

IGNORE = 255
UNIT = 256  # 16-bit image levels per source pixel: the image states positions to 1/256 px
# Nearest neighbour picks a source pixel within half a pixel of where the image sampled; warps
# place both on a 1/32-pixel grid (cv2's INTER_BITS), which may add as much again.
PIXEL_DRIFT = 0.5 + 1 / 16  # source px any one mask pixel may be off its image position
PASTE_OUTSIDE = 0.5 * 2**0.5 + 1 / 16  # px a pasted pixel's donor position may lie outside the object (diagonal)
MEAN_OFFSET = 0.2  # px a pasted object's decoded centre may be off its true centre


def position_canary(h: int, w: int, k: int, axis: int) -> Sample:
    """Input `k` of size (h, w) <= 254: RGB = UNIT * (x, y, 100 + 50 k); mask = the source coordinate along `axis`."""
    yy, xx = np.indices((h, w))
    image = (UNIT * np.stack([xx, yy, np.full_like(xx, 100 + 50 * k)], axis=-1)).astype(np.uint16)
    mask = (yy if axis == 0 else xx).astype(np.uint8)  # < 255: the ignore index is never a position
    return Sample(image, mask, SampleMeta(f"position{k}", ignore_index=IGNORE))


@dataclasses.dataclass(frozen=True)
class Drift:
    mean: float  # average of mask position - image position over the checked pixels (reported, not bounded)
    worst: float  # largest |mask position - image position|
    checked: int
    labelled: int


def measure_drift(out: Sample, axis: int) -> Drift:
    """Mask-minus-image source position along `axis`, over pixels the image decodes unblended.

    A pixel blended with fill or another input shows in B, which is only exact
    (100 + 50 k) where one input's pixels alone were interpolated.
    """
    image = out.image.astype(np.float64) / UNIT
    blue = image[..., 2]
    k = np.rint((blue - 100) / 50)
    pure = (blue == 100 + 50 * k) & (k >= 0) & (k <= 3)
    mask = out.mask.astype(np.int64)
    labelled = mask != IGNORE
    checked = pure & labelled
    diff = mask[checked] - image[..., 1 - axis][checked]  # G holds y (axis 0), R holds x (axis 1)
    if diff.size == 0:
        return Drift(0.0, 0.0, 0, int(labelled.sum()))
    return Drift(float(diff.mean()), float(np.abs(diff).max()), int(diff.size), int(labelled.sum()))


def assert_no_drift(out: Sample, axis: int, min_checked: float = 0.5) -> Drift:
    d = measure_drift(out, axis)
    assert d.checked >= min_checked * max(d.labelled, 1), f"only {d.checked} of {d.labelled} pixels checkable"
    assert d.worst <= PIXEL_DRIFT, f"mask drift: a pixel {d.worst} px off its image position along axis {axis} ({d})"
    return d


# name -> (steps, output size, input sizes (h, w) as functions of the drawn (h, w))
Sizes = Callable[[int, int], list[tuple[int, int]]]
_four: Sizes = lambda h, w: [(h, w), (w, h), (max(h // 2, 24), w), (h, max(w // 2, 24))]  # noqa: E731
_same: Sizes = lambda h, w: [(h, w), (h, w)]  # noqa: E731
POSITION_CASES: dict[str, tuple[list[dict], tuple[int, int], Sizes]] = {
    "crop": ([{"op": "crop"}], (64, 80), _four),
    "crop_scaled": ([{"op": "crop", "scale": [0.7, 1.6]}], (72, 96), _four),
    "random_crop": ([{"op": "random_crop"}], (64, 80), _four),
    "hflip": ([{"op": "hflip", "p": 1.0}, {"op": "crop"}], (64, 80), _four),
    "vflip": ([{"op": "vflip", "p": 1.0}, {"op": "crop"}], (64, 80), _four),
    "fit_resize": ([{"op": "hflip", "p": 1.0}], (72, 96), _four),  # the final fit to the output size
    "resize": ([{"op": "resize"}], (72, 96), _four),
    "random_resized_crop": ([{"op": "random_resized_crop"}], (72, 96), _four),
    "random_scale": ([{"op": "random_scale", "scale": [0.4, 1.6]}, {"op": "crop"}], (72, 96), _four),
    "rotate": ([{"op": "rotate", "limit": [-30, 30]}, {"op": "crop"}], (72, 96), _four),
    "affine": ([{"op": "affine", "scale": [0.7, 1.3], "rotate": [-20, 20], "shear": [-10, 10]}, {"op": "crop"}],
               (72, 96), _four),
    "mosaic": ([{"op": "mosaic"}], (72, 96), _four),
    "cutmix": ([{"op": "cutmix"}, {"op": "crop"}], (64, 80), _same),
    "cutmix_resized": ([{"op": "cutmix"}, {"op": "crop"}], (64, 80), _four),  # the partner is resized to fit
}


def run_case(name: str, seed: int, h: int, w: int, axis: int, variant: int = 0) -> Sample:
    steps, size, sizes = POSITION_CASES[name]
    recipe = parse_recipe({"size": list(size), "seed": seed, "steps": steps})
    samples = [position_canary(sh, sw, k, axis) for k, (sh, sw) in enumerate(sizes(h, w))]
    out = augment_samples(recipe, samples, index=0, variant=variant)
    assert out.mask.shape == size
    return out


def mixup_dominated_by_partner(h: int, w: int, axis: int) -> Sample:
    """Mixup with the partner's weight 1: the output is the partner resized onto the first, image and mask."""
    first, second = position_canary(h, w, 0, axis), position_canary(max(h // 2, 24), w + 17, 1, axis)
    return apply_mixup([first, second], MixupParams(lam=0.0, soft_labels=False, ignore_index=IGNORE))


def window_pair(scaled: tuple[int, int], axis: int) -> Sample:
    """A mosaic tile's window of a position canary (80 x 100) scaled to `scaled`, image and mask computed apart."""
    src = position_canary(80, 100, 0, axis)
    h, w = scaled[0] * 2 // 3, scaled[1] * 2 // 3
    y, x = scaled[0] - h, scaled[1] // 5
    return Sample(scaled_window(src.image, scaled, y, x, h, w), scaled_mask_window(src.mask, scaled, y, x, h, w),
                  src.meta)


sizes = st.integers(min_value=40, max_value=200)
seeds = st.integers(min_value=0, max_value=2**20)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("name", sorted(POSITION_CASES))
@settings(max_examples=5, deadline=None)
@given(seed=seeds, h=sizes, w=sizes)
def test_masks_stay_within_a_pixel_of_their_images(name, axis, seed, h, w):
    # Rotations and mosaics fill part of the canvas; the share checked is of what is labelled.
    assert_no_drift(run_case(name, seed, h, w, axis), axis, min_checked=0.5)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("size", [(40, 48), (100, 120), (150, 231)])
def test_mixup_keeps_the_dominant_partners_mask_on_its_pixels(axis, size):
    assert_no_drift(mixup_dominated_by_partner(*size, axis), axis, min_checked=1.0)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("scaled", [(37, 61), (120, 200), (250, 333), (80, 100)])
def test_mosaic_tile_windows_keep_masks_on_their_pixels(axis, scaled):
    assert_no_drift(window_pair(scaled, axis), axis, min_checked=1.0)


# --------------------------------------------------------------------------- copy-paste

DISCS = ((30, 34, 13, 1), (32, 100, 17, 2), (88, 40, 15, 3), (86, 118, 11, 4))  # (y, x, radius, label) in 120 x 150


def disc_donor() -> Sample:
    """A position canary (k = 1) whose mask is background 0 with round objects, one label each."""
    yy, xx = np.indices((120, 150))
    image = (UNIT * np.stack([xx, yy, np.full_like(xx, 150)], axis=-1)).astype(np.uint16)
    mask = np.zeros((120, 150), np.uint8)
    for cy, cx, r, label in DISCS:
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = label
    return Sample(image, mask, SampleMeta("discs", ignore_index=IGNORE))


def paste_offsets(out: Sample) -> list[tuple[float, float, float]]:
    """(dy, dx, outside) per pasted object: its pixels' decoded donor centre minus the disc's centre,
    and how far (px) its farthest pixel's decoded donor position lies outside the disc."""
    image = out.image.astype(np.float64) / UNIT
    pasted = out.image[..., 2] == 150 * UNIT  # the object's own pixels are copied exactly, halo or not
    found = []
    for cy, cx, r, label in DISCS:
        at = pasted & (out.mask == label)
        if not at.any():
            continue
        gy, rx = image[..., 1][at], image[..., 0][at]
        outside = float(np.max(np.hypot(gy - cy, rx - cx)) - r)
        found.append((float(gy.mean() - cy), float(rx.mean() - cx), outside))
    return found


def copy_paste(seed: int, h: int, w: int, scale=(0.7, 1.5), blend_sigma: float = 0.0) -> Sample:
    recipe = parse_recipe({"size": [h, w], "seed": seed, "steps": [
        {"op": "copy_paste", "max_objects": 1, "scale": list(scale), "blend_sigma": blend_sigma}]})
    target = position_canary(h, w, 0, 1)
    target = dataclasses.replace(target, mask=np.zeros_like(target.mask))
    return augment_samples(recipe, [target, disc_donor()], index=0)


def assert_pasted_in_place(out: Sample) -> None:
    offsets = paste_offsets(out)
    assert offsets, "nothing was pasted"
    for dy, dx, outside in offsets:
        assert outside <= PASTE_OUTSIDE, f"paste drift: a pasted pixel shows the donor {outside:.2f} px off the object"
        assert max(abs(dy), abs(dx)) <= MEAN_OFFSET, f"paste drift: object centre off by ({dy:+.2f}, {dx:+.2f}) px"


@pytest.mark.parametrize("blend_sigma", [0.0, 1.5])
@settings(max_examples=12, deadline=None)
@given(seed=seeds, h=st.integers(min_value=60, max_value=200), w=st.integers(min_value=60, max_value=200))
def test_pasted_objects_keep_their_mask_on_their_pixels(blend_sigma, seed, h, w):
    assert_pasted_in_place(copy_paste(seed, h, w, blend_sigma=blend_sigma))


# --------------------------------------------------------------------------- mutants: the checks catch drift


@contextmanager
def nearest_index_off_by_one() -> Iterator[None]:
    """Every module's `nearest_index` picks the next source pixel (clamped at the edge)."""
    original = augment_base.nearest_index

    def drifted(src, dst, start=0, count=None):
        return np.clip(original(src, dst, start, count) + 1, 0, src - 1)

    holders = [m for m in list(sys.modules.values())
               if getattr(m, "__name__", "").startswith("dataprep") and getattr(m, "nearest_index", None) is original]
    for module in holders:
        module.nearest_index = drifted
    try:
        yield
    finally:
        for module in holders:
            module.nearest_index = original


@contextmanager
def inter_nearest_for_masks() -> Iterator[None]:
    """cv2.resize with INTER_NEAREST wherever INTER_NEAREST_EXACT is asked for (corner-aligned sampling)."""
    original = cv2.resize

    def reverted(src, dsize, *args, **kwargs):
        if kwargs.get("interpolation") == cv2.INTER_NEAREST_EXACT:
            kwargs["interpolation"] = cv2.INTER_NEAREST
        args = tuple(cv2.INTER_NEAREST if i == 2 and a == cv2.INTER_NEAREST_EXACT else a for i, a in enumerate(args))
        return original(src, dsize, *args, **kwargs)

    cv2.resize = reverted
    try:
        yield
    finally:
        cv2.resize = original


def _drift_is_reported(make: Callable[[int], Sample], check: Callable[[Sample, int], object]) -> None:
    """`check` fails, naming a drift, on both axes (under the mutant the caller has put in place)."""
    for axis in (0, 1):
        with pytest.raises(AssertionError, match="drift"):
            check(make(axis), axis)


NEAREST_INDEX_CASES = {  # every op whose mask goes through nearest_index
    "crop_scaled": lambda axis: run_case("crop_scaled", 3, 150, 190, axis),
    "mosaic": lambda axis: run_case("mosaic", 5, 180, 200, axis),
    "cutmix_resized": lambda axis: run_case("cutmix_resized", 2, 120, 150, axis),
    "fit_resize": lambda axis: run_case("fit_resize", 1, 150, 190, axis),
    "mixup": lambda axis: mixup_dominated_by_partner(100, 120, axis),
    "mosaic_window": lambda axis: window_pair((120, 200), axis),
}
INTER_NEAREST_CASES = {  # every albumentations step that resizes masks (downscales show the corner alignment)
    "resize": lambda axis: run_case("resize", 1, 200, 240, axis),
    "random_scale": lambda axis: sync_recipe([{"op": "random_scale", "scale": [0.3, 0.4]}, {"op": "crop"}], axis),
    "random_resized_crop": lambda axis: sync_recipe([{"op": "random_resized_crop", "scale": [0.8, 1.0]}], axis),
}


def sync_recipe(steps: list[dict], axis: int, size=(72, 96)) -> Sample:
    recipe = parse_recipe({"size": list(size), "seed": 4, "steps": steps})
    return augment_samples(recipe, [position_canary(200, 240, 0, axis)], index=0)


@pytest.mark.parametrize("name", sorted(NEAREST_INDEX_CASES))
def test_mutant_nearest_index_one_pixel_off_is_caught(name):
    make = NEAREST_INDEX_CASES[name]
    for axis in (0, 1):
        assert_no_drift(make(axis), axis, min_checked=0.2)
    with nearest_index_off_by_one():
        _drift_is_reported(make, lambda out, axis: assert_no_drift(out, axis, min_checked=0.2))


@pytest.mark.parametrize("name", sorted(INTER_NEAREST_CASES))
def test_mutant_inter_nearest_for_mask_resizes_is_caught(name):
    make = INTER_NEAREST_CASES[name]
    for axis in (0, 1):
        assert_no_drift(make(axis), axis, min_checked=0.2)
    with inter_nearest_for_masks():
        _drift_is_reported(make, lambda out, axis: assert_no_drift(out, axis, min_checked=0.2))


def test_mutant_nearest_index_one_pixel_off_is_caught_in_copy_paste():
    outs = [copy_paste(seed, 120, 160, scale=(1.0, 1.5)) for seed in range(3)]
    for out in outs:
        assert_pasted_in_place(out)
    with nearest_index_off_by_one():
        for seed in range(3):
            with pytest.raises(AssertionError, match="paste drift"):
                assert_pasted_in_place(copy_paste(seed, 120, 160, scale=(1.0, 1.5)))

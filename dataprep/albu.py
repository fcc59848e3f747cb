"""Compile recipe steps to an albumentations 2.0.8 Compose (the CPU engine).

Masks always use nearest-neighbour interpolation and the recipe's ignore index
as fill, whatever the step. Resizing steps use cv2.INTER_NEAREST_EXACT for masks:
plain INTER_NEAREST in cv2.resize samples at `floor(x * scale)`, not at pixel
centres like the linear image resize, so a 4x downscale would shift the mask up
to 1.5 pixels against its image. Warps (rotate, affine) use INTER_NEAREST, which
cv2.warpAffine already rounds at pixel centres.

Seeding: albumentations' `Compose(seed=...)` / `set_random_seed` give every
transform its own generator with the *same* seed, so e.g. hflip and vflip at
p=0.5 always fire together. `seed_compose` shares one seeded generator pair
across all transforms instead; use it rather than `set_random_seed`.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import albumentations as A
import cv2

from . import recipe as r
from .errors import UsageError
from .seeding import generator_pair, reseed

NEAREST = cv2.INTER_NEAREST  # masks in warps (cv2.warpAffine rounds at pixel centres)
NEAREST_RESIZE = cv2.INTER_NEAREST_EXACT  # masks in resizes (pixel-centre sampling, like the image)


def compile_albumentations(
    steps: Sequence[r.Step],
    *,
    size: tuple[int, int] | None,
    ignore_index: int = 255,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    seed: int | None = None,
    source: str | None = None,
    save_applied_params: bool = False,
) -> A.Compose:
    """An A.Compose doing what `steps` say; `mean`/`std` (raw pixel units) feed a `normalize` step.

    Raises UsageError naming the step if albumentations cannot run it.
    """
    transforms = []
    for index, step in enumerate(steps, 1):
        build = _BUILDERS.get(type(step.params))
        if build is None or r.ALBUMENTATIONS not in step.params.engines:
            raise UsageError(source, f"step {index} ({step.op}): not supported by the albumentations engine")
        ctx = _Context(size, ignore_index, mean, std, source, index)
        built = build(step.params, step.p, ctx)
        transforms.extend(built if isinstance(built, list) else [built])
    # No Compose-level mask_interpolation: it would override the per-step choice
    # (resize vs warp) above; every builder sets it explicitly.
    compose = A.Compose(transforms, save_applied_params=save_applied_params, strict=True)
    if seed is not None:
        seed_compose(compose, seed)
    return compose


def seed_compose(compose: A.Compose, seed: int) -> A.Compose:
    """Seed all transforms of `compose` from one generator pair, so their draws are independent.

    (albumentations' own `set_random_seed` seeds each transform separately with the
    same seed, which makes equal-probability steps fire together.) Reseeding a
    Compose seeded here before resets its generators in place: offline
    augmentation reseeds once per output.
    """
    pair = _SEEDED.get(compose)
    if pair is not None and all(t.random_generator is pair[0] and t.py_random is pair[1] for t in compose.transforms):
        reseed(pair, seed)
    else:
        pair = generator_pair(seed)
        compose.set_random_state(*pair)
        _SEEDED[compose] = pair
    return compose


# The generator pair seed_compose gave each live Compose.
_SEEDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _Context:
    def __init__(self, size, ignore_index, mean, std, source, index) -> None:
        self.size = size
        self.ignore_index = ignore_index
        self.mean = mean
        self.std = std
        self.source = source
        self.index = index

    def require_size(self, op: str) -> tuple[int, int]:
        if self.size is None:
            raise UsageError(self.source, f"step {self.index} ({op}): the recipe needs a 'size'")
        return self.size


def _random_resized_crop(p: r.RandomResizedCrop, prob: float, ctx: _Context):
    return A.RandomResizedCrop(
        size=ctx.require_size(p.op), scale=p.scale, ratio=p.ratio,
        interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST_RESIZE, p=prob,
    )


def _random_crop(p: r.RandomCrop, prob: float, ctx: _Context):
    h, w = ctx.require_size(p.op)
    return A.RandomCrop(
        height=h, width=w, pad_if_needed=p.pad_if_needed, border_mode=cv2.BORDER_CONSTANT,
        fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


def _resize(p: r.Resize, prob: float, ctx: _Context):
    h, w = ctx.require_size(p.op)
    return A.Resize(height=h, width=w, interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST_RESIZE, p=prob)


def _random_scale(p: r.RandomScale, prob: float, ctx: _Context):
    # albumentations samples 1 + U(scale_limit); ours is the factor itself.
    return A.RandomScale(
        scale_limit=(p.scale[0] - 1.0, p.scale[1] - 1.0), interpolation=cv2.INTER_LINEAR,
        mask_interpolation=NEAREST_RESIZE, p=prob,
    )


def _rotate(p: r.Rotate, prob: float, ctx: _Context):
    return A.Rotate(
        limit=p.limit, interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST,
        border_mode=cv2.BORDER_CONSTANT, fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


def _affine(p: r.Affine, prob: float, ctx: _Context):
    return A.Affine(
        scale=p.scale, translate_percent=p.translate, rotate=p.rotate, shear=p.shear,
        interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST, border_mode=cv2.BORDER_CONSTANT,
        fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


def _elastic(p: r.Elastic, prob: float, ctx: _Context):
    return A.ElasticTransform(
        alpha=p.alpha, sigma=p.sigma, interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST,
        border_mode=cv2.BORDER_CONSTANT, fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


def _grid_distortion(p: r.GridDistortion, prob: float, ctx: _Context):
    return A.GridDistortion(
        num_steps=p.num_steps, distort_limit=p.distort_limit, interpolation=cv2.INTER_LINEAR,
        mask_interpolation=NEAREST, border_mode=cv2.BORDER_CONSTANT, fill=p.image_fill,
        fill_mask=ctx.ignore_index, p=prob,
    )


def _perspective(p: r.Perspective, prob: float, ctx: _Context):
    return A.Perspective(
        scale=p.scale, keep_size=True, interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST,
        border_mode=cv2.BORDER_CONSTANT, fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


def _coarse_dropout(p: r.CoarseDropout, prob: float, ctx: _Context):
    return A.CoarseDropout(
        num_holes_range=p.holes, hole_height_range=p.hole_height, hole_width_range=p.hole_width,
        fill=p.image_fill, fill_mask=ctx.ignore_index if p.mask_fill == "ignore" else None, p=prob,
    )


def _crop_non_empty(p: r.CropNonEmpty, prob: float, ctx: _Context):
    h, w = ctx.require_size(p.op)
    # Ignore pixels are never a crop's target; padding first makes any input size work.
    empty = sorted({*p.empty_classes, ctx.ignore_index})
    return [
        A.PadIfNeeded(min_height=h, min_width=w, border_mode=cv2.BORDER_CONSTANT, fill=p.image_fill,
                      fill_mask=ctx.ignore_index, p=1.0),
        A.CropNonEmptyMaskIfExists(height=h, width=w, ignore_values=empty, p=prob),
    ]


def _gaussian_noise(p: r.GaussianNoise, prob: float, ctx: _Context):
    return A.GaussNoise(std_range=p.std, mean_range=p.mean, per_channel=p.per_channel, p=prob)


def _color_jitter(p: r.ColorJitter, prob: float, ctx: _Context):
    return A.ColorJitter(
        brightness=(max(0.0, 1 - p.brightness), 1 + p.brightness),
        contrast=(max(0.0, 1 - p.contrast), 1 + p.contrast),
        saturation=(max(0.0, 1 - p.saturation), 1 + p.saturation),
        hue=(-p.hue, p.hue), p=prob,
    )


def _hsv(p: r.HueSaturationValue, prob: float, ctx: _Context):
    return A.HueSaturationValue(
        hue_shift_limit=p.hue_shift, sat_shift_limit=p.saturation_shift, val_shift_limit=p.value_shift, p=prob
    )


def _brightness_contrast(p: r.BrightnessContrast, prob: float, ctx: _Context):
    return A.RandomBrightnessContrast(brightness_limit=p.brightness, contrast_limit=p.contrast, p=prob)


def _gaussian_blur(p: r.GaussianBlur, prob: float, ctx: _Context):
    return A.GaussianBlur(blur_limit=0, sigma_limit=p.sigma, p=prob)  # kernel size derived from sigma


def _normalize(p: r.Normalize, prob: float, ctx: _Context):
    mean = p.mean if p.mean is not None else ctx.mean
    std = p.std if p.std is not None else ctx.std
    if mean is None or std is None:
        raise UsageError(
            ctx.source, f"step {ctx.index} (normalize): no mean/std; give them in the step or pass a stats.json"
        )
    # Raw pixel units with max_pixel_value=1 works for 8- and 16-bit images alike.
    return A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=1.0, p=prob)


_BUILDERS: dict[type, Callable] = {
    r.RandomResizedCrop: _random_resized_crop,
    r.RandomCrop: _random_crop,
    r.Resize: _resize,
    r.RandomScale: _random_scale,
    r.HorizontalFlip: lambda p, prob, ctx: A.HorizontalFlip(p=prob),
    r.VerticalFlip: lambda p, prob, ctx: A.VerticalFlip(p=prob),
    r.Rotate: _rotate,
    r.Affine: _affine,
    r.Elastic: _elastic,
    r.GridDistortion: _grid_distortion,
    r.Perspective: _perspective,
    r.CoarseDropout: _coarse_dropout,
    r.CropNonEmpty: _crop_non_empty,
    r.GaussianNoise: _gaussian_noise,
    r.ColorJitter: _color_jitter,
    r.HueSaturationValue: _hsv,
    r.BrightnessContrast: _brightness_contrast,
    r.GaussianBlur: _gaussian_blur,
    r.Normalize: _normalize,
}

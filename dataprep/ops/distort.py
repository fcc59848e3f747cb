"""Training-time only single-sample ops, run by albumentations alone.

Their drawn params include whole displacement fields, noise maps or mask-driven
choices, too large to record per output in an offline manifest, and DALI has no
implementation of them: a DALI or offline recipe with one of them fails at load
time, naming the step. What dataprep draws for them is one seed (`params.Seeded`),
from which albumentations' transform draws its field: reproducible and recorded
like any other op's params, but the field itself is albumentations' own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import cv2

from .kernel import NEAREST, BuildContext, border_fill
from .params import Seeded
from .spec import OpSpec, Range, StepParams, check_positive, check_range, recipe_size, register


def _draw_seed(params, rng, shape, size) -> Seeded:
    return Seeded(int(rng.integers(2**31)))


def _seeded(params, drawn: Seeded, image, mask, built, ctx):
    """The transform(s) with generators started from the drawn seed: their fields are drawn from it alone."""
    from ..seeding import generator_pair

    pair = generator_pair(drawn.seed)
    for transform in built if isinstance(built, list) else [built]:
        transform.set_random_state(*pair)
        out = transform(image=image, mask=mask)
        image, mask = out["image"], out["mask"]
    return image, mask


SEEDED = {"draw": _draw_seed, "drawn": Seeded, "kernel": _seeded}


def _warp_kwargs(image_fill: int, ctx: BuildContext) -> dict:
    return {"interpolation": cv2.INTER_LINEAR, "mask_interpolation": NEAREST, "border_mode": cv2.BORDER_CONSTANT,
            "fill": border_fill(image_fill), "fill_mask": ctx.ignore_index}


@dataclass(frozen=True)
class Elastic(StepParams):
    """Elastic deformation (a random displacement field smoothed by `sigma`, scaled by `alpha` pixels)."""

    op: ClassVar[str] = "elastic"
    alpha: float = 40.0
    sigma: float = 6.0
    image_fill: int = 0

    def check(self) -> None:
        check_positive("alpha", self.alpha, allow_zero=True)
        check_positive("sigma", self.sigma)


register(OpSpec(Elastic, geometric=True, albumentations=lambda p, prob, ctx: ctx.A.ElasticTransform(
    alpha=p.alpha, sigma=p.sigma, p=prob, **_warp_kwargs(p.image_fill, ctx)), **SEEDED))


@dataclass(frozen=True)
class GridDistortion(StepParams):
    """Stretch a `num_steps` x `num_steps` grid's cells by factors in 1 + `distort_limit`."""

    op: ClassVar[str] = "grid_distortion"
    num_steps: int = 5
    distort_limit: Range = (-0.3, 0.3)
    image_fill: int = 0

    def check(self) -> None:
        if self.num_steps < 1:
            raise ValueError(f"num_steps: must be >= 1, got {self.num_steps}")
        check_range("distort_limit", self.distort_limit, -1.0, 1.0)


register(OpSpec(GridDistortion, geometric=True, albumentations=lambda p, prob, ctx: ctx.A.GridDistortion(
    num_steps=p.num_steps, distort_limit=p.distort_limit, p=prob, **_warp_kwargs(p.image_fill, ctx)),
    **SEEDED))


@dataclass(frozen=True)
class Perspective(StepParams):
    """A random perspective warp: corners moved by up to `scale` of the size; output keeps the input size."""

    op: ClassVar[str] = "perspective"
    scale: Range = (0.05, 0.1)
    image_fill: int = 0

    def check(self) -> None:
        check_range("scale", self.scale, 0.0, 0.5)


register(OpSpec(Perspective, geometric=True, albumentations=lambda p, prob, ctx: ctx.A.Perspective(
    scale=p.scale, keep_size=True, p=prob, **_warp_kwargs(p.image_fill, ctx)), **SEEDED))


@dataclass(frozen=True)
class CoarseDropout(StepParams):
    """Erase `holes` rectangles (sides a fraction of the image) to `image_fill`.

    `mask_fill`: `ignore` (the default) erases the mask there too, with the ignore
    index, so the loss skips pixels the model cannot see; `kept` leaves the mask
    as it was (the model must infer the hidden class).
    """

    op: ClassVar[str] = "coarse_dropout"
    holes: tuple[int, int] = (1, 4)
    hole_height: Range = (0.05, 0.15)
    hole_width: Range = (0.05, 0.15)
    image_fill: int = 0
    mask_fill: Literal["ignore", "kept"] = "ignore"

    def check(self) -> None:
        if not 1 <= self.holes[0] <= self.holes[1]:
            raise ValueError(f"holes: must be 1 <= min <= max, got {list(self.holes)}")
        check_range("hole_height", self.hole_height, 0.0, 1.0)
        check_positive("hole_height", self.hole_height[0])
        check_range("hole_width", self.hole_width, 0.0, 1.0)
        check_positive("hole_width", self.hole_width[0])


# Neither geometric nor colour-only: it can erase the mask too.
register(OpSpec(CoarseDropout, albumentations=lambda p, prob, ctx: ctx.A.CoarseDropout(
    num_holes_range=p.holes, hole_height_range=p.hole_height, hole_width_range=p.hole_width,
    fill=p.image_fill, fill_mask=ctx.ignore_index if p.mask_fill == "ignore" else None, p=prob), **SEEDED))


@dataclass(frozen=True)
class CropNonEmpty(StepParams):
    """A crop of the recipe size around a random labelled pixel (albumentations' CropNonEmptyMaskIfExists).

    Class 0, the ignore index and `empty_classes` count as empty; a sample
    without other pixels gets a random crop. Smaller inputs are padded first
    (mask with the ignore index).
    """

    op: ClassVar[str] = "crop_non_empty"
    empty_classes: tuple[int, ...] = ()
    image_fill: int = 0


def _crop_non_empty(p: CropNonEmpty, prob: float, ctx: BuildContext):
    h, w = ctx.require_size(p.op)
    # Ignore pixels are never a crop's target; padding first makes any input size work.
    empty = sorted({*p.empty_classes, ctx.ignore_index})
    return [
        ctx.A.PadIfNeeded(min_height=h, min_width=w, border_mode=cv2.BORDER_CONSTANT, fill=p.image_fill,
                          fill_mask=ctx.ignore_index, p=1.0),
        ctx.A.CropNonEmptyMaskIfExists(height=h, width=w, ignore_values=empty, p=prob),
    ]


# Padded up to the size, then cropped to it.
register(OpSpec(CropNonEmpty, needs_size=True, geometric=True, output_shape=recipe_size,
                albumentations=_crop_non_empty, **SEEDED))

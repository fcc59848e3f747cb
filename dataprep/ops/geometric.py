"""Geometric single-sample ops that every engine runs: crops, resizes, flips and affine warps.

Each op is one block: its recipe fields, its albumentations builder, its DALI
node and the spec that registers them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np

from .dali_graph import DaliOp, dali_matrix, f32, resize
from .kernel import NEAREST, NEAREST_RESIZE, BuildContext
from .spec import OpSpec, Range, StepParams, check_positive, check_range, recipe_size, register


def _slice_hw(ctx, node, anchor, shape, **kw):
    return ctx.fn.slice(node, anchor, shape, axis_names="HW", normalized_anchor=False, normalized_shape=False, **kw)


# --------------------------------------------------------------------------- random_resized_crop


@dataclass(frozen=True)
class RandomResizedCrop(StepParams):
    """Crop a random area (fraction `scale` of the image, aspect `ratio`) and resize it to the recipe size."""

    op: ClassVar[str] = "random_resized_crop"
    scale: Range = (0.5, 1.0)
    ratio: Range = (3 / 4, 4 / 3)

    def check(self) -> None:
        check_range("scale", self.scale, 0.0, 1.0)
        check_positive("scale", self.scale[0])
        check_range("ratio", self.ratio, 0.0)
        check_positive("ratio", self.ratio[0])


def _random_resized_crop(p: RandomResizedCrop, prob: float, ctx: BuildContext):
    return ctx.A.RandomResizedCrop(
        size=ctx.require_size(p.op), scale=p.scale, ratio=p.ratio,
        interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST_RESIZE, p=prob,
    )


class _DaliResizedCrop(DaliOp):
    """An exact crop, then a resize to the recipe size."""

    inputs = ("anchor", "shape", "out")

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is None:
            return {"anchor": f32(0, 0), "shape": f32(h, w), "out": f32(h, w)}
        x1, y1, x2, y2 = params["crop_coords"]
        return {"anchor": f32(y1, x1), "shape": f32(y2 - y1, x2 - x1), "out": f32(*self.size)}

    def build(self, ctx, image, mask):
        anchor, shape, out = ctx.param("anchor"), ctx.param("shape"), ctx.param("out")
        image, mask = _slice_hw(ctx, image, anchor, shape), _slice_hw(ctx, mask, anchor, shape)
        return resize(ctx, image, mask, (out[0], out[1]))


register(OpSpec(RandomResizedCrop, needs_size=True, geometric=True, output_shape=recipe_size,
                albumentations=_random_resized_crop, dali=_DaliResizedCrop, offline=True))


# --------------------------------------------------------------------------- random_crop


@dataclass(frozen=True)
class RandomCrop(StepParams):
    """A random window of the recipe size; smaller inputs are padded (mask with the ignore index)."""

    op: ClassVar[str] = "random_crop"
    pad_if_needed: bool = True
    image_fill: int = 0


def _random_crop(p: RandomCrop, prob: float, ctx: BuildContext):
    h, w = ctx.require_size(p.op)
    return ctx.A.RandomCrop(
        height=h, width=w, pad_if_needed=p.pad_if_needed, border_mode=cv2.BORDER_CONSTANT,
        fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


class _DaliCrop(DaliOp):
    """A window that may reach outside the image (padding: image fill, mask ignore)."""

    inputs = ("anchor", "shape")

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is None:
            return {"anchor": f32(0, 0), "shape": f32(h, w)}
        x1, y1, x2, y2 = params["crop_coords"]
        pad = params.get("pad_params") or {}
        # albumentations pads first and crops the padded image; one slice in original coordinates is the same.
        top, left = pad.get("pad_top", 0), pad.get("pad_left", 0)
        return {"anchor": f32(y1 - top, x1 - left), "shape": f32(y2 - y1, x2 - x1)}

    def build(self, ctx, image, mask):
        anchor, shape = ctx.param("anchor"), ctx.param("shape")
        image = _slice_hw(ctx, image, anchor, shape, fill_values=float(self.params.image_fill),
                          out_of_bounds_policy="pad")
        mask = _slice_hw(ctx, mask, anchor, shape, fill_values=float(ctx.ignore_index), out_of_bounds_policy="pad")
        return image, mask


register(OpSpec(RandomCrop, needs_size=True, geometric=True, output_shape=recipe_size,
                albumentations=_random_crop, dali=_DaliCrop, offline=True))


# --------------------------------------------------------------------------- resize, random_scale


@dataclass(frozen=True)
class Resize(StepParams):
    """Resize to the recipe size (image: area/linear interpolation, mask: nearest)."""

    op: ClassVar[str] = "resize"


def _resize(p: Resize, prob: float, ctx: BuildContext):
    h, w = ctx.require_size(p.op)
    return ctx.A.Resize(height=h, width=w, interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST_RESIZE, p=prob)


class _DaliResize(DaliOp):
    """A resize to a size given per sample (the recipe size, or the drawn scale's)."""

    inputs = ("out",)

    def target(self, params, h: int, w: int) -> tuple[int, int]:
        return self.size  # type: ignore[return-value]

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is not None:
            h, w = self.target(params, h, w)
        return {"out": f32(h, w)}

    def build(self, ctx, image, mask):
        out = ctx.param("out")
        return resize(ctx, image, mask, (out[0], out[1]))


register(OpSpec(Resize, needs_size=True, geometric=True, output_shape=recipe_size,
                albumentations=_resize, dali=_DaliResize, offline=True))


@dataclass(frozen=True)
class RandomScale(StepParams):
    """Scale by a random factor in `scale` (keeps aspect ratio; size changes)."""

    op: ClassVar[str] = "random_scale"
    scale: Range = (0.75, 1.25)

    def check(self) -> None:
        check_range("scale", self.scale, 0.0)
        check_positive("scale", self.scale[0])


def _random_scale(p: RandomScale, prob: float, ctx: BuildContext):
    # albumentations samples 1 + U(scale_limit); ours is the factor itself.
    return ctx.A.RandomScale(
        scale_limit=(p.scale[0] - 1.0, p.scale[1] - 1.0), interpolation=cv2.INTER_LINEAR,
        mask_interpolation=NEAREST_RESIZE, p=prob,
    )


def _scaled(h: int, w: int, factor: float) -> tuple[int, int]:
    return int(h * factor), int(w * factor)  # albumentations truncates


class _DaliScale(_DaliResize):
    def target(self, params, h, w):
        return _scaled(h, w, params["scale"])


def _scale_shape(params, shape, size, drawn):
    return (*_scaled(shape[0], shape[1], drawn["scale"]), *shape[2:]) if drawn is not None else shape


register(OpSpec(RandomScale, geometric=True, output_shape=_scale_shape,
                albumentations=_random_scale, dali=_DaliScale, offline=True))


# --------------------------------------------------------------------------- flips


@dataclass(frozen=True)
class HorizontalFlip(StepParams):
    op: ClassVar[str] = "hflip"


@dataclass(frozen=True)
class VerticalFlip(StepParams):
    op: ClassVar[str] = "vflip"


class _DaliFlip(DaliOp):
    inputs = ("flip",)
    horizontal = True

    def feed(self, params, shape):
        return {"flip": np.int32(params is not None)}

    def build(self, ctx, image, mask):
        flag = ctx.param("flip")
        kw = {"horizontal": flag, "vertical": 0} if self.horizontal else {"horizontal": 0, "vertical": flag}
        return ctx.fn.flip(image, **kw), ctx.fn.flip(mask, **kw)


class _DaliVFlip(_DaliFlip):
    horizontal = False


# Flips are coin tosses by nature; everything else runs every time unless `p` says otherwise.
register(OpSpec(HorizontalFlip, default_p=0.5, geometric=True, dali=_DaliFlip, offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.HorizontalFlip(p=prob)))
register(OpSpec(VerticalFlip, default_p=0.5, geometric=True, dali=_DaliVFlip, offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.VerticalFlip(p=prob)))


# --------------------------------------------------------------------------- rotate, affine


@dataclass(frozen=True)
class Rotate(StepParams):
    """Rotate about the centre by an angle in `limit` degrees; corners: image `image_fill`, mask ignore."""

    op: ClassVar[str] = "rotate"
    limit: Range = (-10.0, 10.0)
    image_fill: int = 0

    def check(self) -> None:
        check_range("limit", self.limit, -360.0, 360.0)


def _rotate(p: Rotate, prob: float, ctx: BuildContext):
    return ctx.A.Rotate(
        limit=p.limit, interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST,
        border_mode=cv2.BORDER_CONSTANT, fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


@dataclass(frozen=True)
class Affine(StepParams):
    """Scale, translate (fraction of size), rotate and shear (degrees) about the centre."""

    op: ClassVar[str] = "affine"
    scale: Range = (0.9, 1.1)
    translate: Range = (-0.0625, 0.0625)
    rotate: Range = (-15.0, 15.0)
    shear: Range = (0.0, 0.0)
    image_fill: int = 0

    def check(self) -> None:
        check_range("scale", self.scale, 0.0)
        check_positive("scale", self.scale[0])
        check_range("translate", self.translate, -1.0, 1.0)
        check_range("rotate", self.rotate, -360.0, 360.0)
        check_range("shear", self.shear, -89.0, 89.0)


def _affine(p: Affine, prob: float, ctx: BuildContext):
    # No fit_output: the output keeps the input's size (the spec's shape says so).
    return ctx.A.Affine(
        scale=p.scale, translate_percent=p.translate, rotate=p.rotate, shear=p.shear,
        interpolation=cv2.INTER_LINEAR, mask_interpolation=NEAREST, border_mode=cv2.BORDER_CONSTANT,
        fill=p.image_fill, fill_mask=ctx.ignore_index, p=prob,
    )


class _DaliWarp(DaliOp):
    """One warp with the matrix albumentations drew."""

    inputs = ("matrix", "out")

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is None:
            return {"matrix": dali_matrix(np.eye(3)), "out": f32(h, w)}
        out = params.get("output_shape", (h, w))
        return {"matrix": dali_matrix(params["matrix"]), "out": f32(out[0], out[1])}

    def build(self, ctx, image, mask):
        fn, types = ctx.fn, ctx.types
        matrix, out = ctx.param("matrix"), ctx.param("out")
        image = fn.warp_affine(image, matrix=matrix, size=out, fill_value=float(self.params.image_fill),
                               interp_type=types.INTERP_LINEAR)
        mask = fn.warp_affine(mask, matrix=matrix, size=out, fill_value=float(ctx.ignore_index),
                              interp_type=types.INTERP_NN)
        return image, mask


register(OpSpec(Rotate, geometric=True, albumentations=_rotate, dali=_DaliWarp, offline=True))
register(OpSpec(Affine, geometric=True, albumentations=_affine, dali=_DaliWarp, offline=True))

"""Geometric single-sample ops that every engine runs: crops, resizes, flips and affine warps.

Each op is one block: its recipe fields, its albumentations builder, its DALI
node and the spec that registers them.
"""
from __future__ import annotations

import functools

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from .dali_graph import DaliOp, dali_matrix, f32, pixels, resize, to_float
from .kernel import NEAREST, NEAREST_RESIZE, BuildContext, border_fill
from .params import OpParams
from .spec import OpSpec, Range, StepParams, check_positive, check_range, recipe_size, register


@dataclass(frozen=True)
class Window(OpParams):
    """A crop window in input pixels; parts outside the input are padding."""

    y: int
    x: int
    height: int
    width: int


def _cut(array: np.ndarray, w: Window, fill: float) -> np.ndarray:
    if w.y >= 0 and w.x >= 0 and w.y + w.height <= array.shape[0] and w.x + w.width <= array.shape[1]:
        return array[w.y:w.y + w.height, w.x:w.x + w.width]  # a view, as albumentations' crop
    from ..augment.base import crop_pad  # imported when run: dataprep.augment imports the specs

    return crop_pad(array, w.y, w.x, w.height, w.width, fill)


def _resize_pair(image, mask, height: int, width: int):
    from albumentations.augmentations.geometric import functional as fgeometric

    return (fgeometric.resize(image, (height, width), cv2.INTER_LINEAR),
            fgeometric.resize(mask, (height, width), NEAREST_RESIZE))


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


def _draw_resized_crop(p: RandomResizedCrop, rng: np.random.Generator, shape, size) -> Window:
    """torchvision's sampler (as albumentations'): 10 tries at area and log-aspect, else a centre crop."""
    height, width = shape[:2]
    area = height * width
    log_ratio = (math.log(p.ratio[0]), math.log(p.ratio[1]))
    for _ in range(10):
        target = rng.uniform(p.scale[0] * area, p.scale[1] * area)
        aspect = math.exp(rng.uniform(*log_ratio))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return Window(int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w)
    ratio = width / height
    if ratio < p.ratio[0]:
        w, h = width, round(width / p.ratio[0])
    elif ratio > p.ratio[1]:
        w, h = round(height * p.ratio[1]), height
    else:
        w, h = width, height
    return Window((height - h) // 2, (width - w) // 2, h, w)


def _resized_crop(p, drawn: Window, image, mask, built, ctx: BuildContext):
    return _resize_pair(_cut(image, drawn, 0), _cut(mask, drawn, ctx.ignore_index), *ctx.require_size(p.op))


class _DaliResizedCrop(DaliOp):
    """An exact crop, then a resize to the recipe size."""

    inputs = ("anchor", "shape", "out")

    def feed(self, drawn: Window | None, shape):
        h, w = shape[:2]
        if drawn is None:
            return {"anchor": f32(0, 0), "shape": f32(h, w), "out": f32(h, w)}
        return {"anchor": f32(drawn.y, drawn.x), "shape": f32(drawn.height, drawn.width), "out": f32(*self.size)}

    def build(self, ctx, image, mask):
        anchor, shape, out = ctx.param("anchor"), ctx.param("shape"), ctx.param("out")
        image, mask = _slice_hw(ctx, image, anchor, shape), _slice_hw(ctx, mask, anchor, shape)
        return resize(ctx, image, mask, (out[0], out[1]))


register(OpSpec(RandomResizedCrop, needs_size=True, geometric=True, output_shape=recipe_size,
                albumentations=_random_resized_crop, dali=_DaliResizedCrop, offline=True,
                draw=_draw_resized_crop, drawn=Window, kernel=_resized_crop))


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


def _offset(rng: np.random.Generator, length: int, window: int, pad: bool) -> int:
    if length >= window:
        return int(rng.integers(0, length - window + 1))
    if not pad:
        raise ValueError(f"crop size {window} is larger than the image ({length}) and pad_if_needed is false")
    return -((window - length) // 2)  # centred padding, as albumentations' PadIfNeeded


def _draw_crop(p: RandomCrop, rng: np.random.Generator, shape, size) -> Window:
    return Window(_offset(rng, shape[0], size[0], p.pad_if_needed), _offset(rng, shape[1], size[1], p.pad_if_needed),
                  *size)


def _random_crop_kernel(p: RandomCrop, drawn: Window, image, mask, built, ctx: BuildContext):
    return _cut(image, drawn, p.image_fill), _cut(mask, drawn, ctx.ignore_index)


class _DaliCrop(DaliOp):
    """A window that may reach outside the image (padding: image fill, mask ignore)."""

    inputs = ("anchor", "shape")

    def feed(self, drawn: Window | None, shape):
        h, w = shape[:2]
        if drawn is None:
            return {"anchor": f32(0, 0), "shape": f32(h, w)}
        return {"anchor": f32(drawn.y, drawn.x), "shape": f32(drawn.height, drawn.width)}

    def build(self, ctx, image, mask):
        anchor, shape = ctx.param("anchor"), ctx.param("shape")
        image = _slice_hw(ctx, image, anchor, shape, fill_values=float(self.params.image_fill),
                          out_of_bounds_policy="pad")
        mask = _slice_hw(ctx, mask, anchor, shape, fill_values=float(ctx.ignore_index), out_of_bounds_policy="pad")
        return image, mask


register(OpSpec(RandomCrop, needs_size=True, geometric=True, output_shape=recipe_size,
                albumentations=_random_crop, dali=_DaliCrop, offline=True,
                draw=_draw_crop, drawn=Window, kernel=_random_crop_kernel))


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

    def target(self, drawn, h: int, w: int) -> tuple[int, int]:
        return self.size  # type: ignore[return-value]

    def feed(self, drawn, shape):
        h, w = shape[:2]
        if drawn is not None:
            h, w = self.target(drawn, h, w)
        return {"out": f32(h, w)}

    def build(self, ctx, image, mask):
        out = ctx.param("out")
        return resize(ctx, image, mask, (out[0], out[1]))


register(OpSpec(Resize, needs_size=True, geometric=True, output_shape=recipe_size,
                albumentations=_resize, dali=_DaliResize, offline=True,
                kernel=lambda p, drawn, image, mask, built, ctx: _resize_pair(image, mask, *ctx.require_size(p.op))))


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


@dataclass(frozen=True)
class Scale(OpParams):
    factor: float


def _scaled(h: int, w: int, drawn: Scale) -> tuple[int, int]:
    return max(1, int(h * drawn.factor)), max(1, int(w * drawn.factor))  # truncated, as albumentations


class _DaliScale(_DaliResize):
    def target(self, drawn, h, w):
        return _scaled(h, w, drawn)


def _scale_shape(params, shape, size, drawn):
    return (*_scaled(shape[0], shape[1], drawn), *shape[2:]) if drawn is not None else shape


register(OpSpec(RandomScale, geometric=True, output_shape=_scale_shape,
                albumentations=_random_scale, dali=_DaliScale, offline=True,
                draw=lambda p, rng, shape, size: Scale(float(rng.uniform(*p.scale))), drawn=Scale,
                kernel=lambda p, drawn, image, mask, built, ctx: _resize_pair(image, mask, *_scaled(
                    image.shape[0], image.shape[1], drawn))))


# --------------------------------------------------------------------------- flips


@dataclass(frozen=True)
class HorizontalFlip(StepParams):
    """Mirror left-right; `swap_labels` pairs of classes trade places in the mask when it does (left arm and
    right arm, left and right lane), as MMSegmentation's `RandomFlip(swap_seg_labels=...)`."""

    op: ClassVar[str] = "hflip"
    swap_labels: tuple[tuple[int, int], ...] = ()

    def check(self) -> None:
        check_swap_pairs(self.swap_labels)


def check_swap_pairs(pairs: tuple[tuple[int, int], ...]) -> None:
    """`swap_labels`: pairs of two different class indices, each class in one pair at most."""
    seen: set[int] = set()
    for a, b in pairs:
        if a < 0 or b < 0 or a == b:
            raise ValueError(f"swap_labels: a pair is two different class indices >= 0, got [{a}, {b}]")
        if a in seen or b in seen:
            raise ValueError(f"swap_labels: class {a if a in seen else b} is in more than one pair")
        seen.update((a, b))


def swap_labels(mask: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """`mask` with the two classes of each pair exchanged; other values unchanged."""
    if not pairs:
        return mask
    if mask.dtype in (np.uint8, np.uint16):
        table = _swap_table(mask.dtype.str, tuple(tuple(pair) for pair in pairs))  # lists from YAML hash too
        return cv2.LUT(mask, table) if mask.dtype == np.uint8 else table[mask]
    out = mask.copy()
    for a, b in pairs:
        out[mask == a], out[mask == b] = b, a
    return out


@functools.lru_cache(maxsize=16)
def _swap_table(dtype: str, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """The lookup table of `swap_labels`, built once per (dtype, pairs): 64k entries for uint16 masks."""
    table = np.arange(np.iinfo(np.dtype(dtype)).max + 1, dtype=dtype)
    for a, b in pairs:
        if max(a, b) < len(table):
            table[a], table[b] = b, a
    table.setflags(write=False)
    return table


_SIDE = re.compile(r"(?i)left|right")


def left_right_pairs(names: Sequence[str]) -> list[tuple[int, int]]:
    """Class index pairs whose names differ only by left/right (human parsing's Left-arm/Right-arm)."""
    index = {name.lower(): i for i, name in enumerate(names)}
    pairs = []
    for i, name in enumerate(names):
        if not re.search(r"(?i)left", name):
            continue
        other = _SIDE.sub(lambda m: "right" if m.group(0).lower() == "left" else "left", name.lower())
        j = index.get(other)
        if j is not None and j != i:
            pairs.append((i, j))
    return pairs


def mirror_warnings(recipe: Any, names: Sequence[str] | None) -> list[str]:
    """One line per mirroring step (hflip; copy_paste with flip) that leaves the palette's left/right classes
    unswapped: a mirrored left arm stays labelled left (CIHP: 1-3% of the pixels off the dataset's own flips)."""
    pairs = left_right_pairs(names) if names else []
    if not pairs:
        return []
    lines = []
    for number, step in enumerate(recipe.steps, 1):
        mirrors = step.op == "hflip" or (step.op == "copy_paste" and getattr(step.params, "flip", False))
        if not mirrors or step.p <= 0:
            continue
        swapped = {frozenset(p) for p in getattr(step.params, "swap_labels", ())}
        pasted = set(getattr(step.params, "classes", ()) or ())  # copy_paste: only the classes it pastes mirror
        missing = [p for p in pairs if frozenset(p) not in swapped and (not pasted or pasted & set(p))]
        if missing:
            listed = ", ".join(f"{names[a]}/{names[b]}" for a, b in missing[:4])
            more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
            spec = "[" + ", ".join(f"[{a}, {b}]" for a, b in missing) + "]"
            lines.append(f"step {number} ({step.op}) mirrors, but the palette's {listed}{more} are not in its "
                         "swap_labels: if they are mirror images (a left and a right arm), a mirrored left one "
                         f"stays labelled left; then add swap_labels: {spec}")
    return lines


@dataclass(frozen=True)
class VerticalFlip(StepParams):
    op: ClassVar[str] = "vflip"


class _DaliFlip(DaliOp):
    inputs = ("flip",)
    horizontal = True

    def feed(self, drawn, shape):
        return {"flip": np.int32(drawn is not None)}

    def build(self, ctx, image, mask):
        flag = ctx.param("flip")
        kw = {"horizontal": flag, "vertical": 0} if self.horizontal else {"horizontal": 0, "vertical": flag}
        image, mask = ctx.fn.flip(image, **kw), ctx.fn.flip(mask, **kw)
        pairs = getattr(self.params, "swap_labels", ())
        if not pairs:
            return image, mask
        # Exact integer arithmetic: mask + flag * (swapped - mask), in int32, back to the mask's type.
        types = ctx.types
        value = ctx.fn.cast(mask, dtype=types.INT32)
        delta = None
        for a, b in pairs:
            term = (value == a) * (b - a) + (value == b) * (a - b)
            delta = term if delta is None else delta + term
        swapped = value + ctx.arith(ctx.fn.cast(flag, dtype=types.INT32)) * delta
        return image, ctx.fn.cast(swapped, dtype=types.UINT16 if ctx.ignore_index > 255 else types.UINT8)


def _flipped(image: np.ndarray, mask: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """cv2.flip (1: left-right, 0: up-down): a contiguous copy, several times faster than numpy's."""
    out = cv2.flip(image, axis)
    return out.reshape(image.shape), cv2.flip(mask, axis)


class _DaliVFlip(_DaliFlip):
    horizontal = False


def _horizontal_flip(p: HorizontalFlip, prob: float, ctx: BuildContext):
    if not p.swap_labels:
        return ctx.A.HorizontalFlip(p=prob)
    from .albu_flip import HorizontalFlipSwappingLabels

    return HorizontalFlipSwappingLabels(p.swap_labels, p=prob)


def _hflip_kernel(p: HorizontalFlip, drawn, image, mask, built, ctx):
    image, mask = _flipped(image, mask, 1)
    return image, swap_labels(mask, p.swap_labels)


# Flips are coin tosses by nature; everything else runs every time unless `p` says otherwise.
register(OpSpec(HorizontalFlip, default_p=0.5, geometric=True, dali=_DaliFlip, offline=True,
                albumentations=_horizontal_flip, kernel=_hflip_kernel))
register(OpSpec(VerticalFlip, default_p=0.5, geometric=True, dali=_DaliVFlip, offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.VerticalFlip(p=prob),
                kernel=lambda p, drawn, image, mask, built, ctx: _flipped(image, mask, 0)))


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


@dataclass(frozen=True)
class Warp(OpParams):
    """An affine map about the image centre: degrees, factors, pixels (translation) and degrees (shear)."""

    rotate: float
    scale_x: float = 1.0
    scale_y: float = 1.0
    translate_x: int = 0
    translate_y: int = 0
    shear_x: float = 0.0
    shear_y: float = 0.0


def warp_matrix(drawn: Warp, shape) -> np.ndarray:
    """The forward 3x3 matrix (pixel centres at integers), built by albumentations' own function."""
    from albumentations.augmentations.geometric import functional as fgeometric

    return fgeometric.create_affine_transformation_matrix(
        {"x": drawn.translate_x, "y": drawn.translate_y}, {"x": -drawn.shear_x, "y": -drawn.shear_y},
        {"x": drawn.scale_x, "y": drawn.scale_y}, drawn.rotate, fgeometric.center(tuple(shape[:2])),
    )


def _draw_rotate(p: Rotate, rng: np.random.Generator, shape, size) -> Warp:
    return Warp(float(rng.uniform(*p.limit)))


def _draw_affine(p: Affine, rng: np.random.Generator, shape, size) -> Warp:
    h, w = shape[:2]
    # The order and the truncated pixel translation are albumentations'.
    tx, ty = (float(rng.uniform(*p.translate)) for _ in range(2))
    shx, shy = (float(rng.uniform(*p.shear)) for _ in range(2))
    sx, sy = (float(rng.uniform(*p.scale)) for _ in range(2))
    return Warp(float(rng.uniform(*p.rotate)), sx, sy, int(tx * w), int(ty * h), shx, shy)


def _warp(p, drawn: Warp, image, mask, built, ctx: BuildContext):
    from albumentations.augmentations.geometric import functional as fgeometric

    matrix, out = warp_matrix(drawn, image.shape), image.shape[:2]
    fill = border_fill(p.image_fill)
    return (fgeometric.warp_affine(image, matrix, cv2.INTER_LINEAR, fill, cv2.BORDER_CONSTANT, out),
            fgeometric.warp_affine(mask, matrix, NEAREST, ctx.ignore_index, cv2.BORDER_CONSTANT, out))


class _DaliWarp(DaliOp):
    """One warp with the drawn matrix (converted to DALI's conventions)."""

    inputs = ("matrix", "out")

    def feed(self, drawn: Warp | None, shape):
        h, w = shape[:2]
        if drawn is None:
            return {"matrix": dali_matrix(np.eye(3)), "out": f32(h, w)}
        return {"matrix": dali_matrix(warp_matrix(drawn, shape)), "out": f32(h, w)}

    def build(self, ctx, image, mask):
        fn, types = ctx.fn, ctx.types
        matrix, out = ctx.param("matrix"), ctx.param("out")
        # DALI's warp_affine takes no uint16 ("Unsupported input/output types"): 16-bit images and the label maps
        # of an ignore index above 255 warp in float (labels exactly: float32 holds every 16-bit integer).
        wide = ctx.max_value > 255
        warped = fn.warp_affine(to_float(ctx, image) if wide else image, matrix=matrix, size=out,
                                fill_value=float(self.params.image_fill), interp_type=types.INTERP_LINEAR)
        image = pixels(ctx, warped + 0.5, truncate=True) if wide else warped
        wide_mask = ctx.ignore_index > 255
        mask = fn.warp_affine(to_float(ctx, mask) if wide_mask else mask, matrix=matrix, size=out,
                              fill_value=float(ctx.ignore_index), interp_type=types.INTERP_NN)
        mask = fn.cast(mask, dtype=types.UINT16) if wide_mask else mask
        return image, mask


register(OpSpec(Rotate, geometric=True, albumentations=_rotate, dali=_DaliWarp, offline=True,
                draw=_draw_rotate, drawn=Warp, kernel=_warp))
register(OpSpec(Affine, geometric=True, albumentations=_affine, dali=_DaliWarp, offline=True,
                draw=_draw_affine, drawn=Warp, kernel=_warp))

"""Photometric single-sample ops: they change image values only, never geometry or the mask."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import DataprepError, UsageError
from .dali_graph import DaliOp, gray, hsv_adjust, pixels, to_float
from .kernel import BuildContext
from .spec import OpSpec, Range, StepParams, check_positive, check_range, register

# --------------------------------------------------------------------------- color_jitter


@dataclass(frozen=True)
class ColorJitter(StepParams):
    """torchvision-style jitter: factors drawn from [1-x, 1+x]; hue as a fraction of the colour wheel."""

    op: ClassVar[str] = "color_jitter"
    brightness: float = 0.2
    contrast: float = 0.2
    saturation: float = 0.2
    hue: float = 0.0

    def check(self) -> None:
        for name in ("brightness", "contrast", "saturation"):
            check_positive(name, getattr(self, name), allow_zero=True)
        if not 0.0 <= self.hue <= 0.5:
            raise ValueError(f"hue: must be in [0, 0.5], got {self.hue}")


def _color_jitter(p: ColorJitter, prob: float, ctx: BuildContext):
    return ctx.A.ColorJitter(
        brightness=(max(0.0, 1 - p.brightness), 1 + p.brightness),
        contrast=(max(0.0, 1 - p.contrast), 1 + p.contrast),
        saturation=(max(0.0, 1 - p.saturation), 1 + p.saturation),
        hue=(-p.hue, p.hue), p=prob,
    )


class _DaliColorJitter(DaliOp):
    """torchvision semantics: brightness, contrast about the mean grey, saturation, hue."""

    inputs = ("brightness", "contrast", "saturation", "hue")

    def feed(self, params, shape):
        if params is None:
            return {"brightness": np.float32(1), "contrast": np.float32(1), "saturation": np.float32(1),
                    "hue": np.float32(0)}
        return {
            "brightness": np.float32(params["brightness"]),
            "contrast": np.float32(params["contrast"]),
            "saturation": np.float32(params["saturation"]),
            "hue": np.float32(params["hue"] * 360.0),  # fraction of the colour wheel -> degrees
        }

    def build(self, ctx, image, mask):
        import nvidia.dali.math as dmath

        b, c, s = (ctx.arith(ctx.param(n)) for n in ("brightness", "contrast", "saturation"))
        top = ctx.max_value
        # Each stage rounds as albumentations does: LUTs truncate, cv2.addWeighted rounds.
        x = dmath.floor(dmath.clamp(to_float(ctx, image) * b, 0.0, top))
        mean = ctx.fn.reductions.mean(gray(ctx, x))
        x = dmath.floor(dmath.clamp(x * c + mean * (1.0 - c), 0.0, top))
        if ctx.channels == 3:
            grey = dmath.floor(gray(ctx, x) + 0.5)
            x = dmath.floor(dmath.clamp(x * s + grey * (1.0 - s), 0.0, top) + 0.5)
            x = hsv_adjust(ctx, x, hue=ctx.param("hue"))
        return pixels(ctx, x + 0.5, truncate=True), mask


register(OpSpec(ColorJitter, colour_only=True, albumentations=_color_jitter, dali=_DaliColorJitter, offline=True))


# --------------------------------------------------------------------------- hue_saturation_value


@dataclass(frozen=True)
class HueSaturationValue(StepParams):
    """Shift hue (degrees), saturation and value (in 0-255 units for uint8 images)."""

    op: ClassVar[str] = "hue_saturation_value"
    hue_shift: Range = (-20.0, 20.0)
    saturation_shift: Range = (-30.0, 30.0)
    value_shift: Range = (-20.0, 20.0)

    def check(self) -> None:
        check_range("hue_shift", self.hue_shift, -180.0, 180.0)
        check_range("saturation_shift", self.saturation_shift, -255.0, 255.0)
        check_range("value_shift", self.value_shift, -255.0, 255.0)


class _DaliHsv(DaliOp):
    """Hue rotation and additive saturation and value shifts (OpenCV 8-bit HSV units)."""

    inputs = ("hue", "saturation", "value")

    def feed(self, params, shape):
        if params is None:
            return {"hue": np.float32(0), "saturation": np.float32(0), "value": np.float32(0)}
        return {
            "hue": np.float32(params["hue_shift"] * 2.0),  # OpenCV's 8-bit hue counts 2-degree steps
            "saturation": np.float32(params["sat_shift"] / 255.0),
            "value": np.float32(params["val_shift"]),
        }

    def build(self, ctx, image, mask):
        if ctx.channels != 3:
            raise DataprepError(None, "hue_saturation_value needs 3-channel images")
        x = hsv_adjust(ctx, to_float(ctx, image), hue=ctx.param("hue"), saturation=ctx.param("saturation"),
                       value=ctx.param("value"))
        return pixels(ctx, x + 0.5, truncate=True), mask


register(OpSpec(HueSaturationValue, colour_only=True, dali=_DaliHsv, offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.HueSaturationValue(
                    hue_shift_limit=p.hue_shift, sat_shift_limit=p.saturation_shift,
                    val_shift_limit=p.value_shift, p=prob)))


# --------------------------------------------------------------------------- brightness_contrast


@dataclass(frozen=True)
class BrightnessContrast(StepParams):
    """Brightness shift and contrast factor, each drawn from [-x, x] (as albumentations RandomBrightnessContrast)."""

    op: ClassVar[str] = "brightness_contrast"
    brightness: Range = (-0.2, 0.2)
    contrast: Range = (-0.2, 0.2)

    def check(self) -> None:
        check_range("brightness", self.brightness, -1.0, 1.0)
        check_range("contrast", self.contrast, -1.0, 1.0)


class _DaliBrightnessContrast(DaliOp):
    """x * alpha + beta, truncated like albumentations' lookup table."""

    inputs = ("alpha", "beta")

    def feed(self, params, shape):
        if params is None:
            return {"alpha": np.float32(1.0), "beta": np.float32(0.0)}
        return {"alpha": np.float32(params["alpha"]), "beta": np.float32(params["beta"])}  # beta: pixel units

    def build(self, ctx, image, mask):
        x = to_float(ctx, image) * ctx.arith(ctx.param("alpha")) + ctx.arith(ctx.param("beta"))
        return pixels(ctx, x, truncate=True), mask


register(OpSpec(BrightnessContrast, colour_only=True, dali=_DaliBrightnessContrast, offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.RandomBrightnessContrast(
                    brightness_limit=p.brightness, contrast_limit=p.contrast, p=prob)))


# --------------------------------------------------------------------------- gaussian_blur


@dataclass(frozen=True)
class GaussianBlur(StepParams):
    op: ClassVar[str] = "gaussian_blur"
    sigma: Range = (0.1, 1.5)

    def check(self) -> None:
        check_range("sigma", self.sigma, 0.0, 20.0)
        check_positive("sigma", self.sigma[1])


class _DaliGaussianBlur(DaliOp):
    """DALI's kernel of the same size, with the sigma of albumentations' (normalized) kernel."""

    inputs = ("window", "sigma")

    def feed(self, params, shape):
        if params is None:
            return {"window": np.int32(1), "sigma": np.float32(1.0)}  # a 1-tap kernel: identity
        kernel = np.asarray(params["kernel"], np.float64)
        centre = (len(kernel) - 1) / 2
        sigma = math.sqrt(float(np.sum(kernel * (np.arange(len(kernel)) - centre) ** 2)) / float(kernel.sum()))
        return {"window": np.int32(len(kernel)), "sigma": np.float32(max(sigma, 1e-3))}

    def build(self, ctx, image, mask):
        image = ctx.fn.gaussian_blur(image, window_size=ctx.param("window"), sigma=ctx.param("sigma"))
        return image, mask


register(OpSpec(GaussianBlur, colour_only=True, dali=_DaliGaussianBlur, offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.GaussianBlur(
                    blur_limit=0, sigma_limit=p.sigma, p=prob)))  # kernel size derived from sigma


# --------------------------------------------------------------------------- gaussian_noise


@dataclass(frozen=True)
class GaussianNoise(StepParams):
    """Add Gaussian noise; its standard deviation drawn from `std` (a fraction of the pixel range)."""

    op: ClassVar[str] = "gaussian_noise"
    std: Range = (0.02, 0.08)
    mean: Range = (0.0, 0.0)
    per_channel: bool = True

    def check(self) -> None:
        check_range("std", self.std, 0.0, 1.0)
        check_range("mean", self.mean, -1.0, 1.0)


class _DaliGaussianNoise(DaliOp):
    """albumentations' noise map, drawn on the host, added on DALI's device.

    For 8-bit images albumentations (cv2.add of the noise cast to integers) adds
    the noise truncated toward zero; feeding it truncated gives identical pixels.
    """

    inputs = ("noise",)

    def feed(self, params, shape):
        if params is None:
            return {"noise": np.zeros(shape, np.float32)}
        noise = np.asarray(params["noise_map"], np.float32)
        if noise.ndim == 2:
            noise = noise[:, :, None]
        noise = np.broadcast_to(noise, shape)
        if self.max_value <= 255:
            noise = np.trunc(noise)
        return {"noise": np.ascontiguousarray(noise, dtype=np.float32)}

    def build(self, ctx, image, mask):
        x = to_float(ctx, image) + ctx.arith(ctx.param("noise"))
        return pixels(ctx, x, truncate=True), mask


# Online only: its drawn params are a whole noise map, too large to record per offline output.
register(OpSpec(GaussianNoise, colour_only=True, dali=_DaliGaussianNoise,
                albumentations=lambda p, prob, ctx: ctx.A.GaussNoise(
                    std_range=p.std, mean_range=p.mean, per_channel=p.per_channel, p=prob)))


# --------------------------------------------------------------------------- normalize


@dataclass(frozen=True)
class Normalize(StepParams):
    """Scale to float and normalize per channel; mean/std (0-255 units) default to those of stats.json."""

    op: ClassVar[str] = "normalize"
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def check(self) -> None:
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean/std: give both or neither")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError(f"std: every value must be > 0, got {list(self.std)}")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ValueError("mean/std: must have the same number of channels")


def _normalize(p: Normalize, prob: float, ctx: BuildContext):
    mean = p.mean if p.mean is not None else ctx.mean
    std = p.std if p.std is not None else ctx.std
    if mean is None or std is None:
        raise UsageError(
            ctx.source, f"step {ctx.index} (normalize): no mean/std; give them in the step or pass a stats.json"
        )
    # Raw pixel units with max_pixel_value=1 works for 8- and 16-bit images alike.
    return ctx.A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=1.0, p=prob)


class _DaliNormalize(DaliOp):
    """Done by the loader's final `crop_mirror_normalize` (an online recipe's normalize is always its last
    step, which the loader takes off the steps it compiles): nothing to do in the step graph."""

    def feed(self, params, shape):
        return {}

    def build(self, ctx, image, mask):
        return image, mask


# Not colour-only: a per-channel affine map that any image (any channel count) takes. Online only.
register(OpSpec(Normalize, albumentations=_normalize, dali=_DaliNormalize))

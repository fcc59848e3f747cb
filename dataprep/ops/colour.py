"""Photometric single-sample ops: they change image values only, never geometry or the mask."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import UsageError
from .dali_graph import DaliOp, gray, hsv_adjust, pixels, to_float
from .kernel import BuildContext
from .params import OpParams
from .spec import OpSpec, Range, StepParams, check_positive, check_range, register


# albumentations' blur, jitter, brightness/contrast and noise kernels have no int16 range (KeyError int16).
_NOT_INT16 = ("uint8", "uint16", "float32")


def _max_value(dtype: np.dtype) -> float:
    return {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(dtype), 1.0)


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))

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


@dataclass(frozen=True)
class Jitter(OpParams):
    """Factors, hue as a fraction of the colour wheel, and the order the four adjustments run in."""

    brightness: float
    contrast: float
    saturation: float
    hue: float
    order: tuple[int, ...] = (0, 1, 2, 3)


def _draw_jitter(p: ColorJitter, rng: np.random.Generator, shape, size) -> Jitter:
    factors = [_uniform(rng, (max(0.0, 1 - x), 1 + x)) for x in (p.brightness, p.contrast, p.saturation)]
    return Jitter(*factors, _uniform(rng, (-p.hue, p.hue)), tuple(int(i) for i in rng.permutation(4)))


def _jitter(p, d: Jitter, image, mask, built, ctx):
    if d.hue == 0 or image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] != 3:
        return built.apply(image, brightness=d.brightness, contrast=d.contrast, saturation=d.saturation,
                           hue=d.hue, order=list(d.order)), mask
    # albumentations' hue step hands uint16 to OpenCV's HSV conversion, which takes 8-bit and float only; the
    # other three steps run on uint16 as they are.
    factors = (d.brightness, d.contrast, d.saturation, d.hue)
    for i in d.order:
        image = _rotate_hue_16bit(image, d.hue) if i == 3 else built.transforms[i](image, factors[i])
    return image, mask


def _rotate_hue_16bit(image: np.ndarray, hue: float) -> np.ndarray:
    """albumentations' float hue rotation (OpenCV HSV, hue in degrees), on uint16 RGB in 0..65535 units, rounded."""
    import cv2

    hsv = cv2.cvtColor(image.astype(np.float32) / np.float32(65535.0), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + hue * 360.0, 360.0)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.clip(rgb * np.float32(65535.0) + np.float32(0.5), 0, 65535).astype(np.uint16)


class _DaliColorJitter(DaliOp):
    """torchvision semantics: brightness, contrast about the mean grey, saturation, hue (in that order)."""

    inputs = ("brightness", "contrast", "saturation", "hue")

    def feed(self, drawn: Jitter | None, shape):
        if drawn is None:
            return {"brightness": np.float32(1), "contrast": np.float32(1), "saturation": np.float32(1),
                    "hue": np.float32(0)}
        return {
            "brightness": np.float32(drawn.brightness),
            "contrast": np.float32(drawn.contrast),
            "saturation": np.float32(drawn.saturation),
            "hue": np.float32(drawn.hue * 360.0),  # fraction of the colour wheel -> degrees
        }

    def build(self, ctx, image, mask):
        import nvidia.dali.math as dmath

        b, c = (ctx.arith(ctx.param(n)) for n in ("brightness", "contrast"))
        top = ctx.max_value
        # Each stage rounds as albumentations does: LUTs truncate, cv2.addWeighted rounds.
        x = dmath.floor(dmath.clamp(to_float(ctx, image) * b, 0.0, top))
        mean = ctx.fn.reductions.mean(gray(ctx, x))
        x = dmath.floor(dmath.clamp(x * c + mean * (1.0 - c), 0.0, top))
        if ctx.channels == 3:  # gray images have no saturation or hue: those inputs stay unread (and unfed)
            s = ctx.arith(ctx.param("saturation"))
            grey = dmath.floor(gray(ctx, x) + 0.5)
            x = dmath.floor(dmath.clamp(x * s + grey * (1.0 - s), 0.0, top) + 0.5)
            x = hsv_adjust(ctx, x, hue=ctx.param("hue"))
        return pixels(ctx, x + 0.5, truncate=True), mask


register(OpSpec(ColorJitter, colour_only=True, cpu_pixel_types=_NOT_INT16, needs_rgb=True,
                albumentations=_color_jitter, dali=_DaliColorJitter, offline=True,
                draw=_draw_jitter, drawn=Jitter, kernel=_jitter))


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


@dataclass(frozen=True)
class HsvShift(OpParams):
    """Shifts in OpenCV's 8-bit HSV units (hue: 2-degree steps)."""

    hue: float
    saturation: float
    value: float


def _draw_hsv(p: HueSaturationValue, rng: np.random.Generator, shape, size) -> HsvShift:
    return HsvShift(_uniform(rng, p.hue_shift), _uniform(rng, p.saturation_shift), _uniform(rng, p.value_shift))


class _DaliHsv(DaliOp):
    """Hue rotation and additive saturation and value shifts (OpenCV 8-bit HSV units)."""

    inputs = ("hue", "saturation", "value")

    def feed(self, drawn: HsvShift | None, shape):
        if drawn is None:
            return {"hue": np.float32(0), "saturation": np.float32(0), "value": np.float32(0)}
        return {
            "hue": np.float32(drawn.hue * 2.0),  # OpenCV's 8-bit hue counts 2-degree steps
            "saturation": np.float32(drawn.saturation / 255.0),
            "value": np.float32(drawn.value),
        }

    def build(self, ctx, image, mask):
        if ctx.channels != 3:
            # albumentations shifts a gray image's value alone (hue and saturation mean nothing there): so here
            import nvidia.dali.math as dmath

            x = dmath.clamp(to_float(ctx, image) + ctx.arith(ctx.param("value")), 0.0, ctx.max_value)
            return pixels(ctx, x + 0.5, truncate=True), mask
        x = hsv_adjust(ctx, to_float(ctx, image), hue=ctx.param("hue"), saturation=ctx.param("saturation"),
                       value=ctx.param("value"))
        return pixels(ctx, x + 0.5, truncate=True), mask


register(OpSpec(HueSaturationValue, colour_only=True, needs_rgb=True, dali=_DaliHsv, offline=True,
                cpu_pixel_types=("uint8", "float32"),
                albumentations=lambda p, prob, ctx: ctx.A.HueSaturationValue(
                    hue_shift_limit=p.hue_shift, sat_shift_limit=p.saturation_shift,
                    val_shift_limit=p.value_shift, p=prob),
                draw=_draw_hsv, drawn=HsvShift,
                kernel=lambda p, d, image, mask, built, ctx: (built.apply(
                    image, hue_shift=d.hue, sat_shift=d.saturation, val_shift=d.value), mask)))


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


@dataclass(frozen=True)
class Gain(OpParams):
    """x * alpha + beta * (the dtype's maximum)."""

    alpha: float
    beta: float


def _draw_gain(p: BrightnessContrast, rng: np.random.Generator, shape, size) -> Gain:
    alpha = 1.0 + _uniform(rng, p.contrast)
    return Gain(alpha, _uniform(rng, p.brightness))


class _DaliBrightnessContrast(DaliOp):
    """x * alpha + beta, truncated like albumentations' lookup table."""

    inputs = ("alpha", "beta")

    def feed(self, drawn: Gain | None, shape):
        if drawn is None:
            return {"alpha": np.float32(1.0), "beta": np.float32(0.0)}
        return {"alpha": np.float32(drawn.alpha), "beta": np.float32(drawn.beta * self.max_value)}

    def build(self, ctx, image, mask):
        x = to_float(ctx, image) * ctx.arith(ctx.param("alpha")) + ctx.arith(ctx.param("beta"))
        return pixels(ctx, x, truncate=True), mask


register(OpSpec(BrightnessContrast, colour_only=True, cpu_pixel_types=_NOT_INT16, dali=_DaliBrightnessContrast,
                offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.RandomBrightnessContrast(
                    brightness_limit=p.brightness, contrast_limit=p.contrast, p=prob),
                draw=_draw_gain, drawn=Gain,
                kernel=lambda p, d, image, mask, built, ctx: (built.apply(
                    image, alpha=d.alpha, beta=d.beta * _max_value(image.dtype)), mask)))


# --------------------------------------------------------------------------- gaussian_blur


@dataclass(frozen=True)
class GaussianBlur(StepParams):
    op: ClassVar[str] = "gaussian_blur"
    sigma: Range = (0.1, 1.5)

    def check(self) -> None:
        check_range("sigma", self.sigma, 0.0, 20.0)
        check_positive("sigma", self.sigma[1])


@dataclass(frozen=True)
class Blur(OpParams):
    sigma: float


def blur_kernel(drawn: Blur) -> np.ndarray:
    """albumentations' 1-D kernel for `sigma` (its size derived from sigma)."""
    from albumentations.augmentations.blur import functional as fblur

    return fblur.create_gaussian_kernel_1d(drawn.sigma, 0)


class _DaliGaussianBlur(DaliOp):
    """DALI's kernel of the same size, with the sigma of albumentations' (normalized) kernel."""

    inputs = ("window", "sigma")

    def feed(self, drawn: Blur | None, shape):
        if drawn is None:
            return {"window": np.int32(1), "sigma": np.float32(1.0)}  # a 1-tap kernel: identity
        kernel = np.asarray(blur_kernel(drawn), np.float64)
        centre = (len(kernel) - 1) / 2
        sigma = math.sqrt(float(np.sum(kernel * (np.arange(len(kernel)) - centre) ** 2)) / float(kernel.sum()))
        return {"window": np.int32(len(kernel)), "sigma": np.float32(max(sigma, 1e-3))}

    def build(self, ctx, image, mask):
        image = ctx.fn.gaussian_blur(image, window_size=ctx.param("window"), sigma=ctx.param("sigma"))
        return image, mask


register(OpSpec(GaussianBlur, colour_only=True, cpu_pixel_types=_NOT_INT16, dali=_DaliGaussianBlur, offline=True,
                albumentations=lambda p, prob, ctx: ctx.A.GaussianBlur(
                    blur_limit=0, sigma_limit=p.sigma, p=prob),  # kernel size derived from sigma
                draw=lambda p, rng, shape, size: Blur(_uniform(rng, p.sigma)), drawn=Blur,
                kernel=lambda p, d, image, mask, built, ctx: (built.apply(image, kernel=blur_kernel(d)), mask)))


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


@dataclass(frozen=True)
class Noise(OpParams):
    """Standard deviation and mean (fractions of the pixel range) and the seed of the noise map."""

    std: float
    mean: float
    seed: int


def _draw_noise(p: GaussianNoise, rng: np.random.Generator, shape, size) -> Noise:
    return Noise(_uniform(rng, p.std), _uniform(rng, p.mean), int(rng.integers(2**31)))


def noise_map(p: GaussianNoise, drawn: Noise, shape, max_value: float) -> np.ndarray:
    """The noise albumentations' GaussNoise adds, generated by its own function from the drawn seed."""
    from albumentations.augmentations.pixel import functional as fpixel

    return fpixel.generate_noise(
        noise_type="gaussian", spatial_mode="per_pixel" if p.per_channel else "shared", shape=tuple(shape),
        params={"mean_range": (drawn.mean, drawn.mean), "std_range": (drawn.std, drawn.std)},
        max_value=max_value, approximation=1.0, random_generator=np.random.default_rng(drawn.seed),
    )


class _DaliGaussianNoise(DaliOp):
    """albumentations' noise map, drawn on the host, added on DALI's device.

    For 8-bit images albumentations (cv2.add of the noise cast to integers) adds
    the noise truncated toward zero; feeding it truncated gives identical pixels.
    """

    inputs = ("noise",)

    def feed(self, drawn: Noise | None, shape):
        if drawn is None:
            return {"noise": np.zeros(shape, np.float32)}
        noise = np.asarray(noise_map(self.params, drawn, shape, self.max_value), np.float32)
        if noise.ndim == 2:
            noise = noise[:, :, None]
        noise = np.broadcast_to(noise, shape)
        if self.max_value <= 255:
            noise = np.trunc(noise)
        return {"noise": np.ascontiguousarray(noise, dtype=np.float32)}

    def build(self, ctx, image, mask):
        x = to_float(ctx, image) + ctx.arith(ctx.param("noise"))
        return pixels(ctx, x, truncate=True), mask


def _add_noise(p: GaussianNoise, d: Noise, image, mask, built, ctx):
    noise = noise_map(p, d, image.shape, _max_value(image.dtype))
    if image.dtype != np.uint16:
        return built.apply(image, noise_map=noise), mask
    # albumentations' cv2.add refuses a float noise map on a 16-bit image: add in float, clip to the
    # type's range and truncate, as the DALI graph does.
    noise = noise[:, :, None] if noise.ndim < image.ndim else noise
    return np.clip(image + np.asarray(noise, np.float32), 0, 65535).astype(np.uint16), mask


# Online only: its drawn params are a whole noise map, too large to record per offline output.
register(OpSpec(GaussianNoise, colour_only=True, cpu_pixel_types=_NOT_INT16, dali=_DaliGaussianNoise,
                albumentations=lambda p, prob, ctx: ctx.A.GaussNoise(
                    std_range=p.std, mean_range=p.mean, per_channel=p.per_channel, p=prob),
                draw=_draw_noise, drawn=Noise, kernel=_add_noise))


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

    def feed(self, drawn, shape):
        return {}

    def build(self, ctx, image, mask):
        return image, mask


# Not colour-only: a per-channel affine map that any image (any channel count) takes. Online only.
register(OpSpec(Normalize, albumentations=_normalize, dali=_DaliNormalize))

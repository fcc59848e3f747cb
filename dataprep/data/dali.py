"""The DALI engine: the CPU engine's rows, order and random params, with DALI doing the pixel work.

Host side (Python threads), for each sample of a batch:
- the image file's bytes, which DALI decodes (8-bit RGB/gray JPEG and PNG), or
  the image decoded by dataprep.io for anything else (16-bit, RGBA, ...);
- the label map read with `io.read_mask`: DALI's decoder would turn palette PNGs,
  which is what `masks2labels` writes, into colours;
- the augmentation params, drawn by albumentations' own samplers
  (`get_params`/`get_params_dependent_on_data`) from the per-sample generators
  of (seed, epoch, index): the very draws the CPU engine makes for that sample.
All of it enters the graph through `fn.external_source`, in the order of
`epoch_order`, so shuffling and sharding are the CPU engine's too.

DALI side (GPU when available, else DALI's CPU backend): decode, then for each
recipe step the DALI ops that do what the albumentations transform does with
those params (masks: nearest neighbour, no antialiasing, fill = ignore index),
then `crop_mirror_normalize` to float CHW.

Geometry matches the CPU engine to rounding: crops are exact, resizes and warps
use the same pixel-centre conventions (cv2's matrices are converted to DALI's
corner-origin ones). Mask pixels can differ only where a source coordinate
falls within ~1/1000 pixel of the midpoint between two source pixels: cv2 works
in fixed point and DALI in float, so such ties may round to different
neighbours. Colour ops are DALI re-implementations of the albumentations
formulas: brightness_contrast is exact up to rounding; color_jitter applies
brightness, contrast, saturation, hue in that fixed order (albumentations
shuffles the order per sample; the first three commute up to clipping);
hue shifts use DALI's `hsv` operator (a rotation in YIQ space, close to but not
the same as OpenCV's HSV hue shift); gaussian_blur uses DALI's kernel of the
same size and a sigma matched to albumentations' kernel.

nvidia.dali is imported only when this engine is used.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import recipe as R
from ..albu import compile_albumentations
from ..contracts import DatasetInfo
from ..errors import DataprepError, UsageError
from ..io import PathLike, check_complete, check_manifest_size, read_image, read_info, read_mask
from ..manifest import Manifest
from .dataset import (
    MAX_VALUE,
    DataSpec,
    check_sharding,
    dataset_channels,
    describe_sizes,
    epoch_order,
    label_map,
    manifest_size,
    match_channels,
    resolve_spec,
    sample_rngs,
)
from .sampler import epoch_length, loader_repeat_factors, repeated_order

# Images DALI decodes itself: PIL mode -> channels.
_DALI_DECODABLE = {"RGB": 3, "L": 1}
_DALI_FORMATS = {"JPEG", "PNG"}


def require_dali() -> None:
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        raise DataprepError(
            None, "engine 'dali' needs NVIDIA DALI: pip install nvidia-dali-cuda120 (or dataprep[dali])"
        ) from None


# --------------------------------------------------------------------------- drawing params


class _Probe:
    """Stands in for the image while params are drawn: albumentations reads only its shape and dtype."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape = shape
        self.dtype = dtype


def draw_params(
    compose, shape: tuple[int, ...], dtype: np.dtype, np_rng, py_rng
) -> list[tuple[dict[str, Any] | None, tuple[int, ...]]]:
    """(params, input shape) for each transform of `compose` on an image of `shape`; params None: not applied.

    Consumes the generators exactly as `compose(image=...)` does, so with the
    same generators the CPU engine applies the same params. Sizes change along
    the way (crops, resizes); the shape passed to each transform follows them.
    """
    compose.set_random_state(np_rng, py_rng)
    py_rng.random()  # Compose.__call__ draws its own `p` first (p=1: the value is unused)
    out: list[tuple[dict[str, Any] | None, tuple[int, ...]]] = []
    for transform in compose.transforms:
        if not transform.should_apply():
            out.append((None, shape))
            continue
        probe = _Probe(shape, dtype)
        params = transform.update_transform_params(transform.get_params(), {"image": probe})
        params.update(transform.get_params_dependent_on_data(params, {"image": probe}))
        out.append((params, shape))
        shape = output_shape(transform, params, shape)
    return out


def output_shape(transform, params: Mapping[str, Any], shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape after an applied albumentations transform (for the shape-changing ones we compile to)."""
    import albumentations as A

    rest = tuple(shape[2:])
    if isinstance(transform, A.RandomResizedCrop):
        return (int(transform.size[0]), int(transform.size[1]), *rest)
    if isinstance(transform, A.Resize):
        return (int(transform.height), int(transform.width), *rest)
    if isinstance(transform, A.RandomCrop):
        x1, y1, x2, y2 = params["crop_coords"]
        return (y2 - y1, x2 - x1, *rest)
    if isinstance(transform, A.RandomScale):
        s = params["scale"]
        return (int(shape[0] * s), int(shape[1] * s), *rest)
    if isinstance(transform, A.Affine):
        h, w = params["output_shape"][:2]
        return (int(h), int(w), *rest)
    return shape


# --------------------------------------------------------------------------- per-step DALI ops


@dataclass
class _Ctx:
    """What the graph builders need besides the data."""

    fn: Any
    types: Any
    gpu: bool
    channels: int
    max_value: float
    ignore_index: int
    param: Callable[[str], Any]  # name -> external_source node (CPU)

    def arith(self, node):
        """A per-sample param node usable in arithmetic with (possibly GPU) image data."""
        return node.gpu() if self.gpu else node


class _Op:
    """One recipe step in DALI. `feed` turns drawn params (None: skipped) into per-sample inputs."""

    inputs: tuple[str, ...] = ()

    def __init__(self, step: R.Step, size: tuple[int, int] | None, max_value: float = 255.0) -> None:
        self.params = step.params
        self.size = size
        self.max_value = max_value

    def feed(self, params: dict[str, Any] | None, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def build(self, ctx: _Ctx, image, mask):
        raise NotImplementedError


def _f32(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def _resize(ctx: _Ctx, image, mask, out):
    fn, types = ctx.fn, ctx.types
    h, w = out[0], out[1]
    image = fn.resize(image, resize_y=h, resize_x=w, interp_type=types.INTERP_LINEAR, antialias=False)
    mask = fn.resize(mask, resize_y=h, resize_x=w, interp_type=types.INTERP_NN, antialias=False)
    return image, mask


class _ResizedCrop(_Op):
    """random_resized_crop: an exact crop, then a resize to the recipe size."""

    inputs = ("anchor", "shape", "out")

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is None:
            return {"anchor": _f32(0, 0), "shape": _f32(h, w), "out": _f32(h, w)}
        x1, y1, x2, y2 = params["crop_coords"]
        return {"anchor": _f32(y1, x1), "shape": _f32(y2 - y1, x2 - x1), "out": _f32(*self.size)}

    def build(self, ctx, image, mask):
        fn, anchor, shape, out = ctx.fn, ctx.param("anchor"), ctx.param("shape"), ctx.param("out")
        image = fn.slice(image, anchor, shape, axis_names="HW", normalized_anchor=False, normalized_shape=False)
        mask = fn.slice(mask, anchor, shape, axis_names="HW", normalized_anchor=False, normalized_shape=False)
        return _resize(ctx, image, mask, (out[0], out[1]))


class _Crop(_Op):
    """random_crop: a window that may reach outside the image (padding: image fill, mask ignore)."""

    inputs = ("anchor", "shape")

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is None:
            return {"anchor": _f32(0, 0), "shape": _f32(h, w)}
        x1, y1, x2, y2 = params["crop_coords"]
        pad = params.get("pad_params") or {}
        # albumentations pads first and crops the padded image; one slice in original coordinates is the same.
        top, left = pad.get("pad_top", 0), pad.get("pad_left", 0)
        return {"anchor": _f32(y1 - top, x1 - left), "shape": _f32(y2 - y1, x2 - x1)}

    def build(self, ctx, image, mask):
        fn, anchor, shape = ctx.fn, ctx.param("anchor"), ctx.param("shape")
        pad = {"axis_names": "HW", "normalized_anchor": False, "normalized_shape": False,
               "out_of_bounds_policy": "pad"}
        image = fn.slice(image, anchor, shape, fill_values=float(self.params.image_fill), **pad)
        mask = fn.slice(mask, anchor, shape, fill_values=float(ctx.ignore_index), **pad)
        return image, mask


class _Resize(_Op):
    """resize / random_scale: a resize to a size given per sample."""

    inputs = ("out",)

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is not None and isinstance(self.params, R.RandomScale):
            h, w = int(h * params["scale"]), int(w * params["scale"])  # albumentations truncates
        elif params is not None:
            h, w = self.size
        return {"out": _f32(h, w)}

    def build(self, ctx, image, mask):
        out = ctx.param("out")
        return _resize(ctx, image, mask, (out[0], out[1]))


class _Flip(_Op):
    inputs = ("flip",)

    def __init__(self, step, size, max_value, horizontal: bool) -> None:
        super().__init__(step, size, max_value)
        self.horizontal = horizontal

    def feed(self, params, shape):
        return {"flip": np.int32(params is not None)}

    def build(self, ctx, image, mask):
        flag = ctx.param("flip")
        kw = {"horizontal": flag, "vertical": 0} if self.horizontal else {"horizontal": 0, "vertical": flag}
        return ctx.fn.flip(image, **kw), ctx.fn.flip(mask, **kw)


def dali_matrix(forward: np.ndarray) -> np.ndarray:
    """albumentations' forward 3x3 matrix (pixel centres at integers) -> DALI's inverse 2x3 (pixel corners at 0)."""
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    return (shift @ np.linalg.inv(np.asarray(forward, np.float64)) @ unshift)[:2].astype(np.float32)


class _Warp(_Op):
    """rotate / affine: one warp with the matrix albumentations drew."""

    inputs = ("matrix", "out")

    def feed(self, params, shape):
        h, w = shape[:2]
        if params is None:
            return {"matrix": dali_matrix(np.eye(3)), "out": _f32(h, w)}
        out = params.get("output_shape", (h, w))
        return {"matrix": dali_matrix(params["matrix"]), "out": _f32(out[0], out[1])}

    def build(self, ctx, image, mask):
        fn, types = ctx.fn, ctx.types
        matrix, out = ctx.param("matrix"), ctx.param("out")
        image = fn.warp_affine(image, matrix=matrix, size=out, fill_value=float(self.params.image_fill),
                               interp_type=types.INTERP_LINEAR)
        mask = fn.warp_affine(mask, matrix=matrix, size=out, fill_value=float(ctx.ignore_index),
                              interp_type=types.INTERP_NN)
        return image, mask


def _to_float(ctx: _Ctx, image):
    return ctx.fn.cast(image, dtype=ctx.types.FLOAT)


def _pixels(ctx: _Ctx, x, *, truncate: bool):
    """Float pixels back to the image dtype, clipped; truncated like albumentations' LUTs or rounded like cv2."""
    import nvidia.dali.math as dmath

    x = dmath.clamp(x, 0.0, ctx.max_value)
    if truncate:
        x = dmath.floor(x)
    return ctx.fn.cast(x, dtype=ctx.types.UINT16 if ctx.max_value > 255 else ctx.types.UINT8)


def _gray(ctx: _Ctx, x):
    """Luma (H, W, 1) as OpenCV's RGB2GRAY; a 1-channel image is its own."""
    if ctx.channels == 1:
        return x
    return x[:, :, 0:1] * 0.299 + x[:, :, 1:2] * 0.587 + x[:, :, 2:3] * 0.114


def _hsv_adjust(ctx: _Ctx, x, *, hue=None, saturation=None, value=None):
    """Shift hue (degrees), add to saturation (0-1) and value (pixel units) of float RGB `x`, exactly in HSV.

    (DALI's own `hsv` operator rotates hue in YIQ space, tens of levels away
    from OpenCV's HSV hue for large shifts.)
    """
    import nvidia.dali.math as dmath

    fn, types = ctx.fn, ctx.types
    eps = 1e-6
    r, g, b = x[:, :, 0:1], x[:, :, 1:2], x[:, :, 2:3]
    v = dmath.max(dmath.max(r, g), b)
    chroma = v - dmath.min(dmath.min(r, g), b)
    c = dmath.max(chroma, eps)
    # Hue in sextants: which channel is the max decides the formula (R first, then G, as OpenCV).
    is_r = fn.cast(r >= v, dtype=types.FLOAT)
    is_g = fn.cast(g >= v, dtype=types.FLOAT) * (1.0 - is_r)
    h = is_r * ((g - b) / c) + is_g * ((b - r) / c + 2.0) + (1.0 - is_r - is_g) * ((r - g) / c + 4.0)
    if hue is not None:
        h = h + ctx.arith(hue) / 60.0
    s = chroma / dmath.max(v, eps)
    if saturation is not None:
        # Grey pixels (S = 0) stay grey, as in albumentations.
        s = fn.cast(chroma > 0.0, dtype=types.FLOAT) * dmath.clamp(s + ctx.arith(saturation), 0.0, 1.0)
    if value is not None:
        v = dmath.clamp(v + ctx.arith(value), 0.0, ctx.max_value)
    channels = []
    for n in (5.0, 3.0, 1.0):  # HSV -> RGB: channel = V - V*S*clamp(min(k, 4 - k), 0, 1), k = (n + H) mod 6
        k = n + h
        k = k - 6.0 * dmath.floor(k / 6.0)
        channels.append(v - v * s * dmath.clamp(dmath.min(k, 4.0 - k), 0.0, 1.0))
    return fn.cat(*channels, axis=2)


class _BrightnessContrast(_Op):
    """brightness_contrast: x * alpha + beta, truncated like albumentations' lookup table."""

    inputs = ("alpha", "beta")

    def feed(self, params, shape):
        if params is None:
            return {"alpha": np.float32(1.0), "beta": np.float32(0.0)}
        return {"alpha": np.float32(params["alpha"]), "beta": np.float32(params["beta"])}  # beta: pixel units

    def build(self, ctx, image, mask):
        x = _to_float(ctx, image) * ctx.arith(ctx.param("alpha")) + ctx.arith(ctx.param("beta"))
        return _pixels(ctx, x, truncate=True), mask


class _ColorJitter(_Op):
    """color_jitter (torchvision semantics): brightness, contrast about the mean grey, saturation, hue."""

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
        x = dmath.floor(dmath.clamp(_to_float(ctx, image) * b, 0.0, top))
        mean = ctx.fn.reductions.mean(_gray(ctx, x))
        x = dmath.floor(dmath.clamp(x * c + mean * (1.0 - c), 0.0, top))
        if ctx.channels == 3:
            gray = dmath.floor(_gray(ctx, x) + 0.5)
            x = dmath.floor(dmath.clamp(x * s + gray * (1.0 - s), 0.0, top) + 0.5)
            x = _hsv_adjust(ctx, x, hue=ctx.param("hue"))
        return _pixels(ctx, x + 0.5, truncate=True), mask


class _HueSaturationValue(_Op):
    """hue_saturation_value: hue rotation and additive saturation and value shifts (OpenCV 8-bit HSV units)."""

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
        x = _hsv_adjust(ctx, _to_float(ctx, image), hue=ctx.param("hue"), saturation=ctx.param("saturation"),
                        value=ctx.param("value"))
        return _pixels(ctx, x + 0.5, truncate=True), mask


class _GaussianBlur(_Op):
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


class _GaussianNoise(_Op):
    """gaussian_noise: albumentations' noise map, drawn on the host, added on DALI's device.

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
        x = _to_float(ctx, image) + ctx.arith(ctx.param("noise"))
        return _pixels(ctx, x, truncate=True), mask


def _make_op(step: R.Step, size: tuple[int, int] | None, max_value: float) -> _Op | None:
    params = step.params
    if isinstance(params, (R.HorizontalFlip, R.VerticalFlip)):
        return _Flip(step, size, max_value, horizontal=isinstance(params, R.HorizontalFlip))
    cls = _OPS.get(type(params))
    return cls(step, size, max_value) if cls is not None else None


_OPS: dict[type, type[_Op]] = {
    R.RandomResizedCrop: _ResizedCrop,
    R.RandomCrop: _Crop,
    R.Resize: _Resize,
    R.RandomScale: _Resize,
    R.Rotate: _Warp,
    R.Affine: _Warp,
    R.BrightnessContrast: _BrightnessContrast,
    R.ColorJitter: _ColorJitter,
    R.HueSaturationValue: _HueSaturationValue,
    R.GaussianBlur: _GaussianBlur,
    R.GaussianNoise: _GaussianNoise,
}


def compile_dali_ops(spec: DataSpec, max_value: float = 255.0) -> list[_Op]:
    """One `_Op` per online step; a step without a DALI implementation is a load-time error."""
    ops = []
    for index, step in enumerate(spec.steps, 1):
        op = _make_op(step, spec.size, max_value)
        if op is None:
            raise UsageError(spec.recipe_source, f"step {index} ({step.op}): not supported by the DALI engine")
        ops.append(op)
    return ops


# --------------------------------------------------------------------------- the loader


@dataclass(frozen=True)
class _ImageFormat:
    decode_on_dali: bool  # False: decoded on the host by dataprep.io
    channels: int
    dtype: np.dtype


def _probe_format(spec: DataSpec) -> _ImageFormat:
    """How images are decoded (the first row's kind decides) and the dataset's channels (`dataset_channels`)."""
    row = spec.rows[0]
    info = read_info(row.image)
    if info.format in _DALI_FORMATS and info.mode in _DALI_DECODABLE:
        channels = dataset_channels(spec.normalization, _DALI_DECODABLE[info.mode])
        return _ImageFormat(True, channels, np.dtype(np.uint8))
    image = read_image(row.image, expect=manifest_size(row))
    return _ImageFormat(False, dataset_channels(spec.normalization, int(image.shape[2])), image.dtype)


def check_dali_input(spec: DataSpec) -> None:
    """DALI's graph handles 1- and 3-channel 8/16-bit images; other data is refused in one line, never decoded grey."""
    row = spec.rows[0]
    image = read_image(row.image, expect=manifest_size(row))
    if image.shape[2] not in (1, 3) or image.dtype not in (np.uint8, np.uint16):
        raise UsageError(str(row.image), f"the DALI engine reads 1- or 3-channel 8/16-bit images, this one has "
                         f"{image.shape[2]} band(s) of {image.dtype}; use the cpu engine")


class DaliLoader:
    """Batches from a DALI pipeline, in the same format, order and augmentation as the CPU engine."""

    engine = "dali"

    def __init__(
        self,
        manifest: Manifest | PathLike,
        recipe: R.Recipe | PathLike | Mapping[str, Any] | None = None,
        stats: Mapping[str, Any] | PathLike | None = None,
        *,
        fold: int | None = None,
        split: str | None = None,
        seed: int = 0,
        ignore_index: int | None = None,
        batch_size: int = 8,
        shuffle: bool = True,
        num_threads: int = 2,
        drop_last: bool = False,
        shard_id: int = 0,
        num_shards: int = 1,
        device: torch.device | str | None = None,
        class_balance: float | None = None,
        info: DatasetInfo | None = None,
    ) -> None:
        check_sharding(shard_id, num_shards)
        self.spec = resolve_spec(
            manifest, recipe, stats, fold=fold, split=split, seed=seed, ignore_index=ignore_index, engine=R.DALI,
            info=info,
        )
        check_dali_input(self.spec)  # before require_dali: the data, not the install, is the problem
        require_dali()
        self.ops = compile_dali_ops(self.spec)  # fails early on unsupported steps; rebuilt below for 16-bit
        self.factors = loader_repeat_factors(self.spec.rows, stats, class_balance)
        # Used only to draw params (never to transform pixels), with the CPU engine's samplers.
        self._compose = compile_albumentations(
            self.spec.steps, size=self.spec.size, ignore_index=self.spec.ignore_index, source=self.spec.recipe_source
        ) if self.spec.steps else None
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.shard_id = shard_id
        self.num_shards = num_shards
        self.num_threads = num_threads
        self.epoch = 0
        self.device_id = _device_id(device)
        self.format = _probe_format(self.spec)
        self.max_value = MAX_VALUE.get(self.format.dtype, 255.0)
        if self.max_value != 255.0:
            self.ops = compile_dali_ops(self.spec, self.max_value)
        self.mean, self.std = self.spec.normalization.values(self.format.channels, self.max_value)
        self.mask_dtype = np.dtype(np.uint16 if self.spec.ignore_index > 255 else np.uint8)
        self._pipe = None
        self._io_pool: ThreadPoolExecutor | None = None
        self._prep_pool: ThreadPoolExecutor | None = None

    # ---- the loader protocol

    @property
    def ids(self) -> list[str]:
        """Ids of all rows this loader reads from (before sharding)."""
        return [r.id for r in self.spec.rows]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        if self.factors is not None:
            return repeated_order(self.factors, seed=self.spec.seed, epoch=self.epoch, shuffle=self.shuffle,
                                  shard_id=self.shard_id, num_shards=self.num_shards)
        return epoch_order(len(self.spec.rows), seed=self.spec.seed, epoch=self.epoch, shuffle=self.shuffle,
                           shard_id=self.shard_id, num_shards=self.num_shards)

    def __len__(self) -> int:
        total = epoch_length(self.factors) if self.factors is not None else len(self.spec.rows)
        n = -(-total // self.num_shards)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        epoch = self.epoch
        order = self.indices()
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if not batches:
            return
        pipe = self._pipeline()
        prep = self._pools()[1]
        pending: Future = prep.submit(self._host_batch, epoch, batches[0])
        try:
            for k in range(len(batches)):
                inputs = pending.result()
                if k + 1 < len(batches):
                    # Read the next batch's files while DALI works on this one.
                    pending = prep.submit(self._host_batch, epoch, batches[k + 1])
                try:
                    for name, data in inputs.items():
                        pipe.feed_input(name, data)
                    outputs = pipe.run()
                except Exception:
                    self._pipe = None  # a failed DALI pipeline cannot run again; the next epoch builds a new one
                    raise
                yield self._to_torch(outputs)
        finally:
            pending.cancel()

    # ---- host side

    def _pools(self) -> tuple[ThreadPoolExecutor, ThreadPoolExecutor]:
        if self._io_pool is None:
            self._io_pool = ThreadPoolExecutor(self.num_threads, thread_name_prefix="dataprep-dali-io")
            self._prep_pool = ThreadPoolExecutor(1, thread_name_prefix="dataprep-dali-prep")
        return self._io_pool, self._prep_pool  # type: ignore[return-value]

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
        row = self.spec.rows[index]
        expect = manifest_size(row)
        if self.format.decode_on_dali:
            reason = check_complete(row.image)
            if reason:
                raise DataprepError(row.image, reason)
            try:
                data = np.fromfile(row.image, dtype=np.uint8)
            except FileNotFoundError:
                raise DataprepError(row.image, "file not found") from None
            info = read_info(row.image)
            check_manifest_size(row.image, (info.width, info.height), expect)  # before DALI decodes it
            if self.format.channels == 1 and info.mode != "L":
                # DALI's GRAY output would turn it gray without a word.
                raise DataprepError(row.image, f"{info.mode} image, but the dataset's images have 1 channel (as its "
                                               "first image); one Dataset needs one kind")
            shape: tuple[int, ...] = (info.height, info.width, self.format.channels)
            image = data
        else:
            image = read_image(row.image, expect=expect)
            if image.dtype != self.format.dtype:
                raise DataprepError(
                    row.image, f"{image.dtype} image, but the first image of the manifest is {self.format.dtype}; "
                    "one pipeline needs one kind",
                )
            image = match_channels(image, self.format.channels, row.image)
            shape = image.shape
        if row.mask is None:
            raise DataprepError(row.image, "no mask for this image; the Dataset needs label maps")
        mask = label_map(read_mask(row.mask, expect=expect), row.mask)
        if mask.shape != tuple(shape[:2]):
            raise DataprepError(
                row.mask, f"mask is {mask.shape[1]}x{mask.shape[0]} but its image {Path(row.image).name} is "
                f"{shape[1]}x{shape[0]}",
            )
        if mask.dtype != self.mask_dtype:
            if mask.size and int(mask.max()) > np.iinfo(self.mask_dtype).max:
                raise DataprepError(row.mask, f"label values up to {int(mask.max())} do not fit {self.mask_dtype}")
            mask = mask.astype(self.mask_dtype)
        return image, mask[:, :, None], tuple(shape)

    def _host_batch(self, epoch: int, indices: np.ndarray) -> dict[str, list[np.ndarray]]:
        io_pool = self._pools()[0]
        read = list(io_pool.map(self._read, [int(i) for i in indices]))
        inputs: dict[str, list[np.ndarray]] = {"image": [], "mask": [], "index": []}
        for name in self._param_names():
            inputs[name] = []
        for index, (image, mask, shape) in zip(indices, read):
            inputs["image"].append(image)
            inputs["mask"].append(mask)
            inputs["index"].append(np.int64(index))
            for name, value in self._sample_inputs(epoch, int(index), shape).items():
                inputs[name].append(value)
        return inputs

    def _param_names(self) -> list[str]:
        return [f"s{k}_{name}" for k, op in enumerate(self.ops) for name in op.inputs]

    def _sample_inputs(self, epoch: int, index: int, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
        """Per-sample op inputs from the params albumentations draws for (seed, epoch, index)."""
        if not self.ops:
            return {}
        np_rng, py_rng = sample_rngs(self.spec.seed, epoch, index)
        drawn = draw_params(self._compose, shape, self.format.dtype, np_rng, py_rng)
        values: dict[str, np.ndarray] = {}
        for k, (op, (params, in_shape)) in enumerate(zip(self.ops, drawn)):
            for name, value in op.feed(params, in_shape).items():
                values[f"s{k}_{name}"] = value
        return values

    # ---- DALI side

    def _pipeline(self):
        if self._pipe is not None:
            return self._pipe
        from nvidia.dali import fn, types
        from nvidia.dali.pipeline import Pipeline

        gpu = self.device_id is not None
        # Batches are fed one at a time (feed_input, then run): depth 1 keeps feeding and running in step.
        pipe = Pipeline(batch_size=self.batch_size, num_threads=self.num_threads, device_id=self.device_id,
                        seed=self.spec.seed & 0x7FFFFFFF, prefetch_queue_depth=1)
        with pipe:
            if self.format.decode_on_dali:
                encoded = fn.external_source(name="image", dtype=types.UINT8, ndim=1)
                # On the GPU, libjpeg-turbo's chroma upsampling keeps pixels equal to the CPU decoders'.
                extra = {"jpeg_fancy_upsampling": True} if gpu else {}
                image = fn.decoders.image(
                    encoded, device="mixed" if gpu else "cpu",
                    output_type=types.RGB if self.format.channels == 3 else types.GRAY, **extra,
                )
            else:
                image = fn.external_source(name="image", layout="HWC", ndim=3,
                                           dtype=types.UINT16 if self.format.dtype == np.uint16 else types.UINT8)
                image = image.gpu() if gpu else image
            mask = fn.external_source(name="mask", layout="HWC", ndim=3,
                                      dtype=types.UINT16 if self.mask_dtype == np.uint16 else types.UINT8)
            mask = mask.gpu() if gpu else mask
            index = fn.external_source(name="index", dtype=types.INT64, ndim=0)
            for k, op in enumerate(self.ops):
                nodes = {name: fn.external_source(name=f"s{k}_{name}") for name in op.inputs}
                ctx = _Ctx(fn, types, gpu, self.format.channels, self.max_value, self.spec.ignore_index,
                           nodes.__getitem__)
                image, mask = op.build(ctx, image, mask)
            image = fn.crop_mirror_normalize(image, dtype=types.FLOAT, output_layout="CHW",
                                             mean=self.mean.tolist(), std=self.std.tolist())
            pipe.set_outputs(image, mask, index)
        pipe.build()
        self._pipe = pipe
        return pipe

    def _to_torch(self, outputs) -> dict[str, Any]:
        image, mask, index = outputs
        ids = [self.spec.rows[int(i)].id for i in np.asarray(index.as_array()).reshape(-1)]
        if not (image.is_dense_tensor() and mask.is_dense_tensor()):
            shapes = [tuple(image[i].shape()) for i in range(len(image))]
            raise DataprepError(
                None, f"cannot batch samples of different sizes ({describe_sizes(ids, shapes)}); "
                "add a resize or crop step with a recipe `size`, or use batch_size=1",
            )
        return {"image": _tensor(image, self.device_id), "mask": _tensor(mask, self.device_id)[..., 0].long(),
                "id": ids}

    def close(self) -> None:
        """Release the pipeline and host threads (also done when the loader is garbage collected)."""
        self._pipe = None
        for pool in (self._io_pool, self._prep_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        self._io_pool = self._prep_pool = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: modules may already be gone
            pass


def _tensor(tensor_list, device_id: int | None) -> torch.Tensor:
    """A DALI TensorList (dense) as a torch tensor on the pipeline's device (a copy: DALI reuses its buffers)."""
    if device_id is None:
        return torch.from_numpy(np.array(tensor_list.as_array()))
    from nvidia.dali.plugin.pytorch import feed_ndarray, to_torch_type

    dense = tensor_list.as_tensor()
    out = torch.empty(dense.shape(), dtype=to_torch_type[dense.dtype], device=torch.device("cuda", device_id))
    feed_ndarray(dense, out, cuda_stream=torch.cuda.current_stream(device_id))
    return out


def _device_id(device: torch.device | str | None) -> int | None:
    """The GPU the pipeline runs on, or None for DALI's CPU backend."""
    if device is None:
        return torch.cuda.current_device() if _cuda_usable() else None
    device = torch.device(device)
    if device.type == "cpu":
        return None
    if device.type != "cuda":
        raise DataprepError(None, f"the DALI engine runs on CUDA devices or the CPU, not {device}")
    if not _cuda_usable():
        raise DataprepError(None, f"device {device} asked for, but CUDA is not available to torch")
    return device.index if device.index is not None else torch.cuda.current_device()


def _cuda_usable() -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() > 0

"""The DALI side of the ops: per-step graph nodes, the helpers they share, and their params feed.

The DALI engine (dataprep.data.dali) draws each sample's typed params with
`dataprep.ops.steps.CompiledSteps.draw` from the per-sample generator of (seed,
epoch, index): the very params the CPU engine applies to that sample. Each
step's `DaliOp` (declared beside the op, in its spec) turns those params into
per-sample inputs (`feed`) and builds the DALI ops that do what the CPU kernel
does with them (`build`; masks: nearest neighbour, no antialiasing, fill =
ignore index).

Geometry matches the CPU engine to rounding: crops are exact, resizes and warps
use the same pixel-centre conventions (cv2's matrices are converted to DALI's
corner-origin ones). Mask pixels can differ only where a source coordinate
falls within ~1/1000 pixel of the midpoint between two source pixels: cv2 works
in fixed point and DALI in float, so such ties may round to different
neighbours. Colour ops are DALI re-implementations of the albumentations
formulas: brightness_contrast is exact up to rounding; color_jitter applies
brightness, contrast, saturation, hue in that fixed order (albumentations
shuffles the order per sample; the first three commute up to clipping);
hue shifts are computed exactly in HSV in float; gaussian_blur uses DALI's
kernel of the same size and a sigma matched to albumentations' kernel.

nvidia.dali is imported only when a graph is built.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError
from .params import OpParams
from .spec import Shape, StepParams, spec_of

@dataclass
class Ctx:
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


class DaliOp:
    """One recipe step in DALI. `feed` turns drawn params (None: skipped) into per-sample inputs."""

    inputs: tuple[str, ...] = ()

    def __init__(self, params: StepParams, size: tuple[int, int] | None, max_value: float = 255.0) -> None:
        self.params = params
        self.size = size
        self.max_value = max_value

    def feed(self, drawn: OpParams | None, shape: Shape) -> dict[str, np.ndarray]:
        """Per-sample inputs for the step's drawn params (None: the step does not run) on an input of `shape`."""
        raise NotImplementedError

    def build(self, ctx: Ctx, image, mask):
        raise NotImplementedError


def compile_dali_ops(
    steps: Sequence[Any], size: tuple[int, int] | None, *, max_value: float = 255.0, source: str | None = None
) -> list[DaliOp]:
    """One `DaliOp` per online step; a step whose spec has no DALI implementation is a load-time error."""
    ops = []
    for index, step in enumerate(steps, 1):
        cls = spec_of(step.params).dali
        if cls is None:
            raise UsageError(source, f"step {index} ({step.op}): not supported by the DALI engine")
        ops.append(cls(step.params, size, max_value))
    return ops


def input_name(k: int, name: str) -> str:
    """The `external_source` name of input `name` of step `k` (0-based)."""
    return f"s{k}_{name}"


def build_steps(ops: Sequence[DaliOp], image, mask, *, fn, types, gpu: bool, channels: int, max_value: float,
                ignore_index: int, used: set[str] | None = None):
    """Inside a pipeline definition: every op's nodes, each fed by its own `external_source`s (`input_name`).

    `used` receives the input names the graph reads. DALI prunes an `external_source` nothing
    reads, and feeding it fails (color_jitter's saturation and hue on gray images: a KeyError
    from DALI's internals), so the feeder feeds only these.
    """
    for k, op in enumerate(ops):
        nodes = {name: fn.external_source(name=input_name(k, name)) for name in op.inputs}

        def param(name: str, k: int = k, nodes: dict = nodes):
            if used is not None:
                used.add(input_name(k, name))
            return nodes[name]

        ctx = Ctx(fn, types, gpu, channels, max_value, ignore_index, param)
        image, mask = op.build(ctx, image, mask)
    return image, mask


# --------------------------------------------------------------------------- helpers of the ops' graphs


def f32(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def resize(ctx: Ctx, image, mask, out):
    fn, types = ctx.fn, ctx.types
    h, w = out[0], out[1]
    image = fn.resize(image, resize_y=h, resize_x=w, interp_type=types.INTERP_LINEAR, antialias=False)
    mask = fn.resize(mask, resize_y=h, resize_x=w, interp_type=types.INTERP_NN, antialias=False)
    return image, mask


def dali_matrix(forward: np.ndarray) -> np.ndarray:
    """albumentations' forward 3x3 matrix (pixel centres at integers) -> DALI's inverse 2x3 (pixel corners at 0)."""
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    return (shift @ np.linalg.inv(np.asarray(forward, np.float64)) @ unshift)[:2].astype(np.float32)


def to_float(ctx: Ctx, image):
    return ctx.fn.cast(image, dtype=ctx.types.FLOAT)


def pixels(ctx: Ctx, x, *, truncate: bool):
    """Float pixels back to the image dtype, clipped; truncated like albumentations' LUTs or rounded like cv2."""
    import nvidia.dali.math as dmath

    x = dmath.clamp(x, 0.0, ctx.max_value)
    if truncate:
        x = dmath.floor(x)
    return ctx.fn.cast(x, dtype=ctx.types.UINT16 if ctx.max_value > 255 else ctx.types.UINT8)


def gray(ctx: Ctx, x):
    """Luma (H, W, 1) as OpenCV's RGB2GRAY; a 1-channel image is its own."""
    if ctx.channels == 1:
        return x
    return x[:, :, 0:1] * 0.299 + x[:, :, 1:2] * 0.587 + x[:, :, 2:3] * 0.114


def hsv_adjust(ctx: Ctx, x, *, hue=None, saturation=None, value=None):
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

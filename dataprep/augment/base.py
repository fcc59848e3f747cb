"""What every offline op shares: its params record, its registry entry and array helpers.

An op is two functions. `sample(rng, inputs, step, size) -> XParams` is the only
place randomness enters (it may look at masks, e.g. for class-aware crops);
`apply(inputs, p) -> Sample` is pure, so the same params move image and mask
alike and a recorded params dict replays an output exactly.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import DataprepError
from ..ops.params import OpParams
from ..recipe import StepParams
from ..sample import Sample

Size = tuple[int, int]  # (height, width)


Sampler = Callable[[np.random.Generator, Sequence[Sample], StepParams, Size], OpParams]
Applier = Callable[[Sequence[Sample], OpParams], Sample]


@dataclass(frozen=True)
class Op:
    """A registry entry: how many samples the op takes, its sampler, its pure apply.

    `uses_partners` says from the sampled params whether the partners gave any
    pixel (a copy-paste that found no object did not): the others are not
    recorded as sources. None: they always do.
    """

    name: str
    inputs: int
    sample: Sampler
    apply: Applier
    params_type: type[OpParams]
    uses_partners: Callable[[OpParams], bool] | None = None
    # The sampler takes the run's `single.Kernels` as keyword `kernels` (data derived once per run).
    takes_kernels: bool = False


# --------------------------------------------------------------------------- array helpers


def crop_pad(array: np.ndarray, y: int, x: int, height: int, width: int, fill: int | float) -> np.ndarray:
    """The window [y, y+height) x [x, x+width) of `array`; parts outside the array are `fill`.

    Negative `y`/`x` or windows past the far edge pad, so one function does crop,
    pad and place-on-canvas alike, with no interpolation (masks stay exact).
    """
    h, w = array.shape[:2]
    out = np.full((height, width, *array.shape[2:]), fill, dtype=array.dtype)
    sy0, sx0 = max(y, 0), max(x, 0)
    sy1, sx1 = min(y + height, h), min(x + width, w)
    if sy1 > sy0 and sx1 > sx0:
        out[sy0 - y : sy1 - y, sx0 - x : sx1 - x] = array[sy0:sy1, sx0:sx1]
    return out


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize keeping (H, W, C) and dtype."""
    if image.shape[:2] == (height, width):
        return image
    out = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
    return out.reshape(height, width, image.shape[2])


def nearest_index(src: int, dst: int, start: int = 0, count: int | None = None) -> np.ndarray:
    """Source indices for destination pixels start..start+count of a src->dst resize.

    Pixel centres are aligned (floor((d + 0.5) * src / dst)), the same convention as
    bilinear image resizing, so a nearest-neighbour mask lands where the image
    content does (cv2.INTER_NEAREST is off by half a pixel). Computed in integers,
    floor(((2d + 1) * src) / (2 * dst)), which is the same value without float rounding.
    """
    count = dst - start if count is None else count
    d = np.arange(start, start + count, dtype=np.intp)
    index = ((2 * d + 1) * src) // (2 * dst)
    if start < 0 or start + count > dst:  # outside the destination: clamp to the edge pixels
        np.clip(index, 0, src - 1, out=index)
    return index


def resize_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a (H, W) label map or (H, W, C) colour mask, centre-aligned; labels never mix."""
    h, w = mask.shape[:2]
    if (h, w) == (height, width):
        return mask
    # Two 1-D gathers: several times faster than one broadcast (np.ix_-style) index.
    return mask.take(nearest_index(h, height), axis=0).take(nearest_index(w, width), axis=1)


def widen_to_colour(target: Sample, others: Sequence[Sample]) -> Sample:
    """`target` with its grayscale image repeated to RGB when any of `others` is RGB: combining never loses colour."""
    if target.image.shape[2] == 1 and any(o.image.shape[2] == 3 for o in others):
        return dataclasses.replace(target, image=np.repeat(target.image, 3, axis=2))
    return target


def conform_channels(donor: Sample, target: Sample) -> np.ndarray:
    """The donor's image with the target's channel count (gray is repeated); dtypes must agree.

    Callers widen a grayscale target first (`widen_to_colour`), so a colour donor is never made gray.
    """
    image = donor.image
    if image.dtype != target.image.dtype:
        raise DataprepError(
            donor.meta.image_path or donor.meta.id,
            f"image is {image.dtype} but {target.meta.id} is {target.image.dtype}; cannot combine them",
        )
    c, tc = image.shape[2], target.image.shape[2]
    if c != tc:
        if c != 1:
            raise DataprepError(
                donor.meta.image_path or donor.meta.id,
                f"image has {c} channels but {target.meta.id} has {tc}; cannot combine them",
            )
        image = np.repeat(image, tc, axis=2)
    return image


def conform(donor: Sample, target: Sample) -> tuple[np.ndarray, np.ndarray]:
    """The donor's image and mask at the target's size, channel count and mask dtype."""
    th, tw = target.height, target.width
    image = resize_image(conform_channels(donor, target), th, tw)
    mask = resize_mask(require_mask(donor), th, tw)
    return image, mask.astype(np.result_type(mask.dtype, require_mask(target).dtype), copy=False)


def require_mask(sample: Sample) -> np.ndarray:
    if sample.mask is None:
        raise DataprepError(sample.meta.image_path or sample.meta.id, "has no mask; offline augmentation needs one")
    return sample.mask


def mask_dtype(inputs: Sequence[Sample]) -> np.dtype:
    """The dtype that holds every input's labels (uint8 unless one is uint16)."""
    return np.result_type(*(require_mask(s).dtype for s in inputs))


def ignore_of(inputs: Sequence[Sample]) -> int:
    return int(inputs[0].meta.ignore_index)


def uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def record(params: OpParams) -> dict[str, Any]:
    """Params as stored in a sample's history."""
    return params.to_dict()

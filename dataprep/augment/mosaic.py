"""Mosaic: four samples on one canvas of the output size, split at a random centre.

Each quadrant shows one sample scaled by its own factor; the sample's corner
that touches the centre stays there (YOLO style), and when the scaled sample is
larger than its quadrant a random window of it is shown. Only that window is
computed: images bilinearly (cv2.warpAffine over the window, pixel centres
aligned as in a whole-image resize), masks by centre-aligned nearest neighbour
through the same window, so labels follow pixels exactly.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..recipe import Mosaic
from ..sample import Sample
from .base import (
    OpParams, Size, conform_channels, ignore_of, mask_dtype, nearest_index, record, require_mask, resize_image,
    uniform, widen_to_colour,
)


@dataclass(frozen=True)
class Tile(OpParams):
    """Sample scaled to `scaled_height` x `scaled_width`, window at (`y`, `x`) of that scaled sample."""

    scaled_height: int
    scaled_width: int
    y: int
    x: int


@dataclass(frozen=True)
class MosaicParams(OpParams):
    height: int
    width: int
    center_y: int
    center_x: int
    tiles: tuple[Tile, Tile, Tile, Tile]  # top-left, top-right, bottom-left, bottom-right
    image_fill: int | float
    ignore_index: int


def _quadrants(height: int, width: int, cy: int, cx: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of each quadrant on the canvas."""
    return [(0, 0, cy, cx), (0, cx, cy, width - cx), (cy, 0, height - cy, cx), (cy, cx, height - cy, width - cx)]


def _window_start(rng: np.random.Generator, scaled: int, quadrant: int, centre_at_end: bool) -> int:
    if scaled >= quadrant:
        return int(rng.integers(0, scaled - quadrant + 1))
    # Smaller than its quadrant: keep it against the centre, pad on the outer side.
    return scaled - quadrant if centre_at_end else 0


def grey_fill(dtype: np.dtype) -> int | float:
    """YOLO's grey, 114 of 255, at the same place in the range of `dtype`: a fixed 114 was black on 16-bit
    images and, on 0..1 float ones, 114 times the brightest pixel (every mosaic's gaps an outlier for stats and
    training). int16 data (elevations, SAR) has no grey: 0."""
    if dtype == np.uint8:
        return 114
    if dtype == np.uint16:
        return 114 * 257
    return 114 / 255 if dtype.kind == "f" else 0


def sample_mosaic(rng: np.random.Generator, inputs: Sequence[Sample], step: Mosaic, size: Size) -> MosaicParams:
    height, width = size
    center_y = int(round(uniform(rng, step.center) * height))
    center_x = int(round(uniform(rng, step.center) * width))
    tiles = []
    for k, ((_, _, qh, qw), src) in enumerate(zip(_quadrants(height, width, center_y, center_x), inputs)):
        fit = min(height / src.height, width / src.width)
        s = fit * uniform(rng, step.scale)
        sh, sw = max(1, int(round(src.height * s))), max(1, int(round(src.width * s)))
        y = _window_start(rng, sh, qh, centre_at_end=k in (0, 1))
        x = _window_start(rng, sw, qw, centre_at_end=k in (0, 2))
        tiles.append(Tile(sh, sw, y, x))
    fill = grey_fill(inputs[0].image.dtype) if step.image_fill is None else step.image_fill
    return MosaicParams(height, width, center_y, center_x, tuple(tiles),  # type: ignore[arg-type]
                        fill, ignore_of(inputs))


def scaled_window(image: np.ndarray, scaled: Size, y: int, x: int, height: int, width: int) -> np.ndarray:
    """Rows y..y+height, columns x..x+width of `image` bilinearly resized to `scaled`, computing only
    that window (pixel centres aligned, edges replicated, as a whole-image resize would)."""
    h, w, channels = image.shape
    if scaled == (h, w):
        return image[y : y + height, x : x + width]
    if channels > 4:  # beyond warpAffine: resize the whole image, then cut the window
        return resize_image(image, *scaled)[y : y + height, x : x + width]
    ay, ax = h / scaled[0], w / scaled[1]
    matrix = np.array([[ax, 0.0, (x + 0.5) * ax - 0.5], [0.0, ay, (y + 0.5) * ay - 0.5]])
    out = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(height, width, channels)


def scaled_mask_window(mask: np.ndarray, scaled: Size, y: int, x: int, height: int, width: int) -> np.ndarray:
    """The same window of `mask` resized to `scaled` by centre-aligned nearest neighbour: two 1-D gathers."""
    rows = nearest_index(mask.shape[0], scaled[0], y, height)
    cols = nearest_index(mask.shape[1], scaled[1], x, width)
    if height * mask.shape[1] <= mask.shape[0] * width:  # gather along the axis that leaves less
        return mask.take(rows, axis=0).take(cols, axis=1)
    return mask.take(cols, axis=1).take(rows, axis=0)


def apply_mosaic(inputs: Sequence[Sample], p: MosaicParams) -> Sample:
    first = widen_to_colour(inputs[0], inputs[1:])
    channels = first.image.shape[2]
    image = np.full((p.height, p.width, channels), p.image_fill, dtype=first.image.dtype)
    mask = np.full((p.height, p.width), p.ignore_index, dtype=mask_dtype(inputs))
    for (top, left, qh, qw), tile, src in zip(_quadrants(p.height, p.width, p.center_y, p.center_x), p.tiles, inputs):
        # The part of the quadrant's window that the scaled sample covers; the rest stays fill.
        y0, y1 = max(tile.y, 0), min(tile.y + qh, tile.scaled_height)
        x0, x1 = max(tile.x, 0), min(tile.x + qw, tile.scaled_width)
        if qh <= 0 or qw <= 0 or y1 <= y0 or x1 <= x0:
            continue
        scaled = (tile.scaled_height, tile.scaled_width)
        dst = (slice(top + y0 - tile.y, top + y1 - tile.y), slice(left + x0 - tile.x, left + x1 - tile.x))
        # Crop first, then scale only the window: the cost follows the quadrant, not the source.
        image[dst] = scaled_window(conform_channels(src, first), scaled, y0, x0, y1 - y0, x1 - x0)
        mask[dst] = scaled_mask_window(require_mask(src), scaled, y0, x0, y1 - y0, x1 - x0)
    return first.evolve(image, mask, "mosaic", record(p))

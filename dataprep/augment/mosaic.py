"""Mosaic: four samples on one canvas of the output size, split at a random centre.

Each quadrant shows one sample scaled by its own factor; the sample's corner
that touches the centre stays there (YOLO style), and when the scaled sample is
larger than its quadrant a random window of it is shown. Images are resized
bilinearly, masks by centre-aligned nearest neighbour, through the same window,
so labels follow pixels exactly.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..recipe import Mosaic
from ..sample import Sample
from .base import (
    OpParams, Size, conform_channels, crop_pad, ignore_of, mask_dtype, nearest_index, record, require_mask,
    resize_image, uniform, widen_to_colour,
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
    image_fill: int
    ignore_index: int


def _quadrants(height: int, width: int, cy: int, cx: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of each quadrant on the canvas."""
    return [(0, 0, cy, cx), (0, cx, cy, width - cx), (cy, 0, height - cy, cx), (cy, cx, height - cy, width - cx)]


def _window_start(rng: np.random.Generator, scaled: int, quadrant: int, centre_at_end: bool) -> int:
    if scaled >= quadrant:
        return int(rng.integers(0, scaled - quadrant + 1))
    # Smaller than its quadrant: keep it against the centre, pad on the outer side.
    return scaled - quadrant if centre_at_end else 0


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
    return MosaicParams(height, width, center_y, center_x, tuple(tiles), step.image_fill, ignore_of(inputs))  # type: ignore[arg-type]


def apply_mosaic(inputs: Sequence[Sample], p: MosaicParams) -> Sample:
    first = widen_to_colour(inputs[0], inputs[1:])
    channels = first.image.shape[2]
    image = np.full((p.height, p.width, channels), p.image_fill, dtype=first.image.dtype)
    mask = np.full((p.height, p.width), p.ignore_index, dtype=mask_dtype(inputs))
    for (top, left, qh, qw), tile, src in zip(_quadrants(p.height, p.width, p.center_y, p.center_x), p.tiles, inputs):
        if qh <= 0 or qw <= 0:
            continue
        src_image = conform_channels(src, first)
        scaled = resize_image(src_image, tile.scaled_height, tile.scaled_width)
        image[top : top + qh, left : left + qw] = crop_pad(scaled, tile.y, tile.x, qh, qw, p.image_fill)
        # Only the window's rows/columns of the scaled mask are computed.
        src_mask = require_mask(src)
        ys = np.arange(tile.y, tile.y + qh)
        xs = np.arange(tile.x, tile.x + qw)
        inside_y = (ys >= 0) & (ys < tile.scaled_height)
        inside_x = (xs >= 0) & (xs < tile.scaled_width)
        rows = nearest_index(src.height, tile.scaled_height, 0)[ys[inside_y]]
        cols = nearest_index(src.width, tile.scaled_width, 0)[xs[inside_x]]
        region = mask[top : top + qh, left : left + qw]
        region[np.ix_(inside_y, inside_x)] = src_mask[np.ix_(rows, cols)]
    return first.evolve(image, mask, "mosaic", record(p))

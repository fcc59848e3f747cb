"""Thin bands or solid regions: how a mask's values lie in space, as the label checks need it.

A colour or value whose pixels all sit on thin boundaries (anti-aliased edges,
VOC's 5-pixel void band) behaves differently from one that fills regions (a
class, or a binary mask's foreground). Both measures count pixels whose whole
neighbourhood holds the same value: none for a thin band, most for a region.
"""
from __future__ import annotations

import cv2
import numpy as np

# A band narrower than this many pixels is a boundary; VOC draws its void band 5 px wide.
BOUNDARY_WIDTH = 7


def solid_counts(values: np.ndarray, distinct: np.ndarray) -> np.ndarray:
    """Per entry of the sorted `distinct` values: pixels of `values` (H, W) whose 3x3 neighbourhood is all that value.

    Values not in `distinct` (e.g. a marker for transparent pixels) are not counted.
    """
    h, w = values.shape[:2]
    out = np.zeros(len(distinct), np.int64)
    if h < 3 or w < 3 or not len(distinct):
        return out
    centre = values[1:-1, 1:-1]
    same = np.ones(centre.shape, bool)
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                same &= values[dy : dy + h - 2, dx : dx + w - 2] == centre
    solid = centre[same]
    if not solid.size:
        return out
    pos = np.searchsorted(distinct, solid)
    pos = np.minimum(pos, len(distinct) - 1)
    hit = distinct[pos] == solid
    return np.bincount(pos[hit], minlength=len(distinct)).astype(np.int64)


def interior_pixels(where: np.ndarray, width: int = BOUNDARY_WIDTH) -> int:
    """Pixels of the (H, W) `where` (bool, or uint8 non-zero) that stay after eroding it with a width x width square.

    A band narrower than `width` has none; a region keeps all but its rim.
    The image border counts as inside, so a region touching it is not thinned there.
    """
    if where.dtype == np.bool_:
        where = where.view(np.uint8)
    elif where.dtype != np.uint8:
        where = (where != 0).view(np.uint8)
    if not cv2.countNonZero(where):
        return 0
    # erode's default border is the maximum: the image edge does not thin a region touching it.
    return int(cv2.countNonZero(cv2.erode(where, np.ones((width, width), np.uint8))))


__all__ = ["BOUNDARY_WIDTH", "interior_pixels", "solid_counts"]

"""Packed colour keys: `r | g << 8 | b << 16`, the bytes of an RGBA pixel with alpha zeroed
read as a little-endian uint32, so a whole mask maps through one table gather."""
from __future__ import annotations

import sys
from collections.abc import Sequence

import cv2
import numpy as np

from .model import Colour


def colour_key(colour: Sequence[int]) -> int:
    """The packed key of one colour (same layout as `pack_rgb`)."""
    r, g, b = (int(v) for v in colour[:3])
    return r | (g << 8) | (b << 16)


def unpack_key(key: int) -> Colour:
    key = int(key)
    return (key & 255, (key >> 8) & 255, (key >> 16) & 255)


def pack_rgb(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3|4) uint8 -> ((H, W) uint32 keys, alpha == 0 mask or None for RGB).

    One SIMD colour conversion plus an in-place AND, then a free uint32 view:
    far cheaper than shifting three widened channels.
    """
    if mask.dtype != np.uint8 or mask.ndim != 3 or mask.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3|4) uint8 colour mask, got {mask.dtype} {mask.shape}")
    if sys.byteorder != "little":  # pragma: no cover - every platform we ship on is little-endian
        m = mask.astype(np.uint32)
        keys = m[..., 0] | (m[..., 1] << 8) | (m[..., 2] << 16)
        return keys, (mask[..., 3] == 0) if mask.shape[2] == 4 else None
    transparent = None
    if mask.shape[2] == 3:
        rgba = cv2.cvtColor(np.ascontiguousarray(mask), cv2.COLOR_RGB2RGBA)
    else:
        rgba = np.array(mask, copy=True, order="C")
        transparent = rgba[..., 3] == 0
    keys = rgba.view(np.uint32)[..., 0]
    np.bitwise_and(keys, 0xFFFFFF, out=keys)
    return keys, transparent

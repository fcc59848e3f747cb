"""Regions -> one label map (and optionally an instance map): drawing order and overlaps.

Orders (`--order`):
- `file` (default): regions in the order the export lists them, later drawn over
  earlier, as the annotation tools draw them (CVAT: by z_order first);
- `area`: largest region first, so small objects stay visible on top of large ones
  (what ultralytics' overlap masks do);
- `class-list`: by the class's position in the class list, later classes over
  earlier ones (file order within a class); ignored regions (crowd, `__ignore__`)
  are drawn last, so an area marked "do not train" stays ignored.

Overlaps (`--overlap`): `last` keeps the pixel of the region drawn last; `ignore`
writes the ignore index where regions of different classes overlap (in the
instance map: 0 where two instances overlap).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from .base import IGNORE

Order = Literal["file", "area", "class-list"]
Overlap = Literal["last", "ignore"]
ORDERS: tuple[str, ...] = ("file", "area", "class-list")
OVERLAPS: tuple[str, ...] = ("last", "ignore")


@dataclass(frozen=True)
class Drawn:
    label: int  # class index or IGNORE
    starts: np.ndarray  # runs of pixels, column-major (x * height + y), as `raster.Runs`
    ends: np.ndarray
    z: int
    position: int  # place in the export
    instance: int = 0

    @property
    def area(self) -> int:
        return int((self.ends - self.starts).sum())


def draw_order(regions: list[Drawn], order: Order, num_classes: int) -> list[Drawn]:
    if order == "file":
        return sorted(regions, key=lambda r: (r.z, r.position))
    if order == "area":
        # Pixels covered, largest first; ties keep file order.
        return sorted(regions, key=lambda r: (-r.area, r.z, r.position))
    if order == "class-list":
        return sorted(regions, key=lambda r: (num_classes if r.label == IGNORE else r.label, r.position))
    raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenated aranges lo[i]..hi[i]-1."""
    n = hi - lo
    return np.arange(int(n.sum()), dtype=np.int64) + np.repeat(lo - (np.cumsum(n) - n), n)


def paint(regions: list[Drawn], height: int, width: int, *, ignore_index: int, num_classes: int,
          order: Order = "file", overlap: Overlap = "last", background: int | None = 0,
          instances: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(label map, instance map or None). Pixels no region covers get `background` (None: the ignore index).

    Painting works on segments, not pixels: the run boundaries of all regions cut
    the (column-major) pixel sequence into segments that every region either covers
    whole or not at all; each region paints its segments in draw order, and the map
    is the segments' final values repeated over their lengths. The cost follows the
    number of runs (about twice the columns a region spans), not its pixels.
    """
    dtype = np.uint8 if max(ignore_index, num_classes - 1) <= 255 else np.uint16
    fill = ignore_index if background is None else background
    n = height * width
    ordered = [r for r in draw_order(regions, order, num_classes) if len(r.starts)]
    cuts = np.sort(np.concatenate([np.array([0, n], np.int64)] + [r.starts for r in ordered]
                                  + [r.ends for r in ordered]))
    bounds = cuts[np.r_[True, cuts[1:] != cuts[:-1]]]  # np.unique's hashing is slower on a few thousand
    lengths = np.diff(bounds)
    # Contested segments need "not painted yet" told apart from "painted with the background class".
    unset = -1
    seg = np.full(len(lengths), unset if overlap == "ignore" else fill, np.int32)
    contested = np.zeros(len(lengths), bool) if overlap == "ignore" else None
    inst = np.zeros(len(lengths), np.int32) if instances else None
    inst_contested = np.zeros(len(lengths), bool) if overlap == "ignore" and instances else None
    for region in ordered:
        idx = _ranges(np.searchsorted(bounds, region.starts), np.searchsorted(bounds, region.ends))
        label = ignore_index if region.label == IGNORE else region.label
        if contested is not None:
            current = seg[idx]
            contested[idx[(current != unset) & (current != label)]] = True
        seg[idx] = label
        if inst is not None:
            if inst_contested is not None:
                inst_contested[idx[inst[idx] != 0]] = True
            inst[idx] = region.instance
    if contested is not None:
        seg[seg == unset] = fill
        seg[contested] = ignore_index
    out = _transpose(np.repeat(seg.astype(dtype), lengths).reshape(width, height))
    if inst is None:
        return out, None
    if inst_contested is not None:
        inst[inst_contested] = 0
    if inst.max(initial=0) > 65535:
        raise ValueError(f"{int(inst.max())} instances do not fit a 16-bit instance map")
    return out, _transpose(np.repeat(inst.astype(np.uint16), lengths).reshape(width, height))


def _transpose(columns: np.ndarray) -> np.ndarray:
    """(width, height) column-major pixels -> the (height, width) image; cv2 is several times faster than numpy."""
    if columns.shape[0] > 1 and columns.shape[1] > 1:
        return cv2.transpose(columns)
    return np.ascontiguousarray(columns.T)

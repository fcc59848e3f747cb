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

import numpy as np

from .base import IGNORE

Order = Literal["file", "area", "class-list"]
Overlap = Literal["last", "ignore"]
ORDERS: tuple[str, ...] = ("file", "area", "class-list")
OVERLAPS: tuple[str, ...] = ("last", "ignore")


@dataclass(frozen=True)
class Drawn:
    label: int  # class index or IGNORE
    pixels: np.ndarray  # flat row-major indices
    z: int
    position: int  # place in the export
    instance: int = 0


def draw_order(regions: list[Drawn], order: Order, num_classes: int) -> list[Drawn]:
    if order == "file":
        return sorted(regions, key=lambda r: (r.z, r.position))
    if order == "area":
        # The area a region covers (unique pixels), largest first; ties keep file order.
        return sorted(regions, key=lambda r: (-len(np.unique(r.pixels)), r.z, r.position))
    if order == "class-list":
        return sorted(regions, key=lambda r: (num_classes if r.label == IGNORE else r.label, r.position))
    raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")


def paint(regions: list[Drawn], height: int, width: int, *, ignore_index: int, num_classes: int,
          order: Order = "file", overlap: Overlap = "last", background: int | None = 0,
          instances: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(label map, instance map or None). Pixels no region covers get `background` (None: the ignore index)."""
    unset = -2
    labels = np.full(height * width, unset, np.int32)
    inst = np.zeros(height * width, np.int32) if instances else None
    contested = np.zeros(height * width, bool) if overlap == "ignore" else None
    inst_contested = np.zeros(height * width, bool) if overlap == "ignore" and instances else None
    for region in draw_order(regions, order, num_classes):
        px = region.pixels
        if not len(px):
            continue
        if contested is not None:
            current = labels[px]
            contested[px[(current != unset) & (current != region.label)]] = True
        labels[px] = region.label
        if inst is not None:
            if inst_contested is not None:
                inst_contested[px[inst[px] != 0]] = True
            inst[px] = region.instance
    labels[labels == unset] = ignore_index if background is None else background
    labels[labels == IGNORE] = ignore_index
    if contested is not None:
        labels[contested] = ignore_index
    dtype = np.uint8 if max(ignore_index, num_classes - 1) <= 255 else np.uint16
    out = labels.reshape(height, width).astype(dtype)
    if inst is None:
        return out, None
    if inst_contested is not None:
        inst[inst_contested] = 0
    if inst.max(initial=0) > 65535:
        raise ValueError(f"{int(inst.max())} instances do not fit a 16-bit instance map")
    return out, inst.reshape(height, width).astype(np.uint16)

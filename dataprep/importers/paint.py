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
    pixels: np.ndarray  # flat column-major indices (x * height + y)
    z: int
    position: int  # place in the export
    instance: int = 0


def draw_order(regions: list[Drawn], order: Order, num_classes: int) -> list[Drawn]:
    if order == "file":
        return sorted(regions, key=lambda r: (r.z, r.position))
    if order == "area":
        # Pixels covered, largest first (every rasterizer lists a pixel once); ties keep file order.
        return sorted(regions, key=lambda r: (-len(r.pixels), r.z, r.position))
    if order == "class-list":
        return sorted(regions, key=lambda r: (num_classes if r.label == IGNORE else r.label, r.position))
    raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")


def paint(regions: list[Drawn], height: int, width: int, *, ignore_index: int, num_classes: int,
          order: Order = "file", overlap: Overlap = "last", background: int | None = 0,
          instances: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(label map, instance map or None). Pixels no region covers get `background` (None: the ignore index)."""
    dtype = np.uint8 if max(ignore_index, num_classes - 1) <= 255 else np.uint16
    fill = ignore_index if background is None else background
    n = height * width
    if overlap == "ignore":
        # Contested pixels need "not painted yet" told apart from "painted with the background class".
        unset = -1
        labels = np.full(n, unset, np.int32)
        contested = np.zeros(n, bool)
    else:
        labels = np.full(n, fill, dtype)
        contested = None
    inst = np.zeros(n, np.int32) if instances else None
    inst_contested = np.zeros(n, bool) if overlap == "ignore" and instances else None
    for region in draw_order(regions, order, num_classes):
        px = region.pixels
        if not len(px):
            continue
        label = ignore_index if region.label == IGNORE else region.label
        if contested is not None:
            current = labels[px]
            contested[px[(current != unset) & (current != label)]] = True
        labels[px] = label
        if inst is not None:
            if inst_contested is not None:
                inst_contested[px[inst[px] != 0]] = True
            inst[px] = region.instance
    if contested is not None:
        labels[labels == unset] = fill
        labels[contested] = ignore_index
    # Indices are column-major (x * height + y): the (width, height) array, transposed.
    out = labels.reshape(width, height).T.astype(dtype, order="C")
    if inst is None:
        return out, None
    if inst_contested is not None:
        inst[inst_contested] = 0
    if inst.max(initial=0) > 65535:
        raise ValueError(f"{int(inst.max())} instances do not fit a 16-bit instance map")
    return out, inst.reshape(width, height).T.astype(np.uint16, order="C")

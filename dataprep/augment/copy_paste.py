"""Copy-paste: objects (connected components of chosen classes) from a donor pasted into the target.

The pasted pixels overwrite the target's labels (occluded labels are lost, as in
the scene). The object's own pixels are copied exactly, so image and mask agree
on every pasted pixel; `blend_sigma` only feathers a halo outside the object,
which keeps hard paste edges from becoming a shortcut the model can learn.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..recipe import CopyPaste
from ..sample import Sample
from .base import (
    OpParams, Size, conform_channels, ignore_of, record, require_mask, resize_image, resize_mask, uniform,
    widen_to_colour,
)


@dataclass(frozen=True)
class PastedObject(OpParams):
    """Component of class `label` containing donor pixel (`seed_y`, `seed_x`) inside donor box
    (`box_y`, `box_x`, `box_height`, `box_width`), pasted at (`y`, `x`) scaled to `height` x `width`."""

    label: int
    seed_y: int
    seed_x: int
    box_y: int
    box_x: int
    box_height: int
    box_width: int
    y: int
    x: int
    height: int
    width: int
    flip: bool


@dataclass(frozen=True)
class CopyPasteParams(OpParams):
    objects: tuple[PastedObject, ...]
    blend_sigma: float


def _components(mask: np.ndarray, step: CopyPaste, ignore: int) -> list[tuple[int, int, int, int, int, int, int]]:
    """(label, seed_y, seed_x, y, x, h, w) of every pasteable component, in a stable order."""
    labels, counts = np.unique(mask, return_counts=True)
    keep = labels != ignore
    labels, counts = labels[keep], counts[keep]
    if step.classes:
        wanted = set(step.classes)
        classes = [int(c) for c in labels if int(c) in wanted]
    else:
        # The donor's largest class is its background (road, sky...), not an object.
        classes = [int(c) for c in labels if c != labels[np.argmax(counts)]] if labels.size else []
    max_area = step.max_area_fraction * mask.size
    found = []
    for cls in classes:
        n, comp, stats, _ = cv2.connectedComponentsWithStats((mask == cls).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[k])
            if area < step.min_area or area > max_area:
                continue
            ys, xs = np.nonzero(comp[y : y + h, x : x + w] == k)
            found.append((cls, y + int(ys[0]), x + int(xs[0]), y, x, h, w))
    return found


def sample_copy_paste(
    rng: np.random.Generator, inputs: Sequence[Sample], step: CopyPaste, size: Size
) -> CopyPasteParams:
    target, donor = inputs[0], inputs[1]
    candidates = _components(require_mask(donor), step, ignore_of(inputs))
    objects = []
    if candidates:
        count = min(len(candidates), int(rng.integers(1, step.max_objects + 1)))
        for k in sorted(rng.choice(len(candidates), size=count, replace=False).tolist()):
            cls, sy, sx, by, bx, bh, bw = candidates[k]
            s = uniform(rng, step.scale)
            # Never larger than the target: the object must fit somewhere.
            s = min(s, target.height / bh, target.width / bw)
            h, w = max(1, int(round(bh * s))), max(1, int(round(bw * s)))
            y = int(rng.integers(0, target.height - h + 1))
            x = int(rng.integers(0, target.width - w + 1))
            flip = bool(step.flip and rng.random() < 0.5)
            objects.append(PastedObject(cls, sy, sx, by, bx, bh, bw, y, x, h, w, flip))
    return CopyPasteParams(tuple(objects), step.blend_sigma)


def _object_mask(donor_mask: np.ndarray, o: PastedObject) -> np.ndarray:
    """The chosen component only (other blobs of the same class in its box are left out)."""
    box = donor_mask[o.box_y : o.box_y + o.box_height, o.box_x : o.box_x + o.box_width] == o.label
    _, comp = cv2.connectedComponents(box.astype(np.uint8), connectivity=8)
    return comp == comp[o.seed_y - o.box_y, o.seed_x - o.box_x]


def apply_copy_paste(inputs: Sequence[Sample], p: CopyPasteParams) -> Sample:
    target, donor = widen_to_colour(inputs[0], inputs[1:2]), inputs[1]
    donor_image = conform_channels(donor, target)
    donor_mask = require_mask(donor)
    image = target.image.copy()
    mask = require_mask(target).astype(np.result_type(target.mask.dtype, donor_mask.dtype), copy=True)
    for o in p.objects:
        obj = _object_mask(donor_mask, o)
        patch = donor_image[o.box_y : o.box_y + o.box_height, o.box_x : o.box_x + o.box_width]
        if o.flip:
            obj, patch = obj[:, ::-1], patch[:, ::-1]
        obj = resize_mask(obj.astype(np.uint8), o.height, o.width).astype(bool)
        patch = resize_image(np.ascontiguousarray(patch), o.height, o.width)
        region = (slice(o.y, o.y + o.height), slice(o.x, o.x + o.width))
        mask[region][obj] = o.label
        alpha = obj.astype(np.float32)
        if p.blend_sigma > 0:
            # Feather outwards only: the object's own pixels stay exactly the donor's.
            alpha = np.maximum(alpha, cv2.GaussianBlur(alpha, (0, 0), p.blend_sigma))
        alpha = alpha[:, :, None]
        mixed = alpha * patch.astype(np.float32) + (1.0 - alpha) * image[region].astype(np.float32)
        if np.issubdtype(image.dtype, np.integer):
            mixed = np.rint(mixed)
        image[region] = mixed.astype(image.dtype)
    return target.evolve(image, mask, "copy_paste", record(p))

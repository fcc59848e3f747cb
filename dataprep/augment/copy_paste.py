"""Copy-paste: objects (connected components of chosen classes) from a donor pasted into the target.

The pasted pixels overwrite the target's labels (occluded labels are lost, as in
the scene). The object's own pixels are copied exactly, so image and mask agree
on every pasted pixel; `blend_sigma` only feathers a halo outside the object,
which keeps hard paste edges from becoming a shortcut the model can learn.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..histogram import channel_histograms
from ..recipe import CopyPaste
from ..sample import Sample
from .base import (
    OpParams, Size, conform_channels, ignore_of, record, require_mask, resize_image, resize_mask, uniform,
    widen_to_colour,
)

if TYPE_CHECKING:
    from .single import Kernels


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
    swap_labels: tuple[tuple[int, int], ...] = ()  # the label a flipped object is pasted with


Candidate = tuple[int, int, int, int, int, int, int]  # label, seed_y, seed_x, box y, x, height, width


def class_counts(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels present, ascending; their pixel counts)."""
    if mask.dtype in (np.uint8, np.uint16):
        hist = channel_histograms(mask)[0]
        labels = np.flatnonzero(hist)
        return labels, hist[labels]
    return np.unique(mask, return_counts=True)  # other integer types, negative labels included


def pasteable_classes(labels: np.ndarray, counts: np.ndarray, step: CopyPaste, ignore: int) -> list[int]:
    """Classes whose components may be pasted: `step.classes`, or every present class but the largest."""
    keep = labels != ignore
    labels, counts = labels[keep], counts[keep]
    if step.classes:
        wanted = set(step.classes)
        chosen = [k for k, c in enumerate(labels.tolist()) if c in wanted]
    else:
        # The donor's largest class is its background (road, sky...), not an object.
        largest = int(np.argmax(counts)) if labels.size else -1
        chosen = [k for k in range(labels.size) if k != largest]
    # A class with fewer pixels than `min_area` cannot hold a component big enough.
    return [int(labels[k]) for k in chosen if counts[k] >= step.min_area]


def find_components(mask: np.ndarray, step: CopyPaste, ignore: int) -> list[Candidate]:
    """Every pasteable component, ordered by (label, seed_y, seed_x); the seed is its first pixel in
    raster order, so the order does not depend on how a labelling numbers components."""
    max_area = step.max_area_fraction * mask.size
    found: list[Candidate] = []
    for cls in pasteable_classes(*class_counts(mask), step, ignore):
        binary = mask == cls
        rows = np.flatnonzero(binary.any(axis=1))
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        cols = np.flatnonzero(binary[y0:y1].any(axis=0))
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        # Inside the class's bounding box only: small classes cost little.
        found.extend((cls, y0 + sy, x0 + sx, y0 + by, x0 + bx, bh, bw) for sy, sx, by, bx, bh, bw in
                     _blobs(np.ascontiguousarray(binary[y0:y1, x0:x1]).view(np.uint8), step.min_area, max_area))
    found.sort()
    return found


def _blobs(binary: np.ndarray, min_area: int, max_area: float) -> list[tuple[int, int, int, int, int, int]]:
    """(seed_y, seed_x, y, x, h, w) of each 8-connected blob of `binary` with min_area <= pixels <= max_area.

    Outer borders (findContours, 8-connected like the labelling) give every blob's box, and
    its first border point is its first pixel in raster order. A blob whose box meets no
    other blob's box owns every set pixel in it, so a count in the box is its area; only
    blobs with neighbours that close need a labelling (without cv2's statistics pass,
    which costs several times the labelling itself).
    """
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer = [c for c, h in zip(contours, hierarchy[0]) if h[3] == -1] if contours else []  # not hole borders
    if not outer:
        return []
    boxes = np.array([cv2.boundingRect(c) for c in outer]).reshape(-1, 4)
    x, y, w, h = boxes.T
    x1, y1 = x + w, y + h
    labels = None
    out = []
    for i, contour in enumerate(outer):
        bx, by, bw, bh = (int(v) for v in boxes[i])
        if bw * bh < min_area:
            continue
        box = (slice(by, by + bh), slice(bx, bx + bw))
        upper = cv2.countNonZero(binary[box])  # this blob, plus any other blob's pixels in its box
        if upper < min_area:
            continue
        sx, sy = (int(v) for v in contour[0, 0])
        meets = (x < bx + bw) & (x1 > bx) & (y < by + bh) & (y1 > by)
        if int(meets.sum()) == 1:  # only its own box
            area = upper
        else:
            if labels is None:
                _, labels = cv2.connectedComponents(binary, connectivity=8, ltype=cv2.CV_32S)
            area = int(np.count_nonzero(labels[box] == labels[sy, sx]))
        if min_area <= area <= max_area:
            out.append((sy, sx, by, bx, bh, bw))
    return out


def components(mask: np.ndarray, step: CopyPaste, ignore: int, kernels: Kernels | None = None) -> list[Candidate]:
    """`find_components`, searched once per run for a donor the run's `kernels` hold (read-only masks only).

    A donor serves several outputs (variants, other sources drawing it), and labelling its
    classes is most of copy-paste's cost (benchmarks/results/hidden_state.json).
    """
    if kernels is None:
        return find_components(mask, step, ignore)
    key = ("copy_paste", step.classes, step.min_area, step.max_area_fraction, ignore)
    return kernels.derived(mask, key, lambda: find_components(mask, step, ignore))


def sample_copy_paste(
    rng: np.random.Generator, inputs: Sequence[Sample], step: CopyPaste, size: Size, *,
    kernels: Kernels | None = None,
) -> CopyPasteParams:
    """The objects to paste; `kernels`: the run's derived data (its donors' components), None searches anew."""
    target, donor = inputs[0], inputs[1]
    donor_mask = require_mask(donor)
    candidates = components(donor_mask, step, ignore_of(inputs), kernels)
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
            o = PastedObject(cls, sy, sx, by, bx, bh, bw, y, x, h, w, flip)
            # A thin object scaled down can lose every pixel: then it is not pasted (nor recorded).
            obj = _object_mask(donor_mask, o)
            if resize_mask(np.ascontiguousarray(obj[:, ::-1] if flip else obj).astype(np.uint8), h, w).any():
                objects.append(o)
    return CopyPasteParams(tuple(objects), step.blend_sigma, tuple(tuple(pair) for pair in step.swap_labels))


def _object_mask(donor_mask: np.ndarray, o: PastedObject) -> np.ndarray:
    """The chosen component only (other blobs of the same class in its box are left out)."""
    box = donor_mask[o.box_y : o.box_y + o.box_height, o.box_x : o.box_x + o.box_width] == o.label
    _, comp = cv2.connectedComponents(box.view(np.uint8), connectivity=8)
    return comp == comp[o.seed_y - o.box_y, o.seed_x - o.box_x]


def apply_copy_paste(inputs: Sequence[Sample], p: CopyPasteParams) -> Sample:
    target, donor = widen_to_colour(inputs[0], inputs[1:2]), inputs[1]
    donor_image = conform_channels(donor, target)
    donor_mask = require_mask(donor)
    image = target.image.copy()
    mask = require_mask(target).astype(np.result_type(target.mask.dtype, donor_mask.dtype), copy=True)
    mirrored = {a: b for pair in p.swap_labels for a, b in (pair, pair[::-1])}
    for o in p.objects:
        obj = _object_mask(donor_mask, o)
        patch = donor_image[o.box_y : o.box_y + o.box_height, o.box_x : o.box_x + o.box_width]
        if o.flip:
            obj, patch = obj[:, ::-1], patch[:, ::-1]
        obj = resize_mask(obj.astype(np.uint8), o.height, o.width).astype(bool)
        patch = resize_image(np.ascontiguousarray(patch), o.height, o.width)
        region = (slice(o.y, o.y + o.height), slice(o.x, o.x + o.width))
        mask[region][obj] = mirrored.get(o.label, o.label) if o.flip else o.label
        if p.blend_sigma <= 0:  # a hard paste: the object's pixels, copied
            np.copyto(image[region], patch, where=obj[:, :, None])
            continue
        # Feather outwards only: the object's own pixels stay exactly the donor's.
        alpha = obj.astype(np.float32)
        alpha = np.maximum(alpha, cv2.GaussianBlur(alpha, (0, 0), p.blend_sigma))[:, :, None]
        mixed = alpha * patch.astype(np.float32) + (1.0 - alpha) * image[region].astype(np.float32)
        if np.issubdtype(image.dtype, np.integer):
            mixed = np.rint(mixed)
        image[region] = mixed.astype(image.dtype)
    return target.evolve(image, mask, "copy_paste", record(p))

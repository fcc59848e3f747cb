"""Hand-written numpy/cv2 versions of copy-paste, crop and mosaic: what bench_augment compares dataprep to.

Each function does one output's work the way a short script would (no Sample
records, no params dataclasses, no planner, no cache across outputs), drawing
from the generator in the same order as dataprep's samplers, so the outputs can
be checked equal to dataprep's, pixel for pixel.
"""
from __future__ import annotations

import cv2
import numpy as np


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def _nearest(src: int, dst: int, start: int, count: int) -> np.ndarray:
    d = np.arange(start, start + count, dtype=np.float64)
    return np.clip(np.floor((d + 0.5) * src / dst), 0, src - 1).astype(np.intp)


# --------------------------------------------------------------------------- copy-paste


def copy_paste(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, donor_image: np.ndarray,
               donor_mask: np.ndarray, *, max_objects: int = 3, min_area: int = 16, max_area_fraction: float = 0.25,
               scale: tuple[float, float] = (0.75, 1.25), flip: bool = True, blend_sigma: float = 1.0,
               ignore: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Paste up to `max_objects` connected components of the donor's classes (all but its largest)."""
    counts = cv2.calcHist([donor_mask], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    present = [c for c in np.flatnonzero(counts) if c != ignore]
    largest = max(present, key=lambda c: (counts[c], -c)) if present else -1
    max_area = max_area_fraction * donor_mask.size
    candidates, labelled = [], {}
    for cls in present:
        if cls == largest or counts[cls] < min_area:
            continue
        binary = donor_mask == cls
        rows = np.flatnonzero(binary.any(axis=1))
        cols = np.flatnonzero(binary[rows[0] : rows[-1] + 1].any(axis=0))
        y0, x0 = int(rows[0]), int(cols[0])
        box = np.ascontiguousarray(binary[y0 : rows[-1] + 1, x0 : cols[-1] + 1]).view(np.uint8)
        n, comp, stats, _ = cv2.connectedComponentsWithStats(box, connectivity=8)
        labelled[cls] = comp
        for k in range(1, n):
            x, y, w, h, area = (int(v) for v in stats[k])
            if min_area <= area <= max_area:
                seed_x = x + int(np.argmax(comp[y, x : x + w] == k))
                candidates.append((int(cls), y0 + y, x0 + seed_x, y0 + y, x0 + x, h, w, y0, x0, k))
    candidates.sort()
    image, mask = image.copy(), mask.copy()
    if not candidates:
        return image, mask
    height, width = mask.shape
    count = min(len(candidates), int(rng.integers(1, max_objects + 1)))
    for i in sorted(rng.choice(len(candidates), size=count, replace=False).tolist()):
        cls, _, _, by, bx, bh, bw, y0, x0, k = candidates[i]
        s = min(_uniform(rng, *scale), height / bh, width / bw)
        h, w = max(1, int(round(bh * s))), max(1, int(round(bw * s)))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        flipped = bool(flip and rng.random() < 0.5)
        obj = labelled[cls][by - y0 : by - y0 + bh, bx - x0 : bx - x0 + bw] == k
        patch = donor_image[by : by + bh, bx : bx + bw]
        if flipped:
            obj, patch = obj[:, ::-1], patch[:, ::-1]
        obj = obj[_nearest(bh, h, 0, h)][:, _nearest(bw, w, 0, w)]
        if (h, w) != (bh, bw):
            patch = cv2.resize(np.ascontiguousarray(patch), (w, h), interpolation=cv2.INTER_LINEAR)
        region = image[y : y + h, x : x + w]
        mask[y : y + h, x : x + w][obj] = cls
        if blend_sigma <= 0:
            region[obj] = patch[obj]
            continue
        alpha = obj.astype(np.float32)
        alpha = np.maximum(alpha, cv2.GaussianBlur(alpha, (0, 0), blend_sigma))[:, :, None]
        region[:] = np.rint(alpha * patch + (1.0 - alpha) * region.astype(np.float32)).astype(image.dtype)
    return image, mask


def crop(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, height: int,
         width: int) -> tuple[np.ndarray, np.ndarray]:
    """A random window of the output size of an input at least that large (no rescale, no retries)."""
    y = int(rng.integers(0, image.shape[0] - height + 1))
    x = int(rng.integers(0, image.shape[1] - width + 1))
    return image[y : y + height, x : x + width], mask[y : y + height, x : x + width]


# --------------------------------------------------------------------------- mosaic


def mosaic(rng: np.random.Generator, images: list[np.ndarray], masks: list[np.ndarray], height: int, width: int, *,
           center: tuple[float, float] = (0.25, 0.75), scale: tuple[float, float] = (0.5, 1.0), fill: int = 114,
           ignore: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Four images around a random centre, each scaled and windowed into its quadrant (YOLO style)."""
    cy = int(round(_uniform(rng, *center) * height))
    cx = int(round(_uniform(rng, *center) * width))
    quadrants = [(0, 0, cy, cx), (0, cx, cy, width - cx), (cy, 0, height - cy, cx), (cy, cx, height - cy, width - cx)]
    tiles = []
    for k, ((_, _, qh, qw), src) in enumerate(zip(quadrants, images)):
        s = min(height / src.shape[0], width / src.shape[1]) * _uniform(rng, *scale)
        sh, sw = max(1, int(round(src.shape[0] * s))), max(1, int(round(src.shape[1] * s)))
        y = int(rng.integers(0, sh - qh + 1)) if sh >= qh else (sh - qh if k in (0, 1) else 0)
        x = int(rng.integers(0, sw - qw + 1)) if sw >= qw else (sw - qw if k in (0, 2) else 0)
        tiles.append((sh, sw, y, x))
    canvas = np.full((height, width, images[0].shape[2]), fill, images[0].dtype)
    labels = np.full((height, width), ignore, masks[0].dtype)
    for (top, left, qh, qw), (sh, sw, y, x), src, src_mask in zip(quadrants, tiles, images, masks):
        y0, y1, x0, x1 = max(y, 0), min(y + qh, sh), max(x, 0), min(x + qw, sw)
        if qh <= 0 or qw <= 0 or y1 <= y0 or x1 <= x0:
            continue
        ty, tx = top + y0 - y, left + x0 - x
        h, w = src.shape[:2]
        ay, ax = h / sh, w / sw
        if (sh, sw) == (h, w):
            window = src[y0:y1, x0:x1]
        else:
            matrix = np.array([[ax, 0.0, (x0 + 0.5) * ax - 0.5], [0.0, ay, (y0 + 0.5) * ay - 0.5]])
            window = cv2.warpAffine(src, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE).reshape(y1 - y0, x1 - x0, -1)
        canvas[ty : ty + y1 - y0, tx : tx + x1 - x0] = window
        rows, cols = _nearest(h, sh, y0, y1 - y0), _nearest(w, sw, x0, x1 - x0)
        labels[ty : ty + y1 - y0, tx : tx + x1 - x0] = src_mask[rows][:, cols]
    return canvas, labels
